"""Standalone HTML pages of the Prototypes and Compare views, for supplementary material.

One ``.html`` file that opens offline: the 3D scenes as vtk.js (Panel's VTK pane, the scene
serialised into the page) and the site-opacity chart (paper Figure 5) as Bokeh, saved with every
JavaScript and CSS resource inlined (``save(..., embed=True, resources=INLINE)``).  The scenes use
a perspective camera, since the page's vtk.js draws what Panel serialises (position, focal point,
view-up) with a 30° perspective.

Examples
--------
>>> import tempfile, pathlib
>>> from rbfviz.core.model import RBFN
>>> out = pathlib.Path(tempfile.mkdtemp()) / "prototypes.html"
>>> write_prototypes_html(RBFN(26, 3, seed=0), out, max_scenes=1).stat().st_size > 1_000_000
True
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import panel as pn

from rbfviz.core.validate import check_int
from rbfviz.viz.prototypes import as_prototypes, weight_order

# --------------------------------------------------------------------------- constants
SCENE_SIZE = 300  # px
SCENE_RESOLUTION = 14  # sphere resolution (the scene's size in the file grows with it)
SCENE_DOLLY = 1.6  # move the perspective camera closer (vtk.js gets position, not the view angle)
MAX_SCENES = 8
CHART_HEIGHT = 360  # px
# Panel's stylesheets and icons stay CDN links even with INLINE resources; they are inlined from the package.
_PANEL_DIST = re.compile(r"https://cdn\.holoviz\.org/panel/[^/\"]+/dist/([^\"?]+\.(css|png|ico|svg))(\?v=[^\"]*)?")
_MIME = {"css": "text/css", "png": "image/png", "ico": "image/x-icon", "svg": "image/svg+xml"}


def _scene(values, title: str, size: int) -> pn.pane.VTK:
    from rbfviz.viz.scenes import prototype_plotter

    pl = prototype_plotter(
        values, window_size=(size, size), legend=False, resolution=SCENE_RESOLUTION, parallel=False, title=title
    )
    pl.camera.Dolly(SCENE_DOLLY)
    pl.renderer.ResetCameraClippingRange()
    return pn.pane.VTK(pl.ren_win, width=size, height=size, orientation_widget=False, css_classes=["rbf-scene"])


def _chart(models: dict, layout: str):
    from rbfviz.viz.charts import site_opacity_chart

    return pn.pane.HoloViews(
        site_opacity_chart(models, layout=layout), backend="bokeh", height=CHART_HEIGHT, sizing_mode="stretch_width"
    )


def prototypes_page(model, *, label: str | None = None, max_scenes: int = MAX_SCENES, size: int = SCENE_SIZE):
    """The Prototypes page of one network: the ``max_scenes`` prototypes of largest |β| and Figure 5.

    Parameters
    ----------
    model : RBFN or anything :func:`rbfviz.viz.prototypes.as_prototypes` accepts
    label : str, optional
        Heading (default: the network's name or surface).
    max_scenes : int, default=8
    size : int, default=300
        Scene size in px.

    Returns
    -------
    panel.Column
    """
    max_scenes = check_int("max_scenes", max_scenes, low=1)
    p = as_prototypes(model, label)
    order = weight_order(p.weights_ev)[:max_scenes]
    scenes = [
        pn.Column(
            _scene(p.centroids[i], f"#{i + 1}", size),
            pn.pane.Markdown(f"prototype {i + 1}, β = {p.weights_ev[i]:+.4f} eV"),
        )
        for i in order
    ]
    return pn.Column(
        pn.pane.Markdown(f"## Prototypes of {p.label}\n{len(p)} prototypes; the {len(order)} of largest |β| shown."),
        pn.GridBox(*scenes, ncols=4),
        pn.pane.Markdown("### Site opacity (paper Figure 5)"),
        _chart({p.label: model}, "side"),
        sizing_mode="stretch_width",
    )


def compare_page(models: dict, *, rank: int = 1, size: int = SCENE_SIZE):
    """The Compare page: the prototype of rank ``rank`` (by |β|) of each network, and Figure 5 overlaid.

    Parameters
    ----------
    models : dict
        label -> network.
    rank : int, default=1
    size : int, default=300

    Returns
    -------
    panel.Column
    """
    if not models:
        raise ValueError("`models` must hold at least one network; got an empty dict.")
    rank = check_int("rank", rank, low=1)
    columns = []
    for label, model in models.items():
        p = as_prototypes(model, label)
        order = weight_order(p.weights_ev)
        if rank > len(order):
            columns.append(pn.pane.Markdown(f"#### {label}\nhas fewer than {rank} prototypes"))
            continue
        i = int(order[rank - 1])
        columns.append(
            pn.Column(
                pn.pane.Markdown(f"#### {label}"),
                _scene(p.centroids[i], f"{label} #{i + 1}", size),
                pn.pane.Markdown(f"prototype {i + 1}, β = {p.weights_ev[i]:+.4f} eV"),
            )
        )
    return pn.Column(
        pn.pane.Markdown(f"## Compare networks: prototype of rank {rank} by |β|"),
        pn.Row(*columns),
        pn.pane.Markdown("### Site opacity of all networks (paper Figure 5)"),
        _chart(dict(models), "overlay"),
        sizing_mode="stretch_width",
    )


def inline_stylesheets(html: str) -> str:
    """Replace Panel's CDN links (stylesheets, icons) by ``data:`` URLs of the installed package's files.

    Examples
    --------
    >>> inline_stylesheets('"https://cdn.holoviz.org/panel/1.9.4/dist/css/markdown.css"').startswith('"data:text/css')
    True
    """
    dist = Path(pn.__file__).parent / "dist"

    def replace(match):
        local = dist / match.group(1)
        if not local.is_file():
            return match.group(0)
        return f"data:{_MIME[match.group(2)]};base64," + base64.b64encode(local.read_bytes()).decode()

    return _PANEL_DIST.sub(replace, html)


def save_page(page, path, *, title: str = "rbfviz") -> Path:
    """Save a Panel layout as one self-contained HTML file (scripts, styles and scenes inlined)."""
    from bokeh.resources import INLINE

    pn.extension("vtk")  # loads vtk.js into the saved page's resources
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.save(str(path), embed=True, resources=INLINE, title=title)
    path.write_text(inline_stylesheets(path.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def write_prototypes_html(model, path, **kwargs) -> Path:
    """:func:`prototypes_page` saved to ``path`` (see :func:`save_page`)."""
    return save_page(prototypes_page(model, **kwargs), path, title="rbfviz prototypes")


def write_compare_html(models: dict, path, **kwargs) -> Path:
    """:func:`compare_page` saved to ``path`` (see :func:`save_page`)."""
    return save_page(compare_page(models, **kwargs), path, title="rbfviz compare")
