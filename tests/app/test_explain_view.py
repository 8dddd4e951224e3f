"""The Explain view's state object and layout, driven without a browser."""

from __future__ import annotations

import numpy as np
import panel as pn
import pytest
from bokeh.models import ColumnDataSource

from rbfviz.app.explain import THUMBS, ExplainState, ExplainView
from rbfviz.app.state import AppState
from rbfviz.app.workspace import Workspace
from rbfviz.data.datasets import Dataset
from rbfviz.explain import rows_in_range


@pytest.fixture
def explainer(tmp_path, tiny_models):
    state = AppState(workspace=Workspace(folder=str(tmp_path / "ws")), bundled_dir=str(tiny_models))
    rng = np.random.default_rng(0)
    data = Dataset(X=rng.choice([-1.0, 1.0], size=(300, 26)), y=rng.uniform(0.0, 1.2, size=300), surface="100")
    return ExplainState(state=state, uploaded=data)


def _predict(explainer, role, occupation):
    return explainer.state.entry(getattr(explainer, role)).model.predict(np.asarray(occupation)[None])[0]


def test_defaults_pick_a_pruned_network_and_its_parent(explainer):
    st = explainer.state
    pruned = st.entry(explainer.pruned)
    assert pruned.kind == "pruned"
    assert explainer.large == pruned.metadata["parent_hash"]
    assert set(explainer.explanation.predictions) == {"large", "pruned"}


def test_toggle_updates_the_explanation(explainer):
    before = explainer.explanation
    explainer.toggle(3)
    assert explainer.occupation[2] == 1 and explainer.row == -1
    after = explainer.explanation
    assert after is not before
    for role in ("large", "pruned"):
        assert abs(after.predictions[role] - _predict(explainer, role, explainer.occupation)) < 1e-6
        assert abs(after.splits[role].total - after.predictions[role]) < 1e-12
    with pytest.raises(ValueError, match="`site` must be in"):
        explainer.toggle(27)


def test_row_and_range_search(explainer):
    data = explainer.uploaded
    explainer.set_row(42)
    assert explainer.occupation == data.X[42].astype(int).tolist()
    assert explainer.data_barrier() == data.y[42]
    assert explainer.explanation.nearest[0] == {
        "row": 42,
        "distance": 0,
        "barrier_ev": data.y[42],
        "sites": [],
    }
    explainer.param.update(low=0.3, high=0.35)
    assert explainer.search() == rows_in_range(data.y, 0.3, 0.35, 200).tolist()
    with pytest.raises(ValueError, match="`row` must be in"):
        explainer.set_row(300)


def test_view_renders_and_follows_edits(explainer):
    view = ExplainView(explainer=explainer)
    assert isinstance(view.__panel__(), pn.Column)
    source: ColumnDataSource = view._source
    assert len(source.data["value"]) == explainer.state.entry(explainer.pruned).num_centroids
    # a click on a site's "occupied" cell toggles it, and the table, chart and tables follow
    view._on_site_click(type("Click", (), {"row": 4, "column": "site"})())
    assert explainer.occupation[4] == -1
    view._on_site_click(type("Click", (), {"row": 4, "column": "occupied"})())
    assert explainer.occupation[4] == 1 and bool(view._sites.value.loc[4, "occupied"])
    split = explainer.explanation.splits["pruned"]
    assert sorted(source.data["value"]) == sorted(split.contributions.tolist())
    assert source.data["value"] == sorted(source.data["value"])  # bottom-up: the largest push on top
    assert f"{explainer.explanation.predictions['pruned']:.4f} eV" in view._summary.object
    assert len(view._symmetry.value) == 5 and len(view._nearest.value) == explainer.k_nearest
    # clicking a nearest row loads it
    row = int(view._nearest.value.iloc[1]["row"])
    view._on_row_click(view._nearest, type("Click", (), {"row": 1})())
    assert explainer.row == row


def test_thumbnails_only_once_shown(explainer):
    view = ExplainView(explainer=explainer)
    assert len(view._thumbs.objects) == 0
    view.active = True
    assert len(view._thumbs.objects) == THUMBS


def test_without_data_rows_are_refused_and_the_view_says_so(explainer):
    explainer.uploaded = None  # the tiny bundled networks come without their data
    with pytest.raises(ValueError, match="no data set"):
        explainer.set_row(0)
    assert explainer.search() == [] and explainer.explanation.nearest == []
    view = ExplainView(explainer=explainer)
    assert "no data set" in view._summary.object
    view._guard(explainer.set_row, 0)
    assert view._message.object.startswith("**Error:** no data set")
