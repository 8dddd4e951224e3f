"""Writing ``.26d`` barrier files: bulk text, a ``#`` header that the reader reads back, atomic replace.

Examples
--------
>>> import pathlib, tempfile
>>> from rbfviz.data.formats import read_barrier_file
>>> path = pathlib.Path(tempfile.mkdtemp()) / "toy_100.26d.gz"
>>> write_barrier_file(path, [[1] * 26], [0.1 + 0.2], surface="100")
>>> raw = read_barrier_file(path)
>>> raw.surface, raw.y.tolist() == [0.1 + 0.2]
('100', True)
"""

from __future__ import annotations

import gzip
import json
import os
import re
import secrets

import numpy as np

from rbfviz.data.formats_text import NUM_SITES


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
