"""The fused CPU training step: the packed layout, its gradient against autograd, and S fused
steps (gradient + Adam) against the step-by-step loop, in float64."""

from __future__ import annotations

import pytest
import torch

from rbfviz.core.epoch import adam_steps
from rbfviz.core.model import RBFN, batch_squared_error_and_grads, packed_index, packed_squared_error_and_grads
from rbfviz.core.optim import FlatAdam, adam_step_constants


def _flat(net):
    return torch.cat([p.detach().reshape(-1) for p in (net.bias, net.weights, net.centroids, net.log_gamma)])


def test_packed_index_is_a_permutation_that_transposes_the_centroids():
    K, D = 5, 3
    net = RBFN(D, K, seed=0, dtype=torch.float64)
    idx = packed_index(K, D)
    assert sorted(idx.tolist()) == list(range(2 + K + K * D))
    packed = _flat(net)[idx]
    assert packed[0] == net.bias and packed[-1] == net.log_gamma
    torch.testing.assert_close(packed[1 : 1 + K], net.weights.detach(), rtol=0, atol=0)
    torch.testing.assert_close(packed[1 + K : -1].view(D, K), net.centroids.detach().t(), rtol=0, atol=0)
    back = torch.empty_like(packed)
    back[idx] = packed
    torch.testing.assert_close(back, _flat(net), rtol=0, atol=0)


@pytest.mark.parametrize("K, D, B", [(7, 5, 11), (1, 1, 1), (16, 26, 64)])
def test_packed_gradient_matches_autograd(K, D, B):
    """The packed loss and gradient are autograd's on the model (float64, far from and near the
    centroids: one input sits on a centroid, where the clamped distance is 0)."""
    net = RBFN(D, K, seed=K + D, dtype=torch.float64)
    X = torch.randn(B, D, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    X[0] = net.centroids[0].detach()
    y = torch.randn(B, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    loss = ((net(X) - y) ** 2).sum()
    loss.backward()
    idx = packed_index(K, D)
    sse, grad = packed_squared_error_and_grads(_flat(net)[idx], X, y)
    assert float(sse) == pytest.approx(float(loss.detach()), rel=1e-12)
    want = torch.cat([p.grad.reshape(-1) for p in (net.bias, net.weights, net.centroids, net.log_gamma)])
    torch.testing.assert_close(grad, want[idx], rtol=1e-10, atol=1e-12)


def test_fused_steps_equal_the_step_by_step_loop():
    """adam_steps over S batches (one call, then another) equals S rounds of the gradient and
    FlatAdam.step, float64: the same parameters, both moments and summed errors."""
    K, D, B, S = 6, 4, 9, 3
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(2 * S, B, D, dtype=torch.float64, generator=gen)
    y = torch.randn(2 * S, B, dtype=torch.float64, generator=gen)
    net = RBFN(D, K, seed=5, dtype=torch.float64)
    params = [net.bias, net.weights, net.centroids, net.log_gamma]
    opt = FlatAdam(params, lr=0.05, weight_decay=1e-3)
    idx = packed_index(K, D)
    state = [t[idx] for t in opt.state()]  # the packed starting point
    want_sse = 0.0
    with torch.no_grad():
        for s in range(2 * S):
            loss, grads = batch_squared_error_and_grads(X[s], y[s], *params)
            opt.step(grads)
            want_sse += float(loss)
    c1, c2 = adam_step_constants(torch.tensor(0.05, dtype=torch.float64), torch.arange(1, 2 * S + 1))
    sse = torch.zeros((), dtype=torch.float64)
    for lo in (0, S):  # two calls of S steps
        adam_steps(
            *state, X[lo : lo + S], y[lo : lo + S], c1[lo : lo + S], c2[lo : lo + S], sse, 1e-3, 0.9, 0.999, 1e-8
        )
    assert float(sse) == pytest.approx(want_sse, rel=1e-12)
    for got, want in zip(state, opt.state()):
        torch.testing.assert_close(got, want[idx], rtol=1e-10, atol=1e-12)


def test_at_most_threads_limits_inside_the_block_and_restores_after():
    from rbfviz.core.epoch import at_most_threads

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with at_most_threads(1):
            assert torch.get_num_threads() == 1
            with at_most_threads(1):
                assert torch.get_num_threads() == 1
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError, match="inside"), at_most_threads(1):
            raise RuntimeError("inside")
        assert torch.get_num_threads() == 2
        with at_most_threads(0), at_most_threads(5):  # no limit; a limit above the setting does not raise it
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
