"""Prototypes view: one network's prototypes as interactive 3D scenes (paper §3.2.2, Figure 4).

A page of :data:`PER_PAGE` small vtk.js scenes (ordered by |β| or by index, each captioned with
β_i in eV), a large view of the chosen prototype from the four standard viewpoints with a table of
its 26 values, and the network's site-opacity chart (Figure 5).  Scenes come from
:func:`rbfviz.scene.prototype_plotter`; they are built only once the tab has been shown.
"""

from __future__ import annotations

import numpy as np
import panel as pn
import param

from rbfviz.app.state import AppState

# --------------------------------------------------------------------------- constants
PER_PAGE = 8  # small scenes per page (each costs ~0.5 s to serialise)
THUMB_SIZE = 230  # px
DETAIL_SIZE = 430  # px
THUMB_RESOLUTION = 10  # sphere resolution of the small scenes
DETAIL_RESOLUTION = 16
STRIP_SIZE = 240  # px per view in the static strip of the four standard viewpoints
ORDERS = {"by |β|": "weight", "by index": "index"}
WEB_VIEW_ANGLE = 30.0  # degrees; vtk.js's default, since Panel does not send the view angle


def _match_web_camera(plotter) -> None:
    """Frame a parallel-projection scene the same way in vtk.js.

    Panel's scene serializer sends only the camera's position, focal point and view-up, and vtk.js
    draws them with a 30° perspective; so move the camera to the distance at which that
    perspective shows the parallel view's half height, and use the same projection here.
    """
    cam = plotter.camera
    if not cam.parallel_projection:
        return
    focal, pos = np.asarray(cam.focal_point), np.asarray(cam.position)
    direction = (pos - focal) / np.linalg.norm(pos - focal)
    cam.parallel_projection = False
    cam.view_angle = WEB_VIEW_ANGLE
    cam.position = tuple(focal + direction * cam.parallel_scale / np.tan(np.radians(WEB_VIEW_ANGLE / 2)))
    plotter.renderer.ResetCameraClippingRange()


def vtk_pane(plotter, size: int, **kwargs) -> pn.pane.VTK:
    """A vtk.js pane of an off-screen plotter's render window."""
    _match_web_camera(plotter)
    css = ["rbf-scene"] + list(kwargs.pop("css_classes", []))
    return pn.pane.VTK(
        plotter.ren_win,
        width=size,
        height=size,
        orientation_widget=False,
        enable_keybindings=False,
        css_classes=css,
        **kwargs,
    )


def site_opacity_pane(models: dict, layout: str = "overlay", height: int = 360):
    """The library's site-opacity chart of ``models`` (label -> network) in a HoloViews pane."""
    try:
        from rbfviz.viz.charts import site_opacity_chart
    except ImportError as err:  # the chart module is optional for the rest of the view
        return pn.pane.Alert(f"Site-opacity chart unavailable: {err}", alert_type="warning")
    return pn.pane.HoloViews(site_opacity_chart(models, layout=layout), sizing_mode="stretch_width", height=height)


