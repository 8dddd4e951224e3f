"""Run a sweep's cells on Dask distributed: an embedded ``LocalCluster`` or any cluster by address.

Cells already finished in ``out_dir`` (their record exists, found by content key) are skipped;
the rest are submitted as tasks, one per cell (on GPU workers: one batched ``train_many`` task per
K where the library has it).  Results are collected as tasks complete, with progress and cancel,
and the whole table is written at the end (and is rebuilt from the records by any later call).
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pandas as pd

from rbfviz.core.progress import StepProgress, cancel_requested
from rbfviz.sweep.grid import Cell, SweepConfig, make_cells
from rbfviz.sweep.tables import records_table, write_outputs
from rbfviz.sweep.tasks import CellCancelled, load_data, read_record, run_cell, run_group, write_atomic

log = logging.getLogger(__name__)
CANCEL_GRACE_S = 60.0  # a cancelled sweep waits this long for its running cells to stop (they look every second)


class SweepCancelled(RuntimeError):
    """Raised by :func:`run_sweep` when cancelled; every finished cell is kept on disk."""


# --------------------------------------------------------------------------- the cluster
def local_cluster_size(num_tasks: int, cores: int | None = None) -> tuple[int, int]:
    """(worker processes, torch threads per worker) for an embedded cluster on this machine:
    one single-threaded worker process per core (at most one per task), the cores shared out.

    >>> local_cluster_size(8, cores=2), local_cluster_size(1, cores=16)
    ((2, 1), (1, 16))
    """
    cores = cores or os.cpu_count() or 1
    workers = max(1, min(cores, num_tasks))
    return workers, max(1, cores // workers)


def local_gpu_resources(gpus: int | None = None) -> dict:
    """Worker resources of an embedded cluster: ``{"GPU": 1}`` where torch sees a GPU (the
    batched ``train_many`` tasks then run there), else none.  One GPU is used; for several, pass
    the client of a ``dask_cuda.LocalCUDACluster`` (one worker per GPU) instead.

    >>> local_gpu_resources(0), local_gpu_resources(2)
    ({}, {'GPU': 1})
    """
    if gpus is None:
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return {"GPU": 1} if gpus else {}


def start_local_client(n_workers: int, **kwargs):
    """A ``Client`` of a fresh ``LocalCluster`` of ``n_workers`` single-threaded processes (its
    dashboard on a free port: several sweeps may run on one machine)."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
        **kwargs,
    )
    return Client(cluster)


