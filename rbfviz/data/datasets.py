"""Barrier data sets: loading, validation, splits and per-site statistics (paper §3.2.1).

A :class:`Dataset` holds occupations ``X`` in ±1 (occupied = +1, vacant = -1; the paper's pruning
criterion is written over x ∈ {-1, 1}^26, §3.2.2) and barriers ``y`` in eV, plus the surface, the
source and a free-form metadata dict.  Files store occupations as 0/1.

Accepted file formats (see :func:`load_barriers`; the readers live in :mod:`rbfviz.data.formats`):

* ``.26d`` text, as in the reference data (``machqu/rbfn`` ``util/dataset.py``): whitespace
  separated, ``#`` starts a comment, no header, 26 columns of 0/1 then the barrier in eV.
  Plain, gzip, bz2 or xz (detected from the magic bytes, not the extension), read as a bounded
  stream (see :func:`rbfviz.data.formats.read_barrier_file`).
* a tar archive (plain or compressed, e.g. ``Cu_ANN_processed.tgz``) whose members end in
  ``_{surface}.26d``, e.g. ``Cu_ANN_processed/barriers/Cu_20170906_100.26d``.
* CSV with one header row: 26 site columns and one barrier column (see :func:`load_barriers`).

Examples
--------
>>> import numpy as np
>>> ds = Dataset(X=np.ones((4, 26)), y=np.arange(4.0), surface="100", source="example")
>>> len(ds), ds.describe()["y_max"]
(4, 3.0)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from rbfviz.core.validate import check_int, check_occupations
from rbfviz.data.formats import read_barrier_file, surface_from_name  # noqa: F401  (re-exported, with the names below)
from rbfviz.data.formats_stream import DataFormatError  # noqa: F401  (re-exported)
from rbfviz.data.formats_text import BARRIER_COLUMN_NAMES, MAX_ABS_BARRIER_EV, NUM_SITES  # noqa: F401  (re-exported)
from rbfviz.data.formats_write import write_barrier_file
from rbfviz.data.lattice import check_surface

DEFAULT_N_TRAIN = 100_000  # paper §3.2.1: 100k rows for training
DEFAULT_N_VAL = 10_000  # 10k for early stopping; the rest is the test set


# --------------------------------------------------------------------------- the data object
@dataclass(frozen=True, eq=False)
class Dataset:
    """Occupations and barriers of one surface, with where they came from.

    Parameters
    ----------
    X : array-like, shape (N, 26)
        Occupations in ±1 (occupied = +1, vacant = -1); stored as read-only float32.
    y : array-like, shape (N,)
        Barriers in eV (the values used for training); stored as read-only float64.
    surface : {"100", "110", "111"} or None, default=None
    source : str, default=""
        File path or a ``"generated:..."`` description.
    metadata : dict, default={}
        Free-form information (generator settings, raw-barrier statistics, split info...).

    Examples
    --------
    >>> ds = Dataset(X=-np.ones((3, 26)), y=[0.1, 0.2, 0.3], surface="111")
    >>> ds.subset([0, 2]).y.tolist()
    [0.1, 0.3]
    >>> ds.X.flags.writeable
    False
    """

    X: np.ndarray
    y: np.ndarray
    surface: str | None = None
    source: str = ""
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        X = np.array(check_occupations("X", self.X), dtype=np.float32)  # (N, 26), private copy
        y = np.array(self.y, dtype=np.float64).reshape(-1)  # (N,)
        if np.ndim(self.y) > 1:
            raise ValueError(f"`y` must be one-dimensional; got shape {np.shape(self.y)}.")
        if len(y) != len(X):
            raise ValueError(f"`X` and `y` must have the same length; got {len(X)} rows of X and {len(y)} values of y.")
        if not np.all(np.abs(y) <= MAX_ABS_BARRIER_EV):  # NaN fails too
            bad = int(np.flatnonzero(~(np.abs(y) <= MAX_ABS_BARRIER_EV))[0])
            raise ValueError(
                f"`y` must be finite barriers in eV of magnitude at most {MAX_ABS_BARRIER_EV:g}; "
                f"got {y[bad]!r} at row {bad}{self._from()}."
            )
        X.setflags(write=False)
        y.setflags(write=False)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "surface", None if self.surface is None else check_surface(self.surface))
        object.__setattr__(self, "source", str(self.source))
        object.__setattr__(self, "metadata", dict(self.metadata))

    def _from(self) -> str:
        return f" ({self.source})" if self.source else ""

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return f"Dataset(n={len(self)}, surface={self.surface!r}, source={self.source!r})"

    def subset(self, idx) -> Dataset:
        """Rows ``idx`` (indices or a boolean mask) as a new :class:`Dataset`.

        Examples
        --------
        >>> Dataset(X=np.ones((5, 26)), y=np.arange(5.0)).subset(np.arange(5) > 2).y.tolist()
        [3.0, 4.0]
        """
        idx = np.asarray(idx)
        if idx.dtype == bool and idx.shape != (len(self),):
            raise ValueError(f"a boolean `idx` must have shape ({len(self)},); got {idx.shape}.")
        return Dataset(self.X[idx], self.y[idx], self.surface, self.source, dict(self.metadata))

    def split(
        self, n_train: int = DEFAULT_N_TRAIN, n_val: int = DEFAULT_N_VAL, *, fractions=None, seed: int = 0
    ) -> tuple[Dataset, Dataset, Dataset]:
        """Seeded train / early-stopping / test split (paper §3.2.1: 100k, 10k, the rest).

        Parameters
        ----------
        n_train, n_val : int, default=100_000 and 10_000
            Row counts of the training and validation (early-stopping) parts.  The test part
            gets the remaining rows, at least one.
        fractions : (float, float), optional
            ``(f_train, f_val)``; if given, the counts are ``floor(f * N)`` and ``n_train`` /
            ``n_val`` are ignored.  The rest is the test part.
        seed : int, default=0
            Seed of the permutation (``numpy.random.default_rng(seed).permutation(N)``).

        Returns
        -------
        train, val, test : Dataset
            Disjoint parts; ``metadata["split"]`` records the part, sizes and seed.

        Examples
        --------
        >>> ds = Dataset(X=np.ones((10, 26)), y=np.arange(10.0))
        >>> [len(d) for d in ds.split(6, 2)]
        [6, 2, 2]
        >>> [len(d) for d in ds.split(fractions=(0.5, 0.3))]
        [5, 3, 2]
        """
        n = len(self)
        if fractions is not None:
            try:
                f_train, f_val = (float(f) for f in fractions)
            except (TypeError, ValueError):
                raise ValueError(f"`fractions` must be a pair (f_train, f_val); got {fractions!r}.") from None
            if not (0 < f_train < 1 and 0 <= f_val < 1 and f_train + f_val <= 1):
                raise ValueError(
                    f"`fractions` must satisfy 0 < f_train, 0 <= f_val and f_train + f_val <= 1; got {fractions!r}."
                )
            n_train, n_val = int(np.floor(f_train * n)), int(np.floor(f_val * n))
            if n_train < 1 or (f_val > 0 and n_val < 1):
                raise ValueError(
                    f"the data set{self._from()} has {n} rows: too few to split with fractions={fractions!r} "
                    f"(that gives {n_train} training, {n_val} validation and {n - n_train - n_val} test rows; "
                    "the training and validation parts need at least one row each)."
                )
        else:
            n_train = check_int("n_train", n_train, low=1)
            n_val = check_int("n_val", n_val, low=0)
            if n_train + n_val >= n:
                raise ValueError(
                    f"`n_train` + `n_val` must be smaller than the data set size {n}{self._from()}; got "
                    f"{n_train} + {n_val} = {n_train + n_val}. Pass smaller counts or "
                    "fractions=(f_train, f_val)."
                )
        seed = check_int("seed", seed)
        order = np.random.default_rng(seed).permutation(n)
        bounds = {"train": order[:n_train], "val": order[n_train : n_train + n_val], "test": order[n_train + n_val :]}
        parts = []
        for name, idx in bounds.items():
            part = self.subset(idx)
            part.metadata["split"] = {
                "part": name,
                "n_train": n_train,
                "n_val": n_val,
                "n_test": n - n_train - n_val,
                "seed": seed,
            }
            parts.append(part)
        return tuple(parts)

    def occupation_frequencies(self) -> np.ndarray:
        """Fraction of rows with each site occupied (+1), shape (26,) float64.

        This is the Bernoulli parameter q of the pruning objective (paper §2.3).

        Examples
        --------
        >>> X = -np.ones((4, 26)); X[:3, 0] = 1
        >>> float(Dataset(X=X, y=np.zeros(4)).occupation_frequencies()[0])
        0.75
        """
        if len(self) == 0:
            return np.full(NUM_SITES, np.nan)
        return (self.X > 0).mean(axis=0, dtype=np.float64)  # (26,)

    def describe(self) -> dict:
        """Size, surface, source and barrier statistics (eV).

        Examples
        --------
        >>> Dataset(X=np.ones((2, 26)), y=[0.0, 1.0]).describe()["y_mean"]
        0.5
        """
        y = self.y
        stats = (
            {"y_mean": float(y.mean()), "y_std": float(y.std()), "y_min": float(y.min()), "y_max": float(y.max())}
            if len(y)
            else {"y_mean": None, "y_std": None, "y_min": None, "y_max": None}
        )
        return {"n": len(self), "surface": self.surface, "source": self.source, **stats}


# --------------------------------------------------------------------------- public loaders
def load_barriers(path, surface=None, *, site_order=None, max_bytes=None, max_line_bytes=None) -> Dataset:
    """Read a barrier file into a :class:`Dataset` (0/1 occupations become ±1).

    Parameters
    ----------
    path : str or os.PathLike
        One of:

        * ``.26d`` text (plain, gzip, bz2 or xz; detected from the magic bytes): ``#`` comments,
          no header, 26 columns of 0/1 then the barrier in eV, separated by whitespace;
        * a tar archive (e.g. ``Cu_ANN_processed.tgz``) with members ending in
          ``_{surface}.26d``; ``surface`` picks the member;
        * CSV: a header row, then rows of 27 comma-separated values.  The header names one
          barrier column (``barrier``, ``barrier_eV``, ``Em``, ``E_m``, ``energy`` or ``y``,
          any case) and 26 site columns.  If the site names all end in the numbers 1..26
          (``s1..s26``, ``site_1..``, ``x1..``) the columns are put in that order, otherwise
          they are taken in file order.
    surface : {"100", "110", "111"}, optional
        Surface of the data.  If None, it is read from a name like ``..._100.26d``.
    site_order : array-like of int, shape (26,), optional
        ``site_order[j]`` is the 0-based file column that holds site ``j`` of
        :data:`rbfviz.lattice.DEFAULT_SITES`, for files with another site numbering.
    max_bytes, max_line_bytes : int, optional
        Limits on the bytes read or decompressed and on the line length (default 1 GiB and
        1 MiB, see :func:`rbfviz.data.formats.read_barrier_file`); a file beyond them is refused
        with a :class:`DataFormatError` naming it, in bounded memory.

    Returns
    -------
    Dataset

    Raises
    ------
    DataFormatError
        (a ``ValueError``) naming the file and line: wrong column count, an occupation other
        than 0/1, a barrier that is not finite or beyond 1000 eV in magnitude, an empty file,
        an unreadable tar member, truncated or corrupt compressed data, a limit exceeded.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy_100.26d"
    >>> _ = path.write_text("# toy\\n" + " ".join(["1"] * 26) + " 0.5\\n")
    >>> ds = load_barriers(path)
    >>> ds.surface, ds.X[0, :3].tolist(), ds.y.tolist()
    ('100', [1.0, 1.0, 1.0], [0.5])
    """
    path = os.fspath(path)
    if surface is not None:
        surface = check_surface(surface)
    order = None
    if site_order is not None:
        order = np.asarray(site_order)
        if order.shape != (NUM_SITES,) or sorted(order.tolist()) != list(range(NUM_SITES)):
            raise ValueError(f"`site_order` must be a permutation of 0..25 (length 26); got {site_order!r}.")
    raw = read_barrier_file(path, surface, max_bytes=max_bytes, max_line_bytes=max_line_bytes)
    bits = raw.bits if order is None else raw.bits[:, order]  # (N, 26)
    X = 2 * bits.astype(np.float32) - 1  # (N, 26) in ±1
    metadata = {"format": raw.format, "n_rows": len(raw.y)}
    return Dataset(X=X, y=raw.y, surface=raw.surface, source=raw.source, metadata=metadata)


def write_26d(dataset: Dataset, path) -> None:
    """Write a :class:`Dataset` as ``.26d`` text (0/1 columns then the barrier in eV).

    A ``#`` header records the surface, source and metadata (as JSON).  The file is gzipped if
    ``path`` ends in ``.gz``.  Barriers are written with 17 significant digits, so a round trip
    through :func:`load_barriers` returns the same float64 values.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "copy_110.26d.gz"
    >>> write_26d(Dataset(X=np.ones((2, 26)), y=[0.25, 0.5], surface="110"), path)
    >>> load_barriers(path).y.tolist()
    [0.25, 0.5]
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(f"`dataset` must be an rbfviz.datasets.Dataset; got {type(dataset).__name__}.")
    write_barrier_file(
        path, dataset.X > 0, dataset.y, surface=dataset.surface, source=dataset.source, metadata=dataset.metadata
    )
