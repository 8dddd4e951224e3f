"""Per-session state of the dashboard: the networks it knows and the data they came from.

One :class:`AppState` is made per browser session by :func:`rbfviz.app.main.create_app`, so two
tabs never share networks.  Views hold it through a ``param.ClassSelector`` and only render it.

Model files come from users, so their metadata is read defensively: :func:`clean_metadata`
keeps the fields the app shows only when they have the expected type, and a file with odd
metadata is listed as a problem while the app keeps working.  Every user-supplied string (a
network's name, a file name, an error that quotes either) goes through :func:`escape_markdown`
before it reaches a Markdown pane.

Examples
--------
>>> import tempfile
>>> from rbfviz.app.workspace import Workspace
>>> state = AppState(workspace=Workspace(folder=tempfile.mkdtemp()), bundled_dir=tempfile.mkdtemp())
>>> state.table().empty
True
>>> print(escape_markdown("<b>x</b>"))
\\<b\\>x\\<\\/b\\>
"""

from __future__ import annotations

import copy
import dataclasses
import io
import math
import re
import tempfile
import time
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path

import pandas as pd
import param

from rbfviz.app.workspace import ModelCache, Workspace, bundled_models_dir
from rbfviz.core.metadata import MetadataError, ModelInfo, json_safe

# --------------------------------------------------------------------------- constants
MAX_UPLOAD_BYTES = 50 * 2**20  # model and data uploads larger than this are refused
ORIGINS = ("bundled", "workspace", "session", "uploaded")  # where a network came from
KINDS = ("trained", "pruned")
SURFACES = ("100", "110", "111")
MODEL_UPLOAD_SUFFIXES = (".safetensors", ".gz", ".pt", ".pth", ".bin")
DATA_UPLOAD_SUFFIXES = (".26d", ".gz", ".tgz", ".bz2", ".xz", ".csv", ".txt")
TABLE_COLUMNS = [
    "key",
    "name",
    "origin",
    "kind",
    "surface",
    "K",
    "test RMSE (eV)",
    "distribution",
    "pruning RMSE (eV)",
    "parent",
    "saved",
]
MAX_NAME_CHARS = 80  # names longer than this are cut (with an ellipsis) where shown
MAX_TEXT_CHARS = 200  # other free-text metadata fields longer than this are dropped
MAX_METADATA_DEPTH = 16  # deeper nesting in a metadata field drops the field
_TEXT_FIELDS = ("name", "source", "parent_hash", "parent_name", "imported_from", "content_hash")
_DICT_FIELDS = ("metrics", "prune", "train", "data")
_NUMBER_FIELDS = ("target_mean", "target_scale")
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class UploadError(ValueError):
    """An uploaded file was refused; the message is meant for the user."""


