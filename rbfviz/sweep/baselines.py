"""The paper's baselines (§3.2.1): gradient-boosted trees (XGBoost) and a deep network (an MLP).

Both stop early after ten rounds (XGBoost: trees; the MLP: epochs) without improvement of the
validation (early-stopping) error; XGBoost is capped at 10,000 trees.  The search spaces are the
paper's, :data:`XGB_SPACE` and :data:`MLP_SPACE`; :func:`random_config` samples one point, and a
sweep with ``search_rounds=N`` picks the best of N by validation MSE per cell.  By default each
baseline runs one fixed configuration (:class:`XGBConfig`, :class:`MLPConfig`) from the paper's
reported best region (256 nodes per layer, 6-9 layers).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.choice([-1.0, 1.0], (300, 6)); y = X[:, 0] - 0.5 * X[:, 1] * X[:, 2]
>>> fit = fit_mlp(X[:200], y[:200], X[200:250], y[200:250], MLPConfig(layers=3, nodes=32, max_epochs=5))
>>> fit.predict(X[250:]).shape
(50,)
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

# --------------------------------------------------------------------------- search spaces (paper §3.2.1)
XGB_SPACE = {
    "learning_rate": ("uniform", 0.01, 0.09),
    "subsample": [0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
    "colsample_bytree": [0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
    "max_depth": list(range(3, 16)),
    "min_child_weight": list(range(1, 11)),
    "reg_alpha": [0.0, 0.01, 0.1, 1.0, 10.0],
    "reg_lambda": [0.0, 0.01, 0.1, 1.0, 10.0],
    "gamma": [0.0, 0.01, 0.1, 1.0, 10.0],
}
MLP_SPACE = {
    "learning_rate": [1e-2, 1e-3, 1e-4],
    "batch_size": [32, 64, 128, 256],
    "weight_decay": [0.0] + [10.0**-k for k in range(1, 7)],
    "layers": list(range(3, 11)),
    "nodes": [32, 64, 128, 256],
    "activation": ["relu", "elu"],
}


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class XGBConfig:
    """XGBoost settings (``tree_method="hist"``); the defaults are one good point of XGB_SPACE."""

    learning_rate: float = 0.05
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    max_depth: int = 8
    min_child_weight: int = 1
    reg_alpha: float = 0.0
    reg_lambda: float = 1.0
    gamma: float = 0.0
    max_trees: int = 10_000  # the paper's cap
    early_stopping: int = 10  # rounds without validation improvement (the paper's)
    device: str = "auto"  # "auto": CUDA when torch sees it, else CPU
    n_jobs: int = 0  # 0: xgboost's default (all cores it is given)


@dataclass(frozen=True)
class MLPConfig:
    """A fully connected network trained with Adam on the MSE; the defaults are one good point of
    MLP_SPACE (256 nodes, as the paper's best networks; 6 layers)."""

    layers: int = 6  # hidden layers
    nodes: int = 256  # per hidden layer
    activation: str = "elu"  # "relu" or "elu"
    learning_rate: float = 1e-3
    batch_size: int = 128
    weight_decay: float = 1e-6  # L2
    early_stopping: int = 10  # epochs without validation improvement (the paper's)
    max_epochs: int | None = 300
    device: str = "auto"

    def __post_init__(self):
        if self.activation not in ("relu", "elu"):
            raise ValueError(f"MLPConfig.activation must be 'relu' or 'elu'; got {self.activation!r}")
        if self.layers < 1 or self.nodes < 1 or self.batch_size < 1:
            raise ValueError(f"MLPConfig: layers, nodes and batch_size must be positive; got {self}")


def random_config(kind: str, rng: np.random.Generator, base=None):
    """One random point of the paper's search space of ``kind`` ("xgboost" or "dnn")."""
    space, base = (XGB_SPACE, base or XGBConfig()) if kind == "xgboost" else (MLP_SPACE, base or MLPConfig())
    values = {}
    for name, choices in space.items():
        if isinstance(choices, tuple):  # ("uniform", low, high)
            values[name] = float(rng.uniform(choices[1], choices[2]))
        else:
            v = choices[int(rng.integers(len(choices)))]
            values[name] = v.item() if hasattr(v, "item") else v
    return replace(base, **values)


# --------------------------------------------------------------------------- results
@dataclass
class BaselineFit:
    """A fitted baseline: ``predict(X)`` in eV, the validation MSE (eV²) and what it used."""

    predict: object
    val_mse: float
    settings: dict
    size: int  # trees (XGBoost) or epochs (MLP) of the kept model
    device: str
    seconds: float
    serialize: object = None  # () -> bytes of the fitted model (XGBoost UBJSON, MLP safetensors)

    def to_bytes(self) -> bytes:
        return bytes(self.serialize())


def _device(name: str) -> str:
    return ("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name


# --------------------------------------------------------------------------- XGBoost
def fit_xgboost(X_train, y_train, X_val, y_val, config: XGBConfig | None = None, *, seed: int = 0) -> BaselineFit:
    """Gradient-boosted trees (``hist``), early-stopped on (X_val, y_val)."""
    import xgboost as xgb

    config = config or XGBConfig()
    device = _device(config.device)
    t0 = time.perf_counter()
    params = {
        "objective": "reg:squarederror",
        "eval_metric": "rmse",
        "tree_method": "hist",
        "device": device,
        "eta": config.learning_rate,
        "subsample": config.subsample,
        "colsample_bytree": config.colsample_bytree,
        "max_depth": config.max_depth,
        "min_child_weight": config.min_child_weight,
        "alpha": config.reg_alpha,
        "lambda": config.reg_lambda,
        "gamma": config.gamma,
        "seed": seed,
    }
    if config.n_jobs:
        params["nthread"] = config.n_jobs
    dtrain = xgb.DMatrix(np.asarray(X_train, dtype=np.float32), label=np.asarray(y_train, dtype=np.float64))
    dval = xgb.DMatrix(np.asarray(X_val, dtype=np.float32), label=np.asarray(y_val, dtype=np.float64))
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=config.max_trees,
        evals=[(dval, "val")],
        early_stopping_rounds=config.early_stopping,
        verbose_eval=False,
    )
    best = int(booster.best_iteration) + 1
    predict = lambda X: booster.predict(xgb.DMatrix(np.asarray(X, dtype=np.float32)), iteration_range=(0, best)).astype(
        np.float64
    )
    val_mse = float(np.mean((predict(X_val) - np.asarray(y_val, dtype=np.float64)) ** 2))
    serialize = lambda: booster.save_raw("ubj")
    return BaselineFit(predict, val_mse, asdict(config), best, device, time.perf_counter() - t0, serialize)


# --------------------------------------------------------------------------- the deep network
class MLP(torch.nn.Module):
    """``layers`` hidden layers of ``nodes`` units and ReLU or ELU, then one linear output."""

    def __init__(self, num_inputs: int, layers: int, nodes: int, activation: str):
        super().__init__()
        act = torch.nn.ReLU if activation == "relu" else torch.nn.ELU
        mods, width = [], num_inputs
        for _ in range(layers):
            mods += [torch.nn.Linear(width, nodes), act()]
            width = nodes
        mods.append(torch.nn.Linear(width, 1))
        self.net = torch.nn.Sequential(*mods)

    def forward(self, X: torch.Tensor) -> torch.Tensor:  # (N, D) -> (N,)
        return self.net(X).squeeze(-1)


def fit_mlp(
    X_train, y_train, X_val, y_val, config: MLPConfig | None = None, *, seed: int = 0, cancel=None
) -> BaselineFit:
    """An MLP trained with Adam (L2 as weight decay) on standardised targets, keeping the epoch
    with the best validation MSE and stopping after ``early_stopping`` epochs without one."""
    config = config or MLPConfig()
    device = torch.device(_device(config.device))
    t0 = time.perf_counter()
    f32 = lambda a: torch.tensor(np.asarray(a, dtype=np.float32), device=device)  # a copy: Dask arrays are read-only
    Xt, Xv = f32(X_train), f32(X_val)  # (N, D), (V, D)
    y64 = np.asarray(y_train, dtype=np.float64)
    mean, scale = float(y64.mean()), float(y64.std()) or 1.0
    yt, yv = f32((y64 - mean) / scale), f32((np.asarray(y_val, dtype=np.float64) - mean) / scale)  # (N,), (V,)
    torch.manual_seed(seed)
    net = MLP(Xt.shape[1], config.layers, config.nodes, config.activation).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    best, best_state, best_epoch, bad, epoch = float("inf"), copy.deepcopy(net.state_dict()), -1, 0, 0
    while (config.max_epochs is None or epoch < config.max_epochs) and bad < config.early_stopping:
        if cancel is not None and cancel.is_set():
            break
        perm = torch.randperm(len(Xt), generator=gen).to(device)
        net.train()
        for i in range(0, len(Xt), config.batch_size):
            idx = perm[i : i + config.batch_size]
            loss = torch.mean((net(Xt[idx]) - yt[idx]) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            val = float(torch.mean((net(Xv) - yv) ** 2))
        if val < best:
            best, best_state, best_epoch, bad = val, copy.deepcopy(net.state_dict()), epoch, 0
        else:
            bad += 1
        epoch += 1
    net.load_state_dict(best_state)
    net.eval()

    @torch.no_grad()
    def predict(X):
        out = torch.cat([net(f32(X)[i : i + 65536]) for i in range(0, len(X), 65536)]) if len(X) else torch.zeros(0)
        return out.double().cpu().numpy() * scale + mean

    def serialize():
        from safetensors.torch import save

        meta = {"settings": json.dumps(asdict(config)), "target_mean": repr(mean), "target_scale": repr(scale)}
        return save({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, metadata=meta)

    seconds = time.perf_counter() - t0
    return BaselineFit(predict, best * scale**2, asdict(config), best_epoch + 1, str(device), seconds, serialize)


def fit_baseline(kind: str, X_train, y_train, X_val, y_val, config, *, seed: int = 0, cancel=None) -> BaselineFit:
    """:func:`fit_xgboost` or :func:`fit_mlp` by name."""
    if kind == "xgboost":
        return fit_xgboost(X_train, y_train, X_val, y_val, config, seed=seed)
    if kind == "dnn":
        return fit_mlp(X_train, y_train, X_val, y_val, config, seed=seed, cancel=cancel)
    raise ValueError(f"unknown baseline {kind!r}; choose 'xgboost' or 'dnn'")
