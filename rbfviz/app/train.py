"""Train view: pick data, K and the schedule (paper §2.2), then train on a worker thread.

:class:`TrainTask` holds the settings and runs :func:`rbfviz.core.train.train_dataset`; its
schedule settings are generated from :class:`rbfviz.core.train.TrainConfig` and its generator
setting from :class:`rbfviz.data.barriers.GeneratorConfig` (:mod:`rbfviz.app.settings`), so the
library's defaults and checks are the only ones.  :class:`TrainView` only shows the task
(settings, Start/Cancel, progress bar, live loss curves).
"""

from __future__ import annotations

import threading
import time

import holoviews as hv
import pandas as pd
import panel as pn
import param
from holoviews.streams import Buffer

from rbfviz.app.jobs import Job, run_in_thread
from rbfviz.app.networks import take_files, upload_widget
from rbfviz.app.settings import build_config, config_params
from rbfviz.app.state import (
    MAX_UPLOAD_BYTES,
    SURFACES,
    AppState,
    UploadError,
    escape_markdown,
    plain_text,
    read_uploaded_dataset,
)
from rbfviz.core.train import TrainConfig
from rbfviz.data.barriers import GeneratorConfig
from rbfviz.viz.charts import CANVAS_BACKEND, log_ticks

# --------------------------------------------------------------------------- constants
DATA_SOURCES = {"Generated Cu barriers": "generated", "Uploaded file": "uploaded"}
UPLOAD_SURFACES = {"from the file": "auto", "(100)": "100", "(110)": "110", "(111)": "111"}
PUBLISH_INTERVAL = 0.25  # s between history updates sent to the page (fast epochs are batched)
TRAIN_FIELDS = (
    "learning_rate",
    "batch_size",
    "weight_decay",
    "lr_factor",
    "patience",
    "cooldown",
    "min_lr",
    "max_epochs",
    "device",
    "seed",
)
GENERATOR_FIELDS = ("relaxed",)
GENERATION_REPORTS = 10  # the generator reports about this often per run (chunk size, not results)
MIN_CHUNK = 4096  # smaller chunks slow the relaxed generator (measured: 2048 ~1.2-1.7x, 512 ~2x slower)


def available_devices() -> list[str]:
    """ "auto" and "cpu", plus "cuda" only where torch sees a GPU."""
    import torch

    return ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])


# --------------------------------------------------------------------------- state
_TrainSettings = param.parameterized_class(
    "TrainSettings",
    {
        **config_params(
            TrainConfig, TRAIN_FIELDS, device=param.Selector(default="auto", objects=["auto", "cpu", "cuda"])
        ),
        **config_params(GeneratorConfig, GENERATOR_FIELDS),
    },
    bases=Job,
)


