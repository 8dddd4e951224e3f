"""The nested records of a model's metadata: how it was trained, pruned and on what data.

:class:`TrainInfo` (paper §2.2), :class:`PruneInfo` with its :class:`DistributionInfo` (paper §2.3)
and :class:`DataInfo`, each frozen, with ``parse`` (checked, see :mod:`rbfviz.core.metadata_fields`)
and ``to_dict`` (the plain JSON layout of the model file).  :class:`rbfviz.core.metadata.ModelInfo`
holds one of each.

Examples
--------
>>> DistributionInfo("Bernoulli", {"q": 0.5}).label
'Bernoulli(q=0.5)'
>>> warnings = []
>>> info, unknown = TrainInfo.parse({"epochs": 3, "learning_rate": "fast"}, warnings)
>>> info.epochs, info.config.learning_rate == TrainConfig().learning_rate
(3, True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from rbfviz.core.metadata_fields import FieldReader, clip, config_from, finite, kind_of
from rbfviz.core.metadata_json import MAX_KEY, MAX_LIST, MAX_NAME
from rbfviz.core.training import TrainConfig
from rbfviz.core.validate import config_fields


@dataclass(frozen=True)
class DistributionInfo:
    """The input distribution p(x) a network was pruned for (``Distribution.describe()``).

    ``params`` maps each parameter to a float or a tuple of floats (nested once for a mixture).
    A file that names the distribution only as text (``"Bernoulli(q=0.5)"``) gives ``params={}``.
    """

    name: str
    params: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def label(self) -> str:
        """One line for tables, e.g. ``Bernoulli(q=0.5)``."""
        if not self.params:
            return self.name
        parts = []
        for k, v in self.params.items():
            if isinstance(v, tuple):
                flat = np.asarray(v, dtype=float).ravel()
                v = float(flat[0]) if flat.size and np.all(flat == flat[0]) else f"[{flat.size} values]"
            parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
        return f"{self.name}({', '.join(parts)})"

    def to_dict(self) -> dict:
        return {"name": self.name, **{k: _plain(v) for k, v in self.params.items()}}

    def build(self):
        """The :class:`rbfviz.core.expectations.Distribution` itself (``ValueError`` for a text-only entry)."""
        from rbfviz.core.expectations import distribution_from_description

        return distribution_from_description(self.to_dict())

    @classmethod
    def parse(cls, value, prefix: str, warnings: list[str]) -> DistributionInfo | None:
        if isinstance(value, str) and 0 < len(value) <= MAX_NAME:
            return cls(value)
        if not isinstance(value, dict):
            warnings.append(
                f"metadata field `{prefix}`: expected an object with a `name`, got {kind_of(value)}; dropped"
            )
            return None
        name = value.get("name")
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
            warnings.append(f"metadata field `{prefix}.name`: expected a short string, got {kind_of(name)}; dropped")
            return None
        params = {}
        for key, v in value.items():
            if key == "name":
                continue
            try:
                if not isinstance(key, str) or len(key) > MAX_KEY:
                    raise TypeError("parameter name too long")
                params[key] = _param(v)
            except (TypeError, ValueError):
                warnings.append(f"metadata field `{prefix}.{clip(str(key))}`: expected numbers; dropped")
        return cls(name, MappingProxyType(params))


def _param(v):
    if isinstance(v, list):
        if len(v) > MAX_LIST:
            raise ValueError("too long")
        if all(isinstance(x, list) for x in v) and v:
            if sum(len(x) for x in v) > MAX_LIST:
                raise ValueError("too long")
            return tuple(tuple(finite(y) for y in x) for x in v)
        return tuple(finite(x) for x in v)
    return finite(v)


def _plain(v):
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    return v


@dataclass(frozen=True)
class TrainInfo:
    """How a network was trained: the settings (device = the one used) and the run's record."""

    config: TrainConfig | None = None
    epochs: int | None = None
    best_epoch: int | None = None
    cancelled: bool = False
    compiled: bool = False  # whether the gradient step ran compiled (torch.compile)
    graph_captured: bool = False  # whether each epoch ran as a captured CUDA graph
    seconds: float | None = None
    n_train: int | None = None
    n_val: int | None = None

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self.config) if self.config is not None else {}
        run = ("epochs", "best_epoch", "cancelled", "compiled", "graph_captured", "seconds", "n_train", "n_val")
        out.update({k: getattr(self, k) for k in run})
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def parse(cls, value: Mapping, warnings: list[str]) -> tuple[TrainInfo, dict]:
        """The record and the fields it did not know (already reported in ``warnings``)."""
        r = FieldReader(value, "train.", warnings)
        names = {f.name for f in config_fields(TrainConfig)}
        r.used |= names
        config = config_from(TrainConfig, value, "", "train.", warnings)
        return cls(
            config=config,
            epochs=r.integer("epochs"),
            best_epoch=r.integer("best_epoch", low=-1),
            cancelled=r.boolean("cancelled", default=False),
            compiled=r.boolean("compiled", default=False),
            graph_captured=r.boolean("graph_captured", default=False),
            seconds=r.number("seconds"),
            n_train=r.integer("n_train"),
            n_val=r.integer("n_val"),
        ), r.unknown()


