"""``rbfviz sweep``: the paper's Table 1 sweep (surfaces × K × splits, baselines) on Dask
(:mod:`rbfviz.sweep`); finished cells are kept, so the same command resumes a cancelled sweep."""

from __future__ import annotations

from rbfviz.cli.console import ProgressBar, cancel_on_interrupt
from rbfviz.cli.errors import EXIT_CANCELLED, CliError
from rbfviz.cli.outputs import check_output


def cmd_sweep(args, cancel=None):
    from dataclasses import replace

    from rbfviz.core.train import TrainConfig
    from rbfviz.sweep import SweepCancelled, SweepConfig, run_sweep, table1, table1_markdown

    data_paths = []
    for item in args.data or []:
        surface, sep, path = item.partition("=")
        if not sep or surface not in ("100", "110", "111"):
            raise CliError(f"--data takes SURFACE=PATH (e.g. 100=cu100.26d); got {item!r}")
        data_paths.append((surface, path))
    config = SweepConfig(
        data_seed=args.data_seed,
        data_paths=tuple(data_paths),
        train=TrainConfig(max_epochs=args.max_epochs, device=args.device, compile=args.compile),
        prune_m=tuple(args.prune_m),
        prune_k=tuple(args.prune_k),
        prune_distributions=tuple(args.distribution),
        prune_restarts=args.restarts,
        prune_iterations=args.prune_iterations,
        search_rounds=args.search_rounds,
        torch_threads=args.threads or None,
    )
    if args.baseline_epochs:
        config = replace(config, dnn=replace(config.dnn, max_epochs=args.baseline_epochs))
    client = None
    if args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)
    elif args.workers:
        from rbfviz.sweep.runner import start_local_client

        client = start_local_client(args.workers)
    check_output(args.out, folder=True)
    bar = ProgressBar("sweep")

    with cancel_on_interrupt(cancel) as cancel:
        try:
            table = run_sweep(
                args.out,
                surfaces=args.surfaces,
                ks=args.k,
                splits=args.splits,
                n_rows=args.n_rows,
                baselines=tuple(args.baselines),
                client=client,
                progress=bar,
                cancel=cancel,
                config=config,
            )
        except SweepCancelled as exc:
            print(f"cancelled: {exc} (finished cells are kept; run the same command again to resume)")
            return EXIT_CANCELLED
        finally:
            bar.close()
            if client is not None:
                cluster = getattr(client, "cluster", None) if args.workers and not args.scheduler else None
                client.close()
                if cluster is not None:
                    cluster.close()
    print(f"{len(table)} cells ({table.attrs.get('computed', 0)} computed now) in {args.out}/results.parquet")
    print(table1_markdown(table1(table)), end="")
    if args.figure3:
        from rbfviz.sweep import figure3_chart
        from rbfviz.viz.export import export_chart

        print("Figure 3:", export_chart(figure3_chart(table), args.figure3, dpi=args.dpi))
    return 0


def add_sweep_command(command) -> None:
    from rbfviz.core.validate import AutoBool

    p = command(
        "sweep",
        cmd_sweep,
        "the paper's Table 1 sweep (surfaces × K × splits, baselines) on Dask",
        "rbfviz sweep sweep-out --surfaces 100 110 111 --k 128 256 --splits 10 --baselines xgboost dnn",
    )
    p.add_argument("out", help="the sweep's folder (finished cells in it are skipped)")
    p.add_argument("--surfaces", nargs="+", default=["100", "110", "111"], choices=["100", "110", "111"])
    p.add_argument("--k", type=int, nargs="+", default=[128, 256, 512, 1024, 2048, 4096], help="centroid counts")
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--n-rows", type=int, default=None, help="generated rows per surface (default: the paper's sizes)")
    p.add_argument("--data", nargs="+", metavar="SURFACE=PATH", help="barrier files instead of generated data")
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--baselines", nargs="*", default=[], choices=["xgboost", "dnn"])
    p.add_argument("--search-rounds", type=int, default=0, help="random search rounds per baseline (paper: 100)")
    p.add_argument("--baseline-epochs", type=int, default=None, help="cap the deep network's epochs")
    p.add_argument("--prune-m", type=int, nargs="*", default=[], help="also prune every network to M prototypes")
    p.add_argument("--prune-k", type=int, nargs="*", default=[], help="prune only the networks of these K")
    p.add_argument("--distribution", nargs="+", default=["bernoulli"], choices=["bernoulli", "bernoulli-observed"])
    p.add_argument("--restarts", type=int, default=10)
    p.add_argument("--prune-iterations", type=int, default=None, help="L-BFGS budget per pruning (default 1000)")
    p.add_argument("--max-epochs", type=int, default=None)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (TrainConfig.device)")
    p.add_argument(
        "--compile",
        type=AutoBool.parse,
        nargs="?",
        const=True,
        default="auto",
        metavar="auto|on|off",
        help="TrainConfig.compile (default: auto)",
    )
    p.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler (e.g. tcp://host:8786)")
    p.add_argument("--workers", type=int, default=0, help="embedded cluster size (default: one per core)")
    p.add_argument("--threads", type=int, default=0, help="torch threads per task (default: cores / workers)")
    p.add_argument("--figure3", metavar="PNG", help="also write Figure 3 (RMSE against K, baselines) here")
    p.add_argument("--dpi", type=int, default=150)
