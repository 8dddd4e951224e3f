"""The dashboard in headless chromium (Debian's /usr/bin/chromium through pytest-playwright).

Each test serves a fresh app on a free 127.0.0.1 port with six tiny 'bundled' networks (see
``tests/conftest.py``) and a private workspace.  Screenshots of the main views are written to
``assets/screenshots/``.  Run with ``python -m pytest -m browser tests/browser``.
"""
from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "assets" / "screenshots"
VIEWPORT = {"width": 1300, "height": 900}


# --------------------------------------------------------------------------- helpers
@pytest.fixture
def app_url(serve_app, tiny_models, tmp_path):
    from rbfviz.app.main import create_app

    return serve_app(lambda: create_app(workspace=tmp_path / "ws", bundled_dir=tiny_models))


@pytest.fixture
def app(page, app_url):
    """The page, opened on the dashboard and painted."""
    page.set_viewport_size(VIEWPORT)
    t0 = time.monotonic()
    page.goto(app_url)
    page.get_by_text("tiny pruned 110").first.wait_for(timeout=30_000)
    page.first_paint_s = time.monotonic() - t0
    return page


def show_tab(page, name):
    page.locator(".bk-tab", has_text=name).click()


def red_blue_pixels(png: bytes) -> tuple[int, int]:
    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    red = ((a[..., 0] > 150) & (a[..., 1] < 100) & (a[..., 2] < 100)).sum()
    blue = ((a[..., 2] > 150) & (a[..., 0] < 100) & (a[..., 1] < 100)).sum()
    return int(red), int(blue)


def wait_for_scenes(page, container: str, count: int, timeout=60_000):
    canvases = page.locator(f"{container} canvas")
    canvases.nth(count - 1).wait_for(state="visible", timeout=timeout)
    page.wait_for_timeout(1500)  # let vtk.js draw
    return canvases


def save_screenshot(page, name: str, full_page=True):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def set_number(page, css: str, value):
    box = page.locator(f"{css} input")
    box.fill(str(value))
    box.press("Enter")


def text_of(page, css: str) -> str:
    """Visible text of a Panel component (its content lives in a shadow root)."""
    return page.locator(css).first.evaluate(
        "e => Array.from((e.shadowRoot || e).children).filter(c => !['STYLE', 'LINK'].includes(c.tagName))"
        ".map(c => c.innerText).join(' ')")


