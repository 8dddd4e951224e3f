"""Small input checks shared by the public API (style anchor 6).

Every check raises ``ValueError`` (or ``TypeError`` for a wrong kind of object) with a message that
names the argument, the rule and the value it got, e.g.
``"`n` must be an int >= 0; got -3."``.

Examples
--------
>>> check_int("n", 5, low=0)
5
>>> check_probability("occupation_below", 1.5)
Traceback (most recent call last):
...
ValueError: `occupation_below` must be a probability in [0, 1]; got 1.5.
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
import re
import typing
from dataclasses import dataclass

import numpy as np

NUM_SITES = 26


def check_int(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an ``int`` after checking ``low <= value <= high``.

    Examples
    --------
    >>> check_int("chunk_size", 8192, low=1)
    8192
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an int; got {value!r} ({type(value).__name__}).")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            rule = f"an int >= {low}"
        elif low is None:
            rule = f"an int <= {high}"
        else:
            rule = f"an int in [{low}, {high}]"
        raise ValueError(f"`{name}` must be {rule}; got {value}.")
    return value


def check_float(
    name: str, value, *, low: float | None = None, high: float | None = None, low_open: bool = False
) -> float:
    """Return ``value`` as a finite ``float`` after a range check.

    Examples
    --------
    >>> check_float("wall_initial", 0.4, low=0, low_open=True)
    0.4
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number; got {value!r} ({type(value).__name__}).")
    value = float(value)
    bad = not np.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value > high
    if bad:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
        hi = "" if high is None else f"<= {high}"
        rule = " and ".join(s for s in (lo, hi) if s) or "finite"
        raise ValueError(f"`{name}` must be a finite number {rule}; got {value!r}.")
    return value


def check_probability(name: str, value) -> float:
    """Return ``value`` as a float in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"`{name}` must be a probability in [0, 1]; got {value!r}.")
    return float(value)


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {tuple(choices)}; got {value!r}.")
    return value


def check_occupations(name: str, X, *, num_sites: int = NUM_SITES) -> np.ndarray:
    """Return ``X`` as a C-contiguous float32 array of shape (N, 26) holding only -1 and +1.

    Occupied is +1 and vacant is -1.  A 1-D array of length 26 is treated as one row.

    Examples
    --------
    >>> check_occupations("X", np.ones(26)).shape
    (1, 26)
    >>> check_occupations("X", np.zeros((2, 26)))
    Traceback (most recent call last):
    ...
    ValueError: `X` must hold only -1 (vacant) and +1 (occupied); got 0.0 at row 0, column 0. ...
    """
    arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != num_sites:
        raise ValueError(
            f"`{name}` must have shape (N, {num_sites}); got {np.shape(X)}."
            + (" Reshape one configuration with X.reshape(1, -1)." if arr.size == num_sites else "")
        )
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"`{name}` must be numeric; got dtype {arr.dtype}.")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    bad = (arr != 1) & (arr != -1)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        hint = " Convert 0/1 occupations with 2 * X - 1." if np.isin(arr, (0, 1)).all() else ""
        raise ValueError(
            f"`{name}` must hold only -1 (vacant) and +1 (occupied); got {float(arr[row, col])!r} "
            f"at row {row}, column {col}.{hint}"
        )
    return arr


# --------------------------------------------------------------------------- settings dataclasses
class AutoBool:
    """The type of a tri-state setting annotated ``bool | str``: ``True``, ``False`` or ``"auto"``
    (e.g. ``TrainConfig.compile``: "auto" lets the library decide)."""

    CHOICES = ("auto", True, False)

    @staticmethod
    def parse(text: str):
        """``"auto"``, or a bool from on/off/true/false/yes/no/1/0 (the command line's spelling)."""
        low = str(text).strip().lower()
        if low == "auto":
            return "auto"
        if low in ("1", "true", "on", "yes"):
            return True
        if low in ("0", "false", "off", "no"):
            return False
        raise ValueError(f"expected auto, on or off; got {text!r}")


@dataclass(frozen=True)
class ConfigField:
    """One field of a settings dataclass (``TrainConfig``, ``PruneConfig``, ``GeneratorConfig``):
    the single description that the CLI options, the app's widgets and the model-file schema are
    generated from.

    Attributes
    ----------
    name : str
        The field's name.
    type : type
        ``int``, ``float``, ``str``, ``bool``, ``tuple`` (a tuple of numbers) or :class:`AutoBool`
        (``bool | str``: True, False or "auto").
    optional : bool
        Whether ``None`` is allowed (an annotation ``X | None``).
    default : object
        The dataclass default.
    doc : str
        The field's documentation: its entry in the numpydoc ``Parameters`` section of the class
        docstring, else its trailing ``#`` comment in the class body; ``""`` if it has neither.
    """

    name: str
    type: type
    optional: bool
    default: object
    doc: str

    def check(self, value, *, prefix: str = ""):
        """Return ``value`` if it has this field's type (a tuple for a ``tuple`` field), else raise
        ``TypeError`` naming the field, the expected type and the value.

        Examples
        --------
        >>> f = ConfigField("batch_size", int, False, 64, "")
        >>> f.check(32)
        32
        >>> f.check("32")
        Traceback (most recent call last):
        ...
        TypeError: `batch_size` must be an int; got '32' (str).
        """
        label = f"{prefix}{self.name}"
        if value is None and self.optional:
            return None
        kinds = {int: "an int", float: "a real number", str: "a string", bool: "a bool", tuple: "a list of numbers"}
        kinds[AutoBool] = 'true, false or "auto"'
        ok = {
            AutoBool: lambda v: isinstance(v, (bool, np.bool_)) or v == "auto",
            bool: lambda v: isinstance(v, (bool, np.bool_)),
            int: lambda v: isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)),
            float: lambda v: (
                isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and bool(np.isfinite(float(v)))
            ),
            str: lambda v: isinstance(v, str) and len(v) <= MAX_SETTING_STRING,
            tuple: lambda v: (
                isinstance(v, (list, tuple))
                and len(v) <= MAX_SETTING_STRING
                and all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in v)
            ),
        }[self.type](value)
        if not ok:
            shown = repr(value)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            none = " or null" if self.optional else ""
            raise TypeError(f"`{label}` must be {kinds[self.type]}{none}; got {shown} ({type(value).__name__}).")
        if self.type is float:
            return float(value)
        if self.type is int:
            return int(value)
        if self.type is bool or (self.type is AutoBool and value != "auto"):
            return bool(value)
        if self.type is tuple:
            return tuple(value)
        return value


