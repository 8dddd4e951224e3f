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

import numbers

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
