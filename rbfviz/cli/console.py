"""The terminal side of the progress and cancel protocol (:mod:`rbfviz.core.progress`).

A tqdm bar driven by the library's progress reports, Ctrl-C turned into the cancel event that
long work polls, and numbers printed as ``n/a`` when they are missing.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading


@contextlib.contextmanager
def cancel_on_interrupt(event: threading.Event | None = None):
    """Yield a cancel event (``event``, or a new one) that the first Ctrl-C sets; a second one
    aborts as usual.  Outside the main thread no handler is installed."""
    event = event if event is not None else threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def handler(signum, frame):
        if event.is_set():
            raise KeyboardInterrupt
        print(
            "\ninterrupted: stopping after this epoch and keeping the best model so far (Ctrl-C again to abort)",
            file=sys.stderr,
        )
        event.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield event
    finally:
        signal.signal(signal.SIGINT, previous)


def describe(report) -> str:
    """One line for the bar: ``report.describe()`` (the progress protocol), else its fields."""
    if hasattr(report, "describe"):
        return str(report.describe())
    parts = []
    for key in ("epoch", "iteration", "train_mse", "val_mse", "loss", "lr"):
        value = getattr(report, key, None)
        if isinstance(value, float) and math.isfinite(value):
            parts.append(f"{key} {value:.4g}")
        elif isinstance(value, int):
            parts.append(f"{key} {value + 1 if key == 'epoch' else value}")
    return ", ".join(parts)


def fmt(value, spec: str = ".4f") -> str:
    """``value`` formatted with ``spec``, or ``n/a`` when it is missing or not finite."""
    return format(value, spec) if isinstance(value, (int, float)) and math.isfinite(value) else "n/a"


class ProgressBar:
    """A tqdm bar driven by the library's progress reports (:mod:`rbfviz.core.progress`).

    Called with one report, it shows ``report.fraction`` (or ``estimate(report)`` when the report
    has none) and ``report.describe()``; called as ``(done, total[, message])`` (the generator and
    the figure writer) it shows ``done / total``.
    """

    def __init__(self, desc: str, estimate=None):
        from tqdm.auto import tqdm

        self.estimate = estimate
        self.bar = tqdm(
            total=100, desc=desc, unit="%", dynamic_ncols=True, leave=True, bar_format="{l_bar}{bar}|{postfix}"
        )

    def __call__(self, *args) -> None:
        if len(args) == 1:
            report = args[0]
            fraction = getattr(report, "fraction", None)
            if fraction is None and self.estimate is not None:
                fraction = self.estimate(report)
            text = describe(report)
        else:
            done, total = args[0], args[1]
            fraction = done / total if total else None
            text = f"{done}/{total}" + (f" {args[2]}" if len(args) > 2 and args[2] else "")
        if fraction is not None and math.isfinite(fraction):
            self.bar.n = round(100 * min(max(fraction, 0.0), 1.0), 1)
        self.bar.set_postfix_str(text[:80], refresh=False)
        self.bar.refresh()

    def close(self, complete: bool = False) -> None:
        if complete:
            self.bar.n = 100
        self.bar.close()
