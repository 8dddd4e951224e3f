"""Shared pieces of the 3D scenes of the jump environment (paper §3.2.2).

Used by the prototype scenes (:mod:`rbfviz.viz.scenes`, Figures 4 and B.6-B.11) and the lattice
figure (:mod:`rbfviz.viz.lattice_scene`, Figure 2): the guide geometry (nearest-neighbour bonds,
the migrating atom and its vacant target), one shared sphere mapper and per-site actors,
cameras for the named viewpoints, corner text in DejaVu Sans, legends, and the off-screen
plotter set up for translucency.  Positions are in Å.

Rendering is off-screen.  Translucency uses depth peeling with MSAA switched off: on Mesa,
MSAA plus depth peeling makes translucent actors vanish (stack-recipes §2), and depth peeling
must be enabled per renderer (:func:`enable_translucency`).

Examples
--------
>>> pl = new_plotter(window_size=(100, 100))
>>> enable_translucency(pl)
>>> _ = pl.add_mesh(jump_meshes()["migrating"])
>>> set_camera(pl, "[001]")
>>> round(pl.camera.parallel_scale, 1)
5.9
>>> pl.close()
"""

from __future__ import annotations

import os

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

from pathlib import Path

import numpy as np
import pyvista as pv

from rbfviz.data.lattice import DEFAULT_SITES, FINAL_SITE, HALF_A, INITIAL_SITE, VIEWPOINTS, SiteTable
from rbfviz.viz.style import BOND_COLOR, FONT_FILE, TEXT_COLOR, view_label  # noqa: F401  (re-used by the scenes)

# --------------------------------------------------------------------------- constants
SITE_RADIUS = 0.75  # Å; 1nn distance is 2.556 Å
SPHERE_RESOLUTION = 24  # theta/phi resolution of the one shared sphere mesh
NUMBER_OF_PEELS = 12
JUMP_CENTER = (INITIAL_SITE + FINAL_SITE) / 2 * HALF_A  # midpoint of the jump, Å
VIEW_EXTENT = 5.9  # Å, half height of the parallel view: the farthest site is 4.6 Å + radius
TEXT_ANCHORS = {  # position -> (viewport xy, horizontal, vertical justification)
    "upper_left": ((0.02, 0.97), "left", "top"),
    "upper_right": ((0.98, 0.97), "right", "top"),
    "lower_left": ((0.02, 0.03), "left", "bottom"),
}


# --------------------------------------------------------------------------- guide geometry
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
    atom = pv.Sphere(
        radius=radius, center=INITIAL_SITE * HALF_A, theta_resolution=resolution, phi_resolution=resolution
    )
    cage = pv.Sphere(radius=radius * 0.8, center=FINAL_SITE * HALF_A, theta_resolution=10, phi_resolution=7)
    return {"migrating": atom, "vacancy": cage.extract_all_edges()}


def jump_arrow(radius: float = SITE_RADIUS) -> pv.PolyData:
    """An arrow from the migrating atom's surface to the vacant site's cage (the jump, [110]/2), in Å.

    Examples
    --------
    >>> b = jump_arrow().bounds
    >>> bool(b[0] > 0), bool(b[1] < FINAL_SITE[0] * HALF_A)
    (True, True)
    """
    start, end = INITIAL_SITE * HALF_A, FINAL_SITE * HALF_A
    d = (end - start) / np.linalg.norm(end - start)
    a, b = start + d * radius * 0.9, end - d * radius * 0.75
    length = float(np.linalg.norm(b - a))
    return pv.Arrow(
        start=a, direction=d, scale=length, tip_length=0.4, tip_radius=0.16, shaft_radius=0.06, tip_resolution=16
    )


