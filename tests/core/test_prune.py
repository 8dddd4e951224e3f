"""Pruning objective (eq. 5) against brute force / Monte Carlo of E[(f_K − f_M)²], and prune()."""

from __future__ import annotations

import itertools
import math
import threading

import numpy as np
import pytest
import torch

import rbfviz.core.objective as objective_mod
import rbfviz.core.prune as prune_mod
from rbfviz.core.expectations import Bernoulli, Normal, Uniform
from rbfviz.core.model import RBFN
from rbfviz.core.prune import PruneConfig, constant_terms, prune, pruning_loss
from rbfviz.core.store import content_hash

F64 = torch.float64


def _f(net: RBFN, X: np.ndarray) -> np.ndarray:
    """Naive float64 network output, broadcasting (N, 1, D) − (1, K, D)."""
    theta = net.centroids.detach().double().numpy()
    beta = net.weights.detach().double().numpy()
    gamma = math.exp(float(net.log_gamma.detach()))
    d2 = ((X[:, None, :] - theta[None]) ** 2).sum(-1)
    return float(net.bias.detach()) + np.exp(-gamma * d2) @ beta


def _brute_loss(large, small, q):
    D = large.num_inputs
    X = np.array(list(itertools.product((-1.0, 1.0), repeat=D)))
    p = np.prod(np.where(X > 0, np.broadcast_to(q, (D,)), 1 - np.broadcast_to(q, (D,))), axis=1)
    return float(np.sum(p * (_f(large, X) - _f(small, X)) ** 2))


def _nets(D, K, M, *, seed=0, dtype=F64, gamma=None):
    large = RBFN(D, K, seed=seed, dtype=dtype)
    small = RBFN(D, M, seed=seed + 100, dtype=dtype)
    if gamma is not None:
        with torch.no_grad():
            large.log_gamma.fill_(math.log(gamma))
            small.log_gamma.fill_(math.log(gamma * 1.3))
    return large, small


@pytest.mark.parametrize("D, q", [(1, 0.5), (4, [0.1, 0.5, 0.0, 1.0]), (10, None)])
def test_pruning_loss_matches_bernoulli_brute_force(D, q):
    if q is None:
        q = np.random.default_rng(0).uniform(0.05, 0.95, D)
    large, small = _nets(D, 12, 4, seed=D)
    got = pruning_loss(large, small, Bernoulli(q))
    assert got.dtype == F64 and got.dim() == 0
    assert float(got.detach()) == pytest.approx(_brute_loss(large, small, np.asarray(q, dtype=float)), rel=1e-9)


def test_pruning_loss_overflow_regression_d1_gamma_11_1():
    """baseline.md: D=1, γ=11.1, centroids at ±1 — the reference gives NaN, the true loss is 0.5.

    f_K has centroids ±1 with β = 1; f_M keeps the +1 centroid only: at x = −1 they differ by
    ≈ 1 (e^{−44.4} aside), at x = +1 by e^{−44.4}; under Bernoulli(0.5) the loss is 0.5.
    """
    large = RBFN(1, 2, dtype=F64)
    small = RBFN(1, 1, dtype=F64)
    with torch.no_grad():
        for net, c in ((large, [[1.0], [-1.0]]), (small, [[1.0]])):
            net.centroids.copy_(torch.tensor(c))
            net.weights.fill_(1.0)
            net.bias.fill_(0.0)
            net.log_gamma.fill_(math.log(11.1))
    loss = pruning_loss(large, small, Bernoulli(0.5))
    assert math.isfinite(float(loss))
    assert float(loss) == pytest.approx(_brute_loss(large, small, 0.5), rel=1e-12)
    assert float(loss) == pytest.approx(0.5, rel=1e-15, abs=1e-15)
    loss.backward()
    for p in small.parameters():
        assert torch.isfinite(p.grad).all()


