"""Barrier files: the byte and text formats that :func:`rbfviz.datasets.load_barriers` reads (paper §3.2.1).

Occupations are stored as 0/1 (occupied = 1); the readers here return them as 0/1 and leave
the ±1 conversion to :class:`rbfviz.datasets.Dataset`.  Accepted formats:

* ``.26d`` text, as in the reference data (``machqu/rbfn`` ``util/dataset.py``): whitespace
  separated, ``#`` starts a comment, no header, 26 columns of 0/1 then the barrier in eV.
  Plain, gzip, bz2 or xz (detected from the magic bytes, not the extension).
* a tar archive (plain or compressed, e.g. ``Cu_ANN_processed.tgz``) whose members end in
  ``_{surface}.26d``, e.g. ``Cu_ANN_processed/barriers/Cu_20170906_100.26d``.
* CSV with one header row: 26 site columns and one barrier column.

Reading is streamed and bounded: the file is decompressed and parsed in blocks of a few MB, at
most :data:`MAX_DECOMPRESSED_BYTES` bytes are decompressed (the paper's three data sets together
are about 0.85 GB of text) and no line may be longer than :data:`MAX_LINE_BYTES`, so a
decompression bomb or a file of one huge line fails fast with a :class:`DataFormatError` that
names the file, in bounded memory.  Writing is atomic (a temporary file, then a rename).

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
import secrets
import tarfile
import zlib
from typing import NamedTuple

import numpy as np

NUM_SITES = 26
MAX_DECOMPRESSED_BYTES = 2**30  # 1 GiB of (decompressed) bytes per file; the paper's data are ~0.85 GB
MAX_LINE_BYTES = 2**20  # a data line is ~75 bytes; a 1 MiB line is hostile or not a barrier file
MAX_TAR_MEMBERS = 10_000  # each member header is kept in memory while an archive is scanned
MAX_ABS_BARRIER_EV = 1e3  # migration barriers are a few eV; beyond this it is a unit error or hostile
_BLOCK = 2**22  # bytes decompressed and parsed at a time

# CSV header names recognised as the barrier column (case-insensitive).
BARRIER_COLUMN_NAMES = ("barrier", "barrier_ev", "em", "e_m", "energy", "y")
_SURFACE_IN_NAME = re.compile(r"_(100|110|111)\.(?:26d|csv)(?:\.gz)?$")
_COMPRESSIONS = (
    (b"\x1f\x8b", "gzip", lambda f: gzip.GzipFile(fileobj=f, mode="rb")),
    (b"BZh", "bz2", bz2.BZ2File),
    (b"\xfd7zXZ\x00", "xz", lzma.LZMAFile),
)


class DataFormatError(ValueError):
    """A barrier file does not follow its format; the message names the file and the line."""


# --------------------------------------------------------------------------- reading bytes
class _BoundedStream:
    """The bytes of ``inner`` (a file, a decompressor, a tar member), at most ``max_bytes`` of them.

    Every failure of the layer below (truncated or corrupt compressed data, a truncated tar
    member, an I/O error) becomes a :class:`DataFormatError` naming ``name``.
    """

    def __init__(self, inner, name: str, kind: str, max_bytes: int):
        self._inner, self.name, self.kind, self.max_bytes = inner, name, kind, max_bytes
        self.count = 0  # bytes taken from ``inner`` so far
        self._head = b""  # bytes peeked at and not yet returned by read()

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(_BLOCK), b""))
        if self._head:
            out, self._head = self._head[:size], self._head[size:]
            return out
        want = min(size, self.max_bytes + 1 - self.count)  # one byte past the limit detects it
        try:
            data = self._inner.read(want)
        except EOFError as exc:
            raise DataFormatError(
                f"{self.name}: the {self.kind} data is truncated (it ends before its end-of-stream marker)"
            ) from exc
        except (OSError, zlib.error, lzma.LZMAError, tarfile.TarError) as exc:
            raise DataFormatError(f"{self.name}: the {self.kind} data is corrupt or truncated ({exc})") from exc
        self.count += len(data)
        if self.count > self.max_bytes:
            raise DataFormatError(
                f"{self.name}: more than {self.max_bytes} bytes of {self.kind} data (limit max_bytes="
                f"{self.max_bytes}); the file is too large or a decompression bomb"
            )
        return data

    def peek(self, size: int) -> bytes:
        """Up to ``size`` first bytes, which read() then returns again."""
        while len(self._head) < size:
            head, self._head = self._head, b""
            more = self.read(size - len(head))
            self._head = head + more
            if not more:
                break
        return self._head[:size]


def _decompressed(stream: _BoundedStream, max_bytes: int) -> _BoundedStream:
    """``stream`` itself, or its gzip / bz2 / xz content (detected from the magic bytes), bounded."""
    head = stream.peek(6)
    for magic, kind, opener in _COMPRESSIONS:
        if head.startswith(magic):
            return _BoundedStream(opener(stream), stream.name, kind, max_bytes)
    return stream


def _is_tar(head: bytes) -> bool:
    return len(head) > 262 and head[257:262] == b"ustar"


def _iter_blocks(stream: _BoundedStream, name: str, max_line: int):
    """Yield ``(block, first_line_number)``: whole lines, a few MB at a time; refuse long lines."""
    pending, line = b"", 1
    while True:
        chunk = stream.read(_BLOCK)
        if not chunk:
            break
        data = pending + chunk
        cut = data.rfind(b"\n") + 1
        block, pending = data[:cut], data[cut:]
        if block:
            _check_line_lengths(block, name, line, max_line)
            yield block, line
            line += block.count(b"\n")
        if len(pending) > max_line:
            raise _line_too_long(name, line, max_line)
    if pending:
        yield pending, line


def _check_line_lengths(block: bytes, name: str, line: int, max_line: int) -> None:
    ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)  # (L,) newline positions
    lengths = np.diff(ends, prepend=-1) - 1  # (L,) bytes per line without the newline
    if len(lengths) and lengths.max() > max_line:
        raise _line_too_long(name, line + int(np.argmax(lengths > max_line)), max_line)


def _line_too_long(name: str, line: int, max_line: int) -> DataFormatError:
    return DataFormatError(
        f"{name}, line {line}: the line is longer than {max_line} bytes (limit max_line_bytes={max_line}); "
        "a barrier file has one short line per configuration"
    )


def _surface_from_header(head: str) -> str | None:
    """The ``# surface: 110`` comment that :func:`write_barrier_file` writes (else None)."""
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


