"""The lattice figure: the 26 sites of the jump environment coloured by group (paper Figure 2).

The free environment, and the same environment embedded in a {100}, {110} or {111} surface:
a finite slab of grey substrate atoms (three layers below the migrating atom's layer) under a
translucent plane, seen from the side and slightly above, with the jump pointing right.
:func:`lattice_meshes` gives the geometry as meshes, :func:`lattice_plotter` one panel and
:func:`lattice_figure` the four panels of Figure 2 in one off-screen window (one row for two
journal columns, 2 × 2 for one column) with the key in a strip below them.  Positions are in Å.

Text is sized for print: a figure is drawn for a printed width (:data:`SINGLE_COLUMN_IN`,
:data:`DOUBLE_COLUMN_IN`), and site numbers, key and titles have fixed point sizes at that width
(:data:`LABEL_PT`, :data:`KEY_PT`, :data:`TITLE_PT`; :func:`font_px`).  Site numbers are 2D text
placed by :func:`place_labels` so that no two overlap: on their sphere when there is room, else
next to it with a thin leader line.  The key explains the group codes C, I1, F1, P2, Q2.

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
    bond_mesh,
    camera_for,
    enable_translucency,
    jump_meshes,
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
SINGLE_COLUMN_IN = 3.4  # inches: one journal column
DOUBLE_COLUMN_IN = 7.0  # inches: the full page width
LABEL_PT = 7.0  # site numbers, in points at the printed width
KEY_PT = 8.0  # the key (legend)
TITLE_PT = 9.0  # panel titles
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


# --------------------------------------------------------------------------- print sizes
def font_px(points: float, window_width: int, width_in: float) -> int:
    """Pixel size of a ``points``-pt font in a window ``window_width`` px wide printed ``width_in`` inches wide.

    Examples
    --------
    >>> font_px(8, 1020, 3.4), font_px(8, 350, 3.4)  # 300 dpi, about 100 dpi
    (34, 12)
    """
    if not width_in > 0:
        raise ValueError(f"`width_in` must be a positive width in inches; got {width_in!r}")
    return max(1, int(np.ceil(points * window_width / (width_in * 72.0) - 1e-9)))  # never below the size asked


def text_size_px(text: str, size_px: int) -> tuple[int, int]:
    """(width, height) in px of ``text`` in DejaVu Sans at ``size_px`` (VTK's own text metrics)."""
    import vtkmodules.vtkRenderingFreeType  # noqa: F401  (registers the FreeType text renderer)
    from vtkmodules.vtkCommonCore import VTK_FONT_FILE
    from vtkmodules.vtkRenderingCore import vtkTextProperty, vtkTextRenderer

    prop = vtkTextProperty()
    prop.SetFontSize(int(size_px))
    if Path(FONT_FILE).exists():
        prop.SetFontFamily(VTK_FONT_FILE)
        prop.SetFontFile(FONT_FILE)
    box = [0, 0, 0, 0]
    vtkTextRenderer.GetInstance().GetBoundingBox(prop, text, box, 72)
    return box[1] - box[0], box[3] - box[2]


def _text_actor(text: str, size_px: int, color, *, world=None, viewport=None, justify="center"):
    """A 2D text actor in DejaVu Sans at a world point (centred) or a normalized-viewport point."""
    from vtkmodules.vtkCommonCore import VTK_FONT_FILE
    from vtkmodules.vtkRenderingCore import vtkTextActor

    actor = vtkTextActor()
    actor.SetInput(text)
    prop = actor.GetTextProperty()
    prop.SetFontSize(int(size_px))
    prop.SetColor(*pv.Color(color).float_rgb)
    if Path(FONT_FILE).exists():
        prop.SetFontFamily(VTK_FONT_FILE)
        prop.SetFontFile(FONT_FILE)
    prop.SetJustification({"center": 1, "left": 0}[justify])
    prop.SetVerticalJustificationToCentered()
    coord = actor.GetPositionCoordinate()
    if world is not None:
        coord.SetCoordinateSystemToWorld()
        coord.SetValue(*map(float, world))
    else:
        coord.SetCoordinateSystemToNormalizedViewport()
        coord.SetValue(float(viewport[0]), float(viewport[1]))
    return actor


# --------------------------------------------------------------------------- label placement
def _overlaps(box, boxes) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in boxes)


