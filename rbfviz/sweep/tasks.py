"""The work of one sweep cell, run on a Dask worker (or in the caller's process).

Every task writes its network first and its record last, each atomically (a temporary file, then
``os.replace``), into the sweep's folder: ``networks/<name>-<key>.*`` and ``cells/<key>.json``.
A cell is finished exactly when its record exists, so a killed worker or a crash loses only the
cells that were still running.  The folder must be reachable from every worker (a shared file
system on a cluster).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from rbfviz.core.store import load_model, save_model
from rbfviz.core.train import TrainConfig, train_dataset
from rbfviz.sweep.baselines import MLPConfig, XGBConfig, fit_baseline, random_config
from rbfviz.sweep.grid import Cell, SweepConfig, split_seeds

RECORDS = "cells"
NETWORKS = "networks"


class CellCancelled(RuntimeError):
    """Raised by a task whose cell was cancelled: it writes no record."""


# --------------------------------------------------------------------------- files
def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def record_path(out_dir, key: str) -> Path:
    return Path(out_dir) / RECORDS / f"{key}.json"


def read_record(out_dir, key: str) -> dict | None:
    """The finished record of cell ``key``, or None (missing, or unreadable: then recomputed)."""
    path = record_path(out_dir, key)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("key") == key else None


def package_versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("rbfviz", "torch", "numpy", "xgboost", "dask", "distributed"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:  # e.g. xgboost installed as the xgboost-cpu wheel
            try:
                out[name] = __import__(name).__version__
            except (ImportError, AttributeError):
                out[name] = None
    return out


# --------------------------------------------------------------------------- data
def load_data(config: SweepConfig, surface: str):
    """The surface's data set: the given barrier file, or generated (cached on disk)."""
    path = config.data_path(surface)
    if path is not None:
        from rbfviz.data.datasets import load_barriers

        return load_barriers(path, surface=surface)
    from rbfviz.data.barriers import GeneratorConfig, generate_dataset

    return generate_dataset(surface, config.rows, seed=config.data_seed, config=GeneratorConfig(relaxed=config.relaxed))


def split_data(dataset, config: SweepConfig, split_seed: int):
    """(train, val, test) exactly as :func:`rbfviz.core.train.train_dataset` splits."""
    fractions = (0.8, 0.1) if len(dataset) < config.n_train + config.n_val + 1 else None
    return dataset.split(config.n_train, config.n_val, fractions=fractions, seed=split_seed)


def _rmse(pred, y) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred, dtype=np.float64) - np.asarray(y, dtype=np.float64)) ** 2)))


# --------------------------------------------------------------------------- cancel and threads
class ThrottledCancel:
    """``is_set()`` of a slow flag (a ``distributed.Event``: one scheduler round trip) asked at
    most once per ``every`` seconds, since training asks between every two minibatches."""

    def __init__(self, flag, every: float = 1.0):
        self.flag, self.every, self._last, self._value = flag, every, 0.0, False

    def is_set(self) -> bool:
        now = time.monotonic()
        if not self._value and now - self._last >= self.every:
            self._last = now
            try:
                self._value = bool(self.flag.is_set())
            except Exception:  # scheduler gone: keep working, the caller is gone anyway
                self._value = False
        return self._value


def _cancel_flag(name: str | None):
    if not name:
        return None
    from distributed import Event

    return ThrottledCancel(Event(name))


def _set_threads(threads) -> int:
    """Set torch's intra-op threads for this task: an int, or {worker address: int}."""
    if isinstance(threads, dict):
        try:
            from distributed import get_worker

            threads = threads.get(get_worker().address)
        except (ImportError, ValueError):
            threads = None
    if threads:
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()


# --------------------------------------------------------------------------- records
def _base_record(cell: Cell, config: SweepConfig, dataset, parts, threads: int) -> dict:
    ss, ts = split_seeds(config, cell.split)
    train, val, test = parts
    return {
        "key": cell.key,
        "name": cell.name,
        "surface": cell.surface,
        "model": cell.model,
        "k": cell.k,
        "m": cell.m,
        "distribution": cell.distribution,
        "split": cell.split,
        "split_seed": ss,
        "seed": ts,
        "n_train": len(train),
        "n_val": len(val),
        "n_test": len(test),
        "data_source": dataset.source,
        "data_seed": None if config.data_path(cell.surface) else config.data_seed,
        "spec": cell.spec,
        "torch_threads": threads,
        "host": platform.node(),
        "versions": package_versions(),
    }


