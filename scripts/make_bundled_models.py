"""Regenerate the bundled networks in rbfviz/bundled_models/ (the app opens with these).

    python scripts/make_bundled_models.py [--k 4096] [--m 16] [--n 120000] [--surfaces 100 110 111]
    python scripts/make_bundled_models.py --best-from sweep-out/results.parquet   # K per surface from a sweep
    nohup nice -n 10 python scripts/make_bundled_models.py --compile --threads 1 --surfaces 100 \\
        --out build/bundled > build/bundled-100.log 2>&1 &                         # one surface per process

Per surface: generate relaxed barriers with the default generator settings (seed 0), split as the
paper (100,000 train, 10,000 early stopping, the rest test; split seed 0), train a K-centroid RBFN
with the paper's schedule, and prune it to M prototypes under Bernoulli(0.5) with 10 restarts.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

from rbfviz.core.expectations import Bernoulli
from rbfviz.core.prune import PruneConfig, prune
from rbfviz.core.store import load_model, save_model
from rbfviz.core.train import TrainConfig, train_dataset
from rbfviz.data.barriers import generate_dataset

OUT = Path(__file__).resolve().parent.parent / "rbfviz" / "bundled_models"


def best_k_from_sweep(path, surface: str) -> int:
    """The K with the lowest mean test RMSE of ``surface``'s RBFN cells in a sweep table
    (``rbfviz sweep``'s results.parquet or .csv)."""
    import pandas as pd

    path = Path(path)
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype={"surface": str})
    rows = table[(table["model"] == "rbfn") & (table["surface"].astype(str) == surface) & table["k"].notna()]
    if rows.empty:
        raise ValueError(f"{path}: no rbfn rows for surface {surface!r}")
    means = rows.groupby("k")["test_rmse_ev"].mean()
    return int(means.idxmin())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", type=int, default=4096, help="centroids (the paper's best K is 4096)")
    ap.add_argument("--best-from", default=None, help="a sweep table: per surface, the K with the lowest mean RMSE")
    ap.add_argument("--out", default=str(OUT), help="output directory (default: the package's bundled_models)")
    ap.add_argument("--compile", action="store_true", help="TrainConfig(compile=True); default 'auto'")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--n", type=int, default=120_000)
    ap.add_argument("--surfaces", nargs="+", default=["100", "110", "111"])
    ap.add_argument("--prune-iterations", type=int, default=None, help="L-BFGS budget (default 1000)")
    ap.add_argument("--prune-only", action="store_true", help="re-prune the saved K-centroid networks")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base_k = args.k
    for surface in args.surfaces:
        t0 = time.perf_counter()
        args.k = best_k_from_sweep(args.best_from, surface) if args.best_from else base_k
        print(f"{{{surface}}}: K = {args.k}", flush=True)
        if args.prune_only:
            _prune(load_model(out / f"cu{surface}-k{args.k}.safetensors"), surface, args, out)
            continue
        data = generate_dataset(surface, args.n, seed=0)
        print(
            f"{{{surface}}}: {len(data)} rows, {data.describe()['y_mean']:.3f} eV mean "
            f"({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
        config = TrainConfig(seed=0, compile=True if args.compile else "auto")
        result = train_dataset(data, args.k, config, split_seed=0)
        large = result.model
        large.metadata["name"] = f"cu{surface}-k{args.k}"
        large.metadata["regenerate"] = f"python scripts/make_bundled_models.py --k {args.k} --m {args.m} --n {args.n}"
        save_model(large, out / f"cu{surface}-k{args.k}.safetensors")
        m = large.metadata["metrics"]
        print(
            f"  trained K={args.k}: {len(result.history)} epochs in {result.seconds:.0f} s, "
            f"test RMSE {m['test_rmse']:.4f} eV",
            flush=True,
        )
        _prune(large, surface, args, out)


def _prune(large, surface, args, out):
    pr = prune(large, args.m, Bernoulli(0.5), 10, config=PruneConfig(max_iterations=args.prune_iterations), seed=0)
    small = pr.model
    small.metadata["name"] = f"cu{surface}-k{args.k}-m{args.m}"
    small.metadata["regenerate"] = large.metadata.get("regenerate")
    save_model(small, out / f"cu{surface}-k{args.k}-m{args.m}.safetensors")
    print(
        f"  {{{surface}}} pruned to M={args.m}: loss {pr.loss:.4g}, sqrt {math.sqrt(pr.loss):.4f} "
        f"(= {math.sqrt(pr.loss) * large.metadata['target_scale']:.4f} eV), "
        f"{pr.iterations} iterations in {pr.seconds:.0f} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