def place_labels(anchors, sizes, *, radius: float, region, blocked=(), order=None) -> np.ndarray:
    """Centres for label boxes such that no two overlap: each on its anchor if there is room, else nearby.

    Labels are placed one by one in ``order`` (e.g. nearest site first); each takes the spot
    nearest its anchor, among the anchor itself and rings of 16 spots at growing distances
    (multiples of ``radius``), whose box lies inside ``region``, overlaps no label placed before
    and no ``blocked`` box; among spots at the same distance, the one covering fewest other
    anchors wins.  Screen coordinates in px (any orientation).

    Parameters
    ----------
    anchors : array-like, shape (n, 2)
        Where each label would like to be (a site's projected centre).
    sizes : array-like, shape (n, 2)
        Width and height of each label box, padding included.
    radius : float
        The projected sphere radius: the unit of the rings.
    region : (x0, y0, x1, y1)
        Boxes must lie inside.
    blocked : sequence of (x0, y0, x1, y1)
        Boxes to keep clear (titles, legends).
    order : sequence of int, optional
        Placement order (default: as given).

    Returns
    -------
    numpy.ndarray, shape (n, 2)
        Box centres.

    Raises
    ------
    ValueError
        If a label finds no free spot within 8 radii of its anchor (the font is too large for
        the window).

    Examples
    --------
    >>> place_labels([(50, 50), (52, 50)], [(10, 8), (10, 8)], radius=6, region=(0, 0, 100, 100)).round(1).tolist()
    [[50.0, 50.0], [60.4, 50.0]]
    """
    a = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)  # (n, 2)
    wh = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)  # (n, 2)
    rx0, ry0, rx1, ry1 = region
    angles = np.radians(np.arange(0, 360, 22.5))
    dirs = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (16, 2), right first, then counter-clockwise
    rings = [0.0, *np.arange(0.8, 8.01, 0.2) * radius]
    placed: list[tuple] = list(blocked)
    out = np.zeros_like(a)
    for i in range(len(a)) if order is None else order:
        w, h = wh[i]
        found = None
        for d in rings:
            spots = a[i][None, :] + (d * dirs if d else np.zeros((1, 2)))  # (16 or 1, 2)
            best, best_cover = None, None
            for c in spots:
                box = (c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2)
                if box[0] < rx0 or box[1] < ry0 or box[2] > rx1 or box[3] > ry1 or _overlaps(box, placed):
                    continue
                inside = (np.abs(a[:, 0] - c[0]) < w / 2) & (np.abs(a[:, 1] - c[1]) < h / 2)
                cover = int(inside.sum() - inside[i])
                if best is None or cover < best_cover:
                    best, best_cover = (c, box), cover
            if best is not None:
                found = best
                break
        if found is None:
            raise ValueError(f"no room for label {i + 1} near {a[i].round(1).tolist()}: the font is too large")
        out[i] = found[0]
        placed.append(found[1])
    return out


def _project(ren, points) -> np.ndarray:
    """Display (x, y from the window's lower left, depth) of world points in a renderer."""
    out = []
    for p in np.atleast_2d(np.asarray(points, dtype=np.float64)):
        ren.SetWorldPoint(*p, 1.0)
        ren.WorldToDisplay()
        out.append(ren.GetDisplayPoint())
    return np.asarray(out)  # (n, 3)


def _unproject(ren, xy, depth: float) -> np.ndarray:
    ren.SetDisplayPoint(float(xy[0]), float(xy[1]), float(depth))
    ren.DisplayToWorld()
    x, y, z, w = ren.GetWorldPoint()
    return np.array([x, y, z]) / w


