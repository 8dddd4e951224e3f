"""Where the dashboard keeps networks between restarts, and where the bundled ones live.

The workspace is a plain folder of model files written with :func:`rbfviz.store.save_model`.
The browser never names a path: file names are made here from the model's surface, size and
content hash, and only files inside the folder are listed or deleted.

Examples
--------
>>> import tempfile
>>> ws = Workspace(folder=tempfile.mkdtemp())
>>> ws.model_files()
[]
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import param

if TYPE_CHECKING:
    from rbfviz.core.metadata import ModelInfo

# --------------------------------------------------------------------------- constants
WORKSPACE_ENV = "RBFVIZ_WORKSPACE"  # overrides the default workspace folder
MODELS_ENV = "RBFVIZ_MODELS"  # overrides the folder of bundled (read-only) networks
MODEL_SUFFIX = ".safetensors"
CACHE_ENTRIES = 64  # model files kept loaded per process (least recently used dropped first)
MODEL_CACHE_KEY = "rbfviz.app.model_cache"  # the per-process ModelCache in pn.state.cache
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


# --------------------------------------------------------------------------- small pieces
def default_workspace() -> Path:
    """``$RBFVIZ_WORKSPACE`` or ``~/.local/share/rbfviz/workspace``."""
    env = os.environ.get(WORKSPACE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "share" / "rbfviz" / "workspace"


def bundled_models_dir() -> Path:
    """``$RBFVIZ_MODELS`` or the networks shipped inside the package (``rbfviz/bundled_models``)."""
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env).expanduser()
    return Path(str(resources.files("rbfviz") / "bundled_models"))


def model_file_name(info: ModelInfo, content_hash: str) -> str:
    """A file name made only from the model's typed metadata ``info`` (``model.info``, a
    :class:`~rbfviz.core.metadata.ModelInfo`), e.g. ``pruned-110-K16-1a2b3c4d5e.safetensors``.

    >>> from rbfviz.core.metadata import ModelInfo
    >>> model_file_name(ModelInfo(num_centroids=64, num_inputs=26, surface="100"), "abcdef0123456789")
    'trained-100-K64-abcdef012345.safetensors'
    """
    surface = info.surface or "any"
    stem = _SAFE_NAME.sub("_", f"{info.kind}-{surface}-K{info.num_centroids}-{content_hash[:12]}")
    return stem + MODEL_SUFFIX


def list_model_files(folder: Path) -> list[Path]:
    """Model files directly inside ``folder`` (sorted), or [] when it does not exist."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith((MODEL_SUFFIX, ".gz", ".pt")))


def file_hash(path) -> str:
    """SHA-256 of a file's bytes, read in 1 MB blocks (constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            h.update(block)
    return h.hexdigest()


class ModelCache:
    """Loaded model files shared by the sessions of one process, keyed by the file's SHA-256.

    A page load then reads each model file once per process, not once per session.  The hash
    of a file is remembered by (path, size, mtime, inode), so an unchanged file is not even
    re-hashed, and a file that changed in place is hashed and loaded again.  The models handed
    out are shared: callers must not change them (:meth:`rbfviz.app.state.AppState.rename` copies).

    Examples
    --------
    >>> import tempfile, os
    >>> from rbfviz.core.model import RBFN
    >>> from rbfviz.core.store import save_model
    >>> path = os.path.join(tempfile.mkdtemp(), "net.safetensors"); save_model(RBFN(26, 3), path)
    >>> cache = ModelCache()
    >>> cache.load(path) is cache.load(path), cache.loads
    (True, 1)
    """

    def __init__(self, max_entries: int = CACHE_ENTRIES):
        self.max_entries = int(max_entries)
        self.loads = 0  # files actually parsed (for tests and the server log)
        self._models: OrderedDict[str, tuple[object, str]] = OrderedDict()  # file hash -> (model, content hash)
        self._hashes: dict[tuple, str] = {}
        self._lock = threading.Lock()

    def load(self, path):
        """The model in ``path`` (via :func:`rbfviz.core.store.load_model`), loaded once per content."""
        return self.load_with_key(path)[0]

    def load_with_key(self, path) -> tuple[object, str]:
        """(model, its :func:`~rbfviz.core.store.content_hash`), both computed once per file content.

        The content hash is computed here from the tensors, never taken from the file's metadata.
        """
        from rbfviz.core.store import content_hash, load_model

        path = Path(path)
        st = path.stat()
        stamp = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
        with self._lock:
            digest = self._hashes.get(stamp)
        if digest is None:
            digest = file_hash(path)
        with self._lock:
            self._hashes[stamp] = digest
            if digest in self._models:
                self._models.move_to_end(digest)
                return self._models[digest]
        model = load_model(path)
        entry = (model, content_hash(model))
        with self._lock:
            self.loads += 1
            self._models[digest] = entry
            while len(self._models) > self.max_entries:
                self._models.popitem(last=False)
            if len(self._hashes) > 4 * self.max_entries:
                self._hashes.clear()
        return entry


def shared_model_cache() -> ModelCache:
    """The process's :class:`ModelCache`, kept in Panel's per-process ``pn.state.cache``."""
    import panel as pn

    return pn.state.cache.setdefault(MODEL_CACHE_KEY, ModelCache())


# --------------------------------------------------------------------------- public object
class Workspace(param.Parameterized):
    """A folder of model files that the dashboard writes and may delete."""

    folder = param.String(default="", doc="Folder of saved networks; created on first save.")

    def __init__(self, **params):
        if not params.get("folder"):
            params["folder"] = str(default_workspace())
        super().__init__(**params)

    @property
    def path(self) -> Path:
        return Path(self.folder).expanduser()

    def model_files(self) -> list[Path]:
        """The model files in the workspace."""
        return list_model_files(self.path)

    def save(self, model) -> Path:
        """Save ``model`` (atomically, via the library) under a name made from its metadata."""
        from rbfviz.core.store import content_hash, save_model

        self.path.mkdir(parents=True, exist_ok=True)
        target = self.path / model_file_name(model.info, content_hash(model))
        save_model(model, target)
        return target

    def owns(self, path) -> bool:
        """Whether ``path`` is a file directly inside the workspace folder."""
        try:
            return Path(path).resolve().parent == self.path.resolve()
        except OSError:
            return False

    def delete(self, path) -> None:
        """Delete one model file of the workspace; refuses anything outside it."""
        if not self.owns(path):
            raise PermissionError(f"{path} is not a file of the workspace {self.path}")
        Path(path).unlink(missing_ok=True)
