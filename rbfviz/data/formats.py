"""Barrier files: the byte and text formats that :func:`rbfviz.datasets.load_barriers` reads (paper §3.2.1).

Occupations are stored as 0/1 (occupied = 1); the readers here return them as 0/1 and leave
the ±1 conversion to :class:`rbfviz.datasets.Dataset`.  Accepted formats:

* ``.26d`` text, as in the reference data (``machqu/rbfn`` ``util/dataset.py``): whitespace
  separated, ``#`` starts a comment, no header, 26 columns of 0/1 then the barrier in eV.
  Plain, gzip, bz2 or xz (detected from the magic bytes, not the extension).
* a tar archive (plain or compressed, e.g. ``Cu_ANN_processed.tgz``) whose members end in
  ``_{surface}.26d``, e.g. ``Cu_ANN_processed/barriers/Cu_20170906_100.26d``.
* CSV with one header row: 26 site columns and one barrier column.

Examples
--------
>>> import gzip, pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "toy_111.26d.gz"
>>> _ = path.write_bytes(gzip.compress((" ".join(["0"] * 26) + " 0.75\\n").encode()))
>>> raw = read_barrier_file(path)
>>> raw.surface, raw.format, raw.bits.shape, raw.y.tolist()
('111', '26d', (1, 26), [0.75])
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
from typing import NamedTuple

import numpy as np

NUM_SITES = 26

# CSV header names recognised as the barrier column (case-insensitive).
BARRIER_COLUMN_NAMES = ("barrier", "barrier_ev", "em", "e_m", "energy", "y")
_SURFACE_IN_NAME = re.compile(r"_(100|110|111)\.(?:26d|csv)(?:\.gz)?$")


class DataFormatError(ValueError):
    """A barrier file does not follow its format; the message names the file and the line."""


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
        raise DataFormatError(
            f"{path}: no tar member ends in '_{surface if surface else '<surface>'}.26d'; members: {names}"
        )
    if len(chosen) > 1:
        raise DataFormatError(
            f"{path}: the archive holds several .26d members {names}; pick one with surface='100', '110' or '111'"
        )
    member = chosen[0]
    try:
        data = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, AttributeError) as exc:
        raise DataFormatError(f"{path}:{member.name}: unreadable tar member ({exc})") from exc
    return _decompress(data), member.name


# --------------------------------------------------------------------------- parsing text
_WS = np.zeros(256, dtype=bool)
_WS[[9, 10, 13, 32]] = True


def _fast_parse_block(buf):
    """Parse one block of whole lines; None if anything is unusual (the careful parser then runs)."""
    if (buf == 35).any():  # '#': blank every comment up to its line end
        buf = buf.copy()
        nl_pos = np.flatnonzero(buf == 10)
        hashes = np.flatnonzero(buf == 35)
        line = np.searchsorted(nl_pos, hashes)
        first = np.ones(len(hashes), dtype=bool)
        first[1:] = line[1:] != line[:-1]
        starts = hashes[first]
        stops = np.append(nl_pos, len(buf))[line[first]]
        delta = np.zeros(len(buf) + 1, dtype=np.int32)
        np.add.at(delta, starts, 1)
        np.add.at(delta, stops, -1)
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
            return DataFormatError(
                f"{name}, line {number}: expected {NUM_SITES + 1} columns "
                f"(26 occupations then the barrier); got {len(fields)}"
            )
        for col, value in enumerate(fields[:NUM_SITES]):
            try:
                ok = float(value) in (0.0, 1.0)
            except ValueError:
                ok = False
            if not ok:
                return DataFormatError(
                    f"{name}, line {number}, column {col + 1}: occupations must be 0 or 1; got {value!r}"
                )
        try:
            barrier = float(fields[-1])
        except ValueError:
            barrier = None
        if barrier is None or not np.isfinite(barrier):
            return DataFormatError(
                f"{name}, line {number}, column {NUM_SITES + 1}: the barrier "
                f"must be a finite number in eV; got {fields[-1]!r}"
            )
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
        frame = pd.read_csv(
            io.StringIO(text), sep=r"\s+", comment="#", header=None, engine="c", dtype=np.float64, skip_blank_lines=True
        )
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
            f"(one of {BARRIER_COLUMN_NAMES}); got {len(header)} columns {header[:4]}..."
        )
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
        values = pd.read_csv(
            io.BytesIO(data), comment="#", dtype=np.float64, skip_blank_lines=True, engine="c"
        ).to_numpy()  # (N, 27)
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


# --------------------------------------------------------------------------- the file reader
class RawBarriers(NamedTuple):
    """What :func:`read_barrier_file` found: 0/1 occupations, barriers and where they came from."""

    bits: np.ndarray  # (N, 26) of 0/1, in file column order
    y: np.ndarray  # (N,) barriers in eV
    surface: str | None
    source: str  # the path, or "path:member" for a tar member
    format: str  # "26d" or "csv"


def read_barrier_file(path, surface=None) -> RawBarriers:
    """Read any accepted barrier file (see the module docstring) as 0/1 occupations and barriers.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.26d`` text file (plain or compressed), a tar archive of ``.26d`` members, or a CSV.
    surface : {"100", "110", "111"} or None, default=None
        Already-checked surface.  It picks the tar member; if None, the surface is taken from
        the member or file name (``..._100.26d``), then from a ``# surface:`` header comment.

    Returns
    -------
    RawBarriers
        ``bits`` (N, 26) of 0/1 in file column order, ``y`` (N,) in eV, ``surface`` (or None),
        ``source`` and ``format`` (``"26d"`` or ``"csv"``).

    Raises
    ------
    DataFormatError
        Naming the file and line, as described in :func:`rbfviz.datasets.load_barriers`.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.csv"
    >>> _ = path.write_text(",".join([f"s{i}" for i in range(1, 27)] + ["barrier"]) + "\\n"
    ...                     + ",".join(["1"] * 26 + ["0.5"]) + "\\n")
    >>> read_barrier_file(path, surface="110")[2:]
    ('110', '...toy.csv', 'csv')
    """
    path = os.fspath(path)
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
    return RawBarriers(bits, y, surface, name, parse.__name__[len("_parse_") :])


def write_barrier_file(path, bits, y, *, surface=None, source="", metadata=None) -> None:
    """Write ``.26d`` text: 26 columns of 0/1, then the barrier in eV (gzipped if ``path`` ends in ``.gz``).

    A ``#`` header records the surface, source and metadata (as JSON), which
    :func:`read_barrier_file` reads back.  Barriers are written with 17 significant digits, so a
    round trip returns the same float64 values.

    Parameters
    ----------
    path : str or path-like
    bits : array of bool or 0/1, shape (N, 26)
        Occupations (1 = occupied).
    y : array of float, shape (N,)
        Barriers in eV.
    """
    path = os.fspath(path)
    bits = np.asarray(bits).astype(np.uint8)  # (N, 26)
    y = np.asarray(y, dtype=np.float64)
    # Row text built as bytes in bulk: "b b ... b " then the barrier.
    chars = np.full((len(bits), 2 * NUM_SITES), ord(" "), dtype=np.uint8)  # (N, 52)
    chars[:, 0::2] = bits + ord("0")
    prefix = chars.view(f"S{2 * NUM_SITES}").reshape(-1)  # (N,)
    barrier = np.char.mod(b"%.17g", y) if len(y) else np.array([], dtype="S1")
    body = b"\n".join(np.char.add(prefix, barrier).tolist())
    meta = json.dumps(metadata or {}, default=str, sort_keys=True)
    header = (
        f"# rbfviz .26d: 26 occupations (1 = occupied, 0 = vacant) then the barrier in eV\n"
        f"# surface: {surface}\n# source: {source}\n# n: {len(y)}\n"
        f"# metadata: {meta}\n"
    ).encode()
    payload = header + body + (b"\n" if len(y) else b"")
    if path.endswith(".gz"):
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as handle:
            handle.write(payload)
    else:
        with open(path, "wb") as handle:
            handle.write(payload)
