"""Tests of rbfviz.viz.scenes and rbfviz.viz.lattice_scene: meshes first, then rendered pixels,
then a few reference images.

Reference images live in tests/viz/images/ and are rewritten only with RBFVIZ_UPDATE_IMAGES=1.
"""

import os

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

from pathlib import Path

import numpy as np
import pytest

from rbfviz.data.lattice import DEFAULT_SITES, FINAL_SITE, HALF_A, INITIAL_SITE, NN_DISTANCE, VIEWPOINTS
from rbfviz.viz import lattice_scene, render
from rbfviz.viz import scenes as scene

IMAGES = Path(__file__).parent / "images"
UPDATE = os.environ.get("RBFVIZ_UPDATE_IMAGES") == "1"
IMAGE_TOLERANCE = 3.0  # mean absolute difference, 0-255 scale


# ------------------------------------------------------------------ fixtures and helpers
@pytest.fixture
def two_sign_values():
    """Site 19 (-2,0,0) at +2, site 22 (3,1,0) at -2, site 20 (0,-2,0) at +1: all in the z=0
    layer with nothing above them, so the [001] view sees each one unoccluded."""
    v = np.zeros(26)
    v[18], v[21], v[19] = 2.0, -2.0, 1.0
    return v


def patch(img, xy, r=4):
    """Median RGB of a (2r+1)² patch around pixel (column, row)."""
    x, y = np.round(xy).astype(int)
    return np.median(img[y - r : y + r + 1, x - r : x + r + 1, :3].reshape(-1, 3), axis=0)


def strong_red(img):
    rgb = img[..., :3].astype(int)
    return (rgb[..., 0] > 150) & (rgb[..., 1] < 90) & (rgb[..., 2] < 90)


def strong_blue(img):
    rgb = img[..., :3].astype(int)
    return (rgb[..., 2] > 140) & (rgb[..., 0] < 90) & (rgb[..., 1] < 130)


def compare_with_reference(img, name):
    from PIL import Image

    path = IMAGES / name
    if UPDATE:
        IMAGES.mkdir(exist_ok=True)
        Image.fromarray(img).save(path)
        pytest.skip(f"reference image {name} rewritten")
    if not path.exists():
        pytest.fail(f"missing reference image {path}; run with RBFVIZ_UPDATE_IMAGES=1 to create it")
    ref = np.asarray(Image.open(path).convert("RGB")).astype(float)
    assert ref.shape == img[..., :3].shape
    diff = np.abs(ref - img[..., :3].astype(float)).mean()
    assert diff < IMAGE_TOLERANCE, f"{name}: mean abs difference {diff:.2f} >= {IMAGE_TOLERANCE}"


# ------------------------------------------------------------------ meshes and cameras
def test_site_style_colours_by_sign_and_opacity_by_magnitude():
    colors, op = scene.site_style([2.0, -0.5, 0.0, 5.0], threshold=2.0)
    assert op.tolist() == [1.0, 0.25, 0.0, 1.0]
    assert colors[0, 0] > 0.8 and colors[0, 2] < 0.2  # red
    assert colors[1, 2] > 0.8 and colors[1, 0] < 0.2  # blue


def test_prototype_meshes_arrays(two_sign_values):
    m = scene.prototype_meshes(two_sign_values)
    assert sorted(np.unique(m["sites"]["site"]).tolist()) == [19, 20, 22]  # zero sites are not drawn
    centers = m["centers"]
    assert centers.n_points == 26
    np.testing.assert_allclose(centers.points, DEFAULT_SITES.positions)
    assert centers["rgba"][18].tolist()[3] == 255 and centers["rgba"][19, 3] == 128
    assert centers["rgba"][21, 2] > 200  # blue channel of the negative site
    np.testing.assert_allclose(m["migrating"].center, INITIAL_SITE * HALF_A, atol=1e-6)
    np.testing.assert_allclose(m["vacancy"].center, FINAL_SITE * HALF_A, atol=1e-6)


def test_all_zero_prototype_has_no_site_spheres():
    m = scene.prototype_meshes(np.zeros(26))
    assert m["sites"].n_points == 0


