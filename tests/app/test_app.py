"""Logic of the dashboard without a browser: state objects, tasks run synchronously, views build layouts."""

from __future__ import annotations

import time

import numpy as np
import panel as pn
import pytest
from panel.pane.vtk.vtk import AbstractVTK

from rbfviz.app.compare import CompareView, Comparison
from rbfviz.app.main import Dashboard, create_app
from rbfviz.app.networks import NetworksView
from rbfviz.app.prototypes import PER_PAGE, PrototypeBrowser, PrototypesView
from rbfviz.app.prune import PruneTask
from rbfviz.app.state import AppState, UploadError, escape_markdown
from rbfviz.app.train import TrainTask, available_devices
from rbfviz.app.workspace import Workspace


def run(task, timeout=120):
    assert task.start()
    assert task.wait(timeout), "the worker did not finish in time"
    assert not task.running
    assert task.error == "", task.error


def test_state_loads_bundled_networks(state):
    table = state.table()
    assert len(table) == 6
    assert set(table["origin"]) == {"bundled"}
    assert sorted(table.loc[table["kind"] == "pruned", "surface"]) == ["100", "110", "111"]
    assert table.loc[table["kind"] == "pruned", "K"].tolist() == [8, 8, 8]
    pruned = state.keys("pruned")[0]
    with pytest.raises(PermissionError, match="bundled"):
        state.remove(pruned)
    assert len(state.networks) == 6


def test_train_task_adds_a_saved_network(state, toy_dataset):
    task = TrainTask(state=state, num_centroids=8, max_epochs=4, batch_size=32)
    task.param.update(uploaded=toy_dataset(), data_source="uploaded")
    run(task)
    key = task.result_key
    assert key in state.networks and state.networks[key].origin == "session"
    entry = state.networks[key]
    assert entry.num_centroids == 8 and entry.surface == "100"
    assert entry.path is not None and entry.path.exists() and entry.path.parent == state.workspace.path
    assert len(task.history) == 4 and task.fraction == 1.0 and task.status.startswith("done")
    assert state.histories[key] == task.history
    assert state.occupation_frequencies(key) is not None  # known from the session's data
    # the saved network is there after a "restart"
    again = AppState(workspace=Workspace(folder=state.workspace.folder), bundled_dir=state.bundled_dir)
    assert again.networks[key].origin == "workspace"


def test_train_task_cancel_keeps_best_model(state, toy_dataset):
    task = TrainTask(state=state, num_centroids=8, max_epochs=10_000, batch_size=16, min_lr=1e-12)
    task.param.update(uploaded=toy_dataset(2000), data_source="uploaded")
    assert task.start()
    deadline = time.monotonic() + 60
    while not task.history and time.monotonic() < deadline:
        time.sleep(0.05)
    task.cancel()
    assert task.wait(60)
    assert task.cancelled and task.result_key in state.networks
    assert len(task.history) < 10_000 and "cancelled" in task.status


def test_train_task_needs_uploaded_data(state):
    task = TrainTask(state=state, data_source="uploaded")
    assert task.start() and task.wait(30)
    assert "no data file uploaded" in task.error
    assert len(state.networks) == 6


def test_bad_data_upload_changes_nothing(state):
    task = TrainTask(state=state)
    assert not task.upload_data("broken.26d", b"1 0 1\nnot numbers\n")
    assert task.data_message.startswith("Error") and "broken.26d" in task.data_message
    assert task.uploaded is None and task.data_source == "generated"


def test_prune_task_adds_pruned_network(state):
    trained = state.keys("trained")[0]
    task = PruneTask(state=state, network=trained, num_prototypes=4, restarts=2, max_iterations=30)
    assert task.observed_available  # bundled metadata records occupation frequencies
    task.distribution = "bernoulli-observed"
    run(task)
    entry = state.networks[task.result_key]
    assert entry.kind == "pruned" and entry.num_centroids == 4
    assert entry.metadata.get("parent_hash") == trained
    assert entry.path.exists()
    assert state.focus == task.result_key


def test_observed_distribution_disabled_without_data(tmp_path):
    from rbfviz.core.model import RBFN

    st = AppState(workspace=Workspace(folder=str(tmp_path / "ws")), bundled_dir=str(tmp_path / "none"))
    key = st.add(RBFN(26, 6, seed=1), "session")
    task = PruneTask(state=st, network=key, distribution="bernoulli-observed")
    assert not task.observed_available and "occupation frequencies" in task.note
    assert task.start() and task.wait(30)
    assert task.error and len(st.networks) == 1


