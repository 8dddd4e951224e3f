"""Lattice view: the 26 sites of the jump environment, numbered and coloured by group (paper Figure 2).

The picture is :func:`rbfviz.viz.lattice_scene.lattice_plotter` rendered off-screen (the same
figure as ``rbfviz figures``), without its in-picture legend: the groups are explained beside it
in HTML, readable at any width, and a table lists every site's number, group, coordinates and
layer per surface.  Rendered the first time the tab is shown.
"""

from __future__ import annotations

import io

import panel as pn
import param

# --------------------------------------------------------------------------- constants
IMAGE_SIZE = 520  # px
SURFACE_CHOICES = {"free environment": None, "{100}": "100", "{110}": "110", "{111}": "111"}
FREE = "free"  # the radio buttons' value for None (Panel shows no button pressed for a None value)


class LatticeView(pn.viewable.Viewer):
    """Figure 2 with the group key and the site table."""

    active = param.Boolean(default=False, doc="True while the tab is shown; the picture is drawn the first time.")
    surface = param.Selector(default=None, objects=list(SURFACE_CHOICES.values()), doc="Embedding surface.")

    def __init__(self, **params):
        super().__init__(**params)
        self._surface = pn.widgets.RadioButtonGroup(
            name="Surface",
            options={k: FREE if v is None else v for k, v in SURFACE_CHOICES.items()},
            value=FREE if self.surface is None else self.surface,
            css_classes=["rbf-lattice-surface"],
        )
        self._surface.param.watch(lambda e: setattr(self, "surface", None if e.new == FREE else e.new), "value")
        self._image = pn.pane.PNG(None, width=IMAGE_SIZE, css_classes=["rbf-lattice-image"])
        self._table = pn.widgets.Tabulator(
            disabled=True, show_index=False, height=IMAGE_SIZE, width=560, css_classes=["rbf-lattice-table"]
        )
        self._drawn = object()
        self.param.watch(self._refresh, ["active", "surface"])

    def _refresh(self, *events):
        if not self.active or self._drawn == self.surface:
            return
        self._drawn = self.surface
        self._image.object = lattice_png(self.surface)
        if self._table.value is None or len(self._table.value) == 0:
            self._table.value = site_table()

    def __panel__(self):
        from rbfviz.viz.style import group_key_html

        return pn.Column(
            pn.pane.Markdown(
                "### The jump environment (Figure 2)\nThe migrating atom (gold) jumps along [110] into the vacant "
                "site (grey cage); the 26 numbered sites around them are the network's inputs. No two numbers "
                "overlap: a number moved off its sphere (a hidden site's, on a surface) has a thin line to it."
            ),
            self._surface,
            pn.Row(self._image, pn.Column(pn.pane.HTML(group_key_html(), width=330), self._table)),
            sizing_mode="stretch_width",
        )


def lattice_png(surface=None, size: int = IMAGE_SIZE) -> bytes:
    """The lattice picture with every site numbered (numbers placed so none overlap) as PNG bytes.

    Text is sized as for a one-column figure (:func:`rbfviz.viz.lattice_scene.lattice_plotter`), which
    at this size reads well on screen; the key is HTML beside the picture."""
    from PIL import Image

    from rbfviz.viz.lattice_scene import lattice_plotter

    pl = lattice_plotter(surface, window_size=(size, size), legend=False, labels=True)
    try:
        img = pl.screenshot(None, return_img=True)
    finally:
        pl.close()
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def site_table():
    """One row per site: number, group, what the group means, coordinates (a/2) and layers."""
    from rbfviz.data.lattice import DEFAULT_SITES, GROUP_DESCRIPTIONS
    from rbfviz.viz.export import sites_frame

    df = sites_frame(DEFAULT_SITES)
    df.insert(2, "group meaning", [GROUP_DESCRIPTIONS[g].replace("(1-10)", "(1\u030510)") for g in df["group"]])
    return df
