"""Barrier data sets: loading, validation, splits and per-site statistics (paper §3.2.1).

A :class:`Dataset` holds occupations ``X`` in ±1 (occupied = +1, vacant = -1; the paper's pruning
criterion is written over x ∈ {-1, 1}^26, §3.2.2) and barriers ``y`` in eV, plus the surface, the
source and a free-form metadata dict.  Files store occupations as 0/1.

Accepted file formats (see :func:`load_barriers`):

* ``.26d`` text, as in the reference data (``machqu/rbfn`` ``util/dataset.py``): whitespace
  separated, ``#`` starts a comment, no header, 26 columns of 0/1 then the barrier in eV.
  Plain or gzip (detected from the magic bytes, not the extension).
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

import bz2
import csv
import gzip
import io
import json
import lzma
import os
import re
import tarfile
from dataclasses import dataclass, field

import numpy as np

from ._validate import check_int, check_occupations
from .lattice import check_surface

NUM_SITES = 26
DEFAULT_N_TRAIN = 100_000  # paper §3.2.1: 100k rows for training
DEFAULT_N_VAL = 10_000  # 10k for early stopping; the rest is the test set

# CSV header names recognised as the barrier column (case-insensitive).
BARRIER_COLUMN_NAMES = ("barrier", "barrier_ev", "em", "e_m", "energy", "y")
_SURFACE_IN_NAME = re.compile(r"_(100|110|111)\.(?:26d|csv)(?:\.gz)?$")


class DataFormatError(ValueError):
    """A barrier file does not follow its format; the message names the file and the line."""


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
            raise ValueError(f"`X` and `y` must have the same length; got {len(X)} rows of X "
                             f"and {len(y)} values of y.")
        if not np.all(np.isfinite(y)):
            bad = int(np.flatnonzero(~np.isfinite(y))[0])
            raise ValueError(f"`y` must be finite; got {y[bad]!r} at row {bad}.")
        X.setflags(write=False)
        y.setflags(write=False)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "surface", None if self.surface is None else check_surface(self.surface))
        object.__setattr__(self, "source", str(self.source))
        object.__setattr__(self, "metadata", dict(self.metadata))

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return f"Dataset(n={len(self)}, surface={self.surface!r}, source={self.source!r})"

    def subset(self, idx) -> "Dataset":
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

    def split(self, n_train: int = DEFAULT_N_TRAIN, n_val: int = DEFAULT_N_VAL, *,
              fractions=None, seed: int = 0) -> tuple["Dataset", "Dataset", "Dataset"]:
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
                raise ValueError("`fractions` must satisfy 0 < f_train, 0 <= f_val and "
                                 f"f_train + f_val <= 1; got {fractions!r}.")
            n_train, n_val = int(np.floor(f_train * n)), int(np.floor(f_val * n))
        else:
            n_train = check_int("n_train", n_train, low=1)
            n_val = check_int("n_val", n_val, low=0)
            if n_train + n_val >= n:
                raise ValueError(
                    f"`n_train` + `n_val` must be smaller than the data set size {n}; got "
                    f"{n_train} + {n_val} = {n_train + n_val}. Pass smaller counts or "
                    "fractions=(f_train, f_val)."
                )
        seed = check_int("seed", seed)
        order = np.random.default_rng(seed).permutation(n)
        bounds = {"train": order[:n_train], "val": order[n_train:n_train + n_val],
                  "test": order[n_train + n_val:]}
        parts = []
        for name, idx in bounds.items():
            part = self.subset(idx)
            part.metadata["split"] = {"part": name, "n_train": n_train, "n_val": n_val,
                                      "n_test": n - n_train - n_val, "seed": seed}
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
        stats = ({"y_mean": float(y.mean()), "y_std": float(y.std()), "y_min": float(y.min()),
                  "y_max": float(y.max())} if len(y) else
                 {"y_mean": None, "y_std": None, "y_min": None, "y_max": None})
        return {"n": len(self), "surface": self.surface, "source": self.source, **stats}


# --------------------------------------------------------------------------- reading bytes
def _decompress(raw: bytes) -> bytes:
    """Undo gzip / bz2 / xz compression, detected from the magic bytes."""
    if raw[:2] == b"\x1f\x8b":
        return gzip.decompress(raw)
    if raw[:3] == b"BZh":
        return bz2.decompress(raw)
    if raw[:6] == b"\xfd7zXZ\x00":
        return lzma.decompress(raw)
    return raw


def _is_tar(raw: bytes) -> bool:
    return len(raw) > 262 and raw[257:262] == b"ustar"


def _surface_from_header(head: str) -> str | None:
    """The ``# surface: 110`` comment that :func:`write_26d` writes (else None)."""
    for line in head.splitlines()[:20]:
        if line.startswith("# surface:"):
            value = line.split(":", 1)[1].strip()
            return value if value in ("100", "110", "111") else None
        if line and not line.startswith("#"):
            break
    return None


