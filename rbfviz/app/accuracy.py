"""Accuracy view: a sweep's Table 1 and Figure 3 (paper §3.2.1), and a small sweep started here.

:class:`SweepTask` runs :func:`rbfviz.sweep.run_sweep` on a worker thread (an in-process Dask
cluster of one worker, so the server stays responsive) with progress and cancel; the sweep is
kept in ``<workspace>/sweeps/<name>/``, so a cancelled or repeated sweep resumes.  Sweeps made
with ``rbfviz sweep`` into that folder are listed too.  :class:`AccuracyView` shows either.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pandas as pd
import panel as pn
import param

from rbfviz.app.jobs import Job
from rbfviz.app.state import AppState

# --------------------------------------------------------------------------- constants
SWEEPS_FOLDER = "sweeps"  # inside the workspace
_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


def sweeps_dir(state: AppState) -> Path:
    return state.workspace.path / SWEEPS_FOLDER


def list_sweeps(state: AppState) -> list[str]:
    """Names of the sweeps in the workspace that have a results table."""
    root = sweeps_dir(state)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "results.parquet").is_file() or (p / "results.csv").is_file())


def parse_ks(text: str) -> list[int]:
    """``"8 16, 32"`` → [8, 16, 32]; a clear error otherwise.

    >>> parse_ks("8 16, 32")
    [8, 16, 32]
    """
    try:
        ks = [int(t) for t in re.split(r"[\s,]+", text.strip()) if t]
    except ValueError:
        raise ValueError(f"K values must be whole numbers separated by spaces or commas; got {text!r}") from None
    if not ks or any(k < 1 or k > 4096 for k in ks):
        raise ValueError(f"K values must be between 1 and 4096; got {text!r}")
    return ks


# --------------------------------------------------------------------------- state
class SweepTask(Job):
    """A small sweep's settings, its progress, and the table of the sweep shown."""

    state = param.ClassSelector(class_=AppState, doc="The session (its workspace holds the sweeps).")
    sweep_name = param.String(default="small", doc="Sweep name: its folder in <workspace>/sweeps.")
    surfaces = param.ListSelector(default=["100", "110"], objects=["100", "110", "111"], doc="Surfaces.")
    ks = param.String(default="8 32", doc="Centroid counts K, separated by spaces.")
    splits = param.Integer(default=2, bounds=(1, 10), doc="Random splits per cell.")
    num_rows = param.Integer(default=2000, bounds=(100, 500_000), doc="Generated rows per surface.")
    max_epochs = param.Integer(default=10, bounds=(0, None), doc="Cap on RBFN epochs; 0 = the paper's schedule.")
    baselines = param.ListSelector(default=["xgboost"], objects=["xgboost", "dnn"], doc="Baselines on the same splits.")
    table = param.DataFrame(default=None, allow_None=True, doc="Results of the sweep shown (one row per cell).")

    @property
    def folder(self) -> Path:
        name = _SAFE.sub("-", self.sweep_name).strip("-") or "small"
        return sweeps_dir(self.state) / name

    def load(self, name: str | None = None) -> None:
        """Show the sweep ``name`` (default: this task's) from its results table."""
        from rbfviz.sweep.tables import read_results

        if name:
            self.sweep_name = name
        self.table = read_results(self.folder)
        self.status = f"{len(self.table)} cells of sweep '{self.folder.name}'"

    def _run(self, cancel: threading.Event) -> str:
        from dataclasses import replace

        from distributed import Client, LocalCluster

        from rbfviz.core.train import TrainConfig
        from rbfviz.sweep import SweepCancelled, SweepConfig, run_sweep

        if not self.surfaces:
            raise ValueError("choose at least one surface")
        ks = parse_ks(self.ks)
        config = SweepConfig(train=TrainConfig(max_epochs=self.max_epochs or None, device="cpu"), torch_threads=1)
        dnn_epochs = max(self.max_epochs, 5) if self.max_epochs else 300
        config = replace(config, dnn=replace(config.dnn, max_epochs=dnn_epochs))

        def progress(report):
            self.param.update(fraction=report.fraction, status=f"sweep '{self.folder.name}': {report.describe()}")

        with (
            LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
            Client(cluster) as client,
        ):
            try:
                table = run_sweep(
                    self.folder,
                    surfaces=list(self.surfaces),
                    ks=ks,
                    splits=self.splits,
                    n_rows=self.num_rows,
                    baselines=tuple(self.baselines),
                    client=client,
                    progress=progress,
                    cancel=cancel,
                    config=config,
                )
            except SweepCancelled as exc:
                self.cancelled = True
                return f"Cancelled: {exc}"
        self.table = table
        return f"{len(table)} cells ({table.attrs.get('computed', 0)} computed now) in sweep '{self.folder.name}'"


