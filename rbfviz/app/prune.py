"""Prune view: reduce a trained network to M prototypes (paper §2.3, eq. 5) on a worker thread.

:class:`PruneTask` holds the settings, builds the input distribution from
:mod:`rbfviz.core.expectations` and runs :func:`rbfviz.prune.prune`; :class:`PruneView` only shows it.
"""

from __future__ import annotations

import threading

import panel as pn
import param

from rbfviz.app.jobs import Job
from rbfviz.app.state import AppState

# --------------------------------------------------------------------------- constants
DISTRIBUTIONS = {
    "Bernoulli, q = 0.5 at every site": "bernoulli",
    "Bernoulli, observed per-site frequencies of the training data": "observed",
    "Uniform on [-1, 1]": "uniform",
    "Normal, mean 0, std 1": "normal",
}
NO_DATA_NOTE = (
    "The observed-frequency Bernoulli needs the per-site occupation frequencies of the data the network "
    "was trained on. They are known for networks trained in this session and for model files that record "
    "them (metadata data.occupation_frequencies); this network has neither. Pick another distribution, "
    "or train the network here first."
)


def make_distribution(choice: str, frequencies=None):
    """The expectation object for a choice of :data:`DISTRIBUTIONS` (values), from the library."""
    from rbfviz.core import expectations as ex

    if choice == "bernoulli":
        return ex.Bernoulli(0.5)
    if choice == "observed":
        if frequencies is None:
            raise ValueError(NO_DATA_NOTE)
        return ex.Bernoulli.from_frequencies(frequencies)
    if choice == "uniform":
        return ex.Uniform(-1.0, 1.0)
    if choice == "normal":
        return ex.Normal(0.0, 1.0)
    raise ValueError(f"`distribution` must be one of {sorted(DISTRIBUTIONS.values())}; got {choice!r}")


# --------------------------------------------------------------------------- state
class PruneTask(Job):
    """Settings of one pruning run and its progress."""

    state = param.ClassSelector(class_=AppState, doc="The session's networks; the result is added here.")
    network = param.String(default="", doc="Key of the trained network to prune.")
    num_prototypes = param.Integer(default=16, bounds=(1, 1024), doc="M, the number of prototypes.")
    distribution = param.Selector(
        default="bernoulli", objects=list(DISTRIBUTIONS.values()), doc="Input distribution of eq. (5)."
    )
    restarts = param.Integer(default=10, bounds=(1, 1000), doc="Random restarts; the best is kept.")
    seed = param.Integer(default=0, bounds=(0, None), doc="Seed of the restarts.")
    optimizer = param.Selector(
        default="lbfgs", objects=["lbfgs", "adam"], doc="L-BFGS (fast) or the paper's Adam schedule."
    )
    max_iterations = param.Integer(
        default=1000, bounds=(1, None), doc="Cap on optimiser iterations (L-BFGS default 1000)."
    )
    observed_available = param.Boolean(default=False, doc="Whether the chosen network's training data is known.")
    note = param.String(default="", doc="Why an option is unavailable, or a hint.")

    def __init__(self, **params):
        super().__init__(**params)
        self.state.param.watch(self._refresh, "networks")
        self._refresh()

    @param.depends("network", "distribution", watch=True)
    def _refresh(self, *events):
        trained = self.state.keys("trained")
        if self.network not in trained:
            with param.parameterized.discard_events(self):
                self.network = trained[0] if trained else ""
        available = bool(self.network) and self.state.occupation_frequencies(self.network) is not None
        self.observed_available = available
        self.note = "" if available or self.distribution != "observed" else NO_DATA_NOTE
        if not available and not trained:
            self.note = "No trained network yet: train one or upload one first."

    def _run(self, cancel: threading.Event) -> str:
        from rbfviz.core.prune import PruneConfig, prune

        if not self.network:
            raise ValueError("choose a trained network first")
        large = self.state.entry(self.network).model
        distribution = make_distribution(self.distribution, self.state.occupation_frequencies(self.network))
        m = self.num_prototypes
        if m >= large.centroids.shape[0]:
            raise ValueError(f"M must be smaller than the network's K = {large.centroids.shape[0]}; got {m}")

        def progress(p):
            self.param.update(
                fraction=min(max(float(p.fraction), 0.0), 1.0),
                status=f"iteration {p.iteration}: best loss {p.loss:.4g}",
            )

        self.status = f"pruning to M={m} with {self.restarts} restarts…"
        config = PruneConfig(optimizer=self.optimizer, max_iterations=self.max_iterations)
        result = prune(
            large, m, distribution, self.restarts, config=config, seed=self.seed, progress=progress, cancel=cancel
        )
        key = self.state.add(result.model, "session", save=True)
        self.param.update(cancelled=bool(result.cancelled), result_key=key)
        self.state.focus = key
        how = "cancelled; kept the best result so far" if result.cancelled else "done"
        return f"{how}: loss {result.loss:.4g}; saved as {self.state.networks[key].label}"


