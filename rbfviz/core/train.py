"""Minibatch training of an RBFN with the paper's recipe (§2.2, §3).

Adam, batch size 64, weight decay 1e-5 on every real-valued parameter (log γ included), the
summed squared error of a minibatch as the loss (as the paper's code does), learning rate 1e-2
multiplied by 0.1 when ten epochs in a row bring no improvement of the validation MSE, ten epochs
of cool-down after each reduction, and a stop when the rate falls below 1e-4.  The parameters
with the best validation MSE are kept (early stopping).

The data live on the device as tensors and a minibatch is an index slice of a shuffled
permutation: no per-sample DataLoader.

Run from the command line::

    rbfviz train --surface 100 --n 110000 --centroids 1024 --out net.safetensors

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.uniform(-1, 1, (200, 2)); y = np.exp(-(X**2).sum(1))
>>> result = train(X[:150], y[:150], X[150:], y[150:], 8, TrainConfig(max_epochs=3))
>>> len(result.history), result.model.num_centroids
(3, 8)
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from rbfviz.core.model import RBFN, batch_squared_error_and_grads


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run; the defaults are the paper's (§3)."""

    learning_rate: float = 1e-2  # initial Adam step size
    batch_size: int = 64  # minibatch size
    weight_decay: float = 1e-5  # L2 on α, β, Θ and log γ
    lr_factor: float = 0.1  # multiplier at each plateau
    patience: int = 10  # epochs without validation improvement before a reduction
    cooldown: int = 10  # epochs after a reduction before monitoring resumes
    min_lr: float = 1e-4  # stop once the rate falls below this
    max_epochs: int | None = None  # hard cap; None lets the schedule decide
    device: str = "auto"  # "auto" (CUDA when present), "cpu" or "cuda"
    seed: int = 0  # initialisation and shuffling
    eval_batch_size: int = 16384  # validation batch (only affects speed and memory)
    standardize_targets: bool = True  # train on (y − mean)/std; the model keeps mean and std
    compile: bool = False  # fuse the training step with torch.compile: ~10-20 s once, then
    #                        ~1.3x faster steps on the CPU; for runs of minutes, not for tiny ones

    def __post_init__(self):
        checks = [
            ("learning_rate", self.learning_rate > 0),
            ("batch_size", self.batch_size >= 1),
            ("weight_decay", self.weight_decay >= 0),
            ("lr_factor", 0 < self.lr_factor < 1),
            ("patience", self.patience >= 0),
            ("cooldown", self.cooldown >= 0),
            ("min_lr", self.min_lr > 0),
            ("max_epochs", self.max_epochs is None or self.max_epochs >= 1),
            ("device", self.device in ("auto", "cpu", "cuda") or str(self.device).startswith("cuda:")),
        ]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"TrainConfig.{name} is out of range; got {getattr(self, name)!r}")


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; a request for CUDA without it is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but torch.cuda.is_available() is False")
    return torch.device(device)


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


# --------------------------------------------------------------------------- the optimiser
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


class FlatAdam:
    """Adam with L2 weight decay (the update of ``torch.optim.Adam(weight_decay=...)``) on a few
    parameters kept as views of one flat buffer, so a step is a handful of vector operations
    (one fused loop with ``compile=True``).

    At batch 64 the bookkeeping of ``torch.optim.Optimizer.step`` costs ten times the arithmetic
    of the step itself; this is the whole update and nothing else.
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
    def step(self, grads) -> None:
        """One update from gradients in the order of the parameters."""
        g = torch.cat([gr.reshape(-1) for gr in grads])  # (P,)
        b1, b2 = self.betas
        self.t += 1
        self._lr_over_bc1.fill_(self.lr / (1 - b1**self.t))
        self._inv_sqrt_bc2.fill_(1 / math.sqrt(1 - b2**self.t))
        self._update(
            self.flat,
            self.exp_avg,
            self.exp_avg_sq,
            g,
            self._lr_over_bc1,
            self._inv_sqrt_bc2,
            self.weight_decay,
            b1,
            b2,
            self.eps,
        )


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class EpochStats:
    """What the progress callback receives after every epoch (MSEs in standardised units)."""

    epoch: int
    train_mse: float
    val_mse: float
    lr: float
    elapsed: float  # seconds since the start of training
    improved: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    """The best network (by validation MSE) and the run's record."""

    model: RBFN
    history: list[EpochStats] = field(default_factory=list)
    best_epoch: int = -1
    best_val_mse: float = float("inf")
    cancelled: bool = False
    device: str = "cpu"
    seconds: float = 0.0


