"""Per-session state of the dashboard: the networks it knows and the data they came from.

One :class:`AppState` is made per browser session by :func:`rbfviz.app.main.create_app`, so two
tabs never share networks.  Views hold it through a ``param.ClassSelector`` and only render it.

Examples
--------
>>> import tempfile
>>> from rbfviz.app.workspace import Workspace
>>> state = AppState(workspace=Workspace(folder=tempfile.mkdtemp()), bundled_dir=tempfile.mkdtemp())
>>> state.table().empty
True
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import param

from rbfviz.app.workspace import Workspace, bundled_models_dir

# --------------------------------------------------------------------------- constants
MAX_UPLOAD_BYTES = 50 * 2**20  # model and data uploads larger than this are refused
ORIGINS = ("bundled", "workspace", "session", "uploaded")  # where a network came from
MODEL_UPLOAD_SUFFIXES = (".safetensors", ".gz", ".pt", ".pth", ".bin")
DATA_UPLOAD_SUFFIXES = (".26d", ".gz", ".tgz", ".csv", ".txt")
TABLE_COLUMNS = ["key", "name", "origin", "kind", "surface", "K", "test RMSE (eV)", "distribution", "loss", "parent"]


class UploadError(ValueError):
    """An uploaded file was refused; the message is meant for the user."""


# --------------------------------------------------------------------------- small pieces
@dataclass
class NetworkEntry:
    """One network known to a session: the model, where it came from and its file (if any)."""

    key: str
    model: object
    origin: str
    path: Path | None = None
    extra: dict = field(default_factory=dict)

    @property
    def metadata(self) -> dict:
        return dict(getattr(self.model, "metadata", {}) or {})

    @property
    def kind(self) -> str:
        return self.metadata.get("kind") or "trained"

    @property
    def surface(self) -> str | None:
        return self.metadata.get("surface")

    @property
    def num_centroids(self) -> int:
        return int(self.model.centroids.shape[0])

    @property
    def read_only(self) -> bool:
        return self.origin == "bundled"

    @property
    def label(self) -> str:
        md = self.metadata
        name = md.get("name") or f"{self.kind} {self.surface or ''}".strip()
        return f"{name} · K={self.num_centroids} · {self.key[:8]}"

    def row(self) -> dict:
        md = self.metadata
        prune = md.get("prune") or {}
        metrics = md.get("metrics") or {}
        rmse = metrics.get("test_rmse")
        loss = prune.get("loss")
        dist = prune.get("distribution")
        if isinstance(dist, dict):
            dist = dist.get("description") or dist.get("name") or str(dist)
        return {
            "key": self.key,
            "name": md.get("name") or "",
            "origin": self.origin,
            "kind": self.kind,
            "surface": self.surface or "",
            "K": self.num_centroids,
            "test RMSE (eV)": round(float(rmse), 5) if rmse is not None else None,
            "distribution": str(dist) if dist else "",
            "loss": float(f"{float(loss):.4g}") if loss is not None else None,
            "parent": (md.get("parent_hash") or "")[:8],
        }


def model_key(model) -> str:
    """The content hash that identifies a network in the app."""
    from rbfviz.core.store import content_hash

    return content_hash(model)


def _suffix(filename: str, allowed: tuple[str, ...]) -> str:
    name = Path(str(filename or "upload")).name.lower()
    if name.endswith(".tar.gz"):
        return ".tgz"
    for s in allowed:
        if name.endswith(s):
            return s
    raise UploadError(f"{name}: unsupported file type; expected one of {', '.join(allowed)}")


def _check_size(filename: str, data) -> bytes:
    if not data:
        raise UploadError(f"{filename}: the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(
            f"{filename}: {len(data) / 2**20:.1f} MB is larger than the {MAX_UPLOAD_BYTES // 2**20} MB limit"
        )
    return bytes(data)


def read_uploaded_model(filename: str, data: bytes):
    """Load a model from uploaded bytes through :func:`rbfviz.store.load_model`; raises UploadError."""
    from rbfviz.core.store import load_model

    data = _check_size(filename, data)
    suffix = _suffix(filename, MODEL_UPLOAD_SUFFIXES)
    with tempfile.TemporaryDirectory(prefix="rbfviz-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            return load_model(path)
        except (ValueError, OSError, KeyError, TypeError, RuntimeError) as err:
            name = Path(str(filename)).name
            raise UploadError(f"{name}: not a usable model file ({str(err).replace(str(path), name)})") from err


def read_uploaded_dataset(filename: str, data: bytes, surface: str | None = None):
    """Load barrier data from uploaded bytes through :func:`rbfviz.datasets.load_barriers`."""
    from rbfviz.data.datasets import load_barriers

    data = _check_size(filename, data)
    suffix = _suffix(filename, DATA_UPLOAD_SUFFIXES)
    name = Path(str(filename)).name
    with tempfile.TemporaryDirectory(prefix="rbfviz-upload-") as tmp:
        stem = "upload.26d" if suffix == ".gz" and name.lower().endswith(".26d.gz") else "upload"
        path = Path(tmp) / (stem + suffix)
        path.write_bytes(data)
        try:
            ds = load_barriers(path, surface=surface)
        except (ValueError, OSError, KeyError, TypeError) as err:
            raise UploadError(f"{name}: not usable barrier data ({err})".replace(str(path), name)) from err
    return dataclasses.replace(ds, source=f"upload:{name}")


# --------------------------------------------------------------------------- public object
class AppState(param.Parameterized):
    """The networks of one session and the data sets they were trained on."""

    workspace = param.ClassSelector(class_=Workspace, doc="Folder where networks made here are saved.")
    bundled_dir = param.String(default="", doc="Folder of bundled read-only networks ('' = assets/models).")
    networks = param.Dict(default={}, doc="key (content hash) -> NetworkEntry, in insertion order.")
    datasets = param.Dict(default={}, doc="network key -> Dataset it was trained on (this session only).")
    histories = param.Dict(default={}, doc="network key -> training history (list of dicts).")
    focus = param.String(default="", doc="Key of the pruned network the Prototypes view shows ('' = first).")
    message = param.String(default="", doc="Last message for the user (errors start with 'Error').")
    load_errors = param.List(default=[], doc="Files that could not be loaded at start, with the reason.")

    def __init__(self, load: bool = True, **params):
        if params.get("workspace") is None:
            params["workspace"] = Workspace()
        super().__init__(**params)
        if load:
            self.load_files()

    # ---- loading at start
    def load_files(self) -> None:
        """Add the bundled networks, then those saved in the workspace."""
        from rbfviz.app.workspace import list_model_files
        from rbfviz.core.store import load_model

        errors = []
        bundled = Path(self.bundled_dir) if self.bundled_dir else bundled_models_dir()
        for origin, files in (("bundled", list_model_files(bundled)), ("workspace", self.workspace.model_files())):
            for path in files:
                try:
                    self.add(load_model(path), origin, path=path)
                except Exception as err:  # a broken file must not stop the app from opening
                    errors.append(f"{path.name}: {err}")
        self.load_errors = errors

    # ---- queries
    def entry(self, key: str) -> NetworkEntry:
        if key not in self.networks:
            raise KeyError(f"no network with key {key!r}")
        return self.networks[key]

    def keys(self, kind: str | None = None) -> list[str]:
        """Keys of all networks, or of those of one ``kind`` ("trained"/"pruned")."""
        return [k for k, e in self.networks.items() if kind is None or e.kind == kind]

    def options(self, kind: str | None = None) -> dict[str, str]:
        """label -> key, for selectors."""
        return {self.networks[k].label: k for k in self.keys(kind)}

    def table(self) -> pd.DataFrame:
        rows = [e.row() for e in self.networks.values()]
        return pd.DataFrame(rows, columns=TABLE_COLUMNS)

    def dataset_for(self, key: str):
        """The data set network ``key`` (or its parent) was trained on in this session, or None."""
        for k in self._lineage(key):
            if k in self.datasets:
                return self.datasets[k]
        return None

    def occupation_frequencies(self, key: str):
        """Per-site occupation frequencies (26,) of the data behind network ``key``, or None.

        Taken from the session's data set when known, else from the model file's metadata
        (``metadata["data"]["occupation_frequencies"]``, written by :func:`rbfviz.train.train_dataset`).
        """
        ds = self.dataset_for(key)
        if ds is not None:
            return ds.occupation_frequencies()
        for k in self._lineage(key):
            freqs = (self.networks[k].metadata.get("data") or {}).get("occupation_frequencies")
            if freqs is not None and len(freqs) > 0:
                return freqs
        return None

    def _lineage(self, key: str) -> list[str]:
        """``key`` followed by its known ancestors (through ``parent_hash``)."""
        out = []
        while key and key in self.networks and key not in out:
            out.append(key)
            key = self.networks[key].metadata.get("parent_hash")
        if key and key not in out and key in self.datasets:
            out.append(key)
        return out

    # ---- changes
    def add(self, model, origin: str, *, path=None, dataset=None, history=None, save: bool = False) -> str:
        """Add a network (saving it to the workspace when ``save``); returns its key."""
        if origin not in ORIGINS:
            raise ValueError(f"`origin` must be one of {ORIGINS}; got {origin!r}")
        key = model_key(model)
        if save:
            path = self.workspace.save(model)
        if key in self.networks:  # same content: keep the first entry (bundled wins)
            entry = self.networks[key]
            if entry.path is None and path is not None:
                entry.path = Path(path)
        else:
            self.networks = {**self.networks, key: NetworkEntry(key, model, origin, Path(path) if path else None)}
        if dataset is not None:
            self.datasets = {**self.datasets, key: dataset}
        if history is not None:
            self.histories = {**self.histories, key: list(history)}
        return key

    def remove(self, key: str) -> None:
        """Forget a network and delete its workspace file; bundled networks are read-only."""
        entry = self.entry(key)
        if entry.read_only:
            raise PermissionError(f"{entry.label} is bundled with rbfviz and cannot be deleted")
        if entry.path is not None and self.workspace.owns(entry.path):
            self.workspace.delete(entry.path)
        self.networks = {k: e for k, e in self.networks.items() if k != key}
        self.datasets = {k: d for k, d in self.datasets.items() if k != key}

    def upload_model(self, filename: str, data: bytes) -> str:
        """Add an uploaded model file (saved to the workspace); bad files raise UploadError, nothing changes."""
        model = read_uploaded_model(filename, data)
        key = self.add(model, "uploaded", save=True)
        self.message = f"Added {self.networks[key].label} from {Path(str(filename)).name}"
        return key