class TrainTask(_TrainSettings):
    """Settings of one training run and its live progress.

    The schedule parameters (``learning_rate`` … ``seed``) are the fields of
    :class:`~rbfviz.core.train.TrainConfig` with its defaults; ``relaxed`` is
    :attr:`GeneratorConfig.relaxed <rbfviz.data.barriers.GeneratorConfig>`.
    """

    state = param.ClassSelector(class_=AppState, doc="The session's networks; the result is added here.")
    data_source = param.Selector(
        default="generated", objects=["generated", "uploaded"], doc="Where the data comes from."
    )
    surface = param.Selector(default="100", objects=list(SURFACES), doc="Surface of generated data.")
    num_rows = param.Integer(default=10_000, bounds=(1, None), doc="Rows of generated data.")
    data_seed = param.Integer(default=0, bounds=(0, None), doc="Seed of the generated data and of the split.")
    uploaded = param.Parameter(default=None, doc="Dataset read from an uploaded file (None until one is read).")
    uploaded_name = param.String(default="", doc="File name of the uploaded data.")
    upload_surface = param.Selector(
        default="auto",
        objects=list(UPLOAD_SURFACES.values()),
        doc="Surface of the uploaded data: 'auto' reads it from the file name or header; picks a .tgz member.",
    )
    reading = param.Boolean(default=False, doc="Whether an uploaded data file is being read.")
    num_centroids = param.Integer(default=64, bounds=(1, None), doc="K, the number of centroids.")
    config_error = param.String(default="", doc="Why the settings are not a valid TrainConfig ('' when they are).")
    phase = param.Selector(default="", objects=["", "generating", "training"], doc="What the running job does.")
    epoch = param.Integer(default=0, doc="Epochs finished in the current run.")
    lr = param.Number(default=0.0, doc="Learning rate of the last finished epoch.")
    history = param.List(default=[], doc="Per-epoch stats of the current run (dicts), published a few times a second.")
    data_message = param.String(default="", doc="What happened to the last data upload (plain text).")

    def __init__(self, **params):
        super().__init__(**params)
        self.param.device.objects = available_devices()
        self._upload: tuple[str, bytes] | None = None  # kept to re-read a .tgz for another surface
        self._reader: threading.Thread | None = None
        self._check_config()

    # ---- settings
    @param.depends(*TRAIN_FIELDS, watch=True)
    def _check_config(self):
        try:
            self.config()
            self.config_error = ""
        except ValueError as err:
            self.config_error = str(err)

    def config(self) -> TrainConfig:
        """The :class:`TrainConfig` of the current settings (its checks raise ValueError)."""
        return build_config(TrainConfig, self, TRAIN_FIELDS)

    def generator_config(self, num_rows: int | None = None) -> GeneratorConfig:
        """The :class:`GeneratorConfig`; the chunk size only makes progress arrive often."""
        n = num_rows or self.num_rows
        chunk = max(MIN_CHUNK, min(GeneratorConfig.chunk_size, -(-n // GENERATION_REPORTS)))
        return build_config(GeneratorConfig, self, GENERATOR_FIELDS, chunk_size=chunk)

    # ---- data
    def upload_data(self, filename: str, data: bytes) -> bool:
        """Read uploaded barrier data; returns whether it could be used.

        On failure the previous upload is forgotten too (Start then says there is no data,
        instead of training on the previous file), and ``data_message`` says why.
        """
        name = plain_text(filename)
        self._upload = (str(filename), data if isinstance(data, bytes) else str(data).encode())
        surface = None if self.upload_surface == "auto" else self.upload_surface
        try:
            ds = read_uploaded_dataset(filename, data, surface=surface)
        except UploadError as err:
            hint = ""
            if "several" in str(err):
                hint = " Choose its surface under 'Surface of the uploaded file'."
            self.param.update(uploaded=None, uploaded_name="", data_message=f"Error: {err}{hint}")
            return False
        self.param.update(
            uploaded=ds,
            uploaded_name=name,
            data_source="uploaded",
            data_message=f"Loaded {name}: {len(ds.y)} rows, surface {ds.surface or '?'}",
        )
        return True

    def upload_data_in_background(self, filename: str, data: bytes) -> threading.Thread:
        """:meth:`upload_data` on a worker thread, so a large file never blocks the page."""
        self.param.update(reading=True, data_message=f"Reading {plain_text(filename)}…")

        def work():
            try:
                self.upload_data(filename, data)
            finally:
                self.reading = False

        def failed(err):
            self.param.update(uploaded=None, uploaded_name="", reading=False, data_message=f"Error: {err}")

        self._reader = run_in_thread(work, on_error=failed, name="rbfviz-read-data")
        return self._reader

    @param.depends("upload_surface", watch=True)
    def _reread(self):
        if self._upload is not None:
            self.upload_data_in_background(*self._upload)

    def wait_for_upload(self, timeout: float | None = None) -> bool:
        """Block until a background read ends (for tests); returns True when none is running."""
        if self._reader is not None:
            self._reader.join(timeout)
            return not self._reader.is_alive()
        return True

    def _generate(self, cancel: threading.Event):
        from rbfviz.data.barriers import GenerationCancelled, generate_dataset

        start = time.monotonic()

        def progress(report, total=None):  # a progress report, or (done, total) from older generators
            if total is not None:
                fraction, text = (report / total if total else 1.0), f"{report}/{total} rows"
            else:
                fraction, text = report.fraction, report.describe()
            self.param.update(fraction=fraction, status=f"generating ({self.surface}) data: {text}")

        # the bar moves from the start: an animated bar until the generator's first report
        self.param.update(
            phase="generating",
            fraction=None,
            status=f"generating {self.num_rows} rows of ({self.surface}) data…",
        )
        try:
            ds = generate_dataset(
                self.surface,
                self.num_rows,
                seed=self.data_seed,
                config=self.generator_config(),
                progress=progress,
                cancel=cancel,
            )
        except GenerationCancelled:
            return None
        self.status = f"generated {len(ds.y)} rows in {time.monotonic() - start:.1f} s"
        return ds

    def _dataset(self, cancel: threading.Event):
        if self.data_source == "uploaded":
            if self.uploaded is None:
                raise ValueError("no data file uploaded yet; upload a .26d, .tgz or .csv file first")
            return self.uploaded
        return self._generate(cancel)

    def _publish(self, rows: list, stats, **extra) -> None:
        """Send the epochs so far to the page: the status line and the counter use the same count."""
        fraction = getattr(stats, "fraction", None)  # the library's estimate (EpochStats.fraction)
        self.param.update(
            epoch=len(rows),
            lr=stats.lr,
            history=list(rows),
            fraction=fraction,
            status=f"epoch {len(rows)}: train MSE {stats.train_mse:.4f}, val MSE {stats.val_mse:.4f}",
            **extra,
        )

    def _run(self, cancel: threading.Event) -> str:
        from rbfviz.core.train import train_dataset

        self.param.update(epoch=0, lr=0.0, history=[], phase="")
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
                self._publish(rows, stats)

        self.param.update(
            phase="training", fraction=None, status=f"training K={self.num_centroids} on {len(dataset.y)} rows…"
        )
        result = train_dataset(
            dataset, self.num_centroids, config, split_seed=self.data_seed, progress=progress, cancel=cancel
        )
        history = [s.as_dict() for s in result.history] or rows
        model = result.model
        model.metadata["name"] = self.state.unique_name(model.info)
        key = self.state.add(model, "session", dataset=dataset, history=history, save=True)
        self.param.update(
            epoch=len(history),
            lr=history[-1]["lr"] if history else 0.0,
            history=history,
            cancelled=bool(result.cancelled),
            result_key=key,
            phase="",
        )
        rmse = model.info.metrics.get("test_rmse")
        how = "cancelled; kept the best model so far" if result.cancelled else "done"
        rmse_text = f", test RMSE {rmse:.4f} eV" if rmse is not None else ""
        entry = self.state.networks[key]
        if entry.save_error:
            saved = f"kept in this session as {entry.label} but NOT saved ({entry.save_error}); download it below"
        else:
            saved = f"saved as {entry.label}"
        return f"{how}: {len(history)} epochs{rmse_text}; {saved}"


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
        self._lr = pn.pane.Markdown("", css_classes=["rbf-train-counter"])
        self._config_error = pn.pane.Alert("", alert_type="danger", visible=False, css_classes=["rbf-train-config"])
        self._data_message = pn.pane.Markdown("", css_classes=["rbf-data-message"])
        self._data_file = upload_widget("rbf-data-upload", width=290)
        self._data_file.param.watch(self._on_data_file, "value")
        self._download = pn.widgets.FileDownload(
            callback=self._download_result,
            filename="network.safetensors",
            label="Download the unsaved network",
            button_type="danger",
            visible=False,
            css_classes=["rbf-train-download"],
        )
        self._buffer = Buffer(pd.DataFrame({"epoch": [], "train_mse": [], "val_mse": []}), length=100_000, index=False)
        self._sent = 0
        self._live = self._live_curves()
        self._plot = pn.pane.HoloViews(
            self._live, sizing_mode="stretch_width", height=340, css_classes=["rbf-train-plot"]
        )
        t.param.watch(
            self._on_progress,
            ["fraction", "status", "lr", "epoch", "running", "error", "data_message", "config_error", "reading"],
        )
        t.param.watch(self._on_history, "history")
        t.param.watch(self._on_running, "running")
        self._on_progress()

    def _live_curves(self):
        """Train and validation MSE from one Buffer, drawn together so neither lags the other."""

        def curves(data):
            train = hv.Curve(data, "epoch", ("train_mse", "MSE"), label="train").opts(color="#1f77b4", line_width=2)
            val = hv.Curve(data, "epoch", ("val_mse", "MSE"), label="validation").opts(color="#d62728", line_width=2)
            ticks = log_ticks([*data["train_mse"], *data["val_mse"]])
            return (train * val).opts(yticks=ticks) if ticks else train * val

        return hv.DynamicMap(curves, streams=[self._buffer]).opts(
            logy=True,
            framewise=True,
            ylabel="MSE (standardised)",
            title="Training (live)",
            legend_position="top_right",
            responsive=True,
            min_height=300,
            backend_opts=CANVAS_BACKEND,
        )

    def final_chart(self):
        """The library's training curves of the last run."""
        from rbfviz.viz.charts import training_curves

        return training_curves(self.task.history, title="Training curves")

    def _on_running(self, event):
        t = self.task
        if event.new:
            self._plot.object = self._live
        elif t.history:
            try:
                self._plot.object = self.final_chart()
            except Exception:  # keep the live plot if the library chart cannot be drawn
                pass

    def _on_data_file(self, event):
        for name, data in take_files(self._data_file):
            self.task.upload_data_in_background(name, data)

    def _download_result(self):
        """The last run's network as a file; on failure the status says why and nothing downloads."""
        t = self.task
        key = t.result_key
        if not key or key not in t.state.networks:
            return None
        self._download.filename = t.state.file_name(key)
        try:
            return t.state.download(key)
        except Exception as err:
            t.status = f"Error: could not write the model file: {type(err).__name__}: {plain_text(err, 300)}"
            return None

    def _on_progress(self, *events):
        t = self.task
        if t.running and t.fraction is None:
            self._progress.value = None  # animated: working, no estimate yet
        else:
            self._progress.value = int(round(1000 * (t.fraction or 0.0)))
        self._status.object = escape_markdown(t.status) if not t.error else f"**Error:** {escape_markdown(t.error)}"
        self._lr.object = f"current LR: {t.lr:.2e} · epochs done: {t.epoch}" if t.lr else ""
        self._start.disabled = t.running or bool(t.config_error) or t.reading
        self._cancel.disabled = not t.running
        self._config_error.object = escape_markdown(t.config_error)
        self._config_error.visible = bool(t.config_error)
        self._data_message.object = escape_markdown(t.data_message)
        entry = t.state.networks.get(t.result_key) if t.result_key else None
        self._download.visible = bool(entry is not None and entry.save_error and not t.running)
        if self._download.visible:
            self._download.filename = t.state.file_name(t.result_key)

    def _on_history(self, event):
        rows = event.new
        if len(rows) < self._sent or not rows:
            self._buffer.clear()
            self._sent = 0
        new = rows[self._sent :]
        if new:
            self._buffer.send(pd.DataFrame(new)[["epoch", "train_mse", "val_mse"]])
            self._sent = len(rows)

    def __panel__(self):
        t = self.task
        w = pn.widgets
        limit = MAX_UPLOAD_BYTES // 2**20
        data = pn.Card(
            w.RadioButtonGroup.from_param(
                t.param.data_source, options=DATA_SOURCES, name="Data", css_classes=["rbf-data-source"]
            ),
            w.Select.from_param(t.param.surface, name="Surface (generated)", css_classes=["rbf-surface"]),
            w.IntInput.from_param(t.param.num_rows, name="Rows (generated)", step=1000, css_classes=["rbf-rows"]),
            w.IntInput.from_param(t.param.data_seed, name="Data seed"),
            w.Checkbox.from_param(t.param.relaxed, name="Relaxed barriers (generated)"),
            pn.pane.Markdown(f"Or upload barrier data (.26d, .26d.gz, .tgz by surface, .csv; ≤ {limit} MB):"),
            self._data_file,
            w.Select.from_param(
                t.param.upload_surface,
                options=UPLOAD_SURFACES,
                name="Surface of the uploaded file",
                css_classes=["rbf-upload-surface"],
            ),
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
            w.IntInput.from_param(
                t.param.max_epochs, name="Max epochs (empty = no cap)", css_classes=["rbf-max-epochs"]
            ),
            w.Select.from_param(t.param.device, name="Device"),
            w.IntInput.from_param(t.param.seed, name="Seed"),
            self._config_error,
            title="Network and schedule (paper defaults)",
            collapsible=False,
            width=320,
        )
        run = pn.Column(
            pn.Row(self._start, self._cancel),
            self._progress,
            self._status,
            self._lr,
            self._download,
            self._plot,
            sizing_mode="stretch_width",
        )
        return pn.Row(pn.Column(data, schedule), run, sizing_mode="stretch_width")
