"""Throughput of the KMC evaluators (rbfviz.kmc): configurations per second for each export.

Run:  python benchmarks/kmc.py [--n 200000] [--models cu100-k1024-m16 cu100-k1024] [--table-bits 22]

For each bundled network: torch (``RBFN.predict``, float32), onnxruntime (the ``onnx`` export,
float64 inside), the ``c`` export compiled with gcc -O3 -march=native (batched call through
ctypes, and one call per configuration from C), the ``table`` build (over 2^table-bits indices,
extrapolated to 2^26) and random lookups into a 2^24 float32 table.

The arithmetic floor: one configuration costs about K (2D + 3) flops (a distance, an exp and a
multiply-add per centroid); the floor rate is the float32 matmul rate measured here (torch, same
threads) divided by that.  Timings are wall clock on a shared machine: compare ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import ctypes
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rbfviz import kmc
from rbfviz.core.store import load_model

BUNDLED = Path(__file__).resolve().parents[1] / "rbfviz" / "bundled_models"


def _best(fn, repeat=3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _matmul_gflops() -> float:
    a = torch.randn(2048, 2048)
    b = torch.randn(2048, 2048)
    t = _best(lambda: a @ b)
    return 2 * 2048**3 / t / 1e9


def _c_bench_main(prefix: str, n: int) -> str:
    return f"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>
double {prefix}_barrier_bits(unsigned long bits);
int main(void) {{
    struct timespec t0, t1; double acc = 0.0; unsigned long i, x = 88172645463325252UL;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < {n}UL; ++i) {{
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;  /* xorshift: a random configuration */
        acc += {prefix}_barrier_bits(x & 0x3ffffffUL);
    }}
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.6f %f\\n", (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec), acc);
    return 0;
}}
"""


def bench_model(name: str, n: int, table_bits: int, workdir: Path) -> list[tuple[str, float]]:
    model = load_model(BUNDLED / f"{name}.safetensors")
    X = kmc.configurations(np.random.default_rng(0).integers(0, 2**26, size=n))  # (n, 26) float32
    rows = []
    rows.append(("torch predict (float32)", n / _best(lambda: model.predict(X))))

    try:
        import onnxruntime as ort

        path = kmc.export(model, workdir / f"{name}.onnx", "onnx")
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        rows.append(("onnxruntime (float64 inside)", n / _best(lambda: sess.run(None, {"occupation": X}))))
    except ImportError:
        print("onnxruntime not installed: skipped")

    if shutil.which("gcc"):
        prefix = "bench_" + name.replace("-", "_")
        src = kmc.export(model, workdir / f"{prefix}.c", "c", prefix=prefix)
        lib = workdir / f"{prefix}.so"
        flags = ["-std=c99", "-O3", "-march=native"]
        subprocess.run(["gcc", *flags, "-shared", "-fPIC", str(src), "-lm", "-o", str(lib)], check=True)
        c = ctypes.CDLL(str(lib))
        fn = getattr(c, f"{prefix}_barriers")
        fn.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p]
        Xd = np.ascontiguousarray(X, dtype=np.float64)
        out = np.empty(n)
        rows.append(("C99 export, batched (1 thread)", n / _best(lambda: fn(Xd.ctypes.data, n, out.ctypes.data))))
        main = workdir / f"{prefix}_main.c"
        n_c = max(n // 4, 1000)
        main.write_text(_c_bench_main(prefix, n_c))
        exe = workdir / f"{prefix}_main"
        subprocess.run(["gcc", *flags, str(main), str(src), "-lm", "-o", str(exe)], check=True)
        secs = float(subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()[0])
        rows.append(("C99 export, one call per config", n_c / secs))
    else:
        print("gcc not found: C evaluator skipped")

    span = 2**table_bits
    t = _best(lambda: [None for _ in kmc.table_chunks(model, start=0, stop=span)], repeat=1)
    rows.append((f"table build (2^{table_bits} of 2^26, {kmc.table.resolve_device('auto').type})", span / t))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="configurations per timing")
    parser.add_argument("--models", nargs="+", default=["cu100-k1024-m16", "cu100-k1024"])
    parser.add_argument("--table-bits", type=int, default=20, help="table build timed over 2^bits indices")
    args = parser.parse_args(argv)
    peak = _matmul_gflops()
    print(f"float32 matmul rate (torch, {torch.get_num_threads()} threads): {peak:.1f} GFLOP/s")

    table = np.random.default_rng(1).random(2**24, dtype=np.float32)
    idx = np.random.default_rng(2).integers(0, 2**24, size=args.n)
    lookup = args.n / _best(lambda: table[idx])

    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            K = load_model(BUNDLED / f"{name}.safetensors").num_centroids
            flops = K * (2 * 26 + 3)
            floor = peak * 1e9 / flops
            print(f"\n{name}: K = {K}, ~{flops} flop/config, floor {floor:.3g} config/s")
            print(f"{'evaluator':<44}{'config/s':>12}{'of floor':>10}{'2^26 in':>11}")
            for label, rate in bench_model(name, args.n, args.table_bits, Path(tmp)):
                print(f"{label:<44}{rate:>12.3g}{rate / floor:>10.2%}{2**26 / rate:>10.1f}s")
    print(f"\ntable lookup (random gather, 2^24 float32 table): {lookup:.3g} config/s (memory bound, no flops)")


if __name__ == "__main__":
    main()
