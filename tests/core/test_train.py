"""Training: the plateau schedule against PyTorch's, recovery of a known RBFN, cancel, seeds."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from rbfviz.core.model import RBFN
from rbfviz.core.train import PlateauSchedule, TrainConfig, mean_squared_error, train

# --------------------------------------------------------------------------- schedule
SEQUENCES = {
    "improve": [5, 4, 3, 2, 1, 0.5, 0.25],
    "plateau": [3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
    "mixed": [5, 4, 4, 4.5, 3.9, 3.9, 3.9, 3.9, 3.9, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.9, 0.95],
    "noisy": list(np.random.default_rng(0).uniform(0, 1, 60).cumsum()[::-1] % 3 + 1.0),
}


def _torch_lrs(values, lr, factor, patience, cooldown):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt,
        mode="min",
        factor=factor,
        patience=patience,
        threshold=0.0,
        threshold_mode="abs",
        cooldown=cooldown,
        min_lr=0.0,
        eps=0.0,
    )
    lrs, bests = [], []
    for v in values:
        sched.step(v)
        lrs.append(opt.param_groups[0]["lr"])
        bests.append(sched.best)
    return lrs, bests


@pytest.mark.parametrize("name", sorted(SEQUENCES))
@pytest.mark.parametrize("patience, cooldown", [(0, 0), (1, 0), (2, 1), (3, 2)])
def test_plateau_schedule_matches_torch(name, patience, cooldown):
    values = [float(v) for v in SEQUENCES[name]]
    want_lrs, want_bests = _torch_lrs(values, 1.0, 0.5, patience, cooldown)
    s = PlateauSchedule(lr=1.0, factor=0.5, patience=patience, cooldown=cooldown, min_lr=1e-30)
    got_lrs, improved = [], []
    best = float("inf")
    for v in values:
        improved.append(s.step(v))
        got_lrs.append(s.lr)
        assert improved[-1] == (v < best)
        best = min(best, v)
    assert got_lrs == pytest.approx(want_lrs, rel=1e-12)
    assert s.best == want_bests[-1]


def test_plateau_reduces_after_patience_plus_one_bad_steps():
    s = PlateauSchedule(lr=1.0, factor=0.1, patience=2, cooldown=0, min_lr=1e-9)
    assert s.step(1.0) is True
    for _ in range(2):
        s.step(1.0)
        assert s.lr == 1.0  # two bad steps: still within patience
    s.step(1.0)  # the third bad step reduces
    assert s.lr == pytest.approx(0.1) and s.reductions == 1


def test_plateau_cooldown_ignores_bad_steps():
    s = PlateauSchedule(lr=1.0, factor=0.1, patience=0, cooldown=3, min_lr=1e-9)
    s.step(1.0)
    s.step(2.0)
    assert s.lr == pytest.approx(0.1)
    for _ in range(3):  # cool-down: no reduction
        s.step(2.0)
        assert s.lr == pytest.approx(0.1)
    s.step(2.0)
    assert s.lr == pytest.approx(0.01)


def test_plateau_finished_below_min_lr():
    s = PlateauSchedule(lr=1e-2, factor=0.1, patience=0, cooldown=0, min_lr=1e-4)
    s.step(1.0)
    s.step(1.0)
    assert s.lr == pytest.approx(1e-3) and not s.finished
    s.step(1.0)
    assert s.lr == pytest.approx(1e-4) and not s.finished  # equal to the floor (rounded) is not below
    s.step(1.0)
    assert s.finished


# --------------------------------------------------------------------------- training
def _teacher_data(n=2000, noise=0.05, seed=0):
    teacher = RBFN(2, 3, seed=11, dtype=torch.float64)
    with torch.no_grad():
        teacher.centroids.copy_(torch.tensor([[-1.0, -0.5], [0.8, 0.6], [0.0, 1.2]]))
        teacher.weights.copy_(torch.tensor([1.5, -1.0, 0.8]))
        teacher.bias.fill_(0.2)
        teacher.log_gamma.fill_(np.log(1.5))
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, 2))
    clean = teacher(torch.from_numpy(X)).detach().numpy()
    return X, clean + noise * rng.standard_normal(n), clean


@pytest.fixture
def one_thread():
    """Tiny batches run much faster single-threaded on a shared 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_training_recovers_a_known_rbfn(one_thread):
    noise = 0.05
    X, y, _ = _teacher_data(2600, noise)
    Xt, yt, Xv, yv, Xs, ys = X[:2000], y[:2000], X[2000:2300], y[2000:2300], X[2300:], y[2300:]
    cfg = TrainConfig(max_epochs=25, device="cpu", seed=1, patience=5, cooldown=2, learning_rate=2e-2)
    result = train(Xt, yt, Xv, yv, 8, cfg)
    rmse = float(np.sqrt(np.mean((result.model.predict(Xs) - ys) ** 2)))
    assert rmse < 1.3 * noise, rmse  # the target's own spread is ~0.6: 1.3x the noise is a fit
    assert result.best_val_mse == min(h.val_mse for h in result.history)
    assert result.model.metadata["kind"] == "trained"
    assert result.model.metadata["metrics"]["val_rmse"] == pytest.approx(
        np.sqrt(result.best_val_mse) * result.model.metadata["target_scale"]
    )


