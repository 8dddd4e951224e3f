"""The lattice figure: the 26 sites of the jump environment coloured by group (paper Figure 2).

The free environment, and the same environment embedded in a {100}, {110} or {111} surface:
a finite slab of grey substrate atoms (three layers below the migrating atom's layer) under a
translucent plane, seen from the side and slightly above, with the jump pointing right.
:func:`lattice_meshes` gives the geometry as meshes, :func:`lattice_plotter` one panel and
:func:`lattice_figure` the four panels of Figure 2 in one off-screen window.  Positions are in Å.

Examples
--------
>>> m = lattice_meshes()
>>> m["sites"].n_points, sorted(m)
(26, ['sites'])
>>> pl = lattice_plotter("100", window_size=(120, 120))
>>> pl.close()
"""

from __future__ import annotations

import os

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

from pathlib import Path

import numpy as np
import pyvista as pv

from rbfviz.data.lattice import (
    DEFAULT_SITES,
    FINAL_SITE,
    GROUPS,
    HALF_A,
    INITIAL_SITE,
    SURFACE_NORMALS,
    SiteTable,
    check_surface,
    is_fcc_site,
)
from rbfviz.viz.render import (
    JUMP_CENTER,
    SITE_RADIUS,
    SPHERE_RESOLUTION,
    VIEW_EXTENT,
    add_text,
    bond_mesh,
    camera_for,
    enable_translucency,
    jump_meshes,
    new_plotter,
    place_legend,
    set_camera,
    site_actor,
    sphere_mapper,
)
from rbfviz.viz.style import BOND_COLOR, FONT_FILE, GROUP_COLORS, JUMP_COLORS, TEXT_COLOR

# --------------------------------------------------------------------------- constants
BULK_RADIUS = 0.35  # Å, grey substrate atoms of the lattice figure
BULK_COLOR = (0.62, 0.62, 0.62)
PLANE_COLOR = (0.55, 0.70, 0.85)
LATTICE_VIEW = (1.0, -1.0, 0.7)  # oblique view of the free environment, the jump to the right
_SHORT_GROUP = {
    "C": "1nn of both",
    "I1": "1nn of initial",
    "F1": "1nn of final",
    "P2": "2nn, (001) plane",
    "Q2": "2nn, (1\u030510) plane",
}


# --------------------------------------------------------------------------- small pieces
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
        center = JUMP_CENTER - 0.5 * spacing * n_hat
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
    c = JUMP_CENTER - 0.8 * up
    return [tuple(c + 6 * VIEW_EXTENT * d), tuple(c), tuple(cam_up)]


def _draw_lattice(
    pl: pv.Plotter, surface, sites: SiteTable, labels: bool, font_size: int, view, legend_room: bool = False
) -> None:
    enable_translucency(pl)
    meshes = lattice_meshes(surface, sites=sites)
    pl.add_mesh(bond_mesh(sites), color=BOND_COLOR, line_width=1.0, reset_camera=False)
    mapper = sphere_mapper(SITE_RADIUS * 0.8, SPHERE_RESOLUTION)
    for p, g in zip(sites.positions, sites.groups):
        pl.add_actor(site_actor(mapper, p, pv.Color(GROUP_COLORS[g]).float_rgb, 1.0), reset_camera=False, render=False)
    jm = jump_meshes(SITE_RADIUS * 0.8)
    pl.add_mesh(jm["migrating"], color=JUMP_COLORS["migrating"], smooth_shading=True, reset_camera=False)
    pl.add_mesh(jm["vacancy"], color=JUMP_COLORS["vacancy"], line_width=1.5, reset_camera=False)
    if surface is not None:
        small = pv.Sphere(radius=BULK_RADIUS, theta_resolution=12, phi_resolution=12)
        pl.add_mesh(
            meshes["bulk"].glyph(geom=small, scale=False, orient=False),
            color=BULK_COLOR,
            smooth_shading=True,
            reset_camera=False,
        )
        pl.add_mesh(meshes["plane"], color=PLANE_COLOR, opacity=0.25, reset_camera=False)
        add_text(pl, f"{{{surface}}}", position="upper_left", font_size=font_size + 2, color=TEXT_COLOR)
        pl.camera_position = _surface_camera(surface) if view is None else camera_for(view)
        pl.enable_parallel_projection()
        pl.camera.parallel_scale = VIEW_EXTENT + 0.8
    else:
        add_text(pl, "26 sites", position="upper_left", font_size=font_size + 2, color=TEXT_COLOR)
        set_camera(pl, LATTICE_VIEW if view is None else view, extent=VIEW_EXTENT + 0.4)
    if view is None and legend_room:  # move the scene up, out of the legend's way
        cam = pl.camera
        cam.parallel_scale = cam.parallel_scale * 1.25
        shift = 0.28 * cam.parallel_scale * np.asarray(cam.up)
        cam.focal_point = tuple(np.asarray(cam.focal_point) - shift)
        cam.position = tuple(np.asarray(cam.position) - shift)
    if labels:
        pl.add_point_labels(
            sites.positions,
            [str(i) for i in range(1, sites.num_sites + 1)],
            font_size=font_size,
            text_color="black",
            shape=None,
            show_points=False,
            always_visible=True,
            font_file=FONT_FILE if Path(FONT_FILE).exists() else None,
            bold=False,
            reset_camera=False,
            justification_horizontal="center",
            justification_vertical="center",
        )
    pl.renderer.ResetCameraClippingRange()


def _add_group_legend(pl: pv.Plotter) -> None:
    entries = [[f"{g}: {_SHORT_GROUP[g]}", GROUP_COLORS[g]] for g in GROUPS]
    entries += [["migrating atom", JUMP_COLORS["migrating"]], ["vacant site", JUMP_COLORS["vacancy"]]]
    legend = pl.add_legend(
        labels=entries, bcolor="white", face="circle", size=(0.5, 0.26), loc="lower left", background_opacity=0.8
    )
    place_legend(legend, (0.5, 0.26), "left")


# --------------------------------------------------------------------------- the figure
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
    pl = new_plotter(window_size=window_size)
    _draw_lattice(pl, surface, sites, labels, max(8, int(min(window_size) / 45)), view, legend_room=legend)
    if legend:
        _add_group_legend(pl)
    return pl


def lattice_figure(
    *, panel_size: int = 500, labels: bool = True, surface_labels: bool = False, sites: SiteTable = DEFAULT_SITES
) -> pv.Plotter:
    """Figure 2 as one window: the free environment and its {100}, {110} and {111} embeddings.

    ``labels`` numbers the sites of the first panel, ``surface_labels`` those of the other three.

    Examples
    --------
    >>> pl = lattice_figure(panel_size=100)
    >>> pl.shape
    (1, 4)
    >>> pl.close()
    """
    pl = new_plotter(shape=(1, 4), window_size=(4 * panel_size, panel_size))
    for k, surface in enumerate([None, *("100", "110", "111")]):
        pl.subplot(0, k)
        _draw_lattice(
            pl, surface, sites, labels if k == 0 else surface_labels, max(7, panel_size // 40), None, legend_room=k == 0
        )
        if k == 0:
            _add_group_legend(pl)
    return pl
