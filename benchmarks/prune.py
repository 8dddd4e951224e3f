"""Pruning benchmark: L-BFGS vs the paper's Adam schedule, K = 1024 and 4096 → M = 16 under
Bernoulli(0.5), and the toy example's two prunings (100 → 3 under N(0, 1) and U(−4, 4)).

    python benchmarks/prune.py [--threads 1] [--k1024 PATH] [--k4096 PATH]
                               [--lbfgs-iterations 1000] [--tolerance 1e-7]
                               [--adam-iterations 2000] [--skip-adam] [--skip-toy]

Networks: ``--k1024`` / ``--k4096`` (safetensors from rbfviz.core.store), else
assets/models/cu100-k{K}.safetensors when present, else a random RBFN(26, K) (flagged "random").

Per-evaluation floor.  One objective + gradient evaluation is dominated by the (R, M, K, D)
cross term of eq. (5).  In its product form (log1p of e^d_u · e^d_v, the large network's factor
precomputed) each element costs 1 transcendental (log1p) and 4 arithmetic operations (the
product, and 1 + P and P / (1 + P) for the gradient, counting the division as 2 adds' worth),
plus the reductions (the sum over D and the gradient contraction, 2).  The floor is
n · (t_exp + 6 t_add) with t_exp, t_add this machine's measured in-cache single-thread float64
per-element costs (exp stands in for log1p); "× floor" is the measured time per evaluation over
that, for n = R · M · K · D.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import rbfviz.core.prune as P
from rbfviz.core.expectations import Bernoulli, Normal, Uniform
from rbfviz.core.model import RBFN


def _load(K, path):
    from rbfviz.core.store import load_model

    path = path or f"assets/models/cu100-k{K}.safetensors"
    if os.path.exists(path):
        return load_model(path), os.path.basename(path)
    return RBFN(26, K, seed=0, dtype=torch.float64), "random"


def _per_element_costs():
    x = torch.randn(2**16, dtype=torch.float64)  # 512 KiB: in cache
    out = torch.empty_like(x)

    def rate(fn, n=200):
        fn()
        t = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t) / (n * x.numel())

    return rate(lambda: torch.exp(x, out=out)), rate(lambda: torch.add(x, x, out=out))


def run_one(net, dist, M, R, config, seed=0):
    calls = []
    original = P.PruningObjective.__call__

    def counted(self, *a):
        calls.append(a[0].shape[0])
        return original(self, *a)

    P.PruningObjective.__call__ = counted
    try:
        t = time.perf_counter()
        result = P.prune(net, M, dist, R, config=config, seed=seed)
        seconds = time.perf_counter() - t
    finally:
        P.PruningObjective.__call__ = original
    return result, seconds, calls


def eval_time(net, M, R, reps=5, device="cpu"):
    objective = P.PruningObjective(net, Bernoulli(0.5), device)
    params = P._initial_params(net, M, R, 0, device)

    def once():
        losses = objective(*params)
        torch.autograd.grad(losses.sum(), params)

    once()
    t = time.perf_counter()
    for _ in range(reps):
        once()
    return (time.perf_counter() - t) / reps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--k1024"), ap.add_argument("--k4096")
    ap.add_argument("--sizes", default="1024,4096")
    ap.add_argument("--restarts", type=int, default=10)
    ap.add_argument("--lbfgs-iterations", type=int, default=None, help="default: the library's (1000)")
    ap.add_argument("--tolerance", type=float, default=PruneConfigDefaults.tolerance)
    ap.add_argument("--adam-iterations", type=int, default=2000)
    ap.add_argument("--skip-adam", action="store_true")
    ap.add_argument("--skip-toy", action="store_true")
    ap.add_argument("--line-search", default="auto", help="L-BFGS line search: auto, backtracking or batched")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ap.add_argument("--models", nargs="*", default=None, help="networks to prune (replaces --sizes)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t_exp, t_add = _per_element_costs()
    print(f"threads {args.threads}; per element: exp {t_exp * 1e9:.2f} ns, add {t_add * 1e9:.2f} ns")
    M, R = 16, args.restarts
    header = (
        f"{'K':>5} {'network':>24} {'optimizer':>9} {'R':>3} {'seconds':>8} {'iters':>6} "
        f"{'evals':>6} {'best loss':>11} {'√loss':>8} {'ms/eval':>8} {'× floor':>8}"
    )
    print(header)
    if args.models:
        from rbfviz.core.store import load_model

        jobs = [(load_model(p), os.path.basename(p)) for p in args.models]
    else:
        jobs = [_load(K, getattr(args, f"k{K}", None)) for K in map(int, args.sizes.split(","))]
    for net, name in jobs:
        K = net.num_centroids
        D = net.num_inputs
        per_eval = eval_time(net, M, R, device=P.resolve_device(args.device))
        floor = R * M * K * D * (t_exp + 6 * t_add)
        lb = dict(max_iterations=args.lbfgs_iterations, tolerance=args.tolerance, device=args.device)
        runs = [("lbfgs", P.PruneConfig(line_search=args.line_search, **lb))]
        if not args.skip_adam:
            runs.append(
                ("adam", P.PruneConfig(optimizer="adam", max_iterations=args.adam_iterations, device=args.device))
            )
        for label, config in runs:
            result, seconds, calls = run_one(net, Bernoulli(0.5), M, R, config)
            print(
                f"{K:>5} {name:>24} {label:>9} {R:>3} {seconds:>8.1f} {result.iterations:>6} "
                f"{sum(calls) / R:>6.0f} {result.loss:>11.4e} {math.sqrt(max(result.loss, 0)):>8.4f} "
                f"{per_eval * 1e3:>8.1f} {per_eval / floor:>8.2f}",
                flush=True,
            )
    print("(evals: objective evaluations in restart units, sum of batch sizes / R)")
    if not args.skip_toy:
        import numpy as np

        from rbfviz.core.train import TrainConfig, train
        from rbfviz.toy import X_MAX, X_MIN, toy_data

        x, y = toy_data(1000, seed=0)
        perm = np.random.default_rng(0).permutation(len(x))
        val, tr = perm[:200], perm[200:]
        trained = train(
            x[tr, None],
            y[tr],
            x[val, None],
            y[val],
            100,
            TrainConfig(patience=5, cooldown=5, seed=5, standardize_targets=False),
        )
        for dist in (Normal(0.0, 1.0), Uniform(X_MIN, X_MAX)):
            result, seconds, calls = run_one(trained.model, dist, 3, 10, P.PruneConfig(), seed=5)
            print(
                f"toy 100→3 {dist!r:>22}: {seconds:.2f} s, {result.iterations} iterations, "
                f"{sum(calls) / 10:.0f} evals, √loss {math.sqrt(max(result.loss, 0)):.4f}"
            )


PruneConfigDefaults = P.PruneConfig()

if __name__ == "__main__":
    main()
