"""Physics-based generator of Cu migration barriers on a rigid lattice (lattice-facts §2, §4.1).

The paper's data (§3.2.1) are barriers of a 1nn jump of a Cu atom from I = (0, 0, 0) to the
vacant site F = (1, 1, 0) (a/2 units), in an environment of 26 sites embedded in a {100}, {110}
or {111} surface.  The published data need a download; this module makes data of the same kind
from the Cleri–Rosato tight-binding second-moment (TB-SMA) potential for Cu with a hard cutoff
between the 5th and 6th neighbour shells:

    E = Σ_i [ Σ_{j≠i} A exp(-p (r_ij/r0 - 1)) - sqrt( Σ_{j≠i} ξ² exp(-2q (r_ij/r0 - 1)) ) ]

Embedding: vacuum on the + side of :data:`rbfviz.lattice.SURFACE_NORMALS`; every lattice site
other than the 26 (and I, F) is occupied below the migrating atom's layer and empty otherwise.

What the model approximates
    One moving atom on a rigid lattice.  ``relaxed=False`` ("unrelaxed") gives
    E(atom at the midpoint of I and F) - E(atom at I), with no free parameter.  ``relaxed=True``
    relaxes the migrating atom at the initial state (3 degrees of freedom, bounded by a soft
    wall) and takes as saddle energy the maximum over several planes perpendicular to the jump
    of the in-plane minimum (2 degrees of freedom, soft wall; by default 5 planes at 25-75 %
    of the jump, warm-started from the central one).  The max-min over planes is a lower
    bound of the minimum-energy-path barrier of the moving atom; a single dividing plane
    would miss the fcc -> hcp bridge on {111} (≈0.10 eV for an isolated adatom, not ≈0).
    Both modes use a modified Newton method with the analytic gradient and Hessian; the
    potential and this engine live in :mod:`rbfviz.data.potential`, this module is the public
    generator API (settings, sampling, chunked evaluation, cache).
What it leaves out
    Relaxation of every other atom (substrate and neighbours), exchange mechanisms, and any
    path that leaves the soft walls.  Rows where a wall was active are flagged
    (:class:`BarrierResult`); raw barriers can be negative (the final site is lower and the
    walls keep the atom near the straight path) and are clipped at 0 for training data.

Examples
--------
>>> from rbfviz.data.barriers import compute_barriers, isolated_adatom
>>> round(float(compute_barriers(isolated_adatom("100"), "100", relaxed=False)[0]), 3)
0.609
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import zipfile
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch

from rbfviz.core.progress import StepProgress, cancel_requested
from rbfviz.core.validate import check_choice, check_int, check_occupations, check_probability
from rbfviz.data.lattice import DEFAULT_SITES, check_surface
from rbfviz.data.potential import MIN_ROWS, RelaxationConfig, engine_for

# --------------------------------------------------------------------------- constants
GENERATOR_VERSION = "1"  # bump whenever generated numbers change (it keys the disk cache)
# torch.compile takes ~20-30 s on 2 CPU cores (less with inductor's disk cache warm); eager
# runs at roughly a fifth of the compiled rate.  Compile only for large calls, or when this
# process has compiled the kernel already.
_COMPILE_MIN_N = 40_000


class GenerationCancelled(RuntimeError):
    """Raised by :func:`generate_dataset` when its ``cancel`` event is set."""


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class GeneratorConfig:
    """Settings of the barrier generator (one frozen object, saved with generated data).

    Parameters
    ----------
    occupation_below, occupation_in_layer, occupation_above : float, default=0.85, 0.5, 0.15
        Probability that a site of the 26 is occupied when it lies below, in, or above the
        migrating atom's layer (:func:`sample_configurations`).
    relaxed : bool, default=True
        Relax the migrating atom (else the unrelaxed midpoint barrier).
    wall_initial, wall_saddle : float, default=0.4, 0.6
        Radius (Å) of the soft wall around I (3-D) and around each plane's point on the jump
        line (2-D, in the plane).
    wall_stiffness : float, default=50.0
        k of the wall energy ½·k·relu(|d| - radius)², eV/Å².
    num_planes : int, default=5
        Dividing planes perpendicular to the jump, evenly spaced over ``plane_range``.
    plane_range : (float, float), default=(0.25, 0.75)
        First and last plane as fractions of the jump from I to F.
    iterations_initial, iterations_saddle, iterations_plane : int, default=8, 8, 5
        Newton iterations at I, on the central plane, and on each warm-started other plane.
    min_curvature : float, default=0.3
        Floor (eV/Å²) of the Hessian eigenvalue magnitudes in the modified Newton step.
    max_step : float, default=0.3
        Largest Newton step, Å.
    dtype : {"float32", "float64"}, default="float32"
    device : str, default="cpu"
        Torch device, e.g. ``"cuda"``.
    chunk_size : int, default=8192
        Configurations per vectorised chunk.
    compile : {"auto", "never", "always"}, default="auto"
        Use ``torch.compile`` on the energy kernel of the relaxed mode.  "auto" compiles for
        calls of at least 40,000 rows, or once this process has compiled it already, and falls
        back to eager if compiling fails.  The first compile takes ~10-30 s on 2 CPU cores.
    num_threads : int or None, default=None
        If set, ``torch.set_num_threads`` for the duration of a call (restored afterwards).
        On a small, shared CPU one thread is often much faster than two.

    Examples
    --------
    >>> GeneratorConfig(wall_saddle=0.5).num_planes
    5
    """

    occupation_below: float = 0.85
    occupation_in_layer: float = 0.5
    occupation_above: float = 0.15
    relaxed: bool = True
    wall_initial: float = RelaxationConfig.wall_initial
    wall_saddle: float = RelaxationConfig.wall_saddle
    wall_stiffness: float = RelaxationConfig.wall_stiffness
    num_planes: int = RelaxationConfig.num_planes
    plane_range: tuple = RelaxationConfig.plane_range
    iterations_initial: int = RelaxationConfig.iterations_initial
    iterations_saddle: int = RelaxationConfig.iterations_saddle
    iterations_plane: int = RelaxationConfig.iterations_plane
    min_curvature: float = RelaxationConfig.min_curvature
    max_step: float = RelaxationConfig.max_step
    dtype: str = RelaxationConfig.dtype
    device: str = RelaxationConfig.device
    chunk_size: int = 8192
    compile: str = "auto"
    num_threads: int | None = None

    def __post_init__(self):
        for name in ("occupation_below", "occupation_in_layer", "occupation_above"):
            check_probability(name, getattr(self, name))
        if not isinstance(self.relaxed, (bool, np.bool_)):
            raise TypeError(f"`relaxed` must be a bool; got {self.relaxed!r}.")
        object.__setattr__(self, "relaxed", bool(self.relaxed))
        object.__setattr__(self, "plane_range", self.relaxation.plane_range)  # validates those fields
        check_int("chunk_size", self.chunk_size, low=1)
        check_choice("compile", self.compile, ("auto", "never", "always"))
        if self.num_threads is not None:
            check_int("num_threads", self.num_threads, low=1)

    @property
    def relaxation(self) -> RelaxationConfig:
        """The engine's settings (:class:`rbfviz.data.potential.RelaxationConfig`) taken from these."""
        return RelaxationConfig(**{f.name: getattr(self, f.name) for f in fields(RelaxationConfig)})

    @property
    def plane_fractions(self) -> np.ndarray:
        """Positions of the dividing planes as fractions of the jump, shape (num_planes,)."""
        return self.relaxation.plane_fractions


