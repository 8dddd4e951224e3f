"""The grid of a sweep: its settings, its cells and their content keys (paper §3.2.1).

A *cell* is one unit of work of the paper's Table 1 experiment: one RBFN (surface × K × split),
one baseline (surface × model × split) or one pruning of a trained cell (× M × distribution).
Each cell has a *content key*: a hash of everything that determines its numbers (data, split,
seeds, settings), so a finished cell is found again on disk and skipped, whichever machine,
process or order produced it.

Examples
--------
>>> cfg = SweepConfig(n_rows=300)
>>> cells = make_cells(["100"], [8, 16], 2, cfg, baselines=("xgboost",))
>>> [(c.model, c.k, c.split) for c in cells]
[('rbfn', 8, 0), ('rbfn', 8, 1), ('rbfn', 16, 0), ('rbfn', 16, 1), ('xgboost', None, 0), ('xgboost', None, 1)]
>>> cells[0].key == make_cells(["100"], [8], 1, cfg)[0].key
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from rbfviz.core.train import TrainConfig
from rbfviz.sweep.baselines import MLPConfig, XGBConfig

# --------------------------------------------------------------------------- constants
SURFACES = ("100", "110", "111")
BASELINES = ("xgboost", "dnn")
DISTRIBUTIONS = ("bernoulli", "bernoulli-observed")
PAPER_N_ROWS = 120_000  # generated rows per surface: the paper's 100,000 + 10,000 + a 10,000-row test part
SWEEP_FORMAT = 1  # bump when a cell's numbers would change for the same settings
# TrainConfig fields that do not change a network's numbers beyond rounding: not in the key
_NOT_IN_KEY = ("device", "eval_batch_size", "compile")


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class SweepConfig:
    """Every setting of a sweep besides the grid itself (surfaces, K, splits, baselines).

    Split ``s`` uses split seed ``split_seed + s`` and training seed ``train_seed + s`` (paper
    §3.2.1: ten random train / early-stopping / test splits).  With fewer than
    ``n_train + n_val + 1`` rows the split is 80 % / 10 % / 10 % instead.
    """

    n_rows: int | None = None  # generated rows per surface; None: PAPER_N_ROWS
    data_seed: int = 0  # seed of the generator
    relaxed: bool = True  # relaxed barriers (the generator's default) or the rigid midpoint ones
    data_paths: tuple = ()  # ((surface, path), ...): barrier files instead of generated data
    n_train: int = 100_000
    n_val: int = 10_000
    split_seed: int = 0
    train_seed: int = 0
    train: TrainConfig = field(default_factory=TrainConfig)
    prune_m: tuple = ()  # pruned sizes M; () prunes nothing
    prune_k: tuple = ()  # prune only the networks of these K; (): every K
    prune_distributions: tuple = ("bernoulli",)  # "bernoulli" is Bernoulli(0.5)
    prune_restarts: int = 10
    prune_iterations: int | None = None  # L-BFGS budget (None: the library's default)
    xgboost: XGBConfig = field(default_factory=XGBConfig)
    dnn: MLPConfig = field(default_factory=MLPConfig)
    search_rounds: int = 0  # 0: the fixed configurations; N: random search of N rounds (the paper: 100)
    torch_threads: int | None = None  # per worker; None: cores / workers
    group_gpu: bool = True  # on GPU workers, same-K cells as one train_many task when the library has it

    def __post_init__(self):
        if self.n_rows is not None and (not isinstance(self.n_rows, int) or self.n_rows < 10):
            raise ValueError(f"SweepConfig.n_rows must be None or an int >= 10; got {self.n_rows!r}")
        for name in ("prune_distributions",):
            bad = [d for d in getattr(self, name) if d not in DISTRIBUTIONS]
            if bad:
                raise ValueError(f"SweepConfig.{name}: unknown {bad}; choose from {DISTRIBUTIONS}")
        if any(int(m) < 1 for m in self.prune_m):
            raise ValueError(f"SweepConfig.prune_m must hold positive sizes; got {self.prune_m!r}")
        if self.search_rounds < 0:
            raise ValueError(f"SweepConfig.search_rounds must be >= 0; got {self.search_rounds}")

    @property
    def rows(self) -> int:
        return PAPER_N_ROWS if self.n_rows is None else self.n_rows

    def data_path(self, surface: str) -> str | None:
        return dict(self.data_paths).get(surface)

    def data_spec(self, surface: str) -> dict:
        """What determines a surface's data set (part of every key of that surface)."""
        path = self.data_path(surface)
        if path is not None:  # the file's content, not its name, decides (a changed file is new data)
            return {"surface": surface, "file": Path(path).name, "sha256": _file_sha256(path)}
        return {"surface": surface, "generated": True, "n": self.rows, "seed": self.data_seed, "relaxed": self.relaxed}

    def as_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self), default=str))


