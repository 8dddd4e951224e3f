"""The ``"json"``, ``"onnx"`` and ``"c"`` exports as documents (see :func:`rbfviz.kmc.export`).

Examples
--------
>>> from rbfviz.core.model import RBFN
>>> doc = to_json(RBFN(26, 2, seed=0))
>>> doc["input_convention"], len(doc["sites"])
({'occupied': 1.0, 'vacant': -1.0}, 26)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rbfviz.core.model import RBFN
from rbfviz.data.lattice import DEFAULT_SITES, HALF_A, SiteTable
from rbfviz.kmc.function import INPUT_CONVENTION, parameters, reference_vectors

# --------------------------------------------------------------------------- constants
FORMAT_NAME = "rbfviz-kmc"
FORMAT_VERSION = 1
ONNX_OPSET = 17
C_PREFIX = "rbfviz_kmc"


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