# --------------------------------------------------------------------------- helpers
def _as_tensor(a, name: str, ndim: int, device, dtype=torch.float32) -> torch.Tensor:
    t = a.detach() if torch.is_tensor(a) else torch.from_numpy(np.array(a, dtype=np.float64))
    if t.dim() != ndim:
        want = "(N, D)" if ndim == 2 else "(N,)"
        raise ValueError(f"`{name}` must have shape {want}; got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"`{name}` contains NaN or infinite values")
    return t.to(device=device, dtype=dtype)


def _is_cancelled(cancel) -> bool:
    if cancel is None:
        return False
    return bool(cancel.is_set() if hasattr(cancel, "is_set") else cancel())


@torch.no_grad()
def mean_squared_error(model: RBFN, X: torch.Tensor, y: torch.Tensor, batch_size: int = 16384) -> float:
    """MSE of ``model`` on (X, y) in the model's own (standardised) units."""
    total = 0.0
    for i in range(0, len(X), batch_size):
        total += float(((model(X[i : i + batch_size]) - y[i : i + batch_size]) ** 2).sum())
    return total / max(len(X), 1)


# --------------------------------------------------------------------------- the loop
def _compiled_step(params, X, y):
    """``batch_squared_error_and_grads`` compiled for one batch shape, or the eager function if
    compiling fails here (no compiler, unsupported platform): the run goes on either way."""
    try:
        compiled = torch.compile(batch_squared_error_and_grads, dynamic=False)
        with torch.no_grad():
            compiled(X, y, *params)  # compile now, not inside the first epoch's timing
        return compiled
    except Exception as exc:
        warnings.warn(f"torch.compile failed ({type(exc).__name__}: {exc}); training eagerly", stacklevel=2)
        return batch_squared_error_and_grads


def train(
    X_train, y_train, X_val, y_val, num_centroids: int, config: TrainConfig | None = None, progress=None, cancel=None
) -> TrainResult:
    """Train an RBFN with ``num_centroids`` centroids by the paper's recipe.

    Parameters
    ----------
    X_train, y_train, X_val, y_val : array-like or torch.Tensor
        Inputs of shape (N, D) and targets of shape (N,) in physical units; the targets are
        standardised with the training mean and standard deviation, which the model keeps.
    num_centroids : int
    config : TrainConfig, default=TrainConfig()
    progress : callable(EpochStats) or None
        Called after every epoch, from the calling thread.
    cancel : threading.Event or callable() -> bool or None
        Checked between minibatches; the run then stops within one epoch and returns the best
        network so far (``result.cancelled`` is True).

    Returns
    -------
    TrainResult
    """
    config = config or TrainConfig()
    device = resolve_device(config.device)
    Xt = _as_tensor(X_train, "X_train", 2, device)
    Xv = _as_tensor(X_val, "X_val", 2, device)
    if Xt.shape[1] != Xv.shape[1]:
        raise ValueError(f"X_train has {Xt.shape[1]} columns but X_val has {Xv.shape[1]}")
    yt64 = _as_tensor(y_train, "y_train", 1, device, torch.float64)
    yv64 = _as_tensor(y_val, "y_val", 1, device, torch.float64)
    for xn, yn, X, y in (("X_train", "y_train", Xt, yt64), ("X_val", "y_val", Xv, yv64)):
        if len(X) != len(y):
            raise ValueError(f"`{xn}` has {len(X)} rows but `{yn}` has {len(y)}")
        if len(X) == 0:
            raise ValueError(f"`{xn}` is empty")
    # standardise with the training statistics (population std, as numpy)
    mean = float(yt64.mean())
    scale = float(yt64.std(unbiased=False)) if len(yt64) > 1 else 1.0
    scale = scale if scale > 0 else 1.0
    if not config.standardize_targets:
        mean, scale = 0.0, 1.0
    yt = ((yt64 - mean) / scale).float()
    yv = ((yv64 - mean) / scale).float()

    torch.manual_seed(config.seed)
    model = RBFN(Xt.shape[1], num_centroids, seed=config.seed).to(device)
    model.metadata.update(target_mean=mean, target_scale=scale)
    params = [model.bias, model.weights, model.centroids, model.log_gamma]
    optimizer = FlatAdam(params, lr=config.learning_rate, weight_decay=config.weight_decay, compile=config.compile)
    step = (
        _compiled_step(params, Xt[: config.batch_size], yt[: config.batch_size])
        if config.compile
        else batch_squared_error_and_grads
    )
    schedule = PlateauSchedule(
        lr=config.learning_rate,
        factor=config.lr_factor,
        patience=config.patience,
        cooldown=config.cooldown,
        min_lr=config.min_lr,
    )
    shuffle_gen = torch.Generator(device="cpu").manual_seed(config.seed)
    result = TrainResult(model=model, device=str(device))
    best_state = copy.deepcopy(model.state_dict())
    n, bs = len(Xt), config.batch_size
    start = time.perf_counter()
    epoch = 0
    while not schedule.finished and (config.max_epochs is None or epoch < config.max_epochs):
        # -- one pass over a shuffled permutation
        perm = torch.randperm(n, generator=shuffle_gen).to(device)
        X_epoch, y_epoch = Xt[perm], yt[perm]  # one gather; each minibatch is then a slice view
        model.train()
        sse = torch.zeros((), device=device)
        with torch.no_grad():  # the gradients are analytic: no autograd graph
            for i in range(0, n, bs):
                if _is_cancelled(cancel):
                    result.cancelled = True
                    break
                # summed squared error, as the paper's code; gradients analytically (eq. 2)
                Xb, yb = X_epoch[i : i + bs], y_epoch[i : i + bs]
                fn = step if len(Xb) == bs else batch_squared_error_and_grads  # one compiled shape
                loss, grads = fn(Xb, yb, *params)
                optimizer.step(grads)
                sse += loss
        if result.cancelled:
            break
        # -- validate, schedule, keep the best
        model.eval()
        train_mse = float(sse) / n
        val_mse = mean_squared_error(model, Xv, yv, config.eval_batch_size)
        lr_used = schedule.lr
        improved = schedule.step(val_mse)
        optimizer.lr = schedule.lr
        if improved:
            best_state = copy.deepcopy(model.state_dict())
            result.best_epoch, result.best_val_mse = epoch, val_mse
        stats = EpochStats(
            epoch=epoch,
            train_mse=train_mse,
            val_mse=val_mse,
            lr=lr_used,
            elapsed=time.perf_counter() - start,
            improved=improved,
        )
        result.history.append(stats)
        if progress is not None:
            progress(stats)
        epoch += 1

    with torch.no_grad():
        for p in params:  # own storage again, no longer views of the optimiser's buffer
            p.data = p.data.clone()
    model.load_state_dict(best_state)
    model.eval()
    result.seconds = time.perf_counter() - start
    model.metadata.update(
        kind="trained",
        train={
            **asdict(config),
            "device": str(device),
            "epochs": len(result.history),
            "best_epoch": result.best_epoch,
            "cancelled": result.cancelled,
            "seconds": round(result.seconds, 3),
            "n_train": n,
            "n_val": len(Xv),
        },
        metrics={
            "val_mse": result.best_val_mse,
            "val_rmse": float(np.sqrt(result.best_val_mse)) * scale if np.isfinite(result.best_val_mse) else None,
        },
    )
    return result


def train_dataset(
    dataset,
    num_centroids: int,
    config: TrainConfig | None = None,
    *,
    split_seed: int = 0,
    n_train: int = 100_000,
    n_val: int = 10_000,
    fractions=None,
    progress=None,
    cancel=None,
) -> TrainResult:
    """Split a :class:`rbfviz.datasets.Dataset` as the paper (or by ``fractions``), train, and
    record the test RMSE (eV) and the data's provenance in the model's metadata."""
    if fractions is None and len(dataset) < n_train + n_val + 1:
        fractions = (0.8, 0.1)
    train_set, val_set, test_set = dataset.split(n_train, n_val, fractions=fractions, seed=split_seed)
    result = train(
        train_set.X, train_set.y, val_set.X, val_set.y, num_centroids, config, progress=progress, cancel=cancel
    )
    model = result.model
    metrics = dict(model.metadata.get("metrics", {}))
    if len(test_set):
        pred = model.predict(test_set.X)
        metrics["test_rmse"] = float(np.sqrt(np.mean((pred - test_set.y) ** 2)))
        metrics["n_test"] = len(test_set)
    model.metadata.update(
        surface=dataset.surface,
        source=dataset.source,
        metrics=metrics,
        data={
            "split_seed": split_seed,
            "n_train": len(train_set),
            "n_val": len(val_set),
            "n_test": len(test_set),
            "occupation_frequencies": np.asarray(train_set.occupation_frequencies()).round(6).tolist(),
        },
    )
    return result
