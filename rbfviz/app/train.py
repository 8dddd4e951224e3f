"""Train view: pick data, K and the schedule (paper §2.2), then train on a worker thread.

:class:`TrainTask` holds the settings and runs :func:`rbfviz.train.train_dataset`;
:class:`TrainView` only shows it (settings, Start/Cancel, progress bar, live loss curves).
"""

from __future__ import annotations

import threading
import time

import holoviews as hv
import pandas as pd
import panel as pn
import param
from holoviews.streams import Buffer

from rbfviz.app.jobs import Job
from rbfviz.app.state import AppState, UploadError, read_uploaded_dataset

# --------------------------------------------------------------------------- constants
DATA_SOURCES = {"Generated Cu barriers": "generated", "Uploaded file": "uploaded"}
PUBLISH_INTERVAL = 0.25  # s between history updates sent to the page (fast epochs are batched)
SCHEDULE_PARAMS = [
    "learning_rate",
    "batch_size",
    "weight_decay",
    "lr_factor",
    "patience",
    "cooldown",
    "min_lr",
    "max_epochs",
]


def available_devices() -> list[str]:
    """ "auto" and "cpu", plus "cuda" only where torch sees a GPU."""
    import torch

    return ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])


# --------------------------------------------------------------------------- state
class TrainTask(Job):
    """Settings of one training run and its live progress."""

    state = param.ClassSelector(class_=AppState, doc="The session's networks; the result is added here.")
    data_source = param.Selector(
        default="generated", objects=["generated", "uploaded"], doc="Where the data comes from."
    )
    surface = param.Selector(default="100", objects=["100", "110", "111"], doc="Surface of generated data.")
    num_rows = param.Integer(default=10_000, bounds=(200, 500_000), doc="Rows of generated data.")
    data_seed = param.Integer(default=0, bounds=(0, None), doc="Seed of the generated data and of the split.")
    uploaded = param.Parameter(default=None, doc="Dataset read from an uploaded file (None until one is uploaded).")
    uploaded_name = param.String(default="", doc="File name of the uploaded data.")
    num_centroids = param.Integer(default=64, bounds=(1, 4096), doc="K, the number of centroids.")
    learning_rate = param.Number(
        default=1e-2, bounds=(0, None), inclusive_bounds=(False, True), doc="Initial Adam learning rate."
    )
    batch_size = param.Integer(default=64, bounds=(1, None), doc="Minibatch size.")
    weight_decay = param.Number(default=1e-5, bounds=(0, None), doc="L2 weight decay.")
    lr_factor = param.Number(default=0.1, bounds=(0, 1), inclusive_bounds=(False, False), doc="Plateau LR factor.")
    patience = param.Integer(default=10, bounds=(0, None), doc="Plateau patience (epochs).")
    cooldown = param.Integer(default=10, bounds=(0, None), doc="Plateau cooldown (epochs).")
    min_lr = param.Number(
        default=1e-4, bounds=(0, None), inclusive_bounds=(False, True), doc="Training stops below this LR."
    )
    max_epochs = param.Integer(default=0, bounds=(0, None), doc="Cap on epochs; 0 = no cap (paper default).")
    device = param.Selector(default="auto", objects=["auto", "cpu"], doc="Where to train.")
    seed = param.Integer(default=0, bounds=(0, None), doc="Seed of the initialisation and minibatch order.")
    epoch = param.Integer(default=0, doc="Last finished epoch.")
    lr = param.Number(default=0.0, doc="Current learning rate.")
    history = param.List(default=[], doc="Per-epoch stats of the current run (dicts), published a few times a second.")
    data_message = param.String(default="", doc="What happened to the last data upload.")

    def __init__(self, **params):
        super().__init__(**params)
        self.param.device.objects = available_devices()

    # ---- data
    def upload_data(self, filename: str, data: bytes) -> bool:
        """Read uploaded barrier data; on failure only ``data_message`` changes."""
        try:
            ds = read_uploaded_dataset(filename, data)
        except UploadError as err:
            self.data_message = f"Error: {err}"
            return False
        self.param.update(
            uploaded=ds,
            uploaded_name=str(filename),
            data_source="uploaded",
            data_message=f"Loaded {filename}: {len(ds.y)} rows, surface {ds.surface or '?'}",
        )
        return True

    def config(self):
        from rbfviz.core.train import TrainConfig

        return TrainConfig(
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            weight_decay=self.weight_decay,
            lr_factor=self.lr_factor,
            patience=self.patience,
            cooldown=self.cooldown,
            min_lr=self.min_lr,
            max_epochs=self.max_epochs or None,
            device=self.device,
            seed=self.seed,
        )

    def _dataset(self, cancel: threading.Event):
        if self.data_source == "uploaded":
            if self.uploaded is None:
                raise ValueError("no data file uploaded yet; upload a .26d, .tgz or .csv file first")
            return self.uploaded
        from rbfviz.data.barriers import GenerationCancelled, generate_dataset

        def progress(report):  # a core.progress.StepProgress of rows
            self.status = f"generating ({self.surface}) data: {report.done}/{report.total} rows…"

        self.status = f"generating {self.num_rows} rows of ({self.surface}) data…"
        try:
            return generate_dataset(self.surface, self.num_rows, seed=self.data_seed, progress=progress, cancel=cancel)
        except GenerationCancelled:
            return None

    def progress_fraction(self, epoch: int, lr: float) -> float:
        """Epochs done over the cap, or (without a cap) how far the LR has fallen towards ``min_lr``."""
        import math

        if self.max_epochs:
            return min(epoch / self.max_epochs, 1.0)
        span = math.log(self.learning_rate / self.min_lr) if self.learning_rate > self.min_lr else 1.0
        return min(
            max(math.log(self.learning_rate / max(lr, 1e-30)) / (span + math.log(1 / self.lr_factor)), 0.0), 0.99
        )

    def _run(self, cancel: threading.Event) -> str:
        from rbfviz.core.train import train_dataset

        self.param.update(epoch=0, lr=self.learning_rate, history=[])
        config = self.config()
        dataset = self._dataset(cancel)
        if dataset is None or cancel.is_set():
            self.cancelled = True
            return "cancelled before training started"
        rows, last = [], [0.0]

        def progress(stats):
            rows.append(stats.as_dict())
            now = time.monotonic()
            if now - last[0] >= PUBLISH_INTERVAL:
                last[0] = now
                self.param.update(
                    epoch=len(rows),
                    lr=stats.lr,
                    history=list(rows),
                    fraction=self.progress_fraction(stats.epoch, stats.lr),
                    status=f"epoch {stats.epoch}: train MSE {stats.train_mse:.4f}, val MSE {stats.val_mse:.4f}",
                )

        self.status = f"training K={self.num_centroids} on {len(dataset.y)} rows…"
        result = train_dataset(
            dataset, self.num_centroids, config, split_seed=self.data_seed, progress=progress, cancel=cancel
        )
        history = [s.as_dict() for s in result.history] or rows
        key = self.state.add(result.model, "session", dataset=dataset, history=history, save=True)
        last_stats = result.history[-1] if result.history else None
        self.param.update(
            epoch=len(history),
            lr=last_stats.lr if last_stats else self.lr,
            history=history,
            cancelled=bool(result.cancelled),
            result_key=key,
        )
        rmse = (result.model.metadata.get("metrics") or {}).get("test_rmse")
        how = "cancelled; kept the best model so far" if result.cancelled else "done"
        rmse_text = f", test RMSE {rmse:.4f} eV" if rmse is not None else ""
        return f"{how}: {len(history)} epochs{rmse_text}; saved as {self.state.networks[key].label}"