def test_pruning_loss_matches_monte_carlo_for_normal():
    large, small = _nets(3, 10, 3, seed=1)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1_000_000, 3))
    sq = (_f(large, X) - _f(small, X)) ** 2
    mean, se = sq.mean(), sq.std() / 1000.0
    got = float(pruning_loss(large, small, Normal(0.0, 1.0)))
    assert abs(got - mean) <= 4 * se, (got, mean, se)


def test_pruning_loss_uniform_d100_underflow_regression():
    """baseline.md: NaN at D = 100 with γ = 0.01; compare with Monte Carlo."""
    large, small = _nets(100, 8, 3, seed=2, gamma=0.01)
    with torch.no_grad():
        large.centroids.mul_(0.5)
        small.centroids.mul_(0.5)
    got = float(pruning_loss(large, small, Uniform(-1.0, 1.0)))
    assert math.isfinite(got)
    X = np.random.default_rng(1).uniform(-1, 1, (100_000, 100))
    sq = (_f(large, X) - _f(small, X)) ** 2
    assert abs(got - sq.mean()) <= 4 * sq.std() / math.sqrt(len(X)) + 1e-12


def test_pruning_loss_of_a_network_with_itself_is_zero():
    for dist in (Bernoulli(0.5), Normal(0.0, 1.0), Uniform(-4, 4)):
        net = RBFN(26, 64, seed=3)
        loss = float(pruning_loss(net, net, dist))
        assert -1e-12 <= loss <= 1e-10, (dist, loss)


def test_pruning_loss_is_differentiable_and_matches_finite_differences():
    large, small = _nets(3, 9, 3, seed=4)
    dist = Bernoulli([0.3, 0.6, 0.5])
    loss = pruning_loss(large, small, dist)
    loss.backward()
    h = 1e-6
    for name in ("bias", "weights", "centroids", "log_gamma"):
        p = getattr(small, name)
        grad = p.grad.detach().clone().reshape(-1)
        assert torch.isfinite(grad).all()
        for i in range(min(grad.numel(), 4)):
            with torch.no_grad():
                flat = p.view(-1)
                flat[i] += h
                up = float(pruning_loss(large, small, dist))
                flat[i] -= 2 * h
                dn = float(pruning_loss(large, small, dist))
                flat[i] += h
            assert float(grad[i]) == pytest.approx((up - dn) / (2 * h), rel=1e-5, abs=1e-7), (name, i)


@pytest.mark.parametrize("how", ["pruning_loss", "adam"])
def test_large_network_is_a_constant(how):
    large, small = _nets(3, 9, 3, seed=4)
    if how == "pruning_loss":
        pruning_loss(large, small, Bernoulli(0.5)).backward()
        assert small.centroids.grad is not None
    else:
        prune(large, 2, Bernoulli(0.5), 2, config=PruneConfig(optimizer="adam", max_iterations=3))
    assert all(p.grad is None for p in large.parameters())


def test_float32_networks_give_float64_accurate_loss():
    """K = 512, D = 26: the float32 networks' loss equals that of their exact float64 casts."""
    large = RBFN(26, 512, seed=5)
    small = RBFN.from_subset(large, 16, seed=0)
    large64, small64 = RBFN(26, 512, dtype=F64), RBFN(26, 16, dtype=F64)
    for src, dst in ((large, large64), (small, small64)):
        with torch.no_grad():
            for name in ("bias", "weights", "centroids", "log_gamma"):
                getattr(dst, name).copy_(getattr(src, name).double())
    dist = Bernoulli(0.5)
    got = pruning_loss(large, small, dist)
    want = pruning_loss(large64, small64, dist)
    assert got.dtype == F64
    assert abs(float(got) - float(want)) <= 1e-10
    assert float(got) >= 0


