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

import param

from rbfviz.core.validate import AutoBool, ConfigField, config_fields


# --------------------------------------------------------------------------- small pieces
def _parameter(field: ConfigField, doc: str) -> param.Parameter:
    """The ``param`` parameter of one settings field (type, default and None-ness from the field)."""
    default, allow_none = field.default, field.optional
    if field.type is bool:
        return param.Boolean(default=default, doc=doc)
    if field.type is AutoBool:
        return param.Selector(default=default, objects=list(AutoBool.CHOICES), doc=doc)
    if field.type is int:
        return param.Integer(default=default, allow_None=allow_none, doc=doc)
    if field.type is float:
        return param.Number(default=default, allow_None=allow_none, doc=doc)
    if field.type is tuple:
        return param.NumericTuple(default=default, length=len(default), doc=doc)
    return param.String(default=default, allow_None=allow_none, doc=doc)


# --------------------------------------------------------------------------- public functions
def config_params(config_cls, names, **overrides) -> dict[str, param.Parameter]:
    """``param`` parameters for the fields ``names`` of the frozen dataclass ``config_cls``.

    Defaults and docs come from the dataclass (:func:`rbfviz.core.validate.config_fields`, the
    same description the CLI options and the model-file schema use); ``overrides`` maps a name to
    a ready Parameter for the few fields whose widget needs a choice list (e.g. ``device``).  A
    name that is not a field of the dataclass is an error, so a renamed library setting cannot
    drift from the app.
    """
    fields = {f.name: f for f in config_fields(config_cls)}
    out = {}
    for name in names:
        if name not in fields:
            raise ValueError(f"{config_cls.__name__} has no field {name!r}; fields: {sorted(fields)}")
        doc = f"{config_cls.__name__}.{name}: {fields[name].doc or name.replace('_', ' ')}"
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
    fields = {f.name: f for f in config_fields(config_cls)}
    return {name: fields[name].default for name in names}
