"""Regenerate the bundled networks in assets/models/ (the app opens with these).

    python scripts/make_bundled_models.py [--k 1024] [--m 16] [--n 120000] [--surfaces 100 110 111]

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

OUT = Path(__file__).resolve().parent.parent / "assets" / "models"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", type=int, default=1024)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--n", type=int, default=120_000)
    ap.add_argument("--surfaces", nargs="+", default=["100", "110", "111"])
    ap.add_argument("--prune-iterations", type=int, default=None, help="L-BFGS budget (default 1000)")
    ap.add_argument("--prune-only", action="store_true", help="re-prune the saved K-centroid networks")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    OUT.mkdir(parents=True, exist_ok=True)
    for surface in args.surfaces:
        t0 = time.perf_counter()
        if args.prune_only:
            _prune(load_model(OUT / f"cu{surface}-k{args.k}.safetensors"), surface, args)
            continue
        data = generate_dataset(surface, args.n, seed=0)
        print(
            f"{{{surface}}}: {len(data)} rows, {data.describe()['y_mean']:.3f} eV mean "
            f"({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
        result = train_dataset(data, args.k, TrainConfig(seed=0), split_seed=0)
        large = result.model
        large.metadata["name"] = f"cu{surface}-k{args.k}"
        large.metadata["regenerate"] = f"python scripts/make_bundled_models.py --k {args.k} --m {args.m} --n {args.n}"
        save_model(large, OUT / f"cu{surface}-k{args.k}.safetensors")
        m = large.metadata["metrics"]
        print(
            f"  trained K={args.k}: {len(result.history)} epochs in {result.seconds:.0f} s, "
            f"test RMSE {m['test_rmse']:.4f} eV",
            flush=True,
        )
        _prune(large, surface, args)


def _prune(large, surface, args):
    pr = prune(large, args.m, Bernoulli(0.5), 10, config=PruneConfig(max_iterations=args.prune_iterations), seed=0)
    small = pr.model
    small.metadata["name"] = f"cu{surface}-k{args.k}-m{args.m}"
    small.metadata["regenerate"] = large.metadata.get("regenerate")
    save_model(small, OUT / f"cu{surface}-k{args.k}-m{args.m}.safetensors")
    print(
        f"  {{{surface}}} pruned to M={args.m}: loss {pr.loss:.4g}, sqrt {math.sqrt(pr.loss):.4f} "
        f"(= {math.sqrt(pr.loss) * large.metadata['target_scale']:.4f} eV), "
        f"{pr.iterations} iterations in {pr.seconds:.0f} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
