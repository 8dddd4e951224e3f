"""``rbfviz generate``, and the training data of ``rbfviz train`` (a file, or generated barriers)."""

from __future__ import annotations

import argparse

from rbfviz.cli.console import ProgressBar, cancel_on_interrupt
from rbfviz.cli.errors import EXIT_CANCELLED, CliError
from rbfviz.cli.options import add_config_options, config_from_args, count
from rbfviz.cli.outputs import check_output


def load_data(args, cancel):
    """The barrier data of ``train``: ``--data FILE``, or ``--n`` rows generated for ``--surface``."""
    from rbfviz.data import datasets

    if args.data:
        return datasets.load_barriers(args.data, surface=args.surface)
    if not args.surface:
        raise CliError("give --data FILE, or --surface to train on generated data")
    from rbfviz.data import barriers

    bar = ProgressBar(f"generating {{{args.surface}}} barriers")
    try:
        return barriers.generate_dataset(args.surface, args.n, seed=args.data_seed, progress=bar, cancel=cancel)
    finally:
        bar.close()


def generation_cancelled():
    """The exception the generator raises when it is cancelled (imported only when needed)."""
    from rbfviz.data.barriers import GenerationCancelled

    return GenerationCancelled


def cmd_generate(args, cancel=None) -> int:
    from rbfviz.data import barriers, datasets

    n = count("--n", args.n)
    cfg = config_from_args(barriers.GeneratorConfig, args)
    out = check_output(args.out)
    bar = ProgressBar(f"generating {{{args.surface}}}")
    with cancel_on_interrupt(cancel) as cancel:
        try:
            data = barriers.generate_dataset(
                args.surface,
                n,
                seed=args.seed,
                config=cfg,
                progress=bar,
                cancel=cancel,
                cache_dir=None if args.cache else False,
            )
        except barriers.GenerationCancelled:
            print(f"cancelled: nothing was written to {out}")
            return EXIT_CANCELLED
        finally:
            bar.close()
    datasets.write_26d(data, out)
    d = data.describe()
    print(
        f"wrote {len(data)} rows to {out}: barrier {d['y_mean']:.3f} ± {d['y_std']:.3f} eV, "
        f"clipped at 0: {100 * data.metadata.get('clipped_fraction', 0):.1f} %"
    )
    return 0


def add_generate_command(command) -> None:
    from rbfviz.data.barriers import GeneratorConfig

    p = command(
        "generate",
        cmd_generate,
        "generate physics-based Cu migration barriers (.26d)",
        "rbfviz generate --surface 100 --n 200000 --out cu100.26d",
    )
    p.add_argument("--surface", required=True, choices=["100", "110", "111"])
    p.add_argument("--n", type=int, default=200_000, help="number of rows (default 200000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled configurations (default 0)")
    p.add_argument("--no-cache", dest="cache", action="store_false", help="do not use the disk cache")
    p.add_argument("--out", required=True, help=".26d output (gzip if it ends in .gz)")
    add_config_options(p, GeneratorConfig)
    p.add_argument(
        "--unrelaxed", dest="cfg_relaxed", action="store_false", default=argparse.SUPPRESS, help="same as --no-relaxed"
    )
