"""rbfviz.data.lattice against the tables of lattice-facts §1-2."""

import numpy as np
import pytest

from rbfviz.data.lattice import (
    DEFAULT_COORDS,
    DEFAULT_SITES,
    FINAL_SITE,
    INITIAL_SITE,
    SURFACE_SYMMETRY,
    SiteTable,
    check_surface,
    is_fcc_site,
)

# 1-based index sets from lattice-facts §1.3 and §2.
NN1_OF_I = {1, 2, 3, 7, 8, 9, 10, 13, 14, 15, 16}
NN2_OF_I = {4, 5, 19, 20, 23, 24}
NN1_OF_F = {4, 5, 6, 9, 10, 11, 12, 15, 16, 17, 18}
NN2_OF_F = {2, 3, 21, 22, 25, 26}
LAYERS = {
    "100": {
        -2: {24, 26},
        -1: set(range(13, 19)),
        0: set(range(1, 7)) | set(range(19, 23)),
        1: set(range(7, 13)),
        2: {23, 25},
    },
    "110": {
        -2: {2, 4, 19, 21},
        -1: {7, 9, 11, 13, 15, 17},
        0: {1, 6, 23, 24, 25, 26},
        1: {8, 10, 12, 14, 16, 18},
        2: {3, 5, 20, 22},
    },
    "111": {
        -1: {2, 4, 13, 15, 17, 19, 21, 24, 26},
        0: {1, 6, 7, 9, 11, 14, 16, 18},
        1: {3, 5, 8, 10, 12, 20, 22, 23, 25},
    },
}
MIRROR_001 = [1, 2, 3, 4, 5, 6, 13, 14, 15, 16, 17, 18, 7, 8, 9, 10, 11, 12, 19, 20, 21, 22, 24, 23, 26, 25]
MIRROR_1M10 = [1, 3, 2, 5, 4, 6, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21, 23, 24, 25, 26]
REVERSE = [6, 4, 5, 2, 3, 1, 11, 12, 9, 10, 7, 8, 17, 18, 15, 16, 13, 14, 21, 22, 19, 20, 25, 26, 23, 24]


def one_based(mask):
    return set((np.flatnonzero(mask) + 1).tolist())


def test_26_distinct_fcc_sites_without_i_and_f():
    coords = DEFAULT_SITES.coords
    assert coords.shape == (26, 3)
    assert len({tuple(c) for c in coords.tolist()}) == 26
    assert is_fcc_site(coords).all()
    for special in (INITIAL_SITE, FINAL_SITE):
        assert not (coords == special).all(axis=1).any()


def test_distance_classes():
    si, sf = DEFAULT_SITES.shell_to_initial, DEFAULT_SITES.shell_to_final
    assert one_based(si == 1) == NN1_OF_I and len(NN1_OF_I) == 11
    assert one_based(si == 2) == NN2_OF_I
    assert one_based(sf == 1) == NN1_OF_F and len(NN1_OF_F) == 11
    assert one_based(sf == 2) == NN2_OF_F
    assert (np.minimum(si, sf) <= 2).all()  # every site is within 2nn of I or F
    groups = np.array(DEFAULT_SITES.groups)
    assert one_based(groups == "C") == {9, 10, 15, 16}
    assert one_based(groups == "P2") == {19, 20, 21, 22}
    assert one_based(groups == "Q2") == {23, 24, 25, 26}


@pytest.mark.parametrize("surface", ["100", "110", "111"])
def test_layer_tables(surface):
    layers = DEFAULT_SITES.layers(surface)
    found = {int(v): one_based(layers == v) for v in np.unique(layers)}
    assert found == LAYERS[surface]


def test_check_surface_normalises_and_rejects():
    assert check_surface("{110}") == "110" and check_surface(111) == "111"
    with pytest.raises(ValueError, match="surface must be one of"):
        check_surface("211")


@pytest.mark.parametrize(
    "name,table", [("mirror_001", MIRROR_001), ("mirror_1-10", MIRROR_1M10), ("reverse_jump", REVERSE)]
)
def test_permutations_match_facts(name, table):
    p = DEFAULT_SITES.permutation(name)
    assert (p + 1).tolist() == table


@pytest.mark.parametrize("name", ["mirror_001", "mirror_1-10", "rotation_110", "reverse_jump"])
def test_permutations_are_involutions_onto_the_site_set(name):
    p = DEFAULT_SITES.permutation(name)
    assert sorted(p.tolist()) == list(range(26))
    assert (p[p] == np.arange(26)).all()


def test_rotation_is_product_of_mirrors():
    m1 = DEFAULT_SITES.permutation("mirror_001")
    m2 = DEFAULT_SITES.permutation("mirror_1-10")
    rot = DEFAULT_SITES.permutation("rotation_110")
    assert (rot == m1[m2]).all() and (rot == m2[m1]).all()


@pytest.mark.parametrize("surface,name", [(s, n) for s, n in SURFACE_SYMMETRY.items() if n])
def test_surface_symmetry_keeps_layers(surface, name):
    p = DEFAULT_SITES.permutation(name)
    layers = DEFAULT_SITES.layers(surface)
    assert (layers[p] == layers).all()


def test_unknown_permutation_is_rejected():
    with pytest.raises(ValueError, match="unknown symmetry"):
        DEFAULT_SITES.permutation("mirror_111")


@pytest.mark.parametrize(
    "coords,match",
    [
        (np.vstack([DEFAULT_COORDS[:25], DEFAULT_COORDS[:1]]), "duplicates"),
        (np.vstack([DEFAULT_COORDS[:25], [[1, 0, 0]]]), "not an FCC lattice site"),
        (np.vstack([DEFAULT_COORDS[:25], [[0, 0, 0]]]), "initial site"),
        (np.vstack([DEFAULT_COORDS[:25], [[1, 1, 0]]]), "final site"),
        (DEFAULT_COORDS[:, :2], "shape"),
    ],
)
def test_site_table_rejects_bad_coords(coords, match):
    with pytest.raises(ValueError, match=match):
        SiteTable(coords)


def test_reordered_round_trip():
    order = np.random.default_rng(0).permutation(26)
    shuffled = DEFAULT_SITES.reordered(order)
    assert (shuffled.coords == DEFAULT_COORDS[order]).all()
    back = shuffled.reordered(np.argsort(order))
    assert (back.coords == DEFAULT_COORDS).all()
    with pytest.raises(ValueError, match="permutation"):
        DEFAULT_SITES.reordered([0] * 26)