def surface_from_name(name: str) -> str | None:
    """Surface guessed from a file name like ``Cu_20170906_100.26d`` (else None).

    Examples
    --------
    >>> surface_from_name("Cu_ANN_processed/barriers/Cu_20170906_111.26d")
    '111'
    >>> surface_from_name("data.txt") is None
    True
    """
    match = _SURFACE_IN_NAME.search(os.path.basename(str(name)))
    return match.group(1) if match else None


def _read_tar_member(raw_tar: bytes, path: str, surface: str | None) -> tuple[bytes, str]:
    try:
        tar = tarfile.open(fileobj=io.BytesIO(raw_tar), mode="r:")
        members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".26d")]
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataFormatError(f"{path}: cannot read the tar archive ({exc})") from exc
    if surface is not None:
        chosen = [m for m in members if m.name.endswith(f"_{surface}.26d")]
    else:
        chosen = members
    names = [m.name for m in members]
    if not chosen:
        raise DataFormatError(f"{path}: no tar member ends in "
                              f"'_{surface if surface else '<surface>'}.26d'; members: {names}")
    if len(chosen) > 1:
        raise DataFormatError(f"{path}: the archive holds several .26d members {names}; "
                              "pick one with surface='100', '110' or '111'")
    member = chosen[0]
    try:
        data = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, AttributeError) as exc:
        raise DataFormatError(f"{path}:{member.name}: unreadable tar member ({exc})") from exc
    return _decompress(data), member.name


# --------------------------------------------------------------------------- parsing text
_WS = np.zeros(256, dtype=bool); _WS[[9, 10, 13, 32]] = True

def _fast_parse_block(buf):
    """Parse one block of whole lines; None if anything is unusual (the careful parser then runs)."""
    if (buf == 35).any():  # '#': blank every comment up to its line end
        buf = buf.copy()
        nl_pos = np.flatnonzero(buf == 10)
        hashes = np.flatnonzero(buf == 35)
        line = np.searchsorted(nl_pos, hashes)
        first = np.ones(len(hashes), dtype=bool); first[1:] = line[1:] != line[:-1]
        starts = hashes[first]
        stops = np.append(nl_pos, len(buf))[line[first]]
        delta = np.zeros(len(buf) + 1, dtype=np.int32)
        np.add.at(delta, starts, 1); np.add.at(delta, stops, -1)
        buf[np.cumsum(delta[:-1]) > 0] = 32
    ws = _WS[buf]  # (B,)
    tok = ~ws
    edge = tok[1:] != tok[:-1]
    starts = np.flatnonzero(edge & tok[1:]) + 1
    ends = np.flatnonzero(edge & tok[:-1]) + 1
    if tok[0]:
        starts = np.insert(starts, 0, 0)
    if tok[-1]:
        ends = np.append(ends, len(buf))
    nl_pos = np.flatnonzero(buf == 10)
    before = np.searchsorted(starts, np.append(nl_pos, len(buf)))  # tokens before each line end
    counts = np.diff(before, prepend=0)  # tokens per line
    counts = counts[counts > 0]
    if len(counts) == 0 or not np.all(counts == NUM_SITES + 1):
        return None
    starts = starts.reshape(-1, NUM_SITES + 1)  # (R, 27)
    ends = ends.reshape(-1, NUM_SITES + 1)
    if not np.all(ends[:, :NUM_SITES] - starts[:, :NUM_SITES] == 1):
        return None
    bits = buf[starts[:, :NUM_SITES]] - 48  # (R, 26)
    if bits.max() > 1:
        return None
    s, e = starts[:, NUM_SITES], ends[:, NUM_SITES]
    width = int((e - s).max())
    idx = s[:, None] + np.arange(width)  # (R, width)
    chars = np.where(idx < e[:, None], buf[np.minimum(idx, len(buf) - 1)], 0).astype(np.uint8)
    try:
        y = chars.view(f"S{width}").reshape(-1).astype(np.float64)
    except ValueError:
        return None
    return bits, y

