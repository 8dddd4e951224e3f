"""Prototypes view: one network's prototypes as interactive 3D scenes (paper §3.2.2, Figure 4).

A page of :data:`PER_PAGE` prototypes drawn as ONE scene (a grid of viewports sharing one camera,
:class:`rbfviz.viz.prototype_scene.PrototypeScene`, so the page costs one WebGL context and turning one
prototype turns all), a large view of the chosen prototype with a table of its 26 values, the four
standard viewpoints rendered off-screen, and the network's site-opacity chart (Figure 5).

The scenes are built the first time the tab is shown and never re-created: a selection changes
colours, opacities and captions in place and sends them with ``pane.synchronize()``.  While the tab
is hidden nothing is sent (a hidden scene would be drawn at zero size); the last change is sent
when the tab is shown again (:class:`rbfviz.app.live_scene.LiveScene`).  The off-screen strip and
the chart follow once the browser has drawn the scenes (:func:`rbfviz.app.live_scene.after_drawn`).
"""

from __future__ import annotations

import panel as pn
import param

from rbfviz.app.live_scene import LiveScene, SceneBehaviour, after_drawn, scene_key
from rbfviz.app.state import AppState, escape_markdown

# --------------------------------------------------------------------------- constants
PER_PAGE = 8  # prototypes per page, all in one scene
GRID_COLUMNS = 4
THUMB_SIZE = 230  # px per viewport of the page scene
DETAIL_SIZE = 430  # px
THUMB_RESOLUTION = 10  # sphere resolution of the page scene
DETAIL_RESOLUTION = 16
STRIP_SIZE = 240  # px per view in the static strip of the four standard viewpoints
ORDERS = {"by |β|": "weight", "by index": "index"}
VIEW_BUTTONS = {"[110]": "[110]", "[001]": "[001]", "[1\u030510]": "[1-10]", "[031]": "[031]"}  # label -> view


def page_scene():
    """The scene of one page: :data:`PER_PAGE` viewports in :data:`GRID_COLUMNS` columns, one camera."""
    from rbfviz.viz.prototype_scene import PrototypeScene

    return PrototypeScene(PER_PAGE, columns=GRID_COLUMNS, panel_size=THUMB_SIZE, resolution=THUMB_RESOLUTION)


def detail_scene(view: str = "[031]"):
    """The scene of the enlarged prototype, with site labels (hidden until asked for)."""
    from rbfviz.viz.prototype_scene import PrototypeScene

    return PrototypeScene(1, panel_size=DETAIL_SIZE, resolution=DETAIL_RESOLUTION, view=view, site_labels=True)


