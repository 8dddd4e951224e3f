"""HoloViews charts of the paper's 2D figures (Figures 1, 3 and 5) and of training runs.

Every chart is styled for both backends: bokeh for the dashboard, matplotlib for PNG/SVG/PDF
export (:mod:`rbfviz.viz.export`).  Options are always set per backend (``backend=...``): with both
backends loaded, plain ``.opts(color=...)`` reaches only the current one (stack-recipes §5).
Bars are drawn as ``hv.Rectangles`` on a numeric site axis, so that several networks can share
an axis with offset bars, each site group gets a legend entry and error bars line up.

Examples
--------
>>> import numpy as np
>>> chart = site_opacity_chart({"{100}": np.random.default_rng(0).normal(size=(8, 26))})
>>> sorted(set(type(e).__name__ for e in chart.traverse(lambda e: e, [hv.Element])))
['ErrorBars', 'Rectangles']
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
from holoviews import opts

from rbfviz.data.lattice import GROUP_DESCRIPTIONS, GROUPS
from rbfviz.viz.prototypes import site_opacity_data
from rbfviz.viz.style import GROUP_COLORS, OPACITY_THRESHOLD

# --------------------------------------------------------------------------- constants
FONT_SIZES = {"title": 10, "labels": 9, "xticks": 7, "yticks": 8, "legend": 8}  # points, matplotlib
FIG_INCHES = 7.0  # width of a full-width matplotlib chart
BOKEH_WIDTH = 760
SERIES_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")
NETWORK_ALPHAS = (1.0, 0.6, 0.35, 0.2)
LAYOUTS = ("overlay", "side")
# HoloViews draws bokeh plots with WebGL by default: one more WebGL context per chart, and every
# paint copied back from it (0.3 s a paint under software WebGL, even for a chart in a hidden tab);
# charts of tens to thousands of glyphs draw faster on a plain canvas.  ``backend_opts`` of bokeh plots.
CANVAS_BACKEND = {"plot.output_backend": "canvas"}


HOVER_TOOLTIPS = [  # Figure 5's bars: what a reader wants, not the rectangle corners
    ("network", "@network"),
    ("site", "@site"),
    ("group", "@group: @meaning"),
    ("mean", "@mean{0.000}"),
    ("s.d.", "@std{0.000}"),
]


# --------------------------------------------------------------------------- small pieces
def ensure_backends() -> None:
    """Load the bokeh and matplotlib plotting backends once (bokeh stays the current one)."""
    if not {"bokeh", "matplotlib"} <= set(hv.Store.renderers):
        current = hv.Store.current_backend if hv.Store.renderers else None
        hv.extension("bokeh", "matplotlib", logo=False)
        if current in hv.Store.renderers:
            hv.Store.set_current_backend(current)


def _mpl(**kw):
    return {"backend": "matplotlib", **kw}


def _bk(**kw):
    return {"backend": "bokeh", **kw}


def _axis_opts(el, *, xlabel, ylabel, title="", aspect=2.8, height=300, legend="right", **extra):
    """Shared axis options of an Overlay for both backends."""
    title = title.replace("{", "{{").replace("}", "}}")  # HoloViews formats titles with str.format
    common = dict(xlabel=xlabel, ylabel=ylabel, title=title)
    return el.opts(
        opts.Overlay(
            **_mpl(
                **common,
                fig_inches=FIG_INCHES,
                aspect=aspect,
                fontsize=FONT_SIZES,
                legend_position=legend,
                **extra.get("mpl", {}),
            )
        ),
        opts.Overlay(
            **_bk(
                **common,
                width=BOKEH_WIDTH,
                height=height,
                legend_position=legend,
                toolbar="right",
                backend_opts=CANVAS_BACKEND,
                **extra.get("bokeh", {}),
            )
        ),
    )


# --------------------------------------------------------------------------- Figure 5
def _site_bars(
    df: pd.DataFrame, *, offset: float = 0.0, width: float = 0.8, alpha: float = 1.0, legend: bool = True
) -> list:
    """Rectangles (one element per site group, for the legend) and error bars of one network."""
    els = []
    for g in GROUPS:
        d = df[df["group"] == g]
        if d.empty:
            continue
        x = d["site"].to_numpy(float) + offset
        rect = hv.Rectangles(
            pd.DataFrame(
                {
                    "x0": x - width / 2,
                    "y0": 0.0,
                    "x1": x + width / 2,
                    "y1": d["mean"].to_numpy(),
                    "site": d["site"].to_numpy(),
                    "group": g,
                    "meaning": GROUP_DESCRIPTIONS[g].replace("(1-10)", "(1\u030510)"),
                    "network": d["network"].to_numpy() if "network" in d else "",
                    "mean": d["mean"].to_numpy(),
                    "std": d["std"].to_numpy(),
                }
            ),
            kdims=["x0", "y0", "x1", "y1"],
            vdims=["site", "group", "meaning", "network", "mean", "std"],
            label=g if legend else "",
        )
        rect = rect.opts(
            opts.Rectangles(**_mpl(color=GROUP_COLORS[g], edgecolor="black", linewidth=0.4, alpha=alpha)),
            opts.Rectangles(
                **_bk(
                    color=GROUP_COLORS[g],
                    line_color="black",
                    line_width=0.5,
                    alpha=alpha,
                    tools=["hover"],
                    hover_tooltips=HOVER_TOOLTIPS,
                )
            ),
        )
        els.append(rect)
    err = hv.ErrorBars(
        (df["site"].to_numpy(float) + offset, df["mean"].to_numpy(), df["std"].to_numpy()),
        kdims=["site"],
        vdims=["mean", "std"],
    )
    err = err.opts(
        opts.ErrorBars(**_mpl(capsize=1.5, linewidth=0.7, color="black")),
        opts.ErrorBars(**_bk(line_width=1, color="black", upper_head=None, lower_head=None)),
    )
    return els + [err]


def site_opacity_chart(
    models,
    *,
    layout: str = "side",
    threshold: float = OPACITY_THRESHOLD,
    normalize: str = "max",
    cols: int = 1,
):
    """Normalised mean absolute opacity per lattice site (paper Figure 5).

    Parameters
    ----------
    models : dict of str to model, list of models, or one model
        Pruned networks (RBFN, ``(centroids, weights)``, ...), keyed by label (e.g. "{100}").
    layout : {"side", "overlay"}, default="side"
        ``"side"``: one panel per network (a Layout with ``cols`` columns, shared y axis);
        ``"overlay"``: all networks on one axis, bars of network ``j`` offset within each site
        and drawn lighter (alpha 1, 0.6, 0.35, ...), in the order given.
    threshold : float, default=2.0
        Opacity threshold (``|value|`` at full opacity).
    normalize : {"max", "sum", "none"}, default="max"
        See :func:`rbfviz.prototypes.site_opacity_stats`.
    cols : int, default=1
        Columns of the "side" layout.

    Returns
    -------
    holoviews.Overlay or holoviews.Layout
        Bars (``hv.Rectangles``, one element per site group and network) coloured by site group,
        with standard deviations as ``hv.ErrorBars``.

    Examples
    --------
    >>> nets = {"{100}": np.ones((4, 26)), "{111}": np.zeros((4, 26))}
    >>> type(site_opacity_chart(nets, layout="overlay")).__name__
    'Overlay'
    >>> len(site_opacity_chart(nets))
    2
    """
    ensure_backends()
    if layout not in LAYOUTS:
        raise ValueError(f"`layout` must be one of {LAYOUTS}; got {layout!r}")
    data = site_opacity_data(models, threshold=threshold, normalize=normalize)
    labels = list(dict.fromkeys(data["network"]))
    ylabel = "mean |opacity|" + ("" if normalize == "none" else " (normalised)")
    ticks = [(i, str(i)) for i in range(1, data["site"].max() + 1)]
    top = float((data["mean"] + data["std"]).max()) * 1.05 or 1.0
    ax_extra = {
        "mpl": {"xticks": ticks, "ylim": (0, top), "xlim": (0.3, len(ticks) + 0.7)},
        "bokeh": {"xticks": ticks, "ylim": (0, top), "xlim": (0.3, len(ticks) + 0.7)},
    }
    if layout == "overlay":
        n = len(labels)
        width = 0.8 / n
        els = []
        for j, lab in enumerate(labels):
            offset = (j - (n - 1) / 2) * width
            els += _site_bars(
                data[data["network"] == lab],
                offset=offset,
                width=width,
                alpha=NETWORK_ALPHAS[min(j, len(NETWORK_ALPHAS) - 1)],
                legend=j == 0,
            )
        title = "networks left to right: " + ", ".join(labels) if n > 1 else labels[0]
        return _axis_opts(hv.Overlay(els), xlabel="site", ylabel=ylabel, title=title, **ax_extra)
    panels = []
    for j, lab in enumerate(labels):
        ov = hv.Overlay(_site_bars(data[data["network"] == lab], legend=j == 0))
        n_proto = int(data.loc[data["network"] == lab, "num_prototypes"].iloc[0])
        panels.append(_axis_opts(ov, xlabel="site", ylabel=ylabel, title=f"{lab} ({n_proto} prototypes)", **ax_extra))
    return (
        hv.Layout(panels)
        .cols(cols)
        .opts(
            opts.Layout(**_mpl(sublabel_format="", vspace=0.35, fig_inches=FIG_INCHES)),
            opts.Layout(**_bk(shared_axes=True)),
        )
    )


# --------------------------------------------------------------------------- Figure 1 (toy)
def toy_chart(x, y, curves: dict, centroids: dict | None = None, *, title: str = ""):
    """Toy regression example (paper Figure 1): data, fitted curves and their centroids.

    Parameters
    ----------
    x, y : array-like of float, shape (N,)
        The data points.
    curves : dict of str to (xs, fxs)
        A fitted function per label, sampled on ``xs``.
    centroids : dict of str to array-like, optional
        Centroid positions per label, drawn as markers on the matching curve.
    title : str, default=""

    Returns
    -------
    holoviews.Overlay

    Examples
    --------
    >>> xs = np.linspace(0, 1, 5)
    >>> ch = toy_chart(xs, xs**2, {"K=2": (xs, xs**2)}, {"K=2": [0.2, 0.8]})
    >>> [type(e).__name__ for e in ch]
    ['Scatter', 'Curve', 'Scatter']
    """
    ensure_backends()
    els = [
        hv.Scatter((np.asarray(x, float), np.asarray(y, float)), "x", "y", label="data").opts(
            opts.Scatter(**_mpl(color="0.55", s=8)), opts.Scatter(**_bk(color="gray", size=4, alpha=0.7))
        )
    ]
    for i, (lab, (xs, fx)) in enumerate(curves.items()):
        c = SERIES_COLORS[i % len(SERIES_COLORS)]
        xs, fx = np.asarray(xs, float), np.asarray(fx, float)
        els.append(
            hv.Curve((xs, fx), "x", "y", label=str(lab)).opts(
                opts.Curve(**_mpl(color=c, linewidth=1.5)), opts.Curve(**_bk(color=c, line_width=2))
            )
        )
        if centroids and lab in centroids:
            cx = np.asarray(centroids[lab], float)
            order = np.argsort(xs)
            cy = np.interp(cx, xs[order], fx[order])
            els.append(
                hv.Scatter((cx, cy), "x", "y", label=f"{lab} centroids").opts(
                    opts.Scatter(**_mpl(color=c, marker="D", s=30, edgecolors="black")),
                    opts.Scatter(**_bk(color=c, marker="diamond", size=10, line_color="black")),
                )
            )
    return _axis_opts(hv.Overlay(els), xlabel="x", ylabel="y", title=title, aspect=1.6, height=380)


# --------------------------------------------------------------------------- training
def _history_frame(history) -> pd.DataFrame:
    df = pd.DataFrame(list(history)) if not isinstance(history, pd.DataFrame) else history.copy()
    if df.empty or "epoch" not in df:
        raise ValueError("`history` must be a non-empty list of dicts with an 'epoch' key (and train_mse, val_mse, lr)")
    return df


def training_curves(history, *, title: str = ""):
    """Training and validation MSE per epoch, with the learning rate in a panel below.

    Parameters
    ----------
    history : list of dict or pandas.DataFrame
        Rows with keys ``epoch``, ``train_mse``, ``val_mse`` and ``lr`` (missing keys are
        skipped).
    title : str, default=""

    Returns
    -------
    holoviews.Layout
        Loss panel (log y) and, if ``lr`` is present, a learning-rate panel (log y).

    Examples
    --------
    >>> h = [{"epoch": e, "train_mse": 1 / e, "val_mse": 1.2 / e, "lr": 1e-2} for e in range(1, 4)]
    >>> len(training_curves(h))
    2
    """
    ensure_backends()
    df = _history_frame(history)
    loss = []
    for i, (key, lab) in enumerate((("train_mse", "train"), ("val_mse", "validation"))):
        if key in df:
            c = SERIES_COLORS[i]
            loss.append(
                hv.Curve(df, "epoch", (key, "MSE"), label=lab).opts(
                    opts.Curve(**_mpl(color=c, linewidth=1.5)), opts.Curve(**_bk(color=c, line_width=2))
                )
            )
    if not loss:
        raise ValueError("`history` has neither 'train_mse' nor 'val_mse'")
    mse_ticks = log_ticks([v for key in ("train_mse", "val_mse") if key in df for v in df[key]])
    panels = [
        _axis_opts(
            hv.Overlay(loss),
            xlabel="epoch",
            ylabel="MSE",
            title=title,
            aspect=2.0,
            height=280,
            legend="top_right",
            mpl={"logy": True},
            bokeh={"logy": True, **({"yticks": mse_ticks} if mse_ticks else {})},
        )
    ]
    if "lr" in df:
        lr_lo, lr_hi = float(df["lr"].min()), float(df["lr"].max())
        lr_range = (lr_lo / 3, lr_hi * 3)  # a constant rate would otherwise sit on the axis edge
        lr_ticks = log_ticks(lr_range)
        lr = hv.Curve(df, "epoch", ("lr", "learning rate")).opts(
            opts.Curve(
                **_mpl(
                    color="black",
                    linewidth=1.2,
                    logy=True,
                    ylim=lr_range,
                    fig_inches=FIG_INCHES,
                    aspect=3.5,
                    fontsize=FONT_SIZES,
                )
            ),
            opts.Curve(
                **_bk(
                    color="black",
                    line_width=1.5,
                    logy=True,
                    ylim=lr_range,
                    width=BOKEH_WIDTH,
                    height=160,
                    backend_opts=CANVAS_BACKEND,
                    **({"yticks": lr_ticks} if lr_ticks else {}),
                )
            ),
        )
        panels.append(lr)
    return (
        hv.Layout(panels)
        .cols(1)
        .opts(
            opts.Layout(**_mpl(sublabel_format="", vspace=0.3, aspect_weight=True, fig_inches=FIG_INCHES)),
            opts.Layout(**_bk(shared_axes=False)),
        )
    )


def log_ticks(values) -> list[float]:
    """Tick positions for a log axis over the positive ``values``: 1, 2, 5 per decade (1, 3 beyond 3 decades).

    Bokeh's log ticker labels only powers of ten once a range spans two decades, so an MSE
    curve from 1 down to 0.02 had no labelled tick below 0.1; within one decade it crowds its
    labels at the top.

    >>> log_ticks([0.012, 1.5])
    [0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
    >>> log_ticks([0.012, 0.045])
    [0.02, 0.03, 0.04]
    """
    import math

    finite = [float(v) for v in values if v is not None and math.isfinite(v) and v > 0]
    if not finite:
        return []
    lo, hi = min(finite), max(finite)
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    for mantissas in ((1, 3) if k1 - k0 > 3 else (1, 2, 5), tuple(range(1, 10))):
        ticks = [round(m * 10.0**k, 12) for k in range(k0, k1 + 1) for m in mantissas]
        ticks = [t for t in ticks if lo <= t <= hi]
        if len(ticks) >= 2:
            return ticks
    return ticks


# --------------------------------------------------------------------------- Figure 3
def accuracy_chart(table: pd.DataFrame, *, title: str = "", logx: bool | None = None):
    """Test RMSE against the number of centroids K, per surface (paper Figure 3).

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``surface``, ``K``, ``rmse_mean``, ``rmse_std``.
    title : str, default=""
    logx : bool, optional
        Log K axis; default: when K spans more than a factor 10.

    Returns
    -------
    holoviews.Overlay
        A Curve, Scatter and ErrorBars per surface.

    Examples
    --------
    >>> t = pd.DataFrame({"surface": ["100"] * 2, "K": [16, 64], "rmse_mean": [0.1, 0.05],
    ...                   "rmse_std": [0.01, 0.01]})
    >>> len(accuracy_chart(t))
    3
    """
    ensure_backends()
    need = {"surface", "K", "rmse_mean", "rmse_std"}
    if not need <= set(table.columns):
        raise ValueError(f"`table` needs columns {sorted(need)}; got {list(table.columns)}")
    k = table["K"].astype(float)
    logx = bool(k.max() > 10 * max(k.min(), 1e-12)) if logx is None else logx
    ks = [(float(v), f"{v:g}") for v in sorted(k.unique())]
    els = []
    for i, (surface, d) in enumerate(table.groupby("surface", sort=True)):
        d = d.sort_values("K")
        c = SERIES_COLORS[i % len(SERIES_COLORS)]
        lab = f"{{{str(surface).strip('{}')}}}"
        xy = (d["K"].to_numpy(float), d["rmse_mean"].to_numpy(float))
        els.append(
            hv.Curve(xy, "K", "RMSE", label=lab).opts(
                opts.Curve(**_mpl(color=c, linewidth=1.3)), opts.Curve(**_bk(color=c, line_width=2))
            )
        )
        els.append(
            hv.Scatter(xy, "K", "RMSE", label=lab).opts(
                opts.Scatter(**_mpl(color=c, s=18)), opts.Scatter(**_bk(color=c, size=7))
            )
        )
        els.append(
            hv.ErrorBars((*xy, d["rmse_std"].to_numpy(float)), "K", ["RMSE", "std"]).opts(
                opts.ErrorBars(**_mpl(color=c, edgecolor=c, capsize=2)), opts.ErrorBars(**_bk(color=c))
            )
        )
    return _axis_opts(
        hv.Overlay(els),
        xlabel="number of centroids K",
        ylabel="test RMSE (eV)",
        title=title,
        aspect=1.6,
        height=380,
        legend="top_right",
        mpl={"logx": logx, "padding": 0.06, "xticks": ks},
        bokeh={"logx": logx, "padding": 0.06, "xticks": ks},
    )


# --------------------------------------------------------------------------- Figure 3 with baselines
BASELINE_STYLES = {  # paper Figure 3: XGBoost a solid line, the deep network a dashed one
    "XGBoost": {"color": "#444444", "mpl": "-", "bokeh": "solid"},
    "DNN": {"color": "#9467bd", "mpl": "--", "bokeh": "dashed"},
}


def accuracy_baselines_chart(rbfn: pd.DataFrame, baselines: pd.DataFrame | None = None, *, title: str = ""):
    """Paper Figure 3: per surface, test RMSE against K with the baselines as horizontal lines.

    Parameters
    ----------
    rbfn : pandas.DataFrame
        Columns ``surface``, ``K``, ``rmse_mean``, ``rmse_std`` (as :func:`accuracy_chart`).
    baselines : pandas.DataFrame, optional
        Columns ``surface``, ``model`` ("XGBoost" or "DNN"), ``rmse_mean``, ``rmse_std``:
        XGBoost is drawn solid, the DNN dashed, each across the K range with a band of ± one s.d.
    title : str, default=""

    Returns
    -------
    holoviews.Layout
        One panel per surface, each with its own vertical axis (as the paper's).

    Examples
    --------
    >>> rb = pd.DataFrame({"surface": ["100"] * 2, "K": [16, 64], "rmse_mean": [0.1, 0.05], "rmse_std": [0.01, 0.01]})
    >>> bl = pd.DataFrame({"surface": ["100", "100"], "model": ["XGBoost", "DNN"], "rmse_mean": [0.06, 0.04],
    ...                    "rmse_std": [0.002, 0.003]})
    >>> panel = accuracy_baselines_chart(rb, bl)
    >>> sorted(type(e).__name__ for e in panel.traverse(lambda e: e, [hv.Area]))
    ['Area', 'Area']
    """
    ensure_backends()
    baselines = baselines if baselines is not None else pd.DataFrame(columns=["surface", "model", "rmse_mean"])
    need = {"surface", "model", "rmse_mean", "rmse_std"}
    if len(baselines) and not need <= set(baselines.columns):
        raise ValueError(f"`baselines` needs columns {sorted(need)}; got {list(baselines.columns)}")
    surfaces = sorted(set(rbfn["surface"].astype(str)) | set(baselines["surface"].astype(str)))
    panels = []
    for i, surface in enumerate(surfaces):
        d = rbfn[rbfn["surface"].astype(str) == surface]
        d = d.assign(K=np.log2(d["K"].astype(float)))  # a log2 axis labelled with K (clean ticks in both backends)
        lab = f"{{{surface}}}"
        els = []
        if len(d):
            els.extend(accuracy_chart(d, title=lab, logx=False).values())
        for _, b in baselines[baselines["surface"].astype(str) == surface].iterrows():
            st = BASELINE_STYLES.get(str(b["model"]), {"color": SERIES_COLORS[i + 1], "mpl": ":", "bokeh": "dotted"})
            mean, sd = float(b["rmse_mean"]), float(b["rmse_std"]) if pd.notna(b["rmse_std"]) else 0.0
            x = [float(d["K"].min()), float(d["K"].max())] if len(d) else [0.0, 1.0]
            c, lab_b = st["color"], str(b["model"])
            els.append(
                hv.Area((x, [mean - sd] * 2, [mean + sd] * 2), "K", ["RMSE", "RMSE2"], label=lab_b).opts(
                    # a plain facecolor loses to the default colour cycle in HoloViews' matplotlib Area
                    opts.Area(**_mpl(facecolor=hv.Cycle([c]), linewidth=0, alpha=0.15)),
                    opts.Area(**_bk(fill_color=c, line_alpha=0, fill_alpha=0.15)),
                )
            )
            els.append(
                hv.Curve((x, [mean, mean]), "K", "RMSE", label=lab_b).opts(
                    opts.Curve(**_mpl(color=c, linestyle=st["mpl"], linewidth=1.3)),
                    opts.Curve(**_bk(color=c, line_dash=st["bokeh"], line_width=2)),
                )
            )
        ks = [(float(v), f"{2**v:g}") for v in sorted(d["K"].astype(float).unique())] if len(d) else None
        logx = False
        panels.append(
            _axis_opts(
                hv.Overlay(els),
                xlabel="number of centroids K",
                ylabel="test RMSE (eV)",
                title=f"{title} {lab}".strip(),
                aspect=1.6,
                height=320,
                legend="top_right",
                mpl={"logx": logx, "padding": 0.06, **({"xticks": ks} if ks else {})},
                bokeh={"logx": logx, "padding": 0.06, **({"xticks": ks} if ks else {})},
            ).opts(opts.Overlay(**_bk(width=BOKEH_WIDTH // 2)))
        )
    return (
        hv.Layout(panels)
        .cols(len(panels) or 1)
        .opts(
            opts.Layout(**_mpl(sublabel_format="", fig_inches=FIG_INCHES, shared_axes=False)),
            opts.Layout(**_bk(shared_axes=False)),
        )
    )
