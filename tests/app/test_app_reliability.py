"""One bad file never breaks the app, user text is escaped, errors are shown, nothing computed is lost.

Hostile files are made here, never committed.  Tasks and uploads run on their worker threads and
the tests wait for them to end (no sleeps).
"""

from __future__ import annotations

import gzip
import html
import io
import json
import logging
import re
import tarfile
import warnings

import numpy as np
import panel as pn
import pytest

from rbfviz.app.main import create_app
from rbfviz.app.networks import NetworksView
from rbfviz.app.prune import PruneTask, PruneView
from rbfviz.app.state import AppState, NetworkEntry, UploadError, clean_metadata, escape_markdown
from rbfviz.app.train import TrainTask, TrainView
from rbfviz.app.workspace import ModelCache, Workspace, shared_model_cache
from rbfviz.core.model import RBFN
from rbfviz.core.store import FORMAT_NAME, content_hash, load_model, save_model

XSS = '<img src=x onerror="alert(1)">'


# --------------------------------------------------------------------------- helpers


def rows_26d(n: int, seed: int) -> str:
    """``n`` rows of .26d text (0/1 columns, barrier in eV) without any surface header."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, size=(n, 26))
    return "".join(" ".join(map(str, b)) + f" {0.3 + 0.01 * i:.3f}\n" for i, b in enumerate(bits))


def model_file(metadata_json: str, k: int = 5, seed: int = 0) -> bytes:
    """An rbfviz model file with valid tensors and the given metadata JSON text, byte for byte."""
    from safetensors.torch import save as st_save

    net = RBFN(26, k, seed=seed)
    tensors = {n: getattr(net, n).detach().clone() for n in ("bias", "weights", "centroids", "log_gamma")}
    return st_save(tensors, metadata={"format": FORMAT_NAME, "format_version": "1", "metadata": metadata_json})


def rendered_html(pane) -> str:
    """The HTML a Markdown/Alert pane sends to the browser (Panel escapes it once for transport)."""
    return html.unescape(pane._transform_object(pane.object)["object"])


ODD_METADATA = {
    "metrics.json": {"kind": "trained", "metrics": [1, 2]},
    "prune.json": {"kind": "pruned", "prune": "x", "name": "odd prune"},
    "parent.json": {"kind": "pruned", "parent_hash": ["a", "b"], "prune": {"loss": "NaN?"}},
    "kind.json": {"kind": "k" * 300, "surface": 100, "target_scale": "big"},
    "freqs.json": {"kind": "trained", "data": {"occupation_frequencies": [2.0] * 26}},
}


# --------------------------------------------------------------------------- issue 12, item 1
def test_odd_metadata_files_are_listed_and_the_app_keeps_working(tmp_path, tiny_models):
    ws = tmp_path / "ws"
    ws.mkdir()
    for i, (name, md) in enumerate(ODD_METADATA.items()):
        (ws / name.replace(".json", ".safetensors")).write_bytes(model_file(json.dumps(md), seed=100 + i))
    deep = '{"kind": "trained", "deep": ' + "[" * 900 + "]" * 900 + "}"
    (ws / "deep.safetensors").write_bytes(model_file(deep, seed=200))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a library that validates metadata at load may warn as well
        app = create_app(workspace=ws, bundled_dir=tiny_models, cache=ModelCache())
    st = app.state
    assert len(st.networks) + len(st.load_errors) == 6 + len(ODD_METADATA) + 1  # every file accounted for
    listed = " ".join(st.load_errors + st.problems)
    by_file = {e.path.name: e for e in st.networks.values() if e.path is not None}
    for name, field in [
        ("metrics", "metrics"),
        ("prune", "prune"),
        ("parent", "parent_hash"),
        ("kind", "kind"),
        ("freqs", "occupation_frequencies"),
        ("deep", "deep"),
    ]:
        file = f"{name}.safetensors"
        # the app either lists the file as unusable, or uses it without the ill-typed field (named if it saw it)
        assert f"{file}:" in listed or file in by_file, file
        if f"{file}:" in listed:
            assert field in listed.split(f"{file}:")[1][:400] or file not in by_file, (file, listed)
    for entry in st.networks.values():  # nothing ill-typed reaches what the views read
        md = entry.metadata
        assert isinstance(md.get("metrics", {}), dict) and isinstance(md.get("prune", {}), dict)
        assert isinstance(md.get("parent_hash", ""), str) and entry.kind in ("trained", "pruned")
        assert md.get("surface") in (None, "100", "110", "111") and "deep" not in md
        freqs = (md.get("data") or {}).get("occupation_frequencies")
        assert freqs is None or max(freqs) <= 1.0
    assert all(len(p) < 2000 for p in st.load_errors + st.problems)  # the 300-character kind is cut, not echoed
    table = st.table()
    assert len(table) == len(st.networks) and table["name"].map(len).max() <= 80
    view = app.views["Networks"]
    assert view._problems.visible and "safetensors" in view._problems.object
    for tab in ("Networks", "Train", "Prune", "Prototypes", "Compare", "Export"):
        app.show(tab)
    assert isinstance(app.__panel__(), pn.Column)
    for key in st.networks:  # every query the views make answers for every file
        st.occupation_frequencies(key), st.entry(key).label, st.entry(key).row()


def test_clean_metadata_keeps_good_fields_and_names_dropped_ones():
    clean, notes = clean_metadata({"kind": "pruned", "surface": "110", "prune": {"loss": 0.1}, "metrics": [1]})
    assert clean == {"kind": "pruned", "surface": "110", "prune": {"loss": 0.1}}
    assert notes == ["metrics: a list, not a mapping"]
    assert clean_metadata(["not", "a", "dict"])[0] == {}


def test_network_entries_read_the_typed_metadata():
    """What the views show comes from ModelInfo: √loss × scale (worked by hand) for files without
    ``rmse_ev``, the distribution's parameters, and a scale the schema refuses is named, not used."""
    net = RBFN(26, 4, seed=3)
    dist = {"name": "Bernoulli", "q": [0.5] * 26}
    net.metadata.update(kind="pruned", surface="110", target_scale=0.5, prune={"loss": 0.04, "distribution": dist})
    entry = NetworkEntry("k" * 64, net, "session")
    assert entry.info == net.info and entry.kind == "pruned" and entry.surface == "110" and not entry.problems
    assert entry.pruning_rmse_ev == pytest.approx(0.2 * 0.5)
    assert entry.row()["distribution"] == "Bernoulli(per-site q)"
    net.metadata["target_scale"] = -1.0
    entry = NetworkEntry("k" * 64, net, "session")
    assert entry.kind == "pruned" and entry.info.target_scale == 1.0
    assert entry.pruning_rmse_ev == pytest.approx(0.2)
    assert any("target_scale" in p for p in entry.problems)


