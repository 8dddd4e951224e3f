"""The optimisers of training and pruning: the plateau schedule, Adam, and a batched L-BFGS.

* :class:`PlateauSchedule` is the paper's learning-rate schedule (§3): ×0.1 after ten epochs
  without improvement of the validation MSE, ten epochs of cool-down, stop below 1e-4.
* :class:`FlatAdam` is ``torch.optim.Adam(weight_decay=...)`` on one flat buffer (training).
* :class:`BatchedAdam` is Adam on R independent problems with one rate each (pruning, §2.3).
* :func:`lbfgs` minimises R independent smooth objectives at once (pruning's default): one
  curvature history, step length and stopping test per problem, one evaluation for all.

Examples
--------
>>> s = PlateauSchedule(lr=1e-2, patience=0, cooldown=0)
>>> s.fraction, [s.step(v) for v in (1.0, 1.0, 1.0)], s.fraction
(0.0, [True, False, False], 0.6666666666666666)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch


# --------------------------------------------------------------------------- the schedule
@dataclass
class PlateauSchedule:
    """Reduce-on-plateau with cool-down, as PyTorch's ``ReduceLROnPlateau(threshold=0)``.

    ``step(value)`` returns True when ``value`` is a new best.  After more than ``patience``
    non-improving steps the rate is multiplied by ``factor``; the next ``cooldown`` steps do not
    count.  ``finished`` turns True once the rate is below ``min_lr``.

    Examples
    --------
    >>> s = PlateauSchedule(lr=1.0, factor=0.1, patience=1, cooldown=0, min_lr=0.05)
    >>> [s.step(v) for v in (3, 2, 2, 2)], s.lr
    ([True, True, False, False], 0.1)
    """

    lr: float
    factor: float = 0.1
    patience: int = 10
    cooldown: int = 10
    min_lr: float = 1e-4
    best: float = float("inf")
    num_bad: int = 0
    cooldown_left: int = 0
    reductions: int = 0

    def step(self, value: float) -> bool:
        improved = value < self.best  # threshold 0, absolute
        if improved:
            self.best, self.num_bad = value, 0
        else:
            self.num_bad += 1
        if self.cooldown_left > 0:  # 1. cool-down: bad steps are not counted
            self.cooldown_left -= 1
            self.num_bad = 0
        if self.num_bad > self.patience:  # 2. plateau: reduce
            self.lr *= self.factor
            self.reductions += 1
            self.cooldown_left, self.num_bad = self.cooldown, 0
        return improved

    @property
    def finished(self) -> bool:
        return self.lr < self.min_lr * (1 - 1e-9)  # 3. stop below the floor (rounding-safe)

    @property
    def reductions_needed(self) -> int:
        """How many reductions in all take the initial rate below ``min_lr`` (≥ 1)."""
        initial = self.lr / self.factor**self.reductions
        if initial < self.min_lr * (1 - 1e-9):
            return 1
        return max(1, math.floor(math.log(initial / self.min_lr) / -math.log(self.factor) + 1e-9) + 1)

    @property
    def fraction(self) -> float:
        """A best-effort estimate of the schedule's progress in [0, 1]: the reductions done plus
        the current plateau's share (bad steps over ``patience + 1``), over the reductions needed."""
        if self.finished:
            return 1.0
        partial = 0.0 if self.cooldown_left > 0 else min(self.num_bad / (self.patience + 1), 1.0)
        return min((self.reductions + partial) / self.reductions_needed, 0.999)


# --------------------------------------------------------------------------- Adam
def _adam_update(
    flat,
    exp_avg,
    exp_avg_sq,
    grad,
    lr_over_bc1,
    inv_sqrt_bc2,
    weight_decay: float,
    beta1: float,
    beta2: float,
    eps: float,
) -> None:
    """One Adam update in place (L2 weight decay as in ``torch.optim.Adam``).  The rate and the
    bias corrections come as 0-d tensors, so a compiled version does not recompile as they change."""
    grad = grad + weight_decay * flat
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    flat.sub_(lr_over_bc1 * exp_avg / (exp_avg_sq.sqrt() * inv_sqrt_bc2 + eps))


