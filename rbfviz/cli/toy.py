"""``rbfviz toy``: the paper's toy example (Figure 1, :mod:`rbfviz.toy`)."""

from __future__ import annotations

from rbfviz.cli.options import count
from rbfviz.cli.outputs import check_output


def cmd_toy(args, cancel=None) -> int:
    from rbfviz import toy

    out = check_output(args.out, folder=True)
    result = toy.run_toy_example(out, restarts=count("--restarts", args.restarts), seed=args.seed, progress=print)
    for name, value in result.items():
        print(f"{name}: {value}")
    return 0


def add_toy_command(command) -> None:
    p = command("toy", cmd_toy, "the paper's toy example (Figure 1)", "rbfviz toy --out toy/")
    p.add_argument("--out", default="toy")
    p.add_argument("--restarts", type=int, default=10)
    p.add_argument("--seed", type=int, default=5)