class PrototypeBrowser(param.Parameterized):
    """Which network, order, page and prototype the Prototypes view shows."""

    state = param.ClassSelector(class_=AppState, doc="The session's networks.")
    network = param.String(default="", doc="Key of the network whose prototypes are shown.")
    order = param.Selector(default="weight", objects=["weight", "index"], doc="Order of the prototypes.")
    page = param.Integer(default=0, bounds=(0, None), doc="Page of PER_PAGE prototypes (0-based).")
    selected = param.Integer(default=0, bounds=(0, None), doc="Stored index (0-based) of the enlarged prototype.")
    view = param.Selector(
        default="[031]", objects=["[110]", "[001]", "[1-10]", "[031]"], doc="Viewpoint of the large view."
    )

    def __init__(self, **params):
        super().__init__(**params)
        self.state.param.watch(self._on_networks, "networks")
        self.state.param.watch(self._on_focus, "focus")
        self._on_networks()

    def choices(self) -> dict[str, str]:
        """label -> key: pruned networks first, then the trained ones."""
        return {**self.state.options("pruned"), **self.state.options("trained")}

    def _on_networks(self, *events):
        keys = list(self.choices().values())
        if self.network not in keys:
            self.network = keys[0] if keys else ""

    def _on_focus(self, event):
        if event.new in self.state.networks:
            self.param.update(network=event.new, page=0, selected=self.ordered()[0] if self.ordered() else 0)

    @param.depends("network", watch=True)
    def _reset(self):
        self.param.update(page=0, selected=self.ordered()[0] if self.ordered() else 0)

    def prototypes(self):
        """:class:`rbfviz.prototypes.Prototypes` of the chosen network, or None."""
        from rbfviz.viz.prototypes import as_prototypes

        if not self.network:
            return None
        entry = self.state.entry(self.network)
        return as_prototypes(entry.model, label=entry.label)

    def ordered(self) -> list[int]:
        from rbfviz.viz.prototypes import weight_order

        p = self.prototypes()
        return [] if p is None else [int(i) for i in weight_order(p.weights_ev, self.order)]

    @property
    def num_pages(self) -> int:
        n = len(self.ordered())
        return max(1, -(-n // PER_PAGE))

    def page_indices(self) -> list[int]:
        """Stored indices on the current page."""
        return self.ordered()[self.page * PER_PAGE : (self.page + 1) * PER_PAGE]

    def values_table(self):
        """The chosen prototype's 26 values with their sites (from :func:`rbfviz.prototypes.prototype_table`)."""
        from rbfviz.viz.prototypes import prototype_table

        df = prototype_table(self.state.entry(self.network).model)
        df = df[df["prototype"] == self.selected + 1]
        return df[["site", "group", "x", "y", "z", "value", "opacity"]].reset_index(drop=True)


class PrototypesView(pn.viewable.Viewer):
    """Grid of small scenes, a large view with a table, and the site-opacity chart."""

    browser = param.ClassSelector(class_=PrototypeBrowser, doc="What is shown.")
    active = param.Boolean(default=False, doc="Set once the tab is shown; scenes are built only then.")

    def __init__(self, **params):
        super().__init__(**params)
        b = self.browser
        self._network = pn.widgets.Select(
            name="Network", options=b.choices(), value=b.network or None, width=420, css_classes=["rbf-proto-network"]
        )
        self._network.param.watch(lambda e: setattr(b, "network", e.new or ""), "value")
        self._order = pn.widgets.RadioButtonGroup.from_param(b.param.order, options=ORDERS, name="Order")
        self._prev = pn.widgets.Button(name="◀ previous 8", width=110)
        self._next = pn.widgets.Button(name="next 8 ▶", width=110)
        self._prev.on_click(lambda _: b.param.update(page=max(b.page - 1, 0)))
        self._next.on_click(lambda _: b.param.update(page=min(b.page + 1, b.num_pages - 1)))
        self._page_label = pn.pane.Markdown("")
        self._grid = pn.GridBox(ncols=4, css_classes=["rbf-proto-grid"])
        self._view = pn.widgets.RadioButtonGroup.from_param(b.param.view, name="Viewpoint")
        self._detail_title = pn.pane.Markdown("")
        self._detail = pn.Column(width=DETAIL_SIZE, height=DETAIL_SIZE)
        self._table = pn.widgets.Tabulator(
            disabled=True,
            show_index=False,
            height=DETAIL_SIZE,
            width=430,
            formatters={"value": {"type": "money", "precision": 3}, "opacity": {"type": "money", "precision": 2}},
        )
        self._chart = pn.Column(sizing_mode="stretch_width")
        self._strip = pn.pane.PNG(None, width=4 * STRIP_SIZE, css_classes=["rbf-proto-views"])
        self._built = {}  # part -> the settings it was last built for (rebuild only on change)
        b.state.param.watch(self._on_networks, "networks")
        b.param.watch(self._on_network, "network")
        b.param.watch(self._build_all, ["order", "page", "selected", "view"])
        self.param.watch(self._build_all, "active")

    # ---- reactions
    def _on_networks(self, *events):
        self._network.options = self.browser.choices()
        self._network.value = self.browser.network or None

    def _on_network(self, *events):
        self._network.value = self.browser.network or None
        self._build_all()

    def _build_all(self, *events):
        if not self.active:
            return
        b = self.browser
        for part, key, build in (
            ("grid", (b.network, b.order, b.page), self._build_grid),
            ("detail", (b.network, b.selected, b.view), self._build_detail),
            ("strip", (b.network, b.selected), self._build_strip),
            ("chart", b.network, self._build_chart),
        ):
            if self._built.get(part) != key:
                self._built[part] = key
                build()

    def _build_grid(self):
        from rbfviz.viz.scenes import prototype_plotter

        b = self.browser
        p = b.prototypes()
        if p is None:
            self._grid.objects = [pn.pane.Markdown("No networks yet: train and prune one, or upload one.")]
            self._page_label.object = ""
            return
        cards = []
        for _rank0, i in enumerate(b.page_indices(), start=b.page * PER_PAGE):
            pl = prototype_plotter(
                p.centroids[i], window_size=(THUMB_SIZE, THUMB_SIZE), legend=False, resolution=THUMB_RESOLUTION
            )
            button = pn.widgets.Button(
                name=f"({i + 1})  β = {p.weights_ev[i]:+.3f} eV",
                width=THUMB_SIZE - 10,
                button_type="light",
                css_classes=["rbf-proto-caption"],
            )
            button.on_click(lambda _, i=i: setattr(b, "selected", i))
            cards.append(pn.Column(vtk_pane(pl, THUMB_SIZE), button, margin=4))
        self._grid.objects = cards
        self._page_label.object = (
            f"page {b.page + 1} of {b.num_pages} · {len(p)} prototypes · click a caption to enlarge"
        )

    def _build_detail(self):
        from rbfviz.viz.scenes import prototype_plotter

        b = self.browser
        p = b.prototypes()
        if p is None or b.selected >= len(p):
            self._detail.objects, self._detail_title.object = [], ""
            return
        i = b.selected
        pl = prototype_plotter(
            p.centroids[i],
            view=b.view,
            window_size=(DETAIL_SIZE, DETAIL_SIZE),
            title=f"({i + 1}) β = {p.weights_ev[i]:+.3f} eV",
            resolution=DETAIL_RESOLUTION,
        )
        self._detail.objects = [vtk_pane(pl, DETAIL_SIZE, css_classes=["rbf-proto-detail"])]
        self._detail_title.object = f"#### Prototype ({i + 1}) · β = {p.weights_ev[i]:+.4f} eV · viewpoint {b.view}"
        self._table.value = b.values_table()

    def _build_strip(self):
        """The chosen prototype from all four standard viewpoints, rendered off-screen side by side."""
        import io

        from PIL import Image

        from rbfviz.data.lattice import VIEWPOINTS
        from rbfviz.viz.scenes import render_prototype

        b = self.browser
        p = b.prototypes()
        if p is None or b.selected >= len(p):
            self._strip.object = None
            return
        images = [
            render_prototype(
                p.centroids[b.selected],
                view=v,
                window_size=(STRIP_SIZE, STRIP_SIZE),
                legend=False,
                resolution=DETAIL_RESOLUTION,
            )
            for v in VIEWPOINTS
        ]
        buf = io.BytesIO()
        Image.fromarray(np.concatenate(images, axis=1)).save(buf, format="PNG")
        self._strip.object = buf.getvalue()

    def _build_chart(self):
        b = self.browser
        if not b.network:
            self._chart.objects = []
            return
        entry = b.state.entry(b.network)
        self._chart.objects = [site_opacity_pane({entry.label: entry.model})]

    def __panel__(self):
        return pn.Column(
            pn.Row(self._network, self._order),
            pn.Row(self._prev, self._next, self._page_label),
            self._grid,
            self._detail_title,
            pn.Row(pn.Column(self._view, self._detail), self._table),
            pn.pane.Markdown("#### The four standard viewpoints"),
            self._strip,
            pn.pane.Markdown("#### Site opacity (Figure 5)"),
            self._chart,
            sizing_mode="stretch_width",
        )