def adam_step_constants(lr, t, beta1: float = 0.9, beta2: float = 0.999):
    """(lr / (1 − β1^t), 1 / √(1 − β2^t)) of Adam's step ``t`` (≥ 1); ``lr`` and ``t`` may be
    tensors (then computed on their device in float64, with no host synchronisation)."""
    if torch.is_tensor(t):
        t = t.double()
        return lr / (1 - torch.pow(beta1, t)), torch.rsqrt(1 - torch.pow(beta2, t))
    return lr / (1 - beta1**t), 1 / math.sqrt(1 - beta2**t)


class FlatAdam:
    """Adam with L2 weight decay (the update of ``torch.optim.Adam(weight_decay=...)``) on a few
    parameters kept as views of one flat buffer, so a step is a handful of vector operations
    (one fused loop with ``compile=True``).

    At batch 64 the bookkeeping of ``torch.optim.Optimizer.step`` costs ten times the arithmetic
    of the step itself; this is the whole update and nothing else.  :meth:`update` takes the
    step's constants as device tensors, for loops that must not touch the host (CUDA graphs).
    """

    def __init__(
        self, params, lr: float, weight_decay: float = 0.0, betas=(0.9, 0.999), eps: float = 1e-8, compile: bool = False
    ):
        params = list(params)
        with torch.no_grad():
            self.flat = torch.cat([p.detach().reshape(-1) for p in params])  # (P,)
            offset = 0
            for p in params:  # re-seat each parameter on its slice of the buffer
                n = p.numel()
                p.data = self.flat[offset : offset + n].view_as(p)
                offset += n
        self.params, self.lr, self.weight_decay = params, lr, weight_decay
        self.betas, self.eps, self.t = betas, eps, 0
        self.exp_avg = torch.zeros_like(self.flat)
        self.exp_avg_sq = torch.zeros_like(self.flat)
        self._lr_over_bc1 = torch.zeros((), dtype=self.flat.dtype, device=self.flat.device)
        self._inv_sqrt_bc2 = torch.zeros_like(self._lr_over_bc1)
        self._update = _adam_update
        if compile:
            try:
                self._update = torch.compile(_adam_update, dynamic=False)
            except Exception as exc:
                warnings.warn(f"torch.compile failed ({type(exc).__name__}: {exc}); Adam runs eagerly", stacklevel=2)

    @torch.no_grad()
    def update(self, grad_flat: torch.Tensor, lr_over_bc1: torch.Tensor, inv_sqrt_bc2: torch.Tensor) -> None:
        """One update from a flat gradient (P,) with the step's constants as 0-d tensors."""
        b1, b2 = self.betas
        self._update(
            self.flat,
            self.exp_avg,
            self.exp_avg_sq,
            grad_flat,
            lr_over_bc1,
            inv_sqrt_bc2,
            self.weight_decay,
            b1,
            b2,
            self.eps,
        )

    @torch.no_grad()
    def update_with(self, grad_flat: torch.Tensor, lr_over_bc1: torch.Tensor, inv_sqrt_bc2: torch.Tensor) -> None:
        """:meth:`update` with the constants copied into this optimiser's own 0-d tensors first, so
        that a compiled update always sees the same inputs (e.g. entries of a per-step vector)."""
        self._lr_over_bc1.copy_(lr_over_bc1)
        self._inv_sqrt_bc2.copy_(inv_sqrt_bc2)
        self.update(grad_flat, self._lr_over_bc1, self._inv_sqrt_bc2)

    @torch.no_grad()
    def step(self, grads) -> None:
        """One update from gradients in the order of the parameters."""
        g = torch.cat([gr.reshape(-1) for gr in grads])  # (P,)
        self.t += 1
        c1, c2 = adam_step_constants(self.lr, self.t, *self.betas)
        self._lr_over_bc1.fill_(c1)
        self._inv_sqrt_bc2.fill_(c2)
        self.update(g, self._lr_over_bc1, self._inv_sqrt_bc2)

    def state(self) -> tuple[torch.Tensor, ...]:
        """The tensors a step changes (parameters, both moments), e.g. to save and restore them."""
        return self.flat, self.exp_avg, self.exp_avg_sq


