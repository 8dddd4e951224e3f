"""Exports of a network for kinetic Monte Carlo codes (paper §1: the barriers feed Kimocs).

A KMC code needs the barrier of a 26-site environment, fast, in its own language.  Four formats
carry the same function, eq. (2) in physical units,

    E(x) = m + s · (α + Σ_k β_k exp(−γ ‖x − Θ_k‖²)),     x ∈ {−1, +1}^26 (occupied = +1),

with the target mean m and scale s folded in, so every evaluator answers in eV:

* ``"onnx"``: an ONNX graph (opset 17), input ``occupation`` (N, 26) float32, output ``barrier``
  (N,) float32; computed in float64 inside.  Runs in onnxruntime from C, C++, C#, Java, Python.
* ``"json"``: α, γ, β, Θ, m, s, the input convention and the site order with coordinates.
* ``"c"``: one C99 file without dependencies (libm only), callable from C++ (``extern "C"``) and
  Fortran (``bind(C)``, interface in the file), with an example ``main`` that checks the vectors.
* ``"table"``: the barrier of all 2^26 configurations as little-endian float32 (256 MiB), index
  ``i = Σ_s b_s 2^s`` where ``b_s = 1`` when site ``s + 1`` is occupied (:func:`configurations`).

Each export also writes ``<path>.vectors.json``: random configurations with their barriers (the
float64 value of the exported function), so a user checks their binding against it.

Examples
--------
>>> import tempfile, pathlib
>>> from rbfviz.core.model import RBFN
>>> net = RBFN(26, 4, seed=0)
>>> out = pathlib.Path(tempfile.mkdtemp()) / "net.json"
>>> export(net, out, "json").name
'net.json'
>>> configurations([0, 1, 2**25], num_sites=26)[:, [0, 1, 25]].tolist()
[[-1.0, -1.0, -1.0], [1.0, -1.0, -1.0], [-1.0, -1.0, 1.0]]
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rbfviz.core.model import RBFN
from rbfviz.core.progress import StepProgress, cancel_requested
from rbfviz.core.validate import check_choice, check_int
from rbfviz.data.lattice import DEFAULT_SITES, HALF_A, SiteTable

# --------------------------------------------------------------------------- constants
FORMATS = ("onnx", "json", "c", "table")
FORMAT_NAME = "rbfviz-kmc"
FORMAT_VERSION = 1
ONNX_OPSET = 17
NUM_TEST_VECTORS = 16
TABLE_CHUNK = 2**20  # at most this many configurations per chunk of the table
TABLE_KERNEL_BYTES = {"cpu": 256 * 2**20, "cuda": 2 * 2**30}  # per (chunk, K) float32 kernel matrix
MAX_TABLE_SITES = 30  # 2^30 float32 = 4 GiB; larger tables are refused
INPUT_CONVENTION = {"occupied": 1.0, "vacant": -1.0}
C_PREFIX = "rbfviz_kmc"


class TableCancelled(RuntimeError):
    """The table build was cancelled; nothing was written."""


# --------------------------------------------------------------------------- the function
def parameters(model: RBFN) -> dict:
    """The network's parameters as float64 NumPy arrays, in physical units' terms.

    Returns
    -------
    dict
        ``alpha`` (float), ``gamma`` (float), ``beta`` (K,), ``theta`` (K, D), ``target_mean`` and
        ``target_scale`` (floats): E(x) = mean + scale · (α + Σ β exp(−γ‖x − Θ‖²)).

    Examples
    --------
    >>> p = parameters(RBFN(26, 3, seed=0))
    >>> p["theta"].shape, p["target_scale"]
    ((3, 26), 1.0)
    """
    if not isinstance(model, RBFN):
        raise TypeError(f"`model` must be an RBFN; got {type(model).__name__}.")
    with torch.no_grad():
        return {
            "alpha": float(model.bias.double()),
            "gamma": float(model.gamma.double()),
            "beta": model.weights.detach().double().cpu().numpy(),  # (K,)
            "theta": model.centroids.detach().double().cpu().numpy(),  # (K, D)
            "target_mean": float(model.metadata.get("target_mean", 0.0)),
            "target_scale": float(model.metadata.get("target_scale", 1.0)),
        }


def evaluate(params: dict, X) -> np.ndarray:
    """The exported function in float64 NumPy: the independent reference of every format.

    Parameters
    ----------
    params : dict
        As returned by :func:`parameters` (or read back from a ``"json"`` export).
    X : array-like, shape (N, D)

    Returns
    -------
    numpy.ndarray, shape (N,), float64, eV
    """
    X = np.asarray(X, dtype=np.float64)  # (N, D)
    theta = np.asarray(params["theta"], dtype=np.float64)  # (K, D)
    d2 = ((X[:, None, :] - theta[None, :, :]) ** 2).sum(-1)  # (N, K), direct form: no cancellation
    f = params["alpha"] + np.exp(-params["gamma"] * d2) @ np.asarray(params["beta"], dtype=np.float64)  # (N,)
    return params["target_mean"] + params["target_scale"] * f


def configurations(indices, num_sites: int = 26) -> np.ndarray:
    """±1 configurations of table indices: bit ``s`` of the index is site ``s + 1`` (1 = occupied).

    Parameters
    ----------
    indices : array-like of int, shape (N,)
    num_sites : int, default=26

    Returns
    -------
    numpy.ndarray, shape (N, num_sites), float32

    Examples
    --------
    >>> configurations([5], num_sites=4).tolist()
    [[1.0, -1.0, 1.0, -1.0]]
    """
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)  # (N,)
    if idx.size and (idx.min() < 0 or idx.max() >= 2**num_sites):
        raise ValueError(f"`indices` must lie in [0, 2**{num_sites}); got values in [{idx.min()}, {idx.max()}].")
    bits = (idx[:, None] >> np.arange(num_sites)) & 1  # (N, S)
    return (2 * bits - 1).astype(np.float32)


def table_index(X) -> np.ndarray:
    """Table index of ±1 (or 1/0) configurations: the inverse of :func:`configurations`.

    Examples
    --------
    >>> table_index(configurations([0, 7, 2**26 - 1])).tolist()
    [0, 7, 67108863]
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"`X` must have shape (N, num_sites); got {X.shape}.")
    bits = (X > 0).astype(np.int64)  # (N, S)
    return bits @ (np.int64(1) << np.arange(X.shape[1], dtype=np.int64))  # (N,)


