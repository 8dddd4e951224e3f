"""Training throughput: one epoch (train + validation pass) at batch 64, as in the paper.

    python benchmarks/train.py                 # K = 128, 1024, 4096 on 100,000 x 26 inputs
    python benchmarks/train.py --k 1024 --device cuda --epochs 3

Prints samples/s, achieved GFLOP/s and the ratio to the reference implementation's epoch time
measured on this kind of 2-core machine (shared/notes/baseline.md: 2.79 / 3.41 / 5.73 s min).
FLOPs per epoch: forward distance product 2·N·K·D, backward about twice that, plus the kernel
(N·K exponentials counted as one op each) and the weight products (2·N·K forward, 4·N·K back).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from rbfviz.core.train import TrainConfig, train

REFERENCE_EPOCH_S = {128: 2.79, 1024: 3.41, 4096: 5.73}  # min over repeats, same machine kind


def epoch_flops(n: int, k: int, d: int) -> float:
    return 3 * (2 * n * k * d) + n * k + 6 * n * k


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """This machine's float32 matrix-product rate: the arithmetic floor an epoch is held to."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_time(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", type=int, nargs="+", default=[128, 1024, 4096])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs after one warm-up epoch")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--compile", action="store_true", help="TrainConfig(compile=True)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    X = np.where(rng.random((args.n + 10_000, 26)) < 0.5, -1.0, 1.0).astype(np.float32)
    y = X[:, :5].sum(1) * 0.1 + rng.normal(0, 0.05, len(X))
    peak = matmul_gflops() if args.device in ("auto", "cpu") and not torch.cuda.is_available() else None
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {args.device}, "
        f"compile {args.compile}" + (f"; float32 matmul peak {peak:.0f} GFLOP/s" if peak else "")
    )
    print(
        f"{'K':>6} {'s/epoch':>9} {'samples/s':>11} {'GFLOP/s':>9} {'floor (s)':>10} "
        f"{'x floor':>8} {'vs reference':>13}"
    )
    for k in args.k:
        times = []

        def progress(s, times=times):
            times.append(s.elapsed)

        cfg = TrainConfig(max_epochs=args.epochs + 1, device=args.device, compile=args.compile)
        train(X[: args.n], y[: args.n], X[args.n :], y[args.n :], k, cfg, progress=progress)
        per_epoch = np.diff(times).min() if len(times) > 1 else times[0]
        flops = epoch_flops(args.n, k, 26)
        ref = REFERENCE_EPOCH_S.get(k)
        ratio = f"{ref / per_epoch:.1f}x faster" if ref else "-"
        floor = flops / (peak * 1e9) if peak else float("nan")
        print(
            f"{k:>6} {per_epoch:>9.3f} {args.n / per_epoch:>11.0f} {flops / per_epoch / 1e9:>9.1f} "
            f"{floor:>10.3f} {per_epoch / floor:>8.1f} {ratio:>13}"
        )


if __name__ == "__main__":
    main()
