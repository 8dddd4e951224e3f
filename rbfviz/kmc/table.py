"""The ``"table"`` export: the barrier of all 2^D configurations, in chunks, on the GPU when present.

Value ``i`` of the table is the configuration whose bit ``s`` (0-based) is 1 when site ``s + 1`` is
occupied (:func:`rbfviz.kmc.function.configurations`); little-endian float32, eV.

Examples
--------
>>> from rbfviz.core.model import RBFN
>>> [len(v) for _, v in table_chunks(RBFN(4, 2, seed=0), chunk_size=10)]
[10, 6]
"""

from __future__ import annotations

import copy
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rbfviz.core.model import RBFN
from rbfviz.core.progress import StepProgress, cancel_requested
from rbfviz.core.validate import check_int

# --------------------------------------------------------------------------- constants
TABLE_CHUNK = 2**20  # at most this many configurations per chunk of the table
TABLE_KERNEL_BYTES = {"cpu": 256 * 2**20, "cuda": 2 * 2**30}  # per (chunk, K) float32 kernel matrix
MAX_TABLE_SITES = 30  # 2^30 float32 = 4 GiB; larger tables are refused


class TableCancelled(RuntimeError):
    """The table build was cancelled; nothing was written."""


def resolve_device(device="auto") -> torch.device:
    """``"auto"`` (or None) → CUDA when present, else the CPU; anything else as ``torch.device``."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def table_chunk_size(model: RBFN, device="auto") -> int:
    """Configurations per table chunk: :data:`TABLE_CHUNK`, less for large K (kernel memory bound)."""
    dev = resolve_device(device)
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
    dev = resolve_device(device)
    chunk_size = table_chunk_size(model, dev) if chunk_size is None else check_int("chunk_size", chunk_size, low=1)
    net = (
        model if model.centroids.device == dev else copy.deepcopy(model).to(dev)
    )  # leave the caller's model where it is
    mean = model.target_mean
    scale = model.target_scale
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