# --------------------------------------------------------------------------- issue 12, item 4
def test_markdown_escape_renders_the_text_literally():
    for text in [XSS, "**bold** _it_ [x](javascript:alert(1)) `c` # h", "a & b &lt; <script>x</script> \\ |"]:
        out = rendered_html(pn.pane.Markdown(escape_markdown(text)))
        assert "<img" not in out and "<script" not in out and "<a " not in out and "<em>" not in out
        assert html.unescape(re.sub(r"</?p>", "", out)).strip() == text


def test_model_name_is_escaped_wherever_the_app_shows_it(state, tiny_models):
    net = RBFN(26, 5, seed=77)
    net.metadata.update(kind="trained", name=XSS)
    path = state.workspace.path.parent / "xss.safetensors"
    save_model(net, path)
    key = state.upload_model(XSS + ".safetensors", path.read_bytes())
    assert state.entry(key).name == XSS  # the name is kept as typed ...
    view = NetworksView(state=state)
    for pane in (view._message,):
        assert "<img" not in rendered_html(pane) and "onerror" in rendered_html(pane)  # ... and shown as text
    # a failed upload quoting the file name
    with pytest.raises(UploadError) as err:
        state.upload_model(XSS + ".safetensors", b"\x00garbage" * 4)
    state.message = f"Error: {err.value}"
    assert "<img" not in rendered_html(view._message)
    # prune and train statuses quote the new network's label; their panes escape it
    task = PruneTask(state=state, network=key, num_prototypes=2, restarts=1, max_iterations=3)
    pview = PruneView(task=task)
    assert task.start() and task.wait(60) and task.error == ""
    state.rename(task.result_key, XSS + " pruned")
    task.status = f"done: saved as {state.entry(task.result_key).label}"
    assert "<img" not in rendered_html(pview._status)
    tview = TrainView(task=TrainTask(state=state))
    tview.task.param.update(status=XSS, data_message=XSS, error="")
    assert "<img" not in rendered_html(tview._status) and "<img" not in rendered_html(tview._data_message)


# --------------------------------------------------------------------------- issue 12, item 7
def test_malformed_uploads_give_a_message_naming_the_file(state):
    from rbfviz.core.store import save_reference_model

    ref = RBFN(26, 4, seed=3)
    path = state.workspace.path.parent / "ref.gz"
    save_reference_model(ref, path)
    raw = path.read_bytes()
    deep = '{"kind": "trained", "x": ' + "[" * 900 + "]" * 900 + "}"
    very_deep = '{"x": ' + "[" * 5000 + "]" * 5000 + "}"
    cases = {
        "malformed.gz": b"\x1f\x8b\x08\x00" + b"\xff" * 40,
        "truncated.gz": raw[: len(raw) // 2],
        "very-deep.safetensors": model_file(very_deep),
    }
    for name, data in cases.items():
        with pytest.raises(UploadError, match=re.escape(name)):
            state.upload_model(name, data)
    # 900 deep: refused with the file's name, or accepted without the deep field (and said so)
    try:
        key = state.upload_model("deep.safetensors", model_file(deep, seed=9))
    except UploadError as err:
        assert "deep.safetensors" in str(err)
    else:
        assert "nested deeper" in state.message and state.entry(key).path.exists()
        assert "x" not in load_model(state.entry(key).path).metadata


def test_unwritable_workspace_keeps_the_network_and_offers_a_download(tmp_path, tiny_models, monkeypatch, toy_dataset):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    st = AppState(workspace=Workspace(folder=str(blocker / "ws")), bundled_dir=str(tiny_models))
    # an upload: kept in the session, the message says it is not saved
    net = RBFN(26, 5, seed=5)
    save_model(net, tmp_path / "up.safetensors")
    key = st.upload_model("up.safetensors", (tmp_path / "up.safetensors").read_bytes())
    assert key in st.networks and st.entry(key).save_error and st.message.startswith("Error")
    assert "could not be saved" in st.message
    # a training run: the result is kept, the status says why it was not saved, a download is offered
    task = TrainTask(state=st, num_centroids=4, max_epochs=2)
    task.param.update(uploaded=toy_dataset(300), data_source="uploaded")
    view = TrainView(task=task)
    assert task.start() and task.wait(120) and task.error == ""
    entry = st.entry(task.result_key)
    assert entry.path is None and entry.save_error and "NOT saved" in task.status
    assert view._download.visible and view._download.filename.endswith(".safetensors")
    data = view._download_result().getvalue()
    assert content_hash(load_model(data)) == task.result_key  # the download is the trained network
    monkeypatch.setattr(st, "download", lambda key: (_ for _ in ()).throw(OSError("disk gone")))
    assert view._download_result() is None and "disk gone" in task.status  # a failure says so; no empty file
    assert st.table().set_index("key").loc[task.result_key, "saved"] == "no"


def test_full_disk_during_save_is_reported(state, monkeypatch):
    def full(model):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state.workspace, "save", full)
    task = PruneTask(state=state, network=state.keys("trained")[0], num_prototypes=2, restarts=1, max_iterations=3)
    assert task.start() and task.wait(60) and task.error == ""
    assert "No space left on device" in task.status and task.result_key in state.networks


def test_failed_data_upload_forgets_the_previous_data(state, tmp_path):
    task = TrainTask(state=state)
    text = rows_26d(200, 1).encode()
    assert task.upload_data("good_100.26d", text)
    truncated = gzip.compress(text)[:-30]
    assert not task.upload_data("next.26d.gz", truncated)
    assert task.uploaded is None and "next.26d.gz" in task.data_message and task.data_message.startswith("Error")
    assert task.start() and task.wait(30)
    assert "no data file uploaded" in task.error  # never trains on good_100.26d


def test_upload_over_the_limit_is_refused_in_the_browser_and_on_the_server(state, monkeypatch):
    import rbfviz.app.state as st

    view = NetworksView(state=state)
    assert view._upload.max_file_size == f"{st.MAX_UPLOAD_BYTES // 2**20}MB"  # the browser says so first
    assert view._upload.chunk_size < 20 * 2**20  # chunks fit any websocket message limit
    monkeypatch.setattr(st, "MAX_UPLOAD_BYTES", 1000)
    view.upload_in_background("big.safetensors", b"x" * 2000)
    assert view.wait_for_upload(30)
    assert state.message.startswith("Error") and "larger than" in state.message


def test_uploaded_bytes_never_reach_the_server_log(state, monkeypatch, caplog, capfd):
    marker = b"SECRET-PAYLOAD-" * 50

    def explode(filename, data):
        raise RuntimeError("unexpected failure while reading")

    monkeypatch.setattr(state, "upload_model", explode)
    view = NetworksView(state=state)
    event = type("UploadEvent", (), {})()
    event.event_name = "upload_event"
    event.data = {"name": "x.safetensors", "chunk": 1, "total_chunks": 1, "data": marker, "type": ""}
    with caplog.at_level(logging.DEBUG):
        view._upload._process_event(event)  # Panel's own path for a finished upload
        assert view.wait_for_upload(30)
    assert "unexpected failure" in state.message and state.message.startswith("Error")
    out, err = capfd.readouterr()
    assert "SECRET-PAYLOAD" not in caplog.text + out + err
    assert view._upload.value == {}  # the session keeps no copy of the file


def test_uploads_are_read_off_the_event_loop(state, monkeypatch):
    import threading

    threads = []
    real = AppState.upload_model

    def spy(self, filename, data):
        threads.append(threading.current_thread())
        return real(self, filename, data)

    monkeypatch.setattr(AppState, "upload_model", spy)
    view = NetworksView(state=state)
    net = RBFN(26, 5, seed=12)
    path = state.workspace.path.parent / "m.safetensors"
    save_model(net, path)
    view._upload.value = {"m.safetensors": path.read_bytes()}
    assert view.wait_for_upload(30)
    assert threads and threads[0] is not threading.main_thread()
    assert state.message.startswith("Added") and content_hash(net) in state.networks


# --------------------------------------------------------------------------- issue 12, item 8
def test_three_surface_tgz_needs_a_surface_choice(state, tmp_path):
    buf = io.BytesIO()
    sizes = {"100": 120, "110": 150, "111": 170}
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i, (surface, n) in enumerate(sizes.items()):
            data = rows_26d(n, i).encode()
            info = tarfile.TarInfo(f"Cu_ANN_processed/barriers/Cu_2017_{surface}.26d")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    task = TrainTask(state=state)
    view = TrainView(task=task)
    view._data_file.value = {"Cu_ANN_processed.tgz": buf.getvalue()}
    assert task.wait_for_upload(60)
    assert task.uploaded is None and "Choose its surface" in task.data_message
    task.upload_surface = "110"  # re-reads the same file for the chosen member
    assert task.wait_for_upload(60)
    assert task.uploaded is not None and task.uploaded.surface == "110" and len(task.uploaded.y) == sizes["110"]
    task.upload_surface = "111"
    assert task.wait_for_upload(60)
    assert task.uploaded.surface == "111" and len(task.uploaded.y) == sizes["111"]


def test_surface_in_the_file_name_is_used(state):
    task = TrainTask(state=state)
    assert task.upload_data("my_barriers_111.26d", rows_26d(100, 4).encode())
    assert task.uploaded.surface == "111" and "surface 111" in task.data_message


# --------------------------------------------------------------------------- issue 12, item 9
def test_model_files_are_read_once_per_process(tmp_path, tiny_models, monkeypatch):
    import rbfviz.core.store as store

    ws = tmp_path / "ws"
    ws.mkdir()
    net = RBFN(26, 6, seed=31)
    save_model(net, ws / "mine.safetensors")
    calls = []
    real = store.load_model
    monkeypatch.setattr(store, "load_model", lambda p: calls.append(p) or real(p))
    cache = ModelCache()
    first = [AppState(workspace=Workspace(folder=str(ws)), bundled_dir=str(tiny_models), cache=cache)]
    assert len(calls) == 7 and cache.loads == 7
    for _ in range(5):  # five more page loads: nothing is parsed again
        first.append(AppState(workspace=Workspace(folder=str(ws)), bundled_dir=str(tiny_models), cache=cache))
    assert len(calls) == 7
    key = content_hash(net)
    assert first[0].entry(key).model is first[-1].entry(key).model
    # a session renames its copy; the others (and the cache) keep the original
    first[0].rename(key, "renamed in session 0")
    assert first[0].entry(key).name == "renamed in session 0" and first[1].entry(key).name != "renamed in session 0"
    assert first[1].entry(key).model.metadata.get("name") != "renamed in session 0"
    # the rename rewrote the file: the next page load parses it again and sees the new name
    again = AppState(workspace=Workspace(folder=str(ws)), bundled_dir=str(tiny_models), cache=cache)
    assert len(calls) == 8 and again.entry(key).name == "renamed in session 0"


