"""The analogue of the paper's Table 1 on generated Cu barriers: test RMSE against K.

    python benchmarks/accuracy.py                                  # K = 128 ... 4096, 3 splits (GPU-sized)
    python benchmarks/accuracy.py --k 128 256 --splits 2 --threads 1   # what a 2-core CPU affords

Per surface: relaxed barriers from the generator (default settings, data seed 0, cached), split
as the paper (100,000 train, 10,000 early stopping, the rest test) with split seeds 0..S-1,
trained with the paper's schedule (TrainConfig defaults; --max-epochs caps it and is then
printed in the header).  Prints mean ± standard deviation of the test RMSE in eV over the splits,
and √loss of eq. (5) for the bundled 16-prototype networks in assets/models/.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from rbfviz.core.store import load_model
from rbfviz.core.train import TrainConfig, train_dataset
from rbfviz.data.barriers import generate_dataset

MODELS = Path(__file__).resolve().parent.parent / "assets" / "models"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--surfaces", nargs="+", default=["100", "110", "111"])
    ap.add_argument("--k", type=int, nargs="+", default=[128, 256, 512, 1024, 2048, 4096])
    ap.add_argument("--splits", type=int, default=3)
    ap.add_argument("--n", type=int, default=150_000, help="generated rows per surface")
    ap.add_argument("--max-epochs", type=int, default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cap = f", at most {args.max_epochs} epochs" if args.max_epochs else ", full schedule"
    print(
        f"test RMSE (eV), mean ± s.d. over {args.splits} splits{cap}; "
        f"{args.n} generated rows per surface; device {args.device}"
    )
    print(f"{'surface':>8} {'K':>6} {'RMSE':>18} {'epochs':>7} {'s/run':>7}")
    for surface in args.surfaces:
        data = generate_dataset(surface, args.n, seed=0)
        for k in args.k:
            rmses, epochs, seconds = [], [], []
            for split in range(args.splits):
                t0 = time.perf_counter()
                result = train_dataset(
                    data, k, TrainConfig(seed=split, max_epochs=args.max_epochs, device=args.device), split_seed=split
                )
                rmses.append(result.model.metadata["metrics"]["test_rmse"])
                epochs.append(len(result.history))
                seconds.append(time.perf_counter() - t0)
            sd = np.std(rmses, ddof=1) if len(rmses) > 1 else float("nan")
            print(
                f"{'{' + surface + '}':>8} {k:>6} {np.mean(rmses):>9.4f} ± {sd:<6.4f} "
                f"{np.mean(epochs):>7.0f} {np.mean(seconds):>7.0f}",
                flush=True,
            )
    pruned = sorted(MODELS.glob("*-m16.safetensors"))
    if pruned:
        print("\n16-prototype networks (Bernoulli 0.5, 10 restarts): √ of eq. (5)")
        for path in pruned:
            meta = load_model(path).metadata
            p = meta.get("prune", {})
            print(
                f"{meta.get('surface')!s:>8} {path.name:<28} √loss {p.get('sqrt_loss', math.nan):.4f} "
                f"(standardised) = {p.get('rmse_ev', math.nan):.4f} eV"
            )


if __name__ == "__main__":
    main()