# --------------------------------------------------------------------------- parsing text
_WS = np.zeros(256, dtype=bool)
_WS[[9, 10, 13, 32]] = True
_EMPTY = (np.zeros((0, NUM_SITES), dtype=np.uint8), np.zeros(0, dtype=np.float64))


def _fast_parse_block(buf):
    """Parse one block of whole lines (about 1M rows/s); None if anything is unusual (the careful parser then runs)."""
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
    if not tok.any():
        return _EMPTY
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
    if not np.all(counts == NUM_SITES + 1):
        return None
    starts = starts.reshape(-1, NUM_SITES + 1)  # (R, 27)
    ends = ends.reshape(-1, NUM_SITES + 1)
    if not np.all(ends[:, :NUM_SITES] - starts[:, :NUM_SITES] == 1):
        return None
    bits = buf[starts[:, :NUM_SITES]] - 48  # (R, 26) uint8
    if bits.max() > 1:
        return None
    s, e = starts[:, NUM_SITES], ends[:, NUM_SITES]
    width = int((e - s).max())
    idx = s[:, None] + np.arange(width)  # (R, width)
    chars = np.where(idx < e[:, None], buf[np.minimum(idx, len(buf) - 1)], 0).astype(np.uint8)
    try:
        y = chars.view(f"S{width}").reshape(-1).astype(np.float64)  # (R,)
    except ValueError:
        return None
    return bits, y


def _acceptable(bits: np.ndarray, y: np.ndarray) -> bool:
    return bool(np.all((bits == 0) | (bits == 1)) and np.all(np.abs(y) <= MAX_ABS_BARRIER_EV))  # NaN fails too


def _strip(line: str) -> str:
    return line.split("#", 1)[0].strip()


def _first_data_line(text: str) -> str | None:
    for line in io.StringIO(text):
        stripped = _strip(line)
        if stripped:
            return stripped
    return None


