"""The ``rbfviz`` command: a thin layer over the library for headless work.

Examples::

    rbfviz generate --surface 100 --n 200000 --out cu100.26d
    rbfviz train --data cu100.26d --centroids 1024 --out cu100-k1024.safetensors
    rbfviz prune cu100-k1024.safetensors --centroids 16 --out cu100-m16.safetensors
    rbfviz info cu100-m16.safetensors
    rbfviz figures --model cu100-m16.safetensors --out figures/
    rbfviz toy --out toy/

Ctrl-C during training or pruning stops the run within one epoch (or step) and still saves the
best network found so far.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import signal
import sys
import threading
from pathlib import Path


# --------------------------------------------------------------------------- plumbing
class _CliError(Exception):
    pass


@contextlib.contextmanager
def _cancel_on_interrupt():
    """Yield an Event that the first Ctrl-C sets (a second one aborts as usual)."""
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def handler(signum, frame):
        if event.is_set():
            raise KeyboardInterrupt
        print(
            "\ninterrupted: stopping after this epoch and keeping the best model so far (Ctrl-C again to abort)",
            file=sys.stderr,
        )
        event.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield event
    finally:
        signal.signal(signal.SIGINT, previous)


def _bar(total, desc, unit):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=True)


def _load_data(args):
    from rbfviz.data import datasets

    if args.data:
        return datasets.load_barriers(args.data, surface=args.surface)
    if not args.surface:
        raise _CliError("give --data FILE, or --surface to train on generated data")
    from rbfviz.data import barriers

    bar = _bar(args.n, f"generating {{{args.surface}}} barriers", "rows")

    def progress(done, total):
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        return barriers.generate_dataset(args.surface, args.n, seed=args.data_seed, progress=progress)
    finally:
        bar.close()


def _distribution(args, large):
    from rbfviz.core import expectations as ex

    name = args.distribution
    if name == "bernoulli":
        return ex.Bernoulli(args.q)
    if name == "bernoulli-observed":
        freq = (large.metadata.get("data") or {}).get("occupation_frequencies")
        if freq is None:
            raise _CliError(
                "the network's metadata holds no occupation frequencies of its "
                "training data; use --distribution bernoulli --q Q instead"
            )
        return ex.Bernoulli.from_frequencies(freq)
    if name == "uniform":
        return ex.Uniform(args.a, args.b)
    if name == "normal":
        return ex.Normal(args.mean, args.std)
    raise _CliError(f"unknown distribution {name!r}")


# --------------------------------------------------------------------------- commands
def cmd_generate(args):
    from rbfviz.data import barriers, datasets

    cfg = barriers.GeneratorConfig(relaxed=not args.unrelaxed)
    bar = _bar(args.n, f"generating {{{args.surface}}}", "rows")

    def progress(done, total):
        bar.n = done
        bar.refresh()

    with _cancel_on_interrupt() as cancel:
        try:
            data = barriers.generate_dataset(
                args.surface,
                args.n,
                seed=args.seed,
                config=cfg,
                progress=progress,
                cancel=cancel,
                cache_dir=None if args.cache else False,
            )
        finally:
            bar.close()
    datasets.write_26d(data, args.out)
    d = data.describe()
    print(
        f"wrote {len(data)} rows to {args.out}: barrier {d['y_mean']:.3f} ± {d['y_std']:.3f} eV, "
        f"clipped at 0: {100 * data.metadata.get('clipped_fraction', 0):.1f} %"
    )


def cmd_train(args):
    from rbfviz.core.store import save_model
    from rbfviz.core.train import TrainConfig, train_dataset

    data = _load_data(args)
    config = TrainConfig(
        batch_size=args.batch_size,
        max_epochs=args.max_epochs,
        device=args.device,
        seed=args.seed,
        learning_rate=args.lr,
        compile=args.compile,
    )
    bar = _bar(args.max_epochs, f"training K={args.centroids}", "epoch")

    def progress(s):
        bar.update(1)
        bar.set_postfix(train=f"{s.train_mse:.4g}", val=f"{s.val_mse:.4g}", lr=f"{s.lr:.0e}")

    with _cancel_on_interrupt() as cancel:
        try:
            result = train_dataset(
                data,
                args.centroids,
                config,
                split_seed=args.split_seed,
                n_train=args.n_train,
                n_val=args.n_val,
                progress=progress,
                cancel=cancel,
            )
        finally:
            bar.close()
    model = result.model
    model.metadata["name"] = args.name or Path(args.out).stem
    save_model(model, args.out)
    m = model.metadata["metrics"]
    status = " (cancelled: best so far)" if result.cancelled else ""
    print(
        f"saved {args.out}{status}: {len(result.history)} epochs in {result.seconds:.1f} s, "
        f"validation RMSE {m.get('val_rmse', float('nan')):.4f} eV, "
        f"test RMSE {m.get('test_rmse', float('nan')):.4f} eV"
    )


def cmd_prune(args):
    from rbfviz.core.prune import PruneConfig, prune
    from rbfviz.core.store import load_model, save_model

    large = load_model(args.model)
    distribution = _distribution(args, large)
    config = PruneConfig(optimizer=args.optimizer)
    bar = _bar(100, f"pruning K={large.num_centroids} → M={args.centroids}", "%")

    def progress(p):
        bar.n = int(100 * p.fraction)
        bar.set_postfix(loss=f"{p.loss:.4g}", it=p.iteration)

    with _cancel_on_interrupt() as cancel:
        try:
            result = prune(
                large,
                args.centroids,
                distribution,
                args.restarts,
                config=config,
                seed=args.seed,
                progress=progress,
                cancel=cancel,
            )
        finally:
            bar.n = 100
            bar.close()
    model = result.model
    model.metadata["name"] = args.name or Path(args.out).stem
    save_model(model, args.out)
    scale = model.metadata.get("target_scale", 1.0)
    print(
        f"saved {args.out}: pruning loss {result.loss:.4g} (√ = {math.sqrt(max(result.loss, 0)):.4f}, "
        f"{math.sqrt(max(result.loss, 0)) * scale:.4f} eV) in {result.seconds:.1f} s; "
        f"restarts: {', '.join(f'{v:.3g}' for v in sorted(result.losses))}"
    )


def cmd_info(args):
    from rbfviz.core.store import load_model

    for path in args.models:
        model = load_model(path)
        meta = dict(model.metadata)
        if args.json:
            print(json.dumps(meta, indent=2, default=str))
            continue
        print(f"{path}")
        print(
            f"  kind {meta.get('kind')}, surface {meta.get('surface')}, "
            f"K = {model.num_centroids}, D = {model.num_inputs}, γ = {model.gamma.item():.4g}"
        )
        for key, value in (meta.get("metrics") or {}).items():
            print(f"  {key}: {value:.5g}" if isinstance(value, float) else f"  {key}: {value}")
        if meta.get("prune"):
            p = meta["prune"]
            print(
                f"  pruned with {p['distribution']['name']}, {p.get('restarts')} restarts; "
                f"parent {str(meta.get('parent_hash'))[:12]}"
            )
        print(f"  content hash {str(meta.get('content_hash'))[:12]}")


def cmd_figures(args):
    from rbfviz.viz.export import write_figures

    bar = _bar(None, "writing figures", "file")

    def progress(done, total, message=""):
        bar.total = total
        bar.n = done
        bar.set_postfix_str(str(message)[:40])

    try:
        paths = write_figures(
            args.model,
            args.out,
            dpi=args.dpi,
            formats=tuple(args.formats),
            transparent=args.transparent,
            progress=progress,
        )
    finally:
        bar.close()
    print(f"wrote {len(paths)} files to {args.out}")


def cmd_toy(args):
    from rbfviz import toy

    result = toy.run_toy_example(args.out, restarts=args.restarts, seed=args.seed, progress=print)
    for name, value in result.items():
        print(f"{name}: {value}")


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rbfviz",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `rbfviz COMMAND --help` for each command's options and an example.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, func, help, example):
        p = sub.add_parser(
            name,
            help=help,
            description=help,
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(func=func)
        return p

    p = command(
        "generate",
        cmd_generate,
        "generate physics-based Cu migration barriers (.26d)",
        "rbfviz generate --surface 100 --n 200000 --out cu100.26d",
    )
    p.add_argument("--surface", required=True, choices=["100", "110", "111"])
    p.add_argument("--n", type=int, default=200_000, help="number of rows (default 200000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--unrelaxed", action="store_true", help="unrelaxed (rigid) barriers")
    p.add_argument("--no-cache", dest="cache", action="store_false", help="do not use the disk cache")
    p.add_argument("--out", required=True, help=".26d output (gzip if it ends in .gz)")

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
    p.add_argument("--n-train", type=int, default=100_000)
    p.add_argument("--n-val", type=int, default=10_000)
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--seed", type=int, default=0, help="initialisation and shuffling")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--max-epochs", type=int, default=None)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument(
        "--compile",
        action="store_true",
        help="fuse the training step with torch.compile (~10-20 s once; faster epochs)",
    )

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
    p.add_argument("--optimizer", default="lbfgs", choices=["lbfgs", "adam"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name")
    p.add_argument("--out", required=True)

    p = command("info", cmd_info, "print a model file's metadata", "rbfviz info assets/models/cu100-m16.safetensors")
    p.add_argument("models", nargs="+")
    p.add_argument("--json", action="store_true")

    p = command(
        "figures",
        cmd_figures,
        "write publication figures and data for pruned networks",
        "rbfviz figures --model a.safetensors b.safetensors --out figures/ --dpi 600",
    )
    p.add_argument("--model", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--dpi", type=int, default=300)
    p.add_argument("--formats", nargs="+", default=["png", "pdf", "svg"])
    p.add_argument("--transparent", action="store_true")

    p = command("toy", cmd_toy, "the paper's toy example (Figure 1)", "rbfviz toy --out toy/")
    p.add_argument("--out", default="toy")
    p.add_argument("--restarts", type=int, default=10)
    p.add_argument("--seed", type=int, default=5)
    _register_sweep(command)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except _CliError as exc:
        print(f"rbfviz {args.command}: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:  # library errors name the file / field already
        print(f"rbfviz {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------- sweep (paper Table 1)
def cmd_sweep(args):
    from dataclasses import replace

    from rbfviz.core.train import TrainConfig
    from rbfviz.sweep import SweepCancelled, SweepConfig, run_sweep, table1, table1_markdown

    data_paths = []
    for item in args.data or []:
        surface, sep, path = item.partition("=")
        if not sep or surface not in ("100", "110", "111"):
            raise _CliError(f"--data takes SURFACE=PATH (e.g. 100=cu100.26d); got {item!r}")
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
    bar = _bar(None, "sweep", "cell")

    def progress(report):
        bar.total = report.total
        bar.n = report.done
        bar.refresh()

    with _cancel_on_interrupt() as cancel:
        try:
            table = run_sweep(
                args.out,
                surfaces=args.surfaces,
                ks=args.k,
                splits=args.splits,
                n_rows=args.n_rows,
                baselines=tuple(args.baselines),
                client=client,
                progress=progress,
                cancel=cancel,
                config=config,
            )
        except SweepCancelled as exc:
            raise _CliError(str(exc)) from None
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


def _register_sweep(command):
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
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--compile", action="store_true")
    p.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler (e.g. tcp://host:8786)")
    p.add_argument("--workers", type=int, default=0, help="embedded cluster size (default: one per core)")
    p.add_argument("--threads", type=int, default=0, help="torch threads per task (default: cores / workers)")
    p.add_argument("--figure3", metavar="PNG", help="also write Figure 3 (RMSE against K, baselines) here")
    p.add_argument("--dpi", type=int, default=150)


if __name__ == "__main__":
    sys.exit(main())