def worker_threads(client) -> dict:
    """{worker address: torch threads}: each host's cores shared by its workers' task slots."""
    info = (client.scheduler_info(n_workers=-1) if _takes_n_workers(client) else client.scheduler_info())["workers"]
    cores = client.run(os.cpu_count)
    slots: dict[str, int] = {}
    for w in info.values():
        slots[w["host"]] = slots.get(w["host"], 0) + int(w.get("nthreads", 1))
    return {addr: max(1, (cores.get(addr) or 1) // max(1, slots[w["host"]])) for addr, w in info.items()}


def _takes_n_workers(client) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters


def _gpu_workers(client) -> bool:
    info = client.scheduler_info()["workers"]
    return any((w.get("resources") or {}).get("GPU", 0) > 0 for w in info.values())


# --------------------------------------------------------------------------- the sweep
def run_sweep(
    out_dir,
    *,
    surfaces,
    ks,
    splits,
    n_rows=None,
    baselines=(),
    client=None,
    progress=None,
    cancel=None,
    config: SweepConfig | None = None,
) -> pd.DataFrame:
    """Run the paper's Table 1 grid (§3.2.1) and return one row per cell.

    Parameters
    ----------
    out_dir : str or Path
        The sweep's folder: ``cells/`` (one JSON record per finished cell), ``networks/``, and
        ``results.parquet`` / ``results.csv`` / ``table1.md`` / ``table1.csv``.  Must be shared by
        all workers of a cluster.
    surfaces : sequence of {"100", "110", "111"}
    ks : sequence of int
        Centroid counts K of the RBFNs.
    splits : int
        Random train / early-stopping / test splits per surface and model (the paper: 10).
    n_rows : int, optional
        Generated rows per surface; None: the paper's sizes (100,000 train, 10,000 early stopping,
        the rest test).  ``config.data_paths`` gives barrier files instead.
    baselines : subset of ("xgboost", "dnn")
    client : dask.distributed.Client, optional
        None starts an embedded ``LocalCluster`` sized to this machine (closed at the end).
    progress : callable(StepProgress), optional
        Called once with the cells already finished, then after every finished cell.
    cancel : object with ``is_set()``, optional
        Stops the sweep: queued cells are dropped, running ones stop within an epoch; finished
        cells stay on disk and :class:`SweepCancelled` is raised.
    config : SweepConfig, optional
        Everything else (training settings, pruning M × distribution, baseline settings, search).

    Returns
    -------
    pandas.DataFrame
        Columns ``surface``, ``model`` ("rbfn", "xgboost", "dnn" or "pruned"), ``k``, ``split``,
        ``test_rmse_ev``, ``seconds`` and the provenance (``data_source``, ``data_seed``,
        ``split_seed``, ``seed``, ``config``, ``device``, ``versions``, ...).  ``attrs["computed"]``
        is the number of cells computed by this call.
    """
    config = config or SweepConfig()
    if n_rows is not None:
        config = replace(config, n_rows=int(n_rows))
    cells = make_cells(surfaces, ks, splits, config, baselines)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(
        out / "sweep.json",
        json.dumps(
            {
                "surfaces": list(surfaces),
                "ks": list(ks),
                "splits": splits,
                "baselines": list(baselines),
                "config": config.as_dict(),
            },
            indent=1,
        ).encode(),
    )
    records = {c.key: r for c in cells if (r := read_record(out, c.key)) is not None}
    todo = [c for c in cells if c.key not in records]
    start = time.perf_counter()
    report = lambda: progress and progress(StepProgress(len(records), len(cells), time.perf_counter() - start, "cells"))
    report()
    computed = 0
    if todo:
        if cancel_requested(cancel):
            raise SweepCancelled(f"cancelled before start; {len(records)} of {len(cells)} cells finished")
        own = client is None
        if own:
            resources = local_gpu_resources()
            # on a GPU machine, one worker drives the GPU (its tasks are batched); else one per core
            n_workers = 1 if resources else local_cluster_size(len(todo))[0]
            client = start_local_client(n_workers, **({"resources": resources} if resources else {}))
        try:
            computed = _run(client, out, cells, todo, records, config, report, cancel)
        finally:
            if own:
                cluster = client.cluster
                client.close()
                cluster.close()
    table = records_table([records[c.key] for c in cells])
    write_outputs(table, out)
    table.attrs["computed"] = computed
    return table


def _run(client, out: Path, cells, todo, records: dict, config: SweepConfig, report, cancel) -> int:
    from distributed import Event, wait

    threads = config.torch_threads or worker_threads(client)
    event_name = f"rbfviz-sweep-cancel-{uuid.uuid4().hex}"
    event = Event(event_name, client=client)
    by_key = {c.key: c for c in cells}
    data = {}
    for surface in sorted({c.surface for c in todo}):
        data[surface] = client.submit(load_data, config, surface, key=f"sweep-data-{surface}-{uuid.uuid4().hex[:8]}")

    futures = {}  # future -> list of cell keys it finishes
    trained = {}  # key -> record or future of the trained cell (pruned cells' parents)
    train_many = None
    if config.group_gpu and _gpu_workers(client):
        from rbfviz.core import train as train_module

        train_many = getattr(train_module, "train_many", None)
    rbfn_todo = [c for c in todo if c.model == "rbfn"]
    if train_many is not None and rbfn_todo:
        for k in sorted({c.k for c in rbfn_todo}):
            group = [c for c in rbfn_todo if c.k == k]
            surfaces = sorted({c.surface for c in group})
            f = client.submit(
                run_group,
                group,
                config,
                {s: data[s] for s in surfaces},
                str(out),
                threads=threads,
                cancel=event_name,
                resources={"GPU": 1},
                pure=False,
            )
            futures[f] = [c.key for c in group]
            for c in group:
                trained[c.key] = client.submit(dict.get, f, c.key, pure=False)
    else:
        for c in rbfn_todo:
            f = _submit(client, c, config, data[c.surface], out, threads, event_name)
            futures[f] = [c.key]
            trained[c.key] = f
    for c in todo:
        if c.model in ("xgboost", "dnn"):
            f = _submit(client, c, config, data[c.surface], out, threads, event_name)
            futures[f] = [c.key]
        elif c.model == "pruned":
            parent = records.get(c.parent) or trained.get(c.parent)
            if parent is None:
                raise RuntimeError(f"pruned cell {c.name}: its trained cell {c.parent} is not in the sweep")
            f = _submit(client, c, config, data[c.surface], out, threads, event_name, parent=parent)
            futures[f] = [c.key]

    computed = 0
    pending = set(futures)
    try:
        while pending:
            if cancel_requested(cancel):
                raise SweepCancelled("cancelled")
            try:  # wake up twice a second to look at `cancel`
                finished = wait(list(pending), timeout=0.5, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                continue
            for f in finished:
                pending.discard(f)
                try:
                    result = f.result()
                except CellCancelled:
                    continue
                results = result if "key" not in result else {result["key"]: result}
                for key in futures[f]:
                    if key in results and key not in records:
                        records[key] = results[key]
                        computed += 1
                report()
                log.info("finished %s", ", ".join(by_key[k].name for k in futures[f]))
    except (SweepCancelled, KeyboardInterrupt):
        _stop_cells(client, event, list(futures))
        finished = sum(read_record(out, c.key) is not None for c in cells)
        raise SweepCancelled(f"cancelled; {finished} of {len(cells)} cells finished and kept in {out}") from None
    except BaseException:
        _stop_cells(client, event, list(futures))
        raise
    finally:
        for f in data.values():
            f.release()
    return computed


def _stop_cells(client, event, futures, grace_s: float = CANCEL_GRACE_S) -> None:
    """Set the cells' cancel flag, let the running ones stop, then drop what is left.

    A running cell looks at the flag about once a second and stops, or finishes and writes its
    record; the scheduler's own cancel would leave it running unseen, still writing after the
    sweep has returned (and racing a resumed sweep).  Waiting for the cells first means that when
    :class:`SweepCancelled` is raised, the records on disk are all there will be.
    """
    from distributed import wait

    event.set()
    try:
        wait(futures, timeout=grace_s)
    except TimeoutError:
        running = sum(not f.done() for f in futures)
        log.warning("%d cells still running %.0f s after the cancel; dropped", running, grace_s)
    client.cancel(futures)


def _submit(client, cell: Cell, config, data, out: Path, threads, event_name, parent=None):
    return client.submit(
        run_cell,
        cell,
        config,
        data,
        str(out),
        parent=parent,
        threads=threads,
        cancel=event_name,
        key=f"sweep-{cell.name}-{cell.key}-{uuid.uuid4().hex[:6]}",
        pure=False,
    )
