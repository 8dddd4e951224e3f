"""Closed-form expectations E_p(x)[exp(−k‖x − u‖² − r‖x − v‖²)] of Theorem 1 (paper §2.3).

Each input distribution factorises over the D dimensions, so the log of the expectation is a sum
over dimensions of a per-dimension log term.  Everything is computed in log space, so nothing
overflows or underflows where the true value is finite (the paper's code forms exp(4γΘ) and
products of erf differences, and returns inf/NaN for large γΘ or many dimensions).

All methods broadcast over leading batch dimensions: for centroid sets ``U`` of shape (..., A, D)
and ``V`` of shape (..., B, D), and widths ``k``, ``r`` broadcastable to (...), the result has
shape (..., A, B).

Examples
--------
>>> import torch
>>> U = torch.zeros(1, 3, dtype=torch.float64)
>>> round(float(Bernoulli(0.5).log_expectation(1.0, U, 0.0, U).exp()), 15)  # E[exp(-‖x‖²)] = e^-3
0.049787068367864
"""

from __future__ import annotations

import math

import numpy as np
import torch

_LOG_SQRT_PI = 0.5 * math.log(math.pi)


def _param(value, name: str, *, low=None, high=None, open_low=False) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(value, dtype=np.float64))
    if not torch.isfinite(t).all():
        raise ValueError(f"`{name}` must be finite; got {value!r}")
    if low is not None and ((t <= low).any() if open_low else (t < low).any()):
        op = ">" if open_low else ">="
        raise ValueError(f"`{name}` must be {op} {low}; got {value!r}")
    if high is not None and (t > high).any():
        raise ValueError(f"`{name}` must be <= {high}; got {value!r}")
    return t


def _broadcast_params(first: torch.Tensor, second: torch.Tensor, names: tuple[str, str]):
    """Broadcast two scalar-or-(D,) parameters; a length mismatch is a ValueError naming both."""
    if first.dim() > 1 or second.dim() > 1:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must be scalars or of shape (D,); got "
            f"shapes {tuple(first.shape)} and {tuple(second.shape)}"
        )
    if first.dim() == second.dim() == 1 and first.shape != second.shape:
        raise ValueError(
            f"`{names[0]}` has {first.shape[0]} entries but `{names[1]}` has "
            f"{second.shape[0]}; they must have one length D (or be scalars)"
        )
    return torch.broadcast_tensors(first, second)


_DEVICE_COPIES: dict = {}  # (id, D, device, dtype) -> (parameter, its copy on an accelerator)


def _per_dim(t: torch.Tensor, D: int, name: str, like: torch.Tensor) -> torch.Tensor:
    """Broadcast a scalar or (D,) parameter to (D,) on ``like``'s device and dtype.

    Copies to an accelerator are made once and kept: a copy from host memory waits for the
    device, which must not happen inside an optimiser iteration (nor a captured CUDA graph).
    """
    key = (id(t), D, like.device, like.dtype)
    hit = _DEVICE_COPIES.get(key)
    if hit is not None and hit[0] is t:
        return hit[1]
    out = _per_dim_copy(t, D, name, like)
    if like.device.type != "cpu":
        if len(_DEVICE_COPIES) > 256:
            _DEVICE_COPIES.clear()
        _DEVICE_COPIES[key] = (t, out)
    return out


def _per_dim_copy(t: torch.Tensor, D: int, name: str, like: torch.Tensor) -> torch.Tensor:
    if t.dim() == 0:
        t = t.expand(D)
    elif t.shape[0] != D:
        raise ValueError(f"`{name}` has {t.shape[0]} entries but the centroids have D = {D}")
    return t.to(device=like.device, dtype=like.dtype)


def _widths(k, r, like: torch.Tensor):
    k = torch.as_tensor(k, dtype=like.dtype, device=like.device)
    r = torch.as_tensor(r, dtype=like.dtype, device=like.device)
    return k[..., None, None, None], r[..., None, None, None]  # (..., 1, 1, 1)