def reference_vectors(model: RBFN, n: int = NUM_TEST_VECTORS, *, seed: int = 0) -> dict:
    """Random ±1 configurations (plus all-vacant and all-occupied) with their barriers in eV.

    The barriers are the float64 value of the exported function (:func:`evaluate`); every
    evaluator should reproduce them to about 1e-6 eV (float32 in or out).
    """
    rng = np.random.default_rng(seed)
    D = model.num_inputs
    X = np.concatenate([-np.ones((1, D)), np.ones((1, D)), rng.choice([-1.0, 1.0], size=(n, D))])  # (n + 2, D)
    return {
        "description": "occupation: +1 occupied, -1 vacant, in site order; barrier_ev: float64 reference",
        "occupation": X.astype(int).tolist(),
        "table_index": table_index(X).tolist(),
        "barrier_ev": evaluate(parameters(model), X).tolist(),
    }


# --------------------------------------------------------------------------- writing files
def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sites_json(sites: SiteTable) -> list[dict]:
    return [
        {"index": i + 1, "coords_half_a": c.tolist(), "position_angstrom": (c * HALF_A).tolist(), "group": g}
        for i, (c, g) in enumerate(zip(sites.coords, sites.groups))
    ]


def to_json(model: RBFN, *, sites: SiteTable = DEFAULT_SITES) -> dict:
    """The ``"json"`` export as a dict (see :func:`export`)."""
    p = parameters(model)
    doc = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "function": "barrier_ev = target_mean + target_scale * (alpha + sum_k beta[k] exp(-gamma |x - theta[k]|^2))",
        "input_convention": INPUT_CONVENTION,
        "num_inputs": model.num_inputs,
        "num_centroids": model.num_centroids,
        "alpha": p["alpha"],
        "gamma": p["gamma"],
        "beta": p["beta"].tolist(),
        "theta": p["theta"].tolist(),
        "target_mean": p["target_mean"],
        "target_scale": p["target_scale"],
        "surface": model.metadata.get("surface"),
        "content_hash": model.metadata.get("content_hash"),
    }
    if model.num_inputs == sites.num_sites:
        doc["site_frame"] = (
            "migrating atom at (0,0,0), vacant final site at (1,1,0); coords in units of a/2, "
            f"a/2 = {HALF_A} Angstrom (rbfviz.data.lattice)"
        )
        doc["sites"] = _sites_json(sites)
    return doc