@dataclass
class BarrierResult:
    """Raw barriers and where the soft walls were active.

    Attributes
    ----------
    barrier : ndarray, shape (N,), float64
        Raw barrier in eV (not clipped; can be negative).
    wall_initial, wall_saddle : ndarray, shape (N,), bool
        The relaxed atom ended outside the wall radius at the initial state / on the plane
        that set the saddle energy (always False in unrelaxed mode).
    """

    barrier: np.ndarray
    wall_initial: np.ndarray
    wall_saddle: np.ndarray


# --------------------------------------------------------------------------- chunked evaluation
_COMPILE_OK: dict = {}  # "ok": False once a compile failed; "warm": True once one succeeded


def _use_compile(cfg: GeneratorConfig, n: int, relaxed: bool) -> bool:
    if not relaxed or cfg.compile == "never":
        return False
    if cfg.compile == "always":
        return True
    if not _COMPILE_OK.get("ok", True):
        return False
    return n >= _COMPILE_MIN_N or _COMPILE_OK.get("warm", False)


# --------------------------------------------------------------------------- public API
def _resolve_config(config) -> GeneratorConfig:
    if config is None:
        return GeneratorConfig()
    if not isinstance(config, GeneratorConfig):
        raise TypeError(f"`config` must be a GeneratorConfig or None; got {type(config).__name__}.")
    return config


