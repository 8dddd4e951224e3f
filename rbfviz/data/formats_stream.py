"""Bounded byte streams for barrier files: a file, its gzip / bz2 / xz content, the members of a tar archive.

Every layer counts its bytes and stops one byte past its limit (:data:`MAX_DECOMPRESSED_BYTES`),
lines longer than :data:`MAX_LINE_BYTES` are refused as they stream past, and a tar archive is
scanned once, front to back, with at most :data:`MAX_TAR_MEMBERS` members and no oversized header
extension.  So a decompression bomb, a file of one huge line or a hostile archive fails fast, in
bounded memory, with a :class:`DataFormatError` that names the file (and line).  The text parsers
(:mod:`rbfviz.data.formats_text`) read whole lines from :func:`iter_blocks`.

Examples
--------
>>> import gzip, io
>>> raw = BoundedStream(io.BytesIO(gzip.compress(b"0 1\\n1 0\\n")), "toy.gz", "file", max_bytes=100)
>>> [(block, line) for block, line in iter_blocks(decompressed(raw, 100), "toy.gz", max_line=10)]
[(b'0 1\\n1 0\\n', 1)]
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
import zlib

import numpy as np

MAX_DECOMPRESSED_BYTES = 2**30  # 1 GiB of (decompressed) bytes per file; the paper's data are ~0.85 GB
MAX_LINE_BYTES = 2**20  # a data line is ~75 bytes; a 1 MiB line is hostile or not a barrier file
MAX_TAR_MEMBERS = 10_000  # each member header is kept in memory while an archive is scanned
BLOCK = 2**22  # bytes decompressed and parsed at a time
_COMPRESSIONS = (
    (b"\x1f\x8b", "gzip", lambda f: gzip.GzipFile(fileobj=f, mode="rb")),
    (b"BZh", "bz2", bz2.BZ2File),
    (b"\xfd7zXZ\x00", "xz", lzma.LZMAFile),
)


class DataFormatError(ValueError):
    """A barrier file does not follow its format; the message names the file and the line."""


def check_limit(name: str, value) -> int:
    """A byte limit given by the caller: an int >= 1, else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be an int >= 1; got {value!r}.")
    return int(value)


class BoundedStream:
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
            return b"".join(iter(lambda: self.read(BLOCK), b""))
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


def decompressed(stream: BoundedStream, max_bytes: int) -> BoundedStream:
    """``stream`` itself, or its gzip / bz2 / xz content (detected from the magic bytes), bounded."""
    head = stream.peek(6)
    for magic, kind, opener in _COMPRESSIONS:
        if head.startswith(magic):
            return BoundedStream(opener(stream), stream.name, kind, max_bytes)
    return stream


def is_tar(head: bytes) -> bool:
    return len(head) > 262 and head[257:262] == b"ustar"


def iter_blocks(stream: BoundedStream, name: str, max_line: int):
    """Yield ``(block, first_line_number)``: whole lines, a few MB at a time; refuse long lines."""
    pending, line = b"", 1
    while True:
        chunk = stream.read(BLOCK)
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
            raise line_too_long(name, line, max_line)
    if pending:
        yield pending, line


def _check_line_lengths(block: bytes, name: str, line: int, max_line: int) -> None:
    ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)  # (L,) newline positions
    lengths = np.diff(ends, prepend=-1) - 1  # (L,) bytes per line without the newline
    if len(lengths) and lengths.max() > max_line:
        raise line_too_long(name, line + int(np.argmax(lengths > max_line)), max_line)


def line_too_long(name: str, line: int, max_line: int) -> DataFormatError:
    return DataFormatError(
        f"{name}, line {line}: the line is longer than {max_line} bytes (limit max_line_bytes={max_line}); "
        "a barrier file has one short line per configuration"
    )


class SmallHeaderTarInfo(tarfile.TarInfo):
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


def iter_tar_files(stream: BoundedStream, path: str, max_bytes: int):
    """Yield ``(member_name, member_stream)`` for each regular ``.26d`` member of a tar archive, streamed.

    The archive is read once, front to back (``mode="r|"``): each member's stream must be read
    before the next is asked for.  At most :data:`MAX_TAR_MEMBERS` members (of any kind) are
    scanned, no header extension may exceed :data:`MAX_LINE_BYTES`, and a broken archive is a
    :class:`DataFormatError` naming ``path``.
    """
    try:
        tar = tarfile.open(name=path, fileobj=stream, mode="r|", tarinfo=SmallHeaderTarInfo)
        for count, member in enumerate(tar, start=1):
            if count > MAX_TAR_MEMBERS:
                raise DataFormatError(f"{path}: the tar archive holds more than {MAX_TAR_MEMBERS} members")
            if not (member.isfile() and member.name.endswith(".26d")):
                continue
            name = f"{path}:{member.name}"
            yield member.name, BoundedStream(tar.extractfile(member), name, "tar member", max_bytes)
    except tarfile.TarError as exc:
        raise DataFormatError(f"{path}: cannot read the tar archive ({exc})") from exc
