"""Pruning a large RBFN f_K into a small one f_M (paper §2.3, eq. 4-5).

The objective is E_p(x)[(f_K(x) − f_M(x))²] for an input distribution p, expanded as eq. (5)
into sums of the closed-form expectations of :mod:`rbfviz.core.expectations`.  It is evaluated in
float64 whatever the networks' dtype: eq. (5) subtracts terms of size E[f_K²] (≈ 83 at K = 4096)
to reach losses of 1e-4 and below.  The K × K term does not depend on f_M; it is computed once,
in chunks, with bounded memory.

All restarts are optimised together as one batched problem: the parameters carry a leading
restart dimension R and the loss is a vector of R independent objectives.

Examples
--------
>>> from rbfviz.core.model import RBFN
>>> from rbfviz.core.expectations import Bernoulli
>>> big = RBFN(4, 32, seed=0)
>>> result = prune(big, 3, Bernoulli(0.5), restarts=2, config=PruneConfig(max_iterations=50))
>>> result.model.num_centroids, len(result.losses)
(3, 2)
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch

from rbfviz.core.expectations import Bernoulli, Distribution
from rbfviz.core.model import RBFN, resolve_device
from rbfviz.core.optim import BatchedAdam, LBFGSSettings, PlateauSchedule, lbfgs
from rbfviz.core.progress import cancel_requested
from rbfviz.core.store import content_hash

_CHUNK_BYTES = 32 * 2**20  # per (chunk, K, D) float64 block of the constant term
_CROSS_CHUNK_BYTES = 4 * 2**20  # per (R, M, chunk, D) float64 block of the fused cross term
_CROSS_CHUNK_BYTES_DEVICE = 512 * 2**20  # the same on a GPU: few, large blocks (launches cost, not cache)


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class PruneConfig:
    """Settings of the pruning optimiser.

    ``optimizer="adam"`` is the paper's schedule (learning rate 1e-3, ×0.1 after ten iterations
    without improvement, stop when none for ten iterations at 1e-5).  ``"lbfgs"`` (default)
    minimises the same smooth deterministic objective with a batched L-BFGS (one history and
    backtracking line search per restart); benchmarks/prune.py compares the two on the same
    networks (L-BFGS reaches Adam's 6000-step loss about 100× sooner at K = 1024).

    The objective has a long, slowly improving tail, so L-BFGS runs for a budget
    (``max_iterations``, default 1000 for L-BFGS and 20000 for Adam) unless a restart stalls
    first; after ``drop_after`` iterations a restart whose loss is more than ``drop_factor``
    times the best one's is stopped, since it cannot win.
    """

    optimizer: str = "lbfgs"  # "lbfgs" or "adam"
    learning_rate: float = 1e-3  # Adam's initial rate (the paper's)
    lr_factor: float = 0.1
    patience: int = 10
    cooldown: int = 10
    min_lr: float = 1e-5  # Adam stops once no improvement is seen for `patience` steps at this rate
    max_iterations: int | None = None  # None: 20000 Adam steps or 1000 L-BFGS iterations
    history_size: int = 50  # L-BFGS memory
    tolerance: float = 1e-7  # L-BFGS: a restart stops when its loss improved less than this
    stall_iterations: int = 10  # (relative) over the last this many iterations
    drop_after: int = 100  # L-BFGS: from this iteration on, stop restarts that are ...
    drop_factor: float = 1.5  # ... more than this many times worse than the best one
    device: str = "cpu"  # "cpu", "cuda", "cuda:N" or "auto" (CUDA when present)
    line_search: str = "auto"  # L-BFGS: "backtracking" (CPU), "batched" (no host sync: CUDA), "auto"
    check_every: int | None = None  # L-BFGS convergence/cancel/progress test interval; None: 1 (CPU), 10

    def __post_init__(self):
        if self.line_search not in ("auto", "backtracking", "batched"):
            raise ValueError(
                f"PruneConfig.line_search must be 'auto', 'backtracking' or 'batched'; got {self.line_search!r}"
            )
        if self.check_every is not None and self.check_every < 1:
            raise ValueError(f"PruneConfig.check_every must be >= 1; got {self.check_every!r}")
        if self.optimizer not in ("lbfgs", "adam"):
            raise ValueError(f"PruneConfig.optimizer must be 'lbfgs' or 'adam'; got {self.optimizer!r}")
        if self.max_iterations is not None and self.max_iterations < 1:
            raise ValueError(f"PruneConfig.max_iterations must be >= 1; got {self.max_iterations!r}")
        if self.drop_factor < 1:
            raise ValueError(f"PruneConfig.drop_factor must be >= 1; got {self.drop_factor!r}")

    @property
    def iterations(self) -> int:
        """The iteration budget after defaults."""
        if self.max_iterations is not None:
            return self.max_iterations
        return 1000 if self.optimizer == "lbfgs" else 20_000


@dataclass(frozen=True)
class PruneProgress:
    """What the progress callback receives."""

    iteration: int
    loss: float  # best loss so far over all restarts (standardised units²)
    lr: float  # Adam: the smallest active rate; L-BFGS: NaN
    elapsed: float
    fraction: float  # a best-effort estimate of the work done, in [0, 1]

    def describe(self) -> str:
        """One line for a status bar."""
        rate = "" if math.isnan(self.lr) else f", lr {self.lr:.0e}"
        return f"iteration {self.iteration}: best loss {self.loss:.4g}{rate} ({self.elapsed:.1f} s)"


@dataclass
class PruneResult:
    """The best pruned network, its loss and every restart's final loss."""

    model: RBFN
    loss: float
    losses: list[float]
    iterations: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    history: list[float] = field(default_factory=list)  # best total loss per iteration


# --------------------------------------------------------------------------- the objective
def _network_params(net: RBFN, device) -> tuple[torch.Tensor, ...]:
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
        a, b, Z, k = (t.detach() for t in _network_params(large, self.device))
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
    alpha, beta, theta, gamma = _network_params(small, device)
    return objective(alpha[None], beta[None], theta[None], gamma.log()[None])[0]


# --------------------------------------------------------------------------- optimisers
def _initial_params(large: RBFN, num_centroids: int, restarts: int, seed: int, device):
    """Each restart: ``num_centroids`` centroids of ``large`` sampled without replacement."""
    gen = torch.Generator(device="cpu").manual_seed(seed)  # the same draws on every device
    a, b, Z, k = (t.detach() for t in _network_params(large, device))
    idx = torch.stack(
        [torch.randperm(large.num_centroids, generator=gen, device="cpu")[:num_centroids] for _ in range(restarts)]
    ).to(device)  # (R, M)
    alpha = a.expand(restarts).clone()
    beta = b[idx].clone()  # (R, M)
    theta = Z[idx].clone()  # (R, M, D)
    log_gamma = k.log().expand(restarts).clone()
    return [t.requires_grad_(True) for t in (alpha, beta, theta, log_gamma)]


def _run_adam(objective, params, config, progress, cancel, start):
    """The paper's schedule: Adam with one plateau schedule per restart (stops when all finish)."""
    R, device = params[0].shape[0], params[0].device
    schedules = [
        PlateauSchedule(
            lr=config.learning_rate,
            factor=config.lr_factor,
            patience=config.patience,
            cooldown=config.cooldown,
            min_lr=config.min_lr,
        )
        for _ in range(R)
    ]
    lr = torch.full((R,), config.learning_rate, dtype=torch.float64, device=device)
    adam = BatchedAdam(params, lr)
    best_loss = torch.full((R,), math.inf, dtype=torch.float64, device=device)
    best_params = [p.detach().clone() for p in params]
    history, cancelled, it = [], False, 0
    for it in range(config.iterations):
        finished = [s.finished for s in schedules]
        if all(finished):
            break
        if cancel_requested(cancel):
            cancelled = True
            break
        active = torch.tensor([not f for f in finished], dtype=torch.float64, device=device)
        for p in params:
            p.grad = None
        losses = objective(*params)  # (R,)
        losses.sum().backward()
        values = losses.detach()
        better = values < best_loss
        for p, bp in zip(params, best_params):  # keep the evaluated point if it is the best
            bp[better] = p.detach()[better]
        best_loss = torch.where(better, values, best_loss)
        host = values.cpu().tolist()
        for r, s in enumerate(schedules):
            if not s.finished:
                s.step(host[r])
        lr.copy_(torch.tensor([s.lr for s in schedules], dtype=torch.float64))
        adam.step(active)
        history.append(float(best_loss.min()))
        if progress is not None and (it % 25 == 0):
            frac = max(it / config.iterations, min(s.fraction for s in schedules))
            running = [s.lr for s in schedules if not s.finished] or [schedules[0].lr]
            progress(PruneProgress(it, history[-1], min(running), time.perf_counter() - start, min(frac, 1.0)))
    return best_params, best_loss, it + 1, cancelled, history


def _lbfgs_settings(config: PruneConfig, objective: PruningObjective, device: torch.device) -> LBFGSSettings:
    batched = config.line_search == "batched" or (config.line_search == "auto" and device.type != "cpu")
    return LBFGSSettings(
        iterations=config.iterations,
        history_size=config.history_size,
        tolerance=config.tolerance,
        stall_iterations=config.stall_iterations,
        drop_after=config.drop_after,
        drop_factor=config.drop_factor,
        scale=objective.scale,
        line_search="batched" if batched else "backtracking",
        check_every=config.check_every or (10 if batched else 1),
    )


def _run_lbfgs(objective, params, config, progress, cancel, start):
    """The restarts as R problems of :func:`rbfviz.core.optim.lbfgs` on the flattened parameters."""
    shapes = [p.shape[1:] for p in params]
    sizes = [math.prod(s) for s in shapes]
    R = params[0].shape[0]
    x = torch.cat([p.detach().reshape(R, -1) for p in params], dim=1)  # (R, P)

    def evaluate(x):  # the losses and gradients of the rows of x (any number of restarts)
        n = x.shape[0]
        parts = [t.reshape(n, *s).requires_grad_(True) for t, s in zip(torch.split(x.detach(), sizes, dim=1), shapes)]
        losses = objective(*parts)
        grads = torch.autograd.grad(losses.sum(), parts)
        return losses.detach(), torch.cat([gr.reshape(n, -1) for gr in grads], dim=1)

    settings = _lbfgs_settings(config, objective, x.device)

    def report(it, best):
        if progress is not None and it % max(5, settings.check_every) < settings.check_every:
            elapsed = time.perf_counter() - start
            progress(PruneProgress(it, best, math.nan, elapsed, min(1.0, (it + 1) / max(config.iterations, 1))))

    state = lbfgs(evaluate, x, settings, report=report, cancelled=lambda: cancel_requested(cancel))
    best_params = [t.reshape(R, *s).clone() for t, s in zip(torch.split(state.x, sizes, dim=1), shapes)]
    return best_params, state.f, state.iterations, state.cancelled, state.history


# --------------------------------------------------------------------------- the public entry
def prune(
    large: RBFN,
    num_centroids: int,
    distribution: Distribution,
    restarts: int = 10,
    *,
    config: PruneConfig | None = None,
    seed: int = 0,
    progress=None,
    cancel=None,
) -> PruneResult:
    """Find an RBFN with ``num_centroids`` centroids that minimises eq. (4) against ``large``.

    Parameters
    ----------
    large : RBFN
        The trained network f_K (left unchanged).
    num_centroids : int
        M, the number of prototypes to keep.
    distribution : rbfviz.expectations.Distribution
        The input distribution p(x) of eq. (4), e.g. ``Bernoulli(0.5)`` for the Cu data.
    restarts : int, default=10
        Random initialisations (centroids sampled from ``large`` without replacement), all
        optimised together; the best is returned.
    config : PruneConfig, default=PruneConfig()
    seed : int, default=0
    progress : callable(PruneProgress) or None
    cancel : threading.Event or callable() -> bool or None
        Stops the optimisation; the best network so far is returned (``cancelled`` is True).

    Returns
    -------
    PruneResult
        ``model`` (metadata ``kind="pruned"``, the distribution, losses, parent hash), ``loss``
        (float64, standardised units²) and ``losses`` (every restart's).
    """
    config = config or PruneConfig()
    if not isinstance(num_centroids, int) or not 1 <= num_centroids <= large.num_centroids:
        raise ValueError(f"`num_centroids` must be an int in [1, {large.num_centroids}]; got {num_centroids!r}")
    if not isinstance(restarts, int) or restarts < 1:
        raise ValueError(f"`restarts` must be a positive int; got {restarts!r}")
    if not isinstance(distribution, Distribution):
        raise TypeError(
            f"`distribution` must be an rbfviz.expectations.Distribution; got {type(distribution).__name__}"
        )
    device = resolve_device(config.device)
    start = time.perf_counter()
    objective = PruningObjective(large, distribution, device)
    params = _initial_params(large, num_centroids, restarts, seed, device)
    run = _run_lbfgs if config.optimizer == "lbfgs" else _run_adam
    best_params, best_loss, iterations, cancelled, history = run(objective, params, config, progress, cancel, start)

    # Re-evaluate the kept points exactly and pick the best restart.
    with torch.no_grad():
        final = objective(*best_params).cpu()
    final = torch.where(torch.isfinite(final), final, torch.full_like(final, math.inf))
    r = int(torch.argmin(final))
    small = RBFN(large.num_inputs, num_centroids, dtype=large.bias.dtype, device=large.bias.device)
    with torch.no_grad():
        for p, value in zip((small.bias, small.weights, small.centroids, small.log_gamma), best_params):
            p.copy_(value[r])
    loss = float(final[r])
    scale = float(large.metadata.get("target_scale", 1.0))
    small.metadata.update(
        kind="pruned",
        surface=large.metadata.get("surface"),
        source=large.metadata.get("source"),
        target_mean=large.metadata.get("target_mean", 0.0),
        target_scale=scale,
        parent_hash=content_hash(large),
        parent_name=large.metadata.get("name"),
        parent_num_centroids=large.num_centroids,
        prune={
            "distribution": distribution.describe(),
            "restarts": restarts,
            "seed": seed,
            "loss": loss,
            "sqrt_loss": math.sqrt(max(loss, 0.0)),
            "rmse_ev": math.sqrt(max(loss, 0.0)) * scale,
            "losses": [float(v) for v in final],
            "iterations": iterations,
            "cancelled": cancelled,
            "seconds": round(time.perf_counter() - start, 3),
            **{f"config_{k}": v for k, v in asdict(config).items()},
        },
        metrics={
            "pruning_loss": loss,
            "pruning_sqrt_loss": math.sqrt(max(loss, 0.0)),
            "pruning_rmse_ev": math.sqrt(max(loss, 0.0)) * scale,
        },
    )
    return PruneResult(
        model=small,
        loss=loss,
        losses=[float(v) for v in final],
        iterations=iterations,
        cancelled=cancelled,
        seconds=time.perf_counter() - start,
        history=history,
    )
