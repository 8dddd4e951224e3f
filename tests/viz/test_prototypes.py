"""Tests of rbfviz.viz.prototypes: the opacity rule, ordering and the Figure 5 statistics."""

from types import SimpleNamespace

import numpy as np
import pytest

from rbfviz.data.lattice import DEFAULT_SITES
from rbfviz.viz.prototypes import (
    as_prototypes,
    opacity,
    prototype_table,
    site_opacity_stats,
    weight_order,
)


def stand_in(centroids, weights, **metadata):
    """An object with the RBFN attributes the figures read."""
    return SimpleNamespace(centroids=np.asarray(centroids), weights=np.asarray(weights), metadata=metadata)


# ------------------------------------------------------------------ opacity rule
@pytest.mark.parametrize(
    "value, threshold, expected",
    [(0.0, 2.0, 0.0), (1.0, 2.0, 0.5), (-1.0, 2.0, 0.5), (2.0, 2.0, 1.0), (-7.0, 2.0, 1.0), (0.3, 0.5, 0.6)],
)
def test_opacity_is_abs_over_threshold_capped_at_one(value, threshold, expected):
    assert opacity(value, threshold) == pytest.approx(expected)


@pytest.mark.parametrize("threshold", [0, -1, np.inf, np.nan])
def test_opacity_rejects_bad_threshold(threshold):
    with pytest.raises(ValueError, match="threshold"):
        opacity([1.0], threshold)


def test_weight_order_by_abs_weight_is_stable():
    assert weight_order([0.5, -2.0, 0.5, 1.0]).tolist() == [1, 3, 0, 2]
    assert weight_order([0.5, -2.0], order="index").tolist() == [0, 1]
    with pytest.raises(ValueError, match="order"):
        weight_order([1.0], order="size")


# ------------------------------------------------------------------ adapter
def test_as_prototypes_scales_weights_to_ev_and_names_by_surface():
    p = as_prototypes(stand_in(np.ones((3, 26)), [1.0, -2.0, 0.5], target_scale=0.3, surface="110"))
    np.testing.assert_allclose(p.weights_ev, [0.3, -0.6, 0.15])
    assert p.label == "{110}" and p.surface == "110" and p.centroids.dtype == np.float64


def test_as_prototypes_accepts_arrays_tuples_dicts():
    c = np.arange(52.0).reshape(2, 26)
    assert as_prototypes(c).weights_ev.tolist() == [1.0, 1.0]
    assert as_prototypes((c, [3.0, 4.0])).weights_ev.tolist() == [3.0, 4.0]
    p = as_prototypes({"centroids": c, "weights": [1.0, 2.0], "label": "x"})
    assert p.label == "x" and p.centroids[1, 0] == 26.0


def test_as_prototypes_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"\(3,\)"):
        as_prototypes((np.ones((3, 26)), [1.0, 2.0]))
    with pytest.raises(ValueError, match="centroids"):
        as_prototypes(np.ones(26))


def test_as_prototypes_reads_a_real_rbfn():
    model_mod = pytest.importorskip("rbfviz.core.model")
    net = model_mod.RBFN(26, 4, seed=0)
    net.metadata.update(target_scale=0.5, surface="100")
    p = as_prototypes(net)
    np.testing.assert_allclose(p.centroids, net.centroids.detach().numpy())
    np.testing.assert_allclose(p.weights_ev, 0.5 * net.weights.detach().numpy())
    assert p.label == "{100}"


# ------------------------------------------------------------------ Figure 5 statistics
def test_site_opacity_stats_mean_std_and_normalisation():
    c = np.zeros((4, 26))
    c[:, 0] = [2.0, 2.0, 0.0, 0.0]  # opacities 1, 1, 0, 0 -> mean 0.5, std 0.5
    c[:, 1] = [1.0, 1.0, 1.0, 1.0]  # 0.5 each -> mean 0.5, std 0
    c[:, 2] = 4.0  # 1 -> mean 1
    df = site_opacity_stats(c)
    assert df["raw_mean"].iloc[:3].tolist() == pytest.approx([0.5, 0.5, 1.0])
    assert df["raw_std"].iloc[:3].tolist() == pytest.approx([0.5, 0.0, 0.0])
    assert df["mean"].max() == pytest.approx(1.0)  # "max" normalisation
    assert df["std"].iloc[0] == pytest.approx(0.5)  # scaled by the same factor (1.0 here)
    assert site_opacity_stats(c, normalize="sum")["mean"].sum() == pytest.approx(1.0)
    assert site_opacity_stats(c, normalize="none")["mean"].iloc[0] == pytest.approx(0.5)
    assert df["group"].tolist() == list(DEFAULT_SITES.groups)
    assert df["site"].tolist() == list(range(1, 27))


def test_site_opacity_stats_of_all_zero_prototypes_is_zero_not_nan():
    df = site_opacity_stats(np.zeros((3, 26)))
    assert np.all(df["mean"] == 0) and not df.isna().any().any()


def test_prototype_table_has_geometry_and_rank():
    df = prototype_table((np.arange(78.0).reshape(3, 26) / 40, [0.1, -0.5, 0.2]))
    assert len(df) == 78
    first = df[df["prototype"] == 2].iloc[0]
    assert first["rank"] == 1 and first["beta_ev"] == -0.5
    row = df[(df["prototype"] == 1) & (df["site"] == 5)].iloc[0]
    assert (row["x"], row["y"], row["z"]) == (2, 0, 0)
    assert row["x_A"] == pytest.approx(2 * 3.615 / 2)
    assert row["value"] == pytest.approx(4 / 40)
    assert set(df.columns) >= {"layer_100", "layer_110", "layer_111", "group", "opacity"}