def test_bonds_are_nearest_neighbour_pairs():
    bonds = scene.bond_mesh()
    pts = bonds.points
    lines = bonds.lines.reshape(-1, 3)[:, 1:]
    lengths = np.linalg.norm(pts[lines[:, 0]] - pts[lines[:, 1]], axis=1)
    np.testing.assert_allclose(lengths, NN_DISTANCE, rtol=1e-9)
    # the migrating atom (index 26) has 12 neighbours, of which 11 are sites and one is the vacancy
    assert np.sum(lines == 26) == 12


def test_bad_values_raise_with_the_shape():
    with pytest.raises(ValueError, match="26 values"):
        scene.prototype_meshes(np.zeros(25))
    with pytest.raises(ValueError, match="unknown view"):
        render.camera_for("[111]")


@pytest.mark.parametrize("name", list(VIEWPOINTS))
def test_camera_looks_from_the_named_direction(name):
    pos, focal, up = (np.asarray(v) for v in render.camera_for(name))
    d = (pos - focal) / np.linalg.norm(pos - focal)
    expected = np.asarray(VIEWPOINTS[name], float)
    np.testing.assert_allclose(d, expected / np.linalg.norm(expected), atol=1e-12)
    assert abs(up @ d) < 1e-12 and np.linalg.norm(up) == pytest.approx(1.0)


def test_custom_camera_position_passes_through():
    cam = [(10.0, 0, 0), (0, 0, 0), (0, 0, 1.0)]
    assert render.camera_for(cam) == [(10.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 1.0)]


def test_lattice_meshes_embed_the_sites_on_a_substrate():
    for surface in ("100", "110", "111"):
        m = lattice_scene.lattice_meshes(surface)
        n = np.asarray({"100": (0, 0, 1), "110": (1, -1, 0), "111": (1, -1, 1)}[surface], float)
        heights = m["bulk"].points @ n / np.linalg.norm(n)
        assert m["bulk"].n_points > 20
        assert np.all(heights < -0.1)  # substrate atoms are all below the migrating atom's layer
        plane_h = np.asarray(m["plane"].center) @ n / np.linalg.norm(n)
        assert heights.max() < plane_h < 0  # the plane lies between the substrate and layer 0
    assert "bulk" not in lattice_scene.lattice_meshes(None)


# ------------------------------------------------------------------ plotters
def test_prototype_plotter_actors_and_update(two_sign_values):
    pl = scene.prototype_plotter(two_sign_values, window_size=(120, 120))
    try:
        assert len(pl.renderers) == 1  # one renderer, as the Panel VTK pane expects
        assert {"migrating", "vacancy", "bonds", "site-01", "site-26"} <= set(pl.actors)
        assert pl.actors["site-19"].prop.opacity == pytest.approx(1.0)
        assert pl.actors["site-20"].prop.opacity == pytest.approx(0.5)
        assert not pl.actors["site-01"].visibility  # zero -> hidden
        assert pl.ren_win.GetMultiSamples() == 0  # MSAA off, or translucent spheres vanish on Mesa
        assert pl.renderer.GetUseDepthPeeling()
        scene.update_prototype(pl, -two_sign_values)
        assert pl.actors["site-19"].prop.color.float_rgb[2] > 0.8  # now blue
    finally:
        pl.close()


def test_rendered_colours_at_projected_sites(two_sign_values):
    pl = scene.prototype_plotter(two_sign_values, view="[001]", window_size=(300, 300), legend=False)
    try:
        xy = scene.project_to_pixels(pl, DEFAULT_SITES.positions[[18, 21, 19]])
        img = pl.screenshot(None, return_img=True)
        assert pl.ren_win.GetMultiSamples() == 0
    finally:
        pl.close()
    red, blue, half = (patch(img, p) for p in xy)
    assert red[0] > 150 and red[1] < 80 and red[2] < 80, red
    assert blue[2] > 140 and blue[0] < 80, blue
    # opacity 0.5 over white: a light red, clearly drawn (the Mesa MSAA bug would leave white)
    assert half[0] > 200 and 90 < half[1] < 210 and half[0] - half[1] > 40, half
    # the red and blue blobs are where the sites project, not elsewhere
    assert strong_red(img)[int(xy[0][1]), int(xy[0][0])] and strong_blue(img)[int(xy[1][1]), int(xy[1][0])]