def test_cancel_returns_best_so_far():
    X, y, _ = _teacher_data(400)
    cancel = threading.Event()
    seen = []

    def progress(stats):
        seen.append(stats.epoch)
        if stats.epoch == 2:
            cancel.set()

    result = train(
        X[:300],
        y[:300],
        X[300:],
        y[300:],
        6,
        TrainConfig(max_epochs=50, device="cpu"),
        progress=progress,
        cancel=cancel,
    )
    assert result.cancelled is True
    assert len(result.history) == 3 and seen == [0, 1, 2]
    assert result.model.metadata["train"]["cancelled"] is True
    # the returned model is the best epoch's, not the last one's
    m = result.model
    Xv = torch.as_tensor(X[300:], dtype=torch.float32)
    yv = ((torch.as_tensor(y[300:]) - m.metadata["target_mean"]) / m.metadata["target_scale"]).float()
    assert mean_squared_error(m, Xv, yv) == pytest.approx(result.best_val_mse, rel=1e-5)
    assert result.best_val_mse == min(h.val_mse for h in result.history)


def test_cancel_before_start():
    from rbfviz.core.progress import CancelFlag

    X, y, _ = _teacher_data(200)
    flag = CancelFlag()
    flag.set()
    result = train(X[:150], y[:150], X[150:], y[150:], 4, TrainConfig(max_epochs=5, device="cpu"), cancel=flag)
    assert result.cancelled and result.history == []
    assert result.model.num_centroids == 4


def test_seeded_runs_are_reproducible():
    X, y, _ = _teacher_data(300)
    cfg = TrainConfig(max_epochs=3, device="cpu", seed=5)
    a = train(X[:200], y[:200], X[200:], y[200:], 5, cfg).model
    b = train(X[:200], y[:200], X[200:], y[200:], 5, cfg).model
    c = train(X[:200], y[:200], X[200:], y[200:], 5, TrainConfig(max_epochs=3, device="cpu", seed=6)).model
    for name in ("bias", "weights", "centroids", "log_gamma"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert not torch.equal(a.centroids, c.centroids)


def test_standardisation_is_recorded():
    X, y, _ = _teacher_data(200)
    y = 3.0 + 10.0 * y
    result = train(X[:150], y[:150], X[150:], y[150:], 4, TrainConfig(max_epochs=1, device="cpu"))
    md = result.model.metadata
    assert md["target_mean"] == pytest.approx(y[:150].mean())
    assert md["target_scale"] == pytest.approx(y[:150].std())


@pytest.mark.parametrize("which", ["X_train", "y_train", "X_val", "y_val"])
def test_nan_inputs_rejected(which):
    X, y, _ = _teacher_data(100)
    args = {"X_train": X[:80].copy(), "y_train": y[:80].copy(), "X_val": X[80:].copy(), "y_val": y[80:].copy()}
    args[which][3] = np.nan
    with pytest.raises(ValueError, match=which):
        train(
            args["X_train"], args["y_train"], args["X_val"], args["y_val"], 3, TrainConfig(max_epochs=1, device="cpu")
        )


def test_shape_mismatches_rejected():
    X, y, _ = _teacher_data(100)
    with pytest.raises(ValueError, match="rows"):
        train(X[:80], y[:70], X[80:], y[80:], 3, TrainConfig(max_epochs=1, device="cpu"))
    with pytest.raises(ValueError, match="columns"):
        train(X[:80], y[:80], X[80:, :1], y[80:], 3, TrainConfig(max_epochs=1, device="cpu"))
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)


