"""examples/explain_a_network.ipynb runs top to bottom (nbclient), and the app's views render in it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "explain_a_network.ipynb"
PANEL_MIME = "application/vnd.holoviews_exec.v0+json"  # what a Panel object displays as in Jupyter


@pytest.mark.slow
def test_notebook_runs_and_views_render(monkeypatch, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # the kernel imports this checkout's rbfviz and keeps its caches in the test's folders
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": tmp_path}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, if any cell fails
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "pruned" in text and "offset (m + s·α)" in text and "cu100.onnx" in text
    views = [c for c in nb.cells if c.cell_type == "code" and "View(" in c.source.splitlines()[-1]]
    assert len(views) == 2
    for cell in views:  # ExplainView and NetworksView
        assert any(PANEL_MIME in o.get("data", {}) for o in cell.outputs), f"did not render: {cell.source[-40:]}"
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, "the prototype image is missing"
