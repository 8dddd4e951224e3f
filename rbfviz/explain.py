"""Explain one prediction: the additive split of eq. (2), nearest data, and the jump's symmetry.

For a configuration x ∈ {−1, +1}^26 (occupied = +1) an RBFN's barrier in eV is exactly

    E(x) = (m + s α) + Σ_k s β_k φ_k(x),     φ_k(x) = exp(−γ ‖x − Θ_k‖²)      (paper eq. 2)

with the target mean m and scale s; each term s β_k φ_k(x) is what prototype k adds to the
barrier (positive: pushes it up).  Besides the split, :func:`explain` gives the predictions of the
large and the pruned network, the nearest configurations of a data set (Hamming distance) with
their barriers, and the images of x under the C2v operations that keep the jump I → F fixed
(paper §3.2.2: the barrier must not change) and under the reverse jump F → I (it may).

Examples
--------
>>> import numpy as np
>>> from rbfviz.core.model import RBFN
>>> net = RBFN(26, 4, seed=0)
>>> x = np.ones(26)
>>> s = split(net, x)
>>> bool(abs(s.total - net.predict(x[None])[0]) < 1e-5)
True
>>> sorted(symmetry_images(x))
['identity', 'mirror_001', 'mirror_1-10', 'reverse_jump', 'rotation_110']
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from rbfviz.core.model import RBFN
from rbfviz.core.validate import check_int, check_occupations
from rbfviz.data.lattice import DEFAULT_SITES, SiteTable

# --------------------------------------------------------------------------- constants
C2V = ("identity", "mirror_001", "mirror_1-10", "rotation_110")  # keep I and F: barrier invariant
REVERSE = "reverse_jump"  # I <-> F: the backward jump's environment (its barrier may differ)
DEFAULT_NEAREST = 5


# --------------------------------------------------------------------------- small pieces
def _one(name: str, x, num_sites: int) -> np.ndarray:
    X = check_occupations(name, x, num_sites=num_sites)  # (1, D)
    if len(X) != 1:
        raise ValueError(f"`{name}` must be one configuration of {num_sites} sites; got {len(X)} rows.")
    return X[0].astype(np.float64)  # (D,)


def _params(model: RBFN):
    if not isinstance(model, RBFN):
        raise TypeError(f"`model` must be an RBFN; got {type(model).__name__}.")
    with torch.no_grad():
        theta = model.centroids.detach().double().cpu().numpy()  # (K, D)
        beta = model.weights.detach().double().cpu().numpy()  # (K,)
        return float(model.bias.double()), float(model.gamma.double()), beta, theta


@dataclass(frozen=True)
class Split:
    """E(x) = offset + Σ_k contributions[k], all in eV (float64).

    Attributes
    ----------
    offset : float
        m + s α, the barrier when no prototype responds.
    contributions : numpy.ndarray, shape (K,)
        s β_k φ_k(x), in the network's stored order.
    kernel : numpy.ndarray, shape (K,)
        φ_k(x) = exp(−γ ‖x − Θ_k‖²) in [0, 1].
    weights_ev : numpy.ndarray, shape (K,)
        s β_k, the most prototype k can add.
    """

    offset: float
    contributions: np.ndarray
    kernel: np.ndarray
    weights_ev: np.ndarray

    @property
    def total(self) -> float:
        """The barrier in eV (the sum of the split)."""
        return float(self.offset + self.contributions.sum())

    def order(self) -> np.ndarray:
        """Prototype indices from the one that raises the barrier most to the one that lowers it most."""
        return np.argsort(-self.contributions, kind="stable")

    def rows(self, top: int | None = None) -> list[dict]:
        """Sorted rows (prototype 1-based, contribution, φ, sβ) for tables and bar charts; ``top`` by |contribution|."""
        idx = self.order()
        if top is not None and top < len(idx):
            keep = set(np.argsort(-np.abs(self.contributions), kind="stable")[:top].tolist())
            idx = np.array([i for i in idx if i in keep])
        return [
            {
                "prototype": int(i) + 1,
                "contribution_ev": float(self.contributions[i]),
                "kernel": float(self.kernel[i]),
                "weight_ev": float(self.weights_ev[i]),
            }
            for i in idx
        ]


def _barriers(model: RBFN, X: np.ndarray) -> np.ndarray:
    """E(x) for the rows of X (N, D) in float64 NumPy: the same sum as :func:`split`, no torch dispatch."""
    alpha, gamma, beta, theta = _params(model)
    d2 = ((X[:, None, :] - theta[None, :, :]) ** 2).sum(-1)  # (N, K)
    f = alpha + np.exp(-gamma * d2) @ beta  # (N,)
    return model.target_mean + model.target_scale * f


def split(model: RBFN, x) -> Split:
    """The exact additive split of eq. (2) at one configuration, in eV (float64).

    Parameters
    ----------
    model : RBFN
    x : array-like, shape (26,)
        ±1 occupations (occupied = +1).

    Returns
    -------
    Split

    Examples
    --------
    >>> net = RBFN(26, 3, seed=1)
    >>> s = split(net, -np.ones(26))
    >>> s.contributions.shape, bool(np.all((s.kernel > 0) & (s.kernel <= 1)))
    ((3,), True)
    """
    alpha, gamma, beta, theta = _params(model)
    x = _one("x", x, model.num_inputs)  # (D,)
    mean = model.target_mean
    scale = model.target_scale
    kernel = np.exp(-gamma * ((x[None, :] - theta) ** 2).sum(1))  # (K,)
    return Split(mean + scale * alpha, scale * beta * kernel, kernel, scale * beta)


def nearest(X, y, x, k: int = DEFAULT_NEAREST) -> list[dict]:
    """The ``k`` rows of a data set closest to ``x`` in Hamming distance (ties by row), with barriers.

    Parameters
    ----------
    X : array-like, shape (N, 26)
        ±1 occupations of the data set.
    y : array-like, shape (N,)
        Barriers in eV.
    x : array-like, shape (26,)
    k : int, default=5

    Returns
    -------
    list of dict
        ``row``, ``distance`` (number of differing sites), ``barrier_ev``, ``sites`` (1-based
        sites where the row differs from ``x``).

    Examples
    --------
    >>> X = np.array([[1.0] * 26, [-1.0] * 26])
    >>> [r["distance"] for r in nearest(X, [0.3, 0.7], np.ones(26), k=2)]
    [0, 26]
    """
    X = np.asarray(X, dtype=np.float32)  # (N, D)
    y = np.asarray(y, dtype=np.float64)  # (N,)
    x = _one("x", x, X.shape[1]).astype(np.float32)  # (D,)
    k = check_int("k", k, low=0)
    if len(X) == 0 or k == 0:
        return []
    distance = ((X.shape[1] - X @ x) / 2).round().astype(np.int64)  # (N,): ±1 dot product → mismatches
    k = min(k, len(X))
    kth = np.partition(distance, k - 1)[k - 1]
    cand = np.flatnonzero(distance <= kth)  # every row that ties with the k-th
    rows = cand[np.lexsort((cand, distance[cand]))][:k]  # by distance, then by row
    return [
        {
            "row": int(r),
            "distance": int(distance[r]),
            "barrier_ev": float(y[r]),
            "sites": (np.flatnonzero(X[r] != x) + 1).tolist(),
        }
        for r in rows
    ]


def rows_in_range(y, low: float, high: float, limit: int = 100) -> np.ndarray:
    """Indices of the (first ``limit``) rows whose barrier lies in [low, high] eV.

    Examples
    --------
    >>> rows_in_range([0.1, 0.5, 0.9, 0.6], 0.4, 0.7).tolist()
    [1, 3]
    """
    if not low <= high:
        raise ValueError(f"`low` must be <= `high`; got low={low!r}, high={high!r}.")
    y = np.asarray(y, dtype=np.float64)
    return np.flatnonzero((y >= low) & (y <= high))[: check_int("limit", limit, low=0)]


def symmetry_images(x, sites: SiteTable = DEFAULT_SITES) -> dict[str, np.ndarray]:
    """Images of ``x`` under the C2v operations of the jump (:data:`C2V`) and the reverse jump.

    The C2v images describe the same physical environment (the barrier must be the same); the
    reverse jump is the environment of the backward jump F → I in the same frame.

    Examples
    --------
    >>> x = -np.ones(26); x[22] = 1  # site 23 at (0, 0, 2)
    >>> int(np.flatnonzero(symmetry_images(x)["mirror_001"] > 0)[0]) + 1  # (0, 0, -2)
    24
    """
    x = _one("x", x, sites.num_sites)  # (D,)
    out = {"identity": x.copy()}
    for name in (*C2V[1:], REVERSE):
        out[name] = x[sites.permutation(name)]  # (D,), site i takes the value of site p[i]
    return out


def symmetry_check(models: dict, x, sites: SiteTable = DEFAULT_SITES) -> list[dict]:
    """Predictions (eV) of each network for every image of :func:`symmetry_images`.

    Returns
    -------
    list of dict
        One row per operation: ``operation``, ``invariant`` (True for C2v), ``changed_sites`` and,
        per network label, the barrier and its deviation from the identity (``"<label> Δ"``).
    """
    images = symmetry_images(x, sites)
    names = list(images)
    X = np.stack([images[n] for n in names])  # (5, D)
    preds = {label: _barriers(model, X) for label, model in models.items()}  # label -> (5,), eV
    rows = []
    for i, name in enumerate(names):
        row = {
            "operation": name,
            "invariant": name in C2V,
            "changed_sites": int((images[name] != images["identity"]).sum()),
        }
        for label, p in preds.items():
            row[label] = float(p[i])
            row[f"{label} Δ"] = float(p[i] - p[0])
        rows.append(row)
    return rows


def symmetry_violation(rows: list[dict], label: str) -> float:
    """Largest |Δ| of network ``label`` over the C2v images (0 for a symmetric network)."""
    return max(abs(r[f"{label} Δ"]) for r in rows if r["invariant"])


# --------------------------------------------------------------------------- the public object
@dataclass(frozen=True)
class Explanation:
    """Everything the Explain view shows about one configuration (see :func:`explain`)."""

    x: np.ndarray
    predictions: dict  # label -> barrier (eV, float64)
    splits: dict  # label -> Split
    nearest: list = field(default_factory=list)
    symmetry: list = field(default_factory=list)


def explain(models: dict, x, *, data=None, k_nearest: int = DEFAULT_NEAREST, sites: SiteTable = DEFAULT_SITES):
    """Explain the barrier of configuration ``x`` under one or more networks.

    Parameters
    ----------
    models : dict
        label -> RBFN, e.g. ``{"large": trained, "pruned": pruned}``.
    x : array-like, shape (26,)
        ±1 occupations.
    data : Dataset or (X, y), optional
        Where the nearest configurations are looked up.
    k_nearest : int, default=5
    sites : SiteTable, default=DEFAULT_SITES

    Returns
    -------
    Explanation

    Examples
    --------
    >>> nets = {"large": RBFN(26, 8, seed=0), "pruned": RBFN(26, 2, seed=1)}
    >>> e = explain(nets, np.ones(26))
    >>> sorted(e.predictions), len(e.symmetry)
    (['large', 'pruned'], 5)
    """
    if not models:
        raise ValueError("`models` must name at least one network; got an empty dict.")
    x = _one("x", x, sites.num_sites)
    splits = {label: split(model, x) for label, model in models.items()}
    predictions = {label: s.total for label, s in splits.items()}
    near = []
    if data is not None:
        X, y = (data.X, data.y) if hasattr(data, "X") else data
        near = nearest(X, y, x, k_nearest)
    return Explanation(x, predictions, splits, near, symmetry_check(models, x, sites))
