"""The RBFN of eq. (2) against a naive float64 reference with explicit broadcasting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rbfviz.core.model import RBFN, _GaussianKernelLayer

F64 = torch.float64


def _naive(net: RBFN, X) -> np.ndarray:
    """α + Σ_i β_i exp(−γ ‖x − θ_i‖²) in float64 NumPy, broadcasting (N, 1, D) − (1, K, D)."""
    X = np.asarray(X, dtype=np.float64)
    theta = net.centroids.detach().double().numpy()
    beta = net.weights.detach().double().numpy()
    alpha = float(net.bias.detach().double())
    gamma = float(np.exp(float(net.log_gamma.detach().double())))
    d2 = ((X[:, None, :] - theta[None, :, :]) ** 2).sum(-1)  # (N, K)
    return alpha + (beta[None, :] * np.exp(-gamma * d2)).sum(-1)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
def test_forward_matches_naive_reference(dtype, tol):
    net = RBFN(5, 7, seed=3, dtype=dtype)
    X = torch.from_numpy(np.random.default_rng(0).uniform(-2, 2, (11, 5))).to(dtype)
    out = net(X)
    assert out.shape == (11,) and out.dtype == dtype
    ref = _naive(net, X.double().numpy())
    np.testing.assert_allclose(out.detach().double().numpy(), ref, rtol=tol, atol=tol)


def test_forward_at_the_centroid_and_far_away():
    net = RBFN(3, 2, seed=0, dtype=F64)
    X = torch.cat([net.centroids.detach(), torch.full((1, 3), 1e3, dtype=F64)])
    np.testing.assert_allclose(net(X).detach().numpy(), _naive(net, X.numpy()), rtol=1e-12, atol=1e-12)
    assert float(net(X[-1:]).detach()) == pytest.approx(float(net.bias.detach()), abs=1e-300)


def test_kernel_layer_gradcheck_all_inputs():
    gen = torch.Generator().manual_seed(0)
    X = (torch.rand(6, 3, generator=gen, dtype=F64) * 2 - 1).requires_grad_(True)
    C = (torch.rand(4, 3, generator=gen, dtype=F64) * 2 - 1).requires_grad_(True)
    W = torch.randn(4, generator=gen, dtype=F64).requires_grad_(True)
    b = torch.tensor(0.3, dtype=F64, requires_grad=True)
    lg = torch.tensor(-0.2, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(_GaussianKernelLayer.apply, (X, C, W, b, lg))
    # and without the input gradient (the training path)
    X2 = X.detach()
    assert torch.autograd.gradcheck(lambda C, W, b, lg: _GaussianKernelLayer.apply(X2, C, W, b, lg), (C, W, b, lg))


def test_module_gradients_match_autograd_of_naive_expression():
    net = RBFN(4, 5, seed=1, dtype=F64)
    X = torch.randn(9, 4, dtype=F64, generator=torch.Generator().manual_seed(2))
    y = torch.randn(9, dtype=F64, generator=torch.Generator().manual_seed(3))
    ((net(X) - y) ** 2).sum().backward()
    params = [p.detach().clone().requires_grad_(True) for p in (net.bias, net.weights, net.centroids, net.log_gamma)]
    a, w, c, lg = params
    f = a + (w * torch.exp(-lg.exp() * ((X[:, None, :] - c[None]) ** 2).sum(-1))).sum(-1)
    ((f - y) ** 2).sum().backward()
    for p, q in zip((net.bias, net.weights, net.centroids, net.log_gamma), params):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-10, atol=1e-12)


def test_from_subset_samples_without_replacement_and_copies_alpha_gamma():
    big = RBFN(3, 20, seed=0, dtype=F64)
    big.metadata.update(target_mean=1.5, target_scale=0.2, surface="111")
    small = RBFN.from_subset(big, 8, seed=4)
    assert small.num_centroids == 8 and small.num_inputs == 3
    assert small.bias.dtype == F64
    assert torch.equal(small.bias, big.bias) and torch.equal(small.log_gamma, big.log_gamma)
    # every small centroid is one row of big, with its own weight, and no row is used twice
    rows = []
    for c, w in zip(small.centroids, small.weights):
        match = torch.nonzero((big.centroids == c).all(1)).flatten()
        assert len(match) == 1
        rows.append(int(match[0]))
        assert float(big.weights[match[0]].detach()) == float(w.detach())
    assert len(set(rows)) == 8
    assert small.metadata["target_mean"] == 1.5 and small.metadata["target_scale"] == 0.2
    # all of it: a permutation
    full = RBFN.from_subset(big, 20, seed=1)
    assert sorted(full.weights.tolist()) == sorted(big.weights.tolist())
    # seeded
    assert torch.equal(RBFN.from_subset(big, 8, seed=4).centroids, small.centroids)
    with pytest.raises(ValueError, match="num_centroids"):
        RBFN.from_subset(big, 21)
    with pytest.raises(ValueError, match="num_centroids"):
        RBFN.from_subset(big, 0)


def test_seeded_init_is_reproducible_and_in_the_paper_ranges():
    a, b, c = RBFN(26, 16, seed=7), RBFN(26, 16, seed=7), RBFN(26, 16, seed=8)
    for name in ("bias", "weights", "centroids", "log_gamma"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert not torch.equal(a.centroids, c.centroids)
    assert float(a.centroids.abs().max()) <= 2.0 and float(a.weights.abs().max()) <= 2.0
    assert abs(float(a.log_gamma) + np.log(26)) <= 0.1 + 1e-6


def test_predict_applies_target_mean_and_scale():
    net = RBFN(3, 4, seed=2, dtype=F64)
    net.metadata.update(target_mean=0.7, target_scale=0.25)
    X = np.random.default_rng(1).choice([-1.0, 1.0], (10, 3))
    pred = net.predict(X)
    assert isinstance(pred, np.ndarray) and pred.dtype == np.float64 and pred.shape == (10,)
    np.testing.assert_allclose(pred, 0.7 + 0.25 * _naive(net, X), rtol=1e-12, atol=1e-12)
    # batching does not change anything
    np.testing.assert_allclose(net.predict(X, batch_size=3), pred, rtol=0, atol=0)
    assert net.predict(np.zeros((0, 3))).shape == (0,)


def test_predict_float64_model_keeps_float64_inputs():
    net = RBFN(2, 3, seed=0, dtype=F64)
    X = np.array([[0.1, 0.3], [1 / 3, -0.7]])
    np.testing.assert_allclose(net.predict(X), _naive(net, X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bad", [np.zeros((4, 2)), np.zeros(3), np.zeros((2, 3, 1))])
def test_bad_shapes_raise(bad):
    net = RBFN(3, 2, seed=0)
    with pytest.raises(ValueError, match="shape"):
        net(torch.as_tensor(bad, dtype=torch.float32))
    with pytest.raises(ValueError, match="shape"):
        net.predict(bad)


@pytest.mark.parametrize("args", [(0, 3), (3, 0), (2.5, 3), (True, 3), (3, -1)])
def test_bad_sizes_raise(args):
    with pytest.raises(ValueError, match="num_"):
        RBFN(*args)
