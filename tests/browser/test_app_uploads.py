"""Uploads in a real browser: a hostile network name stays text, an oversized file gets a message.

Served like tests/browser/test_dashboard.py (a fresh app per test on a free 127.0.0.1 port).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

XSS_NAME = '<img src=x onerror="window.__rbfviz_xss = 1">'


@pytest.fixture
def page_app(page, serve_app, tiny_models, tmp_path):
    from rbfviz.app.main import create_app

    url = serve_app(lambda: create_app(workspace=tmp_path / "ws", bundled_dir=tiny_models))
    page.set_viewport_size({"width": 1300, "height": 900})
    page.goto(url)
    page.get_by_text("tiny pruned 110").first.wait_for(timeout=30_000)
    return page


def test_network_name_with_html_is_shown_as_text(page_app, tmp_path):
    from rbfviz.core.model import RBFN
    from rbfviz.core.store import save_model

    page = page_app
    net = RBFN(26, 5, seed=1)
    net.metadata.update(kind="trained", surface="100", name=XSS_NAME)
    path = tmp_path / "xss.safetensors"
    save_model(net, path)
    page.locator(".rbf-model-upload input[type=file]").set_input_files(
        files=[{"name": "xss.safetensors", "mimeType": "application/octet-stream", "buffer": path.read_bytes()}]
    )
    message = page.locator(".rbf-networks-message")
    message.get_by_text("Added").first.wait_for(timeout=30_000)
    message.get_by_text("<img src=x", exact=False).first.wait_for(timeout=10_000)  # shown literally ...
    page.locator(".rbf-networks-table").get_by_text("<img src=x", exact=False).first.wait_for(
        timeout=10_000
    )  # ... in the table
    page.locator(".bk-tab", has_text="Prune").click()
    labels = page.locator(".rbf-prune-network select").evaluate("s => Array.from(s.options).map(o => o.text)")
    assert any(label.startswith("<img") for label in labels), labels
    assert page.evaluate("window.__rbfviz_xss") is None  # no markup from the name ever ran
    assert page.locator("img[src=x]").count() == 0


def test_upload_over_the_limit_gets_a_message_and_the_page_stays_connected(page_app, tmp_path):
    from rbfviz.app.state import MAX_UPLOAD_BYTES

    page = page_app
    big = tmp_path / "big.safetensors"
    with open(big, "wb") as fh:  # sparse: no 51 MB buffer in this process
        fh.truncate(MAX_UPLOAD_BYTES + 2**20)
    page.locator(".rbf-model-upload input[type=file]").set_input_files(str(big))
    page.locator(".rbf-model-upload").get_by_text("too large", exact=False).first.wait_for(timeout=30_000)
    page.screenshot(path=str(tmp_path / "too-large.png"))
    page.locator(".bk-tab", has_text="Prune").click()  # the session still answers
    page.locator(".rbf-prune-network select").wait_for(timeout=10_000)
