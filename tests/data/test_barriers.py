"""rbfviz.data.barriers and rbfviz.data.potential against an independent per-atom energy sum
and the physics sanity figures."""

import threading

import numpy as np
import pytest
import torch

from rbfviz.core.progress import ProgressReport
from rbfviz.data import barriers as B
from rbfviz.data import potential
from rbfviz.data.barriers import (
    GenerationCancelled,
    GeneratorConfig,
    compute_barrier_details,
    compute_barriers,
    generate_dataset,
    isolated_adatom,
    sample_configurations,
)
from rbfviz.data.lattice import DEFAULT_COORDS, DEFAULT_SITES, SURFACE_SYMMETRY

SURFACES = ["100", "110", "111"]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Small chunks run faster on one thread, and much faster when the cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


EAGER64 = GeneratorConfig(dtype="float64", compile="never")
EAGER = GeneratorConfig(compile="never")

# ----------------------------------------------------------------- independent reference
# Cleri-Rosato Cu (lattice-facts §4.1), written out again here on purpose.
A, XI, P, Q, LAT = 0.0855, 1.224, 10.960, 2.278, 3.615
R0 = LAT / np.sqrt(2)
RC = LAT * (np.sqrt(5 / 2) + np.sqrt(3)) / 2  # between the 5th and 6th shells
NORMALS = {"100": (0, 0, 1), "110": (1, -1, 0), "111": (1, -1, 1)}


def total_energy(atoms):
    """Whole-system TB-SMA energy by a plain loop over atoms (float64)."""
    energy = 0.0
    for i in range(len(atoms)):
        r = np.linalg.norm(atoms - atoms[i], axis=1)
        r = r[(r > 1e-9) & (r < RC)]
        energy += np.sum(A * np.exp(-P * (r / R0 - 1)))
        energy -= np.sqrt(np.sum(XI**2 * np.exp(-2 * Q * (r / R0 - 1))))
    return energy


def slab(surface, x_pm1, radius=14.5):
    """Explicit finite slab (Å) around the jump: the fixed half-space plus occupied variable sites."""
    k = int(radius / (LAT / 2)) + 2
    g = np.arange(-k, k + 1)
    pts = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    pts = pts[(pts.sum(1) % 2 == 0)]
    centre = np.array([0.5, 0.5, 0.0])
    pts = pts[np.linalg.norm(pts - centre, axis=1) * LAT / 2 < radius]
    variable = {tuple(c): i for i, c in enumerate(DEFAULT_COORDS.tolist())}
    keep = []
    for p in pts.tolist():
        t = tuple(p)
        if t in ((0, 0, 0), (1, 1, 0)):
            keep.append(False)  # I holds the moving atom (added by the caller), F is empty
        elif t in variable:
            keep.append(x_pm1[variable[t]] > 0)
        else:
            keep.append(np.dot(NORMALS[surface], p) < 0)
    return pts[np.array(keep)] * LAT / 2


def reference_unrelaxed(surface, x_pm1):
    others = slab(surface, x_pm1)
    start = np.vstack([others, [[0.0, 0.0, 0.0]]])
    middle = np.vstack([others, [[LAT / 4, LAT / 4, 0.0]]])
    return total_energy(middle) - total_energy(start)


@pytest.mark.parametrize("surface", SURFACES)
def test_unrelaxed_matches_independent_energy_sum(surface):
    X = sample_configurations(surface, 20, seed=7)
    X[0] = isolated_adatom(surface)
    fast = compute_barriers(X, surface, relaxed=False, config=EAGER64)
    slow = np.array([reference_unrelaxed(surface, x) for x in X])
    np.testing.assert_allclose(fast, slow, atol=1e-6, rtol=0)
    # float32 is close to float64
    np.testing.assert_allclose(compute_barriers(X, surface, relaxed=False), fast, atol=2e-4)


# ----------------------------------------------------------------- physics sanity
UNRELAXED = {"100": 0.609, "110": 0.575, "111": 0.264}
RELAXED = {"100": 0.47, "110": 0.50, "111": 0.10}


