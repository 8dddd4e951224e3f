"""Export view: any figure of the app as PNG, PDF or SVG at a chosen DPI, as a browser download.

Figures are made by the library (:mod:`rbfviz.viz.charts`, :mod:`rbfviz.viz.scenes`) and written by
:mod:`rbfviz.viz.export` into a private temporary folder; the bytes go to the browser through
``pn.widgets.FileDownload``.  No path is ever chosen in the browser.
"""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import panel as pn
import param

from rbfviz.app.state import AppState

# --------------------------------------------------------------------------- constants
FIGURES = {
    "Site-opacity chart (Figure 5)": "site_opacity",
    "Training curves (networks trained in this session)": "training_curves",
    "One prototype, 3D scene": "prototype",
    "Prototype sheet, first 8 prototypes × 4 views (3D)": "sheet",
}
FORMATS = ["png", "pdf", "svg"]
SCENE_FIGURES = ("prototype", "sheet")  # rbfviz.viz.export writes 3D scenes as PNG or PDF only
SCENE_WINDOW = (900, 900)  # px of one exported 3D scene (before DPI scaling in rbfviz.viz.export)


class ExportSettings(param.Parameterized):
    """Which figure to write, of which network, in which format."""

    state = param.ClassSelector(class_=AppState, doc="The session's networks.")
    figure = param.Selector(default="site_opacity", objects=list(FIGURES.values()), doc="The figure to export.")
    network = param.String(default="", doc="Key of the network the figure shows.")
    rank = param.Integer(default=1, bounds=(1, None), doc="Rank by |β| of the prototype (3D scene only).")
    view = param.Selector(
        default="[031]", objects=["[110]", "[001]", "[1-10]", "[031]"], doc="Viewpoint (3D scene only)."
    )
    fmt = param.Selector(default="png", objects=FORMATS, doc="File format.")
    dpi = param.Integer(default=300, bounds=(50, 1200), doc="Resolution of raster output.")
    transparent = param.Boolean(default=False, doc="Transparent background.")
    message = param.String(default="", doc="Result of the last export.")

    def __init__(self, **params):
        super().__init__(**params)
        self.state.param.watch(self._on_networks, "networks")
        self._on_networks()

    def choices(self) -> dict[str, str]:
        return {**self.state.options("pruned"), **self.state.options("trained")}

    def formats(self) -> list[str]:
        """Formats the chosen figure can be written in."""
        return ["png", "pdf"] if self.figure in SCENE_FIGURES else list(FORMATS)

    @param.depends("figure", watch=True)
    def _check_format(self):
        if self.fmt not in self.formats():
            self.fmt = "png"

    def _on_networks(self, *events):
        keys = list(self.choices().values())
        if self.network not in keys:
            self.network = keys[0] if keys else ""

    @property
    def filename(self) -> str:
        """A download name made from the settings, e.g. ``site_opacity-110-K16.png``."""
        tag = ""
        if self.network in self.state.networks:
            e = self.state.networks[self.network]
            tag = f"-{e.surface or 'any'}-K{e.num_centroids}"
        if self.figure == "prototype":
            tag += f"-rank{self.rank}-{self.view}"
        return re.sub(r"[^A-Za-z0-9_.+-]", "_", f"{self.figure}{tag}") + f".{self.fmt}"

    def _figure(self):
        """('chart', hv object) or ('plotter', pyvista.Plotter) for the chosen figure."""
        from rbfviz.viz import charts
        from rbfviz.viz import scenes as scene
        from rbfviz.viz.prototypes import as_prototypes, weight_order

        if not self.network:
            raise ValueError("no network to export; train, prune or upload one first")
        entry = self.state.entry(self.network)
        if self.figure == "site_opacity":
            return "chart", charts.site_opacity_chart({entry.label: entry.model})
        if self.figure == "training_curves":
            history = self.state.histories.get(self.network)
            if not history:
                raise ValueError("training curves exist only for networks trained in this session; pick one of those")
            return "chart", charts.training_curves(history)
        if self.figure == "prototype":
            p = as_prototypes(entry.model)
            order = weight_order(p.weights_ev)
            if self.rank > len(order):
                raise ValueError(f"the network has {len(order)} prototypes; got rank {self.rank}")
            i = int(order[self.rank - 1])
            return "plotter", scene.prototype_plotter(
                p.centroids[i],
                view=self.view,
                window_size=SCENE_WINDOW,
                title=f"({i + 1}) β = {p.weights_ev[i]:+.3f} eV",
            )
        return "plotter", scene.prototype_sheet(entry.model, per_sheet=8)[0]

    def render(self) -> bytes:
        """Write the figure with :mod:`rbfviz.viz.export` into a temporary folder and return the file's bytes."""
        from rbfviz.viz import export

        if self.fmt not in self.formats():
            raise ValueError(f"{self.figure} can be exported as {' or '.join(self.formats())}; got {self.fmt!r}")
        kind, fig = self._figure()
        with tempfile.TemporaryDirectory(prefix="rbfviz-export-") as tmp:
            path = Path(tmp) / self.filename
            try:
                if kind == "chart":
                    export.export_chart(fig, path, dpi=self.dpi, transparent=self.transparent)
                else:
                    export.export_plotter(fig, path, dpi=self.dpi, transparent=self.transparent)
            finally:
                if kind == "plotter":
                    fig.close()
            return path.read_bytes()