def test_train_dataset_on_a_tiny_dataset():
    datasets = pytest.importorskip("rbfviz.data.datasets")
    from rbfviz.core.train import train_dataset

    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], (200, 26))
    y = 0.5 + 0.1 * X[:, :3].sum(1) + 0.01 * rng.standard_normal(200)
    ds = datasets.Dataset(X=X, y=y, surface="100", source="generated:test")
    result = train_dataset(ds, 4, TrainConfig(max_epochs=2, device="cpu"), fractions=(0.6, 0.2))
    md = result.model.metadata
    assert md["surface"] == "100" and md["source"] == "generated:test"
    assert md["data"]["n_train"] == 120 and md["data"]["n_val"] == 40 and md["data"]["n_test"] == 40
    assert np.isfinite(md["metrics"]["test_rmse"]) and md["metrics"]["n_test"] == 40
    assert len(md["data"]["occupation_frequencies"]) == 26


def test_flat_adam_matches_torch_adam():
    """FlatAdam is torch.optim.Adam with L2 weight decay, step for step (float64)."""
    from rbfviz.core.train import FlatAdam

    torch.manual_seed(0)
    a = [
        torch.randn(3, 2, dtype=torch.float64, requires_grad=True),
        torch.randn((), dtype=torch.float64, requires_grad=True),
    ]
    b = [t.detach().clone().requires_grad_(True) for t in a]
    ref = torch.optim.Adam(a, lr=1e-2, weight_decay=1e-3)
    flat = FlatAdam(b, lr=1e-2, weight_decay=1e-3)
    for step in range(25):
        grads = [torch.sin(step + torch.arange(t.numel(), dtype=torch.float64)).reshape(t.shape) for t in a]
        for t, g in zip(a, grads):
            t.grad = g.clone()
        ref.step()
        flat.step(grads)
        if step == 10:  # a learning-rate change takes effect like param_groups[0]["lr"]
            ref.param_groups[0]["lr"] = flat.lr = 1e-3
    for x, y in zip(a, b):
        torch.testing.assert_close(x.detach(), y.detach(), rtol=1e-12, atol=1e-14)


def test_squared_error_and_grads_matches_autograd():
    from rbfviz.core.model import RBFN

    net = RBFN(5, 7, seed=3, dtype=torch.float64)
    X = torch.randn(11, 5, dtype=torch.float64)
    y = torch.randn(11, dtype=torch.float64)
    loss = ((net(X) - y) ** 2).sum()
    loss.backward()
    sse, grads = net.squared_error_and_grads(X, y)
    assert float(sse) == pytest.approx(float(loss), rel=1e-13)
    for g, p in zip(grads, (net.bias, net.weights, net.centroids, net.log_gamma)):
        torch.testing.assert_close(g, p.grad, rtol=1e-10, atol=1e-12)


def test_trained_model_saves(tmp_path):
    """Parameters trained as views of the optimiser's buffer are saved like any others."""
    from rbfviz.core.store import load_model, save_model

    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (100, 3))
    y = X.sum(1)
    model = train(X[:80], y[:80], X[80:], y[80:], 4, TrainConfig(max_epochs=2)).model
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    same_device = loaded.centroids.device == model.centroids.device
    # the same parameters evaluated on another device (CUDA-trained, loaded on the CPU) round differently
    rtol = 1e-7 if same_device else 1e-5
    torch.testing.assert_close(loaded.centroids.cpu(), model.centroids.cpu(), rtol=0, atol=0)
    np.testing.assert_allclose(loaded.predict(X), model.predict(X), rtol=rtol)


def test_compiled_step_trains_like_the_eager_one(monkeypatch):
    """TrainConfig(compile=True) gives the eager result (here torch.compile is replaced by a
    stand-in that records the call, so the test needs no C++ compiler: the fused chunks of
    steps run eagerly), and a compiler failure falls back to eager training with a warning."""
    import rbfviz.core.train as T

    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (300, 3))
    y = np.sin(X).sum(1)
    eager = T.train(X[:200], y[:200], X[200:], y[200:], 5, T.TrainConfig(max_epochs=3))
    calls = []
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: calls.append(kw) or fn)
    compiled = T.train(X[:200], y[:200], X[200:], y[200:], 5, T.TrainConfig(max_epochs=3, compile=True))
    assert calls == [
        {"dynamic": False, "fullgraph": True}
    ]  # on the CPU: one function, FUSED_STEPS steps (gradient and Adam) a call
    torch.testing.assert_close(compiled.model.centroids, eager.model.centroids)

    def broken(fn, **kw):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", broken)
    with pytest.warns(UserWarning, match="training eagerly"):
        fallback = T.train(X[:200], y[:200], X[200:], y[200:], 5, T.TrainConfig(max_epochs=3, compile=True))
    torch.testing.assert_close(fallback.model.centroids, eager.model.centroids)


