"""A 3D scene in the dashboard's page: its vtk.js pane, updated in place, and the browser-side fixes.

:class:`LiveScene` pairs a :class:`rbfviz.viz.prototype_scene.PrototypeScene` with its pane
(:func:`scene_pane`) and sends changes only while its tab is shown.  :class:`SceneBehaviour`,
once per page, installs :data:`SCENE_SCRIPT` (``live_scene.js``: what it changes in Panel's VTK
view, and why, is at its top) and reports each new scene state the browser has drawn, so that
slower parts wait until the scenes are on the screen (:func:`after_drawn`).
"""

from __future__ import annotations

import functools
from importlib import resources

import panel as pn
import param
from panel.pane.vtk.vtk import VTKRenderWindowSynchronized

DRAWN_TIMEOUT_MS = 2500  # work held back for the scenes' draw waits at most this long
SCENE_SCRIPT = resources.files("rbfviz.app").joinpath("live_scene.js").read_text(encoding="utf-8")


class SceneBehaviour(pn.reactive.ReactiveHTML):
    """An invisible element that installs :data:`SCENE_SCRIPT` and reports drawn scenes (once per page).

    Put it in the page before any 3D view is made (the dashboard's first row): a view drawn before
    the script runs would draw its first frames with Panel's default axes.  :meth:`after_drawn`
    holds back slower work (off-screen pictures, charts) until the browser has drawn the new
    scenes, so that the 3D views do not wait behind it.
    """

    drawn = param.Integer(default=0, doc="New scene states drawn in the browser (counted there).")

    _template = "<div id='marker' style='display:none'></div>"
    _scripts = {"render": SCENE_SCRIPT}

    def __init__(self, **params):
        super().__init__(**params)
        self._waiting = []
        self.param.watch(self._run_waiting, "drawn")

    def after_drawn(self, callback) -> None:
        """Run ``callback`` once the browser has drawn the scenes just sent.

        At most :data:`DRAWN_TIMEOUT_MS` later (a browser without WebGL draws nothing); at once
        outside a server session.
        """
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:
            callback()
            return
        once = [callback]
        timeout = doc.add_timeout_callback(lambda: _call_once(once), DRAWN_TIMEOUT_MS)
        self._waiting.append((once, doc, timeout))

    def _run_waiting(self, *events):
        waiting, self._waiting = self._waiting, []
        for once, doc, timeout in waiting:
            if once:  # not yet run by its timeout, which is dropped (it would fire after the page closed)
                doc.remove_timeout_callback(timeout)
            _call_once(once)


def _call_once(once: list) -> None:
    if once:
        once.pop()()


def after_drawn(scenes: SceneBehaviour | None, callback) -> None:
    """:meth:`SceneBehaviour.after_drawn`, or at once when the view has no behaviour (not in a dashboard)."""
    if scenes is None:
        callback()
    else:
        scenes.after_drawn(callback)


class ScenePane(VTKRenderWindowSynchronized):
    """Panel's synchronized VTK pane, sending the full scene graph on every update.

    Panel sends only the changes of each object's children since the last update, but its own
    browser code rebuilds the vtk.js render window on every update and re-adds only the first
    renderer; a window of several viewports then loses all but the first.  ``live_scene.js`` keeps
    the window instead, but any view that still gets a new one (made before the script ran, or
    without it) needs every child: so every child is sent.
    """

    priority = 0  # never chosen by pn.panel(); made explicitly by scene_pane()

    def _update(self, ref, model) -> None:
        context = self._contexts[model.id]
        context.setIgnoreLastDependencies(True)
        try:
            super()._update(ref, model)
        finally:
            context.setIgnoreLastDependencies(False)


def scene_pane(scene, css: str, **kwargs) -> ScenePane:
    """A vtk.js pane showing a :class:`rbfviz.viz.prototype_scene.PrototypeScene`, sized to its window."""
    width, height = scene.plotter.window_size
    return ScenePane(
        scene.ren_win,
        width=width,
        height=height,
        orientation_widget=False,  # Panel leaves a deleted window's widget observing resizes (errors)
        enable_keybindings=False,
        css_classes=["rbf-scene", css],
        margin=0,
        **kwargs,
    )


@functools.cache
def warm_up_scenes() -> None:
    """Build and drop one tiny scene and pane, once per process.

    The first scene and pane of a process cost about 1.1 s of one-off loading (PyVista's lazy
    modules, Panel's VTK serializer) that would otherwise fall on the first click on a 3D tab.
    """
    from rbfviz.viz.prototype_scene import PrototypeScene

    scene = PrototypeScene(1, panel_size=64, resolution=6)
    scene_pane(scene, "rbf-warm-up")
    scene.close()


def scene_key(surface: bool = False, width: int = 300) -> pn.pane.HTML:
    """The key shown by every 3D view (:func:`rbfviz.viz.style.key_html`)."""
    from rbfviz.viz.style import key_html

    return pn.pane.HTML(key_html(surface=surface), width=width, css_classes=["rbf-scene-key"], margin=(0, 8))


class LiveScene:
    """A scene, its pane, and whether a change waits to be sent because the tab is hidden."""

    def __init__(self, scene, css: str):
        self.scene = scene
        self.pane = scene_pane(scene, css)
        self.dirty = False

    def send(self, visible: bool) -> None:
        if visible:
            self.pane.synchronize()
            self.dirty = False
        else:
            self.dirty = True

    def set_view(self, view, visible: bool) -> None:
        from rbfviz.viz.prototype_scene import web_camera

        self.scene.set_view(view)
        self.pane.camera = web_camera(view)
        self.send(visible)