def _compute(
    X: np.ndarray, surface: str, cfg: GeneratorConfig, relaxed: bool, progress=None, cancel=None, t0=None
) -> BarrierResult:
    engine = engine_for(surface, cfg.relaxation)
    n = len(X)
    out = np.empty(n, dtype=np.float64)
    wall_i = np.zeros(n, dtype=bool)
    wall_s = np.zeros(n, dtype=bool)
    use_compile = _use_compile(cfg, n, relaxed)
    threads = torch.get_num_threads()
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    try:
        t0 = time.perf_counter() if t0 is None else t0
        _run_chunks(X, engine, cfg, relaxed, use_compile, out, wall_i, wall_s, progress, cancel, t0)
    finally:
        if cfg.num_threads is not None:
            torch.set_num_threads(threads)
    return BarrierResult(out, wall_i, wall_s)


def _run_chunks(X, engine, cfg, relaxed, use_compile, out, wall_i, wall_s, progress, cancel, t0):
    n, size = len(X), cfg.chunk_size
    with torch.no_grad():
        for start in range(0, n, size):
            if cancel_requested(cancel):
                raise GenerationCancelled(f"barrier generation cancelled after {start} of {n} rows")
            stop = min(start + size, n)
            bits = torch.as_tensor((X[start:stop] > 0), dtype=engine.dtype, device=engine.device)  # (n_c, 26)
            try:
                b, wi, ws = engine.run(bits, relaxed, use_compile and stop - start >= MIN_ROWS)
            except Exception:  # a failed compile falls back to eager, once and for all
                if not use_compile or cfg.compile == "always":
                    raise
                _COMPILE_OK["ok"] = False
                use_compile = False
                b, wi, ws = engine.run(bits, relaxed, False)
            if use_compile:
                _COMPILE_OK["warm"] = True
            out[start:stop] = b.double().cpu().numpy()
            wall_i[start:stop] = wi.cpu().numpy()
            wall_s[start:stop] = ws.cpu().numpy()
            if progress is not None:
                progress(StepProgress(done=stop, total=n, elapsed=time.perf_counter() - t0, unit="rows"))


def compute_barriers(X, surface, relaxed=True, *, config=None) -> np.ndarray:
    """Raw migration barriers (eV) of configurations ``X`` embedded in ``surface``.

    Parameters
    ----------
    X : array-like, shape (N, 26) or (26,)
        Occupations in ±1 (occupied = +1, vacant = -1), site order of
        :data:`rbfviz.lattice.DEFAULT_SITES`.
    surface : {"100", "110", "111"}
    relaxed : bool, default=True
        Relax the migrating atom (multi-plane max-min saddle); False gives the rigid midpoint
        barrier.  Overrides ``config.relaxed``.
    config : GeneratorConfig, optional
        Walls, iterations, dtype, device, chunk size.

    Returns
    -------
    ndarray, shape (N,), float64
        Raw barriers (not clipped at 0).

    Examples
    --------
    >>> x = isolated_adatom("110")
    >>> round(float(compute_barriers(x, "110", relaxed=False)[0]), 3)
    0.575
    """
    cfg = _resolve_config(config)
    return _compute(check_occupations("X", X), check_surface(surface), cfg, bool(relaxed)).barrier


