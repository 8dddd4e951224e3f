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
rbfviz.core.metadata_json.MetadataError: metadata field `target_scale` must be a finite number > 0; got -1
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from rbfviz.core.metadata_fields import SURFACES, FieldReader, check_surface, clip, kind_of, short
from rbfviz.core.metadata_json import (
    MAX_DEPTH,
    MAX_KEY,
    MAX_LIST,
    MAX_METADATA_BYTES,
    MAX_NAME,
    MetadataError,
    MetadataWarning,
    check_json_text,
    json_depth,
    json_safe,
)
from rbfviz.core.metadata_records import DataInfo, DistributionInfo, PruneInfo, TrainInfo

KINDS = ("trained", "pruned")

__all__ = [  # the records, and (re-exported from their homes) the limits, errors and JSON helpers
    "KINDS",
    "MAX_DEPTH",
    "MAX_KEY",
    "MAX_LIST",
    "MAX_METADATA_BYTES",
    "MAX_NAME",
    "SURFACES",
    "DataInfo",
    "DistributionInfo",
    "MetadataError",
    "MetadataWarning",
    "ModelInfo",
    "PruneInfo",
    "TrainInfo",
    "check_json_text",
    "json_depth",
    "json_safe",
]


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
            raise MetadataError(f"metadata must be a JSON object; got {kind_of(metadata)}")
        warnings: list[str] = []
        r = FieldReader(metadata, "", warnings)
        for key, actual in (("num_centroids", num_centroids), ("num_inputs", num_inputs)):
            r.used.add(key)
            v = metadata.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Integral) or v != actual):
                raise MetadataError(f"metadata field `{key}` is {short(v)} but the tensors have {actual}")
        r.used |= {"target_mean", "target_scale"}
        mean, scale = metadata.get("target_mean", 0.0), metadata.get("target_scale", 1.0)  # null (NaN) is refused
        if isinstance(mean, bool) or not isinstance(mean, numbers.Real) or not math.isfinite(mean):
            raise MetadataError(f"metadata field `target_mean` must be a finite number; got {short(mean)}")
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not math.isfinite(scale) or scale <= 0:
            raise MetadataError(f"metadata field `target_scale` must be a finite number > 0; got {short(scale)}")

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
                warnings.append(f"metadata field `metrics.{clip(str(key))}`: name too long; dropped")
            elif value is None:
                continue
            elif isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                warnings.append(f"metadata field `metrics.{key}`: expected a number, got {kind_of(value)}; dropped")
            else:
                metrics[key] = value
        versions = {}
        for key, value in (r.obj_field("versions") or {}).items():
            if isinstance(value, str) and len(value) <= MAX_KEY and len(key) <= MAX_KEY:
                versions[key] = value
            else:
                warnings.append(f"metadata field `versions.{clip(str(key))}`: expected a short string; dropped")
        info = cls(
            num_centroids=int(num_centroids),
            num_inputs=int(num_inputs),
            kind=kind,
            name=r.string("name"),
            surface=r.get("surface", check_surface, "a surface"),
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
