"""Training throughput: epochs (against the paper's reference implementation, side by side),
``train_many`` against R single runs, and the full schedule.

    python benchmarks/train.py epoch --k 128 1024 4096       # default config vs eager vs reference
    python benchmarks/train.py epoch --k 1024 --rounds 3 --cold   # medians of 3 interleaved rounds;
                                                             # the first compile into an empty cache
    python benchmarks/train.py many --k 128 --r 1 10 30      # train_many vs R separate train() runs
    python benchmarks/train.py schedule --k 4096             # the full paper schedule, wall time
    python benchmarks/train.py epoch --device cuda --modes eager graph default   # on a GPU

Data: X in {−1, +1}^26 (100,000 training and 10,000 validation rows by default), batch 64.
"reference" is the paper's code as published (machqu/rbfn, re-implemented here from its
description in shared/notes/baseline.md): a per-sample ``DataLoader`` with ``shuffle=True``, the
network as an ``nn.Module`` with autograd, ``torch.optim.Adam(weight_decay=1e-5)``, the summed
MSE loss, validation through a ``DataLoader`` with autograd on.  "default" is ``TrainConfig()``
with no flags (``compile="auto"``: a full-schedule run compiles), timed as a real run that is
cancelled after its timed epochs; "compile" is the time it spent compiling before its first
epoch (torch.compile caches on disk: a later run pays less, ``--cold`` measures the first).
FLOPs per epoch: forward distance product 2·N·K·D, backward
about twice that, plus N·K exponentials and the weight products (2·N·K forward, 4·N·K back); the
floor is that over this machine's measured float32 matrix-product rate (or the GPU's).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import torch

import rbfviz.core.train as train_module
from rbfviz.core.progress import CancelFlag
from rbfviz.core.train import TrainConfig, train, train_many


def epoch_flops(n: int, k: int, d: int) -> float:
    return 3 * (2 * n * k * d) + n * k + 6 * n * k


def matmul_gflops(device: str, n: int = 2048, repeats: int = 5) -> float:
    """This machine's float32 matrix-product rate: the arithmetic floor an epoch is held to."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = math.inf
    for _ in range(repeats + 1):
        if device != "cpu":
            torch.cuda.synchronize()
        t = time.perf_counter()
        a @ b
        if device != "cpu":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def data(n: int, n_val: int = 10_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = np.where(rng.random((n + n_val, 26)) < 0.5, -1.0, 1.0).astype(np.float32)
    y = X[:, :5].sum(1) * 0.1 + rng.normal(0, 0.05, len(X))
    return X[:n], y[:n], X[n:], y[n:]


# --------------------------------------------------------------------------- the reference
class _ReferenceRBFN(torch.nn.Module):
    """The paper's network as its code writes it: parameters α, log γ, β and Z (D × K), the
    distance by expanding the square, autograd for the gradients."""

    def __init__(self, d: int, k: int):
        super().__init__()
        self.alpha = torch.nn.Parameter(torch.empty(1).uniform_(-2, 2))
        self.log_gamma = torch.nn.Parameter(torch.empty(1).uniform_(-0.1 - math.log(d), 0.1 - math.log(d)))
        self.beta = torch.nn.Parameter(torch.empty(k).uniform_(-2, 2))
        self.Z = torch.nn.Parameter(torch.empty(d, k).uniform_(-2, 2))

    def forward(self, X):
        B = X @ self.Z  # (N, K)
        dist = (X**2).sum(1, keepdim=True) + (self.Z**2).sum(0) - 2.0 * B
        return self.alpha + torch.exp(-torch.exp(self.log_gamma) * dist) @ self.beta


def reference_epochs(X, y, Xv, yv, k: int, epochs: int, device: str = "cpu") -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each of ``epochs`` epochs (train + validation) of the paper's loop."""
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    train_set = TensorDataset(torch.as_tensor(X, device=device), torch.as_tensor(y, dtype=torch.float32, device=device))
    val_set = TensorDataset(torch.as_tensor(Xv, device=device), torch.as_tensor(yv, dtype=torch.float32, device=device))
    model = _ReferenceRBFN(X.shape[1], k).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-5)
    loss_fn = torch.nn.MSELoss(reduction="sum")
    times = []
    for _ in range(epochs):
        t, c = time.perf_counter(), time.process_time()
        for xb, yb in DataLoader(train_set, batch_size=64, shuffle=True):
            opt.zero_grad()
            loss = loss_fn(yb, model(xb))
            loss.backward()
            opt.step()
            loss.item()
        total = 0.0
        for xb, yb in DataLoader(val_set, batch_size=64, shuffle=False):  # autograd on, as published
            total += loss_fn(yb, model(xb)).item()
        times.append((time.perf_counter() - t, time.process_time() - c))
    return times


