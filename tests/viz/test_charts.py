"""Tests of rbfviz.viz.charts: the data inside the HoloViews objects, then both backends' renders."""

import matplotlib
import matplotlib.collections

matplotlib.use("Agg")

import holoviews as hv
import numpy as np
import pandas as pd
import pytest

from rbfviz.data.lattice import DEFAULT_SITES, GROUPS
from rbfviz.viz import charts
from rbfviz.viz.style import GROUP_COLORS


@pytest.fixture(scope="module")
def networks():
    rng = np.random.default_rng(0)
    return {
        "{100}": (rng.normal(0, 1.0, (16, 26)), rng.normal(0, 0.3, 16)),
        "{110}": (rng.normal(0, 1.5, (16, 26)), rng.normal(0, 0.3, 16)),
        "{111}": (rng.normal(0, 0.8, (12, 26)), rng.normal(0, 0.3, 12)),
    }


def rectangles(obj):
    return obj.traverse(lambda e: e, [hv.Rectangles])


def bar_table(obj) -> pd.DataFrame:
    """All bars of a chart as rows: x centre, height, site, group, element colour."""
    rows = []
    for el in rectangles(obj):
        d = el.dframe()
        color = hv.Store.lookup_options("matplotlib", el, "style").kwargs["color"]
        rows.append(
            pd.DataFrame(
                {
                    "x": (d["x0"] + d["x1"]) / 2,
                    "height": d["y1"],
                    "site": d["site"],
                    "group": d["group"],
                    "color": color,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


# ------------------------------------------------------------------ Figure 5
def test_site_opacity_side_layout_has_26_bars_per_network_in_site_order(networks):
    chart = charts.site_opacity_chart(networks, layout="side")
    assert isinstance(chart, hv.Layout) and len(chart) == 3
    for panel, (label, source) in zip(chart, networks.items()):
        bars = bar_table(panel).sort_values("x")
        assert len(bars) == 26
        assert bars["site"].tolist() == list(range(1, 27))
        np.testing.assert_allclose(bars["x"], np.arange(1, 27))
        assert bars["group"].tolist() == list(DEFAULT_SITES.groups)
        assert all(bars["color"] == bars["group"].map(GROUP_COLORS))
        data = charts.site_opacity_data({label: source})
        np.testing.assert_allclose(bars["height"], data["mean"])
        assert bars["height"].max() == pytest.approx(1.0)  # normalised to the top site
        err = panel.traverse(lambda e: e, [hv.ErrorBars])[0].dframe()
        np.testing.assert_allclose(err["std"], data["std"])


def test_site_opacity_overlay_offsets_networks_on_one_axis(networks):
    chart = charts.site_opacity_chart(networks, layout="overlay")
    assert isinstance(chart, hv.Overlay)
    bars = bar_table(chart)
    assert len(bars) == 78
    site1 = bars[bars["site"] == 1].sort_values("x")["x"].to_numpy()
    assert len(site1) == 3 and np.all(np.diff(site1) > 0.2) and abs(site1.mean() - 1) < 1e-9
    labels = [el.label for el in rectangles(chart) if el.label]
    assert sorted(labels) == sorted(GROUP_COLORS)  # one legend entry per group, not per network


def test_site_opacity_chart_renders_with_both_backends(networks):
    chart = charts.site_opacity_chart(networks, layout="side")
    fig = hv.render(chart, backend="matplotlib")
    try:
        axes = [ax for ax in fig.axes if ax.collections]
        assert len(axes) == 3
        n_bars = sum(
            len(c.get_paths()) for c in axes[0].collections if isinstance(c, matplotlib.collections.PatchCollection)
        )
        assert n_bars == 26
        assert [t.get_text() for t in axes[0].get_legend().get_texts()] == list(GROUPS)
    finally:
        matplotlib.pyplot.close(fig)
    bk = hv.render(chart, backend="bokeh")
    assert bk is not None


def test_site_opacity_chart_accepts_a_list_and_rejects_bad_layout(networks):
    chart = charts.site_opacity_chart(list(networks.values())[:2], layout="overlay")
    assert len(bar_table(chart)) == 52
    with pytest.raises(ValueError, match="layout"):
        charts.site_opacity_chart(networks, layout="stacked")


def test_site_opacity_chart_reads_rbfn_models():
    model_mod = pytest.importorskip("rbfviz.core.model")
    net = model_mod.RBFN(26, 5, seed=1)
    net.metadata["surface"] = "111"
    chart = charts.site_opacity_chart([net])
    assert "{111}" in chart[0].opts.get("plot", backend="matplotlib").kwargs["title"].replace("{{", "{")


# ------------------------------------------------------------------ other charts
def test_toy_chart_elements_and_centroid_markers_on_curve():
    xs = np.linspace(0, 1, 21)
    chart = charts.toy_chart(xs, np.sin(xs), {"K=3": (xs, np.sin(xs))}, {"K=3": [0.25, 0.5]})
    data, curve, cent = list(chart)
    assert len(data) == 21 and len(curve) == 21
    np.testing.assert_allclose(cent.dframe()["y"], np.sin([0.25, 0.5]), atol=1e-3)
    matplotlib.pyplot.close(hv.render(chart, backend="matplotlib"))
    hv.render(chart, backend="bokeh")


def test_training_curves_panels_and_log_axes():
    h = [{"epoch": e, "train_mse": 1 / e, "val_mse": 1.2 / e, "lr": 0.01 * 0.9**e} for e in range(1, 11)]
    chart = charts.training_curves(h)
    assert len(chart) == 2
    loss, lr = list(chart)
    assert [c.label for c in loss] == ["train", "validation"]
    assert lr.dframe()["lr"].iloc[-1] == pytest.approx(0.01 * 0.9**10)
    fig = hv.render(chart, backend="matplotlib")
    assert all(ax.get_yscale() == "log" for ax in fig.axes if ax.lines)
    matplotlib.pyplot.close(fig)
    hv.render(chart, backend="bokeh")
    assert len(charts.training_curves([{k: v for k, v in r.items() if k != "lr"} for r in h])) == 1
    with pytest.raises(ValueError, match="epoch"):
        charts.training_curves([])


def test_training_curves_label_round_ticks_and_draw_on_a_canvas():
    from bokeh.models import FixedTicker, LogAxis, Plot

    h = [{"epoch": e, "train_mse": 1.4 * np.exp(-e / 10) + 0.012, "val_mse": 0.3, "lr": 0.01} for e in range(60)]
    fig = hv.render(charts.training_curves(h), backend="bokeh")
    ticks = {ax.axis_label: ax.ticker for ax in fig.select({"type": LogAxis})}
    assert all(isinstance(t, FixedTicker) for t in ticks.values()), ticks
    assert list(ticks["MSE"].ticks) == [0.02, 0.05, 0.1, 0.2, 0.5, 1.0]  # MSE from 1.41 down to 0.016
    assert list(ticks["learning rate"].ticks) == [0.005, 0.01, 0.02]  # Bokeh crowded 0.015-0.03 at the top
    assert {p.output_backend for p in fig.select({"type": Plot})} == {"canvas"}


def test_accuracy_chart_one_series_per_surface_with_error_bars():
    table = pd.DataFrame(
        [
            {"surface": s, "K": k, "rmse_mean": 0.1 / k**0.3, "rmse_std": 0.005}
            for s in ("100", "110", "111")
            for k in (8, 16, 32, 64, 128)
        ]
    )
    chart = charts.accuracy_chart(table)
    errs = chart.traverse(lambda e: e, [hv.ErrorBars])
    assert len(errs) == 3 and all(len(e) == 5 for e in errs)
    assert [c.label for c in chart.traverse(lambda e: e, [hv.Curve])] == ["{100}", "{110}", "{111}"]
    fig = hv.render(chart, backend="matplotlib")
    assert fig.axes[0].get_xscale() == "log"
    matplotlib.pyplot.close(fig)
    hv.render(chart, backend="bokeh")
    with pytest.raises(ValueError, match="columns"):
        charts.accuracy_chart(table.drop(columns="rmse_std"))
