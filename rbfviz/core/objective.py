"""The pruning objective, eq. (5) of the paper: E_p(x)[(f_K(x) − f_M(x))²] for an input
distribution p, expanded into sums of the closed-form expectations of
:mod:`rbfviz.core.expectations`, vectorised over R candidate small networks.

It is evaluated in float64 whatever the networks' dtype: eq. (5) subtracts terms of size E[f_K²]
(≈ 83 at K = 4096) to reach losses of 1e-4 and below.  The K × K term does not depend on f_M; it
is computed once, in chunks, with bounded memory.  Under a Bernoulli p the K × M cross term, the
costly one, is a fused autograd function (:class:`_BernoulliCross`).

Examples
--------
>>> from rbfviz.core.expectations import Normal
>>> net = RBFN(2, 5, seed=0)
>>> float(pruning_loss(net, net, Normal(0.0, 1.0))) < 1e-12
True
"""

from __future__ import annotations

import math

import torch

from rbfviz.core.expectations import Bernoulli, Distribution
from rbfviz.core.model import RBFN

_CHUNK_BYTES = 32 * 2**20  # per (chunk, K, D) float64 block of the constant term
_CROSS_CHUNK_BYTES = 4 * 2**20  # per (R, M, chunk, D) float64 block of the fused cross term
_CROSS_CHUNK_BYTES_DEVICE = 512 * 2**20  # the same on a GPU: few, large blocks (launches cost, not cache)


def network_params(net: RBFN, device) -> tuple[torch.Tensor, ...]:
    """(α, β, Θ, γ) of a network as float64 tensors on ``device`` (graph kept for autograd)."""
    f64 = dict(dtype=torch.float64, device=device)
    return (net.bias.to(**f64), net.weights.to(**f64), net.centroids.to(**f64), net.log_gamma.to(**f64).exp())