def compute_barrier_details(X, surface, *, config=None) -> BarrierResult:
    """Raw barriers and soft-wall flags (mode from ``config.relaxed``).

    Examples
    --------
    >>> res = compute_barrier_details(isolated_adatom("100"), "100")
    >>> bool(res.wall_initial[0]), round(float(res.barrier[0]), 2)
    (False, 0.47)
    """
    cfg = _resolve_config(config)
    return _compute(check_occupations("X", X), check_surface(surface), cfg, cfg.relaxed)


def occupation_probabilities(surface, *, config=None) -> np.ndarray:
    """Occupation probability of each of the 26 sites from its layer, shape (26,).

    Examples
    --------
    >>> occupation_probabilities("100")[[0, 6, 12]].tolist()
    [0.5, 0.15, 0.85]
    """
    cfg = _resolve_config(config)
    layers = DEFAULT_SITES.layers(check_surface(surface))
    return np.where(
        layers < 0, cfg.occupation_below, np.where(layers == 0, cfg.occupation_in_layer, cfg.occupation_above)
    )


def sample_configurations(surface, n, *, seed=0, config=None) -> np.ndarray:
    """Random environments: each site occupied independently with its layer's probability.

    Returns
    -------
    ndarray, shape (n, 26), float32 in ±1

    Examples
    --------
    >>> sample_configurations("111", 3, seed=1).shape
    (3, 26)
    """
    n = check_int("n", n, low=0)
    seed = check_int("seed", seed)
    q = occupation_probabilities(surface, config=config)  # (26,)
    u = np.random.default_rng(seed).random((n, 26))  # (n, 26)
    return np.where(u < q, 1.0, -1.0).astype(np.float32)


def isolated_adatom(surface) -> np.ndarray:
    """An adatom on a flat terrace: the sites below its layer occupied, the rest empty.

    Examples
    --------
    >>> np.flatnonzero(isolated_adatom("100") > 0).tolist()  # sites 13-18, 24, 26 (1-based)
    [12, 13, 14, 15, 16, 17, 23, 25]
    """
    layers = DEFAULT_SITES.layers(check_surface(surface))
    return np.where(layers < 0, 1.0, -1.0).astype(np.float32)