# --------------------------------------------------------------------------- view
class PruneView(pn.viewable.Viewer):
    """Settings, Start/Cancel and progress of a :class:`PruneTask`."""

    task = param.ClassSelector(class_=PruneTask, doc="The pruning run shown here.")

    def __init__(self, **params):
        super().__init__(**params)
        t = self.task
        self._network = pn.widgets.Select(
            name="Trained network",
            options=t.state.options("trained"),
            value=t.network or None,
            width=420,
            css_classes=["rbf-prune-network"],
        )
        self._network.param.watch(lambda e: setattr(t, "network", e.new or ""), "value")
        t.state.param.watch(self._on_networks, "networks")
        self._start = pn.widgets.Button(name="Start pruning", button_type="primary", css_classes=["rbf-prune-start"])
        self._cancel = pn.widgets.Button(
            name="Cancel", button_type="warning", disabled=True, css_classes=["rbf-prune-cancel"]
        )
        self._start.on_click(lambda _: t.start())
        self._cancel.on_click(lambda _: t.cancel())
        self._progress = pn.indicators.Progress(value=0, max=1000, width=400, css_classes=["rbf-prune-progress"])
        self._status = pn.pane.Markdown("idle", css_classes=["rbf-prune-status"])
        self._note = pn.pane.Alert("", alert_type="info", visible=False)
        t.param.watch(self._on_progress, ["fraction", "status", "running", "error", "note", "network"])
        self._on_progress()

    def _on_networks(self, *events):
        self._network.options = self.task.state.options("trained")
        self._network.value = self.task.network or None

    def _on_progress(self, *events):
        t = self.task
        self._progress.value = int(round(1000 * t.fraction))
        self._status.object = t.status if not t.error else f"**Error:** {t.error}"
        self._start.disabled = t.running or (t.distribution == "observed" and not t.observed_available)
        self._cancel.disabled = not t.running
        self._note.object = t.note
        self._note.visible = bool(t.note)

    def __panel__(self):
        t = self.task
        w = pn.widgets
        dist = w.RadioBoxGroup.from_param(t.param.distribution, options=DISTRIBUTIONS, name="Distribution")
        dist.param.watch(self._on_progress, "value")
        settings = pn.Card(
            self._network,
            w.IntInput.from_param(t.param.num_prototypes, name="M (prototypes)", css_classes=["rbf-m"]),
            pn.pane.Markdown("**Input distribution**"),
            dist,
            self._note,
            w.IntInput.from_param(t.param.restarts, name="Restarts", css_classes=["rbf-restarts"]),
            w.IntInput.from_param(t.param.seed, name="Seed"),
            w.Select.from_param(t.param.optimizer, name="Optimiser"),
            w.IntInput.from_param(t.param.max_iterations, name="Max iterations", css_classes=["rbf-prune-maxit"]),
            title="Pruning (paper §2.3)",
            collapsible=False,
            width=460,
        )
        run = pn.Column(pn.Row(self._start, self._cancel), self._progress, self._status)
        return pn.Row(settings, run)
