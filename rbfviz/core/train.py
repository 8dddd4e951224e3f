"""Minibatch training of an RBFN with the paper's recipe (§2.2, §3).

Adam, batch size 64, weight decay 1e-5 on every real-valued parameter (log γ included), the
summed squared error of a minibatch as the loss (as the paper's code does), learning rate 1e-2
multiplied by 0.1 when ten epochs in a row bring no improvement of the validation MSE, ten epochs
of cool-down after each reduction, and a stop when the rate falls below 1e-4.  The parameters
with the best validation MSE are kept (early stopping).

An epoch is *graph-ready*: the data live on the device, the epoch's shuffle is one on-device
gather into static buffers, each minibatch is a fixed slice of them, Adam's step constants are
computed on the device, and validation and the keep-best copy run there too, so nothing waits
for the host inside an epoch.  On CUDA the whole epoch is captured once as a CUDA graph and
replayed (``TrainConfig.graph``); elsewhere the same code runs eagerly.  On the CPU a compiled
run (``TrainConfig.compile``) calls one compiled function for every ``FUSED_STEPS`` minibatch steps,
gradient and Adam update together (:func:`rbfviz.core.epoch.adam_steps`): the interpreter and the
dispatcher are paid once per call instead of once per operation.  :func:`train_many` trains R
networks at once as one batched problem.

Run from the command line::

    rbfviz train --surface 100 --n 110000 --centroids 1024 --out net.safetensors

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.uniform(-1, 1, (200, 2)); y = np.exp(-(X**2).sum(1))
>>> result = train(X[:150], y[:150], X[150:], y[150:], 8, TrainConfig(max_epochs=3))
>>> len(result.history), result.model.num_centroids, result.history[-1].fraction
(3, 8, 1.0)
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict

import numpy as np
import torch

from rbfviz.core.epoch import BatchedEpoch, GraphReadyEpoch, adam_steps, at_most_threads, tf32_matmul
from rbfviz.core.model import RBFN, batch_squared_error_and_grads, packed_index, resolve_device
from rbfviz.core.optim import FlatAdam, PlateauSchedule
from rbfviz.core.progress import cancel_requested
from rbfviz.core.training import (
    AUTO_COMPILE_ROW_EPOCHS,
    FUSED_STEP_THREADS,
    FUSED_STEPS,
    EpochStats,
    ManyEpochStats,
    TrainConfig,
    TrainResult,
)

__all__ = [
    "AUTO_COMPILE_ROW_EPOCHS",
    "EpochStats",
    "ManyEpochStats",
    "FlatAdam",
    "PlateauSchedule",
    "TrainConfig",
    "TrainResult",
    "mean_squared_error",
    "resolve_device",
    "train",
    "train_dataset",
    "train_many",
]


# --------------------------------------------------------------------------- helpers
def _as_tensor(a, name: str, ndim: int, device, dtype=torch.float32) -> torch.Tensor:
    t = a.detach() if torch.is_tensor(a) else torch.from_numpy(np.array(a, dtype=np.float64))
    if t.dim() != ndim:
        want = "(N, D)" if ndim == 2 else "(N,)"
        raise ValueError(f"`{name}` must have shape {want}; got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"`{name}` contains NaN or infinite values")
    return t.to(device=device, dtype=dtype)


@torch.no_grad()
def mean_squared_error(model: RBFN, X: torch.Tensor, y: torch.Tensor, batch_size: int = 16384) -> float:
    """MSE of ``model`` on (X, y) in the model's own (standardised) units."""
    total = 0.0
    for i in range(0, len(X), batch_size):
        total += float(((model(X[i : i + batch_size]) - y[i : i + batch_size]) ** 2).sum())
    return total / max(len(X), 1)