def _viewport_px(pl: pv.Plotter, ren) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of a renderer in window pixels, y up."""
    W, H = pl.window_size
    v = ren.GetViewport()
    return v[0] * W, v[1] * H, v[2] * W, v[3] * H


def _add_site_labels(pl: pv.Plotter, sites: SiteTable, size_px: int, blocked=()) -> None:
    """Site numbers 1-26 on the active renderer, placed so that no two overlap (:func:`place_labels`).

    Each label is a 2D text actor ``"label-NN"`` at a world point (so it stays put when the
    picture is rendered larger); a label moved off its sphere gets a thin leader line."""
    ren = pl.renderer
    pl.render()  # the camera's clipping range and the window size are final
    disp = _project(ren, sites.positions)  # (26, 3)
    vp = _viewport_px(pl, ren)
    height = vp[3] - vp[1]
    radius = SITE_RADIUS * 0.8 / (2 * ren.GetActiveCamera().GetParallelScale()) * height
    texts = [str(i) for i in range(1, sites.num_sites + 1)]
    pad = max(1.0, 0.12 * size_px)
    sizes = np.array([text_size_px(t, size_px) for t in texts], dtype=np.float64) + 2 * pad
    cam = ren.GetActiveCamera()
    toward = np.asarray(cam.GetFocalPoint()) - np.asarray(cam.GetPosition())
    order = np.argsort(sites.positions @ toward, kind="stable")  # nearest first: visible spheres keep their labels
    centres = place_labels(disp[:, :2], sizes, radius=radius, region=vp, blocked=blocked, order=order)
    lines = []
    for i, (t, c) in enumerate(zip(texts, centres)):
        depth = disp[i, 2]
        pl.add_actor(
            _text_actor(t, size_px, "black", world=_unproject(ren, c, depth)),
            name=f"label-{i + 1:02d}",
            reset_camera=False,
            render=False,
        )
        off = c - disp[i, :2]
        dist = float(np.linalg.norm(off))
        if dist > 0.75 * radius:  # off its sphere: a leader from the sphere's edge to the box's edge
            u = off / dist
            w, h = sizes[i] / 2
            to_edge = min(w / abs(u[0]) if u[0] else np.inf, h / abs(u[1]) if u[1] else np.inf)
            start, end = disp[i, :2] + 0.8 * radius * u, c - to_edge * u
            if np.linalg.norm(end - disp[i, :2]) > 0.8 * radius:
                lines.append((_unproject(ren, start, depth), _unproject(ren, end, depth)))
    if lines:
        _add_leaders(pl, lines)


def _add_leaders(pl: pv.Plotter, segments) -> None:
    """Thin dark lines drawn over the scene (2D, like the labels they lead to)."""
    from vtkmodules.vtkRenderingCore import vtkActor2D, vtkCoordinate, vtkPolyDataMapper2D

    pts = np.array([p for seg in segments for p in seg])  # (2n, 3)
    cells = np.hstack([np.full((len(segments), 1), 2), np.arange(2 * len(segments)).reshape(-1, 2)]).ravel()
    mesh = pv.PolyData(pts, lines=cells)
    coord = vtkCoordinate()
    coord.SetCoordinateSystemToWorld()
    mapper = vtkPolyDataMapper2D()
    mapper.SetInputData(mesh)
    mapper.SetTransformCoordinate(coord)
    actor = vtkActor2D()
    actor.SetMapper(mapper)
    actor.GetProperty().SetColor(*TEXT_COLOR)
    actor.GetProperty().SetLineWidth(1.0)
    pl.add_actor(actor, name="label-leaders", reset_camera=False, render=False)


def label_boxes(pl: pv.Plotter, renderer=None, font=None) -> dict[int, tuple[float, float, float, float]]:
    """Site -> (x0, y0, x1, y1) px box of each drawn site number (y up), from the label actors.

    ``font`` (a callable ``(text, size_px) -> (width, height)``) measures the text; default VTK's
    own metrics.  Tests measure with another font engine."""
    ren = pl.renderer if renderer is None else renderer
    measure = text_size_px if font is None else font
    out = {}
    for name, actor in ren.actors.items():
        if not name.startswith("label-") or name == "label-leaders":
            continue
        x, y, _ = _project(ren, actor.GetPositionCoordinate().GetValue())[0]
        w, h = measure(actor.GetInput(), actor.GetTextProperty().GetFontSize())
        out[int(name[6:])] = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
    return out


# --------------------------------------------------------------------------- the key
def key_entries() -> list[tuple[str, tuple, str]]:
    """(marker, colour, text) of each line of the lattice figure's key: the groups, then the jump pair."""
    entries = [("\u25cf", pv.Color(GROUP_COLORS[g]).float_rgb, f"{g}: {_SHORT_GROUP[g]}") for g in GROUPS]
    entries.append(("\u25cf", JUMP_COLORS["migrating"], "migrating atom"))
    entries.append(("\u25cb", JUMP_COLORS["vacancy"], "vacant site"))
    return entries