class BatchedAdam:
    """Adam on tensors with a leading problem dimension R and one learning rate per problem.

    ``step(active)`` moves only the problems whose ``active`` entry is 1 (a float (R,) tensor).
    """

    def __init__(self, params, lr: torch.Tensor, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    @torch.no_grad()
    def step(self, active: torch.Tensor):
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        for p, m, v in zip(self.params, self.m, self.v):
            shape = (-1,) + (1,) * (p.dim() - 1)
            m.mul_(b1).add_(p.grad, alpha=1 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            update = (m / c1) / ((v / c2).sqrt() + self.eps)
            p.sub_(update * (self.lr * active).view(shape))


# --------------------------------------------------------------------------- L-BFGS
@dataclass(frozen=True)
class LBFGSSettings:
    """Settings of :func:`lbfgs` (see :class:`rbfviz.core.prune.PruneConfig`)."""

    iterations: int = 1000
    history_size: int = 50
    tolerance: float = 1e-7  # a problem stops when its loss improved less than this (relative) ...
    stall_iterations: int = 10  # ... over the last this many iterations
    drop_after: int = 100  # from this iteration on, stop problems that are ...
    drop_factor: float = 1.5  # ... more than this many times worse than the best one
    scale: float = 1.0  # the size of the objective's values: sets the floor of a useful improvement
    line_search: str = "backtracking"  # or "batched": fixed trial steps, no host synchronisation
    trial_steps: tuple[float, ...] = (1.0, 0.5, 0.25, 0.1, 0.03, 0.01, 1e-3, 1e-4)  # "batched"
    check_every: int = 1  # test convergence, cancel and report progress every this many iterations
    graph: bool = True  # CUDA, batched search: replay one captured iteration once the history is full


@dataclass
class LBFGSState:
    """Where :func:`lbfgs` stopped: the points, their losses, the iterations run, the history."""

    x: torch.Tensor  # (R, P)
    f: torch.Tensor  # (R,)
    iterations: int
    cancelled: bool
    history: list[float]


def _two_loop(g, S, Y, rho, first_scale, filled: int):
    """The L-BFGS direction −H g by the two-loop recursion over the last ``filled`` entries of
    (H, R, P) histories (oldest first; rejected pairs are zeros with ρ = 0 and drop out), per problem."""
    S, Y, rho = S[S.shape[0] - filled :], Y[Y.shape[0] - filled :], rho[rho.shape[0] - filled :]
    if filled == 0:
        return -first_scale[:, None] * g, first_scale
    q = g.clone()
    alphas = []
    for i in range(S.shape[0] - 1, -1, -1):
        a_i = rho[i] * (S[i] * q).sum(1)  # (R,)
        q -= a_i[:, None] * Y[i]
        alphas.append(a_i)
    sy, yy = (S[-1] * Y[-1]).sum(1), (Y[-1] * Y[-1]).sum(1)
    h0 = torch.where((sy > 0) & (yy > 0), sy / yy.clamp_min(1e-300), first_scale)  # (R,)
    z = h0[:, None] * q
    for i in range(S.shape[0]):
        b_i = rho[i] * (Y[i] * z).sum(1)
        z += S[i] * (alphas[S.shape[0] - 1 - i] - b_i)[:, None]
    return -z, h0


def lbfgs(
    evaluate: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    x: torch.Tensor,
    settings: LBFGSSettings,
    *,
    report: Callable[[int, float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> LBFGSState:
    """Minimise R independent objectives with L-BFGS, batched.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(x (n, P)) -> (losses (n,), gradients (n, P))`` for any number n of rows.
    x : torch.Tensor
        Starting points (R, P), one row per problem.
    settings : LBFGSSettings
    report : callable(iteration, best_loss) or None
        Called at every convergence test (every ``check_every`` iterations).
    cancelled : callable() -> bool or None
        Tested at the same moments; stops the run.

    Notes
    -----
    Each problem keeps its own curvature pairs (a fixed-size (H, R, P) history: every iteration
    runs the same operations) and its own step.  ``line_search="backtracking"`` evaluates only the
    problems still searching, one Armijo trial after another (cheapest where synchronising with
    the device is free, on the CPU).  ``"batched"`` evaluates every trial step of
    ``trial_steps`` for every problem in one call and takes, per problem, the longest step that
    passes Armijo's test: no data-dependent control flow, so nothing waits for the device
    between convergence tests.
    """
    R, P = x.shape
    dev, dt = x.device, x.dtype
    H = max(1, settings.history_size)
    f, g = evaluate(x)
    st = _LBFGSBuffers(
        x=x.clone(),
        f=f.clone(),
        g=g.clone(),
        S=torch.zeros(H, R, P, dtype=dt, device=dev),
        Y=torch.zeros(H, R, P, dtype=dt, device=dev),
        rho=torch.zeros(H, R, dtype=dt, device=dev),
        active=torch.isfinite(f),
    )
    recent = [st.f.clone()]  # losses at the last convergence tests
    floor = 1e-9 * abs(settings.scale)  # improvements below this are rounding noise
    history, was_cancelled, it = [], False, 0
    steps = torch.tensor(settings.trial_steps, dtype=dt, device=dev)  # (T,)
    every = max(1, settings.check_every)
    graph = None
    use_graph = settings.graph and dev.type == "cuda" and settings.line_search == "batched"

    def iterate(first: bool, filled: int):
        _iteration(evaluate, st, settings, steps, first, filled)

    for it in range(settings.iterations):
        if it % every == 0:
            if not bool(st.active.any()):
                break
            if cancelled is not None and cancelled():
                was_cancelled = True
                break
        if use_graph and it >= H:  # from here on every iteration is the same: replay one captured
            if graph is None:
                graph = _capture(lambda: iterate(False, H), st, dev)
                use_graph = graph is not None
        if graph is not None:
            graph.replay()
        else:
            iterate(it == 0, min(it, H))
        if (it + 1) % every == 0 or it + 1 == settings.iterations:
            f = st.f
            recent = (recent + [f.clone()])[-(max(1, settings.stall_iterations // every) + 1) :]
            if (len(recent) - 1) * every >= settings.stall_iterations:
                st.active &= recent[0] - f > settings.tolerance * f.abs().clamp_min(floor)
            if it + 1 >= settings.drop_after:  # problems far behind the best cannot win
                finite = torch.where(torch.isfinite(f), f, torch.full_like(f, math.inf))
                st.active &= f <= settings.drop_factor * finite.min()
            best = float(f[torch.isfinite(f)].min()) if bool(torch.isfinite(f).any()) else math.inf
            history.extend([best] * (every if (it + 1) % every == 0 else (it + 1) % every))
            if report is not None:
                report(it, best)
    return LBFGSState(x=st.x, f=st.f, iterations=it + 1, cancelled=was_cancelled, history=history)


@dataclass
class _LBFGSBuffers:
    """The state of :func:`lbfgs`, updated in place (fixed addresses, as a CUDA graph needs)."""

    x: torch.Tensor  # (R, P)
    f: torch.Tensor  # (R,)
    g: torch.Tensor  # (R, P)
    S: torch.Tensor  # (H, R, P) steps, oldest first
    Y: torch.Tensor  # (H, R, P) gradient changes
    rho: torch.Tensor  # (H, R) 1 / sᵀy, 0 for rejected pairs
    active: torch.Tensor  # (R,) bool

    def tensors(self):
        return (self.x, self.f, self.g, self.S, self.Y, self.rho, self.active)


def _iteration(evaluate, st: _LBFGSBuffers, settings: LBFGSSettings, steps, first: bool, filled: int) -> None:
    """One L-BFGS iteration of every problem, in place."""
    x, f, g, active = st.x, st.f, st.g, st.active
    # -- search direction, per problem
    first_scale = torch.clamp(1.0 / g.abs().sum(1).clamp_min(1e-300), max=1.0) if first else torch.ones_like(f)
    d, h0 = _two_loop(g, st.S, st.Y, st.rho, first_scale, filled)
    slope = (g * d).sum(1)  # (R,)
    bad = ~(slope < 0)  # not a descent direction: steepest descent
    d = torch.where(bad[:, None], -g * h0[:, None], d)
    slope = (g * d).sum(1)
    c1 = 1e-4
    if settings.line_search == "batched":
        x_new, f_new, g_new, ok = _batched_search(evaluate, x, f, g, d, slope, active, steps, c1)
    else:
        x_new, f_new, g_new, ok = _backtracking(evaluate, x, f, g, d, slope, active, c1)
    failed = active & ~ok  # no decrease found: this problem has converged (or is stuck)
    # -- curvature pair, kept only where it is positive (a zero pair drops out)
    s_new, y_new = x_new - x, g_new - g
    sy = (s_new * y_new).sum(1)
    keep = sy > 1e-300
    r_new = torch.where(keep, 1.0 / sy.clamp_min(1e-300), torch.zeros_like(sy))
    for buf, new in ((st.S, s_new * keep[:, None]), (st.Y, y_new * keep[:, None]), (st.rho, r_new)):
        buf.copy_(torch.cat([buf[1:], new[None]]))  # drop the oldest, append the newest
    still = active & ~failed & (g_new.abs().amax(1) > 1e-12 * abs(settings.scale))
    x.copy_(x_new)
    f.copy_(f_new)
    g.copy_(g_new)
    active.copy_(still)


def _capture(body, st: _LBFGSBuffers, device):
    """``body`` (an in-place iteration) captured as a CUDA graph after a warm-up whose changes
    are undone; None (with a warning) where capturing fails."""
    saved = [t.clone() for t in st.tensors()]
    try:
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            body()
        torch.cuda.current_stream(device).wait_stream(stream)
        for t, v in zip(st.tensors(), saved):
            t.copy_(v)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            body()
        return graph
    except Exception as exc:
        for t, v in zip(st.tensors(), saved):
            t.copy_(v)
        warnings.warn(f"CUDA graph capture of L-BFGS failed ({type(exc).__name__}: {exc}); eager", stacklevel=3)
        return None


def _backtracking(evaluate, x, f, g, d, slope, active, c1):
    """Armijo backtracking for the active problems, evaluating only those still searching."""
    R = x.shape[0]
    t = active.to(x.dtype)  # (R,): 1 for the active problems, 0 (no step) for the others
    accepted = ~active
    x_new, f_new, g_new = x.clone(), f.clone(), g.clone()
    ok_all = torch.zeros(R, dtype=torch.bool, device=x.device)
    for _ in range(40):
        idx = torch.nonzero(~accepted).squeeze(1)  # only the problems still searching
        if idx.numel() == 0:
            break
        trial = x[idx] + t[idx, None] * d[idx]
        f_t, g_t = evaluate(trial)
        ok = torch.isfinite(f_t) & (f_t <= f[idx] + c1 * t[idx] * slope[idx])
        hit = idx[ok]
        x_new[hit], f_new[hit], g_new[hit] = trial[ok], f_t[ok], g_t[ok]
        accepted[hit] = True
        ok_all[hit] = True
        if bool(accepted.all()):
            break
        # backtrack to the minimiser of the quadratic through f, the slope and f_t, kept within
        # [0.1 t, 0.5 t] (plain halving where f_t is not finite)
        ti, si = t[idx], slope[idx]
        curv = (f_t - f[idx] - si * ti).clamp_min(1e-300)
        t_q = -si * ti * ti / (2 * curv)
        t_q = torch.where(torch.isfinite(t_q), t_q, 0.5 * ti)
        t[idx] = torch.where(ok, ti, torch.minimum(torch.maximum(t_q, 0.1 * ti), 0.5 * ti))
    return x_new, f_new, g_new, ok_all


def _batched_search(evaluate, x, f, g, d, slope, active, steps, c1):
    """Every trial step for every problem in one evaluation; per problem the longest step that
    passes Armijo's test (none: the problem stays where it is).  No host synchronisation."""
    R, P = x.shape
    T = steps.shape[0]
    trial = x[:, None, :] + steps[None, :, None] * d[:, None, :]  # (R, T, P)
    f_t, g_t = evaluate(trial.reshape(R * T, P))
    f_t, g_t = f_t.view(R, T), g_t.view(R, T, P)
    ok = torch.isfinite(f_t) & (f_t <= f[:, None] + c1 * steps[None, :] * slope[:, None])  # (R, T)
    ok &= active[:, None]
    # the first passing trial (steps are in decreasing order); argmax of a bool picks the first True
    pick = ok.to(f_t.dtype).argmax(1)  # (R,)
    found = ok.any(1)  # (R,)
    rows = torch.arange(R, device=x.device)
    x_new = torch.where(found[:, None], trial[rows, pick], x)
    f_new = torch.where(found, f_t[rows, pick], f)
    g_new = torch.where(found[:, None], g_t[rows, pick], g)
    return x_new, f_new, g_new, found
