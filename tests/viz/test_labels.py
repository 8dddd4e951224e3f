"""Site numbers as geometry (rbfviz.viz.labels) and the live scenes' label toggle.

Positions are checked against rbfviz.data.lattice's site positions and the viewpoint directions
of rbfviz.data.lattice.VIEWPOINTS; pixels against the site centres projected by VTK.
"""

import os

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import numpy as np
import pytest

from rbfviz.data.lattice import DEFAULT_SITES, VIEWPOINTS
from rbfviz.viz import labels
from rbfviz.viz.prototype_scene import PrototypeScene
from rbfviz.viz.render import SITE_RADIUS
from rbfviz.viz.scenes import project_to_pixels

VALUES = np.random.default_rng(1).normal(0, 1.5, 26)


def screen_frame(view):
    """(right, up, toward the viewer) of a named view, written out again: up is [001] projected,
    or [1̅10] when looking along [001]."""
    toward = np.asarray(VIEWPOINTS[view], dtype=float)
    toward /= np.linalg.norm(toward)
    up = np.array([-1.0, 1.0, 0.0]) if abs(toward[2]) > 0.99 else np.array([0.0, 0.0, 1.0])
    up = up - (up @ toward) * toward
    up /= np.linalg.norm(up)
    return np.cross(up, toward), up, toward


def label_centres(mesh, view) -> dict:
    """Site -> (centre across the screen, right-up midpoints; depth) of each label, in Å."""
    right, up, toward = screen_frame(view)
    pts, site = np.asarray(mesh.points), np.asarray(mesh["site"])
    out = {}
    for s in np.unique(site):
        q = pts[site == s]
        mid = lambda a: (a.min() + a.max()) / 2
        out[int(s)] = mid(q @ right) * right + mid(q @ up) * up + mid(q @ toward) * toward
    return out


@pytest.mark.parametrize("view", list(VIEWPOINTS))
def test_each_label_stands_in_front_of_its_site_facing_the_view(view):
    right, up, toward = screen_frame(view)
    mesh = labels.site_label_mesh(view)
    centres = label_centres(mesh, view)
    assert sorted(centres) == list(range(1, 27))
    site = np.asarray(mesh["site"])
    for i, pos in enumerate(DEFAULT_SITES.positions, start=1):
        offset = centres[i] - pos
        along = offset @ toward
        assert np.linalg.norm(offset - along * toward) < 1e-6, f"site {i}: label not centred on its sphere"
        assert SITE_RADIUS < along < SITE_RADIUS + 0.3, f"site {i}: label not just in front of the sphere"
        depth = np.asarray(mesh.points)[site == i] @ toward
        assert np.ptp(depth) <= 2 * labels.LIFT + 1e-9, f"site {i}: label is not flat, facing the view"
    # the two-digit label reads across the screen: wider along the view's right than along its up
    glyphs = labels.label_mesh([(0, 0, 0)], ["26"], view=view, plate=False).points
    assert np.ptp(glyphs @ right) > 1.3 * np.ptp(glyphs @ up)


def test_label_mesh_rejects_mismatched_texts():
    with pytest.raises(ValueError, match="one text per position"):
        labels.label_mesh(DEFAULT_SITES.positions, ["1", "2"])


def _front_sites(scene, view) -> list[int]:
    """Sites whose label is not covered by a nearer site's label (the plates are all one size)."""
    toward = np.asarray(VIEWPOINTS[view], dtype=float)
    toward /= np.linalg.norm(toward)
    xy = project_to_pixels(scene.plotter, DEFAULT_SITES.positions)
    depth = DEFAULT_SITES.positions @ toward
    size = project_to_pixels(scene.plotter, [[0, 0, 0], [0.8, 0, 0]])
    sep = 1.2 * abs(size[1] - size[0]).max()
    return [
        i
        for i in range(26)
        if not any(depth[j] > depth[i] and np.abs(xy[j] - xy[i]).max() < sep for j in range(26) if j != i)
    ]