def test_constant_terms_chunking_is_exact(monkeypatch):
    gen = torch.Generator().manual_seed(0)
    K, D = 150, 26
    theta = torch.rand(K, D, generator=gen, dtype=F64) * 4 - 2
    beta = torch.randn(K, generator=gen, dtype=F64)
    gamma = torch.tensor(0.05, dtype=F64)
    dist = Bernoulli(0.4)
    # direct K × K reference, independent of the chunk loop
    E = dist.log_expectation(gamma, theta, gamma, theta).exp()
    direct = float(beta @ E @ beta)
    single = float(beta @ dist.log_expectation1(gamma, theta).exp())
    d0, s0 = constant_terms(dist, 0.0, beta, theta, gamma)
    monkeypatch.setattr(objective_mod, "_CHUNK_BYTES", 8 * K * D * 7)  # 7 rows a chunk
    d1, s1 = constant_terms(dist, 0.0, beta, theta, gamma)
    monkeypatch.setattr(objective_mod, "_CHUNK_BYTES", 1)  # one row a chunk
    d2, s2 = constant_terms(dist, 0.0, beta, theta, gamma)
    for d in (d0, d1, d2):
        assert d == pytest.approx(direct, rel=1e-12)
    assert s0 == s1 == s2 == pytest.approx(single, rel=1e-12)


