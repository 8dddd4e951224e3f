"""The TB-SMA (Cleri–Rosato) potential of Cu and the batched relaxation engine (lattice-facts §4.1).

This is the physics engine behind :mod:`rbfviz.data.barriers`: the second-moment tight-binding
energy of one moving atom among occupied lattice sites,

    E = Σ_i [ Σ_{j≠i} A exp(-p (r_ij/r0 - 1)) - sqrt( Σ_{j≠i} ξ² exp(-2q (r_ij/r0 - 1)) ) ]

with a hard cutoff between the 5th and 6th neighbour shells, evaluated for a whole batch of
26-site occupations at once.  Only the terms that depend on the moving atom's position are
computed: its pair terms, its own embedding and the change of each neighbour's embedding.
:func:`_egh` returns the energy with its analytic gradient and Hessian; a modified Newton
method with soft walls (:func:`_minimise`) relaxes the atom at the initial site (3 degrees of
freedom) and on dividing planes perpendicular to the jump (2 degrees of freedom).
:class:`Engine` holds the neighbour lists of one (surface, settings) pair and turns a chunk of
occupations into raw barriers; :func:`engine_for` caches engines.

Examples
--------
>>> import torch
>>> from rbfviz.data.barriers import isolated_adatom
>>> eng = engine_for("100", RelaxationConfig())
>>> bits = torch.as_tensor(isolated_adatom("100") > 0, dtype=eng.dtype)[None]  # (1, 26)
>>> barrier, _, _ = eng.run(bits, relaxed=False, use_compile=False)
>>> round(float(barrier[0]), 3)
0.609
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from rbfviz.core.validate import check_choice, check_float, check_int
from rbfviz.data.lattice import (
    _LAYER_DIVISOR,
    DEFAULT_SITES,
    FINAL_SITE,
    HALF_A,
    INITIAL_SITE,
    LATTICE_CONSTANT,
    NN_DISTANCE,
    SURFACE_NORMALS,
)

# --------------------------------------------------------------------------- constants
# Cleri & Rosato, PRB 48, 22 (1993), Cu (lattice-facts §4.1).
A_REP = 0.0855  # eV
XI = 1.224  # eV
P_REP = 10.960
Q_ATT = 2.278
R0 = NN_DISTANCE  # a/√2, Å
# Hard cutoff halfway between the 5th (a·√(5/2)) and 6th (a·√3) neighbour shells, Å.
R_CUT = LATTICE_CONSTANT * (np.sqrt(2.5) + np.sqrt(3.0)) / 2

_JUMP = (FINAL_SITE - INITIAL_SITE) * HALF_A  # (3,) Å
_E_U = np.array([1.0, -1.0, 0.0]) / np.sqrt(2)  # in-plane directions of the dividing planes
_E_W = np.array([0.0, 0.0, 1.0])
_MARGIN = 0.5  # Å beyond the soft wall that the neighbour lists cover
_STEP_TOL = 1e-4  # Å; a row whose Newton step is shorter has converged
MIN_ROWS = 64  # smallest batch given to the (compiled) kernel


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class RelaxationConfig:
    """Settings of the relaxation engine (the relaxation part of ``GeneratorConfig``).

    Parameters
    ----------
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
    """

    wall_initial: float = 0.4
    wall_saddle: float = 0.6
    wall_stiffness: float = 50.0
    num_planes: int = 5
    plane_range: tuple = (0.25, 0.75)
    iterations_initial: int = 8
    iterations_saddle: int = 8
    iterations_plane: int = 5
    min_curvature: float = 0.3
    max_step: float = 0.3
    dtype: str = "float32"
    device: str = "cpu"

    def __post_init__(self):
        for name in ("wall_initial", "wall_saddle", "wall_stiffness", "min_curvature", "max_step"):
            check_float(name, getattr(self, name), low=0, low_open=True)
        check_int("num_planes", self.num_planes, low=1, high=64)
        lo, hi = (float(v) for v in self.plane_range)
        if not 0 < lo <= hi < 1:
            raise ValueError(f"`plane_range` must satisfy 0 < first <= last < 1; got {self.plane_range!r}.")
        object.__setattr__(self, "plane_range", (lo, hi))
        for name in ("iterations_initial", "iterations_saddle", "iterations_plane"):
            check_int(name, getattr(self, name), low=0, high=1000)
        check_choice("dtype", self.dtype, ("float32", "float64"))

    @property
    def plane_fractions(self) -> np.ndarray:
        """Positions of the dividing planes as fractions of the jump, shape (num_planes,)."""
        if self.num_planes == 1:
            return np.array([0.5 * (self.plane_range[0] + self.plane_range[1])])
        return np.linspace(self.plane_range[0], self.plane_range[1], self.num_planes)


# --------------------------------------------------------------------------- potential
def _psi(r):
    """Density contribution ξ² exp(-2q (r/r0 - 1)), eV²."""
    return XI**2 * np.exp(-2 * Q_ATT * (r / R0 - 1))


# --------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class _Neighbours:
    """Sites that can be occupied within reach of the moving atom, for one region."""

    positions: np.ndarray  # (S, 3) Å
    column: np.ndarray  # (S,) index among the 26 sites, or -1 for a fixed occupied site
    base_density: np.ndarray  # (S,) density at s from the fixed atoms, eV²
    density_weights: np.ndarray  # (S, 26) density that occupied site i adds at s, eV²


def _lattice_ball(centre: np.ndarray, radius: float) -> np.ndarray:
    """Integer FCC sites (a/2 units) within ``radius`` Å of ``centre`` (Å)."""
    c = np.round(centre / HALF_A).astype(int)
    k = int(np.ceil(radius / HALF_A)) + 1
    g = np.arange(-k, k + 1)
    pts = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3) + c  # (M, 3)
    pts = pts[pts.sum(1) % 2 == 0]
    return pts[np.linalg.norm(pts * HALF_A - centre, axis=1) < radius]


@functools.lru_cache(maxsize=32)
def _neighbours(surface: str, centre: tuple, reach: float, coords_key: bytes) -> _Neighbours:
    coords = np.frombuffer(coords_key, dtype=np.int64).reshape(-1, 3)  # (26, 3)
    centre = np.asarray(centre, dtype=np.float64)
    normal = np.asarray(SURFACE_NORMALS[surface])
    radius = R_CUT + reach
    pts = _lattice_ball(centre, radius + R_CUT)  # every atom that can touch a listed site
    variable = {tuple(c): i for i, c in enumerate(coords.tolist())}
    special = {tuple(INITIAL_SITE.tolist()), tuple(FINAL_SITE.tolist())}
    keys = [tuple(p) for p in pts.tolist()]
    is_var = np.array([k in variable for k in keys])
    is_special = np.array([k in special for k in keys])
    below = (pts @ normal) // _LAYER_DIVISOR[surface] < 0
    fixed = pts[below & ~is_var & ~is_special] * HALF_A  # (Mf, 3) occupied fixed atoms, Å
    var_pos = coords * HALF_A  # (26, 3)
    near = lambda x: np.linalg.norm(x - centre, axis=1) < radius
    listed_fixed = fixed[near(fixed)]
    listed_var = np.flatnonzero(near(var_pos))
    positions = np.concatenate([var_pos[listed_var], listed_fixed])  # (S, 3)
    column = np.concatenate([listed_var, -np.ones(len(listed_fixed), dtype=np.int64)])

    def density(src):  # (S, len(src)) pair densities inside the cutoff, 0 for the same site
        r = np.linalg.norm(positions[:, None, :] - src[None, :, :], axis=2)
        return np.where((r < R_CUT) & (r > 1e-9), _psi(np.maximum(r, 1e-9)), 0.0)

    return _Neighbours(positions, column, density(fixed).sum(1), density(var_pos))


def _jump_point(fraction: float) -> np.ndarray:
    return INITIAL_SITE * HALF_A + fraction * _JUMP


# --------------------------------------------------------------------------- the kernel
class _Region:
    """Torch tensors of one neighbour list on the compute device."""

    def __init__(self, nb: _Neighbours, dtype, device):
        t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)
        x = nb.positions
        self.X = t(x)  # (S, 3)
        self.x2 = t((x * x).sum(1))  # (S,)
        self.XX = t(
            np.stack(
                [
                    x[:, 0] * x[:, 0],
                    x[:, 1] * x[:, 1],
                    x[:, 2] * x[:, 2],
                    x[:, 0] * x[:, 1],
                    x[:, 0] * x[:, 2],
                    x[:, 1] * x[:, 2],
                ],
                1,
            )
        )  # (S, 6)
        select = np.zeros((26, len(x)))
        is_var = nb.column >= 0
        select[nb.column[is_var], np.flatnonzero(is_var)] = 1.0
        self.select = t(select)  # (26, S)
        self.fixed = t((~is_var).astype(float))  # (S,)
        self.base = t(nb.base_density)  # (S,)
        self.weights_t = t(nb.density_weights.T)  # (26, S)

    def state(self, bits01: torch.Tensor):
        """Occupation (N, S) and clamped background density ρ0 (N, S) for 0/1 bits (N, 26)."""
        occ = torch.addmm(self.fixed, bits01, self.select)  # (N, S)
        rho0 = torch.addmm(self.base, bits01, self.weights_t).clamp_min(1e-10)  # (N, S)
        return occ, rho0


def _energy_fixed(P: torch.Tensor, region: _Region, occ, rho0, sqrt_rho0):
    """Energy of the moving atom at one position P (3,) for every configuration, (N,)."""
    r = torch.linalg.vector_norm(region.X - P, dim=1)  # (S,)
    inside = (r < R_CUT).to(occ.dtype)
    s = r / R0 - 1
    phi = A_REP * torch.exp(-P_REP * s) * inside  # (S,)
    psi = XI**2 * torch.exp(-2 * Q_ATT * s) * inside  # (S,)
    own = occ @ psi  # (N,)
    terms = occ * (2 * phi - torch.sqrt(rho0 + psi) + sqrt_rho0)  # (N, S)
    return terms.sum(1) - torch.sqrt(own.clamp_min(1e-10))


def _egh(P, X, x2, XX, occ, rho0, sqrt_rho0):
    """Energy (N,), gradient (N, 3) and Hessian (N, 3, 3) of the moving atom at P (N, 3).

    Only the terms that depend on P: the atom's pair terms (2φ, each pair counted twice), its
    own embedding and the change of each neighbour's embedding, sqrt(ρ0 + ψ) - sqrt(ρ0).
    """
    r2 = torch.addmm(x2 + (P * P).sum(1, keepdim=True), P, X.T, alpha=-2).clamp_min(1e-8)  # (N, S)
    r = torch.sqrt(r2)  # (N, S)
    oc = occ * (r < R_CUT).to(occ.dtype)  # (N, S)
    s = r / R0 - 1
    phi = (2 * A_REP) * torch.exp(-P_REP * s) * oc  # (N, S) 2φ, masked
    psi = XI**2 * torch.exp(-2 * Q_ATT * s)  # (N, S)
    opsi = psi * oc
    rho_m = opsi.sum(1).clamp_min(1e-10)  # (N,)
    sq_m = torch.sqrt(rho_m)
    sq_j = torch.sqrt(rho0 + psi)  # (N, S)
    energy = (phi - oc * (sq_j - sqrt_rho0)).sum(1) - sq_m  # (N,)
    # dE/dr: 2φ' = -(p/r0)·2φ; the embedding terms give +(q/r0)ψ/sqrt(...) each.
    qr = Q_ATT / R0
    inv_j = 1.0 / sq_j
    g = -(P_REP / R0) * phi + qr * opsi * (inv_j + (1.0 / sq_m)[:, None])  # (N, S)
    a = g / r  # (N, S)
    sum_a = a.sum(1, keepdim=True)  # (N, 1)
    grad = P * sum_a - a @ X  # (N, 3)
    # d²E/dr²: 2φ'' = (p/r0)²·2φ; -sqrt(ρ0+ψ)'' = -ψ''/(2 sq) + ψ'²/(4 sq³); own: -ψ''/(2 sq_m).
    psi2 = (2 * qr) ** 2 * opsi  # oc·ψ''
    alpha = (
        (P_REP / R0) ** 2 * phi
        - psi2 * (0.5 * inv_j)
        + (qr * qr) * opsi * psi * inv_j**3
        - psi2 * (0.5 / sq_m)[:, None]
    )  # (N, S)
    gamma = (alpha - a) / r2  # (N, S)
    sum_g = gamma.sum(1)  # (N,)
    gx = gamma @ X  # (N, 3)
    gxx = gamma @ XX  # (N, 6)
    kappa = (-2 * qr) * opsi / r  # (N, S)  oc·ψ'/r
    drho = P * kappa.sum(1, keepdim=True) - kappa @ X  # (N, 3)  ∇ρ_m
    outer = P[:, :, None] * P[:, None, :]  # (N, 3, 3)
    cross = P[:, :, None] * gx[:, None, :]  # (N, 3, 3)
    sym = torch.stack(
        [gxx[:, 0], gxx[:, 3], gxx[:, 4], gxx[:, 3], gxx[:, 1], gxx[:, 5], gxx[:, 4], gxx[:, 5], gxx[:, 2]], 1
    ).view(-1, 3, 3)  # (N, 3, 3)
    hess = (
        sum_g[:, None, None] * outer
        - cross
        - cross.transpose(1, 2)
        + sym
        + sum_a[:, :, None] * torch.eye(3, dtype=P.dtype, device=P.device)
        + ((0.25 / (rho_m * sq_m))[:, None, None] * drho[:, :, None] * drho[:, None, :])
    )
    return energy, grad, hess


_COMPILED = {}


def _kernel(use_compile: bool):
    if not use_compile:
        return _egh
    if "egh" not in _COMPILED:
        _COMPILED["egh"] = torch.compile(_egh, dynamic=True)
    return _COMPILED["egh"]


# --------------------------------------------------------------------------- Newton solver
def _wall(d: torch.Tensor, radius: float, k: float):
    """Soft wall ½k·relu(|d| - radius)²: energy (N,), gradient (N, m), Hessian (N, m, m)."""
    norm = torch.linalg.vector_norm(d, dim=1).clamp_min(1e-12)  # (N,)
    excess = torch.relu(norm - radius)
    unit = d / norm[:, None]  # (N, m)
    eye = torch.eye(d.shape[1], dtype=d.dtype, device=d.device)
    ratio = (excess / norm)[:, None, None]
    hess = k * (
        ratio * eye + (1 - ratio) * (excess > 0).to(d.dtype)[:, None, None] * unit[:, :, None] * unit[:, None, :]
    )  # (N, m, m)
    return 0.5 * k * excess**2, k * excess[:, None] * unit, hess


# cuSOLVER's batched eigh fails (CUSOLVER_STATUS_INTERNAL_ERROR) on ~10^5 3 × 3 matrices at once
# (shared/notes/gpu-measurements.md); the matrices are independent, so they go in slices this large.
_EIGH_BATCH = 32768


def _batched_eigh(hess: torch.Tensor):
    """``torch.linalg.eigh`` of (N, m, m) symmetric matrices, in slices of ``_EIGH_BATCH``."""
    if hess.shape[0] <= _EIGH_BATCH:
        return torch.linalg.eigh(hess)
    parts = [torch.linalg.eigh(hess[i : i + _EIGH_BATCH]) for i in range(0, hess.shape[0], _EIGH_BATCH)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def _modified_newton_step(grad, hess, min_curv: float, max_step: float):
    """-|H|⁻¹ g with |λ| floored at ``min_curv``, capped at ``max_step`` (N, m)."""
    if hess.shape[1] == 2:  # closed-form 2×2 eigen-decomposition
        a, b, c = hess[:, 0, 0], hess[:, 0, 1], hess[:, 1, 1]
        theta = 0.5 * torch.atan2(2 * b, a - c)
        cos, sin = torch.cos(theta), torch.sin(theta)
        lam1 = a * cos * cos + 2 * b * sin * cos + c * sin * sin
        lam2 = a + c - lam1
        v1 = torch.stack([cos, sin], 1)  # (N, 2)
        v2 = torch.stack([-sin, cos], 1)
        step = -(
            v1 * ((grad * v1).sum(1) / lam1.abs().clamp_min(min_curv))[:, None]
            + v2 * ((grad * v2).sum(1) / lam2.abs().clamp_min(min_curv))[:, None]
        )
    else:
        lam, vec = _batched_eigh(hess)  # (N, m), (N, m, m)
        coef = (vec.transpose(1, 2) @ grad[:, :, None])[:, :, 0] / lam.abs().clamp_min(min_curv)
        step = -(vec @ coef[:, :, None])[:, :, 0]  # (N, m)
    norm = torch.linalg.vector_norm(step, dim=1, keepdim=True)
    return step * torch.clamp(max_step / norm.clamp_min(1e-12), max=1.0)


def _minimise(kernel, region, occ, rho0, sqrt_rho0, origin, basis, d0, radius, cfg, iterations):
    """Minimise E(origin + d @ basis) + wall(d) over d (N, m); keep the best iterate.

    Rows whose Newton step falls below ``_STEP_TOL`` stop iterating (the active rows are
    compacted, so later iterations cost less).  Returns the energy without the wall (N,) and
    the displacement d (N, m) of the best evaluated iterate.
    """
    k = cfg.wall_stiffness
    n = d0.shape[0]
    d = d0.clone()  # (N, m)
    best_total = torch.full((n,), float("inf"), dtype=d.dtype, device=d.device)
    best_energy = torch.zeros(n, dtype=d.dtype, device=d.device)
    best_d = d.clone()
    rows = torch.arange(n, device=d.device)  # active rows
    occ_a, rho_a, sq_a = occ, rho0, sqrt_rho0
    for it in range(iterations + 1):
        d_a = d[rows]  # (n_a, m)
        P = origin + d_a @ basis  # (n_a, 3)
        energy, grad, hess = kernel(P, region.X, region.x2, region.XX, occ_a, rho_a, sq_a)
        w_e, w_g, w_h = _wall(d_a, radius, k)
        total = energy + w_e
        better = total < best_total[rows]
        best_total[rows] = torch.where(better, total, best_total[rows])
        best_energy[rows] = torch.where(better, energy, best_energy[rows])
        best_d[rows] = torch.where(better[:, None], d_a, best_d[rows])
        if it == iterations:
            break
        g = grad @ basis.T + w_g  # (n_a, m)
        h = basis @ hess @ basis.T + w_h  # (n_a, m, m)
        step = _modified_newton_step(g, h, cfg.min_curvature, cfg.max_step)
        d[rows] = d_a + step
        moving = torch.linalg.vector_norm(step, dim=1) > _STEP_TOL
        if not bool(moving.all()):
            keep = moving.nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            if keep.numel() >= MIN_ROWS:  # tiny batches would make torch.compile recompile
                rows, occ_a, rho_a, sq_a = rows[keep], occ_a[keep], rho_a[keep], sq_a[keep]
    return best_energy, best_d


# --------------------------------------------------------------------------- the public object: one chunk
class Engine:
    """Everything of one (surface, config) needed to evaluate chunks (:meth:`run`)."""

    def __init__(self, surface: str, cfg: RelaxationConfig, sites=DEFAULT_SITES):
        self.cfg = cfg
        self.dtype = getattr(torch, cfg.dtype)
        self.device = torch.device(cfg.device)
        key = np.ascontiguousarray(sites.coords, dtype=np.int64).tobytes()
        fractions = cfg.plane_fractions
        mid = _jump_point(0.5)
        region = lambda centre, reach: _Region(
            _neighbours(surface, tuple(float(v) for v in centre), float(reach), key), self.dtype, self.device
        )
        self.initial = region(INITIAL_SITE * HALF_A, cfg.wall_initial + _MARGIN)
        self.middle = region(mid, 0.0)  # unrelaxed saddle: the atom stays at the midpoint
        self.regions = [region(_jump_point(f), cfg.wall_saddle + _MARGIN) for f in fractions]
        t = lambda a: torch.as_tensor(np.asarray(a, dtype=float), dtype=self.dtype, device=self.device)
        self.origin_i = t(INITIAL_SITE * HALF_A)  # (3,)
        self.mid = t(mid)
        self.basis_i = torch.eye(3, dtype=self.dtype, device=self.device)  # (3, 3)
        self.basis_s = t(np.stack([_E_U, _E_W]))  # (2, 3)
        self.planes = [t(_jump_point(f)) for f in fractions]
        self.plane_fractions = fractions

    def run(self, bits01: torch.Tensor, relaxed: bool, use_compile: bool):
        """Raw barriers (N,) and wall flags for one chunk of 0/1 bits (N, 26)."""
        cfg = self.cfg
        occ_i, rho_i = self.initial.state(bits01)  # (N, S_i)
        sq_i = torch.sqrt(rho_i)
        n = bits01.shape[0]
        if not relaxed:
            occ_m, rho_m = self.middle.state(bits01)  # (N, S_m)
            e_i = _energy_fixed(self.origin_i, self.initial, occ_i, rho_i, sq_i)
            e_s = _energy_fixed(self.mid, self.middle, occ_m, rho_m, torch.sqrt(rho_m))
            false = torch.zeros(n, dtype=torch.bool, device=bits01.device)
            return e_s - e_i, false, false
        kernel = _kernel(use_compile)
        zeros3 = torch.zeros(n, 3, dtype=self.dtype, device=self.device)
        e_i, d_i = _minimise(
            kernel,
            self.initial,
            occ_i,
            rho_i,
            sq_i,
            self.origin_i,
            self.basis_i,
            zeros3,
            cfg.wall_initial,
            cfg,
            cfg.iterations_initial,
        )
        # Planes: the one nearest the midpoint first, then outwards, each warm-started from its
        # inner neighbour's in-plane minimum.
        fr = self.plane_fractions
        order = np.argsort(np.abs(fr - 0.5), kind="stable")
        first = int(order[0])
        solved = {}

        def plane(j, start, iterations):
            region = self.regions[j]
            occ, rho = region.state(bits01)  # (N, S_j)
            return _minimise(
                kernel,
                region,
                occ,
                rho,
                torch.sqrt(rho),
                self.planes[j],
                self.basis_s,
                start,
                cfg.wall_saddle,
                cfg,
                iterations,
            )

        zeros2 = torch.zeros(n, 2, dtype=self.dtype, device=self.device)
        solved[first] = plane(first, zeros2, cfg.iterations_saddle)
        for step in (1, -1):
            prev = first
            for j in range(first + step, len(fr) if step > 0 else -1, step):
                solved[j] = plane(j, solved[prev][1], cfg.iterations_plane)
                prev = j
        energies = torch.stack([solved[j][0] for j in range(len(fr))], 1)  # (N, K)
        e_s, arg = energies.max(1)  # (N,)
        d_s = torch.stack([solved[j][1] for j in range(len(fr))], 1)  # (N, K, 2)
        d_best = d_s[torch.arange(n, device=d_s.device), arg]  # (N, 2)
        tol = 1e-6
        wall_i = torch.linalg.vector_norm(d_i, dim=1) > cfg.wall_initial + tol
        wall_s = torch.linalg.vector_norm(d_best, dim=1) > cfg.wall_saddle + tol
        return e_s - e_i, wall_i, wall_s


@functools.lru_cache(maxsize=16)
def engine_for(surface: str, cfg: RelaxationConfig) -> Engine:
    """The :class:`Engine` of ``surface`` and ``cfg``, built once per process (both are hashable)."""
    return Engine(surface, cfg)