# --------------------------------------------------------------------------- rbfviz
def rbfviz_epochs(X, y, Xv, yv, k: int, epochs: int, config: TrainConfig):
    """(wall, CPU) seconds of each epoch of a run with ``config`` (max_epochs None: a real
    full-schedule run, cancelled after ``epochs + 1`` epochs; the first, warm-up, is not timed),
    the seconds spent compiling before the first epoch, and whether it compiled."""
    flag, stamps = CancelFlag(), []

    def progress(s):
        stamps.append((time.perf_counter(), time.process_time()))
        if len(stamps) >= epochs + 1:
            flag.set()

    result = train(X, y, Xv, yv, k, config, progress=progress, cancel=flag)
    times = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(stamps, stamps[1:])]
    return times, result.compile_seconds, result.compiled


def cmd_epoch(args):
    X, y, Xv, yv = data(args.n)
    cuda = args.device != "cpu" and torch.cuda.is_available()
    dev = "cuda" if cuda else "cpu"
    peak = matmul_gflops(dev)
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()} "
        f"(compiled CPU steps: {train_module.FUSED_STEP_THREADS or 'same'}), device {dev}; "
        f"float32 matmul {peak:.0f} GFLOP/s; {args.n} x 26 rows, batch 64; {args.rounds} interleaved rounds of "
        f"{args.ref_epochs} reference and {args.epochs} timed epochs (after a warm-up epoch) per mode"
    )
    print(
        f"{'K':>5} {'mode':>9} {'med s/ep':>8} {'min s/ep':>8} {'CPU s':>7} {'compile':>7} {'GFLOP/s':>8} "
        f"{'floor s':>8} {'x floor':>7} {'vs ref':>7} {'vs ref CPU':>10}"
    )
    modes = {
        "default": TrainConfig(device=args.device),  # no flags: compile="auto", graph="auto"
        "eager": TrainConfig(device=args.device, compile=False, graph=False),
        "compiled": TrainConfig(device=args.device, compile=True, graph=False),
        "graph": TrainConfig(device=args.device, compile=False, graph=True),
        "graph+compile": TrainConfig(device=args.device, compile=True, graph=True),
    }
    for k in args.k:
        flops = epoch_flops(args.n, k, 26)
        floor = flops / (peak * 1e9)
        times = {mode: [] for mode in args.modes}
        compile_s, labels = {}, {}
        for _ in range(args.rounds):  # interleaved: a change of the machine's load hits every mode alike
            for mode in args.modes:
                if mode == "reference":
                    times[mode] += reference_epochs(X, y, Xv, yv, k, args.ref_epochs, dev)
                    compile_s.setdefault(mode, 0.0)
                    labels[mode] = mode
                else:
                    t, c, compiled = rbfviz_epochs(X, y, Xv, yv, k, args.epochs, modes[mode])
                    times[mode] += t
                    compile_s.setdefault(mode, c)  # the first round's: later ones may hit the compile caches
                    labels[mode] = mode + ("*" if mode == "default" and compiled else "")
        ref = None
        for mode in args.modes:
            wall = statistics.median(t[0] for t in times[mode])
            cpu = statistics.median(t[1] for t in times[mode])
            if mode == "reference":
                ref = (wall, cpu)
            vs = f"{ref[0] / wall:>6.1f}x {ref[1] / cpu:>9.1f}x" if ref else f"{'-':>7} {'-':>10}"
            print(
                f"{k:>5} {labels[mode]:>9} {wall:>8.3f} {min(t[0] for t in times[mode]):>8.3f} {cpu:>7.3f} "
                f"{compile_s[mode]:>7.1f} {flops / wall / 1e9:>8.1f} {floor:>8.4f} {wall / floor:>7.1f} {vs}",
                flush=True,
            )
    print(
        "(* the default configuration compiled on its own (compile: seconds spent compiling before its first "
        "epoch, first round); s/epoch and CPU s are medians over all rounds; vs ref: the reference's median "
        "over this one's, wall and process CPU time; on a shared machine the CPU-time ratio is the robust one)"
    )