def test_constant_terms_memory_is_bounded_at_k2048(monkeypatch):
    """K = 2048, D = 26: each block holds at most _CHUNK_BYTES of (rows, K, D) float64."""
    K, D = 2048, 26
    gen = torch.Generator().manual_seed(1)
    theta = torch.rand(K, D, generator=gen, dtype=F64) * 4 - 2
    beta = torch.randn(K, generator=gen, dtype=F64)
    dist = Bernoulli(0.5)
    blocks = []
    inner = dist.log_expectation

    def spy(k, U, r, V):
        blocks.append(U.shape[-2] * V.shape[-2] * U.shape[-1] * 8)
        return inner(k, U, r, V)

    monkeypatch.setattr(dist, "log_expectation", spy)
    monkeypatch.setattr(objective_mod, "_CHUNK_BYTES", 4 * 2**20)  # 4 MiB blocks keep the test quick
    d, _ = constant_terms(dist, 0.0, beta, theta, torch.tensor(1.0 / D, dtype=F64))
    assert math.isfinite(d) and d > 0
    pair_blocks = blocks[:-1]  # the last call is the single expectation (V of one row)
    assert len(pair_blocks) > 1 and max(pair_blocks) <= 4 * 2**20
    assert sum(b // (K * D * 8) for b in pair_blocks) == K  # every row once


# --------------------------------------------------------------------------- prune()
@pytest.mark.parametrize("optimizer, iters", [("lbfgs", 30), ("adam", 150)])
def test_prune_reduces_the_loss_below_the_initial_subsets(optimizer, iters):
    large = RBFN(6, 32, seed=6, dtype=F64)
    large.metadata.update(target_scale=0.5, surface="111", name="big")
    dist = Bernoulli(0.5)
    restarts, seed = 3, 2
    init = prune_mod._initial_params(large, 4, restarts, seed, torch.device("cpu"))
    objective = prune_mod.PruningObjective(large, dist)
    with torch.no_grad():
        init_losses = objective(*init)
    result = prune(
        large,
        4,
        dist,
        restarts,
        seed=seed,
        config=PruneConfig(optimizer=optimizer, max_iterations=iters, learning_rate=1e-2),
    )
    m = result.model
    assert m.num_centroids == 4 and m.num_inputs == 6 and m.bias.dtype == F64
    assert len(result.losses) == restarts and result.loss == min(result.losses)
    assert result.loss < float(init_losses.min())
    # the reported loss is the model's true loss (brute force over 2^6 points)
    assert result.loss == pytest.approx(_brute_loss(large, m, 0.5), rel=1e-9)
    md = m.metadata
    assert md["kind"] == "pruned" and md["parent_hash"] == content_hash(large)
    assert md["surface"] == "111" and md["parent_num_centroids"] == 32
    assert md["prune"]["distribution"] == dist.describe()
    assert md["metrics"]["pruning_rmse_ev"] == pytest.approx(math.sqrt(result.loss) * 0.5)
    assert not result.cancelled


def test_prune_cancel_returns_a_model():
    large = RBFN(5, 24, seed=7)
    cancel = threading.Event()
    calls = []

    def progress(p):
        calls.append(p)
        cancel.set()

    for optimizer in ("lbfgs", "adam"):
        cancel.clear()
        calls.clear()
        result = prune(
            large,
            3,
            Bernoulli(0.5),
            2,
            config=PruneConfig(optimizer=optimizer, max_iterations=5000),
            progress=progress,
            cancel=cancel,
        )
        assert result.cancelled is True and result.model.metadata["prune"]["cancelled"] is True
        assert result.model.num_centroids == 3 and math.isfinite(result.loss)
        assert result.iterations < 50 and len(calls) == 1


def test_prune_validates_arguments():
    large = RBFN(3, 5, seed=0)
    with pytest.raises(ValueError, match="num_centroids"):
        prune(large, 6, Bernoulli(0.5))
    with pytest.raises(ValueError, match="restarts"):
        prune(large, 2, Bernoulli(0.5), 0)
    with pytest.raises(TypeError, match="distribution"):
        prune(large, 2, "Bernoulli")
    with pytest.raises(ValueError, match="optimizer"):
        PruneConfig(optimizer="sgd")


# --------------------------------------------------------------------------- fused Bernoulli cross term
def _cross_inputs(q, R=2, K=7, M=3, D=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    dist = Bernoulli(q)
    U = torch.randn(K, D, generator=gen, dtype=F64)
    V = torch.randn(R, M, D, generator=gen, dtype=F64)
    g = torch.rand(R, generator=gen, dtype=F64) + 0.2
    m_u, d_u = dist._row_terms(torch.tensor(0.7, dtype=F64), U, base=True)
    m_v, d_v = dist._row_terms(g, V, base=False)
    b = torch.randn(K, generator=gen, dtype=F64)
    beta = torch.randn(R, M, generator=gen, dtype=F64)
    return d_v.detach(), m_v.detach(), beta, d_u.contiguous(), m_u, b


@pytest.mark.parametrize("product", [False, True], ids=["softplus", "product"])
@pytest.mark.parametrize("q", [0.5, [0.2, 0.5, 0.9, 0.7]])
def test_bernoulli_cross_gradcheck(q, product, monkeypatch):
    monkeypatch.setattr(objective_mod, "_CROSS_CHUNK_BYTES", 8 * 2 * 3 * 4 * 3)  # chunks of 3 rows
    d_v, m_v, beta, d_u, m_u, b = _cross_inputs(q)
    extra = (d_u.exp(), float(d_u.max())) if product else ()
    inputs = tuple(t.clone().requires_grad_(True) for t in (d_v, m_v, beta))
    assert torch.autograd.gradcheck(lambda *x: objective_mod._BernoulliCross.apply(*x, d_u, m_u, b, *extra), inputs)


@pytest.mark.parametrize("q", [0.5, [0.1, 0.5, 0.0, 1.0]])
def test_bernoulli_cross_product_form_equals_softplus_form(q):
    """log1p(e^d_u e^d_v) and softplus(d_u + d_v) give the same value and gradients, including
    q ∈ {0, 1} (d_u = −inf); beyond the overflow guard the softplus form is used."""
    d_v, m_v, beta, d_u, m_u, b = _cross_inputs(q)
    results = []
    for extra in ((), (d_u.exp(), float(d_u.max())), (d_u.exp(), 800.0)):  # last: guard trips
        x = tuple(t.clone().requires_grad_(True) for t in (d_v, m_v, beta))
        out = objective_mod._BernoulliCross.apply(*x, d_u, m_u, b, *extra)
        results.append((out.detach(), torch.autograd.grad(out.sum(), x)))
    for out, grads in results[1:]:
        torch.testing.assert_close(out, results[0][0], rtol=1e-13, atol=1e-14)
        for g, g0 in zip(grads, results[0][1]):
            torch.testing.assert_close(g, g0, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("q", [0.5, [0.1, 0.5, 0.0, 1.0]])
@pytest.mark.parametrize("chunk_bytes", [8, 2**30])
def test_fused_objective_equals_plain_autograd(q, chunk_bytes, monkeypatch):
    monkeypatch.setattr(objective_mod, "_CROSS_CHUNK_BYTES", chunk_bytes)
    large = RBFN(4, 40, seed=3, dtype=F64)
    objective = prune_mod.PruningObjective(large, Bernoulli(q))
    assert objective.fused
    params = prune_mod._initial_params(large, 5, 3, 0, "cpu")
    with torch.no_grad():
        params[2].add_(0.3 * torch.randn_like(params[2]))
    results = []
    for fused in (True, False):
        objective.fused = fused
        losses = objective(*params)
        results.append((losses.detach(), torch.autograd.grad(losses.sum(), params)))
    (l1, g1), (l0, g0) = results
    torch.testing.assert_close(l1, l0, rtol=1e-12, atol=1e-13)
    for a, b in zip(g1, g0):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- line searches, devices, progress
def test_batched_line_search_prunes_as_well_as_backtracking():
    """The device-friendly L-BFGS (all trial steps in one evaluation, convergence tested every
    10 iterations) lowers the loss below the initial subsets' and to within a few percent of the
    backtracking search's; the reported loss is the model's true (brute-force) loss."""
    large = RBFN(6, 32, seed=6, dtype=F64)
    dist = Bernoulli(0.5)
    losses = {}
    for search in ("backtracking", "batched"):
        cfg = PruneConfig(max_iterations=60, line_search=search, check_every=10)
        result = prune(large, 4, dist, 3, seed=2, config=cfg)
        losses[search] = result.loss
        assert result.loss == pytest.approx(_brute_loss(large, result.model, 0.5), rel=1e-9)
    init = prune_mod._initial_params(large, 4, 3, 2, torch.device("cpu"))
    with torch.no_grad():
        start = float(prune_mod.PruningObjective(large, dist)(*init).min())
    assert losses["batched"] < 0.5 * start
    assert losses["batched"] <= 1.1 * losses["backtracking"]


def test_prune_progress_describes_itself_and_settings_are_checked():
    seen = []
    prune(RBFN(3, 8, seed=0), 2, Bernoulli(0.5), 2, config=PruneConfig(max_iterations=12), progress=seen.append)
    assert seen and 0 < seen[-1].fraction <= 1 and seen[0].describe().startswith("iteration 0: best loss")
    with pytest.raises(ValueError, match="line_search"):
        PruneConfig(line_search="wolfe")
    with pytest.raises(ValueError, match="check_every"):
        PruneConfig(check_every=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_prune_on_cuda(optimizer):
    large = RBFN(6, 32, seed=6, dtype=F64)
    cfg = dict(optimizer=optimizer, max_iterations=40 if optimizer == "lbfgs" else 100, learning_rate=1e-2)
    on_gpu = prune(large, 4, Bernoulli(0.5), 3, seed=2, config=PruneConfig(device="cuda", **cfg))
    on_cpu = prune(large, 4, Bernoulli(0.5), 3, seed=2, config=PruneConfig(device="cpu", **cfg))
    assert on_gpu.loss == pytest.approx(_brute_loss(large, on_gpu.model, 0.5), rel=1e-9)
    assert on_gpu.loss <= 1.2 * on_cpu.loss


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_prune_cuda_graph_iterations_equal_eager_ones():
    """Past the history's fill the L-BFGS iteration is replayed from one captured CUDA graph;
    it gives the eager iterations' result."""
    large = RBFN(6, 32, seed=6, dtype=F64)
    cfg = dict(device="cuda", max_iterations=40, history_size=8, check_every=5, line_search="batched")
    graph = prune(large, 4, Bernoulli(0.5), 3, seed=2, config=PruneConfig(graph=True, **cfg))
    eager = prune(large, 4, Bernoulli(0.5), 3, seed=2, config=PruneConfig(graph=False, **cfg))
    assert graph.iterations == eager.iterations
    assert graph.loss == pytest.approx(eager.loss, rel=1e-9)
