"""The app's settings come from the library's config dataclasses; its numbers come from the library."""

from __future__ import annotations

import dataclasses
import math

import holoviews as hv
import numpy as np
import pytest

from rbfviz.app.prune import PRUNE_FIELDS, PruneTask, PruneView
from rbfviz.app.settings import config_params
from rbfviz.app.train import GENERATOR_FIELDS, TRAIN_FIELDS, TrainTask, TrainView
from rbfviz.core.expectations import NAMED_DISTRIBUTIONS, distribution_from_name
from rbfviz.core.prune import PruneConfig
from rbfviz.core.train import TrainConfig
from rbfviz.data.barriers import GeneratorConfig


def test_train_and_prune_parameters_are_the_library_configs(state):
    train_defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    task = TrainTask(state=state)
    for name in TRAIN_FIELDS:
        assert task.param[name].default == train_defaults[name], name
        assert task.param[name].doc.startswith(f"TrainConfig.{name}")
    assert task.config() == TrainConfig()  # the app's defaults are exactly the paper's
    assert task.relaxed == GeneratorConfig().relaxed and GENERATOR_FIELDS == ("relaxed",)
    assert task.generator_config(1_000_000).chunk_size == GeneratorConfig().chunk_size
    assert task.generator_config(60_000).chunk_size == 6000  # about ten reports per run
    assert task.generator_config(10_000).chunk_size == 4096  # never below the efficient chunk

    prune_defaults = {f.name: f.default for f in dataclasses.fields(PruneConfig)}
    p = PruneTask(state=state)
    for name in PRUNE_FIELDS:
        assert p.param[name].default == prune_defaults[name], name
    assert p.config() == PruneConfig()
    with pytest.raises(ValueError, match="no field 'not_a_setting'"):
        config_params(TrainConfig, ["not_a_setting"])


def test_invalid_setting_shows_the_library_message_and_blocks_start(state):
    task = TrainTask(state=state)
    view = TrainView(task=task)
    view.__panel__()
    task.lr_factor = 1.5
    assert "TrainConfig.lr_factor" in task.config_error and view._start.disabled and view._config_error.visible
    task.lr_factor = 0.5
    assert task.config_error == "" and not view._start.disabled
    task.max_epochs = 0  # the library's rule: None (no cap) or >= 1
    assert "max_epochs" in task.config_error
    task.max_epochs = None
    assert task.config().max_epochs is None


def test_distributions_by_name_come_from_the_library(state):
    trained = state.keys("trained")[0]
    task = PruneTask(state=state, network=trained)
    assert task.param.distribution.objects == list(NAMED_DISTRIBUTIONS)
    for name in NAMED_DISTRIBUTIONS:
        task.distribution = name
        freqs = state.occupation_frequencies(trained) if name == "bernoulli-observed" else None
        assert task.distribution_object().describe() == distribution_from_name(name, frequencies=freqs).describe()
    task.distribution = "bernoulli-observed"
    assert task.distribution_object().q.tolist() == pytest.approx([0.6] * 26)  # the file's frequencies
    with pytest.raises(ValueError, match="frequencies"):
        distribution_from_name("bernoulli-observed")


def test_prune_allows_m_equal_k_and_reports_the_library_error_beyond(state):
    trained = state.keys("trained")[0]
    k = state.entry(trained).num_centroids
    task = PruneTask(state=state, network=trained, num_prototypes=k, restarts=1, max_iterations=3)
    assert task.start() and task.wait(120)
    assert task.error == "" and state.entry(task.result_key).num_centroids == k
    task.num_prototypes = k + 1
    assert task.start() and task.wait(60)
    assert f"[1, {k}]" in task.error  # the library's own check (M <= K), passed through


def test_pruning_loss_is_shown_as_rmse_in_ev(state):
    from rbfviz.core.model import RBFN

    scale = 0.37
    large = RBFN(26, 10, seed=42)
    large.metadata.update(target_scale=scale, surface="100")
    key = state.add(large, "session")
    task = PruneTask(state=state, network=key, num_prototypes=3, restarts=1, max_iterations=5)
    view = PruneView(task=task)
    statuses = []
    task.param.watch(lambda e: statuses.append(e.new), "status")
    assert task.start() and task.wait(120) and task.error == ""
    entry = state.entry(task.result_key)
    loss = entry.metadata["prune"]["loss"]  # eq. (5), standardised units²
    row = state.table().set_index("key").loc[task.result_key]
    assert row["pruning RMSE (eV)"] == pytest.approx(math.sqrt(loss) * scale, rel=1e-3)
    assert row["distribution"] == "Bernoulli(q=0.5)"
    assert f"√loss {math.sqrt(loss) * scale:.4g} eV" in task.status
    assert any(s.startswith("iteration") and s.endswith("eV") for s in statuses)
    assert "eV" in view._status.object


def test_status_epoch_agrees_with_counter_and_curves_keep_up(state, monkeypatch, toy_dataset):
    import rbfviz.app.train as train_module

    monkeypatch.setattr(train_module, "PUBLISH_INTERVAL", 0.0)  # publish every epoch
    task = TrainTask(state=state, num_centroids=4, max_epochs=5, batch_size=32)
    task.param.update(uploaded=toy_dataset(300), data_source="uploaded")
    view = TrainView(task=task)
    seen = []

    def check(event):
        if event.new.startswith("epoch "):
            shown = int(event.new.split()[1].rstrip(":"))
            seen.append((shown, task.epoch, len(task.history), view._lr.object))

    task.param.watch(check, "status")
    assert task.start() and task.wait(120) and task.error == ""
    assert [s[0] for s in seen] == [1, 2, 3, 4, 5]
    for shown, counter, rows, _ in seen:
        assert shown == counter == rows
    assert task.status.startswith("done: 5 epochs") and "epochs done: 5" in view._lr.object
    data = view._buffer.data  # one buffer: the validation curve has every epoch the train curve has
    assert len(data) == 5 and data["val_mse"].notna().all() and data["train_mse"].notna().all()


def test_final_chart_log_axis_has_ticks_below_005(state):
    from bokeh.models import FixedTicker, LogAxis

    task = TrainTask(state=state)
    # MSE from 1.5 down to 0.012: Bokeh's own log ticker labels only 0.1 and 1 on this range
    task.history = [
        {"epoch": e, "train_mse": 1.4 * np.exp(-e / 10) + 0.012, "val_mse": 1.5 * np.exp(-e / 10) + 0.02, "lr": 1e-2}
        for e in range(60)
    ]
    fig = hv.render(TrainView(task=task).final_chart(), backend="bokeh")
    loss_axis = [ax for ax in fig.select({"type": LogAxis}) if ax.axis_label == "MSE"]
    assert loss_axis and isinstance(loss_axis[0].ticker, FixedTicker), "the MSE axis has no explicit ticks"
    ticks = list(loss_axis[0].ticker.ticks)
    assert [t for t in ticks if t < 0.05] == [0.02] and ticks[-1] == 1.0
    lo = min(min(r["train_mse"], r["val_mse"]) for r in task.history)
    assert all(lo <= t <= 1.52 for t in ticks)


def test_log_ticks_cover_the_range_with_round_numbers():
    from rbfviz.viz.charts import log_ticks

    assert log_ticks([0.0123, 0.3]) == [0.02, 0.05, 0.1, 0.2]
    assert log_ticks([1e-5, 2.0]) == [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0]
    assert log_ticks([0.031, 0.045]) == [0.04]  # one round number in range is all there is
    assert log_ticks([float("nan"), -1.0, None]) == []
