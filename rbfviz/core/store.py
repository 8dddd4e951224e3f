"""Model files: safetensors tensors plus JSON metadata; import of the paper code's files.

A model file is a ``.safetensors`` file holding ``bias``, ``weights``, ``centroids`` and
``log_gamma`` and, in its header's ``__metadata__``, one JSON string with the format version and
everything in ``model.metadata`` (K, D, target mean and scale, training or pruning settings and
metrics, surface, source, parent hash).  Loading never unpickles; writes are atomic (a temporary
file in the same folder, then ``os.replace``), so a crash never leaves a half-written model.

The paper's code saves gzip-compressed PyTorch state dicts with keys ``alpha``, ``log_gamma``,
``beta`` and ``Z`` (Z of shape D × K); :func:`load_model` reads those with
``torch.load(weights_only=True)``, which refuses anything but plain tensors.

Examples
--------
>>> import tempfile, os
>>> from rbfviz.core.model import RBFN
>>> net = RBFN(26, 4, seed=0)
>>> path = os.path.join(tempfile.mkdtemp(), "net.safetensors")
>>> save_model(net, path)
>>> load_model(path).metadata["num_centroids"]
4
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import os
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from rbfviz.core.model import RBFN

FORMAT_NAME = "rbfviz-rbfn"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 512 * 2**20  # refuse anything larger before reading it
_TENSOR_NAMES = ("bias", "weights", "centroids", "log_gamma")
_UMASK = os.umask(0o022)  # read once at import (os.umask is process-wide, not thread-safe)
os.umask(_UMASK)


class ModelFileError(ValueError):
    """A model file that cannot be read: corrupt, hostile, of the wrong shape or holding NaN."""


# --------------------------------------------------------------------------- hashing
def content_hash(model: RBFN) -> str:
    """SHA-256 of the network's parameters (float64, fixed order): identifies a parent network."""
    h = hashlib.sha256()
    for name in _TENSOR_NAMES:
        t = getattr(model, name).detach().to("cpu", torch.float64).contiguous()
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def _json_safe(value):
    """Metadata to JSON: NumPy scalars/arrays to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


# --------------------------------------------------------------------------- save
def save_model(model: RBFN, path) -> None:
    """Write ``model`` to ``path`` (``.safetensors``) atomically.

    Parameters
    ----------
    model : RBFN
    path : str or os.PathLike
    """
    from safetensors.torch import save as st_save

    path = Path(path)
    tensors = {name: getattr(model, name).detach().to("cpu").clone() for name in _TENSOR_NAMES}
    meta = dict(model.metadata)
    meta.update(num_centroids=model.num_centroids, num_inputs=model.num_inputs, content_hash=content_hash(model))
    header = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION), "metadata": json.dumps(_json_safe(meta))}
    data = st_save(tensors, metadata=header)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a model file is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    model.metadata["content_hash"] = meta["content_hash"]


# --------------------------------------------------------------------------- load
def _read_bytes(path) -> tuple[bytes, str]:
    if isinstance(path, (bytes, bytearray)):
        return bytes(path), "<bytes>"
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ModelFileError(f"{path}: {size} bytes is larger than the {MAX_FILE_BYTES} byte limit")
    return path.read_bytes(), str(path)


def _check_tensors(tensors: dict, name: str) -> None:
    missing = [k for k in _TENSOR_NAMES if k not in tensors]
    if missing:
        raise ModelFileError(f"{name}: missing tensor(s) {missing}; found {sorted(tensors)}")
    c = tensors["centroids"]
    if c.dim() != 2 or c.shape[0] < 1 or c.shape[1] < 1:
        raise ModelFileError(f"{name}: `centroids` must have shape (K, D); got {tuple(c.shape)}")
    K = c.shape[0]
    expected = {"bias": (), "weights": (K,), "log_gamma": ()}
    for key, shape in expected.items():
        t = tensors[key]
        if tuple(t.shape) != shape and not (shape == () and tuple(t.shape) == (1,)):
            raise ModelFileError(f"{name}: `{key}` must have shape {shape} for K = {K}; got {tuple(t.shape)}")
    for key in _TENSOR_NAMES:
        t = tensors[key]
        if not t.is_floating_point():
            raise ModelFileError(f"{name}: `{key}` must be a floating-point tensor; got {t.dtype}")
        if not torch.isfinite(t).all():
            raise ModelFileError(f"{name}: `{key}` contains NaN or infinite values")


def _build(tensors: dict, metadata: dict) -> RBFN:
    K, D = tensors["centroids"].shape
    dtype = (
        tensors["centroids"].dtype if tensors["centroids"].dtype in (torch.float32, torch.float64) else torch.float32
    )
    net = RBFN(D, K, dtype=dtype)
    with torch.no_grad():
        for key in _TENSOR_NAMES:
            getattr(net, key).copy_(tensors[key].reshape(getattr(net, key).shape))
    net.metadata.update(metadata)
    net.metadata.update(num_centroids=K, num_inputs=D)
    return net


def _load_safetensors(data: bytes, name: str) -> RBFN:
    from safetensors.torch import load as st_load

    if len(data) < 8:
        raise ModelFileError(f"{name}: file is truncated ({len(data)} bytes)")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > len(data) - 8 or header_len > 100 * 2**20:
        raise ModelFileError(
            f"{name}: file is truncated or corrupt (header of {header_len} bytes in a {len(data)} byte file)"
        )
    try:
        header = json.loads(data[8 : 8 + header_len])
        tensors = st_load(data)
    except Exception as exc:  # safetensors raises its own error types
        raise ModelFileError(f"{name}: not a valid safetensors file ({exc})") from None
    info = header.get("__metadata__") or {}
    if info.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{name}: safetensors file is not an rbfviz model (format {info.get('format')!r})")
    try:
        version = int(info.get("format_version", -1))
    except (ValueError, TypeError):
        raise ModelFileError(f"{name}: format version {info.get('format_version')!r} is not an integer") from None
    try:
        metadata = json.loads(info.get("metadata", "{}"))
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{name}: metadata is not valid JSON ({exc})") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{name}: format version {version} is newer than this rbfviz understands ({FORMAT_VERSION}); upgrade rbfviz"
        )
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{name}: metadata must be a JSON object")
    _check_tensors(tensors, name)
    return _build(tensors, metadata)


def _load_reference(data: bytes, name: str) -> RBFN:
    """The paper code's gzip-compressed state dict {alpha, log_gamma, beta, Z (D × K)}."""
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise ModelFileError(f"{name}: gzip stream is corrupt or truncated ({exc})") from None
    if not zipfile.is_zipfile(io.BytesIO(raw)) and not raw[:2] == b"\x80\x02":
        raise ModelFileError(f"{name}: gzip content is not a PyTorch state dict")
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses any code-bearing pickle
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{name}: refused to load: not a plain tensor state dict ({first})") from None
    if not isinstance(state, dict):
        raise ModelFileError(f"{name}: expected a state dict, got {type(state).__name__}")
    missing = [k for k in ("alpha", "log_gamma", "beta", "Z") if k not in state]
    if missing:
        raise ModelFileError(f"{name}: reference state dict lacks {missing}; found {sorted(state)}")
    if not all(torch.is_tensor(state[k]) for k in ("alpha", "log_gamma", "beta", "Z")):
        raise ModelFileError(f"{name}: reference state dict entries must be tensors")
    Z = state["Z"]
    if Z.dim() != 2:
        raise ModelFileError(f"{name}: `Z` must have shape (D, K); got {tuple(Z.shape)}")
    tensors = {
        "bias": state["alpha"],
        "weights": state["beta"],
        "centroids": Z.t().contiguous(),
        "log_gamma": state["log_gamma"],
    }  # α and log γ of shape (1,) are accepted as scalars
    _check_tensors(tensors, name)
    return _build(
        tensors,
        {"kind": "trained", "surface": None, "source": f"reference:{name}", "imported_from": "machqu/rbfn state dict"},
    )