def test_bad_model_upload_changes_nothing(state):
    before = dict(state.networks)
    for name, data, match in [
        ("model.safetensors", b"\x00garbage" * 10, "not a usable model file"),
        ("model.gz", b"\x1f\x8b\x08broken", "not a usable model file"),
        ("model.exe", b"MZ", "unsupported file type"),
        ("empty.safetensors", b"", "empty"),
    ]:
        with pytest.raises(UploadError, match=match):
            state.upload_model(name, data)
    assert state.networks == before and state.workspace.model_files() == []
    view = NetworksView(state=state)
    view._upload.value = {"bad.safetensors": b"not a model"}
    assert view.wait_for_upload(30)
    assert state.message.startswith("Error") and "bad.safetensors" in state.message
    assert "rbfviz-upload-" not in state.message  # no server paths in messages
    assert view._message.visible and view._message.alert_type == "danger"


def test_good_model_upload_and_delete(state, tiny_models):
    from rbfviz.core.model import RBFN
    from rbfviz.core.store import save_model

    net = RBFN(26, 5, seed=99)
    path = state.workspace.path.parent / "mine.safetensors"
    save_model(net, path)
    key = state.upload_model("mine.safetensors", path.read_bytes())
    assert state.networks[key].origin == "uploaded" and len(state.networks) == 7
    saved = state.networks[key].path
    assert saved.exists() and state.workspace.owns(saved)
    state.remove(key)
    assert key not in state.networks and not saved.exists()


def test_two_sessions_do_not_share_networks(tmp_path, tiny_models):
    a = create_app(workspace=tmp_path / "ws", bundled_dir=tiny_models)
    b = create_app(workspace=tmp_path / "ws", bundled_dir=tiny_models)
    from rbfviz.core.model import RBFN

    key = a.state.add(RBFN(26, 3, seed=5), "session")
    assert key in a.state.networks and key not in b.state.networks
    assert a.state is not b.state and a.train_task is not b.train_task


def test_devices_offer_cuda_only_when_available():
    import torch

    assert ("cuda" in available_devices()) == torch.cuda.is_available()
    assert available_devices()[:2] == ["auto", "cpu"]


def test_dashboard_layout_and_lazy_tabs(tmp_path, tiny_models):
    app = create_app(workspace=tmp_path / "ws", bundled_dir=tiny_models)
    assert isinstance(app, Dashboard)
    layout = app.__panel__()
    assert isinstance(layout, pn.Column)
    proto = app.views["Prototypes"]
    assert not proto.active and proto._page_scene is None  # nothing heavy before the tab is shown
    app.show("Prototypes")
    assert proto.active and proto._page_scene.scene.shown == min(PER_PAGE, 8)  # one scene for the page
    assert isinstance(proto._detail.objects[0], AbstractVTK)
    assert len(proto._table.value) == 26
    assert proto._strip.object[:4] == b"\x89PNG"  # the four viewpoints side by side


def test_prototype_browser_orders_and_pages(state):
    b = PrototypeBrowser(state=state)
    assert state.entry(b.network).kind == "pruned"
    betas = np.abs(b.prototypes().weights_ev)
    assert np.all(np.diff(betas[b.ordered()]) <= 1e-12)
    b.order = "index"
    assert b.ordered() == list(range(8)) and b.num_pages == 1
    view = PrototypesView(browser=b)
    assert isinstance(view.__panel__(), pn.Column)


def test_compare_defaults_to_one_pruned_network_per_surface(state):
    c = Comparison(state=state)
    assert [state.networks[k].surface for k in c.networks] == ["100", "110", "111"]
    view = CompareView(comparison=c)
    view.active = True
    panes = [o for o in view._columns.objects if isinstance(o, AbstractVTK)]
    assert len(panes) == 1 and view._live.scene.shown == 3  # one scene, a viewport per network
    c.rank = 99
    assert view._live.scene.shown == 0 and "fewer than 99" in view._notes.object


