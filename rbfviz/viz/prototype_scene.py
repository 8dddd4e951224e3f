"""One render window of many prototype viewports, updated in place: the dashboard's 3D areas.

:class:`PrototypeScene` draws prototypes as :mod:`rbfviz.viz.scenes` does (the same guides, colours
and opacity rule), in a grid of viewports that share one camera, so a page of prototypes costs one
WebGL context in the browser; :func:`web_camera` frames a view for vtk.js's perspective camera.
"""

from __future__ import annotations

import os

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import numpy as np
import pyvista as pv

from rbfviz.data.lattice import DEFAULT_SITES, SiteTable
from rbfviz.viz.labels import add_label_actor, site_label_mesh
from rbfviz.viz.render import (
    NUMBER_OF_PEELS,
    SITE_RADIUS,
    VIEW_EXTENT,
    bond_mesh,
    camera_for,
    jump_arrow,
    jump_meshes,
    new_plotter,
    surface_meshes,
)
from rbfviz.viz.scenes import check_values, site_style
from rbfviz.viz.style import (
    ARROW_COLOR,
    BOND_COLOR,
    FONT_FILE,
    JUMP_COLORS,
    OPACITY_THRESHOLD,
    SURFACE_COLOR,
    TEXT_COLOR,
)

WEB_PEELS = 4  # depth-peeling passes in the browser, where WebGL runs in software on servers (SwiftShader)
WEB_VIEW_ANGLE = 30.0  # degrees: vtk.js's default, since Panel's serializer does not send the view angle


def web_camera(view, *, extent: float = VIEW_EXTENT) -> dict:
    """A perspective camera that frames a view in vtk.js as :func:`set_camera` frames it here.

    Panel sends only position, focal point and view-up to the browser, where vtk.js draws with a
    30° perspective; so the camera stands at the distance at which that perspective shows the
    parallel view's half height ``extent``.

    Returns
    -------
    dict
        ``position``, ``focalPoint``, ``viewUp`` (the keys of a vtk.js camera state).

    Examples
    --------
    >>> cam = web_camera("[001]")
    >>> round(cam["position"][2] - cam["focalPoint"][2], 2)
    22.02
    """
    pos, focal, up = (np.asarray(v, dtype=np.float64) for v in camera_for(view, extent=extent))
    d = (pos - focal) / np.linalg.norm(pos - focal)
    pos = focal + d * extent / np.tan(np.radians(WEB_VIEW_ANGLE / 2))
    return {"position": pos.tolist(), "focalPoint": focal.tolist(), "viewUp": up.tolist()}