# --------------------------------------------------------------------------- the graph-ready epoch
def _plain_loop(X_train, y_train, X_val, y_val, k, cfg):
    """The training loop as first written (a per-minibatch Python loop on a CPU permutation,
    FlatAdam.step with host-side constants, validation through the model, a deep copy of the
    best state): the reference the graph-ready epoch must reproduce."""
    import copy

    from rbfviz.core.model import batch_squared_error_and_grads
    from rbfviz.core.optim import FlatAdam

    Xt, Xv = torch.as_tensor(X_train, dtype=torch.float32), torch.as_tensor(X_val, dtype=torch.float32)
    yt64, yv64 = torch.as_tensor(y_train, dtype=torch.float64), torch.as_tensor(y_val, dtype=torch.float64)
    mean, scale = float(yt64.mean()), float(yt64.std(unbiased=False))
    yt, yv = ((yt64 - mean) / scale).float(), ((yv64 - mean) / scale).float()
    torch.manual_seed(cfg.seed)
    model = RBFN(Xt.shape[1], k, seed=cfg.seed)
    params = [model.bias, model.weights, model.centroids, model.log_gamma]
    opt = FlatAdam(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    schedule = cfg.schedule()
    gen = torch.Generator().manual_seed(cfg.seed)
    best, history, n, bs, epoch = copy.deepcopy(model.state_dict()), [], len(Xt), cfg.batch_size, 0
    while not schedule.finished and epoch < cfg.max_epochs:
        perm = torch.randperm(n, generator=gen)
        Xe, ye = Xt[perm], yt[perm]
        sse = torch.zeros(())
        with torch.no_grad():
            for i in range(0, n, bs):
                loss, grads = batch_squared_error_and_grads(Xe[i : i + bs], ye[i : i + bs], *params)
                opt.step(grads)
                sse += loss
        val = mean_squared_error(model, Xv, yv, cfg.eval_batch_size)
        lr = schedule.lr
        if schedule.step(val):
            best = copy.deepcopy(model.state_dict())
        opt.lr = schedule.lr
        history.append((float(sse) / n, val, lr))
        epoch += 1
    with torch.no_grad():
        for p in params:
            p.data = p.data.clone()
    model.load_state_dict(best)
    return model, history


def test_graph_ready_epoch_equals_the_plain_loop(one_thread):
    """Eagerly on the CPU, the graph-ready epoch (static buffers, on-device shuffle, Adam
    constants, validation and keep-best on the device) gives the plain loop's run: same
    losses every epoch, same rate schedule, same kept parameters.  203 rows in batches of 16
    leave a remainder batch of 11; validation runs in chunks of 20 with a remainder of 7."""
    X, y, _ = _teacher_data(290, noise=0.3)
    cfg = TrainConfig(
        max_epochs=14,
        batch_size=16,
        eval_batch_size=20,
        patience=0,
        cooldown=1,
        device="cpu",
        seed=3,
        compile=False,
        learning_rate=0.1,
    )
    want_model, want = _plain_loop(X[:203], y[:203], X[203:], y[203:], 6, cfg)
    result = train(X[:203], y[:203], X[203:], y[203:], 6, cfg)
    got = [(s.train_mse, s.val_mse, s.lr) for s in result.history]
    assert len(got) == len(want) and [g[2] for g in got] == [w[2] for w in want]
    assert len({w[2] for w in want}) > 1  # the schedule reduced the rate at least once
    np.testing.assert_allclose(np.array(got)[:, :2], np.array(want)[:, :2], rtol=1e-5)
    for name in ("bias", "weights", "centroids", "log_gamma"):
        torch.testing.assert_close(getattr(result.model, name), getattr(want_model, name))


def _fused_config(**kw):
    return TrainConfig(
        **{
            "max_epochs": 14,
            "batch_size": 16,
            "eval_batch_size": 20,
            "patience": 0,
            "cooldown": 1,
            "device": "cpu",
            "seed": 3,
            "compile": True,
            "learning_rate": 0.1,
            **kw,
        }
    )


@pytest.mark.parametrize("chunk", [4, 5])
def test_fused_epoch_equals_the_plain_loop(one_thread, monkeypatch, chunk):
    """The CPU's compiled path (adam_steps on the packed buffers, `chunk` steps a call, run here
    eagerly through a stand-in for torch.compile) gives the plain loop's run.  12 full batches
    of 16 and a remainder of 11: with chunk 4 three calls, with chunk 5 two calls and two
    single steps, then the remainder batch."""
    import rbfviz.core.train as T

    monkeypatch.setattr(torch, "compile", lambda fn, **kw: fn)
    monkeypatch.setattr(T, "FUSED_STEPS", chunk)
    X, y, _ = _teacher_data(290, noise=0.3)
    cfg = _fused_config()
    want_model, want = _plain_loop(X[:203], y[:203], X[203:], y[203:], 6, cfg)
    result = train(X[:203], y[:203], X[203:], y[203:], 6, cfg)
    assert result.compiled and result.model.metadata["train"]["compiled"]
    got = [(s.train_mse, s.val_mse, s.lr) for s in result.history]
    assert len(got) == len(want) and [g[2] for g in got] == [w[2] for w in want]
    np.testing.assert_allclose(np.array(got)[:, :2], np.array(want)[:, :2], rtol=1e-5)
    for name in ("bias", "weights", "centroids", "log_gamma"):
        torch.testing.assert_close(getattr(result.model, name), getattr(want_model, name))
        assert getattr(result.model, name).is_contiguous()


class _CancelAfter:
    """Set once ``is_set`` has been asked ``n`` times (the cancel protocol's test)."""

    def __init__(self, n):
        self.n, self.asked = n, 0

    def is_set(self):
        self.asked += 1
        return self.asked > self.n


def test_fused_epoch_cancels_within_an_epoch(monkeypatch):
    """Batches of 1: an epoch of 600 steps tests cancel after 256 and 512 of them; a cancel
    there stops the run before the epoch ends, with the best epoch's parameters.  The steps run
    on FUSED_STEP_THREADS threads, and the caller's setting is back afterwards."""
    import rbfviz.core.train as T

    threads_seen = []

    def stand_in(fn, **kw):  # torch.compile's stand-in: the function itself, noting its threads
        def steps(*args):
            threads_seen.append(torch.get_num_threads())
            return fn(*args)

        return steps

    monkeypatch.setattr(torch, "compile", stand_in)
    monkeypatch.setattr(T, "FUSED_STEP_THREADS", 1)
    X, y, _ = _teacher_data(700)
    cfg = _fused_config(batch_size=1, max_epochs=5, learning_rate=0.01)
    cancel = _CancelAfter(4)  # asked before epoch 0, at its steps 256 and 512, before epoch 1, at its step 256
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        result = train(X[:600], y[:600], X[600:], y[600:], 4, cfg, cancel=cancel)
        assert torch.get_num_threads() == 2  # restored after a cancel too
    finally:
        torch.set_num_threads(before)
    assert result.compiled and result.cancelled and len(result.history) == 1 and cancel.asked == 5
    assert set(threads_seen) == {1} and len(threads_seen) > 600 // T.FUSED_STEPS
    m = result.model
    Xv = torch.as_tensor(X[600:], dtype=torch.float32)
    yv = ((torch.as_tensor(y[600:]) - m.metadata["target_mean"]) / m.metadata["target_scale"]).float()
    assert mean_squared_error(m, Xv, yv) == pytest.approx(result.best_val_mse, rel=1e-5)


@pytest.mark.slow
def test_compiled_fused_epoch_equals_eager(monkeypatch):
    """The real torch.compile (at most one new graph for the whole run: no recompiles) trains as
    the same fused steps run eagerly, to float32 rounding; where dynamo may compile no more
    graphs, the run says so and trains eagerly."""
    from torch._dynamo.utils import counters

    import rbfviz.core.train as T

    monkeypatch.setattr(T, "FUSED_STEPS", 3)
    X, y, _ = _teacher_data(290, noise=0.3)
    cfg = _fused_config(max_epochs=4)
    graphs = counters["stats"]["unique_graphs"]
    compiled = train(X[:203], y[:203], X[203:], y[203:], 6, cfg)
    assert compiled.compiled and counters["stats"]["unique_graphs"] - graphs <= 1
    # no room for another graph (a new size): an honest eager run, with a warning as compile=True asked
    monkeypatch.setattr(T, "_RECOMPILE_LIMIT", 1)
    monkeypatch.setattr(torch._dynamo.config, "recompile_limit", 1)
    with pytest.warns(UserWarning, match="training eagerly"):
        other = train(X[:203], y[:203], X[203:], y[203:], 5, cfg)
    assert not other.compiled and len(other.history) == 4
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: fn)
    eager = train(X[:203], y[:203], X[203:], y[203:], 6, cfg)
    np.testing.assert_allclose([s.val_mse for s in compiled.history], [s.val_mse for s in eager.history], rtol=1e-5)
    for name in ("bias", "weights", "centroids", "log_gamma"):
        torch.testing.assert_close(getattr(compiled.model, name), getattr(eager.model, name), rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graph_epoch_equals_eager_epoch():
    X, y, _ = _teacher_data(700, noise=0.3)
    runs = {}
    for graph in (True, False):
        cfg = TrainConfig(max_epochs=6, batch_size=64, device="cuda", seed=2, compile=False, graph=graph)
        runs[graph] = train(X[:600], y[:600], X[600:], y[600:], 16, cfg)
    assert runs[True].graph and not runs[False].graph
    np.testing.assert_allclose(
        [s.val_mse for s in runs[True].history], [s.val_mse for s in runs[False].history], rtol=1e-5
    )
    torch.testing.assert_close(runs[True].model.centroids, runs[False].model.centroids, rtol=1e-4, atol=1e-5)


def test_graph_setting_falls_back_to_eager_off_cuda():
    X, y, _ = _teacher_data(120)
    result = train(X[:100], y[:100], X[100:], y[100:], 3, TrainConfig(max_epochs=2, device="cpu", graph=True))
    assert result.graph is False and len(result.history) == 2


def test_epoch_stats_report_fraction_and_describe():
    X, y, _ = _teacher_data(150)
    seen = []
    train(X[:100], y[:100], X[100:], y[100:], 3, TrainConfig(max_epochs=4, device="cpu"), progress=seen.append)
    assert [s.fraction for s in seen] == [0.25, 0.5, 0.75, 1.0]
    assert seen[0].describe().startswith("epoch 0: train MSE") and "val MSE" in seen[0].describe()
    # without a cap the estimate follows the schedule and reaches 1 when it finishes
    seen.clear()
    # one reduction ends the run: at this rate the validation error soon stops improving
    cfg = TrainConfig(device="cpu", patience=1, cooldown=0, learning_rate=1.0, min_lr=1.0, max_epochs=None)
    train(X[:100], y[:100], X[100:], y[100:], 3, cfg, progress=seen.append)
    fractions = [s.fraction for s in seen]
    assert fractions[-1] == 1.0 and all(0 <= f < 1 for f in fractions[:-1]) and len(fractions) < 100


def test_compile_auto_pays_only_for_long_runs():
    assert TrainConfig().compile == "auto" and TrainConfig().tf32 is False
    assert TrainConfig().should_compile(100_000)  # the full schedule on the paper's data
    assert not TrainConfig().should_compile(2_000)  # a small data set
    assert not TrainConfig(max_epochs=3).should_compile(100_000)  # a short run
    assert TrainConfig(compile=True).should_compile(10) and not TrainConfig(compile=False).should_compile(10**9)
    with pytest.raises(ValueError, match="compile"):
        TrainConfig(compile="yes")


# --------------------------------------------------------------------------- train_many
def test_train_many_equals_separate_runs(one_thread):
    """Three networks of different data sizes and seeds, trained together, each equal to its own
    train() run: the same epochs (the schedules stop them at different times), the same
    validation errors, the same kept parameters (to float32 rounding of the batched products)."""
    from dataclasses import replace

    from rbfviz.core.train import train_many

    rng = np.random.default_rng(4)
    datasets = []
    for r, (n, nv) in enumerate([(150, 40), (133, 37), (97, 50)]):
        X = rng.uniform(-1, 1, (n + nv, 3))
        y = np.sin(2 * X).sum(1) + 0.3 * rng.standard_normal(n + nv) + r
        datasets.append((X[:n], y[:n], X[n:], y[n:]))
    cfg = TrainConfig(
        max_epochs=30,
        batch_size=16,
        patience=0,
        cooldown=0,
        learning_rate=0.05,
        min_lr=5e-3,
        device="cpu",
        compile=False,
    )
    seen = []
    many = train_many(datasets, 5, cfg, seeds=[0, 1, 2], progress=seen.append)
    lengths = []
    for r, data in enumerate(datasets):
        one = train(*data, 5, replace(cfg, seed=r))
        got, want = many[r], one
        assert len(got.history) == len(want.history) and got.best_epoch == want.best_epoch
        lengths.append(len(want.history))
        np.testing.assert_allclose([s.val_mse for s in got.history], [s.val_mse for s in want.history], rtol=2e-5)
        assert [s.lr for s in got.history] == [s.lr for s in want.history]
        for name in ("bias", "weights", "centroids", "log_gamma"):
            torch.testing.assert_close(getattr(got.model, name), getattr(want.model, name), rtol=1e-4, atol=1e-5)
        assert got.model.metadata["train"]["seed"] == r
    assert len(set(lengths)) > 1  # the networks stopped at different epochs
    assert len(seen) == max(lengths) and seen[-1].active == 0 and seen[-1].fraction == 1.0
    assert "networks training" in seen[0].describe()


def test_train_many_validates_and_cancels():
    from rbfviz.core.progress import CancelFlag
    from rbfviz.core.train import train_many

    X, y, _ = _teacher_data(100)
    data = (X[:80], y[:80], X[80:], y[80:])
    with pytest.raises(ValueError, match="seeds"):
        train_many([data, data], 3, seeds=[1])
    with pytest.raises(ValueError, match=r"X_train\[1\]"):
        train_many([data, (X[:80, :1], y[:80], X[80:], y[80:])], 3, TrainConfig(device="cpu"))
    bad = (X[:80], y[:70], X[80:], y[80:])
    with pytest.raises(ValueError, match=r"y_train\[1\]"):
        train_many([data, bad], 3, TrainConfig(device="cpu"))
    flag = CancelFlag()
    results = train_many(
        [data, data], 3, TrainConfig(max_epochs=50, device="cpu"), progress=lambda s: flag.set(), cancel=flag
    )
    assert all(r.cancelled and len(r.history) == 1 for r in results)


def test_training_makes_its_tensors_on_the_configured_device():
    """Under ``torch.device("meta")`` any tensor made without an explicit device is a meta
    tensor and cannot mix with the CPU's: the run passing means train() creates every tensor
    (model, buffers, shuffle, Adam constants) on the configured device, as CUDA needs."""
    X, y, _ = _teacher_data(120)
    cfg = TrainConfig(max_epochs=2, device="cpu")
    want = train(X[:100], y[:100], X[100:], y[100:], 3, cfg)
    with torch.device("meta"):
        got = train(X[:100], y[:100], X[100:], y[100:], 3, cfg)
    assert got.model.centroids.device.type == "cpu"
    torch.testing.assert_close(got.model.centroids, want.model.centroids, rtol=0, atol=0)


def test_tf32_is_a_setting_restored_after_training():
    from rbfviz.core.epoch import tf32_matmul

    matmul = torch.backends.cuda.matmul
    before = matmul.allow_tf32
    with tf32_matmul(True, torch.device("cuda")):
        assert matmul.allow_tf32 is True
    assert matmul.allow_tf32 == before
    with tf32_matmul(True, torch.device("cpu")):  # nothing to do off CUDA
        assert matmul.allow_tf32 == before


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_train_many_cuda_graph_equals_eager_and_cpu():
    from rbfviz.core.train import train_many

    X, y, _ = _teacher_data(700, noise=0.3)
    datasets = [(X[:500], y[:500], X[500:600], y[500:600]), (X[100:560], y[100:560], X[600:], y[600:])]
    runs = {}
    for device, graph in (("cuda", True), ("cuda", False), ("cpu", False)):
        cfg = TrainConfig(max_epochs=5, device=device, graph=graph, patience=0, cooldown=0, learning_rate=0.05)
        runs[device, graph] = train_many(datasets, 8, cfg, seeds=[0, 1])
    for a, b in zip(runs["cuda", True], runs["cuda", False]):
        np.testing.assert_allclose([s.val_mse for s in a.history], [s.val_mse for s in b.history], rtol=1e-5)
    for a, b in zip(runs["cuda", True], runs["cpu", False]):
        np.testing.assert_allclose([s.val_mse for s in a.history], [s.val_mse for s in b.history], rtol=1e-3)
