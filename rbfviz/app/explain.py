"""Explain view: why does a network give this barrier to this configuration?

Pick a configuration (a data row, a row found by barrier range, or the 26 sites toggled in a
table), and see the barrier of the large and the pruned network in eV, the exact additive split
of eq. (2) as a sorted bar chart (prototypes that push the barrier up, and down) with thumbnails,
the nearest configurations of the data with their barriers, and the C2v / reverse-jump images
with their predictions.  All numbers come from :func:`rbfviz.explain.explain`.
"""

from __future__ import annotations

import numpy as np
import panel as pn
import param

from rbfviz.app.state import AppState, escape_markdown
from rbfviz.data.datasets import Dataset
from rbfviz.data.lattice import DEFAULT_SITES
from rbfviz.explain import explain, rows_in_range

# --------------------------------------------------------------------------- constants
NUM_SITES = 26
THUMBS = 8  # thumbnails of the prototypes with the largest |contribution| (~0.3 s each, once per network)
THUMB_RESOLUTION = 8  # sphere resolution of the thumbnails
THUMB_SIZE = 120  # px
MAX_MATCHES = 200  # rows listed by a barrier-range search
UP, DOWN = "#d62728", "#1f77b4"


class ExplainState(param.Parameterized):
    """The configuration being explained, the two networks, and the explanation derived from them."""

    state = param.ClassSelector(class_=AppState, doc="The session's networks and data.")
    large = param.String(default="", doc="Key of the large (trained) network ('' = none).")
    pruned = param.String(default="", doc="Key of the pruned network ('' = none).")
    occupation = param.List(default=[-1] * NUM_SITES, doc="The configuration: +1 occupied, -1 vacant, per site.")
    row = param.Integer(default=-1, bounds=(-1, None), doc="Data row the configuration was taken from (-1 = edited).")
    low = param.Number(default=0.4, doc="Lower end of the barrier-range search, eV.")
    high = param.Number(default=0.6, doc="Upper end of the barrier-range search, eV.")
    k_nearest = param.Integer(default=5, bounds=(0, 50), doc="Nearest data rows shown.")
    uploaded = param.ClassSelector(class_=Dataset, default=None, allow_None=True, doc="Data uploaded in this view.")
    matches = param.List(default=[], doc="Rows found by the last barrier-range search.")
    explanation = param.Parameter(default=None, doc="rbfviz.explain.Explanation of the configuration (derived).")

    def __init__(self, **params):
        super().__init__(**params)
        if not self.pruned and not self.large:
            self.param.update(self.default_networks())
        self.state.param.watch(self._on_networks, "networks")
        self._update()

    # ---- choices
    def default_networks(self) -> dict:
        """The first pruned network and its parent (or a trained one of the same surface)."""
        pruned = next(iter(self.state.keys("pruned")), "")
        large = ""
        if pruned:
            entry = self.state.entry(pruned)
            parent = entry.info.parent_hash or ""
            same = [k for k in self.state.keys("trained") if self.state.entry(k).surface == entry.surface]
            large = parent if parent in self.state.networks else next(iter(same), "")
        large = large or next(iter(self.state.keys("trained")), "")
        return {"large": large, "pruned": pruned}

    def _on_networks(self, *events):
        gone = {k: "" for k in ("large", "pruned") if getattr(self, k) and getattr(self, k) not in self.state.networks}
        if gone:
            self.param.update(gone)

    def models(self) -> dict:
        """label -> network of the chosen ones."""
        out = {}
        for role in ("large", "pruned"):
            key = getattr(self, role)
            if key in self.state.networks:
                out[role] = self.state.entry(key).model
        return out

    def dataset(self):
        """The uploaded data, else the data the pruned (or large) network was trained on here, or None."""
        if self.uploaded is not None:
            return self.uploaded
        for key in (self.pruned, self.large):
            if key and key in self.state.networks:
                ds = self.state.dataset_for(key)
                if ds is not None:
                    return ds
        return None

    # ---- editing the configuration
    def toggle(self, site: int) -> None:
        """Flip site ``site`` (1-based) between occupied and vacant."""
        if not 1 <= site <= NUM_SITES:
            raise ValueError(f"`site` must be in [1, {NUM_SITES}]; got {site!r}.")
        occ = list(self.occupation)
        occ[site - 1] = -occ[site - 1]
        self.param.update(occupation=occ, row=-1)

    def set_row(self, row: int) -> None:
        """Take the configuration of data row ``row``."""
        ds = self.dataset()
        if ds is None:
            raise ValueError("no data set: train a network in this session or upload barrier data")
        if not 0 <= row < len(ds):
            raise ValueError(f"`row` must be in [0, {len(ds) - 1}]; got {row!r}.")
        self.param.update(occupation=[int(v) for v in ds.X[row]], row=int(row))

    def search(self) -> list[int]:
        """Rows of the data whose barrier lies in [low, high] (at most MAX_MATCHES)."""
        ds = self.dataset()
        self.matches = [] if ds is None else rows_in_range(ds.y, self.low, self.high, MAX_MATCHES).tolist()
        return self.matches

    def data_barrier(self) -> float | None:
        ds = self.dataset()
        return float(ds.y[self.row]) if ds is not None and 0 <= self.row < len(ds) else None

    # ---- the derived explanation
    @param.depends("large", "pruned", "occupation", "uploaded", "k_nearest", watch=True)
    def _update(self):
        models = self.models()
        if not models:
            self.explanation = None
            return
        self.explanation = explain(models, np.asarray(self.occupation), data=self.dataset(), k_nearest=self.k_nearest)


