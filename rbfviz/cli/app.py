"""``rbfviz app``: serve the dashboard; its options belong to :mod:`rbfviz.app.server`."""

from __future__ import annotations


def cmd_app(args, cancel=None):
    from rbfviz.app.server import run_from_args

    run_from_args(args)


def add_app_command(command) -> None:
    from rbfviz.app.server import add_arguments

    p = command("app", cmd_app, "serve the dashboard (http://127.0.0.1:5006)", "rbfviz app --port 5010 --no-browser")
    add_arguments(p)