@torch.no_grad()
def constant_terms(distribution: Distribution, alpha, beta, theta, gamma) -> tuple[float, float]:
    """β^T E_KK β and β·E_K of a fixed network, in chunks of rows of bounded memory."""
    K, D = theta.shape
    rows = max(1, _CHUNK_BYTES // (8 * K * D))
    double = 0.0
    for i in range(0, K, rows):
        E = distribution.log_expectation(gamma, theta[i : i + rows], gamma, theta).exp()  # (c, K)
        double += float(beta[i : i + rows] @ E @ beta)
    single = float(beta @ distribution.log_expectation1(gamma, theta).exp())
    return double, single


class _BernoulliCross(torch.autograd.Function):
    """Σ_k b_k Σ_m β_rm E_rkm of eq. (5) under a Bernoulli p, with its gradient fused in.

    E_rkm = exp(m_u[k] + m_v[r, m] + Σ_i softplus(d_u[k, i] + d_v[r, m, i])) (see
    :meth:`rbfviz.expectations.Bernoulli._row_terms`); the large network's rows (d_u, m_u, b) are
    constants.  The (R, M, K, D) pair tensor is visited in blocks of K that stay in cache, and in
    the same pass the gradients with respect to d_v, m_v and β are accumulated: with
    W_rkm = b_k β_rm E_rkm, ∂/∂d_v[r, m, i] = Σ_k W_rkm σ(d_u[k, i] + d_v[r, m, i]) is one
    (1 × c) @ (c × D) product per (r, m), so no autograd graph over (R, M, K, D) is built.
    ``backward`` only scales the stored gradients (no double backward).
    """

    @staticmethod
    def forward(ctx, d_v, m_v, beta, d_u, m_u, b, exp_d_u=None, max_d_u=math.inf):
        R, M, D = d_v.shape
        K = d_u.shape[0]
        want = any(ctx.needs_input_grad[:3])
        if any(ctx.needs_input_grad[3:]):
            raise RuntimeError("_BernoulliCross: the large network's terms must be constants")
        budget = _CROSS_CHUNK_BYTES if d_v.device.type == "cpu" else _CROSS_CHUNK_BYTES_DEVICE
        chunk = max(1, min(K, budget // (8 * R * M * D)))
        out = d_v.new_zeros(R)
        g_dv = d_v.new_zeros(R * M, 1, D) if want else None
        g_beta = d_v.new_zeros(R, M) if want else None
        g_mv = d_v.new_zeros(R, M) if want else None
        buf = d_v.new_empty(R * M * chunk * D)
        sp = d_v.new_empty(R * M * chunk * D)
        dv = d_v[:, :, None, :]
        # Product form: softplus(d_u + d_v) = log1p(e^d_u · e^d_v), with e^d_u precomputed once,
        # is one multiply and one log1p per element (and σ = P / (1 + P) for the gradient)
        # instead of an add, a softplus and a sigmoid; used while e^(d_u + d_v) cannot overflow.
        # (Decided on the host: only on the CPU, where that costs nothing; elsewhere always softplus.)
        product = exp_d_u is not None and d_v.device.type == "cpu" and max_d_u + float(d_v.max()) < 700.0
        if product:
            exp_dv = d_v.exp()[:, :, None, :]  # (R, M, 1, D)
        for lo in range(0, K, chunk):
            c = min(chunk, K - lo)
            view = (R, M, c, D)
            if product:
                pair = torch.mul(exp_dv, exp_d_u[lo : lo + c], out=buf[: R * M * c * D].view(view))
                soft = torch.log1p(pair, out=sp[: R * M * c * D].view(view))
            else:
                pair = torch.add(dv, d_u[lo : lo + c], out=buf[: R * M * c * D].view(view))
                soft = torch._C._nn.softplus(pair, 1.0, 40.0, out=sp[: R * M * c * D].view(view))
            E = torch.exp(soft.sum(-1).add_(m_v[:, :, None]).add_(m_u[lo : lo + c]))  # (R, M, c)
            bE = E @ b[lo : lo + c]  # (R, M)
            out += (bE * beta).sum(-1)
            if want:
                g_beta += bE
                W = E.mul_(b[lo : lo + c]).mul_(beta[:, :, None])  # (R, M, c)
                g_mv += W.sum(-1)
                if product:  # σ(d_u + d_v) = P / (1 + P)
                    sig = torch.div(pair, torch.add(pair, 1.0, out=soft), out=pair).view(R * M, c, D)
                else:
                    sig = torch.sigmoid(pair, out=pair).view(R * M, c, D)
                g_dv.baddbmm_(W.view(R * M, 1, c), sig)
        if want:
            ctx.save_for_backward(g_dv.view(R, M, D), g_mv, g_beta)
        return out

    @staticmethod
    def backward(ctx, grad):
        g_dv, g_mv, g_beta = ctx.saved_tensors
        return (g_dv * grad[:, None, None], g_mv * grad[:, None], g_beta * grad[:, None], None, None, None, None, None)


class PruningObjective:
    """Eq. (5) for one large network, vectorised over R restarts of the small one.

    ``objective(alpha (R,), beta (R, M), theta (R, M, D), log_gamma (R,))`` returns the R losses
    in float64.
    """

    def __init__(self, large: RBFN, distribution: Distribution, device="cpu"):
        self.distribution = distribution
        self.device = torch.device(device)
        a, b, Z, k = (t.detach() for t in network_params(large, self.device))
        self.a, self.b, self.Z, self.k = a, b, Z, k
        self.large_double, self.large_single = constant_terms(distribution, a, b, Z, k)
        # E[f_K²] sets the scale of the float64 rounding floor of eq. (5)
        self.scale = float(a**2 + self.large_double + 2 * a * self.large_single) or 1.0
        self.fused = isinstance(distribution, Bernoulli)
        if self.fused:  # the large network's half of every Bernoulli pair, computed once
            self.m_u, self.d_u = (t.contiguous() for t in distribution._row_terms(k, Z, base=True))
            self.exp_d_u = self.d_u.exp()  # 0 where q ∈ {0, 1}: log1p(0) = softplus(−inf) = 0
            self.max_d_u = float(self.d_u.max())

    def cross(self, beta, theta, g) -> torch.Tensor:
        """Σ_k b_k Σ_m β_rm E_p[φ_k φ_rm] for each restart r, shape (R,)."""
        if self.fused:
            m_v, d_v = self.distribution._row_terms(g, theta, base=False)
            return _BernoulliCross.apply(
                d_v.contiguous(), m_v, beta, self.d_u, self.m_u, self.b, self.exp_d_u, self.max_d_u
            )
        Z = self.Z.expand(theta.shape[0], *self.Z.shape)  # (R, K, D)
        E_km = self.distribution.log_expectation(self.k, Z, g, theta).exp()  # (R, K, M)
        return torch.einsum("k,rkm,rm->r", self.b, E_km, beta)

    def __call__(self, alpha, beta, theta, log_gamma) -> torch.Tensor:
        dist = self.distribution
        g = log_gamma.exp()  # (R,)
        E_mm = dist.log_expectation(g, theta, g, theta).exp()  # (R, M, M)
        E_m = dist.log_expectation1(g, theta).exp()  # (R, M)
        diff = self.a - alpha  # (R,)
        small_double = torch.einsum("rm,rmn,rn->r", beta, E_mm, beta)
        cross = self.cross(beta, theta, g)
        return (
            diff**2
            + self.large_double
            + small_double
            + 2 * diff * (self.large_single - (beta * E_m).sum(-1))
            - 2 * cross
        )


def pruning_loss(large: RBFN, small: RBFN, distribution: Distribution) -> torch.Tensor:
    """Eq. (5): E_p[(f_K(x) − f_M(x))²] as a differentiable 0-d float64 tensor.

    Differentiable with respect to the small network's parameters; computed in float64 on the
    small network's device whatever the dtypes.

    Examples
    --------
    >>> from rbfviz.core.expectations import Normal
    >>> net = RBFN(2, 5, seed=0)
    >>> float(pruning_loss(net, net, Normal(0.0, 1.0))) < 1e-12
    True
    """
    device = small.centroids.device
    objective = PruningObjective(large, distribution, device)
    alpha, beta, theta, gamma = network_params(small, device)
    return objective(alpha[None], beta[None], theta[None], gamma.log()[None])[0]