# --------------------------------------------------------------------------- text for the page
def escape_markdown(text) -> str:
    """``text`` made literal for a Markdown pane: every ASCII punctuation mark backslash-escaped.

    CommonMark treats a backslash-escaped punctuation character as plain text, so neither HTML
    (``<img onerror=…>``), entities, links nor emphasis survive; the page shows the text as typed.
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", plain_text(text, limit=None))


def plain_text(value, limit: int | None = MAX_NAME_CHARS) -> str:
    """``value`` as one line of text: control characters become spaces, cut to ``limit`` chars."""
    text = _CONTROL.sub(" ", str(value)).strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _number(value) -> float | None:
    """``value`` as a finite float, or None (bools, strings, lists, NaN and inf are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _depth(value, limit: int) -> int:
    """Nesting depth of lists/dicts in ``value``, counted without recursion up to ``limit + 1``."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, d = stack.pop()
        if d > limit:
            return d
        deepest = max(deepest, d)
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, d + 1) for v in item)
    return deepest


def clean_metadata(metadata) -> tuple[dict, list[str]]:
    """The metadata fields the app can use, and a note for each field it dropped.

    The app shows ``kind``, ``name``, ``surface``, the ``metrics``, ``prune``, ``train`` and
    ``data`` mappings, ``parent_hash`` and the target scale; any of these with another type, or
    any field nested deeper than :data:`MAX_METADATA_DEPTH`, is dropped (the model itself is
    unaffected).

    Examples
    --------
    >>> clean_metadata({"kind": "pruned", "metrics": [1, 2], "name": "mine"})
    ({'kind': 'pruned', 'name': 'mine'}, ['metrics: a list, not a mapping'])
    """
    if not isinstance(metadata, dict):
        return {}, [f"metadata: a {type(metadata).__name__}, not a mapping"]
    clean, problems = {}, []
    for key, value in metadata.items():
        key = str(key)
        if _depth(value, MAX_METADATA_DEPTH) > MAX_METADATA_DEPTH:
            problems.append(f"{plain_text(key, 40)}: nested deeper than {MAX_METADATA_DEPTH} levels")
            continue
        what = type(value).__name__
        if key == "kind" and value not in KINDS:
            problems.append(f"kind: {plain_text(repr(value), 40)} is not one of {', '.join(KINDS)}")
        elif key == "surface" and value is not None and value not in SURFACES:
            problems.append(f"surface: {plain_text(repr(value), 40)} is not one of {', '.join(SURFACES)}")
        elif key in _TEXT_FIELDS and not (isinstance(value, str) and len(value) <= MAX_TEXT_CHARS):
            problems.append(f"{key}: a {what}, not a text of at most {MAX_TEXT_CHARS} characters")
        elif key in _DICT_FIELDS and not isinstance(value, dict):
            problems.append(f"{key}: a {what}, not a mapping")
        elif key in _NUMBER_FIELDS and _number(value) is None:
            problems.append(f"{key}: {plain_text(repr(value), 40)} is not a finite number")
        else:
            clean[key] = value
    freqs = (clean.get("data") or {}).get("occupation_frequencies")
    if freqs is not None and not _frequencies_ok(freqs):
        clean["data"] = {k: v for k, v in clean["data"].items() if k != "occupation_frequencies"}
        problems.append("data.occupation_frequencies: not 26 numbers in [0, 1]")
    return clean, problems


def _typed_info(model, metadata: dict) -> tuple[ModelInfo, list[str]]:
    """The typed record (:class:`~rbfviz.core.metadata.ModelInfo`) of ``model`` with its cleaned
    ``metadata``, and a note when the schema refused a field predictions depend on (the record is
    then built without the target mean and scale).  Fields the schema drops are left out quietly:
    :func:`clean_metadata` has named the ones the app shows.
    """
    sizes = {"num_centroids": int(model.centroids.shape[0]), "num_inputs": int(model.centroids.shape[1])}
    try:
        return ModelInfo.from_metadata(json_safe(metadata), **sizes), []
    except MetadataError as err:
        usable = {k: v for k, v in metadata.items() if k not in ("target_mean", "target_scale", *sizes)}
        return ModelInfo.from_metadata(json_safe(usable), **sizes), [plain_text(str(err), 300)]


def _frequencies_ok(freqs) -> bool:
    if not isinstance(freqs, (list, tuple)) or len(freqs) != 26:
        return False
    values = [_number(f) for f in freqs]
    return all(v is not None and 0.0 <= v <= 1.0 for v in values)


def default_name(info: ModelInfo, when: float | None = None) -> str:
    """A readable name for a network made in the app, e.g. ``"pruned (110) 30 Nov 17:42"``.

    ``info`` is the network's typed metadata (``model.info``).  The size is not part of the name:
    labels add ``K=…`` (:attr:`NetworkEntry.label`).

    >>> default_name(ModelInfo(num_centroids=64, num_inputs=26, kind="trained", surface="100"), when=0.0)
    'trained (100) 01 Jan 00:00'
    """
    kind, surface = info.kind, info.surface or "?"
    stamp = time.strftime("%d %b %H:%M", time.gmtime(time.time() if when is None else when))
    return f"{kind} ({surface}) {stamp}"


# --------------------------------------------------------------------------- small pieces
@dataclass
class NetworkEntry:
    """One network known to a session: the model, where it came from and its file (if any).

    The model may be shared with other sessions through the per-process :class:`ModelCache`, so
    nothing here changes it; ``metadata`` is the cleaned copy, ``info`` its typed record
    (:class:`~rbfviz.core.metadata.ModelInfo`) that the views read.
    """

    key: str
    model: object
    origin: str
    path: Path | None = None
    save_error: str = ""  # why the network could not be saved ('' when saved or not meant to be)
    metadata: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    info: ModelInfo = field(init=False, repr=False)

    def __post_init__(self):
        self.metadata, self.problems = clean_metadata(getattr(self.model, "metadata", {}) or {})
        self.info, refused = _typed_info(self.model, self.metadata)
        self.problems += refused

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def surface(self) -> str | None:
        return self.info.surface

    @property
    def num_centroids(self) -> int:
        return int(self.model.centroids.shape[0])

    @property
    def read_only(self) -> bool:
        return self.origin == "bundled"

    @property
    def name(self) -> str:
        """The network's name (one line, at most :data:`MAX_NAME_CHARS`), or kind and surface."""
        return plain_text(self.info.name or f"{self.kind} {self.surface or ''}")

    @property
    def label(self) -> str:
        """Name, size and short hash, for selectors (plain text: escape it for Markdown)."""
        return f"{self.name} · K={self.num_centroids} · {self.key[:8]}"

    @property
    def pruning_rmse_ev(self) -> float | None:
        """√(eq. 5) in eV: the library's ``prune.rmse_ev``, or √loss × target scale for older files."""
        prune = self.info.prune
        if prune is None:
            return None
        if prune.rmse_ev is None and prune.loss is not None:
            return math.sqrt(max(prune.loss, 0.0)) * self.info.target_scale
        return prune.rmse_ev

    def row(self) -> dict:
        info = self.info
        dist = info.prune.distribution if info.prune is not None else None
        dist = "" if dist is None else _distribution_text(dist.to_dict() if dist.params else dist.name)
        rmse = _number(info.metrics.get("test_rmse"))
        prune_rmse = self.pruning_rmse_ev
        return {
            "key": self.key,
            "name": self.name,
            "origin": self.origin,
            "kind": self.kind,
            "surface": self.surface or "",
            "K": self.num_centroids,
            "test RMSE (eV)": round(rmse, 5) if rmse is not None else None,
            "distribution": dist,
            "pruning RMSE (eV)": float(f"{prune_rmse:.4g}") if prune_rmse is not None else None,
            "parent": (info.parent_hash or "")[:8],
            "saved": "no" if self.save_error else ("yes" if self.path is not None else ""),
        }


def _distribution_text(description) -> str:
    """A short text for a pruning distribution's description, e.g. ``Bernoulli(per-site q)``.

    >>> _distribution_text({"name": "Uniform", "a": -1.0, "b": 1.0})
    'Uniform(a=-1, b=1)'
    >>> _distribution_text({"name": "Bernoulli", "q": [0.5, 0.6]})
    'Bernoulli(per-site q)'
    """
    if isinstance(description, str):
        return plain_text(description, 40)
    if not isinstance(description, dict) or not isinstance(description.get("name"), str):
        return ""
    parts = []
    for key, value in description.items():
        if key == "name":
            continue
        number = _number(value)
        parts.append(f"{key}={number:g}" if number is not None else f"per-site {plain_text(key, 12)}")
    return plain_text(f"{description['name']}({', '.join(parts)})", 60)


def model_key(model) -> str:
    """The content hash that identifies a network in the app."""
    from rbfviz.core.store import content_hash

    return content_hash(model)


def model_bytes(model) -> bytes:
    """The model file of ``model`` (rbfviz ``.safetensors``) as bytes, for a download."""
    from rbfviz.core.store import save_model

    with tempfile.TemporaryDirectory(prefix="rbfviz-download-") as tmp:
        path = Path(tmp) / "model.safetensors"
        save_model(model, path)
        return path.read_bytes()


def _suffix(filename: str, allowed: tuple[str, ...]) -> str:
    name = Path(str(filename or "upload")).name.lower()
    if name.endswith((".tar.gz", ".tar.bz2", ".tar.xz")):
        return ".tgz"
    for s in allowed:
        if name.endswith(s):
            return s
    raise UploadError(f"{plain_text(name)}: unsupported file type; expected one of {', '.join(allowed)}")


def _check_size(filename: str, data) -> bytes:
    if isinstance(data, str):  # some upload widgets decode text/* files
        data = data.encode()
    if not data:
        raise UploadError(f"{filename}: the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(
            f"{filename}: {len(data) / 2**20:.1f} MB is larger than the {MAX_UPLOAD_BYTES // 2**20} MB limit"
        )
    return bytes(data)


def _safe_file_name(filename: str) -> str:
    """The upload's own base name with only safe characters (it may carry the surface, ``_110.26d``)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(str(filename or "upload")).name).lstrip(".")
    return name[-120:] or "upload"


def read_uploaded_model(filename: str, data: bytes):
    """Load a model from uploaded bytes through :func:`rbfviz.store.load_model`; raises UploadError."""
    from rbfviz.core.store import load_model

    name = plain_text(Path(str(filename)).name)
    data = _check_size(name, data)
    suffix = _suffix(filename, MODEL_UPLOAD_SUFFIXES)
    with tempfile.TemporaryDirectory(prefix="rbfviz-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            return load_model(path)
        except Exception as err:  # any failure of a hostile file is the user's message, never a traceback
            text = f"{type(err).__name__}: {err}" if not str(err) else str(err)
            raise UploadError(
                f"{name}: not a usable model file ({plain_text(text, 300)})".replace(str(path), name)
            ) from err


def read_uploaded_dataset(filename: str, data: bytes, surface: str | None = None):
    """Load barrier data from uploaded bytes through :func:`rbfviz.datasets.load_barriers`.

    The file keeps its own (sanitised) name while it is read, so a surface in the name
    (``..._110.26d``) is used; ``surface`` picks the member of a several-surface ``.tgz``.
    """
    from rbfviz.data.datasets import load_barriers

    name = plain_text(Path(str(filename)).name)
    data = _check_size(name, data)
    _suffix(filename, DATA_UPLOAD_SUFFIXES)
    with tempfile.TemporaryDirectory(prefix="rbfviz-upload-") as tmp:
        path = Path(tmp) / _safe_file_name(filename)
        path.write_bytes(data)
        try:
            ds = load_barriers(path, surface=surface)
        except Exception as err:  # truncated gzip (EOFError), bad tar, bad rows: the user's message
            text = f"{type(err).__name__}: {err}" if not str(err) else str(err)
            raise UploadError(
                f"{name}: not usable barrier data ({plain_text(text, 400)})".replace(str(path), name)
            ) from err
    return dataclasses.replace(ds, source=f"upload:{name}")


# --------------------------------------------------------------------------- public object
class AppState(param.Parameterized):
    """The networks of one session and the data sets they were trained on."""

    workspace = param.ClassSelector(class_=Workspace, doc="Folder where networks made here are saved.")
    bundled_dir = param.String(default="", doc="Folder of bundled read-only networks ('' = package data).")
    cache = param.ClassSelector(
        class_=ModelCache, default=None, allow_None=True, doc="Per-process cache of loaded model files (None: none)."
    )
    networks = param.Dict(default={}, doc="key (content hash) -> NetworkEntry, in insertion order.")
    datasets = param.Dict(default={}, doc="network key -> Dataset it was trained on (this session only).")
    histories = param.Dict(default={}, doc="network key -> training history (list of dicts).")
    focus = param.String(default="", doc="Key of the pruned network the Prototypes view shows ('' = first).")
    message = param.String(default="", doc="Last message for the user, plain text (errors start with 'Error').")
    load_errors = param.List(default=[], doc="Files that could not be loaded at start, with the reason.")
    problems = param.List(default=[], doc="Files loaded with metadata the app had to ignore, with the reason.")

    def __init__(self, load: bool = True, **params):
        if params.get("workspace") is None:
            params["workspace"] = Workspace()
        super().__init__(**params)
        if load:
            self.load_files()

    # ---- loading at start
    def load_files(self) -> None:
        """Add the bundled networks, then those saved in the workspace (through the cache)."""
        from rbfviz.app.workspace import list_model_files
        from rbfviz.core.store import load_model

        def load(path):
            if self.cache is not None:
                return self.cache.load_with_key(path)
            model = load_model(path)
            return model, model_key(model)

        errors, problems = [], []
        bundled = Path(self.bundled_dir) if self.bundled_dir else bundled_models_dir()
        for origin, files in (("bundled", list_model_files(bundled)), ("workspace", self.workspace.model_files())):
            for path in files:
                try:
                    model, key = load(path)
                    key = self.add(model, origin, path=path, key=key)
                    notes = self.networks[key].problems
                    if notes:
                        problems.append(f"{path.name}: ignored metadata: {'; '.join(notes)}")
                except Exception as err:  # a broken file must not stop the app from opening
                    errors.append(f"{path.name}: {plain_text(err, 300)}")
        self.param.update(load_errors=errors, problems=problems)

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
        (``info.data.occupation_frequencies``, written by :func:`rbfviz.train.train_dataset`).
        """
        ds = self.dataset_for(key)
        if ds is not None:
            return ds.occupation_frequencies()
        for k in self._lineage(key):
            if k in self.networks:
                data = self.networks[k].info.data
                if data is not None and data.occupation_frequencies is not None:
                    return list(data.occupation_frequencies)
        return None

    def _lineage(self, key: str) -> list[str]:
        """``key`` followed by its known ancestors (through ``parent_hash``)."""
        out = []
        while key and key in self.networks and key not in out:
            out.append(key)
            key = self.networks[key].info.parent_hash
        if key and key not in out and key in self.datasets:
            out.append(key)
        return out

    def file_name(self, key: str) -> str:
        """A download file name made from the network's name, e.g. ``trained_100_K_64-1a2b3c4d.safetensors``."""
        entry = self.entry(key)
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", entry.name).strip("_")[:60] or entry.kind
        return f"{stem}-{key[:8]}.safetensors"

    def download(self, key: str) -> io.BytesIO:
        """The network's model file, for a FileDownload widget."""
        return io.BytesIO(model_bytes(self.entry(key).model))

    # ---- changes
    def add(
        self, model, origin: str, *, path=None, dataset=None, history=None, save: bool = False, key: str | None = None
    ) -> str:
        """Add a network; returns its key.

        With ``save``, the model is written to the workspace; when that fails (read-only or full
        disk, odd metadata) the network is kept in this session with ``save_error`` set, so
        nothing computed is lost and the views can offer a download.  ``key`` is the model's
        content hash when the caller already has it (the model cache does).
        """
        if origin not in ORIGINS:
            raise ValueError(f"`origin` must be one of {ORIGINS}; got {origin!r}")
        key = key or model_key(model)
        save_error = ""
        if save:
            try:
                path = self.workspace.save(model)
            except Exception as err:  # OSError (read-only, full), RecursionError/ValueError (metadata)
                save_error = plain_text(f"{type(err).__name__}: {err}", 300)
        if key in self.networks:  # same content: keep the first entry (bundled wins)
            entry = self.networks[key]
            if entry.path is None and path is not None:
                entry.path, entry.save_error = Path(path), ""
        else:
            entry = NetworkEntry(key, model, origin, Path(path) if path else None, save_error)
            self.networks = {**self.networks, key: entry}
        if dataset is not None:
            self.datasets = {**self.datasets, key: dataset}
        if history is not None:
            self.histories = {**self.histories, key: list(history)}
        return key

    def unique_name(self, info: ModelInfo) -> str:
        """:func:`default_name` of ``info`` (``model.info``), with " #2", " #3", … when the session
        already has that name."""
        base = default_name(info)
        taken = {e.name for e in self.networks.values()}
        name, i = base, 2
        while name in taken:
            name, i = f"{base} #{i}", i + 1
        return name

    def rename(self, key: str, name: str) -> None:
        """Give a network a new name (saved in its workspace file); bundled networks are read-only.

        The model object may be shared with other sessions (:class:`ModelCache`), so the renamed
        network is a copy; its key (the hash of its parameters) is unchanged.
        """
        entry = self.entry(key)
        name = plain_text(name, limit=None)
        if not name:
            raise ValueError("a network's name must not be empty")
        if len(name) > MAX_NAME_CHARS:
            raise ValueError(f"a network's name must have at most {MAX_NAME_CHARS} characters; got {len(name)}")
        if entry.read_only:
            raise PermissionError(f"{entry.label} is bundled with rbfviz and cannot be renamed")
        model = copy.deepcopy(entry.model)
        model.metadata["name"] = name
        path, save_error = entry.path, entry.save_error
        if path is not None and self.workspace.owns(path):
            try:
                from rbfviz.core.store import save_model

                save_model(model, path)
                save_error = ""
            except Exception as err:
                save_error = plain_text(f"{type(err).__name__}: {err}", 300)
        renamed = NetworkEntry(key, model, entry.origin, path, save_error)
        self.networks = {k: (renamed if k == key else e) for k, e in self.networks.items()}

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
        """Add an uploaded model file and save it to the workspace; returns its key.

        A file that cannot be read raises :class:`UploadError` and changes nothing.  Metadata the
        app cannot use is dropped from the saved copy and named in :attr:`message`; a workspace
        that cannot be written keeps the network in this session and says why.
        """
        model = read_uploaded_model(filename, data)
        metadata, notes = clean_metadata(getattr(model, "metadata", {}))
        model.metadata = metadata
        if model.info.name is None:
            model.metadata["name"] = plain_text(Path(str(filename)).stem) or "uploaded"
        key = self.add(model, "uploaded", save=True)
        entry = self.networks[key]
        text = f"Added {entry.label} from {plain_text(Path(str(filename)).name)}"
        if notes:
            text += f"; ignored metadata: {'; '.join(notes)}"
        if entry.save_error:
            text = f"Error: {text}, but it could not be saved to the workspace ({entry.save_error}); download it below"
        self.message = text
        return key
