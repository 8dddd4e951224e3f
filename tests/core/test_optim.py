"""The optimisers: L-BFGS (both line searches) against exact minimisers, the schedule's
progress estimate, Adam's step constants on the device."""

from __future__ import annotations

import math

import pytest
import torch

from rbfviz.core.optim import FlatAdam, LBFGSSettings, PlateauSchedule, adam_step_constants, lbfgs

F64 = torch.float64


def _quadratics(R=4, P=6, seed=0):
    """R independent convex quadratics ½ xᵀA_r x − b_rᵀx with known minimisers A_r⁻¹ b_r.

    A row of the optimiser's x is (x, r): the problem's id rides in a last coordinate whose
    gradient is 0 (so it never moves), since the line searches evaluate any subset or
    stacking of the problems' rows.  Returns the objective, the starting points and the minimisers.
    """
    gen = torch.Generator().manual_seed(seed)
    Q = torch.randn(R, P, P, generator=gen, dtype=F64)
    A = Q @ Q.transpose(1, 2) + 0.5 * torch.eye(P, dtype=F64) * torch.arange(1, R + 1, dtype=F64)[:, None, None]
    b = torch.randn(R, P, generator=gen, dtype=F64)

    def evaluate(x):  # (n, P + 1)
        ids = x[:, -1].round().long()
        v = x[:, :-1]
        Av = (A[ids] @ v[:, :, None])[:, :, 0]
        grad = torch.cat([Av - b[ids], torch.zeros_like(v[:, :1])], 1)
        return 0.5 * (v * Av).sum(1) - (b[ids] * v).sum(1), grad

    x0 = torch.cat([torch.zeros(R, P, dtype=F64), torch.arange(R, dtype=F64)[:, None]], 1)
    x_star = torch.linalg.solve(A, b[:, :, None])[:, :, 0]
    return evaluate, x0, torch.cat([x_star, x0[:, -1:]], 1)


@pytest.mark.parametrize("search, every", [("backtracking", 1), ("batched", 1), ("batched", 5)])
def test_lbfgs_finds_the_minimisers_of_batched_quadratics(search, every):
    evaluate, x0, x_star = _quadratics()
    settings = LBFGSSettings(iterations=200, history_size=10, tolerance=1e-14, line_search=search, check_every=every)
    state = lbfgs(evaluate, x0, settings)
    torch.testing.assert_close(state.x, x_star, rtol=1e-6, atol=1e-7)
    assert len(state.history) == state.iterations or state.iterations <= 200
    assert all(b <= a + 1e-12 for a, b in zip(state.history, state.history[1:]))  # monotone best loss


def test_lbfgs_batched_search_never_syncs_inside_an_iteration(monkeypatch):
    """Between convergence tests the batched search only launches tensor operations: no
    Tensor.item / __bool__ / tolist / nonzero on the device's data."""
    evaluate, x0, _ = _quadratics(R=3, P=4, seed=1)
    calls = []
    for name in ("item", "tolist", "__bool__", "__float__", "nonzero"):
        original = getattr(torch.Tensor, name)

        def spy(self, *a, _o=original, _n=name, **k):
            calls.append(_n)
            return _o(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, spy)
    settings = LBFGSSettings(iterations=20, tolerance=0.0, line_search="batched", check_every=10, drop_after=10**9)
    lbfgs(evaluate, x0, settings)
    monkeypatch.undo()
    # two convergence tests (after iterations 10 and 20) and the first iteration's check, each a few syncs
    assert 0 < len(calls) <= 3 * 4, calls


def test_lbfgs_stops_stalled_problems_and_cancels():
    evaluate, x0, _ = _quadratics(R=2, P=3, seed=2)
    state = lbfgs(evaluate, x0, LBFGSSettings(iterations=500, line_search="batched"))
    assert state.iterations < 500 and not state.cancelled  # converged problems stop
    reports = []
    state = lbfgs(
        evaluate,
        x0,
        LBFGSSettings(iterations=500, line_search="batched"),
        report=lambda it, best: reports.append((it, best)),
        cancelled=lambda: len(reports) >= 3,
    )
    assert state.cancelled and state.iterations == 4 and len(reports) == 3


def test_plateau_fraction_is_monotone_and_ends_at_one():
    s = PlateauSchedule(lr=1e-2, factor=0.1, patience=2, cooldown=1, min_lr=1e-4)
    assert s.reductions_needed == 3  # 1e-2 → 1e-3 → 1e-4 (the floor is not below) → 1e-5
    fractions = [s.fraction]
    while not s.finished:
        s.step(1.0)
        fractions.append(s.fraction)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(0 <= f < 1 for f in fractions[:-1])
    assert max(fractions[:-1]) > 0.6


def test_adam_step_constants_on_the_device_equal_the_host_ones():
    t = torch.arange(1, 2000, dtype=F64)
    c1, c2 = adam_step_constants(torch.tensor(3e-3, dtype=F64), t)
    for i in (0, 1, 9, 99, 1998):
        h1, h2 = adam_step_constants(3e-3, int(t[i]))
        assert float(c1[i]) == pytest.approx(h1, rel=1e-15) and float(c2[i]) == pytest.approx(h2, rel=1e-15)
        assert float(c1[i].float()) == float(torch.tensor(h1, dtype=torch.float32))


def test_flat_adam_update_with_device_constants_equals_step():
    a = [torch.randn(4, 3, dtype=torch.float32), torch.randn((), dtype=torch.float32)]
    b = [t.clone() for t in a]
    opt_a, opt_b = FlatAdam(a, lr=1e-2, weight_decay=1e-4), FlatAdam(b, lr=1e-2, weight_decay=1e-4)
    for step in range(1, 8):
        grads = [torch.cos(step * torch.arange(t.numel(), dtype=torch.float32)).reshape(t.shape) for t in a]
        opt_a.step(grads)
        c1, c2 = adam_step_constants(torch.tensor(1e-2, dtype=F64), torch.tensor(float(step), dtype=F64))
        opt_b.update(torch.cat([g.reshape(-1) for g in grads]), c1.float(), c2.float())
    assert torch.equal(opt_a.flat, opt_b.flat) and math.isfinite(float(opt_a.flat.sum()))
