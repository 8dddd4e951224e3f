"""The app's use of the scenes and exports, without a browser: the pane sends every viewport on
every update, the views update their one scene in place, and exports of any page or chosen set
come back as the files the library writes (read back with a second reader)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

pytest.importorskip("panel")


@pytest.fixture
def app(tmp_path, tiny_models):
    from rbfviz.app.main import create_app

    return create_app(workspace=tmp_path / "ws", bundled_dir=tiny_models)


def _renderer_calls(scene_json) -> int:
    return sum(1 for name, _ in scene_json.get("calls", []) if name == "addRenderer")


def test_scene_pane_resends_every_viewport_on_update():
    """Panel sends only new children on an update, but its browser side rebuilds the window and
    re-adds just the first renderer; ScenePane must list all renderers every time."""
    from bokeh.document import Document

    from rbfviz.app.live_scene import scene_pane
    from rbfviz.viz.prototype_scene import PrototypeScene

    scene = PrototypeScene(3, panel_size=40, resolution=6)
    try:
        scene.show([(np.ones(26), "a")] * 3)
        pane = scene_pane(scene, "t")
        model = pane.get_root(Document())
        first = _renderer_calls(model.scene)
        assert first >= 3  # the three viewports (and PyVista's background layer)
        scene.show([(-np.ones(26), "b")])
        pane._update(None, model)
        assert _renderer_calls(model.scene) == first
        assert {a["UpperLeft"] for a in model.annotations} == {"b", ""}
    finally:
        scene.close()


def test_prototypes_view_keeps_its_panes_through_selections(app):
    view = app.views["Prototypes"]
    app.show("Prototypes")
    page_pane, detail_pane = view._page_scene.pane, view._detail_scene.pane
    before = view._page_scene.scene.site_rgba(0)[:, 3] / 255
    b = view.browser
    for key in list(b.choices().values())[:3]:
        b.network = key
    b.order = "index"
    b.selected = b.page_indices()[1]
    b.view = "[1-10]"
    assert view._page_scene.pane is page_pane and view._detail_scene.pane is detail_pane
    assert view._grid.objects[0].objects[0] is page_pane  # never replaced in the layout
    p = b.prototypes()
    shown = view._page_scene.scene.site_rgba(0)[:, 3] / 255
    from rbfviz.viz.prototypes import opacity

    np.testing.assert_allclose(shown, opacity(p.centroids[b.page_indices()[0]]), atol=1 / 255)
    assert not np.allclose(shown, before)
    assert view._detail_scene.pane.camera["focalPoint"] is not None


def test_hidden_tab_sends_nothing_until_shown(app):
    view = app.views["Prototypes"]
    app.show("Prototypes")
    app.show("Networks")
    assert not view.active
    b = view.browser
    b.network = list(b.choices().values())[1]
    assert view._page_scene.dirty  # waiting for the tab
    app.show("Prototypes")
    assert not view._page_scene.dirty


def test_compare_shows_rank_and_surfaces_in_one_scene(app):
    from rbfviz.viz.prototypes import opacity, prototype_by_rank

    view = app.views["Compare"]
    app.show("Compare")
    c = view.comparison
    pane = view._live.pane
    c.rank = 2
    assert view._live.pane is pane
    for k, key in enumerate(c.networks):
        values, _, _ = prototype_by_rank(c.state.entry(key).model, 2)
        got = view._live.scene.site_rgba(k)[:, 3] / 255
        np.testing.assert_allclose(got, opacity(values), atol=1 / 255)
        assert view._live.scene._surface[k][0].visibility


def test_export_any_page_or_chosen_set_as_csv_and_xyz(app):
    import ase.io
    import pandas as pd

    s = app.views["Export"].settings
    s.network = next(k for k in s.state.keys("pruned"))
    name = s.state.entry(s.network).metadata["name"]
    model = s.state.entry(s.network).model
    centroids = model.centroids.detach().numpy()

    s.figure, s.chosen = "table", "2, 5"
    assert s.filename.startswith(name.replace(" ", "_")) and s.filename.endswith("prototypes-2_5.csv")
    df = pd.read_csv(io.BytesIO(s.render()))
    assert sorted(df["prototype"].unique()) == [2, 5]
    np.testing.assert_allclose(df[df["prototype"] == 5]["value"], centroids[4], rtol=1e-6)

    s.figure, s.chosen, s.page = "xyz", "", 1
    with zipfile.ZipFile(io.BytesIO(s.render())) as zf:
        names = zf.namelist()
        assert len(names) == 8
        first = names[0]
        atoms = ase.io.read(io.StringIO(zf.read(first).decode()), format="extxyz")
    i = int(first.split("_")[1].split(".")[0]) - 1
    np.testing.assert_allclose(atoms.arrays["value"][:26], centroids[i], rtol=1e-6)


def test_failed_export_raises_instead_of_an_empty_download(app):
    view = app.views["Export"]
    s = view.settings
    s.network = next(k for k in s.state.keys("pruned"))
    s.figure, s.chosen = "table", "99"
    with pytest.raises(ValueError, match="prototypes 1 to"):
        view._bytes()
    assert "Error" in s.message


def test_lattice_view_draws_figure2_with_explained_groups(app):
    view = app.views["Lattice"]
    assert view._image.object is None  # nothing before the tab is shown
    app.show("Lattice")
    assert view._image.object[:4] == b"\x89PNG"
    table = view._table.value
    assert len(table) == 26 and table["group meaning"].str.len().min() > 10
    assert not table["group meaning"].str.contains("1-10").any()  # written [1̅10] / (1̅10)