class PrototypeScene:
    """One render window holding a grid of prototype viewports that share one camera, updated in place.

    The dashboard's 3D areas (a page of prototypes, the enlarged prototype, the comparison of
    surfaces) are each one of these: one window, hence one WebGL context in the browser, with
    ``capacity`` viewports laid out in ``columns`` columns.  Every viewport holds the same actors
    as :func:`prototype_plotter` (guides, the jump arrow and the 26 site spheres, here merged into one
    mesh whose per-point RGBA carries each site's colour and opacity, so a viewport is a handful of
    actors and an update is one small colour array), plus, when ``surfaces`` is set, a surface
    plane and its normal, and a
    ``vtkCornerAnnotation`` for its caption (which Panel shows as text over the scene).
    :meth:`show` changes colours, opacities, visibility and captions only, so the geometry is
    sent to the browser once.  All viewports share one ``vtkCamera``: turning one turns all.

    Parameters
    ----------
    capacity : int, default=1
        Number of viewports (prototypes shown at most).
    columns : int, optional
        Viewports per row (default: all in one row).
    panel_size : int, default=230
        Pixels per viewport side.
    view : str or 3-sequence, default="[031]"
        Initial viewpoint, see :func:`camera_for`.
    threshold : float, default=2.0
    sites : SiteTable, default=DEFAULT_SITES
    resolution : int, default=10
        Sphere resolution (lower is faster to send and draw).
    surfaces : bool, default=False
        Add a (hidden) surface plane and normal to every viewport, shown by :meth:`show`.
    web : bool, default=True
        Frame the camera for vtk.js (:func:`web_camera`, perspective); False frames it for
        off-screen pictures (parallel projection, as :func:`prototype_plotter`).
    caption_size : int, default=13
        Caption height in px.
    views : sequence, optional
        One viewpoint per viewport, each with its own camera (e.g. the four standard views of one
        prototype); by default all viewports share one camera.
    site_labels : bool, default=False
        Add site numbers (hidden until :meth:`show_labels`): flat text meshes in front of each
        sphere, facing the viewpoint (:mod:`rbfviz.viz.labels`), which vtk.js draws as well;
        :meth:`set_view` turns them to face a new viewpoint.

    Examples
    --------
    >>> scene = PrototypeScene(capacity=2, panel_size=80)
    >>> scene.show([(np.full(26, 1.0), "first"), (np.full(26, -2.0), "second")])
    >>> int(scene.site_rgba(1)[4, 3]), scene.caption(1)
    (255, 'second')
    >>> scene.show([(np.zeros(26), "only")])
    >>> int(scene.site_rgba(1)[4, 3]), scene.shown
    (0, 1)
    >>> scene.close()
    """

    def __init__(
        self,
        capacity: int = 1,
        *,
        columns: int | None = None,
        panel_size: int = 230,
        view="[031]",
        threshold: float = OPACITY_THRESHOLD,
        sites: SiteTable = DEFAULT_SITES,
        resolution: int = 10,
        surfaces: bool = False,
        web: bool = True,
        caption_size: int = 13,
        views=None,
        site_labels: bool = False,
    ):
        from vtkmodules.vtkCommonCore import VTK_FONT_FILE, vtkLookupTable
        from vtkmodules.vtkRenderingAnnotation import vtkCornerAnnotation

        if not isinstance(capacity, (int, np.integer)) or capacity < 1:
            raise ValueError(f"`capacity` must be a positive int; got {capacity!r}")
        columns = int(columns or capacity)
        if columns < 1:
            raise ValueError(f"`columns` must be a positive int; got {columns!r}")
        self.capacity, self.columns = int(capacity), min(columns, int(capacity))
        self.rows = -(-self.capacity // self.columns)
        self.threshold, self.sites, self.web = float(threshold), sites, bool(web)
        self.view = view
        self.views = None if views is None else list(views)
        if self.views is not None and len(self.views) != self.capacity:
            raise ValueError(f"`views` must give one view per viewport ({self.capacity}); got {len(self.views)}")
        self.shown = 0
        self.labels_shown = False
        pl = new_plotter(
            shape=(self.rows, self.columns), window_size=(self.columns * panel_size, self.rows * panel_size)
        )
        sphere = pv.Sphere(radius=SITE_RADIUS, theta_resolution=resolution, phi_resolution=resolution)
        sphere.clear_data()
        spheres = pv.merge([sphere.translate(p, inplace=False) for p in sites.positions], merge_points=False)
        self._per_site = sphere.n_points
        tiny_lut = vtkLookupTable()
        tiny_lut.SetNumberOfTableValues(2)
        tiny_lut.Build()
        spheres["rgba"] = np.zeros((spheres.n_points, 4), dtype=np.uint8)
        guides = {
            "bonds": (bond_mesh(sites), {"color": BOND_COLOR, "line_width": 1.0}),
            "jump": (jump_arrow(SITE_RADIUS), {"color": ARROW_COLOR, "smooth_shading": True}),
            **{
                k: (m, {"color": JUMP_COLORS[k], "smooth_shading": k == "migrating", "line_width": 1.5})
                for k, m in jump_meshes(SITE_RADIUS, resolution).items()
            },
        }
        self._sites, self._captions, self._guides, self._surface, self._labels = [], [], [], [], []
        self._surface_meshes = []
        camera = None
        for k in range(self.rows * self.columns):
            pl.subplot(k // self.columns, k % self.columns)
            pl.enable_depth_peeling(number_of_peels=WEB_PEELS if web else NUMBER_OF_PEELS, occlusion_ratio=0.0)
            actors = []
            for mesh, kw in guides.values():
                actors.append(pl.add_mesh(mesh, reset_camera=False, render=False, **kw))
            self._guides.append(actors)
            mesh = spheres.copy(deep=True)  # its own colours; the points are shared by value (sent once)
            actor = pl.add_mesh(
                mesh,
                scalars="rgba",
                rgba=True,
                smooth_shading=True,
                specular=0.25,
                specular_power=30.0,
                ambient=0.25,
                diffuse=0.75,
                culling="back",
                reset_camera=False,
                render=False,
            )
            self._sites.append((mesh, actor))
            if surfaces:  # the meshes given to add_mesh are kept: a new surface is copied into them
                plane_mesh, normal_mesh = pv.Plane(), pv.Arrow()
                plane = pl.add_mesh(plane_mesh, color=SURFACE_COLOR, opacity=0.14, reset_camera=False, render=False)
                normal = pl.add_mesh(
                    normal_mesh, color=SURFACE_COLOR, smooth_shading=True, reset_camera=False, render=False
                )
                plane.visibility = normal.visibility = False
                self._surface.append((plane, normal))
                self._surface_meshes.append((plane_mesh, normal_mesh))
            if site_labels:  # geometry, so that vtk.js draws them too (rbfviz.viz.labels)
                label_view = view if views is None else views[k] if k < len(views) else view
                self._labels.append(add_label_actor(pl, site_label_mesh(label_view, sites=sites), visible=False))
                self._labels[-1].mapper.SetLookupTable(tiny_lut)
            note = vtkCornerAnnotation()
            note.SetLinearFontScaleFactor(caption_size / 2)
            note.SetNonlinearFontScaleFactor(1.0)
            note.SetMaximumFontSize(caption_size)  # off-screen pictures: the same size as in the browser
            note.GetTextProperty().SetColor(*TEXT_COLOR)
            note.GetTextProperty().SetFontFamily(VTK_FONT_FILE)  # off-screen: DejaVu, which has 1̅ and β
            note.GetTextProperty().SetFontFile(FONT_FILE)
            pl.renderer.AddViewProp(note)
            self._captions.append(note)
            if camera is None:
                camera = pl.renderer.GetActiveCamera()
            elif views is None:
                pl.renderer.SetActiveCamera(camera)
            for a in [*actors, actor, *(self._surface[-1] if surfaces else ())]:
                a.visibility = False
                a.mapper.SetLookupTable(tiny_lut)  # unused (direct colours); PyVista's 256 entries cost 24 kB each
        self.plotter = pl
        self.set_view(view)

    # ---- reading back
    @property
    def ren_win(self):
        """The VTK render window (give it to ``pn.pane.VTK``)."""
        return self.plotter.ren_win

    def site_rgba(self, slot: int) -> np.ndarray:
        """RGBA (uint8) of the 26 site spheres of viewport ``slot``, shape (n_sites, 4)."""
        mesh, actor = self._sites[slot]
        rgba = np.asarray(mesh["rgba"])[:: self._per_site]  # (n_sites, 4)
        return rgba if actor.visibility else np.zeros_like(rgba)

    def caption(self, slot: int, corner: int = 2) -> str:
        """The caption text of a viewport (corner 2 = upper left, 3 = upper right)."""
        return self._captions[slot].GetText(corner) or ""

    # ---- changing
    def set_view(self, view) -> None:
        """Point the shared camera along a named view or a direction (or each along its own)."""
        if self.views is not None:
            for k, v in enumerate(self.views):
                self._point(self.plotter.renderers[k], v)
            return
        self.view = view
        self._point(self.plotter.renderers[0], view)
        for r in self.plotter.renderers:
            r.ResetCameraClippingRange()
        if self._labels:  # the labels face the new viewpoint (new points: Panel sends changed arrays only)
            mesh = site_label_mesh(view, sites=self.sites)
            for actor in self._labels:
                actor.mapper.dataset.points = mesh.points.copy()

    def _point(self, renderer, view) -> None:
        cam = renderer.GetActiveCamera()
        if self.web:
            c = web_camera(view)
            cam.SetParallelProjection(False)
            cam.SetViewAngle(WEB_VIEW_ANGLE)
            cam.SetPosition(*c["position"])
            cam.SetFocalPoint(*c["focalPoint"])
            cam.SetViewUp(*c["viewUp"])
        else:
            pos, focal, up = camera_for(view)
            cam.SetPosition(*pos)
            cam.SetFocalPoint(*focal)
            cam.SetViewUp(*up)
            cam.SetParallelProjection(True)
            cam.SetParallelScale(VIEW_EXTENT)
        renderer.ResetCameraClippingRange()
        for r in self.plotter.renderers:
            r.camera_set = True  # else PyVista resets an unset camera to its isometric view on render

    def show(self, items, *, surfaces=None) -> None:
        """Show prototypes in the first viewports and hide the rest, in place.

        Parameters
        ----------
        items : sequence of (values, caption[, upper_right[, lower_left]])
            One prototype (26 values) per viewport, at most ``capacity``; the caption is written
            in the upper left corner, the optional texts in the upper right and lower left.
        surfaces : sequence of str or None, optional
            Per item, the surface ("100", "110", "111") whose plane and normal to draw (scenes
            built with ``surfaces=True`` only).
        """
        items = list(items)
        if len(items) > self.capacity:
            raise ValueError(f"this scene holds {self.capacity} prototypes; got {len(items)}")
        surfaces = list(surfaces) if surfaces is not None else [None] * len(items)
        if len(surfaces) != len(items):
            raise ValueError(f"`surfaces` must have one entry per item ({len(items)}); got {len(surfaces)}")
        for slot in range(self.rows * self.columns):
            on = slot < len(items)
            if on:
                values, caption, *corners = items[slot]
                v = check_values(values, self.sites)
                colors, op = site_style(v, self.threshold)
                rgba = np.round(np.hstack([colors, op[:, None]]) * 255).astype(np.uint8)  # (n_sites, 4)
                mesh, actor = self._sites[slot]
                # a new array, not an in-place change: Panel caches sent arrays by content and object
                mesh.point_data.set_array(np.repeat(rgba, self._per_site, axis=0), "rgba")  # (n_points, 4)
                mesh.point_data.active_scalars_name = "rgba"
                actor.visibility = True
                self._captions[slot].SetText(2, str(caption))
                self._captions[slot].SetText(3, str(corners[0]) if len(corners) > 0 else "")
                self._captions[slot].SetText(0, str(corners[1]) if len(corners) > 1 else "")
            else:
                self._sites[slot][1].visibility = False
                for corner in (0, 2, 3):
                    self._captions[slot].SetText(corner, "")
            for a in self._guides[slot]:
                a.visibility = on
            if self._surface:
                self._set_surface(slot, surfaces[slot] if on else None)
            if self._labels:
                self._labels[slot].visibility = on and self.labels_shown
        self.shown = len(items)

    def show_labels(self, on: bool = True) -> None:
        """Show or hide the site numbers of the viewports in use (scenes built with ``site_labels=True``)."""
        if on and not self._labels:
            raise ValueError("this scene has no site labels: build it with site_labels=True")
        self.labels_shown = bool(on)
        for slot, actor in enumerate(self._labels):
            actor.visibility = self.labels_shown and slot < self.shown

    def label_mesh(self, slot: int = 0) -> pv.PolyData:
        """The site-number mesh of viewport ``slot`` (see :mod:`rbfviz.viz.labels`)."""
        return self._labels[slot].mapper.dataset

    def _set_surface(self, slot: int, surface) -> None:
        plane, normal = self._surface[slot]
        if surface is None:
            plane.visibility = normal.visibility = False
            return
        meshes = surface_meshes(surface)
        # into the meshes the actors were made from: a smooth-shaded actor draws a filter's output
        # (PyVista's smooth shading), which is computed again from that input at every render
        plane_mesh, normal_mesh = self._surface_meshes[slot]
        plane_mesh.copy_from(meshes["plane"])
        normal_mesh.copy_from(meshes["normal"])
        plane.visibility = normal.visibility = True

    def screenshot(self, transparent: bool = False) -> np.ndarray:
        """The window rendered off-screen (uint8 RGB or RGBA), a fresh copy."""
        self.plotter.render()  # PyVista's screenshot reuses the last frame unless told to render
        return np.array(self.plotter.screenshot(None, transparent_background=transparent, return_img=True))

    def close(self) -> None:
        self.plotter.close()
