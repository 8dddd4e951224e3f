"""Networks view: the table of networks known to the session, model upload, rename, download and delete.

Bundled networks (package data) are read-only; networks trained, pruned or uploaded in the
app live in the workspace folder and can be renamed and deleted.  All logic is in
:class:`rbfviz.app.state.AppState`; uploads are read on a worker thread so a large file never
blocks the page, and the browser refuses files over the size limit before sending them.
"""

from __future__ import annotations

import threading

import panel as pn
import param

from rbfviz.app.jobs import run_in_thread
from rbfviz.app.state import MAX_UPLOAD_BYTES, AppState, UploadError, escape_markdown, plain_text

# --------------------------------------------------------------------------- constants
UPLOAD_EXTENSIONS = ("filedropper",)  # Panel extensions the upload widget needs (loaded by create_app)
UPLOAD_CHUNK_BYTES = 4 * 2**20  # uploads travel in chunks well under the websocket message limit


def upload_widget(css_class: str, width: int = 420) -> pn.widgets.FileDropper:
    """A file drop area that refuses files over :data:`MAX_UPLOAD_BYTES` in the browser, with a message.

    No file-type filter in the browser: browsers give ``.safetensors`` and ``.26d`` files no MIME
    type, which a type filter would refuse; the server checks the suffix and the content.
    """
    return pn.widgets.FileDropper(
        max_file_size=f"{MAX_UPLOAD_BYTES // 2**20}MB",
        chunk_size=UPLOAD_CHUNK_BYTES,
        multiple=False,
        width=width,
        css_classes=[css_class],
    )


def take_files(widget: pn.widgets.FileDropper) -> list[tuple[str, bytes]]:
    """(name, data) of the files a FileDropper holds, emptied afterwards (the session keeps no copy).

    FileDropper changes its ``value`` dict in place, so a watcher cannot tell new files from old
    ones by comparing ``event.old`` and ``event.new``; taking them out leaves only new ones.
    """
    files = list((widget.value or {}).items())
    if files:
        widget.value = {}
    return files


