"""The app's settings made from the library's frozen config dataclasses (one source for every setting).

:func:`config_params` turns chosen fields of :class:`rbfviz.core.train.TrainConfig`,
:class:`rbfviz.core.prune.PruneConfig` or :class:`rbfviz.data.barriers.GeneratorConfig` into
``param`` parameters with the dataclass's default and its field comment (or numpydoc entry) as
the doc; :func:`build_config` makes the dataclass back from a Parameterized's values, so the
dataclass's own checks are the only range checks and their messages reach the user unchanged.

Examples
--------
>>> from rbfviz.core.train import TrainConfig
>>> p = config_params(TrainConfig, ["batch_size", "max_epochs"])
>>> p["batch_size"].default, p["max_epochs"].allow_None
(64, True)
"""

from __future__ import annotations

import dataclasses
import inspect
import re

import param

_COMMENT = re.compile(r"^\s+(\w+)\s*:[^=#]*=[^#]*#\s*(.+)$")


# --------------------------------------------------------------------------- small pieces
def field_docs(config_cls) -> dict[str, str]:
    """Field name -> one-line doc, from the class's field comments or its numpydoc Parameters."""
    docs: dict[str, str] = {}
    try:
        source = inspect.getsource(config_cls)
    except (OSError, TypeError):
        source = ""
    for line in source.splitlines():
        m = _COMMENT.match(line)
        if m:
            docs.setdefault(m.group(1), m.group(2).strip())
    lines = (config_cls.__doc__ or "").splitlines()
    for i, line in enumerate(lines):  # "name, other : type, default=..." followed by an indented description
        m = re.match(r"^\s{4}([\w, ]+) : ", line)
        if m and i + 1 < len(lines) and lines[i + 1].startswith(" " * 8):
            for name in m.group(1).split(","):
                docs.setdefault(name.strip(), lines[i + 1].strip())
    return docs


def _parameter(field: dataclasses.Field, doc: str) -> param.Parameter:
    default = field.default
    kind = str(field.type).replace(" ", "")
    allow_none = default is None or "None" in kind
    if kind.startswith("bool") or isinstance(default, bool):
        return param.Boolean(default=default, doc=doc)
    if kind.startswith("int") or isinstance(default, int):
        return param.Integer(default=default, allow_None=allow_none, doc=doc)
    if kind.startswith("float") or isinstance(default, float):
        return param.Number(default=default, allow_None=allow_none, doc=doc)
    return param.String(default=default, allow_None=allow_none, doc=doc)


# --------------------------------------------------------------------------- public functions
def config_params(config_cls, names, **overrides) -> dict[str, param.Parameter]:
    """``param`` parameters for the fields ``names`` of the frozen dataclass ``config_cls``.

    Defaults come from the dataclass; ``overrides`` maps a name to a ready Parameter for the few
    fields whose widget needs a choice list (e.g. ``device``).  A name that is not a field of the
    dataclass is an error, so a renamed library setting cannot drift from the app.
    """
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    docs = field_docs(config_cls)
    out = {}
    for name in names:
        if name not in fields:
            raise ValueError(f"{config_cls.__name__} has no field {name!r}; fields: {sorted(fields)}")
        doc = f"{config_cls.__name__}.{name}: {docs.get(name, name.replace('_', ' '))}"
        out[name] = overrides.get(name) or _parameter(fields[name], doc)
        out[name].doc = doc
    return out


def build_config(config_cls, obj: param.Parameterized, names, **extra):
    """``config_cls(**{name: obj.<name>}, **extra)``: the dataclass checks every value.

    Raises
    ------
    ValueError
        The dataclass's own message for a value out of range.
    """
    values = {name: getattr(obj, name) for name in names}
    values.update(extra)
    try:
        return config_cls(**values)
    except TypeError as err:  # a wrong type that param let through
        raise ValueError(f"{config_cls.__name__}: {err}") from err


def config_defaults(config_cls, names) -> dict:
    """The dataclass defaults of ``names`` (used by tests and by the reset button of a view)."""
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    return {name: fields[name].default for name in names}