def _fast_parse(data: bytes, block: int = 1 << 23):
    """Vectorised parser for whole-line blocks of ~8 MB (about 1M rows/s); None if unusual."""
    buf = np.frombuffer(data, dtype=np.uint8)
    bits, ys, pos = [], [], 0
    while pos < len(buf):
        stop = min(pos + block, len(buf))
        if stop < len(buf):
            nxt = data.find(b"\n", stop)
            stop = len(buf) if nxt < 0 else nxt + 1
        parsed = _fast_parse_block(buf[pos:stop])
        if parsed is None:
            return None
        bits.append(parsed[0])
        ys.append(parsed[1])
        pos = stop
    if not bits:
        return None
    return np.concatenate(bits), np.concatenate(ys)


def _strip(line: str) -> str:
    return line.split("#", 1)[0].strip()


def _first_data_line(text: str) -> str | None:
    for line in io.StringIO(text):
        stripped = _strip(line)
        if stripped:
            return stripped
    return None


def _locate_26d_error(text: str, name: str) -> DataFormatError:
    """Slow path, only after the fast parser failed: find and describe the first bad line."""
    n_rows = 0
    for number, line in enumerate(text.splitlines(), start=1):
        fields = _strip(line).split()
        if not fields:
            continue
        n_rows += 1
        if len(fields) != NUM_SITES + 1:
            return DataFormatError(f"{name}, line {number}: expected {NUM_SITES + 1} columns "
                                   f"(26 occupations then the barrier); got {len(fields)}")
        for col, value in enumerate(fields[:NUM_SITES]):
            try:
                ok = float(value) in (0.0, 1.0)
            except ValueError:
                ok = False
            if not ok:
                return DataFormatError(f"{name}, line {number}, column {col + 1}: occupations "
                                       f"must be 0 or 1; got {value!r}")
        try:
            barrier = float(fields[-1])
        except ValueError:
            barrier = None
        if barrier is None or not np.isfinite(barrier):
            return DataFormatError(f"{name}, line {number}, column {NUM_SITES + 1}: the barrier "
                                   f"must be a finite number in eV; got {fields[-1]!r}")
    if n_rows == 0:
        return DataFormatError(f"{name}, line 1: no data rows (empty file or only comments)")
    return DataFormatError(f"{name}: could not parse the file as 26 occupations plus a barrier per line")


