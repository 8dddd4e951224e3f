"""Closed-form expectations of Theorem 1 against independent references.

References used here never call the module's formulas:
- Bernoulli: brute force over all 2^D points, or the per-dimension two-point sum in log space;
- Normal / GaussianMixture / Uniform: Monte Carlo (10^6 samples) and per-dimension numerical
  quadrature in log space (Simpson / trapezoid on a fine grid), summed over dimensions with fsum.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from rbfviz.core.expectations import (
    Bernoulli,
    Distribution,
    GaussianMixture,
    Normal,
    Uniform,
    distribution_from_description,
)

F64 = torch.float64


def _t(a):
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


# --------------------------------------------------------------------------- references
def _all_points(D):
    return np.array(list(itertools.product((-1.0, 1.0), repeat=D)))  # (2^D, D)


def _bernoulli_brute(q, k, U, r, V):
    """E over all 2^D points of exp(-k|x-u|^2 - r|x-v|^2), shape (A, B)."""
    X = _all_points(U.shape[1])
    q = np.broadcast_to(np.asarray(q, dtype=np.float64), (U.shape[1],))
    p = np.prod(np.where(X > 0, q, 1 - q), axis=1)  # (P,)
    du = ((X[:, None, :] - U[None]) ** 2).sum(-1)  # (P, A)
    dv = ((X[:, None, :] - V[None]) ** 2).sum(-1)  # (P, B)
    vals = np.exp(-k * du[:, :, None] - r * dv[:, None, :])  # (P, A, B)
    return np.einsum("p,pab->ab", p, vals)


def _bernoulli_log_ref(q, k, u, r, v):
    """log E as fsum over dims of the two-point log-sum (pure Python floats)."""
    terms = []
    for qi, ui, vi in zip(q, u, v):
        parts = []
        if qi > 0:
            parts.append(math.log(qi) - k * (1 - ui) ** 2 - r * (1 - vi) ** 2)
        if qi < 1:
            parts.append(math.log1p(-qi) - k * (1 + ui) ** 2 - r * (1 + vi) ** 2)
        m = max(parts)
        terms.append(m + math.log(math.fsum(math.exp(p - m) for p in parts)))
    return math.fsum(terms)


def _log_simpson(logf, h):
    n = logf.shape[-1]
    assert n % 2 == 1
    w = np.ones(n)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    x = logf + np.log(w)
    m = x.max(-1, keepdims=True)
    return (m[..., 0] + np.log(np.exp(x - m).sum(-1))) + math.log(h / 3)


def _uniform_log_ref(a, b, k, u, r, v, n=40_001):
    """Per-dimension Simpson quadrature in log space of (1/(b-a)) ∫ exp(-k(x-u)^2 - r(x-v)^2)."""
    a, b, u, v = (np.broadcast_to(np.asarray(t, dtype=np.float64), (len(u),)) for t in (a, b, u, v))
    g = np.linspace(0.0, 1.0, n)
    X = a[:, None] + (b - a)[:, None] * g[None]  # (D, n)
    logf = -k * (X - u[:, None]) ** 2 - r * (X - v[:, None]) ** 2
    per_dim = _log_simpson(logf, 1.0 / (n - 1))  # ∫ over [0, 1] in g: dx/(b-a) = dg
    return math.fsum(per_dim.tolist())


def _mixture_log_ref(w, mu, sd, k, u, r, v, n=40_001, half_width=40.0):
    """Per-dimension log-space quadrature of Σ_j w_j N(x|μ_j, σ_j²) exp(−k(x−u)² − r(x−v)²)."""
    D = len(u)
    w, mu, sd = (np.broadcast_to(np.asarray(t, dtype=np.float64), (D, np.shape(w)[-1])) for t in (w, mu, sd))
    out = []
    for i in range(D):
        lo = min(mu[i].min() - 12 * sd[i].max(), u[i] - half_width, v[i] - half_width)
        hi = max(mu[i].max() + 12 * sd[i].max(), u[i] + half_width, v[i] + half_width)
        X = np.linspace(lo, hi, n)
        with np.errstate(divide="ignore"):
            log_dens = (
                np.log(w[i])[:, None]
                - 0.5 * ((X[None] - mu[i][:, None]) / sd[i][:, None]) ** 2
                - np.log(sd[i])[:, None]
                - 0.5 * math.log(2 * math.pi)
            )
        m = log_dens.max(0)
        log_p = m + np.log(np.exp(log_dens - m).sum(0))
        logf = log_p - k * (X - u[i]) ** 2 - r * (X - v[i]) ** 2
        out.append(_log_simpson(logf, (hi - lo) / (n - 1)))
    return math.fsum(out)


def _mc_check(dist_sampler, dist, k, U, r, V, n=1_000_000, seed=0):
    """Closed form vs Monte Carlo mean, within 4 standard errors (+ 1e-12 absolute)."""
    rng = np.random.default_rng(seed)
    X = dist_sampler(rng, n)  # (n, D)
    du = ((X[:, None, :] - U[None]) ** 2).sum(-1)  # (n, A)
    dv = ((X[:, None, :] - V[None]) ** 2).sum(-1)  # (n, B)
    vals = np.exp(-k * du[:, :, None] - r * dv[:, None, :])  # (n, A, B)
    mean, se = vals.mean(0), vals.std(0) / math.sqrt(n)
    got = dist.expectation(k, _t(U), r, _t(V)).numpy()
    assert got.shape == mean.shape
    assert np.all(np.abs(got - mean) <= 4 * se + 1e-12), (got, mean, se)
    # single expectation (log_expectation1) against the same samples
    vals1 = np.exp(-k * du)
    got1 = dist.log_expectation1(k, _t(U)).exp().numpy()
    assert np.all(np.abs(got1 - vals1.mean(0)) <= 4 * vals1.std(0) / math.sqrt(n) + 1e-12)


# --------------------------------------------------------------------------- Bernoulli
@pytest.mark.parametrize("D", [1, 3, 7, 12])
def test_bernoulli_pair_matrix_matches_brute_force(D):
    rng = np.random.default_rng(D)
    q = rng.uniform(0.05, 0.95, D)
    q[0] = 0.0  # degenerate dimensions are allowed
    if D > 1:
        q[1] = 1.0
    U, V = rng.uniform(-1.5, 1.5, (4, D)), rng.uniform(-1.5, 1.5, (3, D))
    k, r = 0.3, 0.17
    ref = _bernoulli_brute(q, k, U, r, V)
    dist = Bernoulli(q)
    fast = dist.expectation(k, _t(U), r, _t(V))
    generic = Distribution.log_expectation(dist, k, _t(U), r, _t(V)).exp()
    assert fast.dtype == F64 and fast.shape == (4, 3)
    np.testing.assert_allclose(fast.numpy(), ref, rtol=1e-9, atol=0)
    np.testing.assert_allclose(generic.numpy(), ref, rtol=1e-9, atol=0)
    # the fast override equals the generic per-dimension path
    np.testing.assert_allclose(
        dist.log_expectation(k, _t(U), r, _t(V)).numpy(),
        Distribution.log_expectation(dist, k, _t(U), r, _t(V)).numpy(),
        rtol=1e-12,
        atol=1e-12,
    )
    # single expectation
    ref1 = _bernoulli_brute(q, k, U, 0.0, np.zeros((1, D)))[:, 0]
    np.testing.assert_allclose(dist.log_expectation1(k, _t(U)).exp().numpy(), ref1, rtol=1e-9, atol=0)


def test_bernoulli_scalar_q_matches_brute_force():
    rng = np.random.default_rng(5)
    U = rng.uniform(-1, 1, (3, 6))
    for q in (0.5, 0.2, 0.0, 1.0):
        ref = _bernoulli_brute(q, 0.4, U, 0.9, U)
        np.testing.assert_allclose(Bernoulli(q).expectation(0.4, _t(U), 0.9, _t(U)).numpy(), ref, rtol=1e-9, atol=0)


def test_bernoulli_degenerate_q_with_large_width_is_exact():
    """q_i ∈ {0, 1} must be exact even when the impossible branch would dominate.

    With q = 0 the only point is x = −1: E = exp(−k(−1 − u)²).  For u = +1, k = 10 this is
    e^−40 ≈ 4e−18; treating q = 0 as 1e−15 adds 1e−15·e^0, a relative error of ~200.
    """
    U = _t([[1.0]])
    for q, x in ((0.0, -1.0), (1.0, 1.0)):
        u = -x  # centroid at the impossible point
        Uq = _t([[u]])
        want = -10.0 * (x - u) ** 2  # log E
        got_fast = float(Bernoulli(q).log_expectation1(10.0, Uq))
        got_generic = float(Distribution.log_expectation(Bernoulli(q), 10.0, Uq, 0.0, Uq * 0)[0, 0])
        assert got_generic == pytest.approx(want, rel=1e-12)
        assert got_fast == pytest.approx(want, rel=1e-12)
    del U


def test_bernoulli_extreme_parameters_d26():
    rng = np.random.default_rng(26)
    D = 26
    q = rng.uniform(0.0, 1.0, D)
    q[:2] = (0.0, 1.0)
    U, V = rng.uniform(-5, 5, (3, D)), rng.uniform(-5, 5, (2, D))
    dist = Bernoulli(q)
    for k, r in ((10.0, 10.0), (10.0, 0.01), (1e-3, 7.0)):
        got = dist.log_expectation(k, _t(U), r, _t(V)).numpy()
        generic = Distribution.log_expectation(dist, k, _t(U), r, _t(V)).numpy()
        assert np.isfinite(got).all()
        for i, j in itertools.product(range(3), range(2)):
            ref = _bernoulli_log_ref(q, k, U[i], r, V[j])
            assert got[i, j] == pytest.approx(ref, rel=1e-12, abs=1e-9)
            assert generic[i, j] == pytest.approx(ref, rel=1e-12, abs=1e-9)


def test_bernoulli_overflow_regression_d1_gamma_11_1():
    """The reference forms exp(4γ(θ_i+θ_j)) = exp(88.8) and returns NaN (baseline.md)."""
    g = 11.1
    Z = _t([[1.0], [-1.0]])
    E = Bernoulli(0.5).expectation(g, Z, g, Z)
    ref = _bernoulli_brute(0.5, g, Z.numpy(), g, Z.numpy())
    assert torch.isfinite(E).all()
    np.testing.assert_allclose(E.numpy(), ref, rtol=1e-12)
    assert float(E[0, 0]) == pytest.approx(0.5, rel=1e-12)  # the x = +1 point alone
    Zg = Z.clone().requires_grad_(True)
    Bernoulli(0.5).expectation(g, Zg, g, Zg).sum().backward()
    assert torch.isfinite(Zg.grad).all()


def test_bernoulli_from_data():
    X = np.array([[1, -1, -1], [1, 1, -1], [1, -1, -1], [1, 1, -1]])
    assert Bernoulli.from_data(X).q.tolist() == [1.0, 0.5, 0.0]
    with pytest.raises(ValueError, match="-1 and \\+1"):
        Bernoulli.from_data([[0, 1]])


# --------------------------------------------------------------------------- Monte Carlo
def test_normal_scalar_monte_carlo():
    rng = np.random.default_rng(1)
    U, V = rng.normal(0, 1, (2, 3)), rng.normal(0, 1, (2, 3))
    _mc_check(lambda g, n: g.normal(0.0, 1.0, (n, 3)), Normal(0.0, 1.0), 0.3, U, 0.2, V)


def test_normal_per_dimension_monte_carlo():
    rng = np.random.default_rng(2)
    mean, std = np.array([0.5, -1.0, 2.0]), np.array([0.3, 1.5, 0.8])
    U, V = rng.normal(0, 1, (2, 3)), rng.normal(0, 1, (2, 3))
    _mc_check(lambda g, n: g.normal(mean, std, (n, 3)), Normal(mean, std), 0.25, U, 0.4, V, seed=3)


def test_gaussian_mixture_per_dimension_monte_carlo():
    rng = np.random.default_rng(3)
    w = np.array([[0.2, 0.5, 0.3], [0.6, 0.4, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    mu = np.array([[-1.0, 0.0, 2.0], [0.5, -0.5, 9.0], [-2.0, 1.0, 3.0]])
    sd = np.array([[0.3, 0.7, 1.0], [0.2, 1.2, 1.0], [0.5, 0.5, 0.9]])

    def sample(g, n):
        comp = np.stack([g.choice(3, size=n, p=w[i]) for i in range(3)], axis=1)  # (n, D)
        return mu[np.arange(3), comp] + sd[np.arange(3), comp] * g.standard_normal((n, 3))

    U, V = rng.normal(0, 1, (2, 3)), rng.normal(0, 1, (2, 3))
    _mc_check(sample, GaussianMixture(w, mu, sd), 0.3, U, 0.15, V, seed=4)


def test_gaussian_mixture_shared_components_monte_carlo():
    w, mu, sd = [0.5, 0.5], [-1.0, 1.0], [0.2, 0.4]

    def sample(g, n):
        comp = g.choice(2, size=(n, 2), p=w)
        return np.take(mu, comp) + np.take(sd, comp) * g.standard_normal((n, 2))

    U = np.array([[0.0, 1.0], [-1.0, 0.5]])
    _mc_check(sample, GaussianMixture(w, mu, sd), 0.5, U, 0.3, U, seed=5)


def test_uniform_per_dimension_monte_carlo():
    rng = np.random.default_rng(4)
    a, b = np.array([-1.0, 0.0, -4.0]), np.array([1.0, 3.0, 4.0])
    U, V = rng.uniform(-2, 2, (2, 3)), rng.uniform(-2, 4, (2, 3))
    U[0, 2] = 6.0  # outside the interval: tail branch
    _mc_check(lambda g, n: g.uniform(a, b, (n, 3)), Uniform(a, b), 0.3, U, 0.2, V, seed=6)


# --------------------------------------------------------------------------- extreme parameters
def test_normal_and_mixture_extreme_parameters_d26():
    rng = np.random.default_rng(7)
    D = 26
    U, V = rng.uniform(-5, 5, (2, D)), rng.uniform(-5, 5, (2, D))
    mean, std = rng.normal(0, 1, D), rng.uniform(0.5, 2.0, D)
    dists = [
        (Normal(0.0, 1.0), ([1.0], [0.0], [1.0])),
        (Normal(mean, std), (np.ones((D, 1)), mean[:, None], std[:, None])),
        (GaussianMixture([0.3, 0.7], [-1.0, 1.0], [0.2, 0.5]), ([0.3, 0.7], [-1.0, 1.0], [0.2, 0.5])),
    ]
    for dist, (w, mu, sd) in dists:
        for k, r in ((10.0, 10.0), (10.0, 1e-3)):
            got = dist.log_expectation(k, _t(U), r, _t(V)).numpy()
            assert np.isfinite(got).all()
            for i, j in ((0, 0), (1, 1), (0, 1)):
                ref = _mixture_log_ref(w, mu, sd, k, U[i], r, V[j])
                assert got[i, j] == pytest.approx(ref, rel=1e-9, abs=1e-7), (dist, k, r)


@pytest.mark.parametrize(
    "D, gamma, a, b", [(100, 0.01, -1.0, 1.0), (26, 1e-4, -1.0, 1.0), (26, 10.0, -1.0, 1.0), (26, 3.0, -4.0, 4.0)]
)
def test_uniform_extreme_parameters(D, gamma, a, b):
    """Underflow regressions (baseline.md: NaN at D=100, γ=0.01 and D=26, γ=1e-4) and large γΘ."""
    rng = np.random.default_rng(D)
    U, V = rng.uniform(-5, 5, (2, D)), rng.uniform(-5, 5, (2, D))
    dist = Uniform(a, b)
    got = dist.log_expectation(gamma, _t(U), gamma, _t(V)).numpy()
    assert np.isfinite(got).all()
    for i, j in ((0, 0), (0, 1), (1, 0)):
        ref = _uniform_log_ref(a, b, gamma, U[i], gamma, V[j])
        assert got[i, j] == pytest.approx(ref, rel=1e-9, abs=1e-9)
    got1 = dist.log_expectation1(gamma, _t(U)).numpy()
    for i in range(2):
        assert got1[i] == pytest.approx(_uniform_log_ref(a, b, gamma, U[i], 0.0, U[i]), rel=1e-9, abs=1e-9)


def test_uniform_loss_scale_expectations_are_finite_in_float32_inputs():
    """Float32 centroids still give finite values in the underflow regime."""
    U = torch.rand(4, 100) * 2 - 1
    E = Uniform(-1, 1).log_expectation(0.01, U, 0.01, U)
    assert torch.isfinite(E).all() and (E < 0).all()


# --------------------------------------------------------------------------- far-away centroids
@pytest.mark.parametrize(
    "dist",
    [Bernoulli(0.3), Normal(0.0, 1.0), Uniform(-1.0, 1.0), GaussianMixture([0.5, 0.5], [-1.0, 1.0], [0.5, 0.5])],
    ids=lambda d: type(d).__name__,
)
def test_far_away_centroids_keep_log_space_gradient(dist):
    U = _t([[100.0, 0.0]]).requires_grad_(True)
    k = 1.0
    assert float(dist.expectation(k, U.detach(), 0.0, U.detach()[:, :0].new_zeros(1, 2))) >= 0
    log_e = dist.log_expectation1(k, U)
    assert torch.isfinite(log_e).all() and float(log_e.detach()) < -700  # exp underflows to 0
    (g,) = torch.autograd.grad(log_e.sum(), U)
    assert torch.isfinite(g).all()
    # moving the centroid away lowers the log expectation: d/du_0 < 0, about −2k·u in magnitude
    assert float(g[0, 0]) < -1.0
    # finite difference in log space
    h = 1e-4
    up = float(dist.log_expectation1(k, _t([[100.0 + h, 0.0]])))
    dn = float(dist.log_expectation1(k, _t([[100.0 - h, 0.0]])))
    assert float(g[0, 0]) == pytest.approx((up - dn) / (2 * h), rel=1e-5)


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize(
    "dist",
    [
        Bernoulli(0.5),
        Bernoulli([0.2, 0.0, 1.0]),
        Normal(0.0, 1.0),
        Normal([0.5, -0.2, 0.0], [1.0, 0.5, 2.0]),
        GaussianMixture([[0.3, 0.7], [0.5, 0.5], [1.0, 0.0]], [[-1, 1], [0, 2], [0, 0]], [[0.5, 1], [1, 1], [1, 2]]),
        Uniform(-1.0, 1.0),
        Uniform([-1.0, 0.0, -2.0], [1.0, 0.5, 2.0]),
    ],
    ids=repr,
)
def test_gradcheck_wrt_U_V_k(dist):
    gen = torch.Generator().manual_seed(0)
    U = (torch.rand(3, 3, generator=gen, dtype=F64) * 4 - 2).requires_grad_(True)
    V = (torch.rand(2, 3, generator=gen, dtype=F64) * 4 - 2).requires_grad_(True)
    k = torch.tensor(0.7, dtype=F64, requires_grad=True)
    r = torch.tensor(0.4, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda U, V, k, r: dist.log_expectation(k, U, r, V), (U, V, k, r))
    assert torch.autograd.gradcheck(lambda U, V, k, r: dist.expectation(k, U, r, V), (U, V, k, r))
    assert torch.autograd.gradcheck(lambda U, k: dist.log_expectation1(k, U), (U, k))


def test_batched_widths_broadcast():
    """k, r of shape (R,) with centroid batches (R, A, D) give (R, A, B) = per-restart results."""
    gen = torch.Generator().manual_seed(1)
    U, V = torch.randn(2, 3, 4, generator=gen, dtype=F64), torch.randn(2, 5, 4, generator=gen, dtype=F64)
    k, r = torch.tensor([0.2, 0.9], dtype=F64), torch.tensor([0.5, 0.1], dtype=F64)
    for dist in (Bernoulli(0.4), Normal(0.0, 1.0), Uniform(-1, 1)):
        got = dist.log_expectation(k, U, r, V)
        assert got.shape == (2, 3, 5)
        for i in range(2):
            torch.testing.assert_close(
                got[i], dist.log_expectation(float(k[i]), U[i], float(r[i]), V[i]), rtol=1e-12, atol=1e-12
            )


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: Bernoulli(1.5), "q"),
        (lambda: Bernoulli(-0.1), "q"),
        (lambda: Bernoulli([0.5, float("nan")]), "q"),
        (lambda: Uniform(1.0, 1.0), "b"),
        (lambda: Uniform([0.0, 2.0], [1.0, 1.0]), "b"),
        (lambda: Uniform([0.0, 0.0], [1.0, 1.0, 1.0]), "a"),
        (lambda: Normal(0.0, 0.0), "std"),
        (lambda: Normal([0.0, 0.0], [1.0, 1.0, 1.0]), "mean"),
        (lambda: GaussianMixture([0.5, 0.6], [0, 1], [1, 1]), "weights"),
        (lambda: GaussianMixture([1.5, -0.5], [0, 1], [1, 1]), "weights"),
        (lambda: GaussianMixture([0.5, 0.5], [0, 1], [1, 0]), "stds"),
        (lambda: GaussianMixture([0.5, 0.5], [0, 1, 2], [1, 1]), "weights"),
    ],
)
def test_parameter_validation_names_the_argument(make, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        make()


@pytest.mark.parametrize(
    "dist",
    [
        Bernoulli([0.5] * 3),
        Uniform([0.0] * 3, [1.0] * 3),
        Normal([0.0] * 3, 1.0),
        GaussianMixture(np.full((3, 2), 0.5), np.zeros((3, 2)), np.ones((3, 2))),
    ],
    ids=lambda d: type(d).__name__,
)
def test_mismatched_dimension_raises(dist):
    U = torch.zeros(2, 4, dtype=F64)
    with pytest.raises(ValueError, match="D = 3"):
        dist.log_expectation(1.0, U, 1.0, U)
    with pytest.raises(ValueError, match="D = 3"):
        dist.log_expectation1(1.0, U)
    with pytest.raises(ValueError, match="D"):
        dist.log_expectation(1.0, torch.zeros(2, 3, dtype=F64), 1.0, U)


@pytest.mark.parametrize(
    "dist",
    [
        Bernoulli([0.2, 0.7]),
        Uniform(-2, [1, 3]),
        Normal([0.0, 1.0], 2.0),
        GaussianMixture([0.4, 0.6], [-1, 1], [0.5, 1.0]),
    ],
    ids=repr,
)
def test_describe_round_trip(dist):
    again = distribution_from_description(dist.describe())
    U = torch.randn(3, 2, dtype=F64)
    torch.testing.assert_close(again.log_expectation(0.5, U, 0.2, U), dist.log_expectation(0.5, U, 0.2, U))
    with pytest.raises(ValueError, match="unknown distribution"):
        distribution_from_description({"name": "Cauchy"})
