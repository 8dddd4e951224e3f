"""Page loads of the dashboard with one large workspace model: with and without the model cache.

    python benchmarks/app_page_load.py                    # 30 page loads, a ~48 MB model
    python benchmarks/app_page_load.py --loads 10 --k 100000

Each page load builds a session's :class:`rbfviz.app.state.AppState` (what ``create_app`` does
for every new browser tab).  Without a cache every load parses every workspace model again
(issue 12: 30 loads of one 48 MB model peaked at 2.9 GB); with the per-process
:class:`rbfviz.app.workspace.ModelCache` a file is parsed once and then shared.  Each mode runs
in its own subprocess so its peak RSS (``ru_maxrss``) is its own.  The floor is one copy of the
model file in memory on top of the bare process; the table shows peak RSS above the bare
process and its ratio to that floor.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import gc, json, resource, sys, time
from rbfviz.app.state import AppState
from rbfviz.app.workspace import ModelCache, Workspace
ws, empty, loads, mode, keep = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cache = ModelCache() if mode == "cache" else None
sessions, t0 = [], time.perf_counter()
for _ in range(loads):
    sessions.append(AppState(workspace=Workspace(folder=ws), bundled_dir=empty, cache=cache))
    if len(sessions) > keep:  # sessions still open (Panel keeps a session until its tab is gone)
        sessions.pop(0)
        gc.collect()
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "base_kb": base, "peak_kb": peak, "parsed": cache.loads if cache else loads}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loads", type=int, default=30, help="page loads per mode")
    parser.add_argument("--k", type=int, default=460_000, help="centroids of the model (26 inputs, float32)")
    parser.add_argument("--open", type=int, default=30, help="sessions still open at once (default: all)")
    args = parser.parse_args()

    from rbfviz.core.model import RBFN
    from rbfviz.core.store import save_model

    with tempfile.TemporaryDirectory(prefix="rbfviz-bench-") as tmp:
        ws, empty = Path(tmp) / "ws", Path(tmp) / "empty"
        ws.mkdir()
        empty.mkdir()
        save_model(RBFN(26, args.k, seed=0), ws / "big.safetensors")
        size_mb = (ws / "big.safetensors").stat().st_size / 2**20
        rows = {}
        for mode in ("no cache", "cache"):
            out = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    CHILD,
                    str(ws),
                    str(empty),
                    str(args.loads),
                    mode.replace(" ", "_"),
                    str(args.open),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            rows[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"{args.loads} page loads ({args.open} sessions open at once), one workspace model of {size_mb:.1f} MB "
        f"(K = {args.k}); {time.strftime('%c')}"
    )
    print(f"{'mode':10} {'files parsed':>12} {'time (s)':>9} {'peak RSS above base (MB)':>25} {'x floor':>8}")
    for mode, r in rows.items():
        above = (r["peak_kb"] - r["base_kb"]) / 1024
        print(f"{mode:10} {r['parsed']:>12} {r['seconds']:>9.2f} {above:>25.0f} {above / size_mb:>8.1f}")
    print(f"floor: one copy of the file, {size_mb:.1f} MB")


if __name__ == "__main__":
    main()
