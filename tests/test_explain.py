"""rbfviz.explain: the additive split, nearest data and the symmetry check, against brute force."""

import numpy as np
import pytest
import torch

from rbfviz import explain as ex
from rbfviz.core.model import RBFN
from rbfviz.data.datasets import Dataset
from rbfviz.data.lattice import DEFAULT_SITES
from rbfviz.kmc import evaluate, parameters


@pytest.fixture(scope="module")
def nets():
    large = RBFN(26, 40, seed=0)
    pruned = RBFN(26, 6, seed=1)
    for net in (large, pruned):
        net.metadata.update(target_mean=0.55, target_scale=0.3)
    return {"large": large, "pruned": pruned}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.choice([-1.0, 1.0], size=(400, 26))
    return Dataset(X=X, y=rng.uniform(0, 1.5, size=400))


def _symmetric_net(seed=0):
    """A network whose centroids are closed under C2v (same β on each orbit): invariant by construction."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(-1, 1, size=(3, 26))
    perms = [np.arange(26)] + [DEFAULT_SITES.permutation(n) for n in ex.C2V[1:]]
    theta = np.concatenate([base[:, p] for p in perms])  # (12, 26)
    beta = np.tile(rng.uniform(-1, 1, size=3), len(perms))  # (12,)
    net = RBFN(26, len(theta))
    with torch.no_grad():
        net.centroids.copy_(torch.as_tensor(theta))
        net.weights.copy_(torch.as_tensor(beta))
    return net


def test_split_sums_to_the_prediction(nets):
    X = np.random.default_rng(0).choice([-1.0, 1.0], size=(20, 26))
    for net in nets.values():
        for x in X:
            s = ex.split(net, x)
            assert abs(s.total - net.predict(x[None])[0]) < 1e-6
            assert abs(s.total - evaluate(parameters(net), x[None])[0]) < 1e-12
            np.testing.assert_allclose(s.contributions, s.weights_ev * s.kernel)


def test_split_is_sorted_from_up_to_down(nets):
    s = ex.split(nets["large"], np.ones(26))
    values = [r["contribution_ev"] for r in s.rows()]
    assert values == sorted(values, reverse=True) and len(values) == 40
    top = s.rows(top=5)
    assert len(top) == 5 and {r["prototype"] for r in top} == set(np.argsort(-np.abs(s.contributions))[:5] + 1)


def test_nearest_matches_brute_force(data):
    x = np.random.default_rng(9).choice([-1.0, 1.0], size=26)
    got = ex.nearest(data.X, data.y, x, k=7)
    brute = sorted(range(len(data)), key=lambda r: (int((data.X[r] != x).sum()), r))[:7]
    assert [g["row"] for g in got] == brute
    for g in got:
        assert g["distance"] == len(g["sites"]) == int((data.X[g["row"]] != x).sum())
        assert g["barrier_ev"] == data.y[g["row"]]
    assert ex.nearest(data.X, data.y, data.X[5], k=1)[0]["distance"] == 0


def test_rows_in_range(data):
    rows = ex.rows_in_range(data.y, 0.2, 0.4, limit=1000)
    assert np.array_equal(rows, np.flatnonzero((data.y >= 0.2) & (data.y <= 0.4)))
    with pytest.raises(ValueError, match="`low` must be <= `high`"):
        ex.rows_in_range(data.y, 1.0, 0.5)


def test_symmetry_images_follow_the_coordinates():
    x = np.random.default_rng(4).choice([-1.0, 1.0], size=26)
    images = ex.symmetry_images(x)
    coords = {tuple(c): i for i, c in enumerate(DEFAULT_SITES.coords.tolist())}
    maps = {
        "mirror_001": lambda c: (c[0], c[1], -c[2]),
        "mirror_1-10": lambda c: (c[1], c[0], c[2]),
        "rotation_110": lambda c: (c[1], c[0], -c[2]),
        "reverse_jump": lambda c: (1 - c[1], 1 - c[0], c[2]),
    }
    for name, g in maps.items():  # the atom on site c moves to site g(c)
        expected = np.empty(26)
        for i, c in enumerate(DEFAULT_SITES.coords.tolist()):
            expected[coords[g(c)]] = x[i]
        np.testing.assert_array_equal(images[name], expected, err_msg=name)
    np.testing.assert_array_equal(images["identity"], x)


def test_symmetry_check_shows_a_broken_network():
    sym = _symmetric_net()
    broken = RBFN(26, 12, seed=5)
    x = np.random.default_rng(6).choice([-1.0, 1.0], size=26)
    rows = ex.symmetry_check({"sym": sym, "broken": broken}, x)
    assert [r["operation"] for r in rows] == ["identity", "mirror_001", "mirror_1-10", "rotation_110", "reverse_jump"]
    assert ex.symmetry_violation(rows, "sym") < 1e-5
    assert ex.symmetry_violation(rows, "broken") > 1e-3
    assert rows[-1]["invariant"] is False


def test_explain_composes_everything(nets, data):
    x = data.X[10]
    e = ex.explain(nets, x, data=data, k_nearest=3)
    assert e.nearest[0]["row"] == 10 and e.nearest[0]["distance"] == 0
    for label, net in nets.items():
        assert abs(e.predictions[label] - net.predict(x[None])[0]) < 1e-6
        assert e.symmetry[0][label] == pytest.approx(e.predictions[label], abs=1e-6)


def test_bad_configuration_names_the_argument(nets):
    with pytest.raises(ValueError, match="`x` must hold only -1"):
        ex.split(nets["pruned"], np.zeros(26))
    with pytest.raises(ValueError, match="`x` must have shape"):
        ex.split(nets["pruned"], np.ones(25))
