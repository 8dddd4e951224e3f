"""No work lost or overwritten by mistake: output paths checked before any work starts, a network
that cannot be written where asked written to the temporary folder instead, and no unfinished
network saved over an existing file without ``--force``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from rbfviz.cli.errors import CliError


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output(path, *, inputs=(), flag: str = "--out", folder: bool = False) -> Path:
    """Check an output path before any work: its folder exists, is a folder and is writable, it
    is not a folder itself, and it is none of ``inputs``.  With ``folder=True`` the path is a
    folder to be created (with its parents): it must not be a file, and the nearest existing
    folder above it must be writable.

    Raises :class:`~rbfviz.cli.errors.CliError` naming the option and the path.
    """
    path = Path(path).expanduser()
    for source in inputs:
        if source is not None and _same_file(path, Path(source).expanduser()):
            raise CliError(f"{flag} {path} is also an input ({source}); refusing to overwrite an input")
    if folder:  # a folder of outputs is created with its parents: the nearest existing one counts
        if path.exists() and not path.is_dir():
            raise CliError(f"{flag} {path} exists and is not a folder")
        parent = path
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
    else:
        if path.is_dir():
            raise CliError(f"{flag} {path} is a folder; give a file name")
        parent = path.parent
    parent = parent if str(parent) else Path(".")
    if not parent.exists():
        raise CliError(f"{flag} {path}: the folder {parent} does not exist (create it first)")
    if not parent.is_dir():
        raise CliError(f"{flag} {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CliError(f"{flag} {path}: the folder {parent} is not writable")
    return path


def save_or_rescue(model, out: Path, what: str) -> Path:
    """Save ``model`` to ``out``; if that fails, to the temporary folder, then report both."""
    from rbfviz.core.store import save_model

    try:
        save_model(model, out)
        return out
    except OSError as exc:
        rescue = Path(tempfile.gettempdir()) / f"rbfviz-unsaved-{out.stem}-{time.strftime('%Y%m%d-%H%M%S')}.safetensors"
        save_model(model, rescue)
        raise CliError(f"could not write {out} ({exc}); the {what} network was saved to {rescue} instead") from None


def nothing_learned(out: Path, force: bool, what: str) -> bool:
    """Whether to skip saving a network that has not finished one epoch (or step)."""
    if force:
        return False
    kept = f"{out} is left unchanged" if out.exists() else f"nothing was written to {out}"
    print(f"cancelled before the first {what} finished: {kept} (use --force to save the untrained network)")
    return True