def _file_sha256(path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError as exc:
        raise ValueError(f"SweepConfig.data_paths: cannot read {path}: {exc}") from None
    return h.hexdigest()


# --------------------------------------------------------------------------- cells
@dataclass(frozen=True)
class Cell:
    """One task of a sweep.  ``model`` is "rbfn", "xgboost", "dnn" or "pruned"."""

    surface: str
    model: str
    split: int
    k: int | None = None
    m: int | None = None  # pruned cells: prototypes kept
    distribution: str | None = None  # pruned cells
    spec: str = ""  # JSON of everything that determines the numbers
    key: str = ""  # sha256 of spec (first 24 hex digits)
    parent: str | None = None  # pruned cells: key of the trained cell

    @property
    def name(self) -> str:
        parts = [f"cu{self.surface}", self.model]
        if self.k is not None:
            parts.append(f"k{self.k}")
        if self.m is not None:
            parts.append(f"m{self.m}-{self.distribution}")
        return "-".join([*parts, f"s{self.split}"])


def _keyed(cell: Cell, spec: dict) -> Cell:
    text = json.dumps({"format": SWEEP_FORMAT, **spec}, sort_keys=True, default=str)
    return replace(cell, spec=text, key=hashlib.sha256(text.encode()).hexdigest()[:24])


def _train_spec(config: SweepConfig) -> dict:
    return {k: v for k, v in asdict(config.train).items() if k not in _NOT_IN_KEY}


def split_seeds(config: SweepConfig, split: int) -> tuple[int, int]:
    """(split seed, training seed) of split number ``split``."""
    return config.split_seed + split, config.train_seed + split


def make_cells(surfaces, ks, splits: int, config: SweepConfig, baselines=()) -> list[Cell]:
    """All cells of the grid surfaces × (K ∪ baselines) × splits (+ pruning M × distribution).

    Raises ValueError naming the argument for an unknown surface, baseline, a bad K or split count.
    """
    surfaces = [str(s).strip("{}") for s in surfaces]
    bad = [s for s in surfaces if s not in SURFACES]
    if bad or not surfaces:
        raise ValueError(f"`surfaces` must be a non-empty subset of {SURFACES}; got {list(surfaces)}")
    ks = [int(k) for k in ks]
    if any(k < 1 for k in ks):
        raise ValueError(f"`ks` must be positive integers; got {ks}")
    if not isinstance(splits, int) or splits < 1:
        raise ValueError(f"`splits` must be a positive int; got {splits!r}")
    baselines = tuple(baselines)
    bad = [b for b in baselines if b not in BASELINES]
    if bad:
        raise ValueError(f"`baselines` must be a subset of {BASELINES}; got {list(baselines)}")
    cells = []
    for surface in surfaces:
        data = config.data_spec(surface)
        split_part = {"n_train": config.n_train, "n_val": config.n_val}
        for k in ks:
            for s in range(splits):
                ss, ts = split_seeds(config, s)
                spec = {"model": "rbfn", "data": data, **split_part, "split_seed": ss, "seed": ts, "k": k}
                trained = _keyed(Cell(surface, "rbfn", s, k=k), {**spec, "train": _train_spec(config)})
                cells.append(trained)
                for m in config.prune_m if (not config.prune_k or k in config.prune_k) else ():
                    for dist in config.prune_distributions:
                        pspec = {
                            "model": "pruned",
                            "parent": trained.key,
                            "m": int(m),
                            "distribution": dist,
                            "restarts": config.prune_restarts,
                            "iterations": config.prune_iterations,
                            "seed": ts,
                        }
                        pruned = Cell(surface, "pruned", s, k=k, m=int(m), distribution=dist, parent=trained.key)
                        cells.append(_keyed(pruned, pspec))
        for b in baselines:
            settings = asdict(config.xgboost if b == "xgboost" else config.dnn)
            for s in range(splits):
                ss, ts = split_seeds(config, s)
                spec = {"model": b, "data": data, **split_part, "split_seed": ss, "seed": ts, "settings": settings}
                spec["search_rounds"] = config.search_rounds
                cells.append(_keyed(Cell(surface, b, s), spec))
    # trained cells first, so pruning cells find their parents; sorted by key within a kind
    order = {"rbfn": 0, "xgboost": 1, "dnn": 1, "pruned": 2}
    return sorted(cells, key=lambda c: order[c.model])  # stable: grid order within a kind
