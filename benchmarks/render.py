"""Render-time benchmark of the 3D scenes (rbfviz.viz.scenes, rbfviz.viz.lattice_scene).

Run:  python benchmarks/render.py [--out DIR]

Times (wall clock, this machine) for: one prototype (600² window, one renderer); a sheet of
16 prototypes × 4 views (two windows of 8 × 4 panels, 260 px each); and the lattice figure.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import numpy as np


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="also save the images here")
    parser.add_argument("--prototypes", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    from rbfviz.viz import lattice_scene
    from rbfviz.viz import scenes as scene

    t_import = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    centroids = rng.normal(0.0, 1.5, size=(args.prototypes, 26))
    weights = rng.normal(0.0, 0.3, size=args.prototypes)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)

    one = []
    for k in range(args.repeat):
        t = time.perf_counter()
        path = args.out / f"prototype_{k}.png" if args.out else None
        scene.render_prototype(centroids[k], path, window_size=(600, 600))
        one.append(time.perf_counter() - t)

    sheet = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        imgs = scene.prototype_sheet((centroids, weights), images=True)
        sheet.append(time.perf_counter() - t)
    if args.out:
        from PIL import Image

        for i, img in enumerate(imgs):
            Image.fromarray(img).save(args.out / f"sheet_{i + 1}.png")

    t = time.perf_counter()
    pl = lattice_scene.lattice_figure(panel_size=500)
    pl.screenshot(str(args.out / "lattice.png") if args.out else None)
    pl.close()
    t_lattice = time.perf_counter() - t

    result = {
        "import_s": round(t_import, 2),
        "one_prototype_600px_s": round(min(one), 3),
        f"sheet_{args.prototypes}x4_s": round(min(sheet), 3),
        "sheet_shapes": [tuple(i.shape) for i in imgs],
        "lattice_figure_2000x500_s": round(t_lattice, 3),
    }
    for k, v in result.items():
        print(f"{k:>28}: {v}")
    return result


if __name__ == "__main__":
    main()
