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

One module per command group: :mod:`~rbfviz.cli.data` (generate), :mod:`~rbfviz.cli.training`
(train, prune), :mod:`~rbfviz.cli.info`, :mod:`~rbfviz.cli.figures` (figures, html),
:mod:`~rbfviz.cli.toy`, :mod:`~rbfviz.cli.app`, :mod:`~rbfviz.cli.kmc` (export-kmc) and
:mod:`~rbfviz.cli.sweep`; the shared pieces are :mod:`~rbfviz.cli.options` (options from the
settings dataclasses), :mod:`~rbfviz.cli.outputs` (checked outputs, rescued saves),
:mod:`~rbfviz.cli.console` (progress bar, Ctrl-C) and :mod:`~rbfviz.cli.errors`.
"""

from __future__ import annotations

import argparse
import sys

from rbfviz.cli.app import add_app_command
from rbfviz.cli.console import ProgressBar
from rbfviz.cli.data import add_generate_command
from rbfviz.cli.errors import EXIT_CANCELLED, CliError
from rbfviz.cli.figures import add_figures_command, add_html_command
from rbfviz.cli.info import add_info_command
from rbfviz.cli.kmc import add_export_kmc_command
from rbfviz.cli.options import add_config_options, config_from_args
from rbfviz.cli.outputs import check_output
from rbfviz.cli.sweep import add_sweep_command
from rbfviz.cli.toy import add_toy_command
from rbfviz.cli.training import add_prune_command, add_train_command

__all__ = [
    "EXIT_CANCELLED",
    "ProgressBar",
    "add_config_options",
    "build_parser",
    "check_output",
    "config_from_args",
    "main",
]

# the commands in the order `rbfviz --help` lists them
COMMANDS = (
    add_generate_command,
    add_train_command,
    add_prune_command,
    add_info_command,
    add_figures_command,
    add_toy_command,
    add_app_command,
    add_export_kmc_command,
    add_html_command,
    add_sweep_command,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``rbfviz`` parser: one sub-command per entry of :data:`COMMANDS`, each with its help
    and an example in its epilog."""
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

    for add_command in COMMANDS:
        add_command(command)
    return parser


def main(argv=None, *, cancel=None) -> int:
    """Run the command line; returns the exit status (0, 1 error, 2 usage, 130 cancelled).

    ``cancel`` (an object with ``is_set()``, e.g. a ``threading.Event``) stops a long command as
    Ctrl-C does; Ctrl-C itself sets it.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args, cancel) or 0)
    except CliError as exc:
        print(f"rbfviz {args.command}: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:  # library errors name the file / field already
        print(f"rbfviz {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the second Ctrl-C
        print(f"rbfviz {args.command}: aborted; nothing was saved", file=sys.stderr)
        return EXIT_CANCELLED