def _careful_parse(text: str, first_line: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Line by line: the rows, or a :class:`DataFormatError` naming the first bad line and column."""
    bits, ys = [], []
    for number, line in enumerate(text.split("\n"), start=first_line):
        fields = _strip(line).split()
        if not fields:
            continue
        if len(fields) != NUM_SITES + 1:
            raise DataFormatError(
                f"{name}, line {number}: expected {NUM_SITES + 1} columns "
                f"(26 occupations then the barrier); got {len(fields)}"
            )
        row = []
        for col, value in enumerate(fields[:NUM_SITES]):
            try:
                bit = float(value)
            except ValueError:
                bit = None
            if bit not in (0.0, 1.0):
                raise DataFormatError(
                    f"{name}, line {number}, column {col + 1}: occupations must be 0 or 1; got {value[:40]!r}"
                )
            row.append(bit)
        try:
            barrier = float(fields[-1])
        except ValueError:
            barrier = float("nan")
        if not abs(barrier) <= MAX_ABS_BARRIER_EV:
            raise DataFormatError(
                f"{name}, line {number}, column {NUM_SITES + 1}: the barrier must be a finite number in eV "
                f"of magnitude at most {MAX_ABS_BARRIER_EV:g}; got {fields[-1][:40]!r}"
            )
        bits.append(row)
        ys.append(barrier)
    if not ys:
        return _EMPTY
    return np.array(bits, dtype=np.uint8), np.array(ys, dtype=np.float64)


def _parse_26d_block(block: bytes, first_line: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Fast vectorised path first, then pandas, then the careful line-by-line parser."""
    fast = _fast_parse_block(np.frombuffer(block, dtype=np.uint8))
    if fast is not None and _acceptable(*fast):
        return fast
    text = block.decode("utf-8", errors="replace")
    if fast is None:
        import pandas as pd

        try:
            values = pd.read_csv(
                io.StringIO(text), sep=r"\s+", comment="#", header=None, engine="c", dtype=np.float64
            ).to_numpy()  # (R, columns)
            if values.ndim == 2 and values.shape[1] == NUM_SITES + 1:
                bits, y = values[:, :NUM_SITES], values[:, NUM_SITES]  # (R, 26), (R,)
                if _acceptable(bits, y):
                    return bits.astype(np.uint8), y
        except Exception:  # malformed rows, text in numeric columns, no rows: the careful parser decides
            pass
    return _careful_parse(text, first_line, name)


def _csv_site_order(header: list[str], name: str, line: int) -> tuple[list[int], int]:
    """Column indices of the 26 sites (in site order) and of the barrier, from a CSV header."""
    lower = [h.strip().lower() for h in header]
    barrier_cols = [i for i, h in enumerate(lower) if h in BARRIER_COLUMN_NAMES]
    if len(barrier_cols) != 1 or len(header) != NUM_SITES + 1:
        raise DataFormatError(
            f"{name}, line {line}: a CSV header must name 26 site columns and one barrier column "
            f"(one of {BARRIER_COLUMN_NAMES}); got {len(header)} columns {[h[:40] for h in header[:4]]}..."
        )
    b = barrier_cols[0]
    sites = [i for i in range(len(header)) if i != b]
    numbers = [re.fullmatch(r"[a-z_]*?(\d+)", lower[i]) for i in sites]
    if all(numbers) and sorted(int(m.group(1)) for m in numbers) == list(range(1, NUM_SITES + 1)):
        sites = [sites[k] for k in np.argsort([int(m.group(1)) for m in numbers])]
    return sites, b


def _parse_csv_block(block: bytes, first_line: int, name: str, sites: list[int], b: int):
    """Rows of a CSV block (no header); errors are described by the .26d parser on the same lines."""
    import pandas as pd

    try:  # fast path; any problem falls through to the careful line-by-line route
        values = pd.read_csv(
            io.BytesIO(block), header=None, comment="#", dtype=np.float64, skip_blank_lines=True, engine="c"
        ).to_numpy()  # (R, 27)
        if values.shape[1] == NUM_SITES + 1:
            bits, y = values[:, sites], values[:, b]  # (R, 26), (R,)
            if _acceptable(bits, y):
                return bits.astype(np.uint8), y
    except Exception:
        pass
    # Re-express each CSV line as one whitespace line (same numbering) for the .26d error messages.
    out = []
    for line in block.decode("utf-8", errors="replace").split("\n"):
        stripped = _strip(line)
        fields = [f.strip() for f in stripped.split(",")] if stripped else []
        if len(fields) == NUM_SITES + 1:
            fields = [fields[i] for i in sites] + [fields[b]]
        out.append(" ".join(f if f else "nan" for f in fields))
    return _careful_parse("\n".join(out), first_line, name)


def _parse_stream(stream: _BoundedStream, name: str, max_line: int):
    """Parse decompressed ``.26d`` or CSV text block by block: ``(bits, y, format, header_surface)``."""
    head = stream.peek(2**16).decode("utf-8", errors="replace")
    header_surface = _surface_from_header(head)
    fmt = "csv" if _looks_like_csv(_first_data_line(head)) else "26d"
    bits, ys, csv_columns = [], [], None
    for block, line in _iter_blocks(stream, name, max_line):
        if fmt == "26d":
            parsed = _parse_26d_block(block, line, name)
        else:
            if csv_columns is None:  # the header is the first line that is not blank or a comment
                lines = block.split(b"\n")
                k = next((i for i, text in enumerate(lines) if _strip(text.decode("utf-8", "replace"))), None)
                if k is None:
                    continue
                header = _strip(lines[k].decode("utf-8", errors="replace"))
                csv_columns = _csv_site_order(next(csv.reader([header])), name, line + k)
                block, line = b"\n".join(lines[k + 1 :]), line + k + 1
            parsed = _parse_csv_block(block, line, name, *csv_columns)
        if len(parsed[1]):
            bits.append(np.packbits(parsed[0], axis=1))  # (R, 4): 8 sites a byte while the file is read
            ys.append(parsed[1])
    if not ys:
        raise DataFormatError(f"{name}, line 1: no data rows (empty file or only comments)")
    bits = np.unpackbits(np.concatenate(bits), axis=1, count=NUM_SITES)  # (N, 26) of 0/1
    return bits, np.concatenate(ys), fmt, header_surface


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


def _check_limit(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be an int >= 1; got {value!r}.")
    return int(value)


class _SmallHeaderTarInfo(tarfile.TarInfo):
    """Tar headers whose extension blocks (pax, GNU long names) are refused beyond :data:`MAX_LINE_BYTES`.

    :mod:`tarfile` reads such a block into memory whole; without this, one header could claim
    up to ``max_bytes``.
    """

    _EXTENDED = (
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
    )

    def _proc_member(self, tar):
        if self.type in self._EXTENDED and self.size > MAX_LINE_BYTES:
            raise DataFormatError(
                f"{tar.name}: a tar header extension of {self.size} bytes (more than {MAX_LINE_BYTES}); "
                "not a barrier archive"
            )
        return super()._proc_member(tar)


def _read_tar(stream: _BoundedStream, path: str, surface: str | None, max_bytes: int, max_line: int):
    """Stream through a tar archive and parse the one ``.26d`` member picked by ``surface``."""
    names, found = [], None
    try:
        tar = tarfile.open(name=path, fileobj=stream, mode="r|", tarinfo=_SmallHeaderTarInfo)
        for count, member in enumerate(tar, start=1):
            if count > MAX_TAR_MEMBERS:
                raise DataFormatError(f"{path}: the tar archive holds more than {MAX_TAR_MEMBERS} members")
            if not (member.isfile() and member.name.endswith(".26d")):
                continue
            names.append(member.name[:200])
            if surface is not None and not member.name.endswith(f"_{surface}.26d"):
                continue
            if found is not None:
                raise DataFormatError(
                    f"{path}: the archive holds several .26d members {names}; "
                    "pick one with surface='100', '110' or '111'"
                )
            name = f"{path}:{member.name}"
            inner = _BoundedStream(tar.extractfile(member), name, "tar member", max_bytes)
            found = (*_parse_stream(_decompressed(inner, max_bytes), name, max_line), member.name)
    except tarfile.TarError as exc:
        raise DataFormatError(f"{path}: cannot read the tar archive ({exc})") from exc
    if found is None:
        raise DataFormatError(
            f"{path}: no tar member ends in '_{surface if surface else '<surface>'}.26d'; members: {names}"
        )
    return found


def read_barrier_file(
    path, surface=None, *, max_bytes: int | None = None, max_line_bytes: int | None = None
) -> RawBarriers:
    """Read any accepted barrier file (see the module docstring) as 0/1 occupations and barriers.

    The file is decompressed and parsed as a stream, in blocks of a few MB, so memory stays
    bounded by the limits below whatever the file holds.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.26d`` text file (plain or compressed), a tar archive of ``.26d`` members, or a CSV.
    surface : {"100", "110", "111"} or None, default=None
        Already-checked surface.  It picks the tar member; if None, the surface is taken from
        the member or file name (``..._100.26d``), then from a ``# surface:`` header comment.
    max_bytes : int, optional
        Largest number of bytes read from the file, and of bytes after decompression (a tar
        archive counts whole, the members it skips included); default
        :data:`MAX_DECOMPRESSED_BYTES` (1 GiB).
    max_line_bytes : int, optional
        Longest accepted line; default :data:`MAX_LINE_BYTES` (1 MiB).

    Returns
    -------
    RawBarriers
        ``bits`` (N, 26) of 0/1 in file column order, ``y`` (N,) in eV, ``surface`` (or None),
        ``source`` and ``format`` (``"26d"`` or ``"csv"``).

    Raises
    ------
    DataFormatError
        Naming the file (and line, where there is one): the errors described in
        :func:`rbfviz.datasets.load_barriers`, a limit exceeded, truncated or corrupt
        compressed data or tar archive, a barrier that is not finite or beyond
        :data:`MAX_ABS_BARRIER_EV` eV.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.csv"
    >>> _ = path.write_text(",".join([f"s{i}" for i in range(1, 27)] + ["barrier"]) + "\\n"
    ...                     + ",".join(["1"] * 26 + ["0.5"]) + "\\n")
    >>> read_barrier_file(path, surface="110")[2:]
    ('110', '...toy.csv', 'csv')
    >>> read_barrier_file(path, max_line_bytes=50)
    Traceback (most recent call last):
    ...
    rbfviz.data.formats.DataFormatError: ...toy.csv, line 1: the line is longer than 50 bytes ...
    """
    path = os.fspath(path)
    max_bytes = _check_limit("max_bytes", MAX_DECOMPRESSED_BYTES if max_bytes is None else max_bytes)
    max_line = _check_limit("max_line_bytes", MAX_LINE_BYTES if max_line_bytes is None else max_line_bytes)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    with handle:
        stream = _decompressed(_BoundedStream(handle, path, "file", max_bytes), max_bytes)
        if _is_tar(stream.peek(512)):
            bits, y, fmt, header_surface, member = _read_tar(stream, path, surface, max_bytes, max_line)
            name = f"{path}:{member}"
            surface = surface or surface_from_name(member)
        else:
            bits, y, fmt, header_surface = _parse_stream(stream, path, max_line)
            name = path
    surface = surface or surface_from_name(path) or header_surface
    return RawBarriers(bits, y, surface, name, fmt)


# --------------------------------------------------------------------------- the file writer
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, someone else's
        return True
    return True


def _remove_orphans(directory: str, base: str) -> None:
    """Delete ``.{base}.{pid}.*.tmp`` files left by writers that were killed (their pid is gone)."""
    pattern = re.compile(rf"\.{re.escape(base)}\.(\d+)\.[0-9a-f]+\.tmp")
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry)
        if match and int(match.group(1)) != os.getpid() and not _pid_alive(int(match.group(1))):
            try:
                os.unlink(os.path.join(directory, entry))
            except OSError:
                pass


def write_barrier_file(path, bits, y, *, surface=None, source="", metadata=None) -> None:
    """Write ``.26d`` text: 26 columns of 0/1, then the barrier in eV (gzipped if ``path`` ends in ``.gz``).

    A ``#`` header records the surface, source and metadata (as JSON), which
    :func:`read_barrier_file` reads back.  Barriers are written with 17 significant digits, so a
    round trip returns the same float64 values.  The write is atomic: the text goes to a
    temporary file in the same folder, which is synced and then renamed over ``path``, so a
    crash, a kill or a full disk leaves either the old file or the new one, never a partial
    file.  Temporary files of killed writers are removed.

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
    directory, base = os.path.split(os.path.abspath(path))
    _remove_orphans(directory, base)
    tmp = os.path.join(directory, f".{base}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for open()
    try:
        with os.fdopen(fd, "wb") as raw:
            if path.endswith(".gz"):
                name = base[: -len(".gz")]
                with gzip.GzipFile(filename=name, fileobj=raw, mode="wb", mtime=0, compresslevel=6) as handle:
                    handle.write(payload)
            else:
                raw.write(payload)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
