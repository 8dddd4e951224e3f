"""The one progress protocol and the one cancel protocol of every long computation.

Training (:func:`rbfviz.core.train.train`), pruning (:func:`rbfviz.core.prune.prune`), the barrier
generator (:func:`rbfviz.data.barriers.generate_dataset`) and sweeps all take

* ``progress``: a callable that receives one *report* after each unit of work (an epoch, an
  L-BFGS block, a chunk of rows, a finished sweep cell).  Every report has ``fraction`` (a
  best-effort estimate of the work done, in [0, 1]), ``elapsed`` (seconds) and ``describe()``
  (one line for a status bar); each computation adds its own fields (``EpochStats.val_mse``, …).
* ``cancel``: ``None`` or any object with ``is_set()`` (a :class:`threading.Event`, or a
  :class:`CancelFlag` for code that has no threads).  A cancelled computation stops at the next
  unit of work and keeps what it has: training and pruning return the best network so far with
  ``cancelled=True``; the generator raises its ``GenerationCancelled``.

Examples
--------
>>> reports = []
>>> report = StepProgress(done=3, total=4, elapsed=1.5, unit="chunks")
>>> report.fraction, report.describe()
(0.75, '3/4 chunks (1.5 s)')
>>> flag = CancelFlag()
>>> cancel_requested(flag), cancel_requested(None)
(False, False)
>>> flag.set(); cancel_requested(flag)
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@runtime_checkable
class ProgressReport(Protocol):
    """What a ``progress`` callback receives."""

    fraction: float  # estimate of the work done, in [0, 1]
    elapsed: float  # seconds since the computation started

    def describe(self) -> str:
        """One line for a status bar."""


ProgressCallback = Callable[[ProgressReport], None]


@runtime_checkable
class CancelToken(Protocol):
    """What a ``cancel`` argument must be: anything with ``is_set()``."""

    def is_set(self) -> bool: ...


class CancelFlag:
    """A :class:`CancelToken` without threads (``threading.Event`` works as well)."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


def cancel_requested(cancel: CancelToken | None) -> bool:
    """Whether ``cancel`` (None or an object with ``is_set()``) asks to stop."""
    if cancel is None:
        return False
    if not hasattr(cancel, "is_set"):
        raise TypeError(f"`cancel` must be None or have an is_set() method (threading.Event); got {cancel!r}.")
    return bool(cancel.is_set())


@dataclass(frozen=True)
class StepProgress:
    """A report of ``done`` out of ``total`` units (rows, chunks, cells)."""

    done: int
    total: int
    elapsed: float
    unit: str = "steps"

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total > 0 else 1.0

    def describe(self) -> str:
        return f"{self.done}/{self.total} {self.unit} ({self.elapsed:.1f} s)"
