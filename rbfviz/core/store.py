"""Model files: safetensors tensors plus JSON metadata; import of the paper code's files.

A model file is a ``.safetensors`` file holding ``bias``, ``weights``, ``centroids`` and
``log_gamma`` and, in its header's ``__metadata__``, one JSON string with the format version and
everything in ``model.metadata`` (K, D, target mean and scale, training or pruning settings and
metrics, surface, source, parent hash).  Loading never unpickles; writes are atomic (a temporary
file in the same folder, then ``os.replace``), so a crash never leaves a half-written model.

The paper's code saves gzip-compressed PyTorch state dicts with keys ``alpha``, ``log_gamma``,
``beta`` and ``Z`` (Z of shape D × K); :func:`load_model` reads those with
``torch.load(weights_only=True)``, which refuses anything but plain tensors.

Reading is bounded: a file is refused above :data:`MAX_FILE_BYTES`, a gzip stream is decompressed
in chunks and refused once it passes :data:`MAX_DECOMPRESSED_BYTES`, the metadata JSON is checked
for length and nesting depth before it is parsed, and then validated against the schema of
:class:`rbfviz.core.metadata.ModelInfo` (ill-typed and unknown fields dropped with a
:class:`~rbfviz.core.metadata.MetadataWarning`).  Parameters whose predictions would overflow
(``log_gamma`` outside ±:data:`MAX_ABS_LOG_GAMMA`, or non-finite outputs) are refused.

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

import dataclasses
import gzip
import hashlib
import io
import json
import os
import re
import struct
import tempfile
import time
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from rbfviz.core.metadata import ModelInfo
from rbfviz.core.metadata_json import MetadataError, MetadataWarning, check_json_text, json_depth, json_safe
from rbfviz.core.model import RBFN

FORMAT_NAME = "rbfviz-rbfn"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 512 * 2**20  # refuse anything larger before reading it
MAX_DECOMPRESSED_BYTES = 256 * 2**20  # refuse a gzip model that expands beyond this
MAX_HEADER_BYTES = 8 * 2**20  # a safetensors header: four tensors and at most 1 MiB of metadata JSON
MAX_ABS_LOG_GAMMA = 40.0  # |log γ| above this overflows γ‖x − θ‖² (float32 max ≈ e^88.7)
ORPHAN_AGE_SECONDS = 60.0  # a save's temporary file older than this belongs to a killed save
_TMP_MARK = ".rbfviz-"  # temporary files are named .{target}.rbfviz-XXXXXXXX.tmp
_ORPHAN = re.compile(r"\..+\.rbfviz-[a-z0-9_]{8}\.tmp")
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


_json_safe = json_safe  # the old private name


# --------------------------------------------------------------------------- save
def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("rbfviz")
    except PackageNotFoundError:
        ours = "0+unknown"
    return {"rbfviz": ours, "torch": torch.__version__.split("+")[0], "format": str(FORMAT_VERSION)}


def save_model(model: RBFN, path) -> None:
    """Write ``model`` to ``path`` (``.safetensors``) atomically.

    The metadata is validated first (:meth:`ModelInfo.from_model`: fields the schema does not
    know are dropped with a :class:`MetadataWarning`), stamped with ``created`` (if new),
    ``versions`` and ``content_hash``, and written as JSON.  Temporary files of earlier saves into
    the same folder that a kill left behind are removed (:func:`remove_orphan_temp_files`).

    Parameters
    ----------
    model : RBFN
    path : str or os.PathLike

    Raises
    ------
    ValueError
        If ``target_mean`` or ``target_scale`` in ``model.metadata`` are unusable.
    """
    from safetensors.torch import save as st_save

    path = Path(path)
    tensors = {name: getattr(model, name).detach().to("cpu").clone() for name in _TENSOR_NAMES}
    info = ModelInfo.from_model(model)
    for text in info.warnings:
        warnings.warn(f"{path}: {text}", MetadataWarning, stacklevel=2)
    meta = info.to_dict()
    meta.update(content_hash=content_hash(model), versions=_versions())
    meta.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    header = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION), "metadata": json.dumps(meta)}
    data = st_save(tensors, metadata=header)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphan_temp_files(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{_TMP_MARK}", suffix=".tmp", dir=path.parent)
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
    for key in ("content_hash", "versions", "created"):
        model.metadata[key] = meta[key]


def remove_orphan_temp_files(folder, *, max_age: float = ORPHAN_AGE_SECONDS) -> list[Path]:
    """Delete the temporary files that killed :func:`save_model` calls left in ``folder``.

    Only regular files named like this module's own temporaries (``.{name}.rbfviz-XXXXXXXX.tmp``),
    owned by this user and not modified for ``max_age`` seconds (so a save in progress in another
    process keeps its file) are removed.  Returns the removed paths; errors are ignored.
    """
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not _ORPHAN.fullmatch(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False) or now - st.st_mtime < max_age:
                continue
            if hasattr(os, "getuid") and st.st_uid != os.getuid():
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


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
    log_gamma = float(tensors["log_gamma"].reshape(()))
    if abs(log_gamma) > MAX_ABS_LOG_GAMMA:
        raise ModelFileError(
            f"{name}: `log_gamma` = {log_gamma:.6g} is outside [-{MAX_ABS_LOG_GAMMA:g}, {MAX_ABS_LOG_GAMMA:g}]: "
            f"γ = exp(log_gamma) would overflow (or vanish) and the predictions with it"
        )


def _check_predictions(net: RBFN, info: ModelInfo, name: str) -> None:
    """Refuse parameters whose outputs are not finite, in model units or in physical units
    (``target_mean + target_scale · f``): evaluated at the corners x = ±1, at zero and at up to 64
    centroids (the points of largest and smallest distance terms)."""
    D = net.num_inputs
    probes = torch.cat(
        [torch.ones(1, D), -torch.ones(1, D), torch.zeros(1, D), net.centroids.detach()[:64].float().cpu()]
    )  # (P, D)
    with torch.no_grad():
        out = net(probes.to(net.centroids))  # (P,)
    if not torch.isfinite(out).all():
        raise ModelFileError(
            f"{name}: the network's predictions are not finite (overflow in `weights`, `centroids` or `log_gamma`)"
        )
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is what is being checked
        physical = info.target_mean + info.target_scale * out.double().numpy()  # (P,)
    if not np.isfinite(physical).all():
        raise ModelFileError(
            f"{name}: predictions in physical units overflow (metadata fields `target_mean`, `target_scale`)"
        )


def _build(tensors: dict, metadata, name: str) -> tuple[RBFN, ModelInfo]:
    K, D = tensors["centroids"].shape
    try:
        info = ModelInfo.from_metadata(metadata, num_centroids=K, num_inputs=D)
    except MetadataError as exc:
        raise ModelFileError(f"{name}: {exc}") from None
    dtype = (
        tensors["centroids"].dtype if tensors["centroids"].dtype in (torch.float32, torch.float64) else torch.float32
    )
    net = RBFN(D, K, dtype=dtype)
    with torch.no_grad():
        for key in _TENSOR_NAMES:
            getattr(net, key).copy_(tensors[key].reshape(getattr(net, key).shape))
    _check_predictions(net, info, name)
    actual = content_hash(net)
    if info.content_hash is not None and info.content_hash != actual:
        info = dataclasses.replace(
            info, warnings=(*info.warnings, "metadata field `content_hash` does not match the tensors; recomputed")
        )
    info = dataclasses.replace(info, content_hash=actual)
    net.metadata = info.to_dict()
    return net, info


def _load_safetensors(data: bytes, name: str) -> tuple[RBFN, ModelInfo]:
    from safetensors.torch import load as st_load

    if len(data) < 8:
        raise ModelFileError(f"{name}: file is truncated ({len(data)} bytes)")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > len(data) - 8:
        raise ModelFileError(
            f"{name}: file is truncated or corrupt (header of {header_len} bytes in a {len(data)} byte file)"
        )
    if header_len > MAX_HEADER_BYTES:
        raise ModelFileError(f"{name}: header of {header_len} bytes is larger than the {MAX_HEADER_BYTES} byte limit")
    raw_header = data[8 : 8 + header_len]
    if json_depth(raw_header) > 4:  # {name: {"shape": [...]}}: deeper is not safetensors
        raise ModelFileError(f"{name}: not a valid safetensors file (header nested {json_depth(raw_header)} deep)")
    try:
        header = json.loads(raw_header)
        tensors = st_load(data)
    except Exception as exc:  # safetensors raises its own error types
        raise ModelFileError(f"{name}: not a valid safetensors file ({exc})") from None
    info = header.get("__metadata__") if isinstance(header, dict) else None
    info = info if isinstance(info, dict) else {}
    if info.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{name}: safetensors file is not an rbfviz model (format {info.get('format')!r})")
    try:
        version = int(info.get("format_version", -1))
    except (ValueError, TypeError):
        raise ModelFileError(f"{name}: format version {info.get('format_version')!r} is not an integer") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{name}: format version {version} is newer than this rbfviz understands ({FORMAT_VERSION}); upgrade rbfviz"
        )
    text = info.get("metadata", "{}")
    if not isinstance(text, str):
        raise ModelFileError(f"{name}: metadata must be a JSON string")
    try:
        check_json_text(text)
        metadata = json.loads(text)
    except MetadataError as exc:
        raise ModelFileError(f"{name}: {exc}") from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise ModelFileError(f"{name}: metadata is not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{name}: metadata must be a JSON object")
    _check_tensors(tensors, name)
    return _build(tensors, metadata, name)


def _gunzip(data: bytes, name: str, limit: int) -> bytes:
    """Decompress a gzip stream in 1 MiB steps; refuse it once it passes ``limit`` bytes."""
    out, total = [], 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
            while True:
                chunk = fh.read(2**20)
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise ModelFileError(
                        f"{name}: gzip content expands beyond the {limit} byte limit (a compression bomb?)"
                    )
                out.append(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise ModelFileError(f"{name}: gzip stream is corrupt or truncated ({exc})") from None
    return b"".join(out)


def _load_reference(data: bytes, name: str) -> tuple[RBFN, ModelInfo]:
    """The paper code's gzip-compressed state dict {alpha, log_gamma, beta, Z (D × K)}."""
    raw = _gunzip(data, name, MAX_DECOMPRESSED_BYTES)
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
        raise ModelFileError(f"{name}: reference state dict lacks {missing}; found {sorted(map(str, state))[:20]}")
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
    source = f"reference:{name}"
    return _build(
        tensors,
        {"kind": "trained", "source": source[:800], "imported_from": "machqu/rbfn state dict"},
        name,
    )


