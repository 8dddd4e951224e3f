"""The ``rbfviz`` command: a thin layer over the library for headless work.

Examples::

    rbfviz generate --surface 100 --n 200000 --out cu100.26d
    rbfviz train --data cu100.26d --centroids 1024 --out cu100-k1024.safetensors
    rbfviz prune cu100-k1024.safetensors --centroids 16 --out cu100-m16.safetensors
    rbfviz info cu100-m16.safetensors
    rbfviz figures --model cu100-m16.safetensors --out figures/
    rbfviz toy --out toy/
    rbfviz app --port 5010 --no-browser

The settings of ``train``, ``prune`` and ``generate`` are generated from the fields, defaults and
documentation of :class:`~rbfviz.core.train.TrainConfig`, :class:`~rbfviz.core.prune.PruneConfig`
and :class:`~rbfviz.data.barriers.GeneratorConfig` (one source for every setting).

No work is lost or overwritten by mistake: every output path is checked before any work starts
(its folder exists and is writable, it is not one of the inputs), an existing file is never
replaced by a network that has not finished one epoch (or step) unless ``--force`` is given, and a
network that cannot be written where asked is written to the temporary folder instead.  Ctrl-C
during training or pruning stops the run within one epoch (or step) and saves the best network
found so far; a second Ctrl-C aborts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

EXIT_CANCELLED = 130  # the shell's code for "stopped by Ctrl-C"


# --------------------------------------------------------------------------- plumbing
class _CliError(Exception):
    pass


@contextlib.contextmanager
def _cancel_on_interrupt(event: threading.Event | None = None):
    """Yield a cancel event (``event``, or a new one) that the first Ctrl-C sets; a second one
    aborts as usual.  Outside the main thread no handler is installed."""
    event = event if event is not None else threading.Event()
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


def _describe(report) -> str:
    """One line for the bar: ``report.describe()`` (the progress protocol), else its fields."""
    if hasattr(report, "describe"):
        return str(report.describe())
    parts = []
    for key in ("epoch", "iteration", "train_mse", "val_mse", "loss", "lr"):
        value = getattr(report, key, None)
        if isinstance(value, float) and math.isfinite(value):
            parts.append(f"{key} {value:.4g}")
        elif isinstance(value, int):
            parts.append(f"{key} {value + 1 if key == 'epoch' else value}")
    return ", ".join(parts)


class ProgressBar:
    """A tqdm bar driven by the library's progress reports (:mod:`rbfviz.core.progress`).

    Called with one report, it shows ``report.fraction`` (or ``estimate(report)`` when the report
    has none) and ``report.describe()``; called as ``(done, total[, message])`` (the generator and
    the figure writer) it shows ``done / total``.
    """

    def __init__(self, desc: str, estimate=None):
        from tqdm.auto import tqdm

        self.estimate = estimate
        self.bar = tqdm(
            total=100, desc=desc, unit="%", dynamic_ncols=True, leave=True, bar_format="{l_bar}{bar}|{postfix}"
        )

    def __call__(self, *args) -> None:
        if len(args) == 1:
            report = args[0]
            fraction = getattr(report, "fraction", None)
            if fraction is None and self.estimate is not None:
                fraction = self.estimate(report)
            text = _describe(report)
        else:
            done, total = args[0], args[1]
            fraction = done / total if total else None
            text = f"{done}/{total}" + (f" {args[2]}" if len(args) > 2 and args[2] else "")
        if fraction is not None and math.isfinite(fraction):
            self.bar.n = round(100 * min(max(fraction, 0.0), 1.0), 1)
        self.bar.set_postfix_str(text[:80], refresh=False)
        self.bar.refresh()

    def close(self, complete: bool = False) -> None:
        if complete:
            self.bar.n = 100
        self.bar.close()


# --------------------------------------------------------------------------- settings from dataclasses
def _dashed(name: str) -> str:
    return "--" + name.replace("_", "-")


def _optional(kind):
    def parse(text: str):
        return None if text.lower() in ("none", "null") else kind(text)

    parse.__name__ = kind.__name__
    return parse


def add_config_options(parser: argparse.ArgumentParser, cls, *, aliases=None, title: str | None = None) -> None:
    """One option per field of the settings dataclass ``cls`` (``--batch-size`` for
    ``batch_size``), typed, documented and defaulted from the class itself
    (:func:`rbfviz.core.validate.config_fields`).  An option that is not given is not set, so
    :func:`config_from_args` leaves the class default in place."""
    from rbfviz.core.validate import AutoBool, config_fields

    aliases = aliases or {}
    group = parser.add_argument_group(title or f"{cls.__name__} settings ({cls.__module__}.{cls.__name__})")
    for f in config_fields(cls):
        doc = (f.doc or f"{cls.__name__}.{f.name}").replace("%", "%%")
        default = "None" if f.default is None else f.default
        kw = dict(dest=f"cfg_{f.name}", default=argparse.SUPPRESS, help=f"{doc} (default: {default})")
        flags = [_dashed(f.name), *aliases.get(f.name, ())]
        if f.type is bool:
            group.add_argument(*flags, action=argparse.BooleanOptionalAction, **kw)
        elif f.type is AutoBool:
            group.add_argument(*flags, type=AutoBool.parse, nargs="?", const=True, metavar="auto|on|off", **kw)
        elif f.type is tuple:
            group.add_argument(*flags, nargs=len(f.default), type=float, metavar="FLOAT", **kw)
        else:
            metavar = f.type.__name__.upper() + ("|none" if f.optional else "")
            group.add_argument(*flags, type=_optional(f.type) if f.optional else f.type, metavar=metavar, **kw)


def config_from_args(cls, args: argparse.Namespace):
    """The settings dataclass ``cls`` with the options given on the command line (the class's
    defaults for the rest)."""
    from rbfviz.core.validate import config_fields

    values = {f.name: getattr(args, f"cfg_{f.name}") for f in config_fields(cls) if hasattr(args, f"cfg_{f.name}")}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise _CliError(f"invalid {cls.__name__} setting: {exc}") from None


# --------------------------------------------------------------------------- checks before any work
def _count(flag: str, value, low: int = 1) -> int:
    from rbfviz.core.validate import check_int

    try:
        return check_int(flag, value, low=low)
    except (TypeError, ValueError) as exc:
        raise _CliError(str(exc)) from None


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output(path, *, inputs=(), flag: str = "--out", folder: bool = False) -> Path:
    """Check an output path before any work: its folder exists, is a folder and is writable, it
    is not a folder itself, and it is none of ``inputs``.  With ``folder=True`` the path is a
    folder to be created (with its parents): it must not be a file, and the nearest existing
    folder above it must be writable.

    Raises ``_CliError`` naming the option and the path.
    """
    path = Path(path).expanduser()
    for source in inputs:
        if source is not None and _same_file(path, Path(source).expanduser()):
            raise _CliError(f"{flag} {path} is also an input ({source}); refusing to overwrite an input")
    if folder:  # a folder of outputs is created with its parents: the nearest existing one counts
        if path.exists() and not path.is_dir():
            raise _CliError(f"{flag} {path} exists and is not a folder")
        parent = path
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
    else:
        if path.is_dir():
            raise _CliError(f"{flag} {path} is a folder; give a file name")
        parent = path.parent
    parent = parent if str(parent) else Path(".")
    if not parent.exists():
        raise _CliError(f"{flag} {path}: the folder {parent} does not exist (create it first)")
    if not parent.is_dir():
        raise _CliError(f"{flag} {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _CliError(f"{flag} {path}: the folder {parent} is not writable")
    return path


def _save(model, out: Path, what: str) -> Path:
    """Save ``model`` to ``out``; if that fails, to the temporary folder, then report both."""
    from rbfviz.core.store import save_model

    try:
        save_model(model, out)
        return out
    except OSError as exc:
        rescue = Path(tempfile.gettempdir()) / f"rbfviz-unsaved-{out.stem}-{time.strftime('%Y%m%d-%H%M%S')}.safetensors"
        save_model(model, rescue)
        raise _CliError(f"could not write {out} ({exc}); the {what} network was saved to {rescue} instead") from None


def _nothing_learned(out: Path, force: bool, what: str) -> bool:
    """Whether to skip saving a network that has not finished one epoch (or step)."""
    if force:
        return False
    kept = f"{out} is left unchanged" if out.exists() else f"nothing was written to {out}"
    print(f"cancelled before the first {what} finished: {kept} (use --force to save the untrained network)")
    return True


def _fmt(value, spec: str = ".4f") -> str:
    return format(value, spec) if isinstance(value, (int, float)) and math.isfinite(value) else "n/a"


# --------------------------------------------------------------------------- data
def _load_data(args, cancel):
    from rbfviz.data import datasets

    if args.data:
        return datasets.load_barriers(args.data, surface=args.surface)
    if not args.surface:
        raise _CliError("give --data FILE, or --surface to train on generated data")
    from rbfviz.data import barriers

    bar = ProgressBar(f"generating {{{args.surface}}} barriers")
    try:
        return barriers.generate_dataset(args.surface, args.n, seed=args.data_seed, progress=bar, cancel=cancel)
    finally:
        bar.close()


def _generation_cancelled():
    from rbfviz.data.barriers import GenerationCancelled

    return GenerationCancelled


def _distribution(args, large):
    from rbfviz.core.expectations import distribution_from_name

    data = large.info.data
    frequencies = data.occupation_frequencies if data is not None else None
    if args.distribution == "bernoulli-observed" and frequencies is None:
        raise _CliError(
            "the network's metadata holds no occupation frequencies of its "
            "training data; use --distribution bernoulli --q Q instead"
        )
    return distribution_from_name(
        args.distribution, frequencies=frequencies, q=args.q, a=args.a, b=args.b, mean=args.mean, std=args.std
    )


# --------------------------------------------------------------------------- commands
def cmd_generate(args, cancel=None) -> int:
    from rbfviz.data import barriers, datasets

    n = _count("--n", args.n)
    cfg = config_from_args(barriers.GeneratorConfig, args)
    out = check_output(args.out)
    bar = ProgressBar(f"generating {{{args.surface}}}")
    with _cancel_on_interrupt(cancel) as cancel:
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


def cmd_train(args, cancel=None) -> int:
    from rbfviz.core.train import TrainConfig, train_dataset

    centroids = _count("--centroids", args.centroids)
    n_train, n_val = _count("--n-train", args.n_train), _count("--n-val", args.n_val)
    if not args.data:
        _count("--n", args.n, low=3)
    config = config_from_args(TrainConfig, args)
    out = check_output(args.out, inputs=[args.data])

    def epochs_done(report):
        return (report.epoch + 1) / config.max_epochs if config.max_epochs else None

    with _cancel_on_interrupt(cancel) as cancel:
        try:
            data = _load_data(args, cancel)
        except _generation_cancelled():
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
    if not result.history and _nothing_learned(out, args.force, "epoch"):
        return EXIT_CANCELLED
    model = result.model
    model.metadata["name"] = args.name or out.stem
    _save(model, out, "trained")
    m = model.info.metrics
    status = " (cancelled: best so far)" if result.cancelled else ""
    print(
        f"saved {out}{status}: {len(result.history)} epochs in {result.seconds:.1f} s, "
        f"validation RMSE {_fmt(m.get('val_rmse'))} eV, test RMSE {_fmt(m.get('test_rmse'))} eV"
    )
    return EXIT_CANCELLED if result.cancelled else 0


def cmd_prune(args, cancel=None) -> int:
    from rbfviz.core.prune import PruneConfig, prune
    from rbfviz.core.store import load_model

    restarts = _count("--restarts", args.restarts)
    centroids = _count("--centroids", args.centroids)
    config = config_from_args(PruneConfig, args)
    out = check_output(args.out, inputs=[args.model])
    large = load_model(args.model)
    if centroids > large.num_centroids:
        raise _CliError(f"--centroids {centroids} is more than the {large.num_centroids} of {args.model}")
    distribution = _distribution(args, large)
    bar = ProgressBar(f"pruning K={large.num_centroids} → M={centroids}")
    with _cancel_on_interrupt(cancel) as cancel:
        try:
            result = prune(
                large, centroids, distribution, restarts, config=config, seed=args.seed, progress=bar, cancel=cancel
            )
        finally:
            bar.close(complete=True)
    if not result.history and _nothing_learned(out, args.force, "step"):
        return EXIT_CANCELLED
    model = result.model
    model.metadata["name"] = args.name or out.stem
    _save(model, out, "pruned")
    scale = model.info.target_scale
    root = math.sqrt(max(result.loss, 0)) if math.isfinite(result.loss) else math.nan
    status = " (cancelled: best so far)" if result.cancelled else ""
    print(
        f"saved {out}{status}: pruning loss {_fmt(result.loss, '.4g')} (√ = {_fmt(root)}, "
        f"{_fmt(root * scale)} eV) in {result.seconds:.1f} s; "
        f"restarts: {', '.join(_fmt(v, '.3g') for v in sorted(result.losses))}"
    )
    return EXIT_CANCELLED if result.cancelled else 0


def cmd_info(args, cancel=None) -> int:
    from rbfviz.core.store import ModelFileError, inspect_model

    failed = 0
    for path in args.models:
        try:
            model, info = inspect_model(path)
        except (ModelFileError, OSError) as exc:
            print(f"rbfviz info: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        if args.json:
            print(json.dumps({"path": str(path), **info.to_dict(), "warnings": list(info.warnings)}, indent=2))
            continue
        print(f"{path}")
        print(
            f"  {info.kind}{' ' + repr(info.name) if info.name else ''}, surface {info.surface or 'unknown'}, "
            f"K = {info.num_centroids}, D = {info.num_inputs}, γ = {model.gamma.item():.4g}, "
            f"target mean {info.target_mean:.4g}, scale {info.target_scale:.4g}"
        )
        for key, value in info.metrics.items():
            print(f"  {key}: {value:.5g}" if isinstance(value, float) else f"  {key}: {value}")
        if info.train is not None:
            t = info.train
            lr = t.config.learning_rate if t.config is not None else None
            print(f"  trained {t.epochs} epochs (best {t.best_epoch}), n_train {t.n_train}, learning rate {lr}")
        if info.prune is not None:
            p = info.prune
            dist = p.distribution.label if p.distribution is not None else "an unknown distribution"
            print(
                f"  pruned with {dist}, {p.restarts} restarts, loss {_fmt(p.loss, '.4g')}; "
                f"parent {(info.parent_hash or 'unknown')[:12]}"
            )
        if info.created or info.versions:
            versions = ", ".join(f"{k} {v}" for k, v in info.versions.items())
            print(f"  created {info.created or 'unknown'}{'; ' + versions if versions else ''}")
        print(f"  content hash {(info.content_hash or '')[:12]}")
        for text in info.warnings:
            print(f"  warning: {text}")
    return 1 if failed else 0


def cmd_figures(args, cancel=None) -> int:
    from rbfviz.viz.export import write_figures

    out = check_output(args.out, inputs=args.model, folder=True)
    bar = ProgressBar("writing figures")
    try:
        paths = write_figures(
            args.model,
            out,
            dpi=_count("--dpi", args.dpi),
            formats=tuple(args.formats),
            transparent=args.transparent,
            progress=bar,
        )
    finally:
        bar.close()
    print(f"wrote {len(paths)} files to {out}")
    return 0


def cmd_html(args, cancel=None) -> int:
    from rbfviz.core.store import load_model
    from rbfviz.viz.html import write_compare_html, write_prototypes_html

    out = check_output(args.out, inputs=args.model)
    models = {Path(m).stem: load_model(m) for m in args.model}
    if len(models) == 1 and args.rank is None:
        path = write_prototypes_html(next(iter(models.values())), out, label=next(iter(models)))
    else:
        path = write_compare_html(models, out, rank=_count("--rank", args.rank or 1))
    print(f"wrote {path} (self-contained: opens offline)")
    return 0


def cmd_toy(args, cancel=None) -> int:
    from rbfviz import toy

    out = check_output(args.out, folder=True)
    result = toy.run_toy_example(out, restarts=_count("--restarts", args.restarts), seed=args.seed, progress=print)
    for name, value in result.items():
        print(f"{name}: {value}")
    return 0


def cmd_app(args, cancel=None):
    from rbfviz.app.server import run_from_args

    run_from_args(args)


def cmd_export_kmc(args, cancel=None) -> int:
    from rbfviz import kmc
    from rbfviz.core.store import load_model

    out = check_output(args.out, inputs=[args.model])
    model = load_model(args.model)
    bar = ProgressBar("building the table") if args.format == "table" else None
    try:
        with _cancel_on_interrupt(cancel) as cancel:
            path = kmc.export(
                model, out, args.format, prefix=args.prefix, device=args.device, progress=bar, cancel=cancel
            )
    except kmc.TableCancelled as exc:
        print(f"cancelled: {exc}")
        return EXIT_CANCELLED
    finally:
        if bar is not None:
            bar.close()
    print(f"wrote {path} and {path.name}.vectors.json")
    return 0


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from rbfviz.core.prune import PruneConfig
    from rbfviz.core.train import TrainConfig
    from rbfviz.data.barriers import GeneratorConfig

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

    force_help = "save even a network that has not finished one epoch (step) over an existing --out"

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
    p.add_argument("--force", action="store_true", help=force_help)
    add_config_options(p, TrainConfig, aliases={"learning_rate": ["--lr"]})

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
    p.add_argument("--force", action="store_true", help=force_help)
    add_config_options(p, PruneConfig)

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

    from rbfviz.app.server import add_arguments

    p = command("app", cmd_app, "serve the dashboard (http://127.0.0.1:5006)", "rbfviz app --port 5010 --no-browser")
    add_arguments(p)

    p = command(
        "export-kmc",
        cmd_export_kmc,
        "export a network for kinetic Monte Carlo codes (onnx, json, C99, 2^26 table); also writes OUT.vectors.json",
        "rbfviz export-kmc cu100-m16.safetensors --format c --out cu100.c --prefix cu100",
    )
    p.add_argument("model")
    p.add_argument("--format", required=True, choices=["onnx", "json", "c", "table"])
    p.add_argument("--out", required=True)
    p.add_argument("--prefix", default="rbfviz_kmc", help="C function prefix (format c)")
    p.add_argument("--device", default="auto", help="where the table is computed: auto, cpu, cuda[:N]")

    p = command(
        "html",
        cmd_html,
        "a self-contained HTML page (3D scenes as vtk.js, Figure 5 as Bokeh): Prototypes of one network, "
        "or Compare of several",
        "rbfviz html cu100-m16.safetensors cu110-m16.safetensors cu111-m16.safetensors --out compare.html",
    )
    p.add_argument("model", nargs="+", help="one network (Prototypes page) or several (Compare page)")
    p.add_argument("--out", required=True)
    p.add_argument("--rank", type=int, default=None, help="Compare: the prototype rank by |β| (default 1)")

    _register_sweep(command)
    return parser


def main(argv=None, *, cancel=None) -> int:
    """Run the command line; returns the exit status (0, 1 error, 2 usage, 130 cancelled).

    ``cancel`` (an object with ``is_set()``, e.g. a ``threading.Event``) stops a long command as
    Ctrl-C does; Ctrl-C itself sets it.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args, cancel) or 0)
    except _CliError as exc:
        print(f"rbfviz {args.command}: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:  # library errors name the file / field already
        print(f"rbfviz {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the second Ctrl-C
        print(f"rbfviz {args.command}: aborted; nothing was saved", file=sys.stderr)
        return EXIT_CANCELLED


# --------------------------------------------------------------------------- sweep (paper Table 1)
def cmd_sweep(args, cancel=None):
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
    check_output(args.out, folder=True)
    bar = ProgressBar("sweep")

    with _cancel_on_interrupt(cancel) as cancel:
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


def _register_sweep(command):
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


if __name__ == "__main__":
    sys.exit(main())
