"""Throughput of the barrier generator (rbfviz.data.barriers), barriers per second.

Run::

    python benchmarks/generator.py                 # N = 20k and 100k, all surfaces, float32
    python benchmarks/generator.py --sizes 20000 --surfaces 100 --threads 2
    python benchmarks/generator.py --device cuda --chunk-size 131072 --sizes 200000 --compile never

Each (surface, mode) is warmed up first on one chunk (this triggers the torch.compile of the
relaxed kernel; its time is printed in the last column), then timed on fresh random
configurations at default occupation probabilities.  On a shared 2-core machine try
``--threads 1``: OpenMP with 2 threads slows down badly when the cores are busy.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from rbfviz.data.barriers import GeneratorConfig, compute_barriers, sample_configurations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--surfaces", nargs="+", default=["100", "110", "111"])
    parser.add_argument("--modes", nargs="+", default=["unrelaxed", "relaxed"])
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compile", default="auto", choices=["auto", "never", "always"])
    parser.add_argument("--chunk-size", type=int, default=None, help="rows per chunk (a GPU wants ~10^5)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = GeneratorConfig(dtype=args.dtype, device=args.device, compile=args.compile)
    if args.chunk_size:
        config = replace(config, chunk_size=args.chunk_size)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.dtype}, "
        f"device {args.device}, compile={args.compile}"
    )
    print(f"{'surface':>7} {'mode':>9} {'N':>8} {'seconds':>8} {'barriers/s':>11}   warm-up s")
    for surface in args.surfaces:
        for mode in args.modes:
            relaxed = mode == "relaxed"
            t0 = time.perf_counter()
            warm = sample_configurations(surface, config.chunk_size, seed=99)
            # The warm-up compiles the relaxed kernel (unless --compile never), so that "auto"
            # then uses it at every size.
            warm_config = replace(config, compile="always") if args.compile != "never" else config
            compute_barriers(warm, surface, relaxed, config=warm_config)
            warm_s = time.perf_counter() - t0
            for n in args.sizes:
                X = sample_configurations(surface, n, seed=n)
                t0 = time.perf_counter()
                compute_barriers(X, surface, relaxed, config=config)
                if config.device != "cpu":
                    torch.cuda.synchronize()
                dt = time.perf_counter() - t0
                print(f"{surface:>7} {mode:>9} {n:>8} {dt:>8.2f} {n / dt:>11,.0f}   {warm_s:.1f}", flush=True)


if __name__ == "__main__":
    main()
