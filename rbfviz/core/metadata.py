"""Model metadata: one typed, frozen record per network, validated against a schema.

A model file's ``__metadata__`` holds one JSON object (see :mod:`rbfviz.core.store`).  Files come
from users and uploads, so nothing in that object is trusted: :meth:`ModelInfo.from_metadata`
checks every field against the schema below and

* drops an unknown or ill-typed field, an over-long string or an over-long list, with a warning
  that names the field (``ModelInfo.warnings``);
* refuses (:class:`MetadataError`) what predictions depend on: a ``target_mean`` or
  ``target_scale`` that is not a finite number (the scale also > 0), sizes that contradict the
  tensors, and JSON nested deeper than :data:`MAX_DEPTH` or longer than :data:`MAX_METADATA_BYTES`.

The typed record has everything needed to rebuild and describe a network from its file alone:
kind, name, surface, sizes, the target mean and scale that turn outputs into eV, the training
settings (a :class:`rbfviz.core.train.TrainConfig`) and metrics, the pruning entry (distribution,
loss, restarts, a :class:`rbfviz.core.prune.PruneConfig`), the training data's split and
occupation frequencies, lineage (``parent_hash``), creation time and library versions.
:meth:`ModelInfo.to_dict` gives the plain-dict view that ``RBFN.metadata`` holds.

Examples
--------
>>> info = ModelInfo.from_metadata({"kind": "pruned", "surface": "110", "prune": "x"}, num_centroids=16, num_inputs=26)
>>> info.kind, info.surface, info.prune
('pruned', '110', None)
>>> info.warnings
('metadata field `prune`: expected an object, got str; dropped',)
>>> ModelInfo.from_metadata({"target_scale": -1}, num_centroids=4, num_inputs=26)
Traceback (most recent call last):
...
rbfviz.core.metadata.MetadataError: metadata field `target_scale` must be a finite number > 0; got -1
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from rbfviz.core.train import TrainConfig
from rbfviz.core.validate import config_fields

MAX_DEPTH = 16  # deepest JSON nesting accepted in metadata (the schema needs 4)
MAX_METADATA_BYTES = 1 * 2**20  # longest metadata JSON accepted
MAX_NAME = 200  # longest name, source or other free text
MAX_KEY = 64  # longest metric name
MAX_LIST = 4096  # longest list of numbers (losses, occupation frequencies, distribution parameters)
KINDS = ("trained", "pruned")
SURFACES = ("100", "110", "111")
_HASH = re.compile(r"[0-9a-f]{64}")


class MetadataError(ValueError):
    """Metadata that cannot be used: a field predictions depend on is missing its meaning."""


class MetadataWarning(UserWarning):
    """A metadata field was dropped (unknown, ill-typed or too long) when a model was read."""


# --------------------------------------------------------------------------- JSON bounds
def json_depth(text: str | bytes) -> int:
    """Deepest nesting of ``[`` / ``{`` in a JSON text, computed without recursion.

    Examples
    --------
    >>> json_depth('{"a": [1, {"b": "[[["}]}')
    3
    """
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    raw = re.sub(rb'"(?:[^"\\]|\\.)*"', b'""', raw, flags=re.DOTALL)  # brackets inside strings do not count
    b = np.frombuffer(raw, dtype=np.uint8)
    step = np.isin(b, (ord("["), ord("{"))).astype(np.int32) - np.isin(b, (ord("]"), ord("}")))
    return int(np.cumsum(step).max(initial=0))


def check_json_text(text: str | bytes, what: str = "metadata") -> None:
    """Raise :class:`MetadataError` if a JSON text is longer than :data:`MAX_METADATA_BYTES` or
    nested deeper than :data:`MAX_DEPTH`: checked before parsing, so no hostile text reaches the
    recursive JSON parser."""
    if len(text) > MAX_METADATA_BYTES:
        raise MetadataError(f"{what} is {len(text)} bytes long; the limit is {MAX_METADATA_BYTES}")
    depth = json_depth(text)
    if depth > MAX_DEPTH:
        raise MetadataError(f"{what} is nested {depth} levels deep; the limit is {MAX_DEPTH}")


def json_safe(value):
    """Metadata to JSON values: NumPy scalars and arrays to Python, non-finite floats to None,
    anything else to its string.

    Examples
    --------
    >>> json_safe({"q": np.array([0.5, np.nan]), "n": np.int64(3)})
    {'q': [0.5, None], 'n': 3}
    """
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


# --------------------------------------------------------------------------- field readers
class _Reader:
    """Reads fields of one JSON object, collecting a warning for each field it drops."""

    def __init__(self, obj: Mapping, prefix: str, warnings: list[str]):
        self.obj, self.prefix, self.warnings = obj, prefix, warnings
        self.used: set[str] = set()

    def _drop(self, key: str, why: str) -> None:
        self.warnings.append(f"metadata field `{self.prefix}{key}`: {why}; dropped")

    def get(self, key: str, check, expected: str, default=None):
        self.used.add(key)
        if key not in self.obj or self.obj[key] is None:
            return default
        value = self.obj[key]
        try:
            return check(value)
        except (TypeError, ValueError) as exc:
            why = str(exc) or f"expected {expected}, got {_kind(value)}"
            self._drop(key, why)
            return default

    def string(self, key, max_len: int = MAX_NAME, choices=None, default=None):
        def check(v):
            if not isinstance(v, str):
                raise TypeError(f"expected a string, got {_kind(v)}")
            if len(v) > max_len:
                raise ValueError(f"a string of {len(v)} characters is longer than {max_len}")
            if choices is not None and v not in choices:
                raise ValueError(f"expected one of {choices}, got {_short(v)}")
            return v

        return self.get(key, check, "a string", default)

    def hash(self, key):
        def check(v):
            if not isinstance(v, str) or not _HASH.fullmatch(v):
                raise TypeError(f"expected a 64-digit hex content hash, got {_short(v)} ({_kind(v)})")
            return v

        return self.get(key, check, "a hash")

    def integer(self, key, low: int | None = 0, default=None):
        def check(v):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"expected an int, got {_kind(v)}")
            if low is not None and v < low:
                raise ValueError(f"expected an int >= {low}, got {v}")
            return int(v)

        return self.get(key, check, "an int", default)

    def number(self, key, default=None):
        return self.get(key, _finite, "a number", default)

    def boolean(self, key, default=None):
        def check(v):
            if not isinstance(v, bool):
                raise TypeError(f"expected true or false, got {_kind(v)}")
            return v

        return self.get(key, check, "a bool", default)

    def numbers(self, key, low=None, high=None, length: int | None = None):
        def check(v):
            if not isinstance(v, list):
                raise TypeError(f"expected a list of numbers, got {_kind(v)}")
            if len(v) > MAX_LIST or (length is not None and len(v) != length):
                want = f"{length}" if length is not None else f"at most {MAX_LIST}"
                raise ValueError(f"expected {want} numbers, got {len(v)}")
            out = tuple(_finite(x) for x in v)
            if (low is not None and any(x < low for x in out)) or (high is not None and any(x > high for x in out)):
                raise ValueError(f"expected numbers in [{low}, {high}]")
            return out

        return self.get(key, check, "a list of numbers")

    def obj_field(self, key):
        """A nested object as a Mapping, or None (with a warning for a non-object)."""

        def check(v):
            if not isinstance(v, dict):
                raise TypeError(f"expected an object, got {_kind(v)}")
            return v

        return self.get(key, check, "an object")

    def unknown(self) -> dict:
        """The fields no reader asked for: reported as dropped."""
        extra = {k: v for k, v in self.obj.items() if k not in self.used}
        if extra:
            names = ", ".join(f"`{self.prefix}{_clip(str(k))}`" for k in list(extra)[:8])
            more = f" and {len(extra) - 8} more" if len(extra) > 8 else ""
            self.warnings.append(f"unknown metadata field(s) {names}{more}; dropped")
        return extra


def _kind(value) -> str:
    return {dict: "object", list: "list", str: "str", bool: "bool", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _clip(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _short(value, n: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


def _finite(v) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"expected a number, got {_kind(v)}")
    if not math.isfinite(float(v)):
        raise ValueError(f"expected a finite number, got {v!r}")
    return float(v)


def _config_from(cls, values: Mapping, key_prefix: str, label_prefix: str, warnings: list[str]):
    """A settings dataclass from saved values ``values[key_prefix + field]``: fields checked one by
    one against the class's field types (:func:`rbfviz.core.validate.config_fields`); ill-typed
    ones dropped (the class default then applies); None if the class refuses the combination."""
    kwargs = {}
    for f in config_fields(cls):
        key = f"{key_prefix}{f.name}"
        if key not in values:
            continue
        try:
            kwargs[f.name] = f.check(values[key])
        except (TypeError, ValueError) as exc:
            warnings.append(f"metadata field `{label_prefix}{key}`: {exc}; dropped")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        warnings.append(f"metadata {cls.__name__} settings are invalid ({exc}); dropped")
        return None


# --------------------------------------------------------------------------- the records
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
            warnings.append(f"metadata field `{prefix}`: expected an object with a `name`, got {_kind(value)}; dropped")
            return None
        name = value.get("name")
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
            warnings.append(f"metadata field `{prefix}.name`: expected a short string, got {_kind(name)}; dropped")
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
                warnings.append(f"metadata field `{prefix}.{_clip(str(key))}`: expected numbers; dropped")
        return cls(name, MappingProxyType(params))


def _param(v):
    if isinstance(v, list):
        if len(v) > MAX_LIST:
            raise ValueError("too long")
        if all(isinstance(x, list) for x in v) and v:
            if sum(len(x) for x in v) > MAX_LIST:
                raise ValueError("too long")
            return tuple(tuple(_finite(y) for y in x) for x in v)
        return tuple(_finite(x) for x in v)
    return _finite(v)


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
        r = _Reader(value, "train.", warnings)
        names = {f.name for f in config_fields(TrainConfig)}
        r.used |= names
        config = _config_from(TrainConfig, value, "", "train.", warnings)
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

        r = _Reader(value, "prune.", warnings)
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
            config = _config_from(PruneConfig, value, "config_", "prune.", warnings)
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
        r = _Reader(value, "data.", warnings)
        return cls(
            split_seed=r.integer("split_seed", low=None),
            n_train=r.integer("n_train"),
            n_val=r.integer("n_val"),
            n_test=r.integer("n_test"),
            occupation_frequencies=r.numbers("occupation_frequencies", 0.0, 1.0, length=num_inputs),
        ), r.unknown()


@dataclass(frozen=True)
class ModelInfo:
    """Everything a model file says about its network, validated (see the module docstring).

    Attributes
    ----------
    kind : {"trained", "pruned"}
    num_centroids, num_inputs : int
        K and D, always those of the tensors.
    target_mean, target_scale : float
        Physical prediction = ``target_mean + target_scale · f(x)`` (eV for the Cu data).
    metrics : Mapping[str, float]
        E.g. ``val_rmse``, ``test_rmse`` (eV), ``pruning_loss``.
    train, prune, data : TrainInfo, PruneInfo, DataInfo or None
    parent_hash : str or None
        Content hash of the network this one was pruned from.
    warnings : tuple of str
        What was dropped while reading (not saved; not part of equality).
    """

    num_centroids: int
    num_inputs: int
    kind: str = "trained"
    name: str | None = None
    surface: str | None = None
    source: str | None = None
    target_mean: float = 0.0
    target_scale: float = 1.0
    content_hash: str | None = None
    parent_hash: str | None = None
    parent_name: str | None = None
    parent_num_centroids: int | None = None
    imported_from: str | None = None
    regenerate: str | None = None  # the command that rebuilds this file (bundled networks)
    metrics: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    train: TrainInfo | None = None
    prune: PruneInfo | None = None
    data: DataInfo | None = None
    created: str | None = None
    versions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    warnings: tuple[str, ...] = field(default=(), compare=False, repr=False)

    # -- views
    @property
    def label(self) -> str:
        """``name · K=16`` or ``pruned 110 · K=16``."""
        name = self.name or f"{self.kind} {self.surface or ''}".strip()
        return f"{name} · K={self.num_centroids}"

    def to_dict(self) -> dict:
        """The plain, JSON-ready dict (the layout of ``RBFN.metadata`` and of the file)."""
        out = {
            "kind": self.kind,
            "surface": self.surface,
            "num_centroids": self.num_centroids,
            "num_inputs": self.num_inputs,
            "target_mean": self.target_mean,
            "target_scale": self.target_scale,
        }
        for key in (
            "name",
            "source",
            "content_hash",
            "parent_hash",
            "parent_name",
            "parent_num_centroids",
            "imported_from",
            "regenerate",
            "created",
        ):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.metrics:
            out["metrics"] = dict(self.metrics)
        for key in ("train", "prune", "data"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key).to_dict()
        if self.versions:
            out["versions"] = dict(self.versions)
        return out

    # -- construction
    @classmethod
    def from_model(cls, model) -> ModelInfo:
        """The validated record of a network in memory (its ``metadata`` dict and its sizes)."""
        return cls.from_metadata(
            json_safe(dict(model.metadata)), num_centroids=model.num_centroids, num_inputs=model.num_inputs
        )

    @classmethod
    def from_metadata(cls, metadata, *, num_centroids: int, num_inputs: int) -> ModelInfo:
        """Validate a metadata object (parsed JSON or a model's dict) against the schema.

        Raises
        ------
        MetadataError
            If ``metadata`` is not an object, or ``target_mean`` / ``target_scale`` are unusable,
            or ``num_centroids`` / ``num_inputs`` contradict the tensors.
        """
        if not isinstance(metadata, Mapping):
            raise MetadataError(f"metadata must be a JSON object; got {_kind(metadata)}")
        warnings: list[str] = []
        r = _Reader(metadata, "", warnings)
        for key, actual in (("num_centroids", num_centroids), ("num_inputs", num_inputs)):
            r.used.add(key)
            v = metadata.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Integral) or v != actual):
                raise MetadataError(f"metadata field `{key}` is {_short(v)} but the tensors have {actual}")
        r.used |= {"target_mean", "target_scale"}
        mean, scale = metadata.get("target_mean", 0.0), metadata.get("target_scale", 1.0)  # null (NaN) is refused
        if isinstance(mean, bool) or not isinstance(mean, numbers.Real) or not math.isfinite(mean):
            raise MetadataError(f"metadata field `target_mean` must be a finite number; got {_short(mean)}")
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not math.isfinite(scale) or scale <= 0:
            raise MetadataError(f"metadata field `target_scale` must be a finite number > 0; got {_short(scale)}")

        def nested(key, parser, *args):
            value = r.obj_field(key)
            if value is None:
                return None
            parsed, _ = parser(value, warnings, *args)
            return parsed

        prune = nested("prune", PruneInfo.parse)
        kind = r.string("kind", choices=KINDS, default=None) or ("pruned" if prune is not None else "trained")
        metrics = {}
        for key, value in (r.obj_field("metrics") or {}).items():
            if not isinstance(key, str) or len(key) > MAX_KEY:
                warnings.append(f"metadata field `metrics.{_clip(str(key))}`: name too long; dropped")
            elif value is None:
                continue
            elif isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                warnings.append(f"metadata field `metrics.{key}`: expected a number, got {_kind(value)}; dropped")
            else:
                metrics[key] = value
        versions = {}
        for key, value in (r.obj_field("versions") or {}).items():
            if isinstance(value, str) and len(value) <= MAX_KEY and len(key) <= MAX_KEY:
                versions[key] = value
            else:
                warnings.append(f"metadata field `versions.{_clip(str(key))}`: expected a short string; dropped")
        info = cls(
            num_centroids=int(num_centroids),
            num_inputs=int(num_inputs),
            kind=kind,
            name=r.string("name"),
            surface=r.get("surface", _surface, "a surface"),
            source=r.string("source", max_len=4 * MAX_NAME),
            target_mean=float(mean),
            target_scale=float(scale),
            content_hash=r.hash("content_hash"),
            parent_hash=r.hash("parent_hash"),
            parent_name=r.string("parent_name"),
            parent_num_centroids=r.integer("parent_num_centroids", low=1),
            imported_from=r.string("imported_from"),
            regenerate=r.string("regenerate", max_len=4 * MAX_NAME),
            metrics=MappingProxyType(metrics),
            train=nested("train", TrainInfo.parse),
            prune=prune,
            data=nested("data", DataInfo.parse, int(num_inputs)),
            created=r.string("created", max_len=40),
            versions=MappingProxyType(versions),
        )
        r.unknown()
        return dataclasses.replace(info, warnings=tuple(warnings))


def _surface(v):
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        v = str(v)
    if v not in SURFACES:
        raise ValueError(f"expected one of {SURFACES}, got {_short(v)}")
    return v