def strip_scene():
    """The off-screen scene of the static strip: one prototype from the four standard viewpoints."""
    from rbfviz.data.lattice import VIEWPOINTS
    from rbfviz.viz.prototype_scene import PrototypeScene

    return PrototypeScene(
        len(VIEWPOINTS),
        panel_size=STRIP_SIZE,
        resolution=DETAIL_RESOLUTION,
        web=False,
        views=list(VIEWPOINTS),
        site_labels=True,
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
        from rbfviz.data.lattice import GROUP_DESCRIPTIONS

        df = df[df["prototype"] == self.selected + 1]
        df = df[["site", "group", "x", "y", "z", "value", "opacity"]].reset_index(drop=True)
        df["group meaning"] = [GROUP_DESCRIPTIONS[g].replace("(1-10)", "(1\u030510)") for g in df["group"]]
        return df

    def ranks(self) -> dict[int, int]:
        """Stored index -> rank by |β| (1 = largest), whatever the display order."""
        from rbfviz.viz.prototypes import weight_order

        p = self.prototypes()
        return {} if p is None else {int(i): r + 1 for r, i in enumerate(weight_order(p.weights_ev))}

    def caption(self, i: int) -> str:
        """How prototype ``i`` (stored, 0-based) is named everywhere: ``"(3) β = +0.123 eV"``."""
        p = self.prototypes()
        return f"({i + 1})  \u03b2 = {p.weights_ev[i]:+.3f} eV"


class PrototypesView(pn.viewable.Viewer):
    """The page scene with its captions, the enlarged prototype with its table, the four views, Figure 5."""

    browser = param.ClassSelector(class_=PrototypeBrowser, doc="What is shown.")
    active = param.Boolean(default=False, doc="True while the tab is shown; scenes are built the first time.")
    scenes = param.ClassSelector(
        class_=SceneBehaviour, default=None, doc="The page's scene behaviour (the strip and chart wait for its draws)."
    )

    def __init__(self, **params):
        super().__init__(**params)
        b = self.browser
        self._network = pn.widgets.Select(
            name="Network", options=b.choices(), value=b.network or None, width=420, css_classes=["rbf-proto-network"]
        )
        self._network.param.watch(lambda e: setattr(b, "network", e.new or ""), "value")
        self._order = pn.widgets.RadioButtonGroup.from_param(
            b.param.order, options=ORDERS, name="Order", css_classes=["rbf-proto-order"]
        )
        self._prev = pn.widgets.Button(name=f"◀ previous {PER_PAGE}", width=110, css_classes=["rbf-proto-prev"])
        self._next = pn.widgets.Button(name=f"next {PER_PAGE} ▶", width=110, css_classes=["rbf-proto-next"])
        self._prev.on_click(lambda _: b.param.update(page=max(b.page - 1, 0)))
        self._next.on_click(lambda _: b.param.update(page=min(b.page + 1, b.num_pages - 1)))
        self._page_label = pn.pane.Markdown("", css_classes=["rbf-proto-page"])
        self._captions = [
            pn.widgets.Button(
                name="", width=THUMB_SIZE - 8, button_type="light", css_classes=["rbf-proto-caption"], margin=4
            )
            for _ in range(PER_PAGE)
        ]
        self._caption_index = [0] * PER_PAGE
        for k, button in enumerate(self._captions):
            button.on_click(lambda _, k=k: setattr(b, "selected", self._caption_index[k]))
        self._grid = pn.Column(
            pn.pane.Markdown("(scenes are drawn when this tab is shown)"), css_classes=["rbf-proto-grid"]
        )
        self._view = pn.widgets.RadioButtonGroup(
            name="Viewpoint", options=VIEW_BUTTONS, value=b.view, css_classes=["rbf-proto-view"]
        )
        self._view.param.watch(lambda e: setattr(b, "view", e.new), "value")
        self._detail_title = pn.pane.Markdown("", css_classes=["rbf-proto-title"])
        self._detail = pn.Column(width=DETAIL_SIZE, height=DETAIL_SIZE, css_classes=["rbf-proto-detail"])
        self._table = pn.widgets.Tabulator(
            disabled=True,
            show_index=False,
            height=DETAIL_SIZE,
            width=560,
            formatters={"value": {"type": "money", "precision": 3}, "opacity": {"type": "money", "precision": 2}},
            css_classes=["rbf-proto-table"],
        )
        self._chart = pn.Column(sizing_mode="stretch_width")
        self._strip = pn.pane.PNG(None, width=4 * STRIP_SIZE, css_classes=["rbf-proto-views"])
        self._labels = pn.widgets.Checkbox(name="site numbers", value=False, css_classes=["rbf-proto-labels"])
        self._labels.param.watch(lambda e: self._page_scene is not None and self._draw_strip(), "value")
        self._detail_labels = pn.widgets.Checkbox(
            name="Site labels", value=False, margin=(12, 10), css_classes=["rbf-proto-detail-labels"]
        )
        self._detail_labels.param.watch(self._show_detail_labels, "value")
        self._page_scene = self._detail_scene = self._strip_scene = None
        self._built = {}  # part -> the settings it was last drawn for (redraw only on change)
        b.state.param.watch(self._on_networks, "networks")
        b.param.watch(self._on_network, "network")
        b.param.watch(self._refresh, ["order", "page", "selected", "view"])
        self.param.watch(self._refresh, "active")

    # ---- reactions
    def _on_networks(self, *events):
        self._network.options = self.browser.choices()
        self._network.value = self.browser.network or None

    def _on_network(self, *events):
        self._network.value = self.browser.network or None
        self._refresh()

    def _refresh(self, *events):
        """Bring every part up to date with the browser's choice; build the scenes the first time.

        All changes leave in one message (``pn.io.hold``; one message per caption took 0.5 s each).
        The scenes are drawn first; the off-screen strip and the chart follow once the browser has
        drawn them (:meth:`SceneBehaviour.after_drawn`), so the 3D views do not wait behind them."""
        with pn.io.hold():
            self._refresh_now()

    def _refresh_now(self):
        b = self.browser
        first = self.active and self._page_scene is None
        if first:
            self._build_scenes()
        if self._view.value != b.view:
            self._view.value = b.view
        if self._page_scene is not None:
            for part, key, draw in (
                ("page", (b.network, b.order, b.page), self._draw_page),
                ("detail", (b.network, b.selected), self._draw_detail),
                ("view", b.view, self._draw_view),
            ):
                if self._built.get(part) != key:
                    self._built[part] = key
                    draw()
        if first:  # the panes enter the page already holding the drawn scenes
            self._grid.objects = [
                pn.Row(self._page_scene.pane, scene_key(width=260)),
                pn.GridBox(*self._captions, ncols=GRID_COLUMNS, width=GRID_COLUMNS * THUMB_SIZE),
            ]
            self._detail.objects = [self._detail_scene.pane]
        if not self.active:
            return
        for live in (self._page_scene, self._detail_scene):
            if live.dirty:
                live.send(True)
        later = [
            (part, key, draw)
            for part, key, draw in (
                ("strip", (b.network, b.selected), self._draw_strip),
                ("chart", b.network, self._draw_chart),
            )
            if self._built.get(part) != key
        ]
        if later:
            for part, key, _ in later:
                self._built[part] = key
            after_drawn(self.scenes, lambda: [draw() for _, _, draw in later])

    def _build_scenes(self):
        page = page_scene()
        detail = detail_scene(self.browser.view)
        detail.show_labels(self._detail_labels.value)
        self._page_scene = LiveScene(page, "rbf-proto-page-scene")
        self._detail_scene = LiveScene(detail, "rbf-proto-detail-scene")

    def _draw_page(self):
        b = self.browser
        p = b.prototypes()
        indices = b.page_indices() if p is not None else []
        ranks = b.ranks()
        self._page_scene.scene.show([(p.centroids[i], b.caption(i), f"rank {ranks[i]} by |β|") for i in indices])
        for k, button in enumerate(self._captions):
            if k < len(indices):
                self._caption_index[k] = indices[k]
                button.name = b.caption(indices[k])
                button.visible = True
            else:
                button.visible = False
        self._page_scene.send(self.active)
        if p is None:
            self._page_label.object = "No networks yet: train and prune one, or upload one."
        else:
            self._page_label.object = (
                f"page {b.page + 1} of {b.num_pages} · {len(p)} prototypes of **{p.label}** · "
                "click a caption to enlarge · drag a scene to turn all eight"
            )

    def _draw_detail(self):
        b = self.browser
        p = b.prototypes()
        if p is None or b.selected >= len(p):
            self._detail_scene.scene.show([])
            self._detail_title.object = ""
        else:
            i = b.selected
            self._detail_scene.scene.show([(p.centroids[i], b.caption(i), p.label)])
            label = escape_markdown(p.label)
            self._detail_title.object = f"#### Prototype ({i + 1}) · β = {p.weights_ev[i]:+.4f} eV · {label}"
            self._table.value = b.values_table()
        self._detail_scene.send(self.active)

    def _show_detail_labels(self, event):
        """The "Site labels" toggle: the numbers' visibility changes in place and is sent."""
        if self._detail_scene is not None:
            self._detail_scene.scene.show_labels(event.new)
            self._detail_scene.send(self.active)

    def _draw_view(self):
        self._detail_scene.set_view(self.browser.view, self.active)

    def _draw_strip(self):
        """The chosen prototype from all four standard viewpoints, rendered off-screen side by side."""
        import io

        from PIL import Image

        from rbfviz.viz.style import view_label

        b = self.browser
        p = b.prototypes()
        if p is None or b.selected >= len(p):
            self._strip.object = None
            return
        if self._strip_scene is None:  # made on first use, after the 3D views have been sent
            self._strip_scene = strip_scene()
        i = b.selected
        self._strip_scene.show_labels(self._labels.value)
        self._strip_scene.show([(p.centroids[i], "", view_label(v)) for v in self._strip_scene.views])
        buf = io.BytesIO()
        Image.fromarray(self._strip_scene.screenshot()).save(buf, format="PNG")
        self._strip.object = buf.getvalue()

    def _draw_chart(self):
        b = self.browser
        if not b.network:
            self._chart.objects = []
            return
        entry = b.state.entry(b.network)
        self._chart.objects = [site_opacity_pane({entry.label: entry.model})]

    def __panel__(self):
        from rbfviz.viz.style import group_key_html, site_labels_key_html

        return pn.Column(
            pn.Row(self._network, self._order),
            pn.Row(self._prev, self._next, self._page_label),
            self._grid,
            self._detail_title,
            pn.Row(
                pn.Column(
                    pn.Row(self._view, self._detail_labels),
                    self._detail,
                    scene_key(width=DETAIL_SIZE),
                    pn.pane.HTML(
                        site_labels_key_html(), width=DETAIL_SIZE, margin=(0, 8), css_classes=["rbf-scene-key"]
                    ),
                ),
                self._table,
            ),
            pn.Row(
                pn.pane.Markdown("#### The four standard viewpoints ([110], [001], [1̅10], [031])"),
                self._labels,
                pn.pane.Markdown("(group and value of each site: the table above)"),
            ),
            self._strip,
            pn.pane.Markdown("#### Site opacity (Figure 5)"),
            pn.pane.HTML(group_key_html(), css_classes=["rbf-group-key"]),
            self._chart,
            sizing_mode="stretch_width",
        )