def _parse_26d(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Fast vectorised path first, then pandas, then the slow line-by-line error report."""
    import pandas as pd

    fast = _fast_parse(data)
    if fast is not None and np.all(np.isfinite(fast[1])):
        return fast
    text = data.decode("utf-8", errors="replace")
    if fast is not None:
        raise _locate_26d_error(text, name)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=r"\s+", comment="#", header=None,
                            engine="c", dtype=np.float64, skip_blank_lines=True)
    except Exception:  # malformed rows, text in numeric columns, empty input: describe exactly
        raise _locate_26d_error(text, name) from None
    values = frame.to_numpy()  # (N, columns)
    if values.ndim != 2 or values.shape[0] == 0 or values.shape[1] != NUM_SITES + 1:
        raise _locate_26d_error(text, name)
    bits, y = values[:, :NUM_SITES], values[:, NUM_SITES]  # (N, 26), (N,)
    if not (np.all((bits == 0) | (bits == 1)) and np.all(np.isfinite(y))):
        raise _locate_26d_error(text, name)
    return bits, y


def _csv_site_order(header: list[str], name: str) -> tuple[list[int], int]:
    """Column indices of the 26 sites (in site order) and of the barrier, from a CSV header."""
    lower = [h.strip().lower() for h in header]
    barrier_cols = [i for i, h in enumerate(lower) if h in BARRIER_COLUMN_NAMES]
    if len(barrier_cols) != 1 or len(header) != NUM_SITES + 1:
        raise DataFormatError(
            f"{name}, line 1: a CSV header must name 26 site columns and one barrier column "
            f"(one of {BARRIER_COLUMN_NAMES}); got {len(header)} columns {header[:4]}...")
    b = barrier_cols[0]
    sites = [i for i in range(len(header)) if i != b]
    numbers = [re.fullmatch(r"[a-z_]*?(\d+)", lower[i]) for i in sites]
    if all(numbers) and sorted(int(m.group(1)) for m in numbers) == list(range(1, NUM_SITES + 1)):
        sites = [sites[k] for k in np.argsort([int(m.group(1)) for m in numbers])]
    return sites, b


def _parse_csv(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    text = data.decode("utf-8", errors="replace")
    header_line = _first_data_line(text)
    if header_line is None:
        raise DataFormatError(f"{name}, line 1: no data rows (empty file or only comments)")
    sites, b = _csv_site_order(next(csv.reader([header_line])), name)
    import pandas as pd

    try:  # fast path; any problem falls through to the careful line-by-line route
        values = pd.read_csv(io.BytesIO(data), comment="#", dtype=np.float64,
                             skip_blank_lines=True, engine="c").to_numpy()  # (N, 27)
        if values.shape[0] > 0 and values.shape[1] == NUM_SITES + 1:
            bits, y = values[:, sites], values[:, b]  # (N, 26), (N,)
            if np.all((bits == 0) | (bits == 1)) and np.all(np.isfinite(y)):
                return bits, y
    except Exception:
        pass
    # Re-express the CSV as whitespace text and reuse the .26d parser and its error messages.
    lines = text.splitlines()
    out, seen_header = [], False
    for line in lines:
        stripped = _strip(line)
        if stripped and not seen_header:
            seen_header = True
            out.append("#")
            continue
        fields = [f.strip() for f in stripped.split(",")] if stripped else []
        if fields and len(fields) == NUM_SITES + 1:
            fields = [fields[i] for i in sites] + [fields[b]]
        out.append(" ".join(f if f else "nan" for f in fields))
    return _parse_26d("\n".join(out).encode(), name)


def _looks_like_csv(first_line: str | None) -> bool:
    return first_line is not None and "," in first_line


# --------------------------------------------------------------------------- public loaders
def load_barriers(path, surface=None, *, site_order=None) -> Dataset:
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

    Returns
    -------
    Dataset

    Raises
    ------
    DataFormatError
        (a ``ValueError``) naming the file and line: wrong column count, an occupation other
        than 0/1, a NaN or infinite barrier, an empty file, an unreadable tar member.

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
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    name = path
    data = _decompress(raw)
    if _is_tar(data):
        data, member = _read_tar_member(data, path, surface)
        name = f"{path}:{member}"
        surface = surface or surface_from_name(member)
    surface = surface or surface_from_name(path)
    head = data[: 1 << 16].decode("utf-8", errors="replace")
    surface = surface or _surface_from_header(head)
    parse = _parse_csv if _looks_like_csv(_first_data_line(head)) else _parse_26d
    bits, y = parse(data, name)
    if order is not None:
        bits = bits[:, order]  # (N, 26)
    X = 2 * bits.astype(np.float32) - 1  # (N, 26) in ±1
    metadata = {"format": parse.__name__[len("_parse_"):], "n_rows": len(y)}
    return Dataset(X=X, y=y, surface=surface, source=name, metadata=metadata)


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
    path = os.fspath(path)
    bits = (dataset.X > 0).astype(np.uint8)  # (N, 26)
    # Row text built as bytes in bulk: "b b ... b " then the barrier.
    chars = np.full((len(bits), 2 * NUM_SITES), ord(" "), dtype=np.uint8)  # (N, 52)
    chars[:, 0::2] = bits + ord("0")
    prefix = chars.view(f"S{2 * NUM_SITES}").reshape(-1)  # (N,)
    barrier = np.char.mod(b"%.17g", dataset.y) if len(dataset) else np.array([], dtype="S1")
    body = b"\n".join(np.char.add(prefix, barrier).tolist())
    meta = json.dumps(dataset.metadata, default=str, sort_keys=True)
    header = (f"# rbfviz .26d: 26 occupations (1 = occupied, 0 = vacant) then the barrier in eV\n"
              f"# surface: {dataset.surface}\n# source: {dataset.source}\n# n: {len(dataset)}\n"
              f"# metadata: {meta}\n").encode()
    payload = header + body + (b"\n" if len(dataset) else b"")
    if path.endswith(".gz"):
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                    compresslevel=6) as handle:
            handle.write(payload)
    else:
        with open(path, "wb") as handle:
            handle.write(payload)
