"""The dashboard: one :class:`Dashboard` per browser session, composed from the views.

Build it with :func:`create_app`; serve it with ``python launch.py`` (or ``pn.serve(create_app)``).
Nothing is created at import time, so two sessions never share state.

Examples
--------
>>> import tempfile
>>> app = create_app(workspace=tempfile.mkdtemp(), bundled_dir=tempfile.mkdtemp())
>>> type(app.__panel__()).__name__
'Column'
"""

from __future__ import annotations

import os

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")  # no X attempt on headless servers

import panel as pn
import param

from rbfviz.app.accuracy import AccuracyView
from rbfviz.app.compare import CompareView, Comparison
from rbfviz.app.explain import ExplainState, ExplainView
from rbfviz.app.export import ExportSettings, ExportView
from rbfviz.app.lattice import LatticeView
from rbfviz.app.live_scene import SceneBehaviour
from rbfviz.app.networks import NetworksView
from rbfviz.app.prototypes import PrototypeBrowser, PrototypesView
from rbfviz.app.prune import PruneTask, PruneView
from rbfviz.app.state import AppState
from rbfviz.app.train import TrainTask, TrainView
from rbfviz.app.workspace import Workspace, shared_model_cache

# --------------------------------------------------------------------------- constants
EXTENSIONS = ("vtk", "tabulator")
TABS = ("Networks", "Train", "Prune", "Prototypes", "Compare", "Explain", "Lattice", "Export", "Accuracy")
LAZY_TABS = {"Prototypes": "prototypes", "Compare": "compare", "Explain": "explain", "Lattice": "lattice"}


class Dashboard(pn.viewable.Viewer):
    """The session's state, its two background tasks and the views (one tab each)."""

    state = param.ClassSelector(class_=AppState, doc="Networks of this session.")
    train_task = param.ClassSelector(class_=TrainTask, doc="The training run.")
    prune_task = param.ClassSelector(class_=PruneTask, doc="The pruning run.")

    def __init__(self, **params):
        super().__init__(**params)
        s = self.state
        # the 3D views' browser-side fixes, in the page before any scene is drawn
        self.scenes = SceneBehaviour(margin=0, width=0, height=0)
        self.views = {
            "Networks": NetworksView(state=s),
            "Train": TrainView(task=self.train_task),
            "Prune": PruneView(task=self.prune_task),
            "Prototypes": PrototypesView(browser=PrototypeBrowser(state=s), scenes=self.scenes),
            "Compare": CompareView(comparison=Comparison(state=s), scenes=self.scenes),
            "Explain": ExplainView(explainer=ExplainState(state=s)),
            "Lattice": LatticeView(),
            "Export": ExportView(settings=ExportSettings(state=s)),
            "Accuracy": AccuracyView(state=s),
        }
        # not dynamic: a 3D pane, once shown, is never removed from the page (Panel's VTK view fails on removal)
        self._tabs = pn.Tabs(*[(name, self.views[name]) for name in TABS], dynamic=False, sizing_mode="stretch_width")
        self._tabs.param.watch(self._on_tab, "active")

    def show(self, name: str) -> None:
        """Switch to a tab (building its scenes if it is a lazy one)."""
        self._tabs.active = TABS.index(name)

    def _on_tab(self, event):
        for lazy in LAZY_TABS:  # scenes are built when first shown and updated only while shown
            self.views[lazy].active = lazy == TABS[event.new]

    def shutdown(self) -> None:
        """Cancel running work (called when the browser session ends)."""
        self.train_task.cancel()
        self.prune_task.cancel()

    def __panel__(self):
        header = pn.pane.Markdown(
            "## rbfviz · RBF networks of Cu migration barriers\n"
            "Train, prune and look at radial basis function networks (Määttä et al., Neural Networks 2021).",
            margin=(0, 10),
        )
        return pn.Column(header, self.scenes, self._tabs, sizing_mode="stretch_width")


def create_app(*, workspace=None, bundled_dir=None, cache=None) -> Dashboard:
    """Build a fresh dashboard (one per session).

    Parameters
    ----------
    workspace : str or Path, optional
        Folder for networks made in the app (default ``$RBFVIZ_WORKSPACE`` or
        ``~/.local/share/rbfviz/workspace``).
    bundled_dir : str or Path, optional
        Folder of read-only bundled networks (default: the package's bundled networks).
    cache : rbfviz.app.workspace.ModelCache, optional
        Loaded model files shared by sessions (default :func:`shared_model_cache`), so a page
        load does not re-read every workspace model.

    Returns
    -------
    Dashboard
    """
    from rbfviz.app.networks import UPLOAD_EXTENSIONS

    pn.extension(*EXTENSIONS, *UPLOAD_EXTENSIONS)
    ws = Workspace(folder=str(workspace)) if workspace else Workspace()
    state = AppState(workspace=ws, bundled_dir=str(bundled_dir or ""), cache=cache or shared_model_cache())
    app = Dashboard(state=state, train_task=TrainTask(state=state), prune_task=PruneTask(state=state))
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.on_session_destroyed(lambda ctx: app.shutdown())
        from rbfviz.app.live_scene import warm_up_scenes

        pn.state.onload(warm_up_scenes)  # once per process, after the first page is shown
    return app