# --------------------------------------------------------------------------- the view
def _contribution_figure():
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure

    source = ColumnDataSource({"name": [], "value": [], "color": [], "kernel": [], "weight": []})
    fig = figure(
        y_range=[],
        height=320,
        sizing_mode="stretch_width",
        title="Contributions s·β_k·φ_k(x) to the barrier (eV), pruned network",
        tools="hover",
        tooltips=[("prototype", "@name"), ("contribution", "@value{+0.0000} eV"), ("φ", "@kernel{0.000}")],
        toolbar_location=None,
    )
    fig.hbar(y="name", right="value", height=0.7, color="color", source=source)
    fig.xaxis.axis_label = "eV"
    return fig, source


class ExplainView(pn.viewable.Viewer):
    """Pickers on the left, the explanation on the right; thumbnails only once the tab is shown."""

    explainer = param.ClassSelector(class_=ExplainState, doc="What is explained.")
    active = param.Boolean(default=False, doc="Set once the tab is shown; thumbnails are rendered only then.")

    def __init__(self, **params):
        super().__init__(**params)
        e = self.explainer
        self._large = pn.widgets.Select(name="Large network", sizing_mode="stretch_width")
        self._pruned = pn.widgets.Select(name="Pruned network", sizing_mode="stretch_width")
        self._large.param.watch(lambda ev: setattr(e, "large", ev.new or ""), "value")
        self._pruned.param.watch(lambda ev: setattr(e, "pruned", ev.new or ""), "value")
        self._row = pn.widgets.IntInput(name="Data row", value=0, start=0, width=120)
        self._load = pn.widgets.Button(name="Use row", width=90)
        self._load.on_click(lambda _: self._guard(e.set_row, self._row.value))
        self._range = pn.widgets.RangeSlider(name="Barrier range (eV)", start=0.0, end=3.0, step=0.01)
        self._range.value = (e.low, e.high)
        self._range.param.watch(lambda ev: e.param.update(low=ev.new[0], high=ev.new[1]), "value")
        self._search = pn.widgets.Button(name="Search", width=90)
        self._search.on_click(lambda _: e.search())
        self._matches = pn.widgets.Tabulator(disabled=True, show_index=False, height=160, width=260)
        self._matches.on_click(lambda ev: self._on_row_click(self._matches, ev))
        self._upload = pn.widgets.FileInput(accept=".26d,.gz,.tgz,.csv,.txt")
        self._upload.param.watch(self._on_upload, "value")
        self._all = {name: pn.widgets.Button(name=name, width=100) for name in ("all vacant", "all occupied", "invert")}
        self._all["all vacant"].on_click(lambda _: e.param.update(occupation=[-1] * NUM_SITES, row=-1))
        self._all["all occupied"].on_click(lambda _: e.param.update(occupation=[1] * NUM_SITES, row=-1))
        self._all["invert"].on_click(lambda _: e.param.update(occupation=[-v for v in e.occupation], row=-1))
        self._sites = pn.widgets.Tabulator(
            self._sites_frame(),
            show_index=False,
            disabled=True,  # one click on a row's "occupied" cell toggles the site (no edit mode)
            height=420,
            width=310,
            layout="fit_columns",
            widths={"site": 50, "xyz (a/2)": 95, "group": 65, "occupied": 90},
            formatters={"occupied": {"type": "tickCross"}},
            css_classes=["rbf-explain-sites"],
        )
        self._sites.on_click(self._on_site_click)
        self._message = pn.pane.Markdown("")
        self._summary = pn.pane.Markdown("", css_classes=["rbf-explain-summary"])
        self._figure, self._source = _contribution_figure()
        self._chart = pn.pane.Bokeh(self._figure, sizing_mode="stretch_width")
        self._thumbs = pn.Row()
        self._thumb_cache = {}  # (network key, prototype index) -> PNG pane
        self._nearest = pn.widgets.Tabulator(disabled=True, show_index=False, height=200, sizing_mode="stretch_width")
        self._nearest.on_click(lambda ev: self._on_row_click(self._nearest, ev))
        self._symmetry = pn.widgets.Tabulator(disabled=True, show_index=False, height=200, sizing_mode="stretch_width")
        e.state.param.watch(self._on_networks, "networks")
        e.param.watch(self._render, ["explanation"])
        e.param.watch(self._render_matches, ["matches"])
        self.param.watch(self._render_thumbs, "active")
        self._on_networks()
        self._render()

    # ---- reactions
    def _guard(self, fn, *args):
        try:
            fn(*args)
            self._message.object = ""
        except ValueError as err:
            self._message.object = f"**Error:** {escape_markdown(err)}"

    def _on_row_click(self, table, event):
        """A click on a row of the matches or nearest table loads that data row."""
        self._guard(self.explainer.set_row, int(table.value.iloc[event.row]["row"]))

    def _on_upload(self, event):
        from rbfviz.app.state import UploadError, read_uploaded_dataset

        if not event.new:
            return
        try:
            self.explainer.uploaded = read_uploaded_dataset(self._upload.filename, event.new)
            rows = len(self.explainer.uploaded)
            self._message.object = f"Loaded {rows} rows from {escape_markdown(self._upload.filename)}"
        except UploadError as err:
            self._message.object = f"**Error:** {escape_markdown(err)}"

    def _on_networks(self, *events):
        st, e = self.explainer.state, self.explainer
        none = {"(none)": ""}
        self._large.options = {**none, **st.options("trained"), **st.options("pruned")}
        self._pruned.options = {**none, **st.options("pruned")}
        self._large.value, self._pruned.value = e.large, e.pruned

    def _on_site_click(self, event):
        """A click on a site's "occupied" cell flips that site."""
        if event.column == "occupied":
            self.explainer.toggle(int(event.row) + 1)

    def _sites_frame(self):
        import pandas as pd

        occ = self.explainer.occupation
        return pd.DataFrame(
            {
                "site": np.arange(1, NUM_SITES + 1),
                "xyz (a/2)": [" ".join(f"{v:+d}" for v in c) for c in DEFAULT_SITES.coords.tolist()],
                "group": list(DEFAULT_SITES.groups),
                "occupied": [v > 0 for v in occ],
            }
        )

    def _sync_sites(self):
        """Send only the changed "occupied" cells to the browser (a toggle changes one)."""
        current = self._sites.value
        wanted = [v > 0 for v in self.explainer.occupation]
        changed = [i for i, (a, b) in enumerate(zip(current["occupied"].tolist(), wanted)) if bool(a) != b]
        if len(changed) > 4:
            self._sites.value = self._sites_frame()
        elif changed:
            self._sites.patch({"occupied": [(i, wanted[i]) for i in changed]})

    def _render(self, *events):
        import pandas as pd

        e = self.explainer
        self._sync_sites()
        x = e.explanation
        if x is None:
            self._summary.object = "Choose a network."
            self._source.data = {"name": [], "value": [], "color": [], "kernel": [], "weight": []}
            return
        lines = [f"**{role}** network: **{value:.4f} eV**" for role, value in x.predictions.items()]
        barrier = e.data_barrier()
        if barrier is not None:
            lines.append(f"data row {e.row}: **{barrier:.4f} eV**")
        if e.dataset() is None:
            lines.append("no data set: train a network here or upload barrier data for rows and neighbours")
        self._summary.object = " · ".join(lines)
        role = "pruned" if "pruned" in x.splits else next(iter(x.splits))
        s = x.splits[role]
        rows = s.rows(top=30)
        names = [f"#{r['prototype']}" for r in rows][::-1]  # largest push up at the top
        self._figure.y_range.factors = names
        self._figure.title.text = f"{role} network: {s.offset:+.4f} eV (α) + Σ contributions = {s.total:.4f} eV"
        self._source.data = {
            "name": names,
            "value": [r["contribution_ev"] for r in rows][::-1],
            "color": [UP if r["contribution_ev"] >= 0 else DOWN for r in rows][::-1],
            "kernel": [r["kernel"] for r in rows][::-1],
            "weight": [r["weight_ev"] for r in rows][::-1],
        }
        self._nearest.value = pd.DataFrame(
            [{**r, "sites": " ".join(map(str, r["sites"]))} for r in x.nearest],
            columns=["row", "distance", "barrier_ev", "sites"],
        )
        self._symmetry.value = pd.DataFrame(x.symmetry)
        self._render_thumbs()

    def _render_matches(self, *events):
        import pandas as pd

        ds = self.explainer.dataset()
        rows = self.explainer.matches
        self._matches.value = pd.DataFrame(
            {"row": rows, "barrier_ev": [float(ds.y[r]) for r in rows] if ds is not None else []}
        )

    def _render_thumbs(self, *events):
        e = self.explainer
        if not self.active or e.explanation is None or not e.explanation.splits:
            return
        from rbfviz.viz.scenes import render_prototype

        role = "pruned" if "pruned" in e.explanation.splits else next(iter(e.explanation.splits))
        key = getattr(e, role)
        s = e.explanation.splits[role]
        model = e.state.entry(key).model
        panes = []
        for r in s.rows(top=THUMBS):
            i = r["prototype"] - 1
            if (key, i) not in self._thumb_cache:
                img = render_prototype(
                    model.centroids[i].detach().cpu().numpy(),
                    window_size=(THUMB_SIZE, THUMB_SIZE),
                    legend=False,
                    resolution=THUMB_RESOLUTION,
                )
                self._thumb_cache[(key, i)] = pn.pane.PNG(_png(img), width=THUMB_SIZE)
            panes.append(
                pn.Column(
                    self._thumb_cache[(key, i)],
                    pn.pane.Markdown(f"#{i + 1}: {r['contribution_ev']:+.3f} eV"),
                    width=130,
                )
            )
        self._thumbs.objects = panes

    def __panel__(self):
        from rbfviz.viz.style import group_key_html

        left = pn.Column(
            pn.pane.Markdown("#### Configuration"),
            pn.Row(*self._all.values()),
            self._sites,
            pn.pane.HTML(group_key_html(), width=310, css_classes=["rbf-group-key"]),  # the table's group codes
            pn.pane.Markdown("#### From the data"),
            pn.Row(self._row, self._load),
            pn.Row(self._range, self._search),
            self._matches,
            pn.Row(pn.pane.Markdown("Other data:"), self._upload),
            width=320,
        )
        right = pn.Column(
            self._summary,
            self._message,
            self._chart,
            self._thumbs,
            pn.pane.Markdown("#### Nearest configurations in the data (Hamming distance)"),
            self._nearest,
            pn.pane.Markdown(
                "#### Symmetry check\nThe C2v images must have the same barrier; the reverse jump may differ."
            ),
            self._symmetry,
            sizing_mode="stretch_width",
        )
        return pn.Column(
            pn.pane.Markdown("### Explain a prediction"),
            pn.Row(self._large, self._pruned, sizing_mode="stretch_width"),
            pn.Row(left, right, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )


def _png(img) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(img)).save(buf, format="PNG")
    return buf.getvalue()