def default_cache_dir() -> str:
    """``$RBFVIZ_CACHE_DIR`` if set, else ``~/.cache/rbfviz``."""
    return os.environ.get("RBFVIZ_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "rbfviz")


def _settings(surface: str, n: int, seed: int, cfg: GeneratorConfig) -> dict:
    settings = asdict(cfg)
    settings.pop("device")  # numbers do not depend on where they were computed
    settings.pop("chunk_size")
    settings.pop("compile")
    settings.pop("num_threads")
    return {"surface": surface, "n": n, "seed": seed, "config": settings, "generator_version": GENERATOR_VERSION}


def generate_dataset(surface, n, *, seed=0, config=None, cache_dir=None, progress=None, cancel=None):
    """Sample ``n`` environments and compute their barriers: a ready training set.

    Parameters
    ----------
    surface : {"100", "110", "111"}
    n : int
        Number of rows.
    seed : int, default=0
        Seed of :func:`sample_configurations`.
    config : GeneratorConfig, optional
        ``config.relaxed`` picks the mode (default relaxed).
    cache_dir : str, os.PathLike, None or False, default=None
        Directory of the ``.npz`` cache, keyed by a hash of the settings and
        :data:`GENERATOR_VERSION`; None uses :func:`default_cache_dir`, False disables caching.
        A cache file that cannot be read (truncated, corrupt, wrong shape) is regenerated.
    progress : callable, optional
        Called after each chunk with a :class:`rbfviz.core.progress.StepProgress` of rows
        (``done``, ``total``, ``fraction``, ``elapsed``, ``describe()``), the project's one
        progress protocol (:mod:`rbfviz.core.progress`).
    cancel : object with ``is_set()``, optional
        E.g. a ``threading.Event``; when set, :class:`GenerationCancelled` is raised.

    Returns
    -------
    rbfviz.datasets.Dataset
        ``y`` is the raw barrier clipped at 0.  ``metadata`` holds the raw-barrier statistics,
        the clipped fraction, the wall-active fractions, the settings and the version.

    Examples
    --------
    >>> ds = generate_dataset("100", 50, seed=3, cache_dir=False)
    >>> len(ds), ds.surface, bool(ds.y.min() >= 0)
    (50, '100', True)
    >>> fast = GeneratorConfig(relaxed=False)  # the rigid midpoint barrier
    >>> generate_dataset("111", 10, config=fast, cache_dir=False).metadata["mode"]
    'unrelaxed'
    """
    from rbfviz.data.datasets import Dataset

    surface = check_surface(surface)
    n = check_int("n", n, low=1)
    seed = check_int("seed", seed)
    cfg = _resolve_config(config)
    settings = _settings(surface, n, seed, cfg)
    t0 = time.perf_counter()
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]
    mode = "relaxed" if cfg.relaxed else "unrelaxed"
    source = f"generated:TB-SMA Cu {mode} {{{surface}}} n={n} seed={seed}"
    path = None
    if cache_dir is not False:
        directory = os.fspath(cache_dir) if cache_dir is not None else default_cache_dir()
        path = os.path.join(directory, f"barriers_{surface}_{mode}_{n}_{seed}_{digest}.npz")
        if os.path.exists(path):
            try:
                with np.load(path, allow_pickle=False) as f:
                    metadata = json.loads(str(f["metadata"]))
                    metadata["cache"] = path
                    cached = Dataset(X=f["X"], y=f["y"], surface=surface, source=source, metadata=metadata)
                if len(cached) != n:
                    raise ValueError(f"{path}: {len(cached)} rows cached, {n} expected")
                if progress is not None:
                    progress(StepProgress(done=n, total=n, elapsed=time.perf_counter() - t0, unit="rows"))
                return cached
            except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
                pass  # a truncated or broken cache file is regenerated (and replaced) below
    X = sample_configurations(surface, n, seed=seed, config=cfg)
    res = _compute(X, surface, cfg, cfg.relaxed, progress=progress, cancel=cancel, t0=t0)
    raw = res.barrier
    metadata = {
        "generator": "rbfviz.data.barriers",
        "generator_version": GENERATOR_VERSION,
        "settings": settings,
        "mode": mode,
        "raw_mean": float(raw.mean()),
        "raw_std": float(raw.std()),
        "raw_min": float(raw.min()),
        "raw_max": float(raw.max()),
        "clipped_fraction": float((raw < 0).mean()),
        "wall_initial_fraction": float(res.wall_initial.mean()),
        "wall_saddle_fraction": float(res.wall_saddle.mean()),
        "seconds": time.perf_counter() - t0,
    }
    y = np.maximum(raw, 0.0)
    if path is not None:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp.npz"
            np.savez(
                tmp,
                X=X,
                y=y,
                raw=raw,
                wall_initial=res.wall_initial,
                wall_saddle=res.wall_saddle,
                metadata=np.array(json.dumps(metadata)),
            )
            os.replace(tmp, path)
        except OSError:  # caching is best effort (read-only or full disk)
            if os.path.exists(tmp):
                os.unlink(tmp)
    return Dataset(X=X, y=y, surface=surface, source=source, metadata=metadata)