def wait_for_text(page, css: str, needle: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        text = text_of(page, css)
        if needle in text:
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not in {css} after {timeout_s} s: {text!r}")
        page.wait_for_timeout(100)


def progress_value(page, css: str) -> float:
    v = page.locator(f"{css} progress").get_attribute("value")
    return float(v) if v not in (None, "") else 0.0


# --------------------------------------------------------------------------- tests
def test_starts_and_draws_prototype_scenes(app):
    page = app
    assert page.first_paint_s < 15, f"first paint took {page.first_paint_s:.1f} s"
    save_screenshot(page, "networks.png", full_page=False)
    show_tab(page, "Prototypes")
    wait_for_scenes(page, ".rbf-proto-grid", 8)
    red, blue = red_blue_pixels(page.locator(".rbf-proto-grid").screenshot())
    assert red > 2000 and blue > 2000, (red, blue)
    page.locator(".rbf-proto-caption button").nth(2).click()  # enlarge the third prototype
    page.get_by_text("Prototype (2)").first.wait_for(timeout=30_000)
    save_screenshot(page, "prototypes.png")


def test_train_then_prune_shows_prototypes(app):
    page = app
    show_tab(page, "Train")
    set_number(page, ".rbf-rows", 2000)
    set_number(page, ".rbf-k", 16)
    set_number(page, ".rbf-max-epochs", 25)
    page.locator(".rbf-train-start button").click()
    seen = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        seen.add(progress_value(page, ".rbf-train-progress"))
        if "done" in text_of(page, ".rbf-train-status"):
            break
        page.wait_for_timeout(100)
    status = text_of(page, ".rbf-train-status")
    assert "done: 25 epochs" in status, status
    assert progress_value(page, ".rbf-train-progress") == 1000
    assert any(0 < v < 1000 for v in seen), f"progress never seen between 0 and max: {sorted(seen)}"
    page.wait_for_timeout(2500)  # the final chart (rbfviz.charts.training_curves) replaces the live one
    save_screenshot(page, "train.png", full_page=False)

    show_tab(page, "Networks")
    page.get_by_text("session").first.wait_for(timeout=10_000)

    show_tab(page, "Prune")
    select = page.locator(".rbf-prune-network select")
    labels = select.evaluate("s => Array.from(s.options).map(o => o.text)")  # waits for the tab to render
    mine = [t for t in labels if "K=16" in t]
    assert mine, labels
    select.select_option(label=mine[0])
    set_number(page, ".rbf-m", 4)
    set_number(page, ".rbf-restarts", 2)
    set_number(page, ".rbf-prune-maxit", 300)
    page.locator(".rbf-prune-start button").click()
    wait_for_text(page, ".rbf-prune-status", "done", 120)
    save_screenshot(page, "prune.png", full_page=False)

    show_tab(page, "Prototypes")
    page.wait_for_timeout(500)
    assert "K=4" in page.locator(".rbf-proto-network select").evaluate("s => s.options[s.selectedIndex].text")
    wait_for_scenes(page, ".rbf-proto-grid", 4)
    assert page.locator(".rbf-proto-grid .rbf-scene").count() == 4
    red, blue = red_blue_pixels(page.locator(".rbf-proto-grid").screenshot())
    assert red + blue > 2000, (red, blue)


def test_cancel_stops_training(app):
    page = app
    show_tab(page, "Train")
    set_number(page, ".rbf-rows", 2000)
    set_number(page, ".rbf-k", 16)
    set_number(page, ".rbf-max-epochs", 5000)
    page.locator(".rbf-train-start button").click()
    wait_for_text(page, ".rbf-train-status", "epoch", 60)
    page.locator(".rbf-train-cancel button").click()
    status = wait_for_text(page, ".rbf-train-status", "cancelled", 30)
    epochs = int(status.split(":")[1].split("epochs")[0])
    assert epochs < 5000
    assert page.locator(".rbf-train-start button").is_enabled()


def test_compare_shows_three_surfaces(app):
    page = app
    show_tab(page, "Compare")
    wait_for_scenes(page, ".rbf-compare-columns", 3)
    assert page.locator(".rbf-compare-columns .rbf-scene").count() == 3
    for s in ("(100)", "(110)", "(111)"):
        page.get_by_text(s).first.wait_for(timeout=10_000)
    red, blue = red_blue_pixels(page.locator(".rbf-compare-columns").screenshot())
    assert red > 1000 and blue > 1000, (red, blue)
    save_screenshot(page, "compare.png")


def test_export_downloads_png_and_pdf(app):
    page = app
    show_tab(page, "Export")
    set_number(page, ".rbf-export-dpi", 100)
    with page.expect_download(timeout=60_000) as dl:
        page.locator(".rbf-export-download button").click()
    png = Path(dl.value.path()).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n", png[:16]
    assert dl.value.suggested_filename.endswith(".png")
    page.locator(".rbf-export-format button", has_text="pdf").click()
    page.wait_for_timeout(300)
    with page.expect_download(timeout=60_000) as dl:
        page.locator(".rbf-export-download button").click()
    pdf = Path(dl.value.path()).read_bytes()
    assert pdf[:5] == b"%PDF-", pdf[:16]
    assert dl.value.suggested_filename.endswith(".pdf")
    save_screenshot(page, "export.png", full_page=False)


def test_malformed_upload_shows_error(app):
    page = app
    page.locator(".rbf-model-upload input[type=file]").set_input_files(
        files=[{"name": "broken.safetensors", "mimeType": "application/octet-stream", "buffer": b"\x00not a model" * 8}])
    text = wait_for_text(page, ".rbf-networks-message", "broken.safetensors", 20)
    assert "not a usable model file" in text
    origins = page.locator(".rbf-networks-table .tabulator-cell[tabulator-field=origin]").all_inner_texts()
    assert origins and set(origins) == {"bundled"}, origins
    save_screenshot(page, "networks-upload-error.png", full_page=False)
