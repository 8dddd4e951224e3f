"""The large prototype view's "Site labels" toggle in headless chromium: numbers appear at the sites and go.

The scene is drawn in the browser by vtk.js; labels are flat text meshes (rbfviz.viz.labels), so
turning them on must add dark glyph pixels at the sites' projected positions (projected by the
library's own off-screen copy of the same scene and camera), and turning them off must bring the
picture back.  No page error may be raised.  Screenshots go to ``$TMPDIR/rbfviz-labels/``.
Every wait is on a condition.
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.browser

SHOTS = Path(tempfile.gettempdir()) / "rbfviz-labels"
WAIT_S = 120  # generous: 2 shared cores
DETAIL = ".rbf-proto-detail-scene"
TOGGLE = ".rbf-proto-detail-labels input"
REACH = 18  # px: half a two-digit number's width, nearest labels being the largest (perspective)


def grab(page) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(page.locator(DETAIL).first.screenshot())).convert("RGB")).astype(int)


def coloured(img) -> int:
    """Strongly red or blue pixels (the prototype's spheres)."""
    red = (img[..., 0] > 150) & (img[..., 1] < 100) & (img[..., 2] < 100)
    blue = (img[..., 2] > 150) & (img[..., 0] < 100) & (img[..., 1] < 100)
    return int((red | blue).sum())


def dark(img) -> np.ndarray:
    return img.sum(axis=2) < 200


def wait_for(page, condition, what: str):
    """Poll the detail view until ``condition(image)`` holds; return that image."""
    deadline = time.monotonic() + WAIT_S
    img = None
    while time.monotonic() < deadline:
        img = grab(page)
        if condition(img):
            return img
        page.wait_for_timeout(250)
    shot(page, "FAILED-" + what)
    raise AssertionError(f"the large view never showed {what}")


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(DETAIL).first.screenshot(path=str(SHOTS / f"{name}.png"))


def site_pixels(view: str) -> np.ndarray:
    """Where each site's number should fall in the large view, (26, 2): the point just in front of
    its sphere (toward the viewer), projected by the library's scene with the camera vtk.js uses."""
    from rbfviz.app.prototypes import DETAIL_RESOLUTION, DETAIL_SIZE
    from rbfviz.data.lattice import DEFAULT_SITES, VIEWPOINTS
    from rbfviz.viz.prototype_scene import PrototypeScene
    from rbfviz.viz.render import SITE_RADIUS
    from rbfviz.viz.scenes import project_to_pixels

    toward = np.asarray(VIEWPOINTS[view], dtype=float)
    toward /= np.linalg.norm(toward)
    scene = PrototypeScene(1, panel_size=DETAIL_SIZE, resolution=DETAIL_RESOLUTION, view=view)
    try:
        return project_to_pixels(scene.plotter, DEFAULT_SITES.positions + (SITE_RADIUS + 0.1) * toward)
    finally:
        scene.close()


def near_sites(mask: np.ndarray, xy: np.ndarray, reach: float) -> tuple[float, float]:
    """(share of mask pixels within ``reach`` px of a site, share of sites with a mask pixel that near)."""
    rows, cols = np.nonzero(mask)
    d = np.hypot(cols[:, None] - xy[None, :, 0], rows[:, None] - xy[None, :, 1])  # (n_pixels, 26)
    return float((d.min(axis=1) < reach).mean()), float((d.min(axis=0) < reach).mean())


def test_site_labels_toggle_on_and_off_in_the_large_view(page, serve_app, tiny_models, tmp_path):
    from rbfviz.app.main import create_app

    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(serve_app(lambda: create_app(workspace=tmp_path / "ws", bundled_dir=tiny_models)))
    page.locator(".bk-tab", has_text="Prototypes").click()
    page.locator(DETAIL).first.wait_for(state="visible", timeout=WAIT_S * 1000)
    page.locator(DETAIL).first.scroll_into_view_if_needed()
    off = wait_for(page, lambda img: coloured(img) > 500, "the prototype")
    shot(page, "1-labels-off")
    xy = site_pixels("[031]")

    page.locator(TOGGLE).check()
    on = wait_for(page, lambda img: (dark(img) & ~dark(off)).sum() > 26 * 8, "site numbers")
    shot(page, "2-labels-on")
    new = dark(on) & ~dark(off)
    on_sites, sites_hit = near_sites(new, xy, reach=REACH)
    assert on_sites > 0.9, f"only {on_sites:.0%} of the new dark pixels lie on sites"
    assert sites_hit > 0.6, f"numbers seen at only {sites_hit:.0%} of the sites"

    page.locator(".rbf-proto-view button", has_text="[001]").click()  # the numbers turn with the view
    xy001 = site_pixels("[001]")
    on001 = wait_for(
        page,
        lambda img: np.abs(img - on).max(axis=2).__gt__(60).mean() > 0.05 and near_sites(dark(img), xy001, 8)[1] > 0.5,
        "the [001] view with numbers",
    )
    shot(page, "3-labels-on-001")
    page.locator(TOGGLE).uncheck()
    off001 = wait_for(page, lambda img: (dark(on001) & ~dark(img)).sum() > 26 * 8, "the [001] view without numbers")
    shot(page, "4-labels-off-001")
    on_sites, sites_hit = near_sites(dark(on001) & ~dark(off001), xy001, reach=REACH)
    assert on_sites > 0.9 and sites_hit > 0.6, (on_sites, sites_hit)

    page.locator(".rbf-proto-view button", has_text="[031]").click()
    wait_for(page, lambda img: np.abs(img - off).max(axis=2).__gt__(60).mean() < 0.002, "the first picture again")
    shot(page, "5-labels-off-031")
    assert not errors, errors