def surface_meshes(surface: str, size: float = 8.0) -> dict[str, pv.PolyData]:
    """The surface plane through the jump (translucent square) and an arrow along its outward normal.

    The plane holds the migrating atom and the vacant site (the jump [110] lies in all three
    surfaces); the arrow starts at the jump midpoint and points into the vacuum (Å).

    Examples
    --------
    >>> m = surface_meshes("100")
    >>> sorted(m), np.round(m["plane"].center, 2).tolist()[2]
    (['normal', 'plane'], 0.0)
    """
    from rbfviz.data.lattice import SURFACE_NORMALS

    key = str(surface).strip("{}")
    if key not in SURFACE_NORMALS:
        raise ValueError(f"surface must be one of {tuple(SURFACE_NORMALS)}; got {surface!r}")
    n = np.asarray(SURFACE_NORMALS[key], dtype=np.float64)
    n /= np.linalg.norm(n)
    plane = pv.Plane(center=JUMP_CENTER, direction=n, i_size=size, j_size=size, i_resolution=1, j_resolution=1)
    along = np.array([1.0, 1.0, 0.0]) / np.sqrt(2)  # square edges along the jump and n x jump
    e = plane.points[1] - plane.points[0]
    e /= np.linalg.norm(e)
    angle = np.degrees(np.arctan2(np.cross(e, along) @ n, e @ along))
    plane = plane.rotate_vector(n, angle, point=JUMP_CENTER, inplace=False)
    arrow = pv.Arrow(
        start=JUMP_CENTER,
        direction=n,
        scale=4.0,
        tip_length=0.2,
        tip_radius=0.07,
        shaft_radius=0.025,
        tip_resolution=16,
    )
    return {"plane": plane, "normal": arrow}


def sphere_mapper(radius: float, resolution: int) -> pv.DataSetMapper:
    sphere = pv.Sphere(radius=radius, theta_resolution=resolution, phi_resolution=resolution)
    mapper = pv.DataSetMapper(sphere)
    mapper.scalar_visibility = False
    return mapper


def site_actor(mapper, position, color, opacity_: float) -> pv.Actor:
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


# --------------------------------------------------------------------------- cameras
def camera_for(view, *, center=JUMP_CENTER, extent: float = VIEW_EXTENT):
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


def set_camera(pl: pv.Plotter, view, extent: float = VIEW_EXTENT, parallel: bool = True) -> None:
    pl.camera_position = camera_for(view, extent=extent)
    if parallel:
        pl.enable_parallel_projection()
        pl.camera.parallel_scale = extent
    else:
        pl.camera.view_angle = 2 * np.degrees(np.arctan(1 / 6))  # same framing as parallel
    pl.renderer.ResetCameraClippingRange()


# --------------------------------------------------------------------------- text and the plotter
def add_text(pl: pv.Plotter, text: str, position="upper_left", font_size: int = 12, color=TEXT_COLOR, name=None):
    """Corner text in DejaVu Sans (VTK's built-in fonts lack β and the combining overline).

    The two upper corners are placed as plain text actors, not as one shared corner annotation,
    which would shrink both texts to fit together."""
    font_file = FONT_FILE if Path(FONT_FILE).exists() else None
    if position in TEXT_ANCHORS:
        xy, horizontal, vertical = TEXT_ANCHORS[position]
        actor = pv.Plotter.add_text(
            pl, text, position=xy, viewport=True, font_size=font_size, color=color, name=name, font_file=font_file
        )
        actor.prop.justification_horizontal = horizontal
        actor.prop.justification_vertical = vertical
        return actor
    return pv.Plotter.add_text(
        pl, text, position=position, font_size=font_size, color=color, name=name, font_file=font_file
    )


def place_legend(legend, size, corner: str) -> None:
    """Put a legend box fully inside the viewport (PyVista's ``loc`` mixes up width and height)."""
    x = 0.01 if corner == "left" else 0.99 - size[0]
    legend.SetPosition(x, 0.01)
    legend.SetPosition2(*size)


def enable_translucency(pl: pv.Plotter) -> None:
    """Depth peeling on the active renderer (call once per subplot)."""
    pl.enable_depth_peeling(number_of_peels=NUMBER_OF_PEELS, occlusion_ratio=0.0)


def new_plotter(shape=(1, 1), window_size=(600, 600), background="white") -> pv.Plotter:
    pl = pv.Plotter(off_screen=True, shape=shape, window_size=list(window_size), border=False)
    pl.set_background(background)
    pl.disable_anti_aliasing()  # MSAA + depth peeling => translucent actors vanish on Mesa
    return pl