def cmd_many(args):
    """train_many of R networks (each its own data split and seed) vs R separate train() runs."""
    n, nv = args.n, max(args.n // 10, 10)
    rng = np.random.default_rng(0)
    X = np.where(rng.random((n + nv, 26)) < 0.5, -1.0, 1.0).astype(np.float32)
    y = X[:, :5].sum(1) * 0.1 + rng.normal(0, 0.05, len(X))
    cfg = TrainConfig(max_epochs=args.epochs, device=args.device, compile=False)
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}; {n} + {nv} rows x 26, "
        f"{args.epochs} epochs, batch 64, K = {args.k[0]}; min of {args.repeats} interleaved repeats"
    )
    print(
        f"{'R':>4} {'train_many s':>13} {'R x train s':>12} {'speed-up':>9} {'many CPU':>9} {'R x CPU':>9} "
        f"{'CPU x':>9} {'max |Δθ|':>9}"
    )
    for R in args.r:
        splits = []
        for r in range(R):
            perm = np.random.default_rng(r).permutation(n + nv)
            splits.append((X[perm[:n]], y[perm[:n]], X[perm[n:]], y[perm[n:]]))
        t_many, t_single, c_many, c_single = math.inf, math.inf, math.inf, math.inf
        for _ in range(args.repeats):  # interleaved, min of each: the machine is noisy
            t, c = time.perf_counter(), time.process_time()
            many = train_many(splits, args.k[0], cfg, seeds=list(range(R)))
            t_many, c_many = min(t_many, time.perf_counter() - t), min(c_many, time.process_time() - c)
            t, c = time.perf_counter(), time.process_time()
            singles = [train(*s, args.k[0], TrainConfig(**{**cfg.__dict__, "seed": r})) for r, s in enumerate(splits)]
            t_single, c_single = min(t_single, time.perf_counter() - t), min(c_single, time.process_time() - c)
        diff = max(float((a.model.centroids - b.model.centroids).abs().max().detach()) for a, b in zip(many, singles))
        print(
            f"{R:>4} {t_many:>13.2f} {t_single:>12.2f} {t_single / t_many:>8.1f}x "
            f"{c_many:>9.2f} {c_single:>9.2f} {c_single / c_many:>8.1f}x {diff:>9.1e}",
            flush=True,
        )


def generated_data(path: str | None, n: int, device: str):
    """n + 10k rows of generated {100} barriers (and a test set), read from ``path`` when it
    exists, else generated (on ``device``) and written there."""
    import os

    from rbfviz.data.barriers import GeneratorConfig, generate_dataset
    from rbfviz.data.datasets import load_barriers, write_26d

    if path and os.path.exists(path):
        ds = load_barriers(path)
    else:
        t = time.perf_counter()
        ds = generate_dataset("100", n + 20_000, seed=0, config=GeneratorConfig(device=device), cache_dir=False)
        print(f"generated {len(ds)} rows of (100) barriers in {time.perf_counter() - t:.1f} s on {device}")
        if path:
            write_26d(ds, path)
    train_set, val_set, test_set = ds.split(n, 10_000, seed=0)
    return train_set.X, train_set.y, val_set.X, val_set.y, test_set


def cmd_schedule(args):
    test_set = None
    if args.data or args.generate:
        dev = "cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu"
        X, y, Xv, yv, test_set = generated_data(args.data, args.n, dev)
    else:
        X, y, Xv, yv = data(args.n)
    for k in args.k:
        t = time.perf_counter()
        result = train(X, y, Xv, yv, k, TrainConfig(device=args.device))
        seconds = time.perf_counter() - t
        rmse = ""
        if test_set is not None and len(test_set):
            pred = result.model.predict(test_set.X)
            rmse = f", test RMSE {float(np.sqrt(np.mean((pred - test_set.y) ** 2))):.4f} eV"
        print(
            f"K = {k}: {len(result.history)} epochs in {seconds:.1f} s "
            f"({seconds / len(result.history):.3f} s/epoch), best val MSE {result.best_val_mse:.4g}{rmse}, "
            f"compiled {result.compiled}, graph {result.graph}",
            flush=True,
        )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", nargs="?", default="epoch", choices=["epoch", "many", "schedule"])
    ap.add_argument("--k", type=int, nargs="+", default=None)
    ap.add_argument("--n", type=int, default=None, help="training rows (epoch/schedule: 100000, many: 2000)")
    ap.add_argument("--epochs", type=int, default=None, help="timed epochs (epoch: 2 per round, many: 5)")
    ap.add_argument("--ref-epochs", type=int, default=2, help="epoch: reference epochs per round")
    ap.add_argument("--rounds", type=int, default=1, help="epoch: interleaved rounds of every mode")
    ap.add_argument("--r", type=int, nargs="+", default=[1, 10, 30])
    ap.add_argument("--repeats", type=int, default=3, help="many: timed repeats (min of each)")
    ap.add_argument("--modes", nargs="+", default=["reference", "default", "eager"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--data", help="schedule: a .26d barrier file (written there after generating, if absent)")
    ap.add_argument("--generate", action="store_true", help="schedule: generated (100) barriers, not synthetic")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--cold", action="store_true", help="compile into an empty cache (a fresh machine's first run)")
    ap.add_argument(
        "--step-threads", type=int, default=None, help="threads of the CPU's compiled steps (FUSED_STEP_THREADS)"
    )
    args = ap.parse_args(argv)
    if args.step_threads is not None:
        train_module.FUSED_STEP_THREADS = args.step_threads
    if args.cold:
        import os
        import tempfile

        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="rbfviz-inductor-")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.what == "many":
        args.k, args.n, args.epochs = args.k or [128], args.n or 2000, args.epochs or 5
        cmd_many(args)
    elif args.what == "schedule":
        args.k, args.n = args.k or [4096], args.n or 100_000
        cmd_schedule(args)
    else:
        args.k, args.n, args.epochs = args.k or [128, 1024, 4096], args.n or 100_000, args.epochs or 2
        cmd_epoch(args)


if __name__ == "__main__":
    main()
