"""Export view: any figure of the app as PNG, PDF or SVG at a chosen DPI, and the prototypes as data.

Figures are made by the library (:mod:`rbfviz.viz.charts`, :mod:`rbfviz.viz.scenes`) and written by
:mod:`rbfviz.viz.export` into a private temporary folder; the bytes go to the browser through
``pn.widgets.FileDownload``.  No path is ever chosen in the browser.  Sheets and data cover any page
of prototypes or any chosen set; the data are the CSV table and extended XYZ files (one per
prototype, zipped) that ``rbfviz figures`` writes.  File names carry the network's name.  A failed
export downloads nothing: the button's callback raises, and the message says why.
"""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import panel as pn
import param

from rbfviz.app.state import AppState, escape_markdown

# --------------------------------------------------------------------------- constants
FIGURES = {
    "Site-opacity chart (Figure 5)": "site_opacity",
    "Training curves (networks trained in this session)": "training_curves",
    "One prototype, 3D scene": "prototype",
    "Prototype sheet: a page, or the chosen prototypes, × 4 views (3D)": "sheet",
    "Prototype values, a page or the chosen prototypes (CSV table)": "table",
    "Prototypes as extended XYZ, a page or the chosen prototypes (zip, one file each)": "xyz",
}
FORMATS = ["png", "pdf", "svg", "csv", "zip"]
SCENE_FIGURES = ("prototype", "sheet")  # rbfviz.viz.export writes 3D scenes as PNG or PDF only
DATA_FORMATS = {"table": "csv", "xyz": "zip"}
PER_PAGE = 8
VIEW_OPTIONS = {"[110]": "[110]", "[001]": "[001]", "[1\u030510]": "[1-10]", "[031]": "[031]"}  # shown -> view
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
    page = param.Integer(default=1, bounds=(1, None), doc="Page of 8 prototypes by |β| (sheets and data).")
    chosen = param.String(default="", doc="Prototype numbers, e.g. '3, 7, 12' (as in the captions); overrides page.")
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
        if self.figure in DATA_FORMATS:
            return [DATA_FORMATS[self.figure]]
        return ["png", "pdf"] if self.figure in SCENE_FIGURES else ["png", "pdf", "svg"]

    @param.depends("figure", watch=True)
    def _check_format(self):
        if self.fmt not in self.formats():
            self.fmt = self.formats()[0]

    def _on_networks(self, *events):
        keys = list(self.choices().values())
        if self.network not in keys:
            self.network = keys[0] if keys else ""

    @property
    def filename(self) -> str:
        """A download name made from the settings, e.g. ``cu110-k1024-m16_site_opacity.png``."""
        name, tag = "network", ""
        if self.network in self.state.networks:
            e = self.state.networks[self.network]
            name = e.info.name or f"{e.kind}-{e.surface or 'any'}-K{e.num_centroids}"
        if self.figure == "prototype":
            tag += f"-rank{self.rank}-{self.view}"
        if self.figure in ("sheet", "table", "xyz"):
            tag += f"-prototypes-{'_'.join(self.chosen_numbers())}" if self.chosen.strip() else f"-page{self.page}"
        return re.sub(r"[^A-Za-z0-9_.+-]", "_", f"{name}_{self.figure}{tag}") + f".{self.fmt}"

    def chosen_numbers(self) -> list[str]:
        return [t for t in re.split(r"[\s,;]+", self.chosen.strip()) if t]

    def selection(self):
        """The prototypes to write (:class:`rbfviz.viz.prototypes.Prototypes`): the chosen ones, or a page by |β|."""
        from rbfviz.viz.prototypes import as_prototypes, select_prototypes, weight_order

        entry = self.state.entry(self.network)
        p = as_prototypes(entry.model, label=entry.info.name or entry.label)
        if self.chosen.strip():
            try:
                numbers = [int(t) for t in self.chosen_numbers()]
            except ValueError:
                raise ValueError(f"prototype numbers must be whole numbers like '3, 7'; got {self.chosen!r}") from None
            bad = [n for n in numbers if not 1 <= n <= len(p)]
            if bad:
                raise ValueError(f"the network has prototypes 1 to {len(p)}; got {bad}")
            return select_prototypes(p, [n - 1 for n in numbers]), [n - 1 for n in numbers]
        order = [int(i) for i in weight_order(p.weights_ev)]
        pages = -(-len(order) // PER_PAGE)
        if self.page > pages:
            raise ValueError(f"the network has {pages} page(s) of {PER_PAGE} prototypes; got page {self.page}")
        idx = order[(self.page - 1) * PER_PAGE : self.page * PER_PAGE]
        return select_prototypes(p, idx), idx

    def _figure(self):
        """('chart', hv object) or ('plotter', pyvista.Plotter) for the chosen figure."""
        from rbfviz.viz import charts
        from rbfviz.viz import scenes as scene
        from rbfviz.viz.prototypes import prototype_by_rank

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
            found = prototype_by_rank(entry.model, self.rank)
            if found is None:
                raise ValueError(f"the network has {entry.num_centroids} prototypes; got rank {self.rank}")
            values, beta, i = found
            return "plotter", scene.prototype_plotter(
                values, view=self.view, window_size=SCENE_WINDOW, title=f"({i + 1}) β = {beta:+.3f} eV"
            )
        chosen, idx = self.selection()
        return "plotter", scene.prototype_sheet(chosen, order="index", per_sheet=len(chosen), numbers=idx)[0]

    def render(self) -> bytes:
        """Write the figure with :mod:`rbfviz.viz.export` into a temporary folder and return the file's bytes."""
        from rbfviz.viz import export

        if self.fmt not in self.formats():
            raise ValueError(f"{self.figure} can be exported as {' or '.join(self.formats())}; got {self.fmt!r}")
        if not self.network:
            raise ValueError("no network to export; train, prune or upload one first")
        if self.figure in DATA_FORMATS:
            return self._data()
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
            data = path.read_bytes()
        if not data:
            raise ValueError(f"writing {self.filename} produced an empty file")
        return data

    def _data(self) -> bytes:
        """The chosen prototypes as the CSV table or a zip of extended XYZ files (as ``rbfviz figures``)."""
        import zipfile

        from rbfviz.viz import export
        from rbfviz.viz.prototypes import prototype_table

        chosen, idx = self.selection()
        with tempfile.TemporaryDirectory(prefix="rbfviz-export-") as tmp:
            if self.figure == "table":
                table = prototype_table(chosen)
                table["prototype"] = [idx[k - 1] + 1 for k in table["prototype"]]  # the network's own numbers
                path = export.write_csv(table, Path(tmp) / self.filename)
                data = path.read_bytes()
            else:
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                    for k, i in enumerate(idx):
                        name = f"prototype_{i + 1:03d}.xyz"
                        export.write_prototype_xyz(
                            chosen.centroids[k],
                            Path(tmp) / name,
                            info={"prototype": i + 1, "beta_eV": float(chosen.weights_ev[k]), "network": chosen.label},
                        )
                        zf.write(Path(tmp) / name, arcname=name)
                data = buf.getvalue()
        if not data:
            raise ValueError(f"writing {self.filename} produced an empty file")
        return data


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
        s.param.watch(self._on_settings, ["figure", "network", "rank", "view", "fmt", "page", "chosen"])
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
        except Exception as err:  # shown in the page; raising keeps the browser from downloading anything
            s.message = f"**Error:** {escape_markdown(err)}"
            raise
        s.message = f"Wrote {escape_markdown(s.filename)} ({len(data) / 1024:.0f} kB)"
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
                w.Select.from_param(s.param.view, name="Viewpoint", width=140, options=VIEW_OPTIONS),
                w.IntInput.from_param(s.param.page, name="Page (8 by |β|)", width=140, css_classes=["rbf-export-page"]),
                w.TextInput.from_param(
                    s.param.chosen, name="or prototypes (e.g. 3, 7, 12)", width=220, css_classes=["rbf-export-chosen"]
                ),
            ),
            pn.Row(
                self._format,
                w.IntInput.from_param(s.param.dpi, name="DPI", width=120, css_classes=["rbf-export-dpi"]),
                w.Checkbox.from_param(s.param.transparent, name="Transparent background"),
            ),
            self._download,
            self._message,
        )