@pytest.mark.parametrize("fmt,magic", [("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_export_renders_files(state, fmt, magic):
    pytest.importorskip("rbfviz.viz.export")
    from rbfviz.app.export import ExportSettings

    s = ExportSettings(state=state, fmt=fmt, dpi=100)
    assert s.filename.endswith(f".{fmt}") and "/" not in s.filename
    assert s.render()[:4] == magic
    s.figure = "prototype"
    assert s.render()[:4] == magic


def test_prototype_pages_of_eight(state):
    from rbfviz.core.model import RBFN

    big = RBFN(26, 20, seed=3)
    big.metadata["kind"] = "pruned"
    key = state.add(big, "session")
    b = PrototypeBrowser(state=state)
    state.focus = key
    assert b.network == key and b.num_pages == 3
    b.page = 2
    assert len(b.page_indices()) == 4
    seen = []
    for p in range(3):
        b.page = p
        seen += b.page_indices()
    assert sorted(seen) == list(range(20))


def test_good_data_upload_selects_uploaded_data(state, tmp_path, toy_dataset):
    from rbfviz.data.datasets import write_26d

    path = tmp_path / "toy.26d"
    write_26d(toy_dataset(300), path)
    task = TrainTask(state=state)
    assert task.upload_data("toy.26d", path.read_bytes())
    assert task.data_source == "uploaded" and len(task.uploaded.y) == 300
    assert task.uploaded.source == "upload:toy.26d"
    assert task.data_message.startswith("Loaded toy.26d")


def test_upload_size_limit(state, monkeypatch):
    import rbfviz.app.state as st

    monkeypatch.setattr(st, "MAX_UPLOAD_BYTES", 1000)
    with pytest.raises(UploadError, match="larger than"):
        state.upload_model("big.safetensors", b"x" * 2000)


def test_reference_gzip_model_upload(state, tmp_path):
    from rbfviz.core.model import RBFN
    from rbfviz.core.store import save_reference_model

    path = tmp_path / "reference.gz"
    save_reference_model(RBFN(26, 6, seed=4), path)
    key = state.upload_model("reference.gz", path.read_bytes())
    assert state.networks[key].num_centroids == 6 and state.networks[key].origin == "uploaded"


def test_export_training_curves_and_sheet(state, toy_dataset):
    from rbfviz.app.export import ExportSettings

    task = TrainTask(state=state, num_centroids=4, max_epochs=3)
    task.param.update(uploaded=toy_dataset(), data_source="uploaded")
    run(task)
    s = ExportSettings(state=state, network=task.result_key, figure="training_curves", fmt="svg", dpi=100)
    assert b"<svg" in s.render()[:500]
    s.figure = "sheet"
    assert s.fmt == "png" and s.formats() == ["png", "pdf"]  # 3D figures have no SVG
    s.network = state.keys("pruned")[0]
    assert s.render()[:4] == b"\x89PNG"
    s.fmt = "svg"
    with pytest.raises(ValueError, match="png or pdf"):
        s.render()


def test_networks_view_deletes_selected_workspace_network(state):
    from rbfviz.core.model import RBFN

    key = state.add(RBFN(26, 5, seed=8), "session", save=True)
    path = state.networks[key].path
    view = NetworksView(state=state)
    view._table.selection = [list(view._table.value["key"]).index(key)]
    view._on_delete(None)
    assert key not in state.networks and not path.exists() and state.message.startswith("Deleted")
    view._table.selection = [0]  # a bundled one
    view._on_delete(None)
    assert state.message.startswith("Error") and len(state.networks) == 6


def test_app_opens_with_no_networks(tmp_path):
    app = create_app(workspace=tmp_path / "ws", bundled_dir=tmp_path / "empty")
    assert app.state.table().empty
    for name in ("Prototypes", "Compare"):
        app.show(name)
    assert "No networks yet" in app.views["Prototypes"]._page_label.object
    assert "Choose pruned networks" in app.views["Compare"]._notes.object
    assert not app.prune_task.start() or (app.prune_task.wait(10) and "trained network" in app.prune_task.error)
    assert isinstance(app.__panel__(), pn.Column)


def test_broken_file_in_workspace_is_reported_not_fatal(tmp_path, tiny_models):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "broken.safetensors").write_bytes(b"\x00" * 40)
    st = AppState(workspace=Workspace(folder=str(ws)), bundled_dir=str(tiny_models))
    assert len(st.networks) == 6 and len(st.load_errors) == 1 and "broken.safetensors" in st.load_errors[0]
    view = NetworksView(state=st)
    assert view._problems.visible and escape_markdown("broken.safetensors") in view._problems.object