class Distribution:
    """A factorised input distribution p(x) = Π_i p_i(x_i) with a closed-form expectation."""

    num_inputs: int | None = None  # D when the parameters fix it, else None

    def log_expectation(self, k, U: torch.Tensor, r, V: torch.Tensor) -> torch.Tensor:
        """log E[exp(−k‖x−u‖² − r‖x−v‖²)] for every pair of rows, shape (..., A, B)."""
        if U.shape[-1] != V.shape[-1]:
            raise ValueError(f"U has D = {U.shape[-1]} but V has D = {V.shape[-1]}")
        if self.num_inputs is not None and U.shape[-1] != self.num_inputs:
            raise ValueError(f"the distribution has D = {self.num_inputs} but the centroids have D = {U.shape[-1]}")
        k, r = _widths(k, r, U)
        u = U[..., :, None, :]  # (..., A, 1, D)
        v = V[..., None, :, :]  # (..., 1, B, D)
        return self._log_terms(k, u, r, v).sum(-1)  # (..., A, B)

    def expectation(self, k, U, r, V) -> torch.Tensor:
        """E[exp(−k‖x−u‖² − r‖x−v‖²)], shape (..., A, B)."""
        return self.log_expectation(k, U, r, V).exp()

    def log_expectation1(self, k, U: torch.Tensor) -> torch.Tensor:
        """log E[exp(−k‖x−u‖²)] for each row of U, shape (..., A)."""
        zeros = torch.zeros_like(U[..., :1, :])
        return self.log_expectation(k, U, torch.zeros_like(torch.as_tensor(k, dtype=U.dtype)), zeros)[..., 0]

    def _log_terms(self, k, u, r, v):  # (..., A, B, D)
        raise NotImplementedError

    def describe(self) -> dict:
        raise NotImplementedError

    def __repr__(self) -> str:
        d = self.describe()
        args = ", ".join(f"{k}={v!r}" for k, v in d.items() if k != "name")
        return f"{d['name']}({args})"


# --------------------------------------------------------------------------- Gaussian mixture
class GaussianMixture(Distribution):
    """Per dimension i an independent mixture Σ_j w_ij N(μ_ij, σ_ij²) (Theorem 1, case 1).

    Parameters
    ----------
    weights, means, stds : array-like of shape (L,) or (D, L)
        Mixture weights (non-negative, summing to 1 per dimension), means and standard
        deviations; shape (L,) applies the same mixture to every dimension.

    Examples
    --------
    >>> gm = GaussianMixture([0.5, 0.5], [-1.0, 1.0], [0.1, 0.1])
    >>> gm.describe()["name"]
    'GaussianMixture'
    """

    def __init__(self, weights, means, stds):
        w = _param(weights, "weights", low=0.0)
        mu = _param(means, "means")
        sd = _param(stds, "stds", low=0.0, open_low=True)
        if not (w.shape == mu.shape == sd.shape) or w.dim() not in (1, 2):
            raise ValueError(
                "`weights`, `means` and `stds` must have one shape, (L,) or (D, L); "
                f"got {tuple(w.shape)}, {tuple(mu.shape)}, {tuple(sd.shape)}"
            )
        if not torch.allclose(w.sum(-1), torch.ones(()).double(), atol=1e-8):
            raise ValueError(f"`weights` must sum to 1 per dimension; sums are {w.sum(-1).tolist()}")
        self.weights, self.means, self.stds = w, mu, sd
        self.num_inputs = w.shape[0] if w.dim() == 2 else None

    def _log_terms(self, k, u, r, v):
        D = u.shape[-1]
        shape = (D, self.weights.shape[-1])
        log_w = torch.log(self.weights).expand(shape).to(u)  # (D, L)
        mu = self.means.expand(shape).to(u)
        var = (self.stds**2).expand(shape).to(u)
        u, v = u[..., None], v[..., None]  # (..., A, 1, D, 1), (..., 1, B, D, 1)
        k, r = k[..., None], r[..., None]
        denom = 1 + 2 * var * (k + r)
        quad = (k * (u - mu) ** 2 + r * (v - mu) ** 2 + 2 * var * k * r * (u - v) ** 2) / denom
        return torch.logsumexp(log_w - 0.5 * torch.log(denom) - quad, dim=-1)  # (..., A, B, D)

    def describe(self) -> dict:
        return {
            "name": "GaussianMixture",
            "weights": self.weights.tolist(),
            "means": self.means.tolist(),
            "stds": self.stds.tolist(),
        }