def from_json(path) -> dict:
    """Read the parameters of a ``"json"`` export back (for :func:`evaluate`), checking its fields."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if doc.get("format") != FORMAT_NAME:
        raise ValueError(f"{path}: field `format` must be {FORMAT_NAME!r}; got {doc.get('format')!r}")
    out = {}
    for key in ("alpha", "gamma", "target_mean", "target_scale"):
        if not isinstance(doc.get(key), (int, float)):
            raise ValueError(f"{path}: field `{key}` must be a number; got {doc.get(key)!r}")
        out[key] = float(doc[key])
    out["beta"] = np.asarray(doc["beta"], dtype=np.float64)
    out["theta"] = np.asarray(doc["theta"], dtype=np.float64)
    if out["theta"].shape != (len(out["beta"]), doc.get("num_inputs")):
        raise ValueError(f"{path}: field `theta` has shape {out['theta'].shape}; expected ({len(out['beta'])}, D)")
    return out


def to_onnx(model: RBFN):
    """The ``"onnx"`` export as an ``onnx.ModelProto`` (opset 17; float64 inside).

    Graph: d² = max(|x|² + |Θ|² − 2 x Θᵀ, 0) (N, K); out = exp(−γ d²) (s β) + (m + s α).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    p = parameters(model)
    D, K = model.num_inputs, model.num_centroids
    s = p["target_scale"]
    consts = {
        "theta_t_x2": 2.0 * p["theta"].T,  # (D, K)
        "theta_sq": (p["theta"] ** 2).sum(1),  # (K,)
        "neg_gamma": np.array(-p["gamma"]),
        "scaled_beta": s * p["beta"],  # (K,)
        "offset": np.array(p["target_mean"] + s * p["alpha"]),
        "zero": np.array(0.0),
        "axis1": np.array([1], dtype=np.int64),
    }
    inits = [numpy_helper.from_array(np.asarray(v, dtype=v.dtype), name=k) for k, v in consts.items()]
    nodes = [
        helper.make_node("Cast", ["occupation"], ["x"], to=TensorProto.DOUBLE),  # (N, D)
        helper.make_node("Mul", ["x", "x"], ["x_sq_each"]),  # (N, D)
        helper.make_node("ReduceSum", ["x_sq_each", "axis1"], ["x_sq"], keepdims=1),  # (N, 1)
        helper.make_node("MatMul", ["x", "theta_t_x2"], ["cross"]),  # (N, K)
        helper.make_node("Add", ["x_sq", "theta_sq"], ["sq_sum"]),  # (N, K)
        helper.make_node("Sub", ["sq_sum", "cross"], ["d2_raw"]),  # (N, K)
        helper.make_node("Max", ["d2_raw", "zero"], ["d2"]),  # (N, K), squared distance >= 0
        helper.make_node("Mul", ["d2", "neg_gamma"], ["exponent"]),  # (N, K)
        helper.make_node("Exp", ["exponent"], ["kernel"]),  # (N, K)
        helper.make_node("MatMul", ["kernel", "scaled_beta"], ["f"]),  # (N,)
        helper.make_node("Add", ["f", "offset"], ["barrier64"]),  # (N,)
        helper.make_node("Cast", ["barrier64"], ["barrier"], to=TensorProto.FLOAT),  # (N,)
    ]
    graph = helper.make_graph(
        nodes,
        "rbfn_barrier",
        [helper.make_tensor_value_info("occupation", TensorProto.FLOAT, ["N", D])],
        [helper.make_tensor_value_info("barrier", TensorProto.FLOAT, ["N"])],
        initializer=inits,
        doc_string=f"Migration barrier in eV of an RBFN with K={K} (rbfviz); occupation +1 occupied, -1 vacant.",
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], producer_name="rbfviz")
    proto.ir_version = 8  # readable by onnxruntime >= 1.14
    helper.set_model_props(
        proto,
        {
            "input_convention": json.dumps(INPUT_CONVENTION),
            "units": "eV",
            "surface": str(model.metadata.get("surface")),
            "site_order": "rbfviz.data.lattice.DEFAULT_SITES (see the json export)",
        },
    )
    onnx.checker.check_model(proto)
    return proto