class ExportView(pn.viewable.Viewer):
    """Settings and a download button."""

    settings = param.ClassSelector(class_=ExportSettings, doc="What to export.")

    def __init__(self, **params):
        super().__init__(**params)
        s = self.settings
        self._network = pn.widgets.Select(
            name="Network", options=s.choices(), value=s.network or None, width=420, css_classes=["rbf-export-network"]
        )
        self._network.param.watch(lambda e: setattr(s, "network", e.new or ""), "value")
        s.state.param.watch(self._on_networks, "networks")
        self._download = pn.widgets.FileDownload(
            callback=self._bytes,
            filename=s.filename,
            button_type="primary",
            label="Download figure",
            css_classes=["rbf-export-download"],
        )
        self._message = pn.pane.Markdown("", css_classes=["rbf-export-message"])
        s.param.watch(self._on_settings, ["figure", "network", "rank", "view", "fmt"])
        s.param.watch(lambda e: setattr(self._message, "object", e.new), "message")
        self._format = pn.widgets.RadioButtonGroup.from_param(
            s.param.fmt, name="Format", css_classes=["rbf-export-format"]
        )
        s.param.watch(self._on_figure, "figure")

    def _on_figure(self, event):
        self._format.options = self.settings.formats()
        self._format.value = self.settings.fmt

    def _on_networks(self, *events):
        self._network.options = self.settings.choices()
        self._network.value = self.settings.network or None

    def _on_settings(self, *events):
        self._download.filename = self.settings.filename

    def _bytes(self):
        s = self.settings
        try:
            data = s.render()
        except Exception as err:  # shown in the page; the download is then empty
            s.message = f"**Error:** {err}"
            return io.BytesIO(b"")
        s.message = f"Wrote {s.filename} ({len(data) / 1024:.0f} kB)"
        return io.BytesIO(data)

    def __panel__(self):
        s = self.settings
        w = pn.widgets
        return pn.Column(
            pn.pane.Markdown(
                "### Export a figure\nCharts are drawn with matplotlib (PNG, or vector PDF/SVG); 3D scenes are "
                "rendered off-screen (PNG, or a PDF page embedding the PNG)."
            ),
            w.RadioBoxGroup.from_param(s.param.figure, options=FIGURES, name="Figure"),
            self._network,
            pn.Row(
                w.IntInput.from_param(s.param.rank, name="Prototype rank", width=140),
                w.Select.from_param(s.param.view, name="Viewpoint", width=140),
            ),
            pn.Row(
                self._format,
                w.IntInput.from_param(s.param.dpi, name="DPI", width=120, css_classes=["rbf-export-dpi"]),
                w.Checkbox.from_param(s.param.transparent, name="Transparent background"),
            ),
            self._download,
            self._message,
        )