def _prepare(X_train, y_train, X_val, y_val, config: TrainConfig, device, suffix: str = ""):
    """Checked float32 tensors on ``device`` with the targets standardised; (Xt, yt, Xv, yv, mean, scale)."""
    Xt = _as_tensor(X_train, "X_train" + suffix, 2, device)
    Xv = _as_tensor(X_val, "X_val" + suffix, 2, device)
    if Xt.shape[1] != Xv.shape[1]:
        raise ValueError(f"X_train{suffix} has {Xt.shape[1]} columns but X_val{suffix} has {Xv.shape[1]}")
    yt64 = _as_tensor(y_train, "y_train" + suffix, 1, device, torch.float64)
    yv64 = _as_tensor(y_val, "y_val" + suffix, 1, device, torch.float64)
    for xn, yn, X, y in (("X_train", "y_train", Xt, yt64), ("X_val", "y_val", Xv, yv64)):
        if len(X) != len(y):
            raise ValueError(f"`{xn}{suffix}` has {len(X)} rows but `{yn}{suffix}` has {len(y)}")
        if len(X) == 0:
            raise ValueError(f"`{xn}{suffix}` is empty")
    # standardise with the training statistics (population std, as numpy)
    mean = float(yt64.mean())
    scale = float(yt64.std(unbiased=False)) if len(yt64) > 1 else 1.0
    scale = scale if scale > 0 else 1.0
    if not config.standardize_targets:
        mean, scale = 0.0, 1.0
    return Xt, ((yt64 - mean) / scale).float(), Xv, ((yv64 - mean) / scale).float(), mean, scale


def compiled_step(X, y, params, explicit: bool):
    """``batch_squared_error_and_grads`` compiled for one batch shape, or the eager function if
    compiling fails here (no compiler, unsupported platform): the run goes on either way."""
    try:
        compiled = torch.compile(batch_squared_error_and_grads, dynamic=False)
        with torch.no_grad():
            compiled(X, y, *params)  # compile now, not inside the first epoch's timing
        return compiled, True
    except Exception as exc:
        if explicit:
            warnings.warn(f"torch.compile failed ({type(exc).__name__}: {exc}); training eagerly", stacklevel=3)
        return batch_squared_error_and_grads, False


_RECOMPILE_LIMIT = 64  # sizes of network compiled in one process before training eagerly


def compiled_adam_steps(optimizer: FlatAdam, X, y, chunk: int, explicit: bool):
    """:func:`rbfviz.core.epoch.adam_steps` compiled for ``chunk`` steps of ``len(X) // chunk``
    rows a call (compiled now, on copies of the optimiser's state, not inside the first epoch's
    timing), or None if compiling fails here: the run goes on eagerly either way."""
    try:
        # fullgraph: one graph or an error (then eager), never a silent fall-back to eager pieces
        compiled = torch.compile(adam_steps, dynamic=False, fullgraph=True)
        pack = packed_index(optimizer.params[1].numel(), X.shape[1], X.device)
        state = [t[pack] for t in optimizer.state()]  # copies: the warm-up's steps are thrown away
        ones = torch.ones(chunk, dtype=X.dtype, device=X.device)
        sse = torch.zeros((), dtype=X.dtype, device=X.device)
        hyper = (optimizer.weight_decay, *optimizer.betas, optimizer.eps)
        # every (K, D, batch size, chunk) compiles once per process (later runs reuse it); dynamo's
        # default limit of 8 such graphs per function would end compiling after 8 sizes of a sweep
        limit = max(_RECOMPILE_LIMIT, torch._dynamo.config.recompile_limit)
        threads = at_most_threads(FUSED_STEP_THREADS)  # compiled for the threads it will run on
        with torch.no_grad(), torch._dynamo.config.patch(recompile_limit=limit), threads:
            compiled(*state, X.view(chunk, -1, X.shape[1]), y.view(chunk, -1), ones * 1e-3, ones, sse, *hyper)
        return compiled
    except Exception as exc:
        if explicit:
            warnings.warn(f"torch.compile failed ({type(exc).__name__}: {exc}); training eagerly", stacklevel=3)
        return None


