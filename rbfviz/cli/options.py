"""Command-line options generated from the settings dataclasses, and checked counts.

One option per field of :class:`~rbfviz.core.train.TrainConfig`,
:class:`~rbfviz.core.prune.PruneConfig` or :class:`~rbfviz.data.barriers.GeneratorConfig`
(``--batch-size`` for ``batch_size``), typed, documented and defaulted from the class itself, so
every setting has one source.
"""

from __future__ import annotations

import argparse

from rbfviz.cli.errors import CliError


def dashed(name: str) -> str:
    """The option spelling of a field name: ``batch_size`` → ``--batch-size``."""
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
        flags = [dashed(f.name), *aliases.get(f.name, ())]
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
        raise CliError(f"invalid {cls.__name__} setting: {exc}") from None


def count(flag: str, value, low: int = 1) -> int:
    """``value`` as an int of at least ``low``; a :class:`CliError` naming ``flag`` otherwise."""
    from rbfviz.core.validate import check_int

    try:
        return check_int(flag, value, low=low)
    except (TypeError, ValueError) as exc:
        raise CliError(str(exc)) from None
