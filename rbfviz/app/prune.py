"""Prune view: reduce a trained network to M prototypes (paper §2.3, eq. 5) on a worker thread.

:class:`PruneTask` holds the settings (the optimiser's generated from
:class:`rbfviz.core.prune.PruneConfig`), takes the input distribution by name from
:func:`rbfviz.core.expectations.distribution_from_name` and runs :func:`rbfviz.core.prune.prune`,
which checks M ≤ K; :class:`PruneView` only shows it.
"""

from __future__ import annotations

import math
import threading

import panel as pn
import param

from rbfviz.app.jobs import Job
from rbfviz.app.settings import build_config, config_params
from rbfviz.app.state import AppState, escape_markdown
from rbfviz.core.expectations import NAMED_DISTRIBUTIONS, distribution_from_name
from rbfviz.core.prune import PruneConfig

# --------------------------------------------------------------------------- constants
PRUNE_FIELDS = ("optimizer", "max_iterations")
NO_DATA_NOTE = (
    "The observed-frequency Bernoulli needs the per-site occupation frequencies of the data the network "
    "was trained on. They are known for networks trained in this session and for model files that record "
    "them (metadata data.occupation_frequencies); this network has neither. Pick another distribution, "
    "or train the network here first."
)


# --------------------------------------------------------------------------- state
_PruneSettings = param.parameterized_class(
    "PruneSettings",
    config_params(PruneConfig, PRUNE_FIELDS, optimizer=param.Selector(default="lbfgs", objects=["lbfgs", "adam"])),
    bases=Job,
)


class PruneTask(_PruneSettings):
    """Settings of one pruning run and its progress.

    ``optimizer`` and ``max_iterations`` are fields of :class:`~rbfviz.core.prune.PruneConfig`
    with its defaults (an empty ``max_iterations`` is the library's budget); ``num_prototypes``,
    ``restarts`` and ``seed`` are the arguments of :func:`rbfviz.core.prune.prune`, which checks them.
    """

    state = param.ClassSelector(class_=AppState, doc="The session's networks; the result is added here.")
    network = param.String(default="", doc="Key of the trained network to prune.")
    num_prototypes = param.Integer(default=16, bounds=(1, None), doc="M, the number of prototypes (M ≤ K).")
    distribution = param.Selector(
        default="bernoulli", objects=list(NAMED_DISTRIBUTIONS), doc="Input distribution of eq. (5), by name."
    )
    restarts = param.Integer(default=10, bounds=(1, None), doc="Random restarts; the best is kept.")
    seed = param.Integer(default=0, bounds=(0, None), doc="Seed of the restarts.")
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
        self.note = "" if available or self.distribution != "bernoulli-observed" else NO_DATA_NOTE
        if not available and not trained:
            self.note = "No trained network yet: train one or upload one first."

    def config(self) -> PruneConfig:
        """The :class:`PruneConfig` of the current settings (its checks raise ValueError)."""
        return build_config(PruneConfig, self, PRUNE_FIELDS)

    def distribution_object(self):
        """The library's distribution for the chosen name (and the network's data, if observed)."""
        frequencies = None
        if self.distribution == "bernoulli-observed":
            frequencies = self.state.occupation_frequencies(self.network) if self.network else None
            if frequencies is None:
                raise ValueError(NO_DATA_NOTE)
        return distribution_from_name(self.distribution, frequencies=frequencies)

    def _run(self, cancel: threading.Event) -> str:
        from rbfviz.core.prune import prune

        if not self.network:
            raise ValueError("choose a trained network first")
        large = self.state.entry(self.network).model
        scale = large.target_scale
        distribution = self.distribution_object()
        config = self.config()

        def progress(p):
            rmse = math.sqrt(max(p.loss, 0.0)) * scale  # √(eq. 5) in eV, as the table shows it
            self.param.update(
                fraction=min(max(float(p.fraction), 0.0), 1.0),
                status=f"iteration {p.iteration}: best √loss {rmse:.4g} eV",
            )

        self.param.update(fraction=None, status=f"pruning to M={self.num_prototypes} with {self.restarts} restarts…")
        result = prune(
            large,
            self.num_prototypes,
            distribution,
            self.restarts,
            config=config,
            seed=self.seed,
            progress=progress,
            cancel=cancel,
        )
        model = result.model
        model.metadata["name"] = self.state.unique_name(model.info)
        key = self.state.add(model, "session", save=True)
        self.param.update(cancelled=bool(result.cancelled), result_key=key)
        self.state.focus = key
        entry = self.state.networks[key]
        how = "cancelled; kept the best result so far" if result.cancelled else "done"
        rmse = entry.pruning_rmse_ev
        loss = f"√loss {rmse:.4g} eV" if rmse is not None else f"loss {result.loss:.4g}"
        if entry.save_error:
            return f"{how}: {loss}; kept in this session as {entry.label} but NOT saved ({entry.save_error})"
        return f"{how}: {loss}; saved as {entry.label}"


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
        if t.running and t.fraction is None:
            self._progress.value = None  # animated until the first report
        else:
            self._progress.value = int(round(1000 * (t.fraction or 0.0)))
        self._status.object = escape_markdown(t.status) if not t.error else f"**Error:** {escape_markdown(t.error)}"
        self._start.disabled = t.running or (t.distribution == "bernoulli-observed" and not t.observed_available)
        self._cancel.disabled = not t.running
        self._note.object = escape_markdown(t.note)
        self._note.visible = bool(t.note)

    def __panel__(self):
        t = self.task
        w = pn.widgets
        options = {text: name for name, text in NAMED_DISTRIBUTIONS.items()}
        dist = w.RadioBoxGroup.from_param(t.param.distribution, options=options, name="Distribution")
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
            w.IntInput.from_param(
                t.param.max_iterations, name="Max iterations (empty = library budget)", css_classes=["rbf-prune-maxit"]
            ),
            title="Pruning (paper §2.3)",
            collapsible=False,
            width=460,
        )
        run = pn.Column(pn.Row(self._start, self._cancel), self._progress, self._status)
        return pn.Row(settings, run)
