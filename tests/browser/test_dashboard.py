"""The dashboard in headless chromium (Debian's /usr/bin/chromium through pytest-playwright).

Each test serves a fresh app on a free 127.0.0.1 port with six tiny 'bundled' networks (see
``tests/conftest.py``) and a private workspace.  Screenshots of the main views are written to
``assets/screenshots/``.  Run with ``python -m pytest -m browser tests/browser``.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rbfviz.app.workspace import bundled_models_dir

pytestmark = pytest.mark.browser

# The README's screenshots are rewritten only on request (RBFVIZ_UPDATE_SCREENSHOTS=1); otherwise
# the shots go to a temporary folder so a test run leaves the tracked files alone.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "assets" / "screenshots"
    if os.environ.get("RBFVIZ_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "rbfviz-screenshots"
)
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


def wait_for_scenes(page, container: str, count: int, timeout=60_000, coloured: int = 500):
    """Wait until ``count`` canvases are visible in ``container`` and it shows red or blue spheres."""
    canvases = page.locator(f"{container} canvas")
    canvases.nth(count - 1).wait_for(state="visible", timeout=timeout)
    deadline = time.monotonic() + timeout / 1000
    while sum(red_blue_pixels(page.locator(container).first.screenshot())) < coloured:
        if time.monotonic() > deadline:
            raise AssertionError(f"{container} never drew its spheres")
        page.wait_for_timeout(100)
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
        ".map(c => c.innerText).join(' ')"
    )


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
    print(f"first paint (in-process server): {page.first_paint_s:.1f} s")
    t0 = time.monotonic()
    save_screenshot(page, "tiny-networks.png", full_page=False)
    show_tab(page, "Prototypes")
    wait_for_scenes(page, ".rbf-proto-page-scene", 1)  # the page of 8 is one scene
    print(f"Prototypes tab: page scene drawn {time.monotonic() - t0:.1f} s after the click")
    red, blue = red_blue_pixels(page.locator(".rbf-proto-page-scene").screenshot())
    assert red > 2000 and blue > 2000, (red, blue)
    page.locator(".rbf-proto-caption button").nth(2).click()  # enlarge the third prototype
    page.get_by_text("Prototype (2)").first.wait_for(timeout=30_000)
    save_screenshot(page, "tiny-prototypes.png")


def test_train_then_prune_shows_prototypes(app):
    page = app
    show_tab(page, "Train")
    set_number(page, ".rbf-rows", 20000)  # enough work to watch the bar move
    set_number(page, ".rbf-k", 64)
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
    for _ in range(50):  # the last progress update may arrive just after the status text
        if progress_value(page, ".rbf-train-progress") == 1000:
            break
        page.wait_for_timeout(100)
    assert progress_value(page, ".rbf-train-progress") == 1000
    assert any(0 < v < 1000 for v in seen), f"progress never seen between 0 and max: {sorted(seen)}"
    page.wait_for_function(  # the final chart (rbfviz.charts.training_curves) replaces the live one
        "Array.from(window.Bokeh.index.query((v) => v.model && v.model.title))"
        ".some((v) => v.model.title.text === 'Training curves')",  # Figures' titles (widgets' are strings)
        timeout=60_000,
    )
    save_screenshot(page, "train.png", full_page=False)

    show_tab(page, "Networks")
    page.get_by_text("session").first.wait_for(timeout=10_000)

    show_tab(page, "Prune")
    select = page.locator(".rbf-prune-network select")
    labels = select.evaluate("s => Array.from(s.options).map(o => o.text)")  # waits for the tab to render
    mine = [t for t in labels if "K=64" in t]
    assert mine, labels
    select.select_option(label=mine[0])
    set_number(page, ".rbf-m", 4)
    set_number(page, ".rbf-restarts", 2)
    set_number(page, ".rbf-prune-maxit", 300)
    page.locator(".rbf-prune-start button").click()
    wait_for_text(page, ".rbf-prune-status", "done", 120)
    save_screenshot(page, "prune.png", full_page=False)

    show_tab(page, "Prototypes")
    chosen = page.locator(".rbf-proto-network select")
    deadline = time.monotonic() + 60
    while "K=4" not in chosen.evaluate("s => s.selectedIndex < 0 ? '' : s.options[s.selectedIndex].text"):
        assert time.monotonic() < deadline, "the new pruned network was never chosen in Prototypes"
        page.wait_for_timeout(100)
    wait_for_scenes(page, ".rbf-proto-page-scene", 1)
    assert page.locator(".rbf-proto-caption:visible").count() == 4  # four prototypes, four captions
    red, blue = red_blue_pixels(page.locator(".rbf-proto-page-scene").screenshot())
    assert red + blue > 2000, (red, blue)


def test_cancel_stops_training(app):
    page = app
    show_tab(page, "Train")
    set_number(page, ".rbf-rows", 2000)
    set_number(page, ".rbf-k", 16)
    set_number(page, ".rbf-max-epochs", 5000)
    page.locator(".rbf-train-start button").click()
    wait_for_text(page, ".rbf-train-status", "epoch", 60)
    t0 = time.monotonic()  # the page answers while training runs
    show_tab(page, "Networks")
    page.get_by_text("tiny trained 111").first.wait_for(timeout=10_000)
    answered = time.monotonic() - t0
    print(f"tab switch during training answered in {answered:.2f} s")
    assert answered < 5
    show_tab(page, "Train")
    page.locator(".rbf-train-cancel button").click()
    status = wait_for_text(page, ".rbf-train-status", "cancelled", 30)
    epochs = int(status.split(":")[1].split("epochs")[0])
    assert epochs < 5000
    assert page.locator(".rbf-train-start button").is_enabled()


def test_compare_shows_three_surfaces(app):
    page = app
    show_tab(page, "Compare")
    wait_for_scenes(page, ".rbf-compare-scene", 1)  # one scene, a viewport per network
    assert page.locator(".rbf-compare-columns .rbf-scene").count() == 1
    red, blue = red_blue_pixels(page.locator(".rbf-compare-scene").screenshot())
    assert red > 1000 and blue > 1000, (red, blue)
    save_screenshot(page, "tiny-compare.png")
    # one shared camera: dragging in the first viewport turns the third one too
    scene = page.locator(".rbf-compare-scene")

    def third():
        img = np.asarray(Image.open(io.BytesIO(scene.screenshot())).convert("L")).astype(int)
        w = img.shape[1] // 4
        return img[:, 2 * w : 3 * w]

    before = third()
    box = scene.bounding_box()
    cx, cy = box["x"] + box["width"] / 8, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(cx + 12 * step, cy + 4 * step)
    page.mouse.up()
    deadline = time.monotonic() + 30
    while (changed := (np.abs(third() - before) > 40).mean()) <= 0.02 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert changed > 0.02, f"third scene did not follow the first one's camera ({changed:.3%} pixels changed)"
    # the wheel over a scene scrolls the page; after a click in the scene it zooms the scene instead
    page.mouse.click(10, 10)  # a click outside: no scene has focus
    page.evaluate("window.scrollTo(0, 0)")
    shown = third()
    box = scene.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 8, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 400)
    deadline = time.monotonic() + 30
    while page.evaluate("document.scrollingElement.scrollTop") == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert page.evaluate("document.scrollingElement.scrollTop") > 0, "the wheel did not scroll the page"
    assert (np.abs(third() - shown) > 40).mean() < 0.01, "the wheel zoomed a scene that had no focus"


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
    page.locator(".rbf-export-format button.bk-active", has_text="pdf").wait_for(timeout=30_000)
    with page.expect_download(timeout=60_000) as dl:
        page.locator(".rbf-export-download button").click()
    pdf = Path(dl.value.path()).read_bytes()
    assert pdf[:5] == b"%PDF-", pdf[:16]
    assert dl.value.suggested_filename.endswith(".pdf")
    save_screenshot(page, "export.png", full_page=False)


def test_malformed_upload_shows_error(app):
    page = app
    page.locator(".rbf-model-upload input[type=file]").set_input_files(
        files=[{"name": "broken.safetensors", "mimeType": "application/octet-stream", "buffer": b"\x00not a model" * 8}]
    )
    # "Reading broken.safetensors…" comes first: wait for the verdict
    text = wait_for_text(page, ".rbf-networks-message", "not a usable model file", 60)
    assert "broken.safetensors" in text, text
    origins = page.locator(".rbf-networks-table .tabulator-cell[tabulator-field=origin]").all_inner_texts()
    assert origins and set(origins) == {"bundled"}, origins
    save_screenshot(page, "networks-upload-error.png", full_page=False)


def test_two_tabs_train_their_own_networks(app, app_url):
    first = app
    second = first.context.new_page()
    second.set_viewport_size(VIEWPORT)
    second.goto(app_url)
    second.get_by_text("tiny pruned 110").first.wait_for(timeout=30_000)
    for page, k in ((first, 6), (second, 7)):
        show_tab(page, "Train")
        set_number(page, ".rbf-rows", 1000)
        set_number(page, ".rbf-k", k)
        set_number(page, ".rbf-max-epochs", 8)
    for page in (first, second):  # both run at once
        page.locator(".rbf-train-start button").click()
    for page, k in ((first, 6), (second, 7)):
        status = wait_for_text(page, ".rbf-train-status", "done", 90)
        assert f"K={k}" in status, status
        show_tab(page, "Networks")
        page.get_by_text("session").first.wait_for(timeout=10_000)
        ks = page.locator(".rbf-networks-table .tabulator-cell[tabulator-field=K]").all_inner_texts()
        assert sorted(ks) == sorted(["8"] * 3 + ["24"] * 3 + [str(k)]), ks  # its own network only
    second.close()


def test_launcher_serves_dashboard(page, tiny_models, tmp_path):
    import queue
    import re
    import subprocess
    import sys
    import threading

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [
            sys.executable,
            str(root / "launch.py"),
            "--port",
            "0",  # a free one, printed in the first line
            "--no-browser",
            "--workspace",
            str(tmp_path / "ws"),
            "--models",
            str(tiny_models),
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        printed = []
        while not any("rbfviz dashboard on" in line for line in printed):
            try:
                printed.append(lines.get(timeout=60))
            except queue.Empty:
                raise AssertionError(f"the launcher printed no address: {printed}, exit code {proc.poll()}") from None
        url = re.search(r"http://127\.0\.0\.1:(\d+)", printed[-1])
        assert url, printed[-1]
        page.set_viewport_size(VIEWPORT)
        t0 = time.monotonic()
        page.goto(url.group(0))
        page.get_by_text("tiny pruned 111").first.wait_for(timeout=60_000)
        print(f"launcher first paint: {time.monotonic() - t0:.1f} s")
        # a second launcher on the same port refuses clearly instead of dying silently
        out = subprocess.run(
            [sys.executable, str(root / "launch.py"), "--port", url.group(1), "--no-browser"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 2 and "in use" in out.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=20)


BUNDLED = bundled_models_dir()


@pytest.mark.skipif(not any(BUNDLED.glob("*-m16.safetensors")), reason="no bundled networks in assets/models")
def test_opens_with_the_bundled_networks(page, serve_app, tmp_path):
    """The default dashboard lists the bundled networks and draws their prototypes and the
    three-surface comparison (the README's screenshots come from here)."""
    from rbfviz.app.main import create_app

    page.set_viewport_size(VIEWPORT)
    url = serve_app(lambda: create_app(workspace=tmp_path / "ws"))
    page.goto(url)
    for surface in ("100", "110", "111"):
        page.get_by_text(f"cu{surface}-k4096-m16").first.wait_for(timeout=30_000)
    save_screenshot(page, "networks.png", full_page=False)
    show_tab(page, "Prototypes")
    wait_for_scenes(page, ".rbf-proto-page-scene", 1)
    red, blue = red_blue_pixels(page.locator(".rbf-proto-page-scene").screenshot())
    assert red > 2000 and blue > 2000, (red, blue)
    page.locator(".rbf-proto-caption button").nth(0).click()
    page.get_by_text("Prototype (").first.wait_for(timeout=30_000)
    wait_for_scenes(page, ".rbf-proto-detail-scene", 1)
    save_screenshot(page, "prototypes.png")
    show_tab(page, "Compare")  # the same page: one WebGL context per 3D area, three in all
    wait_for_scenes(page, ".rbf-compare-scene", 1)
    red, blue = red_blue_pixels(page.locator(".rbf-compare-scene").screenshot())
    assert red + blue > 2000, (red, blue)  # the top prototypes of these networks are mostly red
    save_screenshot(page, "compare.png")
