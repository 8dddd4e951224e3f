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

import os
import re
from importlib import resources
from pathlib import Path

import param

# --------------------------------------------------------------------------- constants
WORKSPACE_ENV = "RBFVIZ_WORKSPACE"  # overrides the default workspace folder
MODELS_ENV = "RBFVIZ_MODELS"  # overrides the folder of bundled (read-only) networks
MODEL_SUFFIX = ".safetensors"
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


def model_file_name(metadata: dict, content_hash: str) -> str:
    """A file name made only from the model's metadata, e.g. ``pruned-110-K16-1a2b3c4d5e.safetensors``.

    >>> model_file_name({"kind": "trained", "surface": "100", "num_centroids": 64}, "abcdef0123456789")
    'trained-100-K64-abcdef012345.safetensors'
    """
    kind = metadata.get("kind") or "model"
    surface = metadata.get("surface") or "any"
    k = metadata.get("num_centroids", "")
    stem = _SAFE_NAME.sub("_", f"{kind}-{surface}-K{k}-{content_hash[:12]}")
    return stem + MODEL_SUFFIX


def list_model_files(folder: Path) -> list[Path]:
    """Model files directly inside ``folder`` (sorted), or [] when it does not exist."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith((MODEL_SUFFIX, ".gz", ".pt")))


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
        target = self.path / model_file_name(dict(model.metadata), content_hash(model))
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