@pytest.mark.parametrize("view", ["[031]", "[001]"])
def test_off_screen_render_shows_dark_numbers_at_the_sites(view):
    scene = PrototypeScene(1, panel_size=400, resolution=12, web=False, site_labels=True, view=view)
    try:
        scene.show([(VALUES, "")])
        plain = scene.screenshot()
        scene.show_labels(True)
        shown = scene.screenshot()
        scene.show_labels(False)
        again = scene.screenshot()
        xy = project_to_pixels(scene.plotter, DEFAULT_SITES.positions)
        front = _front_sites(scene, view)
    finally:
        scene.close()
    assert np.array_equal(plain, again), "hiding the labels restores the picture"
    dark = shown[..., :3].astype(int).sum(axis=2) < 200
    new_dark = dark & ~(plain[..., :3].astype(int).sum(axis=2) < 200)
    assert new_dark.sum() > 26 * 10
    rows, cols = np.nonzero(new_dark)
    # every new dark pixel lies on some site's label (within 15 px of a projected site centre)
    d = np.hypot(cols[:, None] - xy[None, :, 0], rows[:, None] - xy[None, :, 1]).min(axis=1)
    assert d.max() < 15, f"dark label pixels {d.max():.0f} px away from every site"
    # and every label in front shows dark glyph pixels at its site
    assert len(front) >= 14
    for i in front:
        x, y = np.round(xy[i]).astype(int)
        assert new_dark[y - 8 : y + 9, x - 10 : x + 11].sum() >= 5, f"site {i + 1}: no number drawn"


def test_scene_labels_turn_with_the_view_and_follow_the_shown_slots():
    scene = PrototypeScene(2, panel_size=80, resolution=6, site_labels=True)
    try:
        scene.show([(VALUES, "a")])
        scene.show_labels(True)
        assert [a.visibility for a in scene._labels] == [True, False]  # the empty viewport shows none
        scene.set_view("[001]")
        offset = label_centres(scene.label_mesh(0), "[001]")[5] - DEFAULT_SITES.positions[4]
        np.testing.assert_allclose(offset[:2], 0, atol=1e-9)
        assert offset[2] > SITE_RADIUS
        scene.show([(VALUES, "a"), (-VALUES, "b")])
        assert [a.visibility for a in scene._labels] == [True, True]
        scene.show_labels(False)
        assert not any(a.visibility for a in scene._labels)
    finally:
        scene.close()
    plain = PrototypeScene(1, panel_size=60, resolution=6)
    try:
        with pytest.raises(ValueError, match="site_labels=True"):
            plain.show_labels(True)
    finally:
        plain.close()


def test_prototype_plotter_draws_the_same_labels():
    from rbfviz.viz.scenes import prototype_plotter

    pl = prototype_plotter(VALUES, view="[110]", window_size=(120, 120), site_labels=True)
    try:
        mesh = pl.actors["labels"].mapper.dataset
        ref = labels.site_label_mesh("[110]")
        np.testing.assert_allclose(mesh.points, ref.points)
    finally:
        pl.close()


def test_app_site_labels_toggle_changes_the_large_scene_in_place(tmp_path, tiny_models):
    """The Prototypes view's "Site labels" checkbox shows and hides the large scene's numbers
    without re-creating the scene or its pane."""
    pytest.importorskip("panel")
    from rbfviz.app.main import create_app

    app = create_app(workspace=tmp_path / "ws", bundled_dir=tiny_models)
    app.show("Prototypes")
    view = app.views["Prototypes"]
    live = view._detail_scene
    scene, pane = live.scene, live.pane
    assert not scene.labels_shown and not scene._labels[0].visibility
    view._detail_labels.value = True
    assert view._detail_scene is live and live.scene is scene and live.pane is pane
    assert scene.labels_shown and scene._labels[0].visibility
    view.browser.view = "[001]"  # the numbers turn to face the new viewpoint
    z = np.asarray(scene.label_mesh(0).points)[:, 2]
    assert z.min() > DEFAULT_SITES.positions[:, 2].min() + SITE_RADIUS
    view._detail_labels.value = False
    assert not scene._labels[0].visibility


@pytest.mark.parametrize("view", list(VIEWPOINTS))
def test_only_labels_behind_a_nearer_label_are_collapsed(view):
    right, up, toward = screen_frame(view)
    mesh = labels.site_label_mesh(view)
    pts, site = np.asarray(mesh.points), np.asarray(mesh["site"])
    collapsed = {i for i in range(1, 27) if np.ptp(pts[site == i] @ right) < 1e-9}
    plate = labels.label_mesh([(0, 0, 0)], ["26"], view=view, hide_covered=False).points  # the widest label
    half_w, half_h = np.ptp(plate @ right) / 2, np.ptp(plate @ up) / 2
    P = DEFAULT_SITES.positions
    for i in range(26):
        behind = any(
            P[j] @ toward > P[i] @ toward + 1e-6
            and abs((P[j] - P[i]) @ right) < half_w
            and abs((P[j] - P[i]) @ up) < half_h
            for j in range(26)
        )
        assert ((i + 1) in collapsed) == behind, f"site {i + 1}"
    assert len(collapsed) < 26 - 8  # the front of the cluster keeps its numbers
