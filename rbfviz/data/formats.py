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

This module holds the reader; the pieces live in :mod:`rbfviz.data.formats_stream` (bounded,
decompressed streams and tar members), :mod:`rbfviz.data.formats_text` (parsing ``.26d`` and CSV
text) and :mod:`rbfviz.data.formats_write` (the writer), and every public name is importable from here.

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

import os
import re
from typing import NamedTuple

import numpy as np

from rbfviz.data.formats_stream import (
    MAX_DECOMPRESSED_BYTES,
    MAX_LINE_BYTES,
    MAX_TAR_MEMBERS,
    BoundedStream,
    DataFormatError,
    check_limit,
    decompressed,
    is_tar,
    iter_tar_files,
)
from rbfviz.data.formats_text import BARRIER_COLUMN_NAMES, MAX_ABS_BARRIER_EV, NUM_SITES, parse_stream
from rbfviz.data.formats_write import write_barrier_file

__all__ = [  # the reader, and (re-exported from their homes) the limits, the error and the writer
    "BARRIER_COLUMN_NAMES",
    "MAX_ABS_BARRIER_EV",
    "MAX_DECOMPRESSED_BYTES",
    "MAX_LINE_BYTES",
    "MAX_TAR_MEMBERS",
    "NUM_SITES",
    "DataFormatError",
    "RawBarriers",
    "read_barrier_file",
    "surface_from_name",
    "write_barrier_file",
]

_SURFACE_IN_NAME = re.compile(r"_(100|110|111)\.(?:26d|csv)(?:\.gz)?$")


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


class RawBarriers(NamedTuple):
    """What :func:`read_barrier_file` found: 0/1 occupations, barriers and where they came from."""

    bits: np.ndarray  # (N, 26) of 0/1, in file column order
    y: np.ndarray  # (N,) barriers in eV
    surface: str | None
    source: str  # the path, or "path:member" for a tar member
    format: str  # "26d" or "csv"


def _read_tar(stream: BoundedStream, path: str, surface: str | None, max_bytes: int, max_line: int):
    """Stream through a tar archive and parse the one ``.26d`` member picked by ``surface``."""
    names, found = [], None
    for member, inner in iter_tar_files(stream, path, max_bytes):
        names.append(member[:200])
        if surface is not None and not member.endswith(f"_{surface}.26d"):
            continue
        if found is not None:
            raise DataFormatError(
                f"{path}: the archive holds several .26d members {names}; pick one with surface='100', '110' or '111'"
            )
        found = (*parse_stream(decompressed(inner, max_bytes), inner.name, max_line), member)
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
    rbfviz.data.formats_stream.DataFormatError: ...toy.csv, line 1: the line is longer than 50 bytes ...
    """
    path = os.fspath(path)
    max_bytes = check_limit("max_bytes", MAX_DECOMPRESSED_BYTES if max_bytes is None else max_bytes)
    max_line = check_limit("max_line_bytes", MAX_LINE_BYTES if max_line_bytes is None else max_line_bytes)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    with handle:
        stream = decompressed(BoundedStream(handle, path, "file", max_bytes), max_bytes)
        if is_tar(stream.peek(512)):
            bits, y, fmt, header_surface, member = _read_tar(stream, path, surface, max_bytes, max_line)
            name = f"{path}:{member}"
            surface = surface or surface_from_name(member)
        else:
            bits, y, fmt, header_surface = parse_stream(stream, path, max_line)
            name = path
    surface = surface or surface_from_name(path) or header_surface
    return RawBarriers(bits, y, surface, name, fmt)
