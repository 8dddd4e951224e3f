"""The exported function in NumPy and the table's index convention (the reference of every format).

    E(x) = m + s · (α + Σ_k β_k exp(−γ ‖x − Θ_k‖²)),     x ∈ {−1, +1}^D (occupied = +1)

Examples
--------
>>> configurations([0, 1, 2**25], num_sites=26)[:, [0, 1, 25]].tolist()
[[-1.0, -1.0, -1.0], [1.0, -1.0, -1.0], [-1.0, -1.0, 1.0]]
"""

from __future__ import annotations

import numpy as np
import torch

from rbfviz.core.model import RBFN

# --------------------------------------------------------------------------- constants
NUM_TEST_VECTORS = 16
INPUT_CONVENTION = {"occupied": 1.0, "vacant": -1.0}


def parameters(model: RBFN) -> dict:
    """The network's parameters as float64 NumPy arrays, in physical units' terms.

    Returns
    -------
    dict
        ``alpha`` (float), ``gamma`` (float), ``beta`` (K,), ``theta`` (K, D), ``target_mean`` and
        ``target_scale`` (floats): E(x) = mean + scale · (α + Σ β exp(−γ‖x − Θ‖²)).

    Examples
    --------
    >>> p = parameters(RBFN(26, 3, seed=0))
    >>> p["theta"].shape, p["target_scale"]
    ((3, 26), 1.0)
    """
    if not isinstance(model, RBFN):
        raise TypeError(f"`model` must be an RBFN; got {type(model).__name__}.")
    with torch.no_grad():
        return {
            "alpha": float(model.bias.double()),
            "gamma": float(model.gamma.double()),
            "beta": model.weights.detach().double().cpu().numpy(),  # (K,)
            "theta": model.centroids.detach().double().cpu().numpy(),  # (K, D)
            "target_mean": model.target_mean,
            "target_scale": model.target_scale,
        }


def evaluate(params: dict, X) -> np.ndarray:
    """The exported function in float64 NumPy: the independent reference of every format.

    Parameters
    ----------
    params : dict
        As returned by :func:`parameters` (or read back from a ``"json"`` export).
    X : array-like, shape (N, D)

    Returns
    -------
    numpy.ndarray, shape (N,), float64, eV
    """
    X = np.asarray(X, dtype=np.float64)  # (N, D)
    theta = np.asarray(params["theta"], dtype=np.float64)  # (K, D)
    d2 = ((X[:, None, :] - theta[None, :, :]) ** 2).sum(-1)  # (N, K), direct form: no cancellation
    f = params["alpha"] + np.exp(-params["gamma"] * d2) @ np.asarray(params["beta"], dtype=np.float64)  # (N,)
    return params["target_mean"] + params["target_scale"] * f


def configurations(indices, num_sites: int = 26) -> np.ndarray:
    """±1 configurations of table indices: bit ``s`` of the index is site ``s + 1`` (1 = occupied).

    Parameters
    ----------
    indices : array-like of int, shape (N,)
    num_sites : int, default=26

    Returns
    -------
    numpy.ndarray, shape (N, num_sites), float32

    Examples
    --------
    >>> configurations([5], num_sites=4).tolist()
    [[1.0, -1.0, 1.0, -1.0]]
    """
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)  # (N,)
    if idx.size and (idx.min() < 0 or idx.max() >= 2**num_sites):
        raise ValueError(f"`indices` must lie in [0, 2**{num_sites}); got values in [{idx.min()}, {idx.max()}].")
    bits = (idx[:, None] >> np.arange(num_sites)) & 1  # (N, S)
    return (2 * bits - 1).astype(np.float32)


def table_index(X) -> np.ndarray:
    """Table index of ±1 (or 1/0) configurations: the inverse of :func:`configurations`.

    Examples
    --------
    >>> table_index(configurations([0, 7, 2**26 - 1])).tolist()
    [0, 7, 67108863]
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"`X` must have shape (N, num_sites); got {X.shape}.")
    bits = (X > 0).astype(np.int64)  # (N, S)
    return bits @ (np.int64(1) << np.arange(X.shape[1], dtype=np.int64))  # (N,)


def reference_vectors(model: RBFN, n: int = NUM_TEST_VECTORS, *, seed: int = 0) -> dict:
    """Random ±1 configurations (plus all-vacant and all-occupied) with their barriers in eV.

    The barriers are the float64 value of the exported function (:func:`evaluate`); every
    evaluator should reproduce them to about 1e-6 eV (float32 in or out).
    """
    rng = np.random.default_rng(seed)
    D = model.num_inputs
    X = np.concatenate([-np.ones((1, D)), np.ones((1, D)), rng.choice([-1.0, 1.0], size=(n, D))])  # (n + 2, D)
    return {
        "description": "occupation: +1 occupied, -1 vacant, in site order; barrier_ev: float64 reference",
        "occupation": X.astype(int).tolist(),
        "table_index": table_index(X).tolist(),
        "barrier_ev": evaluate(parameters(model), X).tolist(),
    }
