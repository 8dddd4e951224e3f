"""3D scenes of prototypes and of the lattice (paper §3.2.2, Figures 2, 4 and B.6-B.11).

A prototype Θ_i (26 values) is drawn on the 26 lattice sites of the jump environment: one sphere
per site, red for positive and blue for negative values, opacity ``min(|value| / threshold, 1)``
(fully opaque at ``|value| >= 2`` by default).  The migrating atom (solid gold) and its vacant
target site (dark grey wire cage) are always drawn, with faint grey nearest-neighbour bonds
among all 28 positions as guides.  Positions are in Å.

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

from pathlib import Path  # noqa: E402

from matplotlib import get_data_path as matplotlib_data_path  # noqa: E402

import numpy as np  # noqa: E402
import pyvista as pv  # noqa: E402

from rbfviz.lattice import (  # noqa: E402
    DEFAULT_SITES,
    FINAL_SITE,
    GROUPS,
    HALF_A,
    INITIAL_SITE,
    SURFACE_NORMALS,
    VIEWPOINTS,
    SiteTable,
    check_surface,
    is_fcc_site,
)
from rbfviz.prototypes import (  # noqa: E402
    GROUP_COLORS,
    JUMP_COLORS,
    OPACITY_THRESHOLD,
    SIGN_COLORS,
    as_prototypes,
    opacity,
    weight_order,
)

# --------------------------------------------------------------------------- constants
SITE_RADIUS = 0.75  # Å; 1nn distance is 2.556 Å
BULK_RADIUS = 0.35  # Å, grey substrate atoms of the lattice figure
SPHERE_RESOLUTION = 24  # theta/phi resolution of the one shared sphere mesh
SHEET_RESOLUTION = 16  # lower resolution for sheets of many small panels
BOND_COLOR = (0.72, 0.72, 0.72)
BULK_COLOR = (0.62, 0.62, 0.62)
PLANE_COLOR = (0.55, 0.70, 0.85)
TEXT_COLOR = (0.1, 0.1, 0.1)
NUMBER_OF_PEELS = 12
VIEW_LABELS = {"[110]": "[110]", "[001]": "[001]", "[1-10]": "[1\u030510]", "[031]": "[031]"}  # 1̄ as in the paper
FONT_FILE = str(Path(matplotlib_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")  # same face as the charts
LATTICE_VIEW = (1.0, -1.0, 0.7)  # oblique view of the free environment, the jump to the right
_CENTER = (INITIAL_SITE + FINAL_SITE) / 2 * HALF_A  # midpoint of the jump, Å
_VIEW_EXTENT = 5.9  # Å, half height of the parallel view: the farthest site is 4.6 Å + radius


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


def nn_bonds(coords: np.ndarray) -> np.ndarray:
    """Index pairs (i < j) of first-neighbour pairs among integer a/2 coordinates.

    Examples
    --------
    >>> nn_bonds(np.array([[0, 0, 0], [1, 1, 0], [2, 2, 0]])).tolist()
    [[0, 1], [1, 2]]
    """
    c = np.asarray(coords)
    d2 = np.sum((c[:, None, :] - c[None, :, :]) ** 2, axis=-1)  # (n, n)
    i, j = np.nonzero(np.triu(d2 == 2, k=1))
    return np.stack([i, j], axis=1)


def bond_mesh(sites: SiteTable = DEFAULT_SITES) -> pv.PolyData:
    """Line segments of the nearest-neighbour bonds among the sites and both jump positions (Å).

    Examples
    --------
    >>> bond_mesh().n_cells > 50
    True
    """
    coords = np.vstack([sites.coords, INITIAL_SITE, FINAL_SITE])
    pairs = nn_bonds(coords)
    lines = np.hstack([np.full((len(pairs), 1), 2), pairs]).ravel()
    return pv.PolyData(coords * HALF_A, lines=lines)


def jump_meshes(radius: float = SITE_RADIUS, resolution: int = SPHERE_RESOLUTION) -> dict[str, pv.PolyData]:
    """Meshes of the migrating atom (a sphere) and the vacant target (a wire cage), in Å.

    Examples
    --------
    >>> m = jump_meshes()
    >>> sorted(m), m["migrating"].center
    (['migrating', 'vacancy'], (0.0, 0.0, 0.0))
    """
    atom = pv.Sphere(radius=radius, center=INITIAL_SITE * HALF_A, theta_resolution=resolution,
                     phi_resolution=resolution)
    cage = pv.Sphere(radius=radius * 0.8, center=FINAL_SITE * HALF_A, theta_resolution=10, phi_resolution=7)
    return {"migrating": atom, "vacancy": cage.extract_all_edges()}


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
    v = _check_values(values, sites)
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


def _check_values(values, sites: SiteTable) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.shape != (sites.num_sites,):
        raise ValueError(
            f"a prototype must have {sites.num_sites} values, one per site; got shape {np.shape(values)}"
        )
    if not np.all(np.isfinite(v)):
        raise ValueError("prototype values must be finite")
    return v


def camera_for(view, *, center=_CENTER, extent: float = _VIEW_EXTENT):
    """PyVista camera position ``[position, focal_point, view_up]`` for a named view or direction.

    Parameters
    ----------
    view : str or 3-sequence or camera position
        A key of :data:`rbfviz.lattice.VIEWPOINTS` (``"[110]"``, ``"[001]"``, ``"[1-10]"``,
        ``"[031]"``), a direction to look *from* in lattice coordinates, or a full camera
        position (three 3-vectors), returned unchanged.
    center : 3-sequence, default=the jump midpoint (Å)
    extent : float, default=5.9
        Half height of the view in Å; the camera stands ``6 * extent`` away.

    Returns
    -------
    list of three tuples

    Notes
    -----
    The view-up is [001] except when looking along [001], where it is [-110], so that the
    jump [110] points to the right.

    Examples
    --------
    >>> pos, focal, up = camera_for("[001]")
    >>> np.round(up, 3).tolist()
    [-0.707, 0.707, 0.0]
    """
    if isinstance(view, str):
        if view not in VIEWPOINTS:
            raise ValueError(f"unknown view {view!r}; expected one of {list(VIEWPOINTS)} or a direction")
        view = VIEWPOINTS[view]
    arr = np.asarray(view, dtype=np.float64)
    if arr.shape == (3, 3):
        return [tuple(map(float, r)) for r in arr]
    if arr.shape != (3,) or not np.any(arr):
        raise ValueError(f"view must be a name, a nonzero 3-vector or a camera position; got {view!r}")
    d = arr / np.linalg.norm(arr)
    up = np.array([0.0, 0.0, 1.0])
    if abs(d @ up) > 0.99:
        up = np.array([-1.0, 1.0, 0.0]) / np.sqrt(2)
    up = up - (up @ d) * d
    up /= np.linalg.norm(up)
    c = np.asarray(center, dtype=np.float64)
    return [tuple(map(float, c + 6 * extent * d)), tuple(map(float, c)), tuple(map(float, up))]


def _view_label(view) -> str:
    if isinstance(view, str):
        return VIEW_LABELS.get(view, view)
    arr = np.asarray(view)
    return "[" + " ".join(f"{x:g}" for x in arr.ravel()) + "]" if arr.shape == (3,) else "custom view"


def _set_camera(pl: pv.Plotter, view, extent: float = _VIEW_EXTENT, parallel: bool = True) -> None:
    pl.camera_position = camera_for(view, extent=extent)
    if parallel:
        pl.enable_parallel_projection()
        pl.camera.parallel_scale = extent
    else:
        pl.camera.view_angle = 2 * np.degrees(np.arctan(1 / 6))  # same framing as parallel
    pl.renderer.ResetCameraClippingRange()


_TEXT_ANCHORS = {  # position -> (viewport xy, horizontal, vertical justification)
    "upper_left": ((0.02, 0.97), "left", "top"),
    "upper_right": ((0.98, 0.97), "right", "top"),
    "lower_left": ((0.02, 0.03), "left", "bottom"),
}


def _text(pl: pv.Plotter, text: str, position="upper_left", font_size: int = 12, color=TEXT_COLOR, name=None):
    """Corner text in DejaVu Sans (VTK's built-in fonts lack β and the combining overline).

    The two upper corners are placed as plain text actors, not as one shared corner annotation,
    which would shrink both texts to fit together."""
    font_file = FONT_FILE if Path(FONT_FILE).exists() else None
    if position in _TEXT_ANCHORS:
        xy, horizontal, vertical = _TEXT_ANCHORS[position]
        actor = pv.Plotter.add_text(pl, text, position=xy, viewport=True, font_size=font_size, color=color,
                                    name=name, font_file=font_file)
        actor.prop.justification_horizontal = horizontal
        actor.prop.justification_vertical = vertical
        return actor
    return pv.Plotter.add_text(pl, text, position=position, font_size=font_size, color=color, name=name,
                               font_file=font_file)


def _enable_translucency(pl: pv.Plotter) -> None:
    """Depth peeling on the active renderer (call once per subplot)."""
    pl.enable_depth_peeling(number_of_peels=NUMBER_OF_PEELS, occlusion_ratio=0.0)


def _new_plotter(shape=(1, 1), window_size=(600, 600), background="white") -> pv.Plotter:
    pl = pv.Plotter(off_screen=True, shape=shape, window_size=list(window_size), border=False)
    pl.set_background(background)
    pl.disable_anti_aliasing()  # MSAA + depth peeling => translucent actors vanish on Mesa
    return pl


def _shared_sphere_mapper(radius: float, resolution: int) -> pv.DataSetMapper:
    sphere = pv.Sphere(radius=radius, theta_resolution=resolution, phi_resolution=resolution)
    mapper = pv.DataSetMapper(sphere)
    mapper.scalar_visibility = False
    return mapper


def _site_actor(mapper, position, color, opacity_: float) -> pv.Actor:
    actor = pv.Actor(mapper=mapper)
    actor.position = tuple(float(x) for x in position)
    prop = actor.prop
    prop.color = tuple(float(x) for x in color)
    prop.opacity = float(opacity_)
    prop.interpolation = "phong"
    prop.ambient, prop.diffuse, prop.specular, prop.specular_power = 0.25, 0.75, 0.25, 30.0
    prop.culling = "back"  # one surface per sphere, so its blended opacity is the site's opacity
    actor.visibility = bool(opacity_ > 0)
    return actor


def _add_guides(pl: pv.Plotter, sites: SiteTable, radius: float, resolution: int, bonds: bool) -> None:
    if bonds:
        pl.add_mesh(bond_mesh(sites), color=BOND_COLOR, line_width=1.0, name="bonds", reset_camera=False)
    jm = jump_meshes(radius, resolution)
    pl.add_mesh(jm["migrating"], color=JUMP_COLORS["migrating"], smooth_shading=True, specular=0.4,
                name="migrating", reset_camera=False)
    pl.add_mesh(jm["vacancy"], color=JUMP_COLORS["vacancy"], line_width=1.5, name="vacancy", reset_camera=False)


def _add_prototype(pl, values, *, sites, threshold, mapper, names: bool) -> None:
    colors, op = site_style(values, threshold)
    for i, (p, c, o) in enumerate(zip(sites.positions, colors, op)):
        pl.add_actor(_site_actor(mapper, p, c, o), name=f"site-{i + 1:02d}" if names else None,
                     reset_camera=False, render=False)


def _place_legend(legend, size, corner: str) -> None:
    """Put a legend box fully inside the viewport (PyVista's ``loc`` mixes up width and height)."""
    x = 0.01 if corner == "left" else 0.99 - size[0]
    legend.SetPosition(x, 0.01)
    legend.SetPosition2(*size)


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
    _place_legend(legend, size, "right")


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
    v = _check_values(values, sites)
    pl = _new_plotter(window_size=window_size, background=background)
    _enable_translucency(pl)
    _add_guides(pl, sites, radius, resolution, bonds)
    _add_prototype(pl, v, sites=sites, threshold=threshold, mapper=_shared_sphere_mapper(radius, resolution),
                   names=True)
    fs = max(7, int(min(window_size) / 50))
    if title:
        _text(pl, title, position="upper_left", font_size=fs, color=TEXT_COLOR, name="title")
    _text(pl, _view_label(view), position="upper_right", font_size=fs, color=TEXT_COLOR, name="view")
    if legend:
        _add_legend(pl)
    _set_camera(pl, view, parallel=parallel)
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
        ``"site-01"`` ... ``"site-26"``, ``"migrating"``, ``"vacancy"`` (and ``"bonds"``).

    Examples
    --------
    >>> pl = pv.Plotter(off_screen=True, window_size=(100, 100))
    >>> actors = prototype_actors(pl, np.ones(26))
    >>> len(actors), round(actors["site-03"].prop.opacity, 2)
    (29, 0.5)
    >>> pl.close()
    """
    v = _check_values(values, sites)
    plotter.disable_anti_aliasing()
    _enable_translucency(plotter)
    before = set(plotter.renderer.actors)
    _add_guides(plotter, sites, radius, resolution, bonds)
    _add_prototype(plotter, v, sites=sites, threshold=threshold, mapper=_shared_sphere_mapper(radius, resolution),
                   names=True)
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


def render_prototype(values, path=None, *, view="[031]", window_size=(600, 600), transparent: bool = False,
                     **kwargs) -> np.ndarray:
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
    mapper = _shared_sphere_mapper(SITE_RADIUS, resolution)
    fs = max(6, panel_size // 32)
    out = []
    for start in range(0, len(idx), per_sheet):
        chunk = idx[start:start + per_sheet]
        rows, cols = len(chunk), len(views)
        pl = _new_plotter(shape=(rows, cols), window_size=(cols * panel_size, rows * panel_size))
        for r, k in enumerate(chunk):
            for c, view in enumerate(views):
                pl.subplot(r, c)
                _enable_translucency(pl)
                _add_guides(pl, sites, SITE_RADIUS, resolution, bonds)
                _add_prototype(pl, p.centroids[k], sites=sites, threshold=threshold, mapper=mapper, names=False)
                if c == 0:
                    _text(pl, f"({k + 1})  \u03b2 = {p.weights_ev[k]:+.3f} eV", position="lower_left",
                                font_size=fs, color=TEXT_COLOR)
                if r == 0:
                    _text(pl, _view_label(view), position="upper_right", font_size=fs, color=(0.35, 0.35, 0.35))
                _set_camera(pl, view)
        if images:
            img = pl.screenshot(None, transparent_background=transparent, return_img=True)
            pl.close()
            out.append(np.asarray(img))
        else:
            out.append(pl)
    return out


# --------------------------------------------------------------------------- the lattice figure
def _bulk_coords(surface: str, sites: SiteTable, layers: int = 3, reach: float = 3.2) -> np.ndarray:
    """FCC sites (a/2) below layer 0 of ``surface``, ``layers`` layers deep, in a square of half
    side ``reach`` (a/2) around the jump midpoint, with sides along [110] and along the surface
    normal × [110]; the 26 sites and the jump pair are left out."""
    n = np.asarray(SURFACE_NORMALS[surface], dtype=np.float64)
    div = {"100": 1, "110": 1, "111": 2}[surface]
    r = np.arange(-7, 9)
    grid = np.stack(np.meshgrid(r, r, r, indexing="ij"), axis=-1).reshape(-1, 3)  # (16³, 3)
    grid = grid[is_fcc_site(grid)]
    layer = (grid @ n.astype(np.int64)) // div
    mid = (INITIAL_SITE + FINAL_SITE) / 2
    rel = grid - mid
    along = np.array([1.0, 1.0, 0.0]) / np.sqrt(2)
    across = np.cross(n / np.linalg.norm(n), along)
    inside = (np.abs(rel @ along) <= reach) & (np.abs(rel @ across) <= reach)
    keep = (layer < 0) & (layer >= -layers) & inside
    taken = {tuple(c) for c in sites.coords.tolist()} | {tuple(INITIAL_SITE), tuple(FINAL_SITE)}
    return np.array([c for c in grid[keep].tolist() if tuple(c) not in taken], dtype=np.int64)


def lattice_meshes(surface=None, *, sites: SiteTable = DEFAULT_SITES) -> dict[str, pv.PolyData]:
    """Meshes of the lattice figure (paper Figure 2), without plotting.

    Returns
    -------
    dict of str to pyvista.PolyData
        ``"sites"`` (points with ``"site"`` and ``"group"`` index arrays); with a surface also
        ``"bulk"`` (points of the substrate atoms) and ``"plane"`` (the top of the substrate).

    Examples
    --------
    >>> m = lattice_meshes("100")
    >>> m["sites"].n_points, m["bulk"].n_points > 20, round(m["plane"].center[2], 3)
    (26, True, -0.904)
    """
    pts = pv.PolyData(sites.positions.astype(float))
    pts["site"] = np.arange(1, sites.num_sites + 1)
    pts["group"] = np.array([GROUPS.index(g) for g in sites.groups])
    out = {"sites": pts}
    if surface is not None:
        surface = check_surface(surface)
        n = np.asarray(SURFACE_NORMALS[surface], dtype=np.float64)
        n_hat = n / np.linalg.norm(n)
        bulk = _bulk_coords(surface, sites)
        out["bulk"] = pv.PolyData(bulk * HALF_A)
        spacing = (1 if surface != "111" else 2) / np.linalg.norm(n) * HALF_A  # Å between layers
        center = _CENTER - 0.5 * spacing * n_hat
        out["plane"] = pv.Plane(center=center, direction=n_hat, i_size=2 * 3.4 * HALF_A, j_size=2 * 3.4 * HALF_A)
        # orient the plane's square with the slab: i along [110]
        out["plane"] = _align_plane(out["plane"], center, n_hat)
    return out


def _align_plane(plane: pv.PolyData, center, n_hat) -> pv.PolyData:
    """Rotate a square plane about its normal so its edges run along [110] and n × [110]."""
    along = np.array([1.0, 1.0, 0.0]) / np.sqrt(2)
    pts = plane.points - center
    # current in-plane edge direction: the first edge of the square
    e = pts[1] - pts[0]
    e /= np.linalg.norm(e)
    angle = np.degrees(np.arctan2(np.cross(e, along) @ n_hat, e @ along))
    return plane.rotate_vector(n_hat, angle, point=center, inplace=False)


def _surface_camera(surface: str, elevation: float = 35.0):
    n = np.asarray(SURFACE_NORMALS[surface], dtype=np.float64)
    up = n / np.linalg.norm(n)
    right = np.array([1.0, 1.0, 0.0]) / np.sqrt(2)  # the jump points to the right
    back = np.cross(right, up)  # from the focal point towards the viewer, side-on
    e = np.radians(elevation)
    d = np.cos(e) * back + np.sin(e) * up
    cam_up = -np.sin(e) * back + np.cos(e) * up
    c = _CENTER - 0.8 * up
    return [tuple(c + 6 * _VIEW_EXTENT * d), tuple(c), tuple(cam_up)]


def _draw_lattice(pl: pv.Plotter, surface, sites: SiteTable, labels: bool, font_size: int, view,
                  legend_room: bool = False) -> None:
    _enable_translucency(pl)
    meshes = lattice_meshes(surface, sites=sites)
    pl.add_mesh(bond_mesh(sites), color=BOND_COLOR, line_width=1.0, reset_camera=False)
    sphere = pv.Sphere(radius=SITE_RADIUS * 0.8, theta_resolution=SPHERE_RESOLUTION, phi_resolution=SPHERE_RESOLUTION)
    mapper = pv.DataSetMapper(sphere)
    mapper.scalar_visibility = False
    for p, g in zip(sites.positions, sites.groups):
        pl.add_actor(_site_actor(mapper, p, pv.Color(GROUP_COLORS[g]).float_rgb, 1.0), reset_camera=False, render=False)
    jm = jump_meshes(SITE_RADIUS * 0.8)
    pl.add_mesh(jm["migrating"], color=JUMP_COLORS["migrating"], smooth_shading=True, reset_camera=False)
    pl.add_mesh(jm["vacancy"], color=JUMP_COLORS["vacancy"], line_width=1.5, reset_camera=False)
    if surface is not None:
        small = pv.Sphere(radius=BULK_RADIUS, theta_resolution=12, phi_resolution=12)
        pl.add_mesh(meshes["bulk"].glyph(geom=small, scale=False, orient=False), color=BULK_COLOR,
                    smooth_shading=True, reset_camera=False)
        pl.add_mesh(meshes["plane"], color=PLANE_COLOR, opacity=0.25, reset_camera=False)
        _text(pl, f"{{{surface}}}", position="upper_left", font_size=font_size + 2, color=TEXT_COLOR)
        pl.camera_position = _surface_camera(surface) if view is None else camera_for(view)
        pl.enable_parallel_projection()
        pl.camera.parallel_scale = _VIEW_EXTENT + 0.8
    else:
        _text(pl, "26 sites", position="upper_left", font_size=font_size + 2, color=TEXT_COLOR)
        _set_camera(pl, LATTICE_VIEW if view is None else view, extent=_VIEW_EXTENT + 0.4)
    if view is None and legend_room:  # move the scene up, out of the legend's way
        cam = pl.camera
        cam.parallel_scale = cam.parallel_scale * 1.25
        shift = 0.28 * cam.parallel_scale * np.asarray(cam.up)
        cam.focal_point = tuple(np.asarray(cam.focal_point) - shift)
        cam.position = tuple(np.asarray(cam.position) - shift)
    if labels:
        pl.add_point_labels(sites.positions, [str(i) for i in range(1, sites.num_sites + 1)], font_size=font_size,
                            text_color="black", shape=None, show_points=False, always_visible=True,
                            font_file=FONT_FILE if Path(FONT_FILE).exists() else None, bold=False,
                            reset_camera=False, justification_horizontal="center",
                            justification_vertical="center")
    pl.renderer.ResetCameraClippingRange()


def _add_group_legend(pl: pv.Plotter) -> None:
    entries = [[f"{g}: {_SHORT_GROUP[g]}", GROUP_COLORS[g]] for g in GROUPS]
    entries += [["migrating atom", JUMP_COLORS["migrating"]], ["vacant site", JUMP_COLORS["vacancy"]]]
    legend = pl.add_legend(labels=entries, bcolor="white", face="circle", size=(0.5, 0.26), loc="lower left",
                           background_opacity=0.8)
    _place_legend(legend, (0.5, 0.26), "left")


_SHORT_GROUP = {"C": "1nn of both", "I1": "1nn of initial", "F1": "1nn of final", "P2": "2nn, (001) plane",
                "Q2": "2nn, (1-10) plane"}


def lattice_plotter(
    surface=None,
    *,
    window_size=(600, 600),
    labels: bool | None = None,
    legend: bool = True,
    view=None,
    sites: SiteTable = DEFAULT_SITES,
) -> pv.Plotter:
    """The 26 sites coloured by group (paper Figure 2), optionally embedded in a surface.

    Parameters
    ----------
    surface : {None, "100", "110", "111"}, default=None
        None: the free environment.  A surface: the environment on a finite slab of grey
        substrate atoms (three layers below the migrating atom's layer) under a translucent
        plane, seen from the side and slightly above, with the jump pointing right.
    window_size : (int, int), default=(600, 600)
    labels : bool, optional
        Site numbers (1-26).  Default: on for the free environment, off on a surface, where
        numbers of hidden sites would show through the front spheres.
    legend : bool, default=True
    view : optional
        Override the camera (see :func:`camera_for`).
    sites : SiteTable, default=DEFAULT_SITES

    Returns
    -------
    pyvista.Plotter (off-screen, one renderer)

    Examples
    --------
    >>> pl = lattice_plotter("111", window_size=(200, 200))
    >>> pl.close()
    """
    labels = surface is None if labels is None else labels
    pl = _new_plotter(window_size=window_size)
    _draw_lattice(pl, surface, sites, labels, max(8, int(min(window_size) / 45)), view, legend_room=legend)
    if legend:
        _add_group_legend(pl)
    return pl


def lattice_figure(*, panel_size: int = 500, labels: bool = True, surface_labels: bool = False,
                   sites: SiteTable = DEFAULT_SITES) -> pv.Plotter:
    """Figure 2 as one window: the free environment and its {100}, {110} and {111} embeddings.

    ``labels`` numbers the sites of the first panel, ``surface_labels`` those of the other three.

    Examples
    --------
    >>> pl = lattice_figure(panel_size=100)
    >>> pl.shape
    (1, 4)
    >>> pl.close()
    """
    pl = _new_plotter(shape=(1, 4), window_size=(4 * panel_size, panel_size))
    for k, surface in enumerate([None, *("100", "110", "111")]):
        pl.subplot(0, k)
        _draw_lattice(pl, surface, sites, labels if k == 0 else surface_labels, max(7, panel_size // 40), None,
                      legend_room=k == 0)
        if k == 0:
            _add_group_legend(pl)
    return pl