def inspect_model(path) -> tuple[RBFN, ModelInfo]:
    """Read a model file and return the network and its validated metadata record.

    Like :func:`load_model`, but the warnings about dropped metadata fields are returned in
    ``info.warnings`` instead of being issued (``rbfviz info`` prints them).

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "net.safetensors")
    >>> net = RBFN(26, 4, seed=0)
    >>> net.metadata.update(name="demo", surface="110")
    >>> save_model(net, path)
    >>> model, info = inspect_model(path)
    >>> info.kind, info.name, info.surface, info.num_centroids, info.warnings
    ('trained', 'demo', '110', 4, ())
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


def load_model(path) -> RBFN:
    """Read a model file: rbfviz ``.safetensors`` or the paper code's gzip state dict.

    ``model.metadata`` is the validated metadata (:meth:`ModelInfo.to_dict`); each field that was
    dropped is reported as a :class:`MetadataWarning` naming the file and the field.

    Parameters
    ----------
    path : str, os.PathLike or bytes
        A file path, or the file's bytes (e.g. an upload).

    Raises
    ------
    ModelFileError
        For a missing, truncated, corrupt, hostile (code-bearing pickle, compression bomb, deeply
        nested metadata) or malformed file, or parameters whose predictions overflow, with a
        message naming the file and the problem.
    """
    model, info = inspect_model(path)
    name = "<bytes>" if isinstance(path, (bytes, bytearray)) else str(path)
    for text in info.warnings:
        warnings.warn(f"{name}: {text}", MetadataWarning, stacklevel=2)
    return model


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
