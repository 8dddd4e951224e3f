"""Site numbers as geometry: flat text meshes that vtk.js draws as well as VTK.

A 2D text actor (``add_point_labels``, ``vtkTextActor``) is drawn by VTK off-screen but not by
vtk.js, which is what Panel's VTK pane uses in the browser.  Here each label is a small mesh
instead: the glyphs of ``vtkVectorText`` (triangles, dark) on a white plate, set just in front
of its site's sphere and facing a given viewpoint (the plane of the label is perpendicular to
the view direction, its baseline along the view's right).  All labels of a scene are one mesh
with per-point colours (``"rgb"``) and the site each point belongs to (``"site"``, 1-based),
so a scene adds one actor per viewport and re-orients it by replacing the mesh's points when
the viewpoint changes.  Positions are in Å.

Examples
--------
>>> m = site_label_mesh("[001]")
>>> sorted(np.unique(m["site"]).tolist())[:3], m["rgb"].dtype.name
([1, 2, 3], 'uint8')
"""

from __future__ import annotations

import os

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

from functools import lru_cache

import numpy as np
import pyvista as pv

from rbfviz.data.lattice import DEFAULT_SITES, SiteTable
from rbfviz.viz.render import SITE_RADIUS, camera_for
from rbfviz.viz.style import TEXT_COLOR

# --------------------------------------------------------------------------- constants
LABEL_HEIGHT = 0.42  # Å: height of a digit (a sphere is 1.5 Å across)
PLATE_MARGIN = 0.1  # of the label height, around the glyphs
PLATE_COLOR = (1.0, 1.0, 1.0)
LIFT = 0.08  # Å in front of the sphere's front point