# --------------------------------------------------------------------------- view
class AccuracyView(pn.viewable.Viewer):
    """Table 1 and Figure 3 of a sweep; settings, Start/Cancel and progress of a small one."""

    state = param.ClassSelector(class_=AppState, doc="The session.")

    def __init__(self, **params):
        super().__init__(**params)
        self.task = t = SweepTask(state=self.state)
        self._start = pn.widgets.Button(name="Start sweep", button_type="primary", css_classes=["rbf-sweep-start"])
        self._cancel = pn.widgets.Button(
            name="Cancel", button_type="warning", disabled=True, css_classes=["rbf-sweep-cancel"]
        )
        self._start.on_click(lambda _: t.start())
        self._cancel.on_click(lambda _: t.cancel())
        self._progress = pn.indicators.Progress(value=0, max=1000, width=400, css_classes=["rbf-sweep-progress"])
        self._status = pn.pane.Markdown("idle", css_classes=["rbf-sweep-status"])
        self._existing = pn.widgets.Select(name="Sweeps in the workspace", options=list_sweeps(self.state))
        self._open = pn.widgets.Button(name="Show", css_classes=["rbf-sweep-open"])
        self._open.on_click(self._on_open)
        self._table = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, css_classes=["rbf-table1"])
        self._figure = pn.pane.HoloViews(None, sizing_mode="stretch_width", css_classes=["rbf-figure3"])
        t.param.watch(self._on_progress, ["fraction", "status", "running", "error"])
        t.param.watch(self._on_table, "table")
        self._on_progress()

    def _on_open(self, _=None):
        if self._existing.value:
            try:
                self.task.load(self._existing.value)
            except (OSError, ValueError) as exc:
                self.task.error = str(exc)

    def _on_progress(self, *events):
        t = self.task
        self._progress.value = int(round(1000 * t.fraction))
        self._status.object = t.status if not t.error else f"**Error:** {t.error}"
        self._start.disabled = t.running
        self._cancel.disabled = not t.running
        if events and any(e.name == "running" and not e.new for e in events):
            self._existing.options = list_sweeps(self.state)

    def _on_table(self, event):
        from rbfviz.sweep.tables import figure3_chart, table1

        table = event.new
        if table is None or not len(table):
            self._table.value, self._figure.object = pd.DataFrame(), None
            return
        t1 = table1(table)
        self._table.value = t1.round(5)
        self._figure.object = figure3_chart(table)

    def __panel__(self):
        t = self.task
        w = pn.widgets
        settings = pn.Card(
            w.TextInput.from_param(t.param.sweep_name, name="Sweep name"),
            w.CheckButtonGroup.from_param(t.param.surfaces, name="Surfaces"),
            w.TextInput.from_param(t.param.ks, name="K values", css_classes=["rbf-sweep-ks"]),
            w.IntInput.from_param(t.param.splits, name="Splits"),
            w.IntInput.from_param(t.param.num_rows, name="Rows per surface", step=1000),
            w.IntInput.from_param(t.param.max_epochs, name="Max epochs (0 = paper's schedule)"),
            w.CheckButtonGroup.from_param(t.param.baselines, name="Baselines"),
            pn.Row(self._start, self._cancel),
            title="Small sweep",
            collapsible=False,
            width=340,
        )
        shown = pn.Card(self._existing, self._open, title="Open a sweep", collapsible=False, width=340)
        return pn.Row(
            pn.Column(settings, shown),
            pn.Column(
                self._progress,
                self._status,
                pn.pane.Markdown("#### Table 1: test RMSE (eV), mean ± s.d. over splits"),
                self._table,
                self._figure,
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )
