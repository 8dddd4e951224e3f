"""The Table 1 sweep on Dask: grid, resume, equality with single runs, baselines, GPU grouping."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")
pytest.importorskip("xgboost")

from rbfviz.core.progress import CancelFlag  # noqa: E402
from rbfviz.core.train import TrainConfig, train_dataset  # noqa: E402
from rbfviz.sweep import MLPConfig, SweepCancelled, SweepConfig, XGBConfig, make_cells, run_sweep  # noqa: E402
from rbfviz.sweep.baselines import MLP_SPACE, XGB_SPACE, fit_mlp, fit_xgboost, random_config  # noqa: E402
from rbfviz.sweep.tables import figure5_findings, read_results, table1  # noqa: E402
from rbfviz.sweep.tasks import load_data, read_record, run_cell, run_group  # noqa: E402

N_ROWS = 200
TINY = SweepConfig(
    train=TrainConfig(max_epochs=2, device="cpu"),
    dnn=MLPConfig(layers=3, nodes=16, max_epochs=3, device="cpu"),
    xgboost=XGBConfig(max_trees=30, device="cpu", n_jobs=1),
    torch_threads=1,
)


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of 2 single-threaded worker processes, shared by this module's tests."""
    from rbfviz.sweep.runner import start_local_client

    c = start_local_client(2)
    yield c
    cluster = c.cluster
    c.close()
    cluster.close()


def _wait_until(condition, timeout=60.0):
    import time

    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.05)


def _single_run_rmse(surface, k, split, config=TINY):
    """The test RMSE of one plain `train_dataset` run, with one torch thread as the sweep's workers."""
    import torch

    data = load_data(replace(config, n_rows=N_ROWS), surface)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = train_dataset(data, k, replace(config.train, seed=split), split_seed=split)
    finally:
        torch.set_num_threads(before)
    return result.model.metadata["metrics"]["test_rmse"]


# --------------------------------------------------------------------------- the grid
def test_cells_and_keys():
    cells = make_cells(["100", "110"], [4, 8], 2, TINY, baselines=("xgboost", "dnn"))
    assert len(cells) == 2 * 2 * 2 + 2 * 2 * 2
    assert len({c.key for c in cells}) == len(cells)
    # the key follows what determines the numbers, not where they are computed
    on_gpu = replace(TINY, train=replace(TINY.train, device="cuda", compile=True))
    assert [c.key for c in make_cells(["100"], [4], 1, on_gpu)] == [c.key for c in make_cells(["100"], [4], 1, TINY)]
    other_lr = replace(TINY, train=replace(TINY.train, learning_rate=1e-3))
    assert make_cells(["100"], [4], 1, other_lr)[0].key != make_cells(["100"], [4], 1, TINY)[0].key
    with pytest.raises(ValueError, match="surfaces"):
        make_cells(["101"], [4], 1, TINY)
    with pytest.raises(ValueError, match="baselines"):
        make_cells(["100"], [4], 1, TINY, baselines=("svm",))
    with pytest.raises(ValueError, match="splits"):
        make_cells(["100"], [4], 0, TINY)


# --------------------------------------------------------------------------- the tiny sweep
def test_tiny_sweep_on_two_worker_processes(client, tmp_path):
    reports = []
    table = run_sweep(
        tmp_path,
        surfaces=["100", "111"],
        ks=[4, 8],
        splits=2,
        n_rows=N_ROWS,
        baselines=("xgboost", "dnn"),
        client=client,
        progress=reports.append,
        config=TINY,
    )
    assert {"surface", "model", "k", "split", "test_rmse_ev", "seconds"} <= set(table.columns)
    assert len(table) == 2 * 2 * 2 + 2 * 2 * 2 and table.attrs["computed"] == len(table)
    assert set(table["model"]) == {"rbfn", "xgboost", "dnn"}
    assert table.loc[table["model"] != "rbfn", "k"].isna().all()
    assert np.isfinite(table["test_rmse_ev"]).all() and (table["seconds"] > 0).all()
    assert reports[-1].done == reports[-1].total == len(table) and reports[-1].fraction == 1.0
    # provenance
    row = table.iloc[0]
    assert row["data_source"].startswith("generated:") and row["data_seed"] == 0
    assert json.loads(row["versions"])["torch"] and row["device"] == "cpu" and json.loads(row["config"])
    for path in table["network"]:
        assert (tmp_path / path).is_file()
    # the files hold the same table
    pd.testing.assert_frame_equal(read_results(tmp_path), table, check_dtype=False)
    csv = pd.read_csv(tmp_path / "results.csv", dtype={"surface": str})
    np.testing.assert_allclose(csv["test_rmse_ev"], table["test_rmse_ev"])
    assert "| {100} | RBFN (4) | 2 |" in (tmp_path / "table1.md").read_text()
    t1 = table1(table)
    sel = table[(table["surface"] == "100") & (table["model"] == "rbfn") & (table["k"] == 4)]["test_rmse_ev"]
    got = t1[(t1["surface"] == "100") & (t1["model"] == "RBFN (4)")].iloc[0]
    assert got["rmse_mean"] == pytest.approx(sel.mean()) and got["rmse_std"] == pytest.approx(sel.std(ddof=1))

    # a second call computes nothing and returns the same table
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "cells").glob("*.json")}
    again = run_sweep(
        tmp_path,
        surfaces=["100", "111"],
        ks=[4, 8],
        splits=2,
        n_rows=N_ROWS,
        baselines=("xgboost", "dnn"),
        client=client,
        config=TINY,
    )
    assert again.attrs["computed"] == 0
    pd.testing.assert_frame_equal(again, table)
    assert mtimes == {p: p.stat().st_mtime_ns for p in (tmp_path / "cells").glob("*.json")}

    # the table's numbers are those of single `train` runs with the same seeds
    for surface, k, split in [("100", 8, 1), ("111", 4, 0)]:
        r = table[(table["surface"] == surface) & (table["model"] == "rbfn") & (table["k"] == k)]
        r = r[r["split"] == split].iloc[0]
        assert r["test_rmse_ev"] == pytest.approx(_single_run_rmse(surface, k, split), rel=1e-5)


def test_resume_after_a_killed_worker(client, tmp_path):
    """SIGKILL a worker process while cells run: the sweep finishes (the nanny restarts the
    worker, Dask reruns its task), no finished cell is lost or recomputed, a rerun computes nothing."""
    config = replace(TINY, train=replace(TINY.train, max_epochs=60))
    kwargs = dict(surfaces=["100"], ks=[4, 24, 48], splits=2, n_rows=N_ROWS, client=client, config=config)
    killed, finished_at_kill = [], {}

    def progress(report):
        if report.done >= 1 and not killed:
            busy = [addr for addr, keys in client.processing().items() if keys]
            if busy:
                pids = client.run(os.getpid, workers=[busy[0]])
                for p in (tmp_path / "cells").glob("*.json"):  # not a record being written (.tmp)
                    finished_at_kill[p.name] = p.read_bytes()
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])

    table = run_sweep(tmp_path, progress=progress, **kwargs)
    assert killed, "no worker was busy after the first cell: nothing was killed"
    assert len(table) == 6 and np.isfinite(table["test_rmse_ev"]).all()
    for name, data in finished_at_kill.items():  # finished before the kill: kept as they were
        assert (tmp_path / "cells" / name).read_bytes() == data
    assert run_sweep(tmp_path, **kwargs).attrs["computed"] == 0
    client.wait_for_workers(2, timeout=60)


def test_cancel_keeps_finished_cells_and_resume_computes_the_rest(client, tmp_path):
    flag = CancelFlag()
    kwargs = dict(surfaces=["110"], ks=[4, 8], splits=3, n_rows=N_ROWS, client=client, config=TINY)

    def progress(report):
        if report.done >= 1:
            flag.set()

    with pytest.raises(SweepCancelled, match="finished"):
        run_sweep(tmp_path, progress=progress, cancel=flag, **kwargs)
    # a cell that was in its last epoch when the cancel came may still finish (and is kept)
    _wait_until(lambda: not any(client.processing().values()))
    kept = len(list((tmp_path / "cells").glob("*.json")))
    assert 1 <= kept <= 6
    table = run_sweep(tmp_path, **kwargs)
    assert len(table) == 6 and table.attrs["computed"] == 6 - kept


# --------------------------------------------------------------------------- baselines
def _toy(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.choice([-1.0, 1.0], (n, 8))
    y = 0.5 + 0.2 * X[:, 0] - 0.1 * X[:, 1] * X[:, 2] + 0.01 * rng.normal(size=n)
    return X[:400], y[:400], X[400:500], y[400:500], X[500:], y[500:]


@pytest.fixture
def one_torch_thread():
    """Tiny networks on a shared 2-core machine: two threads spin-wait on each other (50 s vs 0.3 s)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("kind", ["xgboost", "dnn"])
def test_baselines_learn_tiny_data(kind, one_torch_thread):
    Xt, yt, Xv, yv, Xs, ys = _toy()
    if kind == "xgboost":
        fit = fit_xgboost(Xt, yt, Xv, yv, XGBConfig(max_trees=200, device="cpu", n_jobs=1), seed=0)
    else:
        fit = fit_mlp(Xt, yt, Xv, yv, MLPConfig(layers=3, nodes=32, max_epochs=60, device="cpu"), seed=0)
    rmse = np.sqrt(np.mean((fit.predict(Xs) - ys) ** 2))
    baseline = np.sqrt(np.mean((yt.mean() - ys) ** 2))  # predicting the training mean
    assert rmse < 0.25 * baseline
    assert fit.val_mse == pytest.approx(np.mean((fit.predict(Xv) - yv) ** 2), rel=1e-4)
    assert len(fit.to_bytes()) > 100 and fit.size >= 1


def test_random_search_samples_the_papers_space():
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, d = random_config("xgboost", rng), random_config("dnn", rng)
        assert 0.01 <= x.learning_rate <= 0.09 and x.max_depth in XGB_SPACE["max_depth"]
        assert x.reg_alpha in XGB_SPACE["reg_alpha"] and x.subsample in XGB_SPACE["subsample"]
        assert d.layers in MLP_SPACE["layers"] and d.nodes in MLP_SPACE["nodes"]
        assert d.activation in ("relu", "elu") and d.weight_decay in MLP_SPACE["weight_decay"]


# --------------------------------------------------------------------------- GPU grouping, on the CPU
def test_group_task_with_train_many_equals_single_cells(monkeypatch, tmp_path):
    """The GPU path (one train_many task per K) gives the per-cell records, here with a
    train_many that trains one network after the other (the gpu branch's contract)."""
    import rbfviz.core.train as train_module

    calls = []

    def train_many(datasets, num_centroids, config=None, *, seeds=None, progress=None, cancel=None):
        calls.append(len(datasets))
        return [
            train_module.train(*d, num_centroids, replace(config, seed=s), cancel=cancel)
            for d, s in zip(datasets, seeds)
        ]

    monkeypatch.setattr(train_module, "train_many", train_many, raising=False)
    config = replace(TINY, n_rows=N_ROWS)
    cells = make_cells(["100", "110"], [4], 2, config)
    data = {s: load_data(config, s) for s in ("100", "110")}
    grouped = run_group(cells, config, data, tmp_path / "a")
    assert calls == [4]
    for c in cells:
        single = run_cell(c, config, data[c.surface], tmp_path / "b")
        assert grouped[c.key]["test_rmse_ev"] == pytest.approx(single["test_rmse_ev"], rel=1e-6)
        assert read_record(tmp_path / "a", c.key)["network"] == grouped[c.key]["network"]


def test_sweep_uses_train_many_on_gpu_workers(monkeypatch, tmp_path):
    """A worker with the GPU resource gets one batched task per K (an in-process cluster, so the
    patched train_many is seen by the worker threads)."""
    from distributed import Client, LocalCluster

    import rbfviz.core.train as train_module

    calls = []

    def train_many(datasets, num_centroids, config=None, *, seeds=None, progress=None, cancel=None):
        calls.append((num_centroids, len(datasets)))
        return [train_module.train(*d, num_centroids, replace(config, seed=s)) for d, s in zip(datasets, seeds)]

    monkeypatch.setattr(train_module, "train_many", train_many, raising=False)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0", resources={"GPU": 1}
        ) as cluster,
        Client(cluster) as c,
    ):
        table = run_sweep(tmp_path, surfaces=["100"], ks=[4, 8], splits=2, n_rows=N_ROWS, client=c, config=TINY)
    assert sorted(calls) == [(4, 2), (8, 2)] and len(table) == 4
    r = table[(table["k"] == 8) & (table["split"] == 1)].iloc[0]
    assert r["test_rmse_ev"] == pytest.approx(_single_run_rmse("100", 8, 1), rel=1e-5)


# --------------------------------------------------------------------------- Figure 5 over networks
def test_figure5_findings_tell_differences_from_noise():
    rng = np.random.default_rng(0)

    def nets(q2_level, n=6):  # 1nn sites strong, 19-22 weak, 23-26 at q2_level, with noise
        out = []
        for _ in range(n):
            c = np.zeros((4, 26))
            c[:, :18] = 2.0 + 0.1 * rng.normal(size=(4, 18))
            c[:, 18:22] = 0.2
            c[:, 22:] = q2_level + 0.02 * rng.normal(size=(4, 4))
            out.append(c)
        return out

    f = figure5_findings({"100": nets(0.8), "110": nets(0.3), "111": nets(0.8)})
    by = {(r["finding"], r["surface"]): r for _, r in f.iterrows()}
    assert all(by[(k, s)]["holds"] for (k, s) in by if k.startswith("1nn-type"))
    assert by[("{110} sites 23-26 less opaque than {100}'s", "110")]["holds"]
    assert by[("{100} sites 19-22 the least opaque group", "100")]["holds"]
    # {111} is built exactly as {100}: "more even" must not hold
    assert not by[("{111} more even than {100}", "111")]["holds"]


