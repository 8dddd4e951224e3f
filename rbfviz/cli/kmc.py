"""``rbfviz export-kmc``: a network for kinetic Monte Carlo codes (:mod:`rbfviz.kmc`)."""

from __future__ import annotations

from rbfviz.cli.console import ProgressBar, cancel_on_interrupt
from rbfviz.cli.errors import EXIT_CANCELLED
from rbfviz.cli.outputs import check_output


def cmd_export_kmc(args, cancel=None) -> int:
    from rbfviz import kmc
    from rbfviz.core.store import load_model

    out = check_output(args.out, inputs=[args.model])
    model = load_model(args.model)
    bar = ProgressBar("building the table") if args.format == "table" else None
    try:
        with cancel_on_interrupt(cancel) as cancel:
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


def add_export_kmc_command(command) -> None:
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
