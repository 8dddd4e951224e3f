"""Checked reading of metadata fields: each field typed, bounded and dropped with a warning that
names it when it does not fit (the schema of :class:`rbfviz.core.metadata.ModelInfo`).

:class:`FieldReader` reads the fields of one JSON object; :func:`config_from` rebuilds a settings
dataclass from saved values field by field (:func:`rbfviz.core.validate.config_fields`).

Examples
--------
>>> warnings = []
>>> r = FieldReader({"epochs": 12, "seed": "x", "extra": 1}, "train.", warnings)
>>> r.integer("epochs"), r.integer("seed")
(12, None)
>>> r.unknown()
{'extra': 1}
>>> warnings
['metadata field `train.seed`: expected an int, got str; dropped', 'unknown metadata field(s) `train.extra`; dropped']
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping

import numpy as np

from rbfviz.core.metadata_json import MAX_LIST, MAX_NAME
from rbfviz.core.validate import config_fields

SURFACES = ("100", "110", "111")
_HASH = re.compile(r"[0-9a-f]{64}")


def kind_of(value) -> str:
    """The JSON name of a value's type (``object``, ``list``, ``str``, ``null``, ...), for messages."""
    return {dict: "object", list: "list", str: "str", bool: "bool", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def clip(text: str, n: int = 40) -> str:
    """``text`` clipped to ``n`` characters, for messages."""
    return text if len(text) <= n else text[: n - 3] + "..."


def short(value, n: int = 40) -> str:
    """``repr(value)`` clipped to ``n`` characters, for messages."""
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


def finite(v) -> float:
    """``v`` as a finite float; ``TypeError`` for a non-number, ``ValueError`` for inf or NaN."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"expected a number, got {kind_of(v)}")
    if not math.isfinite(float(v)):
        raise ValueError(f"expected a finite number, got {v!r}")
    return float(v)


class FieldReader:
    """Reads fields of one JSON object, collecting a warning for each field it drops."""

    def __init__(self, obj: Mapping, prefix: str, warnings: list[str]):
        self.obj, self.prefix, self.warnings = obj, prefix, warnings
        self.used: set[str] = set()

    def _drop(self, key: str, why: str) -> None:
        self.warnings.append(f"metadata field `{self.prefix}{key}`: {why}; dropped")

    def get(self, key: str, check, expected: str, default=None):
        self.used.add(key)
        if key not in self.obj or self.obj[key] is None:
            return default
        value = self.obj[key]
        try:
            return check(value)
        except (TypeError, ValueError) as exc:
            why = str(exc) or f"expected {expected}, got {kind_of(value)}"
            self._drop(key, why)
            return default

    def string(self, key, max_len: int = MAX_NAME, choices=None, default=None):
        def check(v):
            if not isinstance(v, str):
                raise TypeError(f"expected a string, got {kind_of(v)}")
            if len(v) > max_len:
                raise ValueError(f"a string of {len(v)} characters is longer than {max_len}")
            if choices is not None and v not in choices:
                raise ValueError(f"expected one of {choices}, got {short(v)}")
            return v

        return self.get(key, check, "a string", default)

    def hash(self, key):
        def check(v):
            if not isinstance(v, str) or not _HASH.fullmatch(v):
                raise TypeError(f"expected a 64-digit hex content hash, got {short(v)} ({kind_of(v)})")
            return v

        return self.get(key, check, "a hash")

    def integer(self, key, low: int | None = 0, default=None):
        def check(v):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"expected an int, got {kind_of(v)}")
            if low is not None and v < low:
                raise ValueError(f"expected an int >= {low}, got {v}")
            return int(v)

        return self.get(key, check, "an int", default)

    def number(self, key, default=None):
        return self.get(key, finite, "a number", default)

    def boolean(self, key, default=None):
        def check(v):
            if not isinstance(v, bool):
                raise TypeError(f"expected true or false, got {kind_of(v)}")
            return v

        return self.get(key, check, "a bool", default)

    def numbers(self, key, low=None, high=None, length: int | None = None):
        def check(v):
            if not isinstance(v, list):
                raise TypeError(f"expected a list of numbers, got {kind_of(v)}")
            if len(v) > MAX_LIST or (length is not None and len(v) != length):
                want = f"{length}" if length is not None else f"at most {MAX_LIST}"
                raise ValueError(f"expected {want} numbers, got {len(v)}")
            out = tuple(finite(x) for x in v)
            if (low is not None and any(x < low for x in out)) or (high is not None and any(x > high for x in out)):
                raise ValueError(f"expected numbers in [{low}, {high}]")
            return out

        return self.get(key, check, "a list of numbers")

    def obj_field(self, key):
        """A nested object as a Mapping, or None (with a warning for a non-object)."""

        def check(v):
            if not isinstance(v, dict):
                raise TypeError(f"expected an object, got {kind_of(v)}")
            return v

        return self.get(key, check, "an object")

    def unknown(self) -> dict:
        """The fields no reader asked for: reported as dropped."""
        extra = {k: v for k, v in self.obj.items() if k not in self.used}
        if extra:
            names = ", ".join(f"`{self.prefix}{clip(str(k))}`" for k in list(extra)[:8])
            more = f" and {len(extra) - 8} more" if len(extra) > 8 else ""
            self.warnings.append(f"unknown metadata field(s) {names}{more}; dropped")
        return extra


def config_from(cls, values: Mapping, key_prefix: str, label_prefix: str, warnings: list[str]):
    """A settings dataclass from saved values ``values[key_prefix + field]``: fields checked one by
    one against the class's field types (:func:`rbfviz.core.validate.config_fields`); ill-typed
    ones dropped (the class default then applies); None if the class refuses the combination."""
    kwargs = {}
    for f in config_fields(cls):
        key = f"{key_prefix}{f.name}"
        if key not in values:
            continue
        try:
            kwargs[f.name] = f.check(values[key])
        except (TypeError, ValueError) as exc:
            warnings.append(f"metadata field `{label_prefix}{key}`: {exc}; dropped")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        warnings.append(f"metadata {cls.__name__} settings are invalid ({exc}); dropped")
        return None


def check_surface(v):
    """A surface name (``"110"``; an int 110 is accepted), else ``ValueError``."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        v = str(v)
    if v not in SURFACES:
        raise ValueError(f"expected one of {SURFACES}, got {short(v)}")
    return v