@lru_cache(maxsize=64)
def _glyphs(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Triangles of ``text`` in ``vtkVectorText``'s font: 2D points (digit height 1, centred) and faces."""
    from vtkmodules.vtkRenderingFreeType import vtkVectorText

    source = vtkVectorText()
    source.SetText(str(text))
    source.Update()
    mesh = pv.wrap(source.GetOutput()).triangulate()
    pts = np.asarray(mesh.points)[:, :2].astype(np.float64)  # (n, 2)
    if len(pts) == 0:
        raise ValueError(f"label text {text!r} has no drawable glyphs")
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pts = pts - (lo + hi) / 2  # centred; vtkVectorText's digits are about 1 unit tall
    faces = np.asarray(mesh.faces).reshape(-1, 4)[:, 1:]  # (m, 3)
    return pts, faces


def view_frame(view) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(right, up, toward the viewer) unit vectors of a viewpoint (anything :func:`camera_for` takes).

    Examples
    --------
    >>> right, up, toward = view_frame("[001]")
    >>> toward.round(3).tolist(), np.cross(right, up).round(3).tolist() == toward.round(3).tolist()
    ([0.0, 0.0, 1.0], True)
    """
    pos, focal, up = (np.asarray(v, dtype=np.float64) for v in camera_for(view))
    toward = (pos - focal) / np.linalg.norm(pos - focal)
    up = up - (up @ toward) * toward
    up /= np.linalg.norm(up)
    right = np.cross(up, toward)
    return right, up, toward


def label_mesh(
    positions,
    texts,
    *,
    view="[031]",
    height: float = LABEL_HEIGHT,
    radius: float = SITE_RADIUS,
    plate: bool = True,
    color=TEXT_COLOR,
    hide_covered: bool = True,
) -> pv.PolyData:
    """One mesh holding a flat text label in front of each position, facing ``view``.

    Parameters
    ----------
    positions : array-like, shape (n, 3)
        Sphere centres (Å).
    texts : sequence of str, length n
    view : default="[031]"
        The viewpoint the labels face (see :func:`rbfviz.viz.render.camera_for`).
    height : float, default=0.42
        Glyph height in Å.
    radius : float, default=0.75
        Sphere radius: each label stands ``radius + LIFT`` in front of its centre, toward the viewer.
    plate : bool, default=True
        A white plate behind the glyphs, so dark text reads on any sphere colour.
    color : RGB, default=the text colour
    hide_covered : bool, default=True
        Collapse to a point each label whose centre, seen from ``view``, falls on a nearer label's
        plate: it could show only as fragments around the nearer one (the number of every site
        is in the dashboard's table).  The mesh keeps one layout for every view, so a scene can
        swap its points when the view changes.

    Returns
    -------
    pyvista.PolyData
        Triangles with point arrays ``"rgb"`` (uint8, n_points × 3) and ``"site"`` (1-based
        index into ``positions``).

    Examples
    --------
    >>> m = label_mesh([(0, 0, 0), (3, 0, 0)], ["1", "2"], view="[001]", plate=False)
    >>> round(float(m.points[:, 2].min()), 2), sorted(set(m["site"].tolist()))
    (0.91, [1, 2])
    """
    p = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    texts = [str(t) for t in texts]
    if len(texts) != len(p):
        raise ValueError(f"label_mesh needs one text per position; got {len(texts)} texts for {len(p)} positions")
    right, up, toward = view_frame(view)
    text_rgb = np.round(np.asarray(pv.Color(color).float_rgb) * 255).astype(np.uint8)
    plate_rgb = np.round(np.asarray(PLATE_COLOR) * 255).astype(np.uint8)
    # one plate size for all, as wide as the widest text: a nearer label hides one stacked behind it whole
    half = np.max([np.abs(_glyphs(t)[0]).max(axis=0) for t in texts], axis=0) * height + PLATE_MARGIN * height
    quad = np.array([[-half[0], -half[1]], [half[0], -half[1]], [half[0], half[1]], [-half[0], half[1]]])
    covered = _covered(p, right, up, toward, half) if hide_covered else np.zeros(len(p), dtype=bool)
    points, faces, rgb, site = [], [], [], []
    offset = 0
    for k, (centre, text) in enumerate(zip(p, texts)):
        xy, tri = _glyphs(text)
        parts = [(xy * height, tri, text_rgb, 2 * LIFT)]
        if plate:
            parts.append((quad, np.array([[0, 1, 2], [0, 2, 3]]), plate_rgb, LIFT))
        for q, t, c, lift in parts:
            base = centre + (radius + lift) * toward
            q = 0 * q if covered[k] else q  # collapsed to a point: same mesh layout for every view
            points.append(base + q[:, :1] * right + q[:, 1:] * up)  # (n_q, 3)
            faces.append(np.hstack([np.full((len(t), 1), 3), t + offset]))
            rgb.append(np.tile(c, (len(q), 1)))
            site.append(np.full(len(q), k + 1))
            offset += len(q)
    mesh = pv.PolyData(np.vstack(points), faces=np.vstack(faces).ravel())
    mesh["rgb"] = np.vstack(rgb)
    mesh["site"] = np.concatenate(site)
    return mesh


def _covered(positions, right, up, toward, half) -> np.ndarray:
    """Whether each label's centre lies on the plate of a nearer one (seen along ``-toward``), shape (n,)."""
    u, v, depth = positions @ right, positions @ up, positions @ toward  # (n,) each
    on_plate = (np.abs(u[:, None] - u[None, :]) < half[0]) & (np.abs(v[:, None] - v[None, :]) < half[1])  # (n, n)
    nearer = depth[None, :] > depth[:, None] + 1e-6  # [i, j]: j is nearer the viewer than i
    return (on_plate & nearer).any(axis=1)


def site_label_mesh(view="[031]", *, sites: SiteTable = DEFAULT_SITES, **kwargs) -> pv.PolyData:
    """The site numbers 1-26 as one :func:`label_mesh` facing ``view``.

    Examples
    --------
    >>> site_label_mesh("[110]", sites=DEFAULT_SITES).n_points > 26 * 4
    True
    """
    return label_mesh(sites.positions, [str(i) for i in range(1, sites.num_sites + 1)], view=view, **kwargs)


def add_label_actor(plotter: pv.Plotter, mesh: pv.PolyData, *, name=None, visible: bool = True):
    """Add a label mesh to the active renderer, unlit (its colours exactly as given)."""
    actor = plotter.add_mesh(mesh, scalars="rgb", rgb=True, lighting=False, name=name, reset_camera=False, render=False)
    actor.visibility = bool(visible)
    return actor
