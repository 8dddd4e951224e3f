"""Export of figures and of the data behind them (PNG/SVG/PDF, CSV, extended XYZ).

Charts (:mod:`rbfviz.viz.charts`) are rendered with HoloViews' matplotlib backend, so SVG and PDF
are vector, with TrueType (Type 42) fonts in PDFs.  3D scenes (:mod:`rbfviz.viz.scenes`,
:mod:`rbfviz.viz.lattice_scene`) can only be raster (stack-recipes §3): they are written as PNG, and
as a PDF page that embeds the PNG.
All text uses one style, :data:`STYLE`.

Raster size convention: a plotter's window size is its layout at :data:`BASE_DPI` (300 dpi).  At
higher DPI the scene is rendered ``round(dpi / 300)`` times larger, so the printed size stays the
same and 600 dpi is twice as sharp; the PNG records the DPI either way.

Examples
--------
>>> import tempfile, pathlib, numpy as np
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> p = write_prototype_xyz(np.linspace(-1, 1, 26), d / "p.xyz")
>>> import ase.io; len(ase.io.read(p))
28
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from rbfviz.data.lattice import DEFAULT_SITES, FINAL_SITE, HALF_A, INITIAL_SITE, SiteTable
from rbfviz.viz.prototypes import (
    as_prototype_list,
    is_single_network,
    opacity,
    prototype_table,
    site_opacity_data,
    weight_order,
)
from rbfviz.viz.style import OPACITY_THRESHOLD

# --------------------------------------------------------------------------- constants
BASE_DPI = 300
CHART_FORMATS = ("png", "svg", "pdf")
SCENE_FORMATS = ("png", "pdf")
STYLE = {  # matplotlib rcParams for every exported chart and page
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "axes.linewidth": 0.8,
    "pdf.fonttype": 42,  # TrueType in PDFs (journals reject Type 3)
    "ps.fonttype": 42,
    "svg.fonttype": "none",  # text stays text in SVGs
    "savefig.pad_inches": 0.05,
}
FLAG_SITE, FLAG_MIGRATING, FLAG_VACANCY = 0, 1, 2  # the "flag" array of the XYZ files


# --------------------------------------------------------------------------- small pieces
@contextmanager
def _style():
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def _format(path: Path, allowed) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in allowed:
        raise ValueError(f"cannot write {path.name!r}: the suffix must be one of {allowed}")
    return fmt


def _check_dpi(dpi) -> int:
    if not isinstance(dpi, (int, np.integer)) or not 50 <= dpi <= 2400:
        raise ValueError(f"`dpi` must be an int in [50, 2400]; got {dpi!r}")
    return int(dpi)


def slug(label: str) -> str:
    """A file-name-safe version of a label: ``"{100} pruned"`` → ``"100_pruned"``.

    Examples
    --------
    >>> slug("{111} K=16")
    '111_K16'
    """
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", str(label).replace("=", "")).strip("_.")
    return s or "model"


def save_image(image: np.ndarray, path, *, dpi: int = BASE_DPI) -> Path:
    """Write an image array (RGB or RGBA, uint8) as PNG with DPI metadata, or as a one-page PDF.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = save_image(np.zeros((30, 60, 3), np.uint8), pathlib.Path(tempfile.mkdtemp()) / "a.png", dpi=600)
    >>> from PIL import Image; [round(d) for d in Image.open(p).info["dpi"]]
    [600, 600]
    """
    path = Path(path)
    dpi = _check_dpi(dpi)
    fmt = _format(path, SCENE_FORMATS)
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f"image must be uint8 of shape (H, W, 3 or 4); got {img.dtype} {img.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "png":
        from PIL import Image

        Image.fromarray(img).save(path, dpi=(dpi, dpi))
        return path
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    h, w = img.shape[:2]
    with _style():
        fig = Figure(figsize=(w / dpi, h / dpi))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.imshow(img, interpolation="none")
        ax.set_axis_off()
        fig.savefig(path, format="pdf", dpi=dpi, transparent=img.shape[2] == 4)
    return path


def render_image(plotter, *, dpi: int = BASE_DPI, transparent: bool = False, close: bool = False) -> np.ndarray:
    """The plotter's picture as an (H, W, 3 or 4) array, rendered ``max(1, round(dpi / 300))``
    times the window size (so the recorded DPI holds at the window's size in print)."""
    scale = max(1, round(dpi / BASE_DPI))
    try:
        img = plotter.screenshot(
            None, transparent_background=transparent, return_img=True, scale=scale if scale > 1 else None
        )
    finally:
        if close:
            plotter.close()
    return np.asarray(img)


def export_plotter(plotter, path, *, dpi: int = BASE_DPI, transparent: bool = False, close: bool = False) -> Path:
    """Save a PyVista plotter as PNG (with DPI metadata) or as a PDF page embedding the PNG.

    Parameters
    ----------
    plotter : pyvista.Plotter
        Off-screen plotter (e.g. from :func:`rbfviz.scene.prototype_plotter`).
    path : str or Path
        ``.png`` or ``.pdf``.
    dpi : int, default=300
        Recorded DPI; the scene is rendered ``max(1, round(dpi / 300))`` times the window size.
    transparent : bool, default=False
        Transparent instead of the plotter's background.
    close : bool, default=False
        Close the plotter afterwards.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pathlib; from rbfviz.viz.scenes import prototype_plotter
    >>> pl = prototype_plotter(np.zeros(26), window_size=(100, 80))
    >>> p = export_plotter(pl, pathlib.Path(tempfile.mkdtemp()) / "s.png", dpi=600, close=True)
    >>> from PIL import Image; Image.open(p).size
    (200, 160)
    """
    dpi = _check_dpi(dpi)
    path = Path(path)
    _format(path, SCENE_FORMATS)
    return save_image(render_image(plotter, dpi=dpi, transparent=transparent, close=close), path, dpi=dpi)


def export_chart(chart, path, *, dpi: int = BASE_DPI, transparent: bool = False) -> Path:
    """Save a HoloViews chart through the matplotlib backend as PNG, SVG or PDF.

    Parameters
    ----------
    chart : holoviews object
        E.g. from :func:`rbfviz.charts.site_opacity_chart`.
    path : str or Path
        ``.png``, ``.svg`` or ``.pdf``.
    dpi : int, default=300
        Resolution of PNGs (also stored in their metadata).
    transparent : bool, default=False

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pathlib; from rbfviz.viz.charts import site_opacity_chart
    >>> p = export_chart(site_opacity_chart(np.ones((3, 26))), pathlib.Path(tempfile.mkdtemp()) / "c.svg")
    >>> p.read_text()[:5]
    '<?xml'
    """
    return _export_chart_paths(chart, [path], dpi=dpi, transparent=transparent)[0]


def _export_chart_paths(chart, paths, *, dpi: int, transparent: bool) -> list[Path]:
    """Render a chart once with matplotlib and save it to every path (format from the suffix)."""
    import holoviews as hv
    import matplotlib.pyplot as plt

    from rbfviz.viz.charts import ensure_backends

    dpi = _check_dpi(dpi)
    paths = [Path(p) for p in paths]
    fmts = [_format(p, CHART_FORMATS) for p in paths]
    ensure_backends()
    with _style():
        fig = hv.render(chart, backend="matplotlib")
        try:
            for path, fmt in zip(paths, fmts):
                path.parent.mkdir(parents=True, exist_ok=True)
                fig.savefig(
                    path,
                    format=fmt,
                    dpi=dpi,
                    transparent=transparent,
                    bbox_inches="tight",
                    facecolor="none" if transparent else "white",
                )
        finally:
            plt.close(fig)
    return paths


# --------------------------------------------------------------------------- data files
def sites_frame(sites: SiteTable = DEFAULT_SITES) -> pd.DataFrame:
    """The 26 sites with index, coordinates (a/2 and Å), group, shell and layer per surface.

    Examples
    --------
    >>> df = sites_frame(); df.shape, df.loc[0, "group"]
    ((26, 12), 'I1')
    """
    pos = sites.positions
    df = pd.DataFrame(
        {
            "site": np.arange(1, sites.num_sites + 1),
            "group": list(sites.groups),
            "shell_to_initial": sites.shell_to_initial,
            "x": sites.coords[:, 0],
            "y": sites.coords[:, 1],
            "z": sites.coords[:, 2],
            "x_A": pos[:, 0],
            "y_A": pos[:, 1],
            "z_A": pos[:, 2],
        }
    )
    for s in ("100", "110", "111"):
        df[f"layer_{s}"] = sites.layers(s)
    return df


def write_csv(frame: pd.DataFrame, path) -> Path:
    """Write a table as CSV (no index column, full float precision)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.10g")
    return path


def write_prototype_xyz(
    values,
    path,
    *,
    sites: SiteTable = DEFAULT_SITES,
    threshold: float = OPACITY_THRESHOLD,
    info: dict | None = None,
) -> Path:
    """One prototype as an extended XYZ file (ASE), sites in Å.

    The file holds 28 atoms: the 26 sites (symbol Cu, ``flag`` 0), the migrating atom (Cu,
    ``flag`` 1) and the vacant target (X, ``flag`` 2).  Per-atom arrays: ``value`` (the
    prototype element; 0 for the jump pair), ``opacity``, ``site`` (1-26; 0 for the jump pair)
    and ``flag``.  ASE writes floats with 8 decimals.

    Parameters
    ----------
    values : array-like of float, shape (26,)
    path : str or Path
    sites : SiteTable, default=DEFAULT_SITES
    threshold : float, default=2.0
    info : dict, optional
        Extra frame metadata (e.g. ``prototype``, ``beta_eV``, ``surface``).

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pathlib, ase.io
    >>> p = write_prototype_xyz(np.ones(26), pathlib.Path(tempfile.mkdtemp()) / "a.xyz", info={"beta_eV": 0.5})
    >>> a = ase.io.read(p); a.arrays["flag"][-2:].tolist(), float(a.info["beta_eV"])
    ([1, 2], 0.5)
    """
    from ase import Atoms
    from ase.io import write

    v = np.asarray(values, dtype=np.float64).ravel()
    if v.shape != (sites.num_sites,):
        raise ValueError(f"a prototype must have {sites.num_sites} values; got shape {np.shape(values)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = sites.num_sites
    positions = np.vstack([sites.positions, INITIAL_SITE * HALF_A, FINAL_SITE * HALF_A]).astype(float)
    atoms = Atoms(symbols=["Cu"] * (n + 1) + ["X"], positions=positions, pbc=False)
    atoms.arrays["value"] = np.r_[v, 0.0, 0.0]
    atoms.arrays["opacity"] = np.r_[opacity(v, threshold), 0.0, 0.0]
    atoms.arrays["site"] = np.r_[np.arange(1, n + 1), 0, 0].astype(np.int64)
    atoms.arrays["flag"] = np.r_[np.full(n, FLAG_SITE), FLAG_MIGRATING, FLAG_VACANCY].astype(np.int64)
    atoms.info.update({"threshold": float(threshold), **(info or {})})
    write(str(path), atoms, format="extxyz")
    return path


# --------------------------------------------------------------------------- the whole set
def _sources(models) -> list:
    """Prototypes of every model given (paths are loaded with rbfviz.store.load_model)."""

    def load(m):
        if isinstance(m, (str, Path)):
            from rbfviz.core.store import load_model

            return load_model(m)
        return m

    if isinstance(models, (str, Path)):
        models = [models]
    if isinstance(models, dict):
        models = {k: load(m) for k, m in models.items()}
    elif isinstance(models, list) or (isinstance(models, tuple) and not is_single_network(models)):
        models = [load(m) for m in models]
    return as_prototype_list(models)


def write_figures(
    models,
    out_dir,
    *,
    dpi: int = 300,
    formats=("png", "pdf", "svg"),
    transparent: bool = False,
    progress=None,
) -> list[Path]:
    """Write every figure and its data for one or more pruned networks.

    Per network (file prefix: the label as a slug, e.g. ``100`` for "{100}"):
    prototype sheets ``<net>_prototypes_<n>.png|pdf`` (8 prototypes × 4 views each, ordered by
    ``|β|``), ``<net>_prototypes.csv`` (every element with its site's geometry),
    ``<net>_site_opacity.csv`` and ``<net>_xyz/prototype_<i>.xyz`` (extended XYZ, i = stored index).
    For all networks together: ``site_opacity.png|svg|pdf`` (Figure 5) with ``site_opacity.csv``,
    ``lattice.png|pdf`` (Figure 2) and ``lattice_sites.csv``.

    Parameters
    ----------
    models : RBFN, path, list or dict of label to model
        Pruned networks; paths are loaded with :func:`rbfviz.store.load_model`.
    out_dir : str or Path
        Created if missing.
    dpi : int, default=300
    formats : sequence of {"png", "pdf", "svg"}, default=("png", "pdf", "svg")
        Image formats; 3D figures are written only as PNG and PDF.
    transparent : bool, default=False
        Transparent background.
    progress : callable, optional
        Called as ``progress(done, total, message)`` after each step.

    Returns
    -------
    list of Path
        Every file written.

    Examples
    --------
    >>> import tempfile
    >>> files = write_figures({"toy": (np.eye(2, 26) * 2, [0.3, -0.1])}, tempfile.mkdtemp(), formats=("png",))
    >>> sorted(f.name for f in files)[:3]
    ['lattice.png', 'lattice_sites.csv', 'prototype_01.xyz']
    """
    from rbfviz.viz import charts, lattice_scene
    from rbfviz.viz import scenes as scene

    dpi = _check_dpi(dpi)
    formats = tuple(dict.fromkeys(str(f).lower().lstrip(".") for f in formats))
    bad = [f for f in formats if f not in CHART_FORMATS]
    if bad or not formats:
        raise ValueError(f"`formats` must be a non-empty subset of {CHART_FORMATS}; got {formats!r}")
    scene_formats = [f for f in formats if f in SCENE_FORMATS]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    nets = _sources(models)
    written: list[Path] = []
    total = 3 + 2 * len(nets)
    done = 0

    def step(message: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, message)

    for p in nets:
        name = slug(p.label)
        sheets = scene.prototype_sheet(p, order="weight", images=False)
        for i, pl in enumerate(sheets, start=1):
            img = render_image(pl, dpi=dpi, transparent=transparent, close=True)
            for fmt in scene_formats:
                written.append(save_image(img, out / f"{name}_prototypes_{i}.{fmt}", dpi=dpi))
        step(f"{p.label}: {len(sheets)} prototype sheet(s)")
        written.append(write_csv(prototype_table(p), out / f"{name}_prototypes.csv"))
        written.append(write_csv(site_opacity_data({p.label: p}), out / f"{name}_site_opacity.csv"))
        rank = np.empty(len(p), dtype=int)
        rank[weight_order(p.weights_ev)] = np.arange(1, len(p) + 1)
        for k in range(len(p)):
            info = {
                "prototype": k + 1,
                "rank": int(rank[k]),
                "beta_eV": float(p.weights_ev[k]),
                "network": p.label,
                "surface": p.surface or "none",
            }
            written.append(
                write_prototype_xyz(p.centroids[k], out / f"{name}_xyz" / f"prototype_{k + 1:02d}.xyz", info=info)
            )
        step(f"{p.label}: CSV and XYZ files")

    chart = charts.site_opacity_chart({p.label: p for p in nets}, layout="side")
    written += _export_chart_paths(
        chart, [out / f"site_opacity.{fmt}" for fmt in formats], dpi=dpi, transparent=transparent
    )
    written.append(write_csv(site_opacity_data({p.label: p for p in nets}), out / "site_opacity.csv"))
    step("site opacity chart")

    img = render_image(lattice_scene.lattice_figure(panel_size=500), dpi=dpi, transparent=transparent, close=True)
    for fmt in scene_formats:
        written.append(save_image(img, out / f"lattice.{fmt}", dpi=dpi))
    step("lattice figure")
    written.append(write_csv(sites_frame(), out / "lattice_sites.csv"))
    step("lattice sites table")
    return written