MAX_SETTING_STRING = 200  # longest string (or tuple) a setting may hold


def _numpydoc_parameters(doc: str) -> dict[str, str]:
    """``{name: description}`` from the ``Parameters`` section of a numpydoc docstring (the type
    line when a parameter has no description)."""
    lines = inspect.cleandoc(doc or "").splitlines()
    out: dict[str, str] = {}
    spec: dict[str, str] = {}
    i = next((i + 2 for i in range(len(lines) - 1) if lines[i].strip() == "Parameters" and _rule(lines[i + 1])), None)
    names: list[str] = []
    while i is not None and i < len(lines):
        line = lines[i]
        if line and not line.startswith(" "):
            if i + 1 < len(lines) and _rule(lines[i + 1]):
                break  # the next section
            head, _, kind = line.partition(" : ")
            names = [n.strip() for n in head.split(",") if n.strip()]
            for n in names:
                out[n], spec[n] = "", kind.strip()
        elif line.strip():
            for n in names:
                out[n] = f"{out[n]} {line.strip()}".strip()
        i += 1
    return {n: out[n] or spec[n] for n in out}


def _rule(line: str) -> bool:
    return bool(re.fullmatch(r"-{3,}", line.strip()))


def _trailing_comments(cls) -> dict[str, str]:
    """``{field: comment}`` from ``name: type = default  # comment`` lines of a class body
    (comment-only lines right below continue the comment)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    last = None
    for line in source.splitlines():
        m = re.match(r"\s+(\w+)\s*:[^#]*#\s*(.*)$", line)
        if m and "=" in line.split("#")[0]:
            last = m.group(1)
            out[last] = m.group(2).strip()
            continue
        c = re.match(r"\s+#\s*(.*)$", line)
        if c and last is not None:
            out[last] = f"{out[last]} {c.group(1).strip()}".strip()
        else:
            last = None
    return out


def config_fields(cls) -> list[ConfigField]:
    """The fields of a frozen settings dataclass with their types, defaults and documentation.

    Examples
    --------
    >>> from rbfviz.core.train import TrainConfig
    >>> f = {f.name: f for f in config_fields(TrainConfig)}
    >>> f["batch_size"].type, f["batch_size"].default, f["batch_size"].doc
    (<class 'int'>, 64, 'minibatch size')
    >>> f["max_epochs"].optional
    True
    """
    hints = typing.get_type_hints(cls)
    docs = {**_trailing_comments(cls), **_numpydoc_parameters(cls.__doc__)}
    out = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = typing.get_args(hint)
        optional = type(None) in args
        if optional:
            hint = next(a for a in args if a is not type(None))
        base = typing.get_origin(hint) or hint
        if set(typing.get_args(hint)) == {bool, str}:
            base = AutoBool
        if base not in (int, float, str, bool, tuple, AutoBool):
            raise TypeError(f"{cls.__name__}.{f.name}: unsupported setting type {hints[f.name]!r}")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        out.append(ConfigField(f.name, base, optional, default, docs.get(f.name, "")))
    return out
