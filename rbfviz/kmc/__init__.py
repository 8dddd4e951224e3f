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
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from rbfviz.core.model import RBFN
from rbfviz.core.validate import check_choice
from rbfviz.kmc.formats import C_PREFIX, FORMAT_NAME, ONNX_OPSET, from_json, to_c, to_json, to_onnx
from rbfviz.kmc.function import INPUT_CONVENTION, configurations, evaluate, parameters, reference_vectors, table_index
from rbfviz.kmc.table import TableCancelled, build_table, read_table, table_chunk_size, table_chunks

__all__ = [
    "C_PREFIX",
    "FORMATS",
    "FORMAT_NAME",
    "INPUT_CONVENTION",
    "ONNX_OPSET",
    "TableCancelled",
    "build_table",
    "configurations",
    "evaluate",
    "export",
    "from_json",
    "parameters",
    "read_table",
    "reference_vectors",
    "table_chunk_size",
    "table_chunks",
    "table_index",
    "to_c",
    "to_json",
    "to_onnx",
]

FORMATS = ("onnx", "json", "c", "table")


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
