"""Model metadata as JSON text: the limits, the check run before parsing, and conversion to JSON values.

A model file's metadata is JSON from users and uploads.  :func:`check_json_text` bounds its length
(:data:`MAX_METADATA_BYTES`) and nesting (:data:`MAX_DEPTH`) before the recursive JSON parser sees
it; :func:`json_safe` turns a model's metadata dict (NumPy values, NaN) into JSON values.  The
other limits bound single fields (:mod:`rbfviz.core.metadata_fields`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np

MAX_DEPTH = 16  # deepest JSON nesting accepted in metadata (the schema needs 4)
MAX_METADATA_BYTES = 1 * 2**20  # longest metadata JSON accepted
MAX_NAME = 200  # longest name, source or other free text
MAX_KEY = 64  # longest metric name
MAX_LIST = 4096  # longest list of numbers (losses, occupation frequencies, distribution parameters)


class MetadataError(ValueError):
    """Metadata that cannot be used: a field predictions depend on is missing its meaning."""


class MetadataWarning(UserWarning):
    """A metadata field was dropped (unknown, ill-typed or too long) when a model was read."""


def json_depth(text: str | bytes) -> int:
    """Deepest nesting of ``[`` / ``{`` in a JSON text, computed without recursion.

    Examples
    --------
    >>> json_depth('{"a": [1, {"b": "[[["}]}')
    3
    """
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    raw = re.sub(rb'"(?:[^"\\]|\\.)*"', b'""', raw, flags=re.DOTALL)  # brackets inside strings do not count
    b = np.frombuffer(raw, dtype=np.uint8)
    step = np.isin(b, (ord("["), ord("{"))).astype(np.int32) - np.isin(b, (ord("]"), ord("}")))
    return int(np.cumsum(step).max(initial=0))


def check_json_text(text: str | bytes, what: str = "metadata") -> None:
    """Raise :class:`MetadataError` if a JSON text is longer than :data:`MAX_METADATA_BYTES` or
    nested deeper than :data:`MAX_DEPTH`: checked before parsing, so no hostile text reaches the
    recursive JSON parser."""
    if len(text) > MAX_METADATA_BYTES:
        raise MetadataError(f"{what} is {len(text)} bytes long; the limit is {MAX_METADATA_BYTES}")
    depth = json_depth(text)
    if depth > MAX_DEPTH:
        raise MetadataError(f"{what} is nested {depth} levels deep; the limit is {MAX_DEPTH}")


def json_safe(value):
    """Metadata to JSON values: NumPy scalars and arrays to Python, non-finite floats to None,
    anything else to its string.

    Examples
    --------
    >>> json_safe({"q": np.array([0.5, np.nan]), "n": np.int64(3)})
    {'q': [0.5, None], 'n': 3}
    """
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)
