"""Pruning a large RBFN f_K into a small one f_M (paper §2.3, eq. 4-5).

The objective, eq. (5) evaluated in float64, is :class:`rbfviz.core.objective.PruningObjective`;
the optimisers (batched L-BFGS by default, the paper's Adam schedule) are :mod:`rbfviz.core.optim`.

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

from rbfviz.core.expectations import Distribution
from rbfviz.core.model import RBFN, resolve_device
from rbfviz.core.objective import PruningObjective, constant_terms, network_params, pruning_loss
from rbfviz.core.optim import BatchedAdam, LBFGSSettings, PlateauSchedule, lbfgs
from rbfviz.core.progress import cancel_requested
from rbfviz.core.store import content_hash

__all__ = ["PruneConfig", "PruneProgress", "PruneResult", "PruningObjective", "constant_terms", "prune", "pruning_loss"]


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
    graph: bool = True  # CUDA, batched line search: replay one captured L-BFGS iteration (eager fallback)

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


# --------------------------------------------------------------------------- optimisers
def _initial_params(large: RBFN, num_centroids: int, restarts: int, seed: int, device):
    """Each restart: ``num_centroids`` centroids of ``large`` sampled without replacement."""
    gen = torch.Generator(device="cpu").manual_seed(seed)  # the same draws on every device
    a, b, Z, k = (t.detach() for t in network_params(large, device))
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
        graph=config.graph,
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
    scale = large.target_scale
    small.metadata.update(
        kind="pruned",
        surface=large.metadata.get("surface"),
        source=large.metadata.get("source"),
        target_mean=large.target_mean,
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
