"""``rbfviz info``: a model file's typed metadata (:class:`~rbfviz.core.metadata.ModelInfo`),
as text or JSON, with the warnings of files written by older versions."""

from __future__ import annotations

import json
import sys

from rbfviz.cli.console import fmt


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
                f"  pruned with {dist}, {p.restarts} restarts, loss {fmt(p.loss, '.4g')}; "
                f"parent {(info.parent_hash or 'unknown')[:12]}"
            )
        if info.created or info.versions:
            versions = ", ".join(f"{k} {v}" for k, v in info.versions.items())
            print(f"  created {info.created or 'unknown'}{'; ' + versions if versions else ''}")
        print(f"  content hash {(info.content_hash or '')[:12]}")
        for text in info.warnings:
            print(f"  warning: {text}")
    return 1 if failed else 0


def add_info_command(command) -> None:
    p = command("info", cmd_info, "print a model file's metadata", "rbfviz info assets/models/cu100-m16.safetensors")
    p.add_argument("models", nargs="+")
    p.add_argument("--json", action="store_true")