def _key_layout(width_px: float, size_px: int, max_columns: int) -> tuple[int, float, float]:
    """(columns, column width, row height) px of the key at ``size_px`` in ``width_px``."""
    widest = max(text_size_px(t, size_px)[0] for _, _, t in key_entries())
    column = widest + 2.2 * size_px  # marker, gap and a margin to the next column
    columns = int(max(1, min(max_columns, width_px // column)))
    return columns, column, 1.5 * size_px


def key_height(width_px: float, size_px: int, max_columns: int = 4) -> int:
    """Pixel height of the key laid out in ``width_px``."""
    columns, _, row = _key_layout(width_px, size_px, max_columns)
    rows = -(-len(key_entries()) // columns)
    return int(np.ceil(rows * row + 0.8 * size_px))


def _draw_key(pl: pv.Plotter, size_px: int, max_columns: int = 4) -> None:
    """The key (group codes explained, the jump pair) in the active renderer, which holds only the key."""
    x0, y0, x1, y1 = _viewport_px(pl, pl.renderer)
    w, h = x1 - x0, y1 - y0
    columns, column, row = _key_layout(w, size_px, max_columns)
    left = max(0.0, (w - columns * column) / 2) + 0.4 * size_px
    for k, (marker, color, text) in enumerate(key_entries()):
        r, c = divmod(k, columns)
        x = left + c * column
        y = h - 0.4 * size_px - (r + 0.5) * row
        pl.add_actor(
            _text_actor(marker, size_px, color, viewport=(x / w, y / h), justify="left"),
            name=f"key-marker-{k}",
            reset_camera=False,
            render=False,
        )
        pl.add_actor(
            _text_actor(text, size_px, TEXT_COLOR, viewport=((x + 1.2 * size_px) / w, y / h), justify="left"),
            name=f"key-{k}",
            reset_camera=False,
            render=False,
        )


# --------------------------------------------------------------------------- panels
def _draw_lattice(pl: pv.Plotter, surface, sites: SiteTable, labels: bool, label_px: int, title_px: int, view):
    enable_translucency(pl)
    meshes = lattice_meshes(surface, sites=sites)
    pl.add_mesh(bond_mesh(sites), color=BOND_COLOR, line_width=1.0, reset_camera=False)
    mapper = sphere_mapper(SITE_RADIUS * 0.8, SPHERE_RESOLUTION)
    for p, g in zip(sites.positions, sites.groups):
        pl.add_actor(site_actor(mapper, p, pv.Color(GROUP_COLORS[g]).float_rgb, 1.0), reset_camera=False, render=False)
    jm = jump_meshes(SITE_RADIUS * 0.8)
    pl.add_mesh(jm["migrating"], color=JUMP_COLORS["migrating"], smooth_shading=True, reset_camera=False)
    pl.add_mesh(jm["vacancy"], color=JUMP_COLORS["vacancy"], line_width=1.5, reset_camera=False)
    title = "26 sites" if surface is None else f"{{{surface}}}"
    if surface is not None:
        small = pv.Sphere(radius=BULK_RADIUS, theta_resolution=12, phi_resolution=12)
        pl.add_mesh(
            meshes["bulk"].glyph(geom=small, scale=False, orient=False),
            color=BULK_COLOR,
            smooth_shading=True,
            reset_camera=False,
        )
        pl.add_mesh(meshes["plane"], color=PLANE_COLOR, opacity=0.25, reset_camera=False)
        pl.camera_position = _surface_camera(surface) if view is None else camera_for(view)
        pl.enable_parallel_projection()
        pl.camera.parallel_scale = VIEW_EXTENT + 0.8
    x0, y0, x1, y1 = _viewport_px(pl, pl.renderer)
    tw, th = text_size_px(title, title_px)
    margin = 0.25 * title_px
    title_box = (x0, y1 - th - 2 * margin, x0 + tw + 2 * margin, y1)
    pl.add_actor(
        _text_actor(title, title_px, TEXT_COLOR, viewport=(margin / (x1 - x0), 1 - (margin + th / 2) / (y1 - y0))),
        name="title",
        reset_camera=False,
        render=False,
    )
    pl.actors["title"].GetTextProperty().SetJustificationToLeft()
    if surface is None:
        set_camera(pl, LATTICE_VIEW if view is None else view, extent=VIEW_EXTENT + 0.4)
        pts = np.vstack([sites.positions, INITIAL_SITE * HALF_A, FINAL_SITE * HALF_A])
        _fit_camera(pl, pts, pad=SITE_RADIUS * 0.8 + 0.35, top_px=th + 2 * margin)
    pl.renderer.ResetCameraClippingRange()
    if labels:
        _add_site_labels(pl, sites, label_px, blocked=[title_box])


def _fit_camera(pl: pv.Plotter, points, *, pad: float, top_px: float) -> None:
    """Frame ``points`` (plus ``pad`` Å) as large as the active viewport allows, below a ``top_px`` title band."""
    cam = pl.camera
    pos, focal = np.asarray(cam.position), np.asarray(cam.focal_point)
    d = (focal - pos) / np.linalg.norm(focal - pos)
    up = np.asarray(cam.up, dtype=np.float64)
    up = up - (up @ d) * d
    up /= np.linalg.norm(up)
    right = np.cross(d, up)
    p = np.asarray(points, dtype=np.float64)
    u, v = p @ right, p @ up  # (n,), (n,)
    x0, y0, x1, y1 = _viewport_px(pl, pl.renderer)
    w, h = x1 - x0, y1 - y0
    per_px = max((v.max() - v.min() + 2 * pad) / (h - top_px), (u.max() - u.min() + 2 * pad) / w)  # Å per px
    centre = focal + ((u.max() + u.min()) / 2 - focal @ right) * right + ((v.max() + v.min()) / 2 - focal @ up) * up
    new_focal = centre + 0.5 * top_px * per_px * up
    cam.focal_point = tuple(new_focal)
    cam.position = tuple(new_focal - d * np.linalg.norm(focal - pos))
    cam.parallel_scale = per_px * h / 2


def _layout_plotter(rows: int, columns: int, panel_w: int, panel_h: int, key_h: int) -> pv.Plotter:
    """An off-screen plotter with ``rows`` × ``columns`` panels and, if ``key_h``, a key strip below them all."""
    shape = (rows + (1 if key_h else 0), columns)
    kwargs = {}
    if key_h:
        kwargs = {"groups": [(rows, np.s_[:])], "row_weights": [panel_h] * rows + [key_h]}
    pl = pv.Plotter(
        off_screen=True,
        shape=shape,
        window_size=[columns * panel_w, rows * panel_h + key_h],
        border=False,
        **kwargs,
    )
    pl.set_background("white")
    pl.disable_anti_aliasing()  # MSAA + depth peeling => translucent actors vanish on Mesa
    return pl


# --------------------------------------------------------------------------- the figure
def lattice_plotter(
    surface=None,
    *,
    window_size=(600, 600),
    labels: bool | None = None,
    legend: bool = True,
    view=None,
    width_in: float = SINGLE_COLUMN_IN,
    sites: SiteTable = DEFAULT_SITES,
) -> pv.Plotter:
    """The 26 sites coloured by group (paper Figure 2), optionally embedded in a surface.

    Text is sized for print: the window stands for a picture ``width_in`` inches wide, in which
    site numbers are :data:`LABEL_PT`, the key :data:`KEY_PT` and the title :data:`TITLE_PT`
    points tall.  Site numbers are placed so that no two overlap (:func:`place_labels`).

    Parameters
    ----------
    surface : {None, "100", "110", "111"}, default=None
        None: the free environment.  A surface: the environment on a finite slab of grey
        substrate atoms (three layers below the migrating atom's layer) under a translucent
        plane, seen from the side and slightly above, with the jump pointing right.
    window_size : (int, int), default=(600, 600)
        The whole window; the key (if any) takes a strip at the bottom.
    labels : bool, optional
        Site numbers (1-26).  Default: on for the free environment, off on a surface.
    legend : bool, default=True
        The key: what the group codes C, I1, F1, P2, Q2 mean, and the jump pair.
    view : optional
        Override the camera (see :func:`camera_for`).
    width_in : float, default=3.4
        Printed width in inches (one journal column).
    sites : SiteTable, default=DEFAULT_SITES

    Returns
    -------
    pyvista.Plotter (off-screen; the scene in the first renderer, the key in a second)

    Examples
    --------
    >>> pl = lattice_plotter("111", window_size=(200, 200))
    >>> pl.close()
    """
    labels = surface is None if labels is None else labels
    w, h = (int(x) for x in window_size)
    key_px = font_px(KEY_PT, w, width_in)
    key_h = key_height(w, key_px, max_columns=2) if legend else 0
    if key_h >= h // 2:
        raise ValueError(f"window_size {window_size} leaves no room for the scene above its key")
    pl = _layout_plotter(1, 1, w, h - key_h, key_h)
    pl.subplot(0, 0)
    label_px, title_px = font_px(LABEL_PT, w, width_in), font_px(TITLE_PT, w, width_in)
    _draw_lattice(pl, surface, sites, labels, label_px, title_px, view)
    if legend:
        pl.subplot(1, 0)
        _draw_key(pl, key_px, max_columns=2)
        pl.subplot(0, 0)
    return pl


def lattice_figure(
    *,
    panel_size: int = 500,
    columns: int = 4,
    width_in: float | None = None,
    labels: bool = True,
    surface_labels: bool = False,
    sites: SiteTable = DEFAULT_SITES,
) -> pv.Plotter:
    """Figure 2 as one window: the free environment and its {100}, {110} and {111} embeddings, and the key.

    Parameters
    ----------
    panel_size : int, default=500
        Pixels per panel side.
    columns : {4, 2, 1}, default=4
        Panels per row: 4 (one row, for two journal columns) or 2 (2 × 2, for one column).
    width_in : float, optional
        Printed width in inches; default :data:`DOUBLE_COLUMN_IN` for 4 columns, else
        :data:`SINGLE_COLUMN_IN`.  Text is sized in points at that width (as in
        :func:`lattice_plotter`).
    labels, surface_labels : bool
        Number the sites of the first panel / of the other three.
    sites : SiteTable, default=DEFAULT_SITES

    Examples
    --------
    >>> pl = lattice_figure(panel_size=100)
    >>> pl.shape
    (2, 4)
    >>> pl.close()
    """
    if columns not in (1, 2, 4):
        raise ValueError(f"`columns` must be 1, 2 or 4; got {columns!r}")
    if width_in is None:
        width_in = DOUBLE_COLUMN_IN if columns == 4 else SINGLE_COLUMN_IN
    rows = 4 // columns
    w = columns * int(panel_size)
    key_px = font_px(KEY_PT, w, width_in)
    pl = _layout_plotter(rows, columns, int(panel_size), int(panel_size), key_height(w, key_px))
    label_px, title_px = font_px(LABEL_PT, w, width_in), font_px(TITLE_PT, w, width_in)
    for k, surface in enumerate([None, *("100", "110", "111")]):
        pl.subplot(k // columns, k % columns)
        _draw_lattice(pl, surface, sites, labels if k == 0 else surface_labels, label_px, title_px, None)
    pl.subplot(rows, 0)
    _draw_key(pl, key_px)
    return pl
