"""``rbfviz train`` (paper §2.2) and ``rbfviz prune`` (paper §2.3, Theorem 1).

Ctrl-C stops either within one epoch (or step) and saves the best network found so far; a network
that has not finished one epoch (or step) is not saved over an existing file without ``--force``.
"""

from __future__ import annotations

import math

from rbfviz.cli.console import ProgressBar, cancel_on_interrupt, fmt
from rbfviz.cli.data import generation_cancelled, load_data
from rbfviz.cli.errors import EXIT_CANCELLED, CliError
from rbfviz.cli.options import add_config_options, config_from_args, count
from rbfviz.cli.outputs import check_output, nothing_learned, save_or_rescue

FORCE_HELP = "save even a network that has not finished one epoch (step) over an existing --out"


def cmd_train(args, cancel=None) -> int:
    from rbfviz.core.train import TrainConfig, train_dataset

    centroids = count("--centroids", args.centroids)
    n_train, n_val = count("--n-train", args.n_train), count("--n-val", args.n_val)
    if not args.data:
        count("--n", args.n, low=3)
    config = config_from_args(TrainConfig, args)
    out = check_output(args.out, inputs=[args.data])

    def epochs_done(report):
        return (report.epoch + 1) / config.max_epochs if config.max_epochs else None

    with cancel_on_interrupt(cancel) as cancel:
        try:
            data = load_data(args, cancel)
        except generation_cancelled():
            print(f"cancelled while generating data: nothing was written to {out}")
            return EXIT_CANCELLED
        bar = ProgressBar(f"training K={centroids}", estimate=epochs_done)
        try:
            result = train_dataset(
                data,
                centroids,
                config,
                split_seed=args.split_seed,
                n_train=n_train,
                n_val=n_val,
                progress=bar,
                cancel=cancel,
            )
        finally:
            bar.close()
    if not result.history and nothing_learned(out, args.force, "epoch"):
        return EXIT_CANCELLED
    model = result.model
    model.metadata["name"] = args.name or out.stem
    save_or_rescue(model, out, "trained")
    m = model.info.metrics
    status = " (cancelled: best so far)" if result.cancelled else ""
    print(
        f"saved {out}{status}: {len(result.history)} epochs in {result.seconds:.1f} s, "
        f"validation RMSE {fmt(m.get('val_rmse'))} eV, test RMSE {fmt(m.get('test_rmse'))} eV"
    )
    return EXIT_CANCELLED if result.cancelled else 0


def _distribution(args, large):
    from rbfviz.core.expectations import distribution_from_name

    data = large.info.data
    frequencies = data.occupation_frequencies if data is not None else None
    if args.distribution == "bernoulli-observed" and frequencies is None:
        raise CliError(
            "the network's metadata holds no occupation frequencies of its "
            "training data; use --distribution bernoulli --q Q instead"
        )
    return distribution_from_name(
        args.distribution, frequencies=frequencies, q=args.q, a=args.a, b=args.b, mean=args.mean, std=args.std
    )


def cmd_prune(args, cancel=None) -> int:
    from rbfviz.core.prune import PruneConfig, prune
    from rbfviz.core.store import load_model

    restarts = count("--restarts", args.restarts)
    centroids = count("--centroids", args.centroids)
    config = config_from_args(PruneConfig, args)
    out = check_output(args.out, inputs=[args.model])
    large = load_model(args.model)
    if centroids > large.num_centroids:
        raise CliError(f"--centroids {centroids} is more than the {large.num_centroids} of {args.model}")
    distribution = _distribution(args, large)
    bar = ProgressBar(f"pruning K={large.num_centroids} → M={centroids}")
    with cancel_on_interrupt(cancel) as cancel:
        try:
            result = prune(
                large, centroids, distribution, restarts, config=config, seed=args.seed, progress=bar, cancel=cancel
            )
        finally:
            bar.close(complete=True)
    if not result.history and nothing_learned(out, args.force, "step"):
        return EXIT_CANCELLED
    model = result.model
    model.metadata["name"] = args.name or out.stem
    save_or_rescue(model, out, "pruned")
    scale = model.info.target_scale
    root = math.sqrt(max(result.loss, 0)) if math.isfinite(result.loss) else math.nan
    status = " (cancelled: best so far)" if result.cancelled else ""
    print(
        f"saved {out}{status}: pruning loss {fmt(result.loss, '.4g')} (√ = {fmt(root)}, "
        f"{fmt(root * scale)} eV) in {result.seconds:.1f} s; "
        f"restarts: {', '.join(fmt(v, '.3g') for v in sorted(result.losses))}"
    )
    return EXIT_CANCELLED if result.cancelled else 0


def add_train_command(command) -> None:
    from rbfviz.core.train import TrainConfig

    p = command(
        "train",
        cmd_train,
        "train an RBFN with the paper's recipe",
        "rbfviz train --surface 100 --n 110000 --centroids 1024 --out cu100.safetensors",
    )
    p.add_argument("--data", help=".26d / .26d.gz / tgz / csv barrier file")
    p.add_argument(
        "--surface",
        choices=["100", "110", "111"],
        help="surface (picks the tarball member, or the generated surface without --data)",
    )
    p.add_argument("--n", type=int, default=120_000, help="generated rows without --data")
    p.add_argument("--data-seed", type=int, default=0, help="seed of generated data")
    p.add_argument("--centroids", "-k", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--name")
    p.add_argument("--n-train", type=int, default=100_000, help="training rows (default 100000)")
    p.add_argument("--n-val", type=int, default=10_000, help="early-stopping rows (default 10000)")
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    add_config_options(p, TrainConfig, aliases={"learning_rate": ["--lr"]})


def add_prune_command(command) -> None:
    from rbfviz.core.prune import PruneConfig

    p = command(
        "prune",
        cmd_prune,
        "prune a trained RBFN to a few prototypes (Theorem 1)",
        "rbfviz prune cu100.safetensors --centroids 16 --out cu100-m16.safetensors",
    )
    p.add_argument("model")
    p.add_argument("--centroids", "-m", type=int, default=16)
    p.add_argument(
        "--distribution", default="bernoulli", choices=["bernoulli", "bernoulli-observed", "uniform", "normal"]
    )
    p.add_argument("--q", type=float, default=0.5, help="Bernoulli P(+1)")
    p.add_argument("--a", type=float, default=-1.0, help="uniform lower bound")
    p.add_argument("--b", type=float, default=1.0, help="uniform upper bound")
    p.add_argument("--mean", type=float, default=0.0)
    p.add_argument("--std", type=float, default=1.0)
    p.add_argument("--restarts", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name")
    p.add_argument("--out", required=True)
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    add_config_options(p, PruneConfig)