class NetworksView(pn.viewable.Viewer):
    """A table of :attr:`AppState.networks` with upload, rename, download and delete."""

    state = param.ClassSelector(class_=AppState, doc="The session's networks.")

    def __init__(self, **params):
        super().__init__(**params)
        self._table = pn.widgets.Tabulator(
            self.state.table(),
            disabled=True,
            selectable=1,
            show_index=False,
            sizing_mode="stretch_width",
            hidden_columns=["key"],
            max_height=420,
            css_classes=["rbf-networks-table"],
        )
        self._table.param.watch(self._on_select, "selection")
        self._upload = upload_widget("rbf-model-upload")
        self._upload.param.watch(self._on_upload, "value")
        self._reader: threading.Thread | None = None
        self._delete = pn.widgets.Button(name="Delete selected", button_type="danger", css_classes=["rbf-delete"])
        self._delete.on_click(self._on_delete)
        self._name = pn.widgets.TextInput(name="Name", placeholder="select a network", css_classes=["rbf-rename-text"])
        self._rename = pn.widgets.Button(name="Rename", css_classes=["rbf-rename"])
        self._rename.on_click(self._on_rename)
        self._download = pn.widgets.FileDownload(
            callback=self._download_selected,
            filename="network.safetensors",
            label="Download selected",
            disabled=True,
            css_classes=["rbf-download"],
        )
        self._message = pn.pane.Alert("", alert_type="info", visible=False, css_classes=["rbf-networks-message"])
        self._problems = pn.pane.Alert("", alert_type="warning", visible=False, css_classes=["rbf-networks-problems"])
        self.state.param.watch(self._refresh, "networks")
        self.state.param.watch(self._show_message, "message")
        self.state.param.watch(self._show_problems, ["load_errors", "problems"])
        self._show_message()
        self._show_problems()

    # ---- selection
    def selected_key(self) -> str | None:
        rows = self._table.selection
        if not rows or rows[0] >= len(self._table.value):
            return None
        return str(self._table.value.iloc[rows[0]]["key"])

    def _on_select(self, *events):
        key = self.selected_key()
        entry = self.state.networks.get(key) if key else None
        self._download.disabled = entry is None
        self._rename.disabled = entry is None or entry.read_only
        if entry is not None:
            self._download.filename = self.state.file_name(key)
            self._name.value = entry.name

    def _refresh(self, *events):
        key = self.selected_key()
        self._table.value = self.state.table()
        keys = list(self._table.value["key"])
        self._table.selection = [keys.index(key)] if key in keys else []
        self._on_select()

    # ---- messages (plain text from the state, escaped here)
    def _show_message(self, *events):
        msg = self.state.message
        self._message.object = escape_markdown(msg)
        self._message.alert_type = "danger" if msg.startswith("Error") else "success"
        self._message.visible = bool(msg)

    def _show_problems(self, *events):
        lines = [f"- could not load {escape_markdown(e)}" for e in self.state.load_errors]
        lines += [f"- {escape_markdown(p)}" for p in self.state.problems]
        self._problems.object = "**Some files could not be used fully:**\n\n" + "\n".join(lines) if lines else ""
        self._problems.visible = bool(lines)

    # ---- actions
    def _on_upload(self, event):
        for name, data in take_files(self._upload):
            self.upload_in_background(name, data)

    def upload_in_background(self, filename: str, data) -> threading.Thread:
        """Read and add an uploaded model on a worker thread; the outcome goes to ``state.message``."""
        self.state.message = f"Reading {plain_text(filename)}…"

        def work():
            try:
                self.state.upload_model(filename, data)
            except UploadError as err:
                self.state.message = f"Error: {err}"

        def failed(err):
            self.state.message = f"Error: {plain_text(filename)}: {type(err).__name__}: {plain_text(err, 300)}"

        self._reader = run_in_thread(work, on_error=failed, name="rbfviz-read-model")
        return self._reader

    def wait_for_upload(self, timeout: float | None = None) -> bool:
        """Block until a background read ends (for tests); returns True when none is running."""
        if self._reader is not None:
            self._reader.join(timeout)
            return not self._reader.is_alive()
        return True

    def _download_selected(self):
        """The selected network's file; on failure a message and no file (never a 0-byte download)."""
        key = self.selected_key()
        if key is None or key not in self.state.networks:
            self.state.message = "Error: select a network in the table first"
            return None
        try:
            return self.state.download(key)
        except Exception as err:
            self.state.message = f"Error: could not write the model file: {type(err).__name__}: {plain_text(err, 300)}"
            return None

    def _on_rename(self, event):
        key = self.selected_key()
        if key is None:
            self.state.message = "Error: select a network in the table first"
            return
        try:
            self.state.rename(key, self._name.value)
        except (ValueError, PermissionError, KeyError) as err:
            self.state.message = f"Error: {err}"
            return
        entry = self.state.networks[key]
        note = f" (not saved: {entry.save_error})" if entry.save_error else ""
        self.state.message = ("Error: " if note else "") + f"Renamed to {entry.name}{note}"

    def _on_delete(self, event):
        key = self.selected_key()
        if key is None:
            self.state.message = "Error: select a network in the table first"
            return
        try:
            label = self.state.entry(key).label
            self.state.remove(key)
            self._table.selection = []
            self.state.message = f"Deleted {label}"
        except (PermissionError, KeyError, OSError) as err:
            self.state.message = f"Error: {err}"

    def __panel__(self):
        limit = MAX_UPLOAD_BYTES // 2**20
        return pn.Column(
            pn.pane.Markdown(
                "### Networks\nBundled networks are read-only; networks made or uploaded here are saved "
                f"to the workspace {escape_markdown(self.state.workspace.path)}. Losses are in eV: "
                "test RMSE, and the pruning RMSE √(eq. 5) against the network it was pruned from."
            ),
            self._problems,
            self._table,
            pn.Row(
                pn.Column(
                    pn.pane.Markdown(
                        f"**Upload a model** (rbfviz .safetensors or the reference gzip state dict, ≤ {limit} MB)"
                    ),
                    self._upload,
                ),
                pn.Column(self._name, pn.Row(self._rename, self._download, self._delete)),
            ),
            self._message,
            sizing_mode="stretch_width",
        )
