"""Networks view: the table of networks known to the session, model upload and delete.

Bundled networks (``assets/models``) are read-only; networks trained, pruned or uploaded in the
app live in the workspace folder and can be deleted.  All logic is in :class:`rbfviz.app.state.AppState`.
"""

from __future__ import annotations

import panel as pn
import param

from rbfviz.app.state import MAX_UPLOAD_BYTES, AppState, UploadError


class NetworksView(pn.viewable.Viewer):
    """A table of :attr:`AppState.networks` with upload and delete."""

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
        self._upload = pn.widgets.FileInput(accept=".safetensors,.gz,.pt,.pth,.bin", css_classes=["rbf-model-upload"])
        self._upload.param.watch(self._on_upload, "value")
        self._delete = pn.widgets.Button(name="Delete selected", button_type="danger", css_classes=["rbf-delete"])
        self._delete.on_click(self._on_delete)
        self._message = pn.pane.Alert("", alert_type="info", visible=False, css_classes=["rbf-networks-message"])
        self.state.param.watch(self._refresh, "networks")
        self.state.param.watch(self._show_message, "message")
        if self.state.load_errors:
            self.state.message = "Error: some files could not be loaded: " + "; ".join(self.state.load_errors)
        self._show_message()

    def _refresh(self, *events):
        self._table.value = self.state.table()

    def _show_message(self, *events):
        msg = self.state.message
        self._message.object = msg
        self._message.alert_type = "danger" if msg.startswith("Error") else "success"
        self._message.visible = bool(msg)

    def _on_upload(self, event):
        if not event.new:
            return
        try:
            self.state.upload_model(self._upload.filename, event.new)
        except UploadError as err:
            self.state.message = f"Error: {err}"

    def _on_delete(self, event):
        rows = self._table.selection
        if not rows:
            self.state.message = "Error: select a network in the table first"
            return
        key = self._table.value.iloc[rows[0]]["key"]
        try:
            label = self.state.entry(key).label
            self.state.remove(key)
            self._table.selection = []
            self.state.message = f"Deleted {label}"
        except (PermissionError, KeyError) as err:
            self.state.message = f"Error: {err}"

    def __panel__(self):
        limit = MAX_UPLOAD_BYTES // 2**20
        return pn.Column(
            pn.pane.Markdown(
                "### Networks\nBundled networks are read-only; networks made or uploaded here are saved "
                f"to the workspace `{self.state.workspace.path}`."
            ),
            self._table,
            pn.Row(
                pn.Column(
                    pn.pane.Markdown(
                        f"**Upload a model** (rbfviz .safetensors or the reference gzip state dict, ≤ {limit} MB)"
                    ),
                    self._upload,
                ),
                pn.Column(pn.pane.Markdown("&nbsp;"), self._delete),
            ),
            self._message,
            sizing_mode="stretch_width",
        )
