"""PrototypeScene (one window per 3D area, updated in place), the palette module and the
library functions the app used to write itself (prototype by rank, a chosen set, Figure 5 data)."""

from __future__ import annotations

import numpy as np
import pytest

from rbfviz.viz.prototype_scene import PrototypeScene
from rbfviz.viz.prototypes import (
    as_prototypes,
    prototype_by_rank,
    select_prototypes,
    site_opacity_data,
    site_opacity_stats,
)
from rbfviz.viz.render import surface_meshes
from rbfviz.viz.scenes import site_style
from rbfviz.viz.style import SIGN_COLORS, direction_label, key_lines, view_label


def red_blue(img: np.ndarray) -> tuple[int, int]:
    a = img[..., :3].astype(int)
    red = ((a[..., 0] > 150) & (a[..., 1] < 100) & (a[..., 2] < 100)).sum()
    blue = ((a[..., 2] > 150) & (a[..., 0] < 100) & (a[..., 1] < 100)).sum()
    return int(red), int(blue)


@pytest.fixture(scope="module")
def scene():
    s = PrototypeScene(3, columns=3, panel_size=90, resolution=8)
    yield s
    s.close()


def test_scene_updates_in_place_and_hides_unused_viewports(scene):
    rng = np.random.default_rng(0)
    values = [rng.normal(size=26) * 2 for _ in range(3)]
    scene.show([(v, f"p{k}") for k, v in enumerate(values)])
    actors = list(scene.plotter.renderers[0].actors.values())
    for k, v in enumerate(values):
        colors, op = site_style(v)
        rgba = scene.site_rgba(k) / 255
        np.testing.assert_allclose(rgba[:, 3], op, atol=1 / 255)
        np.testing.assert_allclose(rgba[:, :3], colors, atol=1 / 255)
        assert scene.caption(k) == f"p{k}"
    scene.show([(-values[0], "only")])
    assert list(scene.plotter.renderers[0].actors.values()) == actors  # the same actors, recoloured
    assert scene.shown == 1 and scene.caption(1) == "" and not scene.site_rgba(2).any()
    with pytest.raises(ValueError, match="holds 3"):
        scene.show([(values[0], "")] * 4)


def test_viewports_share_one_camera_unless_views_given():
    shared = PrototypeScene(3, panel_size=40, resolution=6)
    own = PrototypeScene(2, panel_size=40, resolution=6, views=["[110]", "[001]"], web=False)
    try:
        cams = {id(r.GetActiveCamera()) for r in shared.plotter.renderers}
        assert len({r.GetActiveCamera().GetAddressAsString("vtkCamera") for r in shared.plotter.renderers}) == 1, cams
        a, b = (np.array(r.GetActiveCamera().GetPosition()) for r in own.plotter.renderers)
        assert not np.allclose(a, b)
    finally:
        shared.close()
        own.close()


def test_rendered_colours_follow_the_signs(scene):
    """The off-screen picture: an all-positive prototype is red, an all-negative one blue."""
    scene.show([(np.full(26, 2.0), ""), (np.full(26, -2.0), ""), (np.zeros(26), "")])
    img = scene.screenshot()
    w = img.shape[1] // 3
    (r0, b0), (r1, b1), (r2, b2) = (red_blue(img[:, k * w : (k + 1) * w]) for k in range(3))
    assert r0 > 300 and b0 < 20, (r0, b0)
    assert b1 > 300 and r1 < 20, (r1, b1)
    assert r2 + b2 < 20, (r2, b2)  # nothing drawn for a zero prototype


def test_surface_plane_and_normal_follow_the_network():
    s = PrototypeScene(2, panel_size=60, resolution=6, surfaces=True)
    try:
        s.show([(np.ones(26), "a"), (np.ones(26), "b")], surfaces=["100", None])
        plane, normal = s._surface[0]
        assert plane.visibility and normal.visibility and not s._surface[1][0].visibility
        n = np.array(plane.mapper.dataset.compute_normals()["Normals"][0])
        np.testing.assert_allclose(np.abs(n), [0, 0, 1], atol=1e-6)  # {100}: the plane is normal to [001]
        for surface in ("100", "110", "111"):  # what the actors draw, not only their input
            s.show([(np.ones(26), surface)], surfaces=[surface])
            s.screenshot()
            want = surface_meshes(surface)
            np.testing.assert_allclose(plane.GetBounds(), want["plane"].bounds, atol=1e-6)
            np.testing.assert_allclose(normal.GetBounds(), want["normal"].bounds, atol=1e-6)
    finally:
        s.close()


def test_prototype_by_rank_matches_a_brute_force_sort():
    rng = np.random.default_rng(3)
    c, w = rng.normal(size=(7, 26)), rng.normal(size=7)
    brute = sorted(range(7), key=lambda i: -abs(w[i]))
    for rank in range(1, 8):
        values, beta, i = prototype_by_rank((c, w), rank)
        assert i == brute[rank - 1] and beta == w[i]
        np.testing.assert_array_equal(values, c[i])
    assert prototype_by_rank((c, w), 8) is None
    with pytest.raises(ValueError, match="rank"):
        prototype_by_rank((c, w), 0)


def test_select_prototypes_keeps_the_chosen_rows():
    c, w = np.arange(3 * 26.0).reshape(3, 26), np.array([1.0, 2.0, 3.0])
    p = select_prototypes((c, w), [2, 0])
    np.testing.assert_array_equal(p.centroids, c[[2, 0]])
    with pytest.raises(ValueError, match="0..2"):
        select_prototypes((c, w), [3])


def test_figure5_data_lives_with_the_statistics():
    c = np.random.default_rng(1).normal(size=(4, 26))
    df = site_opacity_data({"a": c})
    ref = site_opacity_stats(as_prototypes(c))
    np.testing.assert_allclose(df["mean"], ref["mean"])
    assert set(df["network"]) == {"a"} and df["num_prototypes"].iloc[0] == 4


def test_figure5_tooltip_names_group_mean_and_sd():
    import holoviews as hv
    from bokeh.models import HoverTool

    from rbfviz.viz.charts import site_opacity_chart

    fig = hv.render(site_opacity_chart({"n": np.ones((3, 26))}, layout="overlay"), backend="bokeh")
    tips = [t for tool in fig.select(type=HoverTool) for t in (tool.tooltips or [])]
    names = {name for name, _ in tips}
    assert {"group", "mean", "s.d."} <= names and not names & {"x0", "x1", "y0", "y1"}, tips


def test_style_writes_directions_one_way():
    assert view_label("[1-10]") == "[1\u030510]" == direction_label((-1, 1, 0))
    assert "opaque at |value| ≥ 1.5" in key_lines(1.5)[1]
    assert SIGN_COLORS["positive"][0] > SIGN_COLORS["positive"][2]
