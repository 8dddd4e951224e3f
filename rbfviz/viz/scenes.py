"""3D scenes of prototypes (paper §3.2.2, Figures 4 and B.6-B.11).

A prototype Θ_i (26 values) is drawn on the 26 lattice sites of the jump environment: one sphere
per site, red for positive and blue for negative values, opacity ``min(|value| / threshold, 1)``
(fully opaque at ``|value| >= 2`` by default).  The migrating atom (solid gold) and its vacant
target site (dark grey wire cage) are always drawn, with faint grey nearest-neighbour bonds
among all 28 positions as guides.  Positions are in Å.  The lattice figure (Figure 2) is in
:mod:`rbfviz.viz.lattice_scene`, the dashboard's live scenes in :mod:`rbfviz.viz.prototype_scene`;
pieces they share (guides, cameras, text, the translucent off-screen plotter) are in
:mod:`rbfviz.viz.render`.

Rendering is off-screen.  Translucency uses depth peeling with MSAA switched off: on Mesa,
MSAA plus depth peeling makes translucent actors vanish (stack-recipes §2), and depth peeling
must be enabled per renderer.  All site spheres share one sphere mesh and one mapper; each site
is its own actor (named ``"site-01"`` ... ``"site-26"``) so a live view can recolour it with
:func:`update_prototype`.

Examples
--------
>>> import numpy as np
>>> pl = prototype_plotter(np.zeros(26), window_size=(200, 200))
>>> sorted(k for k in pl.actors if k.startswith("site-"))[:2]
['site-01', 'site-02']
>>> pl.close()
"""

from __future__ import annotations

import os

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import numpy as np
import pyvista as pv

from rbfviz.data.lattice import DEFAULT_SITES, VIEWPOINTS, SiteTable
from rbfviz.viz.labels import add_label_actor, site_label_mesh
from rbfviz.viz.prototypes import (
    as_prototypes,
    opacity,
    weight_order,
)
from rbfviz.viz.render import (
    SITE_RADIUS,
    SPHERE_RESOLUTION,
    add_text,
    bond_mesh,
    enable_translucency,
    jump_arrow,
    jump_meshes,
    new_plotter,
    place_legend,
    set_camera,
    site_actor,
    sphere_mapper,
)
from rbfviz.viz.style import (
    ARROW_COLOR,
    BOND_COLOR,
    JUMP_COLORS,
    OPACITY_THRESHOLD,
    SIGN_COLORS,
    TEXT_COLOR,
    view_label,
)

# --------------------------------------------------------------------------- constants
SHEET_RESOLUTION = 16  # lower resolution for sheets of many small panels
SHEET_KEY = "red > 0, blue < 0, opacity |value|/{t:g}\ngold: migrating atom, cage: vacancy"


