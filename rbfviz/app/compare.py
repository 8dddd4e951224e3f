"""Compare view: networks side by side (by default one pruned network per surface).

One scene (:class:`rbfviz.viz.prototype_scene.PrototypeScene`, one WebGL context) with a viewport per
network, all sharing one camera, so turning one turns all.  Each viewport shows the prototype of
the chosen rank (1 = largest |β|) with the plane of its network's surface and the surface's
outward normal, so that patterns parallel to the surface (§3.2.2) can be seen.  The scene is built
the first time the tab is shown and updated in place afterwards.  Below, the site-opacity chart of
all chosen networks on one axis (paper Figure 5).
"""

from __future__ import annotations

import html

import panel as pn
import param

from rbfviz.app.live_scene import LiveScene, SceneBehaviour, after_drawn, scene_key
from rbfviz.app.prototypes import site_opacity_pane
from rbfviz.app.state import AppState, escape_markdown

# --------------------------------------------------------------------------- constants
SCENE_SIZE = 320  # px per viewport
SCENE_RESOLUTION = 12
MAX_COLUMNS = 4


def compare_scene():
    """The Compare view's scene: :data:`MAX_COLUMNS` viewports with surface planes, one camera."""
    from rbfviz.viz.prototype_scene import PrototypeScene

    return PrototypeScene(MAX_COLUMNS, panel_size=SCENE_SIZE, resolution=SCENE_RESOLUTION, surfaces=True, view="[031]")


class Comparison(param.Parameterized):
    """Which networks are compared and which prototype rank is shown."""

    state = param.ClassSelector(class_=AppState, doc="The session's networks.")
    networks = param.List(default=[], item_type=str, doc="Keys of the compared networks (at most MAX_COLUMNS).")
    rank = param.Integer(default=1, bounds=(1, None), doc="Rank by |β| of the prototype shown (1 = largest).")

    def __init__(self, **params):
        super().__init__(**params)
        self.state.param.watch(self._on_networks, "networks")
        if not self.networks:
            self.networks = self.default_networks()

    def default_networks(self) -> list[str]:
        """One pruned network per surface (bundled first, then the newest), in surface order."""
        chosen = {}
        for key in self.state.keys("pruned"):
            e = self.state.networks[key]
            if e.surface and (e.surface not in chosen or (e.origin == "bundled" and chosen[e.surface][1] != "bundled")):
                chosen[e.surface] = (key, e.origin)
        keys = [chosen[s][0] for s in sorted(chosen)]
        return keys or self.state.keys("pruned")[:3]

    def _on_networks(self, *events):
        kept = [k for k in self.networks if k in self.state.networks]
        self.networks = kept if kept else self.default_networks()

    def choices(self) -> dict[str, str]:
        return {**self.state.options("pruned"), **self.state.options("trained")}

    def prototype(self, key: str):
        """(values (26,), β in eV, stored index) of the prototype of rank :attr:`rank`, or None."""
        from rbfviz.viz.prototypes import prototype_by_rank

        return prototype_by_rank(self.state.entry(key).model, self.rank)


def _markup_free(options: dict[str, str]) -> dict[str, str]:
    """Option labels HTML-escaped: Bokeh's MultiChoice (choices.js with ``allowHTML``) renders them
    as markup, so a network named ``<img onerror=…>`` would run; escaped, it shows as typed."""
    return {html.escape(label): key for label, key in options.items()}


class CompareView(pn.viewable.Viewer):
    """One scene with a viewport per network (shared camera), and the overlaid site-opacity chart."""

    comparison = param.ClassSelector(class_=Comparison, doc="What is compared.")
    active = param.Boolean(default=False, doc="True while the tab is shown; the scene is built the first time.")
    scenes = param.ClassSelector(
        class_=SceneBehaviour, default=None, doc="The page's scene behaviour (the chart waits for its draws)."
    )

    def __init__(self, **params):
        super().__init__(**params)
        c = self.comparison
        self._choice = pn.widgets.MultiChoice(
            name="Networks",
            options=_markup_free(c.choices()),
            value=list(c.networks),
            max_items=MAX_COLUMNS,
            sizing_mode="stretch_width",
            css_classes=["rbf-compare-networks"],
        )
        self._choice.param.watch(lambda e: setattr(c, "networks", list(e.new)), "value")
        self._rank = pn.widgets.IntInput.from_param(
            c.param.rank, name="Prototype rank (1 = largest |β|)", width=220, css_classes=["rbf-compare-rank"]
        )
        self._columns = pn.Column(
            pn.pane.Markdown("(the scene is drawn when this tab is shown)"), css_classes=["rbf-compare-columns"]
        )
        self._notes = pn.pane.Markdown("", css_classes=["rbf-compare-notes"])
        self._chart = pn.Column(sizing_mode="stretch_width")
        self._live = None
        self._built = {}
        c.state.param.watch(self._on_state, "networks")
        c.param.watch(self._refresh, ["networks", "rank"])
        self.param.watch(self._refresh, "active")

    def _on_state(self, *events):
        c = self.comparison
        self._choice.options = _markup_free(c.choices())
        self._choice.value = list(c.networks)

    def _refresh(self, *events):
        with pn.io.hold():  # all changes in one message
            self._refresh_now()

    def _refresh_now(self):
        c = self.comparison
        first = self.active and self._live is None
        if first:
            self._live = LiveScene(compare_scene(), "rbf-compare-scene")
        if self._live is not None and self._built.get("scene") != (tuple(c.networks), c.rank):
            self._built["scene"] = (tuple(c.networks), c.rank)
            self._draw_scene()
        if first:  # the pane enters the page already holding the drawn scene
            self._columns.objects = [self._live.pane, scene_key(surface=True, width=700)]
        if self._live is not None and self.active and self._live.dirty:
            self._live.send(True)
        if self.active and self._built.get("chart") != tuple(c.networks):
            self._built["chart"] = tuple(c.networks)
            models = {c.state.entry(k).label: c.state.entry(k).model for k in c.networks}
            after_drawn(
                self.scenes,
                lambda: setattr(self._chart, "objects", [site_opacity_pane(models, "overlay", 380)] if models else []),
            )

    def _draw_scene(self):
        from rbfviz.viz.style import surface_label, surface_normal_label

        c = self.comparison
        items, surfaces, notes = [], [], []
        for key in c.networks[:MAX_COLUMNS]:
            entry = c.state.entry(key)
            proto = c.prototype(key)
            name = entry.info.name or entry.label
            if proto is None:
                notes.append(f"{escape_markdown(name)} has fewer than {c.rank} prototypes")
                continue
            values, beta, i = proto
            surface = entry.surface
            where = f"{surface_label(surface)} " if surface else ""
            normal = f" · normal {surface_normal_label(surface)}" if surface else ""
            items.append((values, f"{where}({i + 1}) β = {beta:+.3f} eV", "", f"{name}{normal}"))
            surfaces.append(surface)
        self._live.scene.show(items, surfaces=surfaces)
        self._live.send(self.active)
        lines = [f"Rank {c.rank} prototype of each network, left to right."] + notes
        if not c.networks:
            lines = ["Choose pruned networks to compare."]
        self._notes.object = " ".join(lines)

    def __panel__(self):
        return pn.Column(
            pn.pane.Markdown(
                "### Compare networks\nOne scene, one camera: drag any viewport and all turn together. "
                "The faint plane is the network's surface, the teal arrow its outward normal."
            ),
            pn.Row(self._choice, self._rank),
            self._notes,
            self._columns,
            pn.pane.Markdown("#### Site opacity of all compared networks"),
            self._chart,
            sizing_mode="stretch_width",
        )
