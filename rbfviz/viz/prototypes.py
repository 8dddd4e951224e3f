"""Statistics of RBF prototypes (centroids): the opacity rule and the data of Figure 5.

Paper §3.2.2 (Figures 4, 5 and B.6-B.11): the 26 elements of a centroid Θ_i are drawn as
spheres whose colour is the sign (red positive, blue negative) and whose opacity is
proportional to the absolute value, fully opaque at ``|value| >= 2``.  Figure 5 plots, per
lattice site, the mean of that opacity over the prototypes of a pruned network, normalised,
with standard deviations as error bars.

Everything here is pure numpy; a trained :class:`rbfviz.model.RBFN` is accepted through
:func:`as_prototypes`, which only reads its ``centroids``, ``weights`` and ``metadata``.

Examples
--------
>>> import numpy as np
>>> opacity(np.array([0.0, -1.0, 3.0])).tolist()
[0.0, 0.5, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rbfviz.data.lattice import DEFAULT_SITES, SiteTable
from rbfviz.viz.style import GROUP_COLORS, JUMP_COLORS, OPACITY_THRESHOLD, SIGN_COLORS  # noqa: F401  (old import path)

# --------------------------------------------------------------------------- constants
NORMALIZATIONS = ("max", "sum", "none")


# --------------------------------------------------------------------------- small pieces
def _to_numpy(x) -> np.ndarray:
    """A float64 numpy copy of an array or a torch tensor (without importing torch)."""
    if hasattr(x, "detach"):  # torch.Tensor / nn.Parameter
        x = x.detach().cpu().numpy()
    return np.array(x, dtype=np.float64)


def opacity(values, threshold: float = OPACITY_THRESHOLD) -> np.ndarray:
    """Opacity of each value: ``min(|value| / threshold, 1)``.

    Parameters
    ----------
    values : array-like of float
        Prototype elements, any shape.
    threshold : float, default=2.0
        Absolute value at which (and above which) a site is fully opaque.

    Returns
    -------
    numpy.ndarray of float, same shape as ``values``, in [0, 1].

    Examples
    --------
    >>> opacity([1.0, -2.0, 0.5], threshold=1.0).tolist()
    [1.0, 1.0, 0.5]
    """
    if not np.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"`threshold` must be a positive finite number; got {threshold!r}")
    return np.minimum(np.abs(np.asarray(values, dtype=np.float64)) / threshold, 1.0)


def weight_order(weights, order: str = "weight") -> np.ndarray:
    """Indices of the prototypes in display order.

    Parameters
    ----------
    weights : array-like of float, shape (M,)
        Output weights β_i.
    order : {"weight", "index"}, default="weight"
        ``"weight"`` sorts by decreasing ``|β_i|`` (stable, so ties keep index order);
        ``"index"`` keeps the stored order.

    Returns
    -------
    numpy.ndarray of int, shape (M,)

    Examples
    --------
    >>> weight_order([0.1, -3.0, 2.0]).tolist()
    [1, 2, 0]
    >>> weight_order([0.1, -3.0, 2.0], order="index").tolist()
    [0, 1, 2]
    """
    w = np.asarray(weights, dtype=np.float64).ravel()
    if order == "weight":
        return np.argsort(-np.abs(w), kind="stable")
    if order == "index":
        return np.arange(len(w))
    raise ValueError(f"`order` must be 'weight' or 'index'; got {order!r}")


@dataclass(frozen=True)
class Prototypes:
    """Centroids and output weights of one network, as plain arrays.

    Attributes
    ----------
    centroids : numpy.ndarray, shape (M, D)
        Θ, one prototype per row (D = 26 for the jump environment).
    weights_ev : numpy.ndarray, shape (M,)
        β in eV (model weights times ``metadata["target_scale"]``).
    label : str
        A short name for legends and file names (surface, name or "model").
    surface : str or None
        "100", "110", "111" or None.
    """

    centroids: np.ndarray
    weights_ev: np.ndarray
    label: str
    surface: str | None = None

    def __len__(self) -> int:
        return len(self.centroids)


def as_prototypes(source, label: str | None = None) -> Prototypes:
    """Read prototypes from an RBFN, an object with the same attributes, or plain arrays.

    Parameters
    ----------
    source : RBFN, Prototypes, tuple, dict or object
        * an :class:`rbfviz.model.RBFN` (or anything with ``centroids``, ``weights`` and an
          optional ``metadata`` dict with ``target_scale``, ``surface``, ``name``);
        * a tuple ``(centroids, weights)`` with weights already in eV;
        * a dict with keys ``"centroids"`` and ``"weights"`` (eV) and optional ``"label"``,
          ``"surface"``;
        * a bare (M, D) array of centroids (weights then default to 1).
    label : str, optional
        Overrides the label found in the source.

    Returns
    -------
    Prototypes

    Examples
    --------
    >>> p = as_prototypes((np.ones((2, 26)), [0.5, -1.0]), label="toy")
    >>> p.centroids.shape, p.weights_ev.tolist(), p.label
    ((2, 26), [0.5, -1.0], 'toy')
    """
    if isinstance(source, Prototypes):
        found = source
    else:
        meta, surface, name = {}, None, None
        if isinstance(source, tuple):
            if len(source) != 2:
                raise ValueError(f"a tuple source must be (centroids, weights); got {len(source)} items")
            centroids, weights, scale = source[0], source[1], 1.0
        elif isinstance(source, dict):
            if "centroids" not in source:
                raise ValueError("a dict source needs a 'centroids' key (and 'weights' in eV)")
            centroids = source["centroids"]
            weights = source.get("weights", np.ones(len(source["centroids"])))
            scale, surface, name = 1.0, source.get("surface"), source.get("label")
        elif hasattr(source, "centroids"):
            centroids = source.centroids
            weights = getattr(source, "weights", None)
            meta = dict(getattr(source, "metadata", None) or {})
            scale = float(meta.get("target_scale") or 1.0)
            surface = meta.get("surface")
            name = meta.get("name")
        else:
            centroids, weights, scale = source, None, 1.0
        c = _to_numpy(centroids)
        if c.ndim != 2:
            raise ValueError(f"centroids must have shape (M, D); got {c.shape}")
        w = np.ones(len(c)) if weights is None else _to_numpy(weights).ravel() * scale
        if w.shape != (len(c),):
            raise ValueError(f"weights must have shape ({len(c)},) to match centroids {c.shape}; got {w.shape}")
        if surface is not None:
            surface = str(surface).strip("{}")
        if name is None:
            name = f"{{{surface}}}" if surface else "model"
        found = Prototypes(c, w, str(name), surface)
    if label is not None:
        found = Prototypes(found.centroids, found.weights_ev, str(label), found.surface)
    return found


def is_single_network(source) -> bool:
    """True for one network given as arrays: an (M, D) array or a (centroids, weights) pair."""
    if isinstance(source, np.ndarray):
        return source.ndim == 2
    if isinstance(source, tuple) and len(source) == 2:
        try:
            return np.ndim(_to_numpy(source[0])) == 2 and np.ndim(_to_numpy(source[1])) == 1
        except (ValueError, TypeError):
            return False
    return False


def as_prototype_list(models) -> list[Prototypes]:
    """Prototypes of one or several networks, with unique labels.

    Parameters
    ----------
    models : dict of str to model, list of models, or one model
        A dict's keys become the labels.  One network may be any :func:`as_prototypes` source.

    Returns
    -------
    list of Prototypes

    Examples
    --------
    >>> [p.label for p in as_prototype_list([np.ones((2, 26)), (np.ones((1, 26)), [0.5])])]
    ['model 1', 'model 2']
    >>> [p.label for p in as_prototype_list({"{100}": np.ones((2, 26))})]
    ['{100}']
    """
    if isinstance(models, dict):
        items = [as_prototypes(m, label=str(k)) for k, m in models.items()]
    elif isinstance(models, (list, tuple)) and not is_single_network(models):
        items = [as_prototypes(m) for m in models]
    else:
        items = [as_prototypes(models)]
    if not items:
        raise ValueError("`models` is empty; give at least one network")
    labels = [p.label for p in items]
    return [
        as_prototypes(p, label=f"{p.label} {i + 1}") if labels.count(p.label) > 1 else p for i, p in enumerate(items)
    ]


def prototype_by_rank(source, rank: int, order: str = "weight") -> tuple[np.ndarray, float, int] | None:
    """The prototype at a 1-based rank: largest ``|β|`` first (or stored order).

    Parameters
    ----------
    source : RBFN, Prototypes, tuple, dict or array
        Anything :func:`as_prototypes` accepts.
    rank : int
        1 = the prototype with the largest ``|β_i|``.
    order : {"weight", "index"}, default="weight"
        See :func:`weight_order`.

    Returns
    -------
    (values, beta_ev, index) or None
        The prototype's values (26,), its β in eV and its stored 0-based index; None when the
        network has fewer than ``rank`` prototypes.

    Examples
    --------
    >>> values, beta, i = prototype_by_rank((np.eye(3, 26), [0.1, -3.0, 2.0]), 2)
    >>> beta, i, int(values.argmax())
    (2.0, 2, 2)
    >>> prototype_by_rank((np.eye(3, 26), [0.1, -3.0, 2.0]), 4) is None
    True
    """
    if not isinstance(rank, (int, np.integer)) or rank < 1:
        raise ValueError(f"`rank` must be a positive int (1 = largest |β|); got {rank!r}")
    p = as_prototypes(source)
    idx = weight_order(p.weights_ev, order)
    if rank > len(idx):
        return None
    i = int(idx[rank - 1])
    return p.centroids[i], float(p.weights_ev[i]), i


def select_prototypes(source, indices) -> Prototypes:
    """The prototypes at some stored 0-based indices, as a smaller :class:`Prototypes`.

    Examples
    --------
    >>> p = select_prototypes((np.eye(3, 26), [0.1, -3.0, 2.0]), [2, 0])
    >>> p.weights_ev.tolist(), len(p)
    ([2.0, 0.1], 2)
    """
    p = as_prototypes(source)
    idx = np.asarray(list(indices), dtype=np.int64).ravel()
    if idx.size == 0:
        raise ValueError("`indices` is empty; choose at least one prototype")
    if idx.min() < 0 or idx.max() >= len(p):
        raise ValueError(f"`indices` must lie in 0..{len(p) - 1} for a network of {len(p)} prototypes; got {idx}")
    return Prototypes(p.centroids[idx], p.weights_ev[idx], p.label, p.surface)


# --------------------------------------------------------------------------- Figure 5 data
def site_opacity_stats(
    source,
    *,
    threshold: float = OPACITY_THRESHOLD,
    normalize: str = "max",
    sites: SiteTable = DEFAULT_SITES,
) -> pd.DataFrame:
    """Per-site mean absolute opacity over a network's prototypes (paper Figure 5).

    Parameters
    ----------
    source : RBFN, tuple, dict or array
        Anything :func:`as_prototypes` accepts.
    threshold : float, default=2.0
        Opacity threshold, see :func:`opacity`.
    normalize : {"max", "sum", "none"}, default="max"
        Divide mean and std by the largest site mean ("max": the top site is 1), by the sum of
        site means ("sum": the means add up to 1), or not at all.  The paper does not say which
        normalisation it used; "max" is our choice.
    sites : SiteTable, default=DEFAULT_SITES
        Site coordinates and groups; its length must equal the prototype dimension.

    Returns
    -------
    pandas.DataFrame
        One row per site with columns ``site`` (1-based), ``group``, ``x``, ``y``, ``z``
        (a/2 units), ``mean``, ``std`` (normalised), ``raw_mean``, ``raw_std``, ``label``.

    Examples
    --------
    >>> c = np.zeros((2, 26)); c[:, 0] = [2.0, -1.0]
    >>> df = site_opacity_stats(c)
    >>> df.loc[0, ["mean", "raw_mean"]].tolist()
    [1.0, 0.75]
    """
    p = as_prototypes(source)
    if p.centroids.shape[1] != sites.num_sites:
        raise ValueError(
            f"prototypes have {p.centroids.shape[1]} elements but the site table has {sites.num_sites} sites"
        )
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"`normalize` must be one of {NORMALIZATIONS}; got {normalize!r}")
    op = opacity(p.centroids, threshold)  # (M, 26)
    mean, std = op.mean(axis=0), op.std(axis=0)  # (26,)
    scale = {"max": mean.max(), "sum": mean.sum(), "none": 1.0}[normalize]
    scale = scale if scale > 0 else 1.0
    return pd.DataFrame(
        {
            "site": np.arange(1, sites.num_sites + 1),
            "group": list(sites.groups),
            "x": sites.coords[:, 0],
            "y": sites.coords[:, 1],
            "z": sites.coords[:, 2],
            "mean": mean / scale,
            "std": std / scale,
            "raw_mean": mean,
            "raw_std": std,
            "label": p.label,
        }
    )


def site_opacity_data(models, *, threshold: float = OPACITY_THRESHOLD, normalize: str = "max") -> pd.DataFrame:
    """The table behind :func:`site_opacity_chart`: per network and site, mean and std opacity.

    Parameters
    ----------
    models : dict of str to model, list of models, or one model
        Anything :func:`rbfviz.prototypes.as_prototypes` accepts, keyed by a label.
    threshold : float, default=2.0
    normalize : {"max", "sum", "none"}, default="max"

    Returns
    -------
    pandas.DataFrame
        :func:`rbfviz.prototypes.site_opacity_stats` rows for every network, with ``network``
        (the label) and ``num_prototypes`` columns.

    Examples
    --------
    >>> df = site_opacity_data({"a": np.ones((2, 26)), "b": np.zeros((3, 26))})
    >>> df.groupby("network").size().tolist(), df["num_prototypes"].unique().tolist()
    ([26, 26], [2, 3])
    """
    frames = []
    for p in as_prototype_list(models):
        df = site_opacity_stats(p, threshold=threshold, normalize=normalize)
        df.insert(0, "network", p.label)
        df["num_prototypes"] = len(p)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def prototype_table(source, *, sites: SiteTable = DEFAULT_SITES, threshold: float = OPACITY_THRESHOLD) -> pd.DataFrame:
    """Long table of every prototype element with its site's geometry (the CSV behind sheets).

    Parameters
    ----------
    source : RBFN, tuple, dict or array
        Anything :func:`as_prototypes` accepts.
    sites : SiteTable, default=DEFAULT_SITES
    threshold : float, default=2.0

    Returns
    -------
    pandas.DataFrame
        Columns ``prototype`` (1-based stored index), ``rank`` (1 = largest ``|β|``),
        ``beta_ev``, ``site``, ``group``, ``x``, ``y``, ``z`` (a/2), ``x_A``, ``y_A``, ``z_A``
        (Å), ``layer_100``, ``layer_110``, ``layer_111``, ``value``, ``opacity``.

    Examples
    --------
    >>> df = prototype_table((np.zeros((3, 26)), [1.0, -2.0, 0.5]))
    >>> len(df), int(df["rank"].iloc[0])
    (78, 2)
    """
    p = as_prototypes(source)
    m, d = p.centroids.shape
    if d != sites.num_sites:
        raise ValueError(f"prototypes have {d} elements but the site table has {sites.num_sites} sites")
    rank = np.empty(m, dtype=np.int64)
    rank[weight_order(p.weights_ev)] = np.arange(1, m + 1)
    proto = np.repeat(np.arange(m), d)  # (M*26,)
    site = np.tile(np.arange(d), m)  # (M*26,)
    pos = sites.positions
    df = pd.DataFrame(
        {
            "prototype": proto + 1,
            "rank": rank[proto],
            "beta_ev": p.weights_ev[proto],
            "site": site + 1,
            "group": np.asarray(sites.groups)[site],
            "x": sites.coords[site, 0],
            "y": sites.coords[site, 1],
            "z": sites.coords[site, 2],
            "x_A": pos[site, 0],
            "y_A": pos[site, 1],
            "z_A": pos[site, 2],
        }
    )
    for s in ("100", "110", "111"):
        df[f"layer_{s}"] = sites.layers(s)[site]
    df["value"] = p.centroids.ravel()
    df["opacity"] = opacity(df["value"].to_numpy(), threshold)
    return df


# --------------------------------------------------------------------------- Figure 5 over networks
SITE_CLASSES = {"1nn": ("C", "I1", "F1"), "2nn": ("P2", "Q2")}  # 1nn-type sites 1-18, 2nn-only 19-26


def _per_network_site_means(sources, threshold: float, normalize: str, sites: SiteTable) -> np.ndarray:
    """(R, 26) normalised per-site mean opacities, one row per network."""
    rows = [
        site_opacity_stats(s, threshold=threshold, normalize=normalize, sites=sites)["mean"].to_numpy() for s in sources
    ]
    if not rows:
        raise ValueError("`sources` is empty: give at least one pruned network")
    return np.vstack(rows)


def site_opacity_over_networks(
    sources, *, threshold: float = OPACITY_THRESHOLD, normalize: str = "max", sites: SiteTable = DEFAULT_SITES
) -> pd.DataFrame:
    """Per-site normalised mean opacity, mean ± s.d. *across networks* (paper Figure 5 over splits).

    :func:`site_opacity_stats` gives one network's per-site mean (its error bar is the spread
    over that network's prototypes); this takes that mean for each of R networks (e.g. the pruned
    networks of all splits of one surface) and reports its mean and standard deviation (ddof 1)
    across them, so that a difference between surfaces can be told from noise.

    Returns
    -------
    pandas.DataFrame
        One row per site: ``site``, ``group``, ``mean``, ``std``, ``n_networks``.

    Examples
    --------
    >>> a = np.zeros((2, 26)); a[:, 0] = 2.0; b = a.copy(); b[:, 1] = 1.0
    >>> df = site_opacity_over_networks([a, b])
    >>> df.loc[:1, ["mean", "std"]].round(4).values.tolist()
    [[1.0, 0.0], [0.25, 0.3536]]
    """
    per = _per_network_site_means(sources, threshold, normalize, sites)  # (R, 26)
    return pd.DataFrame(
        {
            "site": np.arange(1, sites.num_sites + 1),
            "group": list(sites.groups),
            "mean": per.mean(axis=0),
            "std": per.std(axis=0, ddof=1) if len(per) > 1 else np.full(per.shape[1], np.nan),
            "n_networks": len(per),
        }
    )


def group_opacity_over_networks(
    sources,
    *,
    threshold: float = OPACITY_THRESHOLD,
    normalize: str = "max",
    sites: SiteTable = DEFAULT_SITES,
    per_network: bool = False,
) -> pd.DataFrame:
    """Mean normalised opacity of each site group (and of the 1nn-type / 2nn-only classes) per
    network, summarised as mean ± s.d. across networks (or, with ``per_network``, one row per
    network and one column per group).

    Examples
    --------
    >>> a = np.zeros((2, 26)); a[:, :18] = 2.0
    >>> group_opacity_over_networks([a, a], per_network=True)[["1nn", "2nn"]].values.tolist()
    [[1.0, 0.0], [1.0, 0.0]]
    """
    per = _per_network_site_means(sources, threshold, normalize, sites)  # (R, 26)
    groups = np.asarray(sites.groups)
    cols = {g: per[:, groups == g].mean(axis=1) for g in dict.fromkeys(sites.groups)}
    for name, members in SITE_CLASSES.items():
        cols[name] = per[:, np.isin(groups, members)].mean(axis=1)
    wide = pd.DataFrame(cols)
    if per_network:
        return wide
    return pd.DataFrame(
        {
            "group": list(wide.columns),
            "mean": wide.mean(axis=0).to_numpy(),
            "std": wide.std(axis=0, ddof=1).to_numpy() if len(wide) > 1 else np.nan,
            "n_networks": len(wide),
        }
    )


def opacity_evenness(
    sources, *, threshold: float = OPACITY_THRESHOLD, normalize: str = "max", sites: SiteTable = DEFAULT_SITES
) -> np.ndarray:
    """Per network, the coefficient of variation (s.d. / mean) of the 26 per-site mean opacities:
    small when every site matters about equally (the paper's "more even" {111} networks).

    Examples
    --------
    >>> opacity_evenness([np.full((2, 26), 1.0)]).tolist()
    [0.0]
    """
    per = _per_network_site_means(sources, threshold, normalize, sites)  # (R, 26)
    return per.std(axis=1) / np.maximum(per.mean(axis=1), 1e-12)