# --------------------------------------------------------------------------- small pieces
def site_style(values, threshold: float = OPACITY_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """RGB colour and opacity per site for a prototype.

    Parameters
    ----------
    values : array-like of float, shape (n_sites,)
        One prototype.
    threshold : float, default=2.0
        ``|value|`` at which a sphere is fully opaque.

    Returns
    -------
    colors : numpy.ndarray, shape (n_sites, 3)
        Red (:data:`SIGN_COLORS` ``"positive"``) where value > 0, blue otherwise.
    opacities : numpy.ndarray, shape (n_sites,)

    Examples
    --------
    >>> c, o = site_style([2.0, -1.0])
    >>> o.tolist(), bool(c[0, 0] > c[0, 2]), bool(c[1, 2] > c[1, 0])
    ([1.0, 0.5], True, True)
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    pos, neg = np.asarray(SIGN_COLORS["positive"]), np.asarray(SIGN_COLORS["negative"])
    colors = np.where((v > 0)[:, None], pos[None, :], neg[None, :])  # (n_sites, 3)
    return colors, opacity(v, threshold)


def check_values(values, sites: SiteTable) -> np.ndarray:
    """One prototype's values as float64, shape ``(n_sites,)``; a clear error for a wrong shape or NaN."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.shape != (sites.num_sites,):
        raise ValueError(f"a prototype must have {sites.num_sites} values, one per site; got shape {np.shape(values)}")
    if not np.all(np.isfinite(v)):
        raise ValueError("prototype values must be finite")
    return v


def prototype_meshes(
    values,
    *,
    sites: SiteTable = DEFAULT_SITES,
    threshold: float = OPACITY_THRESHOLD,
    radius: float = SITE_RADIUS,
    resolution: int = SPHERE_RESOLUTION,
) -> dict[str, pv.PolyData]:
    """All geometry of a prototype scene as meshes, without plotting.

    Parameters
    ----------
    values : array-like of float, shape (n_sites,)
        One prototype.
    sites : SiteTable, default=DEFAULT_SITES
    threshold : float, default=2.0
    radius : float, default=0.75
        Sphere radius in Å.
    resolution : int, default=24
        Sphere theta/phi resolution.

    Returns
    -------
    dict of str to pyvista.PolyData
        ``"sites"``: one sphere per site with a visible opacity, merged, with point arrays
        ``"rgba"`` (uint8), ``"site"`` (1-based), ``"value"``, ``"opacity"``;
        ``"centers"``: a point cloud of all site positions with the same arrays (one point per
        site); ``"bonds"``, ``"migrating"``, ``"vacancy"``.

    Examples
    --------
    >>> m = prototype_meshes(np.r_[2.0, -1.0, np.zeros(24)])
    >>> np.unique(m["sites"]["site"]).tolist()
    [1, 2]
    >>> m["centers"]["rgba"][:2, 3].tolist()
    [255, 128]
    """
    v = check_values(values, sites)
    colors, op = site_style(v, threshold)
    rgba = np.hstack([colors, op[:, None]])  # (n_sites, 4)
    rgba8 = np.round(rgba * 255).astype(np.uint8)
    centers = pv.PolyData(sites.positions.astype(float))
    centers["site"] = np.arange(1, sites.num_sites + 1)
    centers["value"], centers["opacity"], centers["rgba"] = v, op, rgba8
    sphere = pv.Sphere(radius=radius, theta_resolution=resolution, phi_resolution=resolution)
    parts = []
    for i in np.flatnonzero(op > 0):
        s = sphere.translate(sites.positions[i], inplace=False)
        s.point_data.clear()
        s["site"] = np.full(s.n_points, i + 1)
        s["value"] = np.full(s.n_points, v[i])
        s["opacity"] = np.full(s.n_points, op[i])
        s["rgba"] = np.tile(rgba8[i], (s.n_points, 1))
        parts.append(s)
    merged = pv.merge(parts) if parts else pv.PolyData()
    return {"sites": merged, "centers": centers, "bonds": bond_mesh(sites), **jump_meshes(radius, resolution)}


def _add_guides(pl: pv.Plotter, sites: SiteTable, radius: float, resolution: int, bonds: bool) -> None:
    if bonds:
        pl.add_mesh(bond_mesh(sites), color=BOND_COLOR, line_width=1.0, name="bonds", reset_camera=False)
    jm = jump_meshes(radius, resolution)
    pl.add_mesh(
        jm["migrating"],
        color=JUMP_COLORS["migrating"],
        smooth_shading=True,
        specular=0.4,
        name="migrating",
        reset_camera=False,
    )
    pl.add_mesh(jm["vacancy"], color=JUMP_COLORS["vacancy"], line_width=1.5, name="vacancy", reset_camera=False)
    pl.add_mesh(jump_arrow(radius), color=ARROW_COLOR, smooth_shading=True, name="jump", reset_camera=False)


def _add_prototype(pl, values, *, sites, threshold, mapper, names: bool) -> None:
    colors, op = site_style(values, threshold)
    for i, (p, c, o) in enumerate(zip(sites.positions, colors, op)):
        pl.add_actor(
            site_actor(mapper, p, c, o), name=f"site-{i + 1:02d}" if names else None, reset_camera=False, render=False
        )


def _add_legend(pl: pv.Plotter, size=(0.34, 0.17)) -> None:
    legend = pl.add_legend(
        labels=[
            ["positive", SIGN_COLORS["positive"]],
            ["negative", SIGN_COLORS["negative"]],
            ["migrating atom", JUMP_COLORS["migrating"]],
            ["vacant site", JUMP_COLORS["vacancy"]],
        ],
        bcolor="white",
        face="circle",
        size=size,
        loc="lower right",
        background_opacity=0.8,
    )
    place_legend(legend, size, "right")


# --------------------------------------------------------------------------- public scenes
def prototype_plotter(
    values,
    *,
    view="[031]",
    window_size=(600, 600),
    threshold: float = OPACITY_THRESHOLD,
    sites: SiteTable = DEFAULT_SITES,
    title: str | None = None,
    legend: bool = True,
    bonds: bool = True,
    parallel: bool = True,
    radius: float = SITE_RADIUS,
    resolution: int = SPHERE_RESOLUTION,
    background="white",
    site_labels: bool = False,
) -> pv.Plotter:
    """An off-screen single-renderer Plotter showing one prototype.

    Parameters
    ----------
    values : array-like of float, shape (26,)
        The prototype Θ_i.
    view : str, 3-sequence or camera position, default="[031]"
        See :func:`camera_for`.
    window_size : (int, int), default=(600, 600)
    threshold : float, default=2.0
        ``|value|`` at which a site is fully opaque.
    sites : SiteTable, default=DEFAULT_SITES
    title : str, optional
        Text in the upper left corner; the view name is written in the upper right.
    legend : bool, default=True
        Colour legend (positive, negative, migrating atom, vacant site).
    bonds : bool, default=True
        Faint nearest-neighbour guide lines.
    parallel : bool, default=True
        Parallel projection (False: perspective).
    radius : float, default=0.75
        Sphere radius in Å.
    resolution : int, default=24
    background : color, default="white"
    site_labels : bool, default=False
        Site numbers as flat text meshes facing ``view`` (actor ``"labels"``; the same labels as the
        dashboard's live scenes, :mod:`rbfviz.viz.labels`).

    Returns
    -------
    pyvista.Plotter
        Off-screen, with actors ``"site-01"`` ... ``"site-26"``, ``"migrating"``, ``"vacancy"``
        and ``"bonds"``.  Usable in Panel as ``pn.pane.VTK(plotter.ren_win)``.

    Examples
    --------
    >>> pl = prototype_plotter(np.linspace(-2, 2, 26), view="[110]", window_size=(200, 200))
    >>> round(pl.actors["site-01"].prop.opacity, 2), round(pl.actors["site-26"].prop.opacity, 2)
    (1.0, 1.0)
    >>> pl.close()
    """
    v = check_values(values, sites)
    pl = new_plotter(window_size=window_size, background=background)
    enable_translucency(pl)
    _add_guides(pl, sites, radius, resolution, bonds)
    _add_prototype(pl, v, sites=sites, threshold=threshold, mapper=sphere_mapper(radius, resolution), names=True)
    if site_labels:
        add_label_actor(pl, site_label_mesh(view, sites=sites, radius=radius), name="labels")
    fs = max(7, int(min(window_size) / 50))
    if title:
        add_text(pl, title, position="upper_left", font_size=fs, color=TEXT_COLOR, name="title")
    add_text(pl, view_label(view), position="upper_right", font_size=fs, color=TEXT_COLOR, name="view")
    if legend:
        _add_legend(pl)
        add_text(
            pl, f"opacity = |value| / {threshold:g}", position="lower_left", font_size=fs, color=TEXT_COLOR, name="key"
        )
    set_camera(pl, view, parallel=parallel)
    return pl


def prototype_actors(
    plotter: pv.Plotter,
    values,
    *,
    threshold: float = OPACITY_THRESHOLD,
    sites: SiteTable = DEFAULT_SITES,
    bonds: bool = True,
    radius: float = SITE_RADIUS,
    resolution: int = SPHERE_RESOLUTION,
) -> dict:
    """Add a prototype's actors to the active renderer of an existing plotter.

    Turns on depth peeling for that renderer and switches MSAA off for the window (both needed
    for translucent spheres on Mesa).  The camera is left alone.

    Returns
    -------
    dict of str to pyvista.Actor
        ``"site-01"`` ... ``"site-26"``, ``"migrating"``, ``"vacancy"``, ``"jump"`` (and ``"bonds"``).

    Examples
    --------
    >>> pl = pv.Plotter(off_screen=True, window_size=(100, 100))
    >>> actors = prototype_actors(pl, np.ones(26))
    >>> len(actors), round(actors["site-03"].prop.opacity, 2)
    (30, 0.5)
    >>> pl.close()
    """
    v = check_values(values, sites)
    plotter.disable_anti_aliasing()
    enable_translucency(plotter)
    before = set(plotter.renderer.actors)
    _add_guides(plotter, sites, radius, resolution, bonds)
    _add_prototype(plotter, v, sites=sites, threshold=threshold, mapper=sphere_mapper(radius, resolution), names=True)
    return {k: a for k, a in plotter.renderer.actors.items() if k not in before}


def update_prototype(plotter: pv.Plotter, values, *, threshold: float = OPACITY_THRESHOLD) -> None:
    """Recolour the site actors of a :func:`prototype_plotter` in place (for live views).

    Examples
    --------
    >>> pl = prototype_plotter(np.zeros(26), window_size=(100, 100), legend=False)
    >>> update_prototype(pl, np.full(26, -1.0))
    >>> round(pl.actors["site-05"].prop.opacity, 2), pl.actors["site-05"].visibility
    (0.5, True)
    >>> pl.close()
    """
    colors, op = site_style(values, threshold)
    for i, (c, o) in enumerate(zip(colors, op)):
        actor = plotter.actors[f"site-{i + 1:02d}"]
        actor.prop.color = tuple(float(x) for x in c)
        actor.prop.opacity = float(o)
        actor.visibility = bool(o > 0)


def project_to_pixels(plotter: pv.Plotter, points) -> np.ndarray:
    """Pixel (column, row) of world points in the active renderer, row 0 at the top.

    Examples
    --------
    >>> pl = prototype_plotter(np.zeros(26), view="[001]", window_size=(200, 200))
    >>> project_to_pixels(pl, [(0.9037, 0.9037, 0.0)]).round().tolist()
    [[100.0, 100.0]]
    >>> pl.close()
    """
    ren = plotter.renderer
    plotter.render()
    height = plotter.window_size[1]
    out = []
    for p in np.atleast_2d(np.asarray(points, dtype=np.float64)):
        ren.SetWorldPoint(*p, 1.0)
        ren.WorldToDisplay()
        x, y, _ = ren.GetDisplayPoint()
        out.append((x, height - y))
    return np.asarray(out)


def render_prototype(
    values, path=None, *, view="[031]", window_size=(600, 600), transparent: bool = False, **kwargs
) -> np.ndarray:
    """Render one prototype to an image array (and a PNG if ``path`` is given).

    Parameters
    ----------
    values : array-like of float, shape (26,)
    path : str or Path, optional
        Where to save a PNG.
    view, window_size
        As in :func:`prototype_plotter`.
    transparent : bool, default=False
        Transparent background (RGBA image).
    **kwargs
        Passed to :func:`prototype_plotter`.

    Returns
    -------
    numpy.ndarray of uint8, shape (height, width, 3 or 4)

    Examples
    --------
    >>> render_prototype(np.zeros(26), window_size=(120, 100)).shape
    (100, 120, 3)
    """
    pl = prototype_plotter(values, view=view, window_size=window_size, **kwargs)
    try:
        img = pl.screenshot(str(path) if path else None, transparent_background=transparent, return_img=True)
    finally:
        pl.close()
    return np.asarray(img)


def prototype_sheet(
    model,
    *,
    order: str = "weight",
    per_sheet: int = 8,
    views=tuple(VIEWPOINTS),
    panel_size: int = 260,
    threshold: float = OPACITY_THRESHOLD,
    sites: SiteTable = DEFAULT_SITES,
    resolution: int = SHEET_RESOLUTION,
    images: bool = False,
    transparent: bool = False,
    bonds: bool = True,
    numbers=None,
):
    """Sheets of prototypes × views, like the paper's Figures B.6-B.11.

    Each sheet is one off-screen window with ``per_sheet`` rows (prototypes) and one column per
    view.  The first panel of each row is labelled with the prototype's stored index (1-based)
    (lower left) and its output weight β_i in eV; the first row names the views.  The last sheet has only
    as many rows as prototypes are left.

    Parameters
    ----------
    model : RBFN, tuple, dict or array
        Anything :func:`rbfviz.prototypes.as_prototypes` accepts.
    order : {"weight", "index"}, default="weight"
        Decreasing ``|β_i|``, or the stored order.
    per_sheet : int, default=8
    views : sequence, default=("[110]", "[001]", "[1-10]", "[031]")
    panel_size : int, default=260
        Pixels per panel side.
    threshold : float, default=2.0
    sites : SiteTable, default=DEFAULT_SITES
    resolution : int, default=16
        Sphere resolution (shared by all sites).
    images : bool, default=False
        Return rendered images (and close the plotters) instead of plotters.
    transparent : bool, default=False
        Transparent background for the images.
    bonds : bool, default=True
    numbers : sequence of int, optional
        The 0-based numbers to write for the prototypes (e.g. their indices in the whole network
        when ``model`` holds a chosen few); default: their indices in ``model``.

    Every sheet carries the key (colour, opacity rule, jump pair) in its last panel.

    Returns
    -------
    list of pyvista.Plotter, or list of numpy.ndarray if ``images``

    Examples
    --------
    >>> sheets = prototype_sheet((np.eye(3, 26) * 2, [0.1, -0.3, 0.2]), per_sheet=2, panel_size=60, images=True)
    >>> [s.shape for s in sheets]
    [(120, 240, 3), (60, 240, 3)]
    """
    p = as_prototypes(model)
    if p.centroids.shape[1] != sites.num_sites:
        raise ValueError(f"prototypes have {p.centroids.shape[1]} elements; the site table has {sites.num_sites}")
    if not isinstance(per_sheet, (int, np.integer)) or per_sheet < 1:
        raise ValueError(f"`per_sheet` must be a positive int; got {per_sheet!r}")
    views = list(views)
    idx = weight_order(p.weights_ev, order)
    mapper = sphere_mapper(SITE_RADIUS, resolution)
    fs = max(6, panel_size // 32)
    out = []
    for start in range(0, len(idx), per_sheet):
        chunk = idx[start : start + per_sheet]
        rows, cols = len(chunk), len(views)
        pl = new_plotter(shape=(rows, cols), window_size=(cols * panel_size, rows * panel_size))
        for r, k in enumerate(chunk):
            for c, view in enumerate(views):
                pl.subplot(r, c)
                enable_translucency(pl)
                _add_guides(pl, sites, SITE_RADIUS, resolution, bonds)
                _add_prototype(pl, p.centroids[k], sites=sites, threshold=threshold, mapper=mapper, names=False)
                if c == 0:
                    add_text(
                        pl,
                        f"({(k if numbers is None else int(numbers[k])) + 1})  \u03b2 = {p.weights_ev[k]:+.3f} eV",
                        position="lower_left",
                        font_size=fs,
                        color=TEXT_COLOR,
                    )
                if r == 0:
                    add_text(pl, view_label(view), position="upper_right", font_size=fs, color=(0.35, 0.35, 0.35))
                set_camera(pl, view)
        pl.subplot(rows - 1, cols - 1)
        add_text(pl, SHEET_KEY.format(t=threshold), position="lower_left", font_size=max(5, fs - 2), color=TEXT_COLOR)
        if images:
            img = pl.screenshot(None, transparent_background=transparent, return_img=True)
            pl.close()
            out.append(np.asarray(img))
        else:
            out.append(pl)
    return out