@pytest.mark.parametrize("surface", SURFACES)
def test_isolated_adatom_sanity(surface):
    x = isolated_adatom(surface)
    assert compute_barriers(x, surface, relaxed=False)[0] == pytest.approx(UNRELAXED[surface], abs=0.03)
    res = compute_barrier_details(x, surface, config=EAGER)
    assert res.barrier[0] == pytest.approx(RELAXED[surface], abs=0.03)
    assert not res.wall_initial[0] and not res.wall_saddle[0]


def test_isolated_adatom_layout():
    assert (np.flatnonzero(isolated_adatom("110") > 0) + 1).tolist() == [2, 4, 7, 9, 11, 13, 15, 17, 19, 21]
    assert (np.flatnonzero(isolated_adatom("111") > 0) + 1).tolist() == [2, 4, 13, 15, 17, 19, 21, 24, 26]


def test_gradient_and_hessian_match_finite_differences():
    engine = potential.engine_for("110", EAGER64.relaxation)
    region = engine.regions[len(engine.regions) // 2]
    bits = torch.as_tensor(sample_configurations("110", 6, seed=2) > 0, dtype=torch.float64)
    occ, rho = region.state(bits)
    pos = engine.mid + 0.3 * torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    args = (region.X, region.x2, region.XX, occ, rho, rho.sqrt())
    e, g, h = potential._egh(pos, *args)
    eps = 1e-5
    for k in range(3):
        step = torch.zeros(3, dtype=torch.float64)
        step[k] = eps
        ep, gp, _ = potential._egh(pos + step, *args)
        em, gm, _ = potential._egh(pos - step, *args)
        assert torch.allclose((ep - em) / (2 * eps), g[:, k], atol=1e-7)
        assert torch.allclose((gp - gm) / (2 * eps), h[:, :, k], atol=1e-6)


def test_relaxed_converged_in_iterations():
    for surface in SURFACES:
        X = sample_configurations(surface, 150, seed=11)
        base = compute_barriers(X, surface, config=EAGER64)
        more = compute_barriers(
            X,
            surface,
            config=GeneratorConfig(
                dtype="float64", compile="never", iterations_initial=20, iterations_saddle=20, iterations_plane=20
            ),
        )
        assert np.percentile(np.abs(base - more), 99) < 1e-3


@pytest.mark.parametrize("surface", ["100", "110"])
def test_surface_symmetry_gives_equal_barriers(surface):
    perm = DEFAULT_SITES.permutation(SURFACE_SYMMETRY[surface])
    X = sample_configurations(surface, 200, seed=5)
    mirrored = X[:, perm]
    assert not np.array_equal(X, mirrored)
    for relaxed, tol in ((False, 1e-9), (True, 1e-6)):
        a = compute_barriers(X, surface, relaxed, config=EAGER64)
        b = compute_barriers(mirrored, surface, relaxed, config=EAGER64)
        assert np.percentile(np.abs(a - b), 99) < tol
        assert np.abs(a - b).max() < 1e-3


def test_sampling_probabilities_and_determinism():
    X = sample_configurations("100", 20000, seed=1)
    assert X.dtype == np.float32 and set(np.unique(X)) == {-1.0, 1.0}
    layers = DEFAULT_SITES.layers("100")
    q = (X > 0).mean(0)
    assert abs(q[layers < 0].mean() - 0.85) < 0.01
    assert abs(q[layers == 0].mean() - 0.5) < 0.01
    assert abs(q[layers > 0].mean() - 0.15) < 0.01
    np.testing.assert_array_equal(X, sample_configurations("100", 20000, seed=1))


def test_generate_dataset_determinism_and_metadata():
    a = generate_dataset("111", 300, seed=2, cache_dir=False, config=EAGER)
    b = generate_dataset("111", 300, seed=2, cache_dir=False, config=EAGER)
    c = generate_dataset("111", 300, seed=3, cache_dir=False, config=EAGER)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.y, c.y)
    assert a.y.min() >= 0
    m = a.metadata
    assert m["generator_version"] == B.GENERATOR_VERSION
    assert 0 <= m["clipped_fraction"] <= 1 and m["raw_min"] <= a.y.min()
    assert {"wall_initial_fraction", "wall_saddle_fraction", "settings"} <= set(m)
    assert a.source.startswith("generated:")