def _finish(out_dir, record: dict, t0: float) -> dict:
    record["seconds"] = round(time.perf_counter() - t0, 3)
    record["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_atomic(record_path(out_dir, record["key"]), json.dumps(record, indent=1, default=str).encode())
    return record


def _network_path(out_dir, cell: Cell, suffix: str) -> Path:
    return Path(out_dir) / NETWORKS / f"{cell.name}-{cell.key}{suffix}"


def _trained_record(cell, config, dataset, parts, model, threads, out_dir, t0, device, epochs) -> dict:
    model.metadata["name"] = cell.name
    path = _network_path(out_dir, cell, ".safetensors")
    save_model(model, path)
    metrics = model.metadata.get("metrics", {})
    record = _base_record(cell, config, dataset, parts, threads)
    record.update(
        test_rmse_ev=metrics.get("test_rmse"),
        val_rmse_ev=metrics.get("val_rmse"),
        epochs=epochs,
        device=device,
        config=json.dumps(model.metadata.get("train", {}), default=str),
        network=str(path.relative_to(out_dir)),
    )
    return _finish(out_dir, record, t0)


# --------------------------------------------------------------------------- the tasks
def run_cell(cell: Cell, config: SweepConfig, dataset, out_dir, *, parent=None, threads=None, cancel=None) -> dict:
    """Compute one cell, write its network and record, and return the record.

    ``parent`` is the trained cell's record (pruned cells only).  ``cancel`` is a
    ``distributed.Event`` name, or None.  Raises :class:`CellCancelled` when cancelled.
    """
    t0 = time.perf_counter()
    existing = read_record(out_dir, cell.key)
    if existing is not None:  # finished by an earlier attempt of this task (a retried task)
        return existing
    threads = _set_threads(threads)
    flag = _cancel_flag(cancel)
    ss, ts = split_seeds(config, cell.split)
    parts = split_data(dataset, config, ss)
    if cell.model == "rbfn":
        cfg = replace(config.train, seed=ts)
        result = train_dataset(
            dataset, cell.k, cfg, split_seed=ss, n_train=config.n_train, n_val=config.n_val, cancel=flag
        )
        if result.cancelled:
            raise CellCancelled(cell.name)
        return _trained_record(
            cell, config, dataset, parts, result.model, threads, out_dir, t0, result.device, len(result.history)
        )
    if cell.model == "pruned":
        return _prune_cell(cell, config, dataset, parts, parent, threads, out_dir, t0, flag)
    return _baseline_cell(cell, config, dataset, parts, threads, out_dir, t0, flag)


def _prune_cell(cell, config, dataset, parts, parent, threads, out_dir, t0, flag) -> dict:
    from rbfviz.core.expectations import Bernoulli
    from rbfviz.core.prune import PruneConfig, prune

    if parent is None:
        raise ValueError(f"pruned cell {cell.name} needs its trained cell's record (`parent`)")
    large = load_model(Path(out_dir) / parent["network"])
    if cell.distribution == "bernoulli":
        dist = Bernoulli(0.5)
    else:  # "bernoulli-observed": the training data's occupation frequencies
        dist = Bernoulli.from_frequencies(large.metadata["data"]["occupation_frequencies"])
    _, ts = split_seeds(config, cell.split)
    pr = prune(
        large,
        cell.m,
        dist,
        config.prune_restarts,
        config=PruneConfig(max_iterations=config.prune_iterations),
        seed=ts,
        cancel=flag,
    )
    if pr.cancelled:
        raise CellCancelled(cell.name)
    small = pr.model
    small.metadata["name"] = cell.name  # the file name carries the cell key; parent_hash links the parent
    path = _network_path(out_dir, cell, ".safetensors")
    save_model(small, path)
    test = parts[2]
    record = _base_record(cell, config, dataset, parts, threads)
    record.update(
        test_rmse_ev=_rmse(small.predict(test.X), test.y) if len(test) else None,
        val_rmse_ev=None,
        prune_loss=float(pr.loss),
        prune_rmse_ev=float(np.sqrt(max(pr.loss, 0.0)) * large.metadata.get("target_scale", 1.0)),
        epochs=int(pr.iterations),
        device="cpu",
        config=json.dumps({"restarts": config.prune_restarts, "iterations": config.prune_iterations}),
        network=str(path.relative_to(out_dir)),
        parent=parent["key"],
    )
    return _finish(out_dir, record, t0)


def _baseline_cell(cell, config, dataset, parts, threads, out_dir, t0, flag) -> dict:
    train, val, test = parts
    _, ts = split_seeds(config, cell.split)
    base = config.xgboost if cell.model == "xgboost" else config.dnn
    candidates = [base]
    if config.search_rounds:  # the paper's random search; the best by validation MSE is kept
        rng = np.random.default_rng([ts, 12345])
        candidates = [random_config(cell.model, rng, base) for _ in range(config.search_rounds)]
    best = None
    for cand in candidates:
        if flag is not None and flag.is_set():
            raise CellCancelled(cell.name)
        fit = fit_baseline(cell.model, train.X, train.y, val.X, val.y, cand, seed=ts, cancel=flag)
        if best is None or fit.val_mse < best.val_mse:
            best = fit
    if flag is not None and flag.is_set():
        raise CellCancelled(cell.name)
    suffix = ".ubj" if cell.model == "xgboost" else ".safetensors"
    path = _network_path(out_dir, cell, suffix)
    write_atomic(path, best.to_bytes())
    record = _base_record(cell, config, dataset, parts, threads)
    record.update(
        test_rmse_ev=_rmse(best.predict(test.X), test.y) if len(test) else None,
        val_rmse_ev=float(np.sqrt(best.val_mse)),
        epochs=best.size,
        device=best.device,
        config=json.dumps(best.settings, default=str),
        network=str(path.relative_to(out_dir)),
    )
    return _finish(out_dir, record, t0)


def run_group(cells, config: SweepConfig, datasets: dict, out_dir, *, threads=None, cancel=None) -> dict:
    """Train cells of one K together with ``rbfviz.core.train.train_many`` (a GPU worker's task).

    ``datasets`` maps surface to data set.  Returns {key: record}.  Each result is finished as
    :func:`rbfviz.core.train.train_dataset` finishes a single run (test RMSE and provenance).
    """
    from rbfviz.core import train as train_module

    train_many = train_module.train_many
    t0 = time.perf_counter()
    threads = _set_threads(threads)
    flag = _cancel_flag(cancel)
    todo = [c for c in cells if read_record(out_dir, c.key) is None]
    out = {c.key: read_record(out_dir, c.key) for c in cells if c not in todo}
    if not todo:
        return out
    k = todo[0].k
    if any(c.k != k or c.model != "rbfn" for c in todo):
        raise ValueError("run_group needs rbfn cells of one K")
    parts = [split_data(datasets[c.surface], config, split_seeds(config, c.split)[0]) for c in todo]
    tuples = [(tr.X, tr.y, va.X, va.y) for tr, va, _ in parts]
    seeds = [split_seeds(config, c.split)[1] for c in todo]
    results = train_many(tuples, k, config.train, seeds=seeds, cancel=flag)
    for cell, (tr, va, te), result in zip(todo, parts, results):
        if result.cancelled:
            raise CellCancelled(cell.name)
        dataset = datasets[cell.surface]
        model = result.model
        metrics = dict(model.metadata.get("metrics", {}))
        if len(te):
            metrics["test_rmse"] = _rmse(model.predict(te.X), te.y)
            metrics["n_test"] = len(te)
        model.metadata.update(
            surface=dataset.surface,
            source=dataset.source,
            metrics=metrics,
            data={
                "split_seed": split_seeds(config, cell.split)[0],
                "n_train": len(tr),
                "n_val": len(va),
                "n_test": len(te),
                "occupation_frequencies": np.asarray(tr.occupation_frequencies()).round(6).tolist(),
            },
        )
        out[cell.key] = _trained_record(
            cell, config, dataset, (tr, va, te), model, threads, out_dir, t0, result.device, len(result.history)
        )
    return out


def default_settings() -> dict:
    """The settings a default sweep runs with (for the README and ``rbfviz sweep --help``)."""
    return {"train": asdict(TrainConfig()), "xgboost": asdict(XGBConfig()), "dnn": asdict(MLPConfig())}