# --------------------------------------------------------------------------- view
class TrainView(pn.viewable.Viewer):
    """Settings, Start/Cancel, progress bar and live train/val curves of a :class:`TrainTask`."""

    task = param.ClassSelector(class_=TrainTask, doc="The training run shown here.")

    def __init__(self, **params):
        super().__init__(**params)
        t = self.task
        self._start = pn.widgets.Button(name="Start training", button_type="primary", css_classes=["rbf-train-start"])
        self._cancel = pn.widgets.Button(
            name="Cancel", button_type="warning", disabled=True, css_classes=["rbf-train-cancel"]
        )
        self._start.on_click(lambda _: t.start())
        self._cancel.on_click(lambda _: t.cancel())
        self._progress = pn.indicators.Progress(value=0, max=1000, width=400, css_classes=["rbf-train-progress"])
        self._status = pn.pane.Markdown("idle", css_classes=["rbf-train-status"])
        self._lr = pn.pane.Markdown("")
        self._data_message = pn.pane.Markdown("", css_classes=["rbf-data-message"])
        self._data_file = pn.widgets.FileInput(accept=".26d,.gz,.tgz,.csv,.txt", css_classes=["rbf-data-upload"])
        self._data_file.param.watch(self._on_data_file, "value")
        self._buffers = {
            k: Buffer(pd.DataFrame({"epoch": [], k: []}), length=100_000, index=False) for k in ("train_mse", "val_mse")
        }
        self._sent = 0
        self._live = self._live_curves()
        self._plot = pn.pane.HoloViews(
            self._live, sizing_mode="stretch_width", height=340, css_classes=["rbf-train-plot"]
        )
        t.param.watch(self._on_progress, ["fraction", "status", "lr", "running", "error", "data_message"])
        t.param.watch(self._on_history, "history")
        t.param.watch(self._on_running, "running")
        self._on_progress()

    def _live_curves(self):
        """Train and validation MSE streamed from one Buffer each (the final plot comes from rbfviz.viz.charts)."""
        curves = []
        for key, label, color in (("train_mse", "train", "#1f77b4"), ("val_mse", "validation", "#d62728")):

            def curve(data, key=key, label=label, color=color):
                return hv.Curve(data, "epoch", (key, "MSE"), label=label).opts(color=color, line_width=2)

            curves.append(hv.DynamicMap(curve, streams=[self._buffers[key]]))
        return (curves[0] * curves[1]).opts(
            logy=True,
            framewise=True,
            ylabel="MSE (standardised)",
            title="Training (live)",
            legend_position="top_right",
            responsive=True,
            min_height=300,
        )

    def _on_running(self, event):
        t = self.task
        if event.new:
            self._plot.object = self._live
        elif t.history:
            try:
                from rbfviz.viz.charts import training_curves

                self._plot.object = training_curves(t.history, title="Training curves")
            except Exception:  # keep the live plot if the library chart cannot be drawn
                pass

    def _on_data_file(self, event):
        if event.new:
            self.task.upload_data(self._data_file.filename, event.new)

    def _on_progress(self, *events):
        t = self.task
        self._progress.value = int(round(1000 * t.fraction))
        self._status.object = t.status if not t.error else f"**Error:** {t.error}"
        self._lr.object = f"current LR: {t.lr:.2e} · epochs done: {t.epoch}" if t.lr else ""
        self._start.disabled = t.running
        self._cancel.disabled = not t.running
        self._data_message.object = t.data_message

    def _on_history(self, event):
        rows = event.new
        if len(rows) < self._sent or not rows:
            for buf in self._buffers.values():
                buf.clear()
            self._sent = 0
        new = rows[self._sent :]
        if new:
            df = pd.DataFrame(new)
            for key, buf in self._buffers.items():
                buf.send(df[["epoch", key]])
            self._sent = len(rows)

    def __panel__(self):
        t = self.task
        w = pn.widgets
        data = pn.Card(
            w.RadioButtonGroup.from_param(
                t.param.data_source, options=DATA_SOURCES, name="Data", css_classes=["rbf-data-source"]
            ),
            w.Select.from_param(t.param.surface, name="Surface (generated)", css_classes=["rbf-surface"]),
            w.IntInput.from_param(t.param.num_rows, name="Rows (generated)", step=1000, css_classes=["rbf-rows"]),
            w.IntInput.from_param(t.param.data_seed, name="Data seed"),
            pn.pane.Markdown("Or upload barrier data (.26d, .26d.gz, .tgz by surface, .csv; ≤ 50 MB):"),
            self._data_file,
            self._data_message,
            title="Data",
            collapsible=False,
            width=320,
        )
        schedule = pn.Card(
            w.IntInput.from_param(t.param.num_centroids, name="K (centroids)", css_classes=["rbf-k"]),
            w.FloatInput.from_param(t.param.learning_rate, name="Learning rate"),
            w.IntInput.from_param(t.param.batch_size, name="Batch size"),
            w.FloatInput.from_param(t.param.weight_decay, name="Weight decay"),
            w.FloatInput.from_param(t.param.lr_factor, name="LR factor on plateau"),
            w.IntInput.from_param(t.param.patience, name="Patience"),
            w.IntInput.from_param(t.param.cooldown, name="Cooldown"),
            w.FloatInput.from_param(t.param.min_lr, name="Minimum LR (stop)"),
            w.IntInput.from_param(t.param.max_epochs, name="Max epochs (0 = no cap)", css_classes=["rbf-max-epochs"]),
            w.Select.from_param(t.param.device, name="Device"),
            w.IntInput.from_param(t.param.seed, name="Seed"),
            title="Network and schedule (paper defaults)",
            collapsible=False,
            width=320,
        )
        run = pn.Column(
            pn.Row(self._start, self._cancel),
            self._progress,
            self._status,
            self._lr,
            self._plot,
            sizing_mode="stretch_width",
        )
        return pn.Row(pn.Column(data, schedule), run, sizing_mode="stretch_width")