def test_cache_hit_returns_identical_data(tmp_path, monkeypatch):
    first = generate_dataset("100", 200, seed=4, cache_dir=tmp_path, config=EAGER)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1
    monkeypatch.setattr(B, "_compute", lambda *a, **k: pytest.fail("cache was not used"))
    second = generate_dataset("100", 200, seed=4, cache_dir=tmp_path, config=EAGER)
    np.testing.assert_array_equal(first.X, second.X)
    np.testing.assert_array_equal(first.y, second.y)
    assert second.metadata["cache"] == str(files[0])
    monkeypatch.setenv("RBFVIZ_CACHE_DIR", str(tmp_path / "env"))
    assert B.default_cache_dir() == str(tmp_path / "env")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_broken_cache_file_is_regenerated(tmp_path, damage):
    first = generate_dataset("100", 200, seed=4, cache_dir=tmp_path, config=EAGER)
    (cache,) = tmp_path.glob("*.npz")
    raw = cache.read_bytes()
    cache.write_bytes({"truncate": raw[: len(raw) // 2], "garbage": b"PK\x03\x04" + b"x" * 100, "empty": b""}[damage])
    reports = []
    again = generate_dataset("100", 200, seed=4, cache_dir=tmp_path, config=EAGER, progress=reports.append)
    np.testing.assert_array_equal(again.X, first.X)
    np.testing.assert_array_equal(again.y, first.y)
    assert "cache" not in again.metadata  # computed, not read
    assert reports[-1].fraction == 1.0 and reports[-1].describe().startswith("200/200 rows")
    assert cache.read_bytes() != raw[: len(raw) // 2] and len(list(tmp_path.iterdir())) == 1  # replaced, no tmp left
    assert generate_dataset("100", 200, seed=4, cache_dir=tmp_path, config=EAGER).metadata["cache"] == str(cache)


def test_cancel_and_progress():
    calls = []
    cancel = threading.Event()

    def progress(report):
        assert isinstance(report, ProgressReport) and report.unit == "rows"
        calls.append((report.done, report.total, report.fraction))
        cancel.set()

    cfg = GeneratorConfig(compile="never", chunk_size=64, relaxed=False)
    with pytest.raises(GenerationCancelled, match="after 64 of 256"):
        generate_dataset("100", 256, cache_dir=False, config=cfg, progress=progress, cancel=cancel)
    assert calls == [(64, 256, 0.25)]


def test_input_errors():
    with pytest.raises(ValueError, match=r"2 \* X - 1"):
        compute_barriers(np.zeros((2, 26)), "100")
    with pytest.raises(ValueError, match="surface must be one of"):
        compute_barriers(isolated_adatom("100"), "001")
    with pytest.raises(ValueError, match=r"`occupation_below` must be a probability in \[0, 1\]; got 1.2"):
        GeneratorConfig(occupation_below=1.2)
    with pytest.raises(ValueError, match="`wall_saddle` must be a finite number > 0"):
        GeneratorConfig(wall_saddle=0)
    with pytest.raises(ValueError, match="`n` must be an int >= 1"):
        generate_dataset("100", 0, cache_dir=False)


@pytest.mark.slow
@pytest.mark.skipif(
    not __import__("os").environ.get("RBFVIZ_TEST_COMPILE"),
    reason="compiles the kernel (20-40 s); set RBFVIZ_TEST_COMPILE=1",
)
def test_compiled_kernel_matches_eager():
    X = sample_configurations("111", 4096, seed=1)
    eager = compute_barriers(X, "111", config=EAGER)
    compiled = compute_barriers(X, "111", config=GeneratorConfig(compile="always"))
    assert np.percentile(np.abs(eager - compiled), 99) < 1e-3