class Normal(GaussianMixture):
    """Independent normal inputs N(mean, std²): the one-component mixture.

    Examples
    --------
    >>> Normal(0.0, 1.0)
    Normal(mean=0.0, std=1.0)
    """

    def __init__(self, mean=0.0, std=1.0):
        m = _param(mean, "mean")
        s = _param(std, "std", low=0.0, open_low=True)
        m, s = _broadcast_params(m, s, ("mean", "std"))
        super().__init__(torch.ones_like(m)[..., None], m[..., None], s[..., None])
        self.mean, self.std = m, s

    def describe(self) -> dict:
        return {"name": "Normal", "mean": self.mean.tolist(), "std": self.std.tolist()}


# --------------------------------------------------------------------------- uniform
def _log_erfc(x: torch.Tensor) -> torch.Tensor:
    """log erfc(x) for x ≥ 0 without underflow (erfc(x) = erfcx(x)·exp(−x²))."""
    return torch.log(torch.special.erfcx(x)) - x * x


def _log_erf_diff(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """log(erf(hi) − erf(lo)) for lo < hi, accurate in the tails.

    Both in the right tail: erf(hi) − erf(lo) = erfc(lo) − erfc(hi); both in the left tail use
    the mirror image; straddling zero the difference has no cancellation.
    """
    flip = hi <= 0  # both ≤ 0 → mirror
    a = torch.where(flip, -hi, lo)
    b = torch.where(flip, -lo, hi)  # now b > a and b > 0
    tail = a > 0
    a_t = a.clamp(min=0.0)  # safe values for the branch not taken
    b_t = torch.maximum(b, a_t + 1e-300)
    log_ea = _log_erfc(a_t)
    tail_val = log_ea + torch.log1p(-torch.exp(_log_erfc(b_t) - log_ea))
    a_s = a.clamp(max=0.0)
    mid_val = torch.log(torch.erf(b) - torch.erf(a_s))
    return torch.where(tail, tail_val, mid_val)


class Uniform(Distribution):
    """Independent uniform inputs on (a_i, b_i) (Theorem 1, case 2).

    Examples
    --------
    >>> Uniform(-4, 4).describe()
    {'name': 'Uniform', 'a': -4.0, 'b': 4.0}
    """

    def __init__(self, a=-1.0, b=1.0):
        self.a = _param(a, "a")
        self.b = _param(b, "b")
        self.a, self.b = _broadcast_params(self.a, self.b, ("a", "b"))
        if not (self.b > self.a).all():
            raise ValueError(f"`b` must be greater than `a` in every dimension; got a={a!r}, b={b!r}")
        self.num_inputs = self.a.shape[0] if self.a.dim() == 1 else None

    def _log_terms(self, k, u, r, v):
        D = u.shape[-1]
        a = _per_dim(self.a, D, "a", u)
        b = _per_dim(self.b, D, "b", u)
        s = k + r
        root = torch.sqrt(s)
        lo = (k * (a - u) + r * (a - v)) / root
        hi = (k * (b - u) + r * (b - v)) / root
        return (
            -torch.log(b - a) + _LOG_SQRT_PI - 0.5 * torch.log(4 * s) - k * r * (u - v) ** 2 / s + _log_erf_diff(lo, hi)
        )

    def describe(self) -> dict:
        return {"name": "Uniform", "a": self.a.tolist(), "b": self.b.tolist()}


# --------------------------------------------------------------------------- Bernoulli ±1
class Bernoulli(Distribution):
    """Independent ±1 inputs with P(x_i = +1) = q_i (Theorem 1, case 3).

    Per dimension the expectation is q e^{−k(1−u)² − r(1−v)²} + (1−q) e^{−k(1+u)² − r(1+v)²},
    taken as a log-sum-exp of the two branches: equal to the paper's
    e^{−k(u+1)² − r(v+1)²}[1 + q(e^{4(ku+rv)} − 1)] but free of overflow for large γΘ.

    Parameters
    ----------
    q : float or array-like of shape (D,), default=0.5
        Probability of +1 (an occupied site for the Cu data), each in [0, 1].

    Examples
    --------
    >>> Bernoulli(0.5)
    Bernoulli(q=0.5)
    >>> Bernoulli.from_data([[1, -1], [1, 1]]).q.tolist()
    [1.0, 0.5]
    """

    def __init__(self, q=0.5):
        self.q = _param(q, "q", low=0.0, high=1.0)
        if self.q.dim() > 1:
            raise ValueError(f"`q` must be a scalar or of shape (D,); got shape {tuple(self.q.shape)}")
        self.num_inputs = self.q.shape[0] if self.q.dim() == 1 else None

    @classmethod
    def from_data(cls, X) -> Bernoulli:
        """q_i = observed fraction of +1 in column i of ±1 data ``X`` (N, D)."""
        X = np.asarray(X.cpu() if torch.is_tensor(X) else X, dtype=np.float64)
        if X.ndim != 2 or len(X) == 0:
            raise ValueError(f"`X` must be a non-empty (N, D) array; got shape {X.shape}")
        if not np.isin(X, (-1.0, 1.0)).all():
            raise ValueError("`X` must hold only -1 and +1 (vacant / occupied)")
        return cls((X > 0).mean(axis=0))

    @classmethod
    def from_frequencies(cls, frequencies) -> Bernoulli:
        """q_i from per-site occupation frequencies (e.g. ``Dataset.occupation_frequencies()``)."""
        return cls(frequencies)

    def _log_terms(self, k, u, r, v):
        q = _per_dim(self.q, u.shape[-1], "q", u)
        plus = torch.log(q) - k * (1 - u) ** 2 - r * (1 - v) ** 2  # x_i = +1
        minus = torch.log1p(-q) - k * (1 + u) ** 2 - r * (1 + v) ** 2  # x_i = −1
        return torch.logaddexp(plus, minus)

    def log_expectation(self, k, U, r, V):
        """As :meth:`Distribution.log_expectation`, in one elementwise pass over (..., A, B, D).

        Per dimension the more probable point x_i = s_i (s_i = −1 where q_i < 0.5, else +1) is
        the base: with m = log p(s) − k(1 − s·u)² and d = log(p(−s)/p(s)) − 4s·ku per centroid
        and dimension, log E = Σ_i m_i(u) + m_i(v) + softplus(d_i(u) + d_i(v)); only the softplus
        needs the pair, so the (A, B, D) work is one add and one softplus.  q_i ∈ {0, 1} is
        exact: the impossible point has d = −inf and contributes softplus(−inf) = 0.
        """
        if U.shape[-1] != V.shape[-1]:
            raise ValueError(f"U has D = {U.shape[-1]} but V has D = {V.shape[-1]}")
        if self.num_inputs is not None and U.shape[-1] != self.num_inputs:
            raise ValueError(f"the distribution has D = {self.num_inputs} but the centroids have D = {U.shape[-1]}")
        m_u, d_u = self._row_terms(k, U, base=True)  # (..., A), (..., A, D)
        m_v, d_v = self._row_terms(r, V, base=False)  # (..., B), (..., B, D)
        pair = d_u[..., :, None, :] + d_v[..., None, :, :]  # (..., A, B, D)
        # threshold 40: softplus(x) = x beyond it, exact to e^-40 (the default 20 is not)
        sp = torch.nn.functional.softplus(pair, beta=1.0, threshold=40.0).sum(-1)  # (..., A, B)
        return m_u[..., :, None] + m_v[..., None, :] + sp

    def _row_terms(self, k, U, *, base: bool):
        """Per-row pieces of :meth:`log_expectation`: m (..., A) and d (..., A, D).

        With s_i the more probable point, m = Σ_i [log p(s_i)] − k(1 − s_i·u_i)² and
        d_i = [log(p(−s_i)/p(s_i))] − 4 s_i·k·u_i, the bracketed terms only when ``base`` (they
        belong to one side of a pair).  log E(u, v) = m(u) + m(v) + Σ_i softplus(d_i(u) + d_i(v)).
        """
        q = _per_dim(self.q, U.shape[-1], "q", U)
        plus_base = q >= 0.5
        s = torch.where(plus_base, 1.0, -1.0).to(U)  # the base point per dimension
        k = torch.as_tensor(k, dtype=U.dtype, device=U.device)[..., None, None]
        m = -k * (1 - s * U) ** 2
        d = -4 * s * k * U
        if base:
            p_base = torch.where(plus_base, q, 1 - q)  # ≥ 0.5
            p_other = torch.where(plus_base, 1 - q, q)  # may be exactly 0
            m = torch.log(p_base) + m
            d = (torch.log(p_other) - torch.log(p_base)) + d  # −inf where q ∈ {0, 1}
        return m.sum(-1), d

    def describe(self) -> dict:
        return {"name": "Bernoulli", "q": self.q.tolist()}


DISTRIBUTIONS = {"Bernoulli": Bernoulli, "Uniform": Uniform, "Normal": Normal, "GaussianMixture": GaussianMixture}


def distribution_from_description(description: dict) -> Distribution:
    """Rebuild a distribution from :meth:`Distribution.describe` (e.g. from a model file)."""
    description = dict(description)
    name = description.pop("name", None)
    if name not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {name!r}; expected one of {sorted(DISTRIBUTIONS)}")
    return DISTRIBUTIONS[name](**description)


# The named input distributions offered by the app and the CLI (name -> one-line description).
NAMED_DISTRIBUTIONS = {
    "bernoulli": "Bernoulli, q = 0.5 at every site",
    "bernoulli-observed": "Bernoulli, observed per-site frequencies of the training data",
    "uniform": "Uniform on [-1, 1]",
    "normal": "Normal, mean 0, std 1",
}


def distribution_from_name(name: str, *, frequencies=None, q=0.5, a=-1.0, b=1.0, mean=0.0, std=1.0) -> Distribution:
    """The input distribution p(x) of eq. (4) named in :data:`NAMED_DISTRIBUTIONS`.

    Parameters
    ----------
    name : {"bernoulli", "bernoulli-observed", "uniform", "normal"}
    frequencies : array-like of shape (D,), optional
        Per-site occupation frequencies of the training data; required by "bernoulli-observed".
    q : float, default=0.5
        Probability of +1 for "bernoulli".
    a, b : float, default=-1.0, 1.0
        Bounds for "uniform".
    mean, std : float, default=0.0, 1.0
        Parameters of "normal".

    Examples
    --------
    >>> distribution_from_name("bernoulli")
    Bernoulli(q=0.5)
    >>> distribution_from_name("bernoulli-observed", frequencies=[0.25, 0.75]).q.tolist()
    [0.25, 0.75]
    """
    if name == "bernoulli":
        return Bernoulli(q)
    if name == "bernoulli-observed":
        if frequencies is None:
            raise ValueError(
                "`frequencies` is required for 'bernoulli-observed': the per-site occupation frequencies of the "
                "training data (metadata data.occupation_frequencies of a network trained by rbfviz)"
            )
        return Bernoulli.from_frequencies(frequencies)
    if name == "uniform":
        return Uniform(a, b)
    if name == "normal":
        return Normal(mean, std)
    raise ValueError(f"`name` must be one of {list(NAMED_DISTRIBUTIONS)}; got {name!r}")
