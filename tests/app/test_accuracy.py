"""The Accuracy view: a small sweep run from the app (progress, cancel, resume) and its table."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("distributed")
pytest.importorskip("xgboost")

from rbfviz.app.accuracy import AccuracyView, SweepTask, list_sweeps, parse_ks
from rbfviz.app.state import AppState
from rbfviz.app.workspace import Workspace


@pytest.fixture
def state(tmp_path):
    return AppState(workspace=Workspace(folder=str(tmp_path / "ws")), bundled_dir=str(tmp_path / "none"))


def test_small_sweep_from_the_view_shows_table_and_figure(state):
    view = AccuracyView(state=state)
    t = view.task
    t.param.update(surfaces=["100"], ks="4 8", splits=2, num_rows=200, max_epochs=2, baselines=["xgboost"])
    fractions = []
    t.param.watch(lambda e: fractions.append(e.new), "fraction")
    assert t.start()
    assert t.wait(180) and t.error == "", t.error
    assert len(t.table) == 6 and fractions and fractions[-1] == 1.0
    assert list(view._table.value["model"]) == ["RBFN (4)", "RBFN (8)", "XGBoost"]
    assert view._figure.object is not None
    assert list_sweeps(state) == ["small"] and view._existing.options == ["small"]
    # a second view opens the saved sweep; a repeated run computes nothing
    other = AccuracyView(state=state)
    other._existing.value = "small"
    other._on_open()
    assert len(other.task.table) == 6
    assert t.start() and t.wait(180) and "0 computed now" in t.status
    view.__panel__()


def test_cancel_stops_the_sweep_and_keeps_finished_cells(state):
    task = SweepTask(state=state, surfaces=["110"], ks="4", splits=4, num_rows=200, max_epochs=2, baselines=[])
    first = threading.Event()
    task.param.watch(lambda e: e.new > 0 and first.set(), "fraction")
    assert task.start()
    assert first.wait(120)
    task.cancel()
    assert task.wait(120) and task.error == "", task.error
    kept = len(list((task.folder / "cells").glob("*.json")))
    assert task.cancelled or kept == 4  # the last cell may finish before the cancel is seen
    assert kept >= 1


def test_bad_k_is_reported():
    with pytest.raises(ValueError, match="whole numbers"):
        parse_ks("8 x")
    with pytest.raises(ValueError, match="between 1 and 4096"):
        parse_ks("0")
