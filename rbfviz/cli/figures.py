"""``rbfviz figures`` (publication figures and data) and ``rbfviz html`` (self-contained pages)."""

from __future__ import annotations

from pathlib import Path

from rbfviz.cli.console import ProgressBar
from rbfviz.cli.options import count
from rbfviz.cli.outputs import check_output


def cmd_figures(args, cancel=None) -> int:
    from rbfviz.viz.export import write_figures

    out = check_output(args.out, inputs=args.model, folder=True)
    bar = ProgressBar("writing figures")
    try:
        paths = write_figures(
            args.model,
            out,
            dpi=count("--dpi", args.dpi),
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
        path = write_compare_html(models, out, rank=count("--rank", args.rank or 1))
    print(f"wrote {path} (self-contained: opens offline)")
    return 0


def add_figures_command(command) -> None:
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


def add_html_command(command) -> None:
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
