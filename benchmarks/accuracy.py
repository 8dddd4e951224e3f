"""The paper's Table 1 and Figure 3 on generated Cu barriers, through the sweep (rbfviz.sweep).

    python benchmarks/accuracy.py                                     # the paper's grid (GPU-sized)
    python benchmarks/accuracy.py --k 32 128 512 --splits 4 --n-rows 12000 --max-epochs 100 \\
        --baselines xgboost dnn --out build/sweep-cpu                 # what a shared 2-core CPU affords

A thin layer over :func:`rbfviz.sweep.run_sweep` (resumable: cells already in --out are reused).
Prints Table 1 (test RMSE in eV, mean ± s.d. over the splits) next to the paper's values, the
mean wall time per cell by model and K, and writes Figure 3 (figure3.png) into --out.  There is
no arithmetic floor for an accuracy: the reference is the paper's column.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rbfviz.core.train import TrainConfig
from rbfviz.sweep import SweepConfig, figure3_chart, run_sweep, table1, table1_markdown


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--surfaces", nargs="+", default=["100", "110", "111"])
    ap.add_argument("--k", type=int, nargs="+", default=[128, 256, 512, 1024, 2048, 4096])
    ap.add_argument("--splits", type=int, default=10)
    ap.add_argument("--n-rows", type=int, default=None, help="generated rows per surface (default: the paper's)")
    ap.add_argument("--max-epochs", type=int, default=None)
    ap.add_argument("--baselines", nargs="*", default=["xgboost", "dnn"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default="build/sweep")
    args = ap.parse_args()
    config = SweepConfig(train=TrainConfig(max_epochs=args.max_epochs, device=args.device))
    table = run_sweep(
        args.out,
        surfaces=args.surfaces,
        ks=args.k,
        splits=args.splits,
        n_rows=args.n_rows,
        baselines=tuple(args.baselines),
        config=config,
    )
    cap = f"at most {args.max_epochs} epochs" if args.max_epochs else "the paper's schedule"
    print(f"test RMSE (eV) over {args.splits} splits; {args.n_rows or 'paper-sized'} rows per surface; {cap}")
    print(table1_markdown(table1(table)))
    t = table[table["model"] != "pruned"].copy()
    t["what"] = t["model"] + t["k"].map(lambda k: "" if k is None or k != k else f" K={int(k)}")
    print("mean wall seconds per cell (noisy: shared machine)")
    print(t.groupby(["what"])["seconds"].mean().round(1).to_string())
    from rbfviz.viz.export import export_chart

    print("Figure 3:", export_chart(figure3_chart(table), Path(args.out) / "figure3.png", dpi=150))


if __name__ == "__main__":
    main()