def _hex(v: float) -> str:
    return float(v).hex()  # exact C99 hexadecimal floating constant


def _c_array(values) -> str:
    vals = [_hex(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]
    return ",\n".join("    " + ", ".join(vals[i : i + 4]) for i in range(0, len(vals), 4))


def to_c(model: RBFN, *, prefix: str = C_PREFIX) -> str:
    """The ``"c"`` export as C99 source text (see the file's header comment for its API)."""
    if not prefix.isidentifier() or not prefix.isascii():
        raise ValueError(f"`prefix` must be a C identifier; got {prefix!r}.")
    p = parameters(model)
    D, K = model.num_inputs, model.num_centroids
    vec = reference_vectors(model)
    P = prefix.upper()
    occ = ",\n".join("    {" + ", ".join(f"{v:+d}" for v in row) + "}" for row in vec["occupation"])
    theta = ",\n".join("  {" + _c_array(row).strip() + "}" for row in p["theta"])
    n_vec = len(vec["occupation"])
    return f"""\
/* {prefix}.c: migration barrier (eV) of a radial basis function network, written by rbfviz.
 *
 *   E(x) = m + s * (alpha + sum_k beta[k] * exp(-gamma * |x - theta[k]|^2))
 *
 * x: {D} site occupations in rbfviz site order (rbfviz.data.lattice; the json export lists the
 * coordinates), +1 occupied, -1 vacant.  Surface: {model.metadata.get("surface")}.  K = {K} centroids.
 * C99, no dependencies beyond <math.h>; parameters are exact hexadecimal constants.
 *
 * Build:     cc -std=c99 -O2 -c {prefix}.c
 * Example:   cc -std=c99 -O2 -D{P}_EXAMPLE_MAIN {prefix}.c -lm && ./a.out   (checks test vectors)
 *
 * C++: declare
 *   extern "C" {{ double {prefix}_barrier(const double *occupation);
 *               double {prefix}_barrier_bits(unsigned long bits);
 *               void {prefix}_barriers(const double *occupations, long n, double *out); }}
 * (or compile this file as C++: it wraps itself in extern "C").
 *
 * Fortran 2003 (bind(C)):
 *   interface
 *     function {prefix}_barrier(occupation) bind(C, name="{prefix}_barrier") result(e)
 *       use iso_c_binding, only: c_double
 *       real(c_double), intent(in) :: occupation({D})
 *       real(c_double) :: e
 *     end function
 *     function {prefix}_barrier_bits(bits) bind(C, name="{prefix}_barrier_bits") result(e)
 *       use iso_c_binding, only: c_double, c_long
 *       integer(c_long), value :: bits   ! bit s (0-based) set = site s+1 occupied
 *       real(c_double) :: e
 *     end function
 *   end interface
 */
#include <math.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {{
#endif

#define {P}_NUM_SITES {D}
#define {P}_NUM_CENTROIDS {K}

static const double {prefix}_alpha = {_hex(p["alpha"])};
static const double {prefix}_gamma = {_hex(p["gamma"])};
static const double {prefix}_target_mean = {_hex(p["target_mean"])};
static const double {prefix}_target_scale = {_hex(p["target_scale"])};
static const double {prefix}_beta[{K}] = {{
{_c_array(p["beta"])}
}};
static const double {prefix}_theta[{K}][{D}] = {{
{theta}
}};

/* Barrier in eV of one configuration (occupation[{D}], +1 occupied / -1 vacant). */
double {prefix}_barrier(const double *occupation)
{{
    double f = {prefix}_alpha;
    int k, s;
    for (k = 0; k < {K}; ++k) {{
        double d2 = 0.0;
        for (s = 0; s < {D}; ++s) {{
            double d = occupation[s] - {prefix}_theta[k][s];
            d2 += d * d;
        }}
        f += {prefix}_beta[k] * exp(-{prefix}_gamma * d2);
    }}
    return {prefix}_target_mean + {prefix}_target_scale * f;
}}

/* Barrier of the configuration whose bit s (0-based) is set when site s+1 is occupied. */
double {prefix}_barrier_bits(unsigned long bits)
{{
    double x[{D}];
    int s;
    for (s = 0; s < {D}; ++s) x[s] = ((bits >> s) & 1UL) ? 1.0 : -1.0;
    return {prefix}_barrier(x);
}}

/* Barriers of n configurations stored row by row (occupations[n * {D}]) into out[n]. */
void {prefix}_barriers(const double *occupations, long n, double *out)
{{
    long i;
    for (i = 0; i < n; ++i) out[i] = {prefix}_barrier(occupations + i * {D});
}}

#ifdef __cplusplus
}}
#endif

#ifdef {P}_EXAMPLE_MAIN
#include <stdio.h>
static const double {prefix}_test_occupation[{n_vec}][{D}] = {{
{occ}
}};
static const double {prefix}_test_barrier[{n_vec}] = {{
{_c_array(vec["barrier_ev"])}
}};

int main(void)
{{
    int i, bad = 0;
    for (i = 0; i < {n_vec}; ++i) {{
        double e = {prefix}_barrier({prefix}_test_occupation[i]);
        double err = fabs(e - {prefix}_test_barrier[i]);
        if (err > 1e-9) ++bad;
        printf("%2d  %.9f eV  (reference %.9f, |diff| %.1e)\\n", i, e, {prefix}_test_barrier[i], err);
    }}
    printf("%s: %d of %d test vectors off by more than 1e-9 eV\\n", bad ? "FAIL" : "ok", bad, {n_vec});
    return bad ? 1 : 0;
}}
#endif
"""


# --------------------------------------------------------------------------- the table
def _device(device) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def table_chunk_size(model: RBFN, device="auto") -> int:
    """Configurations per table chunk: :data:`TABLE_CHUNK`, less for large K (kernel memory bound)."""
    dev = _device(device)
    budget = TABLE_KERNEL_BYTES.get(dev.type, TABLE_KERNEL_BYTES["cpu"])
    return int(min(TABLE_CHUNK, max(4096, budget // (4 * model.num_centroids))))


@torch.no_grad()
def table_chunks(model: RBFN, *, start: int = 0, stop: int | None = None, chunk_size: int | None = None, device="auto"):
    """Yield ``(first_index, barriers)`` float32 chunks of the table over ``[start, stop)``.

    ``chunk_size=None`` picks :func:`table_chunk_size` (the (chunk, K) kernel matrix stays small).

    Configurations are made on the device from their indices (:func:`configurations`), evaluated
    with the network's own forward (as :meth:`RBFN.predict`) and scaled to eV in float64.
    """
    D = model.num_inputs
    check_int("num_inputs", D, low=1, high=MAX_TABLE_SITES)
    total = 2**D
    stop = total if stop is None else check_int("stop", stop, low=0, high=total)
    start = check_int("start", start, low=0, high=stop)
    dev = _device(device)
    chunk_size = table_chunk_size(model, dev) if chunk_size is None else check_int("chunk_size", chunk_size, low=1)
    net = (
        model if model.centroids.device == dev else copy.deepcopy(model).to(dev)
    )  # leave the caller's model where it is
    mean = float(model.metadata.get("target_mean", 0.0))
    scale = float(model.metadata.get("target_scale", 1.0))
    shifts = torch.arange(D, device=dev, dtype=torch.int32)  # (D,); int32 holds 2^30 indices, half the bytes
    for first in range(start, stop, chunk_size):
        idx = torch.arange(first, min(first + chunk_size, stop), device=dev, dtype=torch.int32)  # (n,)
        X = (((idx[:, None] >> shifts) & 1) * 2 - 1).to(net.centroids.dtype)  # (n, D)
        out = (mean + scale * net(X).double()).float()  # (n,)
        yield first, out.cpu().numpy()


def build_table(model: RBFN, path, *, chunk_size: int | None = None, device="auto", progress=None, cancel=None) -> Path:
    """Write the barrier of every configuration as little-endian float32, index order of :func:`configurations`.

    Written to a temporary file and renamed when complete: a cancelled build (``cancel.is_set()``,
    checked between chunks) raises :class:`TableCancelled` and leaves any earlier file untouched.
    ``progress`` receives a :class:`~rbfviz.core.progress.StepProgress` per chunk.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    total = 2**model.num_inputs
    chunk_size = table_chunk_size(model, device) if chunk_size is None else chunk_size
    n_chunks = -(-total // chunk_size)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    t0 = time.perf_counter()
    try:
        with os.fdopen(fd, "wb") as fh:
            for done, (_, values) in enumerate(table_chunks(model, chunk_size=chunk_size, device=device), 1):
                fh.write(values.astype("<f4").tobytes())
                if progress is not None:
                    progress(StepProgress(done, n_chunks, time.perf_counter() - t0, "chunks"))
                if cancel_requested(cancel) and done < n_chunks:
                    raise TableCancelled(f"table build cancelled after {done} of {n_chunks} chunks; {path} not written")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_table(path, num_sites: int = 26) -> np.ndarray:
    """Memory-map a ``"table"`` export (checking its size) as a float32 array of 2^num_sites values."""
    path = Path(path)
    expected = 4 * 2**num_sites
    size = path.stat().st_size
    if size != expected:
        raise ValueError(f"{path}: {size} bytes; a table of 2**{num_sites} float32 values has {expected}")
    return np.memmap(path, dtype="<f4", mode="r")


# --------------------------------------------------------------------------- the one entry point
def export(
    model: RBFN,
    path,
    format: str,
    *,
    prefix: str = C_PREFIX,
    device="auto",
    progress=None,
    cancel=None,
) -> Path:
    """Write ``model`` for a KMC code in one of :data:`FORMATS`, plus ``<path>.vectors.json``.

    Parameters
    ----------
    model : RBFN
    path : str or os.PathLike
        The output file.
    format : {"onnx", "json", "c", "table"}
    prefix : str, default="rbfviz_kmc"
        Name prefix of the C functions (so several networks link into one program).
    device : str, default="auto"
        Where the table is computed ("auto" = CUDA when present).
    progress, cancel
        The table build's progress callback and cancel token (:mod:`rbfviz.core.progress`).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    format = check_choice("format", format, FORMATS)
    if not isinstance(model, RBFN):
        raise TypeError(f"`model` must be an RBFN; got {type(model).__name__}.")
    path = Path(path)
    if format == "onnx":
        _write_atomic(path, to_onnx(model).SerializeToString())
    elif format == "json":
        _write_atomic(path, (json.dumps(to_json(model), indent=1) + "\n").encode())
    elif format == "c":
        _write_atomic(path, to_c(model, prefix=prefix).encode())
    else:
        build_table(model, path, device=device, progress=progress, cancel=cancel)
    vectors = {"format": format, "file": path.name, **reference_vectors(model)}
    if format == "table":
        vectors["table_layout"] = (
            f"2**{model.num_inputs} little-endian float32 barriers in eV; value i is the configuration "
            "whose bit s (0-based) is 1 when site s+1 is occupied"
        )
    _write_atomic(path.with_name(path.name + ".vectors.json"), (json.dumps(vectors, indent=1) + "\n").encode())
    return path
