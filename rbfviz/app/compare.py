"""Compare view: networks side by side (by default one pruned network per surface).

Each column shows the prototype of the chosen rank (1 = largest |β|) of one network as a vtk.js
scene; the cameras are linked in the browser, so turning one turns all.  Below, the site-opacity
chart of all chosen networks on one axis (paper Figure 5).
"""

from __future__ import annotations

import panel as pn
import param

from rbfviz.app.prototypes import site_opacity_pane, vtk_pane
from rbfviz.app.state import AppState

# --------------------------------------------------------------------------- constants
SCENE_SIZE = 360  # px
SCENE_RESOLUTION = 14
MAX_COLUMNS = 4


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
        from rbfviz.viz.prototypes import as_prototypes, weight_order

        p = as_prototypes(self.state.entry(key).model)
        order = weight_order(p.weights_ev)
        if self.rank > len(order):
            return None
        i = int(order[self.rank - 1])
        return p.centroids[i], float(p.weights_ev[i]), i


class CompareView(pn.viewable.Viewer):
    """Columns of linked 3D scenes and the overlaid site-opacity chart."""

    comparison = param.ClassSelector(class_=Comparison, doc="What is compared.")
    active = param.Boolean(default=False, doc="Set once the tab is shown; scenes are built only then.")

    def __init__(self, **params):
        super().__init__(**params)
        c = self.comparison
        self._choice = pn.widgets.MultiChoice(
            name="Networks",
            options=c.choices(),
            value=list(c.networks),
            max_items=MAX_COLUMNS,
            sizing_mode="stretch_width",
        )
        self._choice.param.watch(lambda e: setattr(c, "networks", list(e.new)), "value")
        self._rank = pn.widgets.IntInput.from_param(c.param.rank, name="Prototype rank (1 = largest |β|)", width=220)
        self._columns = pn.Row(css_classes=["rbf-compare-columns"])
        self._chart = pn.Column(sizing_mode="stretch_width")
        self._built = None
        c.state.param.watch(self._on_state, "networks")
        c.param.watch(self._build, ["networks", "rank"])
        self.param.watch(self._build, "active")

    def _on_state(self, *events):
        c = self.comparison
        self._choice.options = c.choices()
        self._choice.value = list(c.networks)

    def _build(self, *events):
        from rbfviz.viz.scenes import prototype_plotter

        c = self.comparison
        if not self.active or self._built == (tuple(c.networks), c.rank):
            return
        self._built = (tuple(c.networks), c.rank)
        columns, panes = [], []
        for key in c.networks:
            entry = c.state.entry(key)
            proto = c.prototype(key)
            head = pn.pane.Markdown(f"#### ({entry.surface or '?'}) {entry.label}", width=SCENE_SIZE)
            if proto is None:
                columns.append(pn.Column(head, pn.pane.Markdown(f"has fewer than {c.rank} prototypes")))
                continue
            values, beta, i = proto
            pl = prototype_plotter(
                values,
                window_size=(SCENE_SIZE, SCENE_SIZE),
                legend=False,
                resolution=SCENE_RESOLUTION,
                title=f"({entry.surface or '?'}) #{i + 1} β={beta:+.3f} eV",
            )
            pane = vtk_pane(pl, SCENE_SIZE)
            if panes:  # same camera on the server, and linked cameras in the browser
                pane.link_camera(panes[0])
                panes[0].jslink(pane, camera="camera", bidirectional=True)
            panes.append(pane)
            columns.append(pn.Column(head, pane, pn.pane.Markdown(f"prototype ({i + 1}), β = {beta:+.4f} eV")))
        self._columns.objects = columns or [pn.pane.Markdown("Choose pruned networks to compare.")]
        models = {c.state.entry(k).label: c.state.entry(k).model for k in c.networks}
        self._chart.objects = [site_opacity_pane(models, "overlay", 380)] if models else []

    def __panel__(self):
        return pn.Column(
            pn.pane.Markdown("### Compare networks\nCameras are linked: rotate one scene and the others follow."),
            pn.Row(self._choice, self._rank),
            self._columns,
            pn.pane.Markdown("#### Site opacity of all compared networks"),
            self._chart,
            sizing_mode="stretch_width",
        )