def test_pruned_cells_and_figure5_files(tmp_path):
    """Pruning cells (M = 16, Bernoulli(0.5)) take their parent's network; Figure 5 over networks
    is written next to the table (an in-process cluster: pruning is quick here)."""
    from distributed import Client, LocalCluster

    from rbfviz.core.store import load_model

    config = replace(TINY, prune_m=(16,), prune_restarts=2, prune_iterations=20)
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as c,
    ):
        table = run_sweep(tmp_path, surfaces=["100", "110"], ks=[24], splits=2, n_rows=N_ROWS, client=c, config=config)
    pruned = table[table["model"] == "pruned"]
    assert len(pruned) == 4 and (pruned["m"] == 16).all() and (pruned["k"] == 24).all()
    for _, r in pruned.iterrows():
        net = load_model(tmp_path / r["network"])
        parent = table[table["key"] == r["parent"]].iloc[0]
        assert (
            net.num_centroids == 16
            and net.metadata["parent_hash"] == load_model(tmp_path / parent["network"]).metadata["content_hash"]
        )
        data = load_data(replace(config, n_rows=N_ROWS), r["surface"])
        test = data.split(fractions=(0.8, 0.1), seed=int(r["split_seed"]))[2]
        assert r["test_rmse_ev"] == pytest.approx(np.sqrt(np.mean((net.predict(test.X) - test.y) ** 2)))
    sites = pd.read_csv(tmp_path / "figure5_sites.csv", dtype={"surface": str})
    assert len(sites) == 2 * 26 and (sites["n_networks"] == 2).all()
    findings = pd.read_csv(tmp_path / "figure5_findings.csv")
    assert set(findings["finding"]) >= {"1nn-type sites more opaque than 2nn-only"}


def test_random_search_cell_keeps_the_best_validation_candidate(tmp_path):
    """search_rounds=N: N random points of the paper's space, the lowest validation MSE kept."""
    config = replace(TINY, n_rows=N_ROWS, search_rounds=3, xgboost=replace(TINY.xgboost, max_trees=20))
    (cell,) = [c for c in make_cells(["100"], [], 1, config, baselines=("xgboost",))]
    record = run_cell(cell, config, load_data(config, "100"), tmp_path)
    rng = np.random.default_rng([0, 12345])  # the cell's candidates: split 0's training seed
    candidates = [random_config("xgboost", rng, config.xgboost) for _ in range(3)]
    data = load_data(config, "100")
    tr, va, _ = data.split(fractions=(0.8, 0.1), seed=0)
    vals = [fit_xgboost(tr.X, tr.y, va.X, va.y, c, seed=0).val_mse for c in candidates]
    chosen = json.loads(record["config"])
    assert chosen["learning_rate"] == pytest.approx(candidates[int(np.argmin(vals))].learning_rate)
    assert record["val_rmse_ev"] == pytest.approx(np.sqrt(min(vals)))


def test_cli_sweep_on_a_given_scheduler(client, tmp_path, capsys):
    from rbfviz.cli import main

    out = tmp_path / "cli"
    args = ["sweep", str(out), "--surfaces", "100", "--k", "4", "--splits", "2", "--n-rows", str(N_ROWS)]
    args += ["--max-epochs", "2", "--device", "cpu", "--threads", "1", "--scheduler", client.scheduler.address]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "2 cells (2 computed now)" in printed and "| {100} | RBFN (4) | 2 |" in printed
    assert main(args) == 0 and "2 cells (0 computed now)" in capsys.readouterr().out
    assert main(["sweep", str(out), "--data", "100:cu.26d"]) == 2
    assert "SURFACE=PATH" in capsys.readouterr().err


def test_data_files_are_keyed_by_content(tmp_path):
    from rbfviz.data.datasets import Dataset, write_26d

    rng = np.random.default_rng(0)
    path = tmp_path / "cu100.26d"
    write_26d(Dataset(X=rng.choice([-1.0, 1.0], (60, 26)), y=rng.uniform(0, 1, 60), surface="100"), path)
    config = replace(TINY, data_paths=(("100", str(path)),))
    key = make_cells(["100"], [4], 1, config)[0].key
    record = run_cell(make_cells(["100"], [4], 1, config)[0], config, load_data(config, "100"), tmp_path / "out")
    assert record["n_train"] == 48 and record["data_seed"] is None and str(path.name) in record["data_source"]
    write_26d(Dataset(X=rng.choice([-1.0, 1.0], (60, 26)), y=rng.uniform(0, 1, 60), surface="100"), path)
    assert make_cells(["100"], [4], 1, config)[0].key != key  # same name, new content: a new cell
    with pytest.raises(ValueError, match="cannot read"):
        make_cells(["100"], [4], 1, replace(TINY, data_paths=(("100", str(tmp_path / "missing.26d")),)))