def test_translucent_sites_are_drawn_from_every_view():
    v = np.full(26, 0.9)  # all translucent red (opacity 0.45)
    for view in VIEWPOINTS:
        img = scene.render_prototype(v, view=view, window_size=(160, 160), legend=False)
        rgb = img[..., :3].astype(int)
        pinkish = (rgb[..., 0] > 150) & (rgb[..., 0] - rgb[..., 2] > 40)
        assert pinkish.mean() > 0.05, view


def test_all_zero_prototype_draws_only_the_jump_pair():
    img = scene.render_prototype(np.zeros(26), view="[001]", window_size=(300, 300), legend=False)
    assert not strong_red(img).any()
    assert not strong_blue(img).any()
    rgb = img[..., :3].astype(int)
    gold = (rgb[..., 0] > 180) & (rgb[..., 1] > 120) & (rgb[..., 2] < 80)
    assert gold.sum() > 100  # the migrating atom is there


def test_transparent_background_render():
    img = scene.render_prototype(np.zeros(26), window_size=(100, 100), transparent=True, legend=False)
    assert img.shape == (100, 100, 4)
    assert img[0, 0, 3] == 0  # background corner
    assert img[..., 3].max() == 255  # the migrating atom


# ------------------------------------------------------------------ sheets
def test_prototype_sheet_layout_order_and_labels():
    rng = np.random.default_rng(0)
    weights = np.array([0.1, -0.9, 0.5, 0.05, 0.3, -0.2, 0.7, 0.0, 0.4, -0.6, 0.15])
    sheets = scene.prototype_sheet((rng.normal(size=(11, 26)), weights), per_sheet=8, panel_size=80)
    try:
        assert [pl.shape for pl in sheets] == [(8, 4), (3, 4)]
        assert sheets[0].window_size == [320, 640]
        labels = []
        for pl in sheets:
            for r in range(pl.shape[0]):
                ren = pl.renderers[r * 4]
                texts = [a.GetInput() for a in ren.GetActors2D() if hasattr(a, "GetInput")]
                labels += [t for t in texts if t.startswith("(")]
        expected = [f"({k + 1})" for k in np.argsort(-np.abs(weights), kind="stable")]
        assert [t.split()[0] for t in labels] == expected
        assert "\u03b2 = -0.900 eV" in labels[0]
        head = [a.GetInput() for a in sheets[0].renderers[3].GetActors2D() if hasattr(a, "GetInput")]
        assert "[031]" in head
        for ren in sheets[0].renderers:
            assert ren.GetUseDepthPeeling()
    finally:
        for pl in sheets:
            pl.close()


def test_prototype_sheet_images_by_index():
    c = np.zeros((3, 26))
    imgs = scene.prototype_sheet((c, [1.0, 2.0, 3.0]), order="index", per_sheet=2, panel_size=50, images=True)
    assert [i.shape for i in imgs] == [(100, 200, 3), (50, 200, 3)]


# ------------------------------------------------------------------ lattice figure
def test_lattice_plotter_renders_each_surface():
    for surface in (None, "100", "110", "111"):
        pl = lattice_scene.lattice_plotter(surface, window_size=(200, 200))
        img = pl.screenshot(None, return_img=True)
        pl.close()
        assert img.shape == (200, 200, 3)
        assert (img.reshape(-1, 3) < 200).any(axis=1).mean() > 0.1  # something was drawn


def test_lattice_plotter_rejects_unknown_surface():
    with pytest.raises(ValueError, match="surface"):
        lattice_scene.lattice_plotter("211")


# ------------------------------------------------------------------ reference images
def test_reference_prototype_image(two_sign_values):
    v = two_sign_values.copy()
    v[[0, 8, 12, 24]] = [0.6, -1.2, 1.6, -0.4]
    img = scene.render_prototype(v, view="[031]", window_size=(300, 300), title="(1)  \u03b2 = +0.100 eV")
    compare_with_reference(img, "prototype_031.png")


def test_reference_lattice_image():
    pl = lattice_scene.lattice_plotter("100", window_size=(300, 300))
    img = pl.screenshot(None, return_img=True)
    pl.close()
    compare_with_reference(img, "lattice_100.png")


def test_reference_sheet_image():
    rng = np.random.default_rng(3)
    imgs = scene.prototype_sheet((rng.normal(0, 1.2, size=(2, 26)), [0.2, -0.4]), panel_size=140, images=True)
    compare_with_reference(imgs[0], "sheet_2x4.png")