def test_sessions_share_the_process_cache(tmp_path, tiny_models):
    a = create_app(workspace=tmp_path / "ws", bundled_dir=tiny_models)
    b = create_app(workspace=tmp_path / "ws", bundled_dir=tiny_models)
    assert a.state.cache is b.state.cache is shared_model_cache()
    assert a.state.networks is not b.state.networks


# --------------------------------------------------------------------------- issue 9: names
def test_networks_made_here_get_readable_names_and_can_be_renamed(state, toy_dataset):
    task = TrainTask(state=state, num_centroids=4, max_epochs=2)
    task.param.update(uploaded=toy_dataset(300), data_source="uploaded")
    assert task.start() and task.wait(120) and task.error == ""
    entry = state.entry(task.result_key)
    assert re.fullmatch(r"trained \(100\) \d\d \w{3} \d\d:\d\d", entry.name) and " · K=4 · " in entry.label
    prune = PruneTask(state=state, network=task.result_key, num_prototypes=2, restarts=1, max_iterations=3)
    assert prune.start() and prune.wait(60) and prune.error == ""
    pruned = state.entry(prune.result_key)
    assert pruned.name.startswith("pruned (100) ") and " · K=2 · " in pruned.label
    view = NetworksView(state=state)
    view._table.selection = [list(view._table.value["key"]).index(task.result_key)]
    assert view._name.value == entry.name and not view._rename.disabled and not view._download.disabled
    view._name.value = "my first (100) network"
    view._on_rename(None)
    assert state.message == "Renamed to my first (100) network"
    assert load_model(state.entry(task.result_key).path).metadata["name"] == "my first (100) network"
    assert any(label.startswith("my first (100) network · K=4") for label in state.options("trained"))
    assert view._download.filename.startswith("my_first_100_network-")
    assert content_hash(load_model(view._download_selected().getvalue())) == task.result_key
    real_download = state.download
    state.download = lambda key: (_ for _ in ()).throw(OSError("disk gone"))
    assert view._download_selected() is None and state.message.startswith("Error") and "disk gone" in state.message
    state.download = real_download
    bundled = state.keys("pruned")[0]
    with pytest.raises(PermissionError):
        state.rename(bundled, "x")
    with pytest.raises(ValueError, match="empty"):
        state.rename(task.result_key, "  \n ")
    # every selector shows names
    assert all(" · K=" in label and not label.startswith(" ·") for label in state.options())


def test_second_network_with_the_same_default_name_is_numbered(state):
    net = RBFN(26, 8, seed=50)
    net.metadata.update(kind="trained", surface="110")
    first = state.unique_name(net.info)
    assert first.startswith("trained (110) ")
    net.metadata["name"] = first
    state.add(net, "session")
    assert state.unique_name(net.info) == first + " #2"


# --------------------------------------------------------------------------- issue 9: progress from the start
def test_generating_data_shows_progress_from_its_start(state, monkeypatch):
    import rbfviz.app.train as train_module

    monkeypatch.setattr(train_module, "MIN_CHUNK", 256)  # several chunks in a small, fast run
    task = TrainTask(state=state, num_rows=1500, data_seed=913, relaxed=False, num_centroids=4, max_epochs=1)
    view = TrainView(task=task)
    updates = []

    def record(*events):
        updates.append((task.phase, task.fraction, task.status, view._progress.value))

    task.param.watch(record, ["status", "fraction"])
    assert task.start() and task.wait(120) and task.error == ""
    generating = [u for u in updates if u[0] == "generating"]
    assert generating[0][2].startswith("generating 1500 rows") and generating[0][3] is None  # animated at once
    fractions = [u[1] for u in generating if u[1] is not None]
    assert len(fractions) >= 3 and fractions == sorted(fractions) and 0 < fractions[0] < 1 and fractions[-1] == 1
    assert state.datasets[task.result_key].metadata["mode"] == "unrelaxed"  # GeneratorConfig.relaxed reached it
    assert task.fraction == 1.0 and view._progress.value == 1000
