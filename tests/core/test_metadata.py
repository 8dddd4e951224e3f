"""Model metadata: the typed schema, hostile metadata in model files, and bounded JSON."""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save

from rbfviz.core.expectations import Bernoulli
from rbfviz.core.metadata import (
    MAX_DEPTH,
    DistributionInfo,
    MetadataError,
    MetadataWarning,
    ModelInfo,
    json_depth,
)
from rbfviz.core.model import RBFN
from rbfviz.core.prune import PruneConfig, prune
from rbfviz.core.store import FORMAT_NAME, ModelFileError, inspect_model, load_model, save_model
from rbfviz.core.train import TrainConfig, train


def _file(meta_text: str, K: int = 3, D: int = 2) -> bytes:
    """A valid model file whose metadata JSON string is ``meta_text`` verbatim."""
    tensors = {
        "bias": torch.tensor(0.5),
        "weights": torch.ones(K),
        "centroids": torch.zeros(K, D),
        "log_gamma": torch.tensor(-1.0),
    }
    return st_save(tensors, metadata={"format": FORMAT_NAME, "format_version": "1", "metadata": meta_text})


def _load(meta: dict, K: int = 3, D: int = 2):
    return inspect_model(_file(json.dumps(meta), K, D))


# --------------------------------------------------------------------------- hostile field types
H = "ab" * 32  # a well-formed content hash


@pytest.mark.parametrize(
    "meta, field, check",
    [
        ({"metrics": [1, 2]}, "`metrics`", lambda i: dict(i.metrics) == {}),
        (
            {"metrics": {"test_rmse": "low", "val_rmse": 0.1}},
            "`metrics.test_rmse`",
            lambda i: dict(i.metrics) == {"val_rmse": 0.1},
        ),
        ({"prune": "x"}, "`prune`", lambda i: i.prune is None and i.kind == "trained"),
        ({"parent_hash": [H]}, "`parent_hash`", lambda i: i.parent_hash is None),
        ({"parent_hash": "not-a-hash"}, "`parent_hash`", lambda i: i.parent_hash is None),
        ({"kind": "k" * 300}, "`kind`", lambda i: i.kind == "trained"),
        ({"kind": "pruned", "name": "n" * 300}, "`name`", lambda i: i.name is None and i.kind == "pruned"),
        ({"surface": {"a": 1}}, "`surface`", lambda i: i.surface is None),
        ({"train": {"batch_size": "64", "epochs": 3}}, "`train.batch_size`", lambda i: i.train.epochs == 3),
        ({"train": {"batch_size": 0}}, "TrainConfig settings are invalid", lambda i: i.train.config is None),
        (
            {"data": {"occupation_frequencies": [2.0] * 2}},
            "`data.occupation_frequencies`",
            lambda i: i.data.occupation_frequencies is None,
        ),
        (
            {"prune": {"restarts": 3}},
            "`prune.distribution` is missing",
            lambda i: i.prune.distribution is None and i.prune.restarts == 3,
        ),
        ({"prune": {"distribution": {"q": 0.5}}}, "`prune.distribution.name`", lambda i: i.prune.distribution is None),
        (
            {"prune": {"distribution": {"name": "Bernoulli", "q": "half"}}},
            "`prune.distribution.q`",
            lambda i: i.prune.distribution.name == "Bernoulli",
        ),
        ({"prune": {"distribution": "Bernoulli", "losses": "many"}}, "`prune.losses`", lambda i: i.prune.losses == ()),
        (
            {"prune": {"distribution": "B", "config_optimizer": 3}},
            "`prune.config_optimizer`",
            lambda i: i.prune.config == PruneConfig(),
        ),
        ({"whatever": 1}, "`whatever`", lambda i: "whatever" not in i.to_dict()),
    ],
)
def test_ill_typed_and_unknown_fields_are_dropped_with_a_warning(meta, field, check):
    model, info = _load(meta)
    assert any(field in w for w in info.warnings), info.warnings
    assert check(info)
    assert model.metadata == info.to_dict()
    json.dumps(model.metadata)  # the dict view is plain JSON
    # load_model reports the same, as warnings naming the file
    with pytest.warns(
        MetadataWarning, match=r"<bytes>: .*" + field.split("`")[1].replace(".", r"\.") if "`" in field else "<bytes>"
    ):
        load_model(_file(json.dumps(meta)))


def test_every_reader_of_the_dict_view_sees_the_schema_types():
    """The app's reads (AppState.row, _lineage) and `rbfviz info` trusted these types."""
    hostile = {
        "metrics": [1, 2],
        "prune": {"loss": "?", "distribution": None},
        "parent_hash": [1],
        "kind": "x" * 300,
        "name": 5,
        "data": {"occupation_frequencies": {"a": 1}},
    }
    model, _ = _load(hostile)
    md = model.metadata
    assert isinstance(md.get("metrics", {}), dict)
    assert isinstance(md.get("prune", {}), dict) and "loss" not in md["prune"]
    assert md.get("parent_hash") is None and md.get("name") is None and md["kind"] in ("trained", "pruned")