def _use_graph(config: TrainConfig, device: torch.device) -> bool:
    if config.graph == "auto":
        return device.type == "cuda"
    if config.graph and device.type != "cuda":
        return False  # the graph path falls back to eager off CUDA
    return bool(config.graph)


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
        Called after every epoch, from the calling thread (``rbfviz.core.progress`` protocol).
    cancel : threading.Event or None
        Anything with ``is_set()``; tested every epoch (and every 256 minibatches when the epoch
        runs eagerly).  The run then stops within one epoch and returns the best network so far
        (``result.cancelled`` is True).

    Returns
    -------
    TrainResult
    """
    config = config or TrainConfig()
    device = resolve_device(config.device)
    Xt, yt, Xv, yv, mean, scale = _prepare(X_train, y_train, X_val, y_val, config, device)
    torch.manual_seed(config.seed)
    model = RBFN(Xt.shape[1], num_centroids, seed=config.seed, device=device)
    model.metadata.update(target_mean=mean, target_scale=scale)
    params = [model.bias, model.weights, model.centroids, model.log_gamma]
    result = TrainResult(model=model, device=str(device))
    n, bs = len(Xt), config.batch_size
    start = time.perf_counter()
    with tf32_matmul(config.tf32, device):
        want_compile = config.should_compile(n) and n >= bs
        step, fused, chunk = batch_squared_error_and_grads, None, min(FUSED_STEPS, n // bs)
        compile_start = time.perf_counter()
        if want_compile and device.type == "cpu":  # the gradient and Adam, `chunk` steps a compiled call
            optimizer = FlatAdam(params, lr=config.learning_rate, weight_decay=config.weight_decay)
            fused = compiled_adam_steps(optimizer, Xt[: chunk * bs], yt[: chunk * bs], chunk, config.compile is True)
            result.compiled = fused is not None
        else:  # eager, or on CUDA the step and Adam compiled apart (inside the captured graph)
            if want_compile:
                step, result.compiled = compiled_step(Xt[:bs], yt[:bs], params, config.compile is True)
            optimizer = FlatAdam(
                params, lr=config.learning_rate, weight_decay=config.weight_decay, compile=result.compiled
            )
        result.compile_seconds = time.perf_counter() - compile_start if want_compile else 0.0
        epoch_loop = GraphReadyEpoch(
            params,
            optimizer,
            Xt,
            yt,
            Xv,
            yv,
            step,
            device,
            config.batch_size,
            config.eval_batch_size,
            config.seed,
            fused=fused,
            chunk=chunk,
            step_threads=FUSED_STEP_THREADS,
        )
        schedule = config.schedule()
        epoch = 0
        while not schedule.finished and (config.max_epochs is None or epoch < config.max_epochs):
            if cancel_requested(cancel):
                result.cancelled = True
                break
            if _use_graph(config, device) and epoch_loop.graph is None:
                try:
                    epoch_loop.capture()
                    result.graph = True
                except Exception as exc:  # e.g. an operation that cannot be captured here
                    warnings.warn(
                        f"CUDA graph capture failed ({type(exc).__name__}: {exc}); eager epochs", stacklevel=2
                    )
                    config = TrainConfig(**{**asdict(config), "graph": False})
            if not epoch_loop.run(schedule.lr, cancel):
                result.cancelled = True
                break
            sse, val_mse = epoch_loop.read()  # the epoch's one host synchronisation
            lr_used = schedule.lr
            improved = schedule.step(val_mse)
            if improved:
                result.best_epoch, result.best_val_mse = epoch, val_mse
            epoch += 1
            done = max(schedule.fraction, epoch / config.max_epochs if config.max_epochs else 0.0)
            stopping = schedule.finished or (config.max_epochs is not None and epoch >= config.max_epochs)
            stats = EpochStats(
                epoch=epoch - 1,
                train_mse=sse / n,
                val_mse=val_mse,
                lr=lr_used,
                elapsed=time.perf_counter() - start,
                improved=improved,
                fraction=1.0 if stopping else min(done, 0.999),
            )
            result.history.append(stats)
            if progress is not None:
                progress(stats)

        with torch.no_grad():
            optimizer.flat.copy_(epoch_loop.best_flat)  # the best epoch's parameters
            for p in params:  # own storage again, no longer views of the optimiser's buffer
                p.data = p.data.clone()
    model.eval()
    result.seconds = time.perf_counter() - start
    _record(model, config, device, result, n, len(Xv), scale)
    return result


def _record(model, config, device, result, n_train, n_val, scale):
    model.metadata.update(
        kind="trained",
        train={
            **asdict(config),
            "device": str(device),
            "compiled": result.compiled,
            "graph_captured": result.graph,
            "epochs": len(result.history),
            "best_epoch": result.best_epoch,
            "cancelled": result.cancelled,
            "seconds": round(result.seconds, 3),
            "n_train": n_train,
            "n_val": n_val,
        },
        metrics={
            "val_mse": result.best_val_mse,
            "val_rmse": float(np.sqrt(result.best_val_mse)) * scale if np.isfinite(result.best_val_mse) else None,
        },
    )


# --------------------------------------------------------------------------- many networks at once
def train_many(
    datasets, num_centroids: int, config: TrainConfig | None = None, *, seeds=None, progress=None, cancel=None
) -> list[TrainResult]:
    """Train R networks with the same K and D together, as one batched problem.

    Every network keeps its own data, initialisation, shuffle, Adam state, plateau schedule,
    early stopping and stop; the minibatch steps of all of them run as batched matrix products
    (one stream of operations for R networks).  Network r's result equals
    ``train(*datasets[r], num_centroids, replace(config, seed=seeds[r]))`` up to float32
    rounding (the batched products sum in another order).

    Parameters
    ----------
    datasets : list of (X_train, y_train, X_val, y_val)
        Arrays or tensors, as :func:`train` takes them; the sizes may differ, D may not.
    num_centroids : int
    config : TrainConfig, default=TrainConfig()
        Shared by all networks (``graph``: on CUDA each epoch is a captured graph, re-captured when
        a network stops; ``compile`` does not apply, the batched step is not compiled).
    seeds : list of int, optional
        One per network (initialisation and shuffling); default ``config.seed`` for every one.
    progress : callable(ManyEpochStats) or None
    cancel : threading.Event or None
        Stops every network within one epoch; each returns its best so far (``cancelled``).

    Returns
    -------
    list of TrainResult, in the order of ``datasets``.
    """
    config = config or TrainConfig()
    datasets = list(datasets)
    R = len(datasets)
    if R == 0:
        raise ValueError("`datasets` is empty")
    seeds = [config.seed] * R if seeds is None else [int(s) for s in seeds]
    if len(seeds) != R:
        raise ValueError(f"`seeds` has {len(seeds)} entries but `datasets` has {R}")
    device = resolve_device(config.device)
    prepared = []
    for r, data in enumerate(datasets):
        if len(data) != 4:
            raise ValueError(f"`datasets[{r}]` must be (X_train, y_train, X_val, y_val); got {len(data)} items")
        prepared.append(_prepare(*data, config, device, suffix=f"[{r}]"))
    D = prepared[0][0].shape[1]
    for r, p in enumerate(prepared):
        if p[0].shape[1] != D:
            raise ValueError(f"datasets[{r}] has {p[0].shape[1]} input columns but datasets[0] has {D}")
    models = []
    for (_, _, _, _, mean, scale), seed in zip(prepared, seeds):
        model = RBFN(D, num_centroids, seed=seed, device=device)
        model.metadata.update(target_mean=mean, target_scale=scale)
        models.append(model)
    results = [TrainResult(model=m, device=str(device)) for m in models]
    n, n_val = [len(p[0]) for p in prepared], [len(p[2]) for p in prepared]
    loop = BatchedEpoch(
        models,
        prepared,
        seeds,
        config.batch_size,
        config.eval_batch_size,
        config.weight_decay,
        device,
        use_graph=_use_graph(config, device),
    )
    schedules = [config.schedule() for _ in range(R)]
    running = [True] * R
    start = time.perf_counter()
    epoch = 0
    with torch.no_grad():
        while any(running):
            if cancel_requested(cancel):
                for r in range(R):
                    results[r].cancelled = running[r]
                break
            host_sse, host_val = loop.run(running, [sch.lr for sch in schedules], [sch.best for sch in schedules])
            now = time.perf_counter() - start
            per_net = []
            for r in range(R):
                if not running[r]:
                    per_net.append(None)
                    continue
                s = schedules[r]
                lr_used = s.lr
                improved = s.step(host_val[r])
                if improved:
                    results[r].best_epoch, results[r].best_val_mse = epoch, host_val[r]
                done = max(s.fraction, (epoch + 1) / config.max_epochs if config.max_epochs else 0.0)
                running[r] = not s.finished and (config.max_epochs is None or epoch + 1 < config.max_epochs)
                stats = EpochStats(
                    epoch,
                    host_sse[r] / n[r],
                    host_val[r],
                    lr_used,
                    now,
                    improved,
                    1.0 if not running[r] else min(done, 0.999),
                )
                results[r].history.append(stats)
                per_net.append(stats)
            epoch += 1
            if progress is not None:
                fractions = [res.history[-1].fraction if res.history else 0.0 for res in results]
                progress(ManyEpochStats(epoch - 1, tuple(per_net), sum(running), now, sum(fractions) / R))
        seconds = time.perf_counter() - start
        for r, (model, result) in enumerate(zip(models, results)):
            loop.load_best(r, model)
            model.eval()
            result.seconds = seconds
            _record(
                model,
                TrainConfig(**{**asdict(config), "seed": seeds[r]}),
                device,
                result,
                n[r],
                n_val[r],
                prepared[r][5],
            )
            model.metadata["train"]["networks_together"] = R
    return results


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
