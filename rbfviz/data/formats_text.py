"""Parsing barrier text (paper §3.2.1): ``.26d`` rows and CSV, block by block, into 0/1 occupations and eV.

A ``.26d`` row is 26 whitespace-separated occupations (0/1) then the barrier in eV; ``#`` starts a
comment.  A CSV has one header row naming 26 site columns and one barrier column
(:data:`BARRIER_COLUMN_NAMES`).  Each block of whole lines (:func:`rbfviz.data.formats_stream.iter_blocks`)
goes through a vectorised parser first (about 1M rows/s), then pandas, and only when both fail
through a careful line-by-line parser whose :class:`~rbfviz.data.formats_stream.DataFormatError`
names the first bad line and column.

Examples
--------
>>> import io
>>> from rbfviz.data.formats_stream import BoundedStream
>>> text = b"# surface: 110\\n" + b" ".join([b"1"] * 26) + b" 0.5\\n"
>>> bits, y, fmt, surface = parse_stream(BoundedStream(io.BytesIO(text), "toy", "file", 10**6), "toy", 1000)
>>> bits.shape, y.tolist(), fmt, surface
((1, 26), [0.5], '26d', '110')
"""

from __future__ import annotations

import csv
import io
import re

import numpy as np

from rbfviz.data.formats_stream import BoundedStream, DataFormatError, iter_blocks

NUM_SITES = 26
MAX_ABS_BARRIER_EV = 1e3  # migration barriers are a few eV; beyond this it is a unit error or hostile

# CSV header names recognised as the barrier column (case-insensitive).
BARRIER_COLUMN_NAMES = ("barrier", "barrier_ev", "em", "e_m", "energy", "y")


def _surface_from_header(head: str) -> str | None:
    """The ``# surface: 110`` comment that :func:`rbfviz.data.formats_write.write_barrier_file` writes (else None)."""
    for line in head.splitlines()[:20]:
        if line.startswith("# surface:"):
            value = line.split(":", 1)[1].strip()
            return value if value in ("100", "110", "111") else None
        if line and not line.startswith("#"):
            break
    return None


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


def parse_stream(stream: BoundedStream, name: str, max_line: int):
    """Parse decompressed ``.26d`` or CSV text block by block: ``(bits, y, format, header_surface)``."""
    head = stream.peek(2**16).decode("utf-8", errors="replace")
    header_surface = _surface_from_header(head)
    fmt = "csv" if _looks_like_csv(_first_data_line(head)) else "26d"
    bits, ys, csv_columns = [], [], None
    for block, line in iter_blocks(stream, name, max_line):
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