@pytest.mark.parametrize(
    "meta, field",
    [
        ({"target_scale": "1"}, "target_scale"),
        ({"target_scale": 0}, "target_scale"),
        ({"target_mean": [0.1]}, "target_mean"),
        ({"num_centroids": 4}, "num_centroids"),
        ({"num_inputs": "2"}, "num_inputs"),
    ],
)
def test_essential_fields_refuse_the_file_naming_it_and_the_field(tmp_path, meta, field):
    path = tmp_path / "odd.safetensors"
    path.write_bytes(_file(json.dumps(meta)))
    with pytest.raises(ModelFileError, match=rf"{path}: metadata field `{field}`"):
        load_model(path)


@pytest.mark.parametrize("depth", [900, 5000, MAX_DEPTH + 1])
def test_deeply_nested_metadata_is_a_clear_error(tmp_path, depth):
    path = tmp_path / "deep.safetensors"
    path.write_bytes(_file(json.dumps({"kind": "trained", "x": 0}).replace("0}", "[" * depth + "]" * depth + "}")))
    with pytest.raises(ModelFileError, match=rf"{path}: metadata is nested {depth + 1} levels deep; the limit is"):
        load_model(path)


def test_metadata_at_the_depth_limit_loads_with_a_warning():
    inner = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    _, info = inspect_model(_file('{"x": ' + inner + "}"))
    assert info.warnings == ("unknown metadata field(s) `x`; dropped",)


def test_json_depth_ignores_brackets_in_strings():
    assert json_depth('{"a": "[[[[{{{{", "b": [{"c": "]]]"}]}') == 3
    assert json_depth(r'["\"[[[[", 1]') == 1
    assert json_depth("") == 0


def test_very_long_metadata_is_refused():
    with pytest.raises(ModelFileError, match="metadata is .* bytes long; the limit is"):
        load_model(_file(json.dumps({"name": "x", "pad": "y" * (2**20 + 10)})))


def test_non_finite_and_odd_json_values():
    model, info = _load({"metrics": {"a": float("inf")}, "train": {"seconds": float("nan")}})
    assert dict(info.metrics) == {} and info.train.seconds is None
    assert any("`metrics.a`" in w for w in info.warnings)


# --------------------------------------------------------------------------- the typed record
def test_trained_and_pruned_networks_round_trip_through_the_typed_record(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], (120, 6))
    y = X[:, 0] + 0.5 * X[:, 1] * X[:, 2] + 2.0
    result = train(X[:100], y[:100], X[100:], y[100:], 6, TrainConfig(max_epochs=2, seed=3))
    large = result.model
    large.metadata.update(name="big", surface="110", data={"occupation_frequencies": [0.5] * 6, "n_train": 100})
    with warnings.catch_warnings():
        warnings.simplefilter("error", MetadataWarning)  # what the library writes fits the schema
        save_model(large, tmp_path / "big.safetensors")
        big, info = inspect_model(tmp_path / "big.safetensors")
        small = prune(big, 2, Bernoulli(0.3), 2, config=PruneConfig(max_iterations=5), seed=1).model
        save_model(small, tmp_path / "small.safetensors")
        back, sinfo = inspect_model(tmp_path / "small.safetensors")
    assert info.warnings == () and sinfo.warnings == ()
    assert info.kind == "trained" and info.name == "big" and info.surface == "110"
    assert info.train.config == TrainConfig(max_epochs=2, seed=3, device="cpu")
    assert info.train.epochs == 2 and info.data.occupation_frequencies == (0.5,) * 6
    assert info.target_mean == pytest.approx(float(np.mean(y[:100])))
    assert sinfo.kind == "pruned" and sinfo.parent_hash == info.content_hash
    assert sinfo.prune.config == PruneConfig(max_iterations=5) and sinfo.prune.restarts == 2
    assert sinfo.prune.distribution.label == "Bernoulli(q=0.3)"
    assert sinfo.prune.distribution.build().describe() == Bernoulli(0.3).describe()
    assert sinfo.prune.loss == pytest.approx(small.metadata["prune"]["loss"])
    # the file alone rebuilds the network: same predictions in physical units
    np.testing.assert_allclose(back.predict(X), small.predict(X), rtol=0, atol=0)
    # the typed view of a model in memory is the same record
    assert back.info == sinfo and ModelInfo.from_model(back) == sinfo
    with pytest.raises(dataclasses.FrozenInstanceError):
        sinfo.kind = "trained"  # frozen


def test_legacy_text_distribution_is_kept_as_a_name():
    _, info = _load({"kind": "pruned", "prune": {"distribution": "Bernoulli(q=0.5)", "loss": 0.01}})
    assert info.prune.distribution == DistributionInfo("Bernoulli(q=0.5)")
    assert info.prune.distribution.label == "Bernoulli(q=0.5)" and info.warnings == ()


def test_from_metadata_needs_an_object():
    with pytest.raises(MetadataError, match="must be a JSON object; got list"):
        ModelInfo.from_metadata([1], num_centroids=1, num_inputs=1)


def test_save_refuses_an_unusable_target_scale(tmp_path):
    net = RBFN(3, 2, seed=0)
    net.metadata["target_scale"] = float("nan")
    with pytest.raises(ValueError, match="`target_scale` must be a finite number > 0"):
        save_model(net, tmp_path / "x.safetensors")
    assert not list(tmp_path.iterdir())