def load_model(path) -> RBFN:
    """Read a model file: rbfviz ``.safetensors`` or the paper code's gzip state dict.

    Parameters
    ----------
    path : str, os.PathLike or bytes
        A file path, or the file's bytes (e.g. an upload).

    Raises
    ------
    ModelFileError
        For a missing, truncated, corrupt, hostile (code-bearing pickle) or malformed file, with
        a message naming the file and the problem.
    """
    data, name = _read_bytes(path)
    if data[:2] == b"\x1f\x8b":
        return _load_reference(data, name)
    if len(data) >= 9 and data[8:9] == b"{":  # safetensors: u64 header length, then JSON
        return _load_safetensors(data, name)
    if data[:2] == b"PK" or data[:1] == b"\x80":  # a zip (torch.save) or a pickle
        raise ModelFileError(
            f"{name}: this is a pickle/PyTorch file; rbfviz never unpickles "
            "model files (export it as the reference code's gzip state dict or "
            "as rbfviz .safetensors)"
        )
    return _load_safetensors(data, name)


def save_reference_model(model: RBFN, path) -> None:
    """Write the paper code's format (gzip state dict) — for interoperability and tests."""
    state = {
        "alpha": model.bias.detach().reshape(1).cpu(),
        "log_gamma": model.log_gamma.detach().reshape(1).cpu(),
        "beta": model.weights.detach().cpu(),
        "Z": model.centroids.detach().t().contiguous().cpu(),
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    Path(path).write_bytes(gzip.compress(buf.getvalue()))
