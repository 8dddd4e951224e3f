"""A long computation (training, pruning) run on a worker thread, with progress and cancel.

The worker sets params of the job (``fraction``, ``status``, ...) from its own thread; Panel 1.9
moves the resulting widget updates onto the session's event loop, so the page stays responsive.
Tests call :meth:`Job.wait` to run a job to completion synchronously.

:func:`run_in_thread` runs shorter work that must not block the page either (parsing an upload)
and reports any failure to a callback, never to the server log as a traceback with the data.
"""

from __future__ import annotations

import threading
import traceback

import param

# --------------------------------------------------------------------------- constants
TORCH_THREADS = 1  # leave a core for the Tornado loop on small machines


def run_in_thread(work, *args, on_error, name: str = "rbfviz-worker") -> threading.Thread:
    """Run ``work(*args)`` on a daemon thread; an exception goes to ``on_error(err)`` instead of the log.

    Returns the started thread (tests join it).

    Examples
    --------
    >>> seen = []
    >>> run_in_thread(lambda: 1 / 0, on_error=lambda e: seen.append(type(e).__name__)).join()
    >>> seen
    ['ZeroDivisionError']
    """

    def main():
        try:
            work(*args)
        except Exception as err:  # the message reaches the user; the arguments (file bytes) are never logged
            on_error(err)

    thread = threading.Thread(target=main, name=name, daemon=True)
    thread.start()
    return thread


class Job(param.Parameterized):
    """Base class: subclasses implement :meth:`_run`, which returns a status line."""

    running = param.Boolean(default=False, doc="Whether a worker thread is running.")
    fraction = param.Number(
        default=0.0, bounds=(0, 1), allow_None=True, doc="The library's progress estimate, 0..1 (None: none yet)."
    )
    status = param.String(default="idle", doc="One line about what the job is doing.")
    error = param.String(default="", doc="Message of the last failure ('' when none).")
    cancelled = param.Boolean(default=False, doc="Whether the last run was cancelled.")
    result_key = param.String(default="", doc="Key of the network the last run produced.")

    def __init__(self, **params):
        super().__init__(**params)
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()

    def start(self) -> bool:
        """Start a run on a worker thread; returns False when one is already running."""
        if self.running:
            return False
        self._cancel = threading.Event()
        self.param.update(running=True, fraction=0.0, error="", cancelled=False, result_key="", status="starting")
        self._thread = threading.Thread(target=self._main, name=type(self).__name__, daemon=True)
        self._thread.start()
        return True

    def cancel(self) -> None:
        """Ask the worker to stop; it keeps the best result so far."""
        if self.running:
            self._cancel.set()
            self.status = "cancelling…"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker ends; returns True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _main(self) -> None:
        try:
            import torch

            if torch.get_num_threads() > TORCH_THREADS:
                torch.set_num_threads(TORCH_THREADS)
            status = self._run(self._cancel)
            self.param.update(status=status, fraction=1.0)
        except Exception as err:  # shown to the user; the traceback goes to the server log
            traceback.print_exc()
            self.param.update(error=f"{type(err).__name__}: {err}", status=f"Error: {err}", fraction=0.0)
        finally:
            self.running = False

    def _run(self, cancel: threading.Event) -> str:  # pragma: no cover - abstract
        raise NotImplementedError