@dataclass(frozen=True)
class PruneInfo:
    """How a network was pruned (paper §2.3): distribution, restarts, loss and settings.

    ``loss`` is eq. (4) in standardised units², ``rmse_ev`` its square root in eV.
    """

    distribution: DistributionInfo | None = None
    restarts: int | None = None
    seed: int | None = None
    loss: float | None = None
    sqrt_loss: float | None = None
    rmse_ev: float | None = None
    losses: tuple[float, ...] = ()
    iterations: int | None = None
    cancelled: bool = False
    seconds: float | None = None
    config: object | None = None  # rbfviz.core.prune.PruneConfig (imported lazily: prune imports the store)

    def to_dict(self) -> dict:
        out = {
            "distribution": self.distribution.to_dict() if self.distribution is not None else None,
            "restarts": self.restarts,
            "seed": self.seed,
            "loss": self.loss,
            "sqrt_loss": self.sqrt_loss,
            "rmse_ev": self.rmse_ev,
            "losses": list(self.losses) if self.losses else None,
            "iterations": self.iterations,
            "cancelled": self.cancelled,
            "seconds": self.seconds,
        }
        if self.config is not None:
            out.update({f"config_{k}": v for k, v in dataclasses.asdict(self.config).items()})
        return {k: _plain(v) for k, v in out.items() if v is not None}

    @classmethod
    def parse(cls, value: Mapping, warnings: list[str]) -> tuple[PruneInfo, dict]:
        """The record and the fields it did not know (already reported in ``warnings``)."""
        from rbfviz.core.prune import PruneConfig

        r = FieldReader(value, "prune.", warnings)
        distribution = None
        r.used.add("distribution")
        if value.get("distribution") is None:
            warnings.append("metadata field `prune.distribution` is missing: the pruning distribution is unknown")
        else:
            distribution = DistributionInfo.parse(value["distribution"], "prune.distribution", warnings)
        config_keys = {k for k in value if isinstance(k, str) and k.startswith("config_")}
        r.used |= config_keys
        config = None
        if config_keys:
            config = config_from(PruneConfig, value, "config_", "prune.", warnings)
            known = {f"config_{f.name}" for f in config_fields(PruneConfig)}
            r.used -= config_keys - known
        return cls(
            distribution=distribution,
            restarts=r.integer("restarts", low=1),
            seed=r.integer("seed", low=None),
            loss=r.number("loss"),
            sqrt_loss=r.number("sqrt_loss"),
            rmse_ev=r.number("rmse_ev"),
            losses=r.numbers("losses") or (),
            iterations=r.integer("iterations"),
            cancelled=r.boolean("cancelled", default=False),
            seconds=r.number("seconds"),
            config=config,
        ), r.unknown()


@dataclass(frozen=True)
class DataInfo:
    """The training data's split and its per-site occupation frequencies P(x_i = +1)."""

    split_seed: int | None = None
    n_train: int | None = None
    n_val: int | None = None
    n_test: int | None = None
    occupation_frequencies: tuple[float, ...] | None = None

    def to_dict(self) -> dict:
        return {k: _plain(v) for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def parse(cls, value: Mapping, warnings: list[str], num_inputs: int) -> tuple[DataInfo, dict]:
        """The record and the fields it did not know (already reported in ``warnings``)."""
        r = FieldReader(value, "data.", warnings)
        return cls(
            split_seed=r.integer("split_seed", low=None),
            n_train=r.integer("n_train"),
            n_val=r.integer("n_val"),
            n_test=r.integer("n_test"),
            occupation_frequencies=r.numbers("occupation_frequencies", 0.0, 1.0, length=num_inputs),
        ), r.unknown()
