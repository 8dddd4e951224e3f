"""Standalone HTML of the Prototypes and Compare pages, opened from disk in chromium with the network off."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from rbfviz.core.model import RBFN
from rbfviz.viz.html import compare_page, inline_stylesheets, write_compare_html, write_prototypes_html


def _net(seed, surface):
    net = RBFN(26, 4, seed=seed)
    net.metadata.update(kind="pruned", surface=surface, target_scale=0.3)
    return net


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("html")
    protos = write_prototypes_html(_net(0, "100"), folder / "prototypes.html", max_scenes=2)
    compare = write_compare_html({"{100}": _net(0, "100"), "{111}": _net(1, "111")}, folder / "compare.html")
    return {"prototypes": (protos, 2), "compare": (compare, 2)}


def test_files_hold_no_links_to_fetch(pages):
    for path, _ in pages.values():
        html = path.read_text()
        assert not re.search(r'"url":"https?://', html), "a stylesheet would be fetched from the network"
        assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', html), "a script would be fetched"


def test_inline_stylesheets_leaves_unknown_files():
    url = '"https://cdn.holoviz.org/panel/1.9.4/dist/css/no-such-file.css"'
    assert inline_stylesheets(url) == url


def test_compare_page_needs_networks():
    with pytest.raises(ValueError, match="`models` must hold at least one network"):
        compare_page({})


def _colour_counts(png: bytes):
    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    red = ((a[..., 0] > 150) & (a[..., 1] < 110) & (a[..., 2] < 110)).sum()
    blue = ((a[..., 2] > 150) & (a[..., 0] < 110) & (a[..., 1] < 150)).sum()
    not_white = (a.sum(-1) < 700).sum()
    return int(red), int(blue), int(not_white)


@pytest.mark.browser
@pytest.mark.parametrize("name", ["prototypes", "compare"])
def test_page_opens_offline_and_draws(page, pages, name):
    path, n_scenes = pages[name]
    errors, blocked = [], []
    page.on("pageerror", lambda err: errors.append(str(err)))

    def only_files(route):
        if route.request.url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_files)
    page.set_viewport_size({"width": 1300, "height": 1400})
    page.goto(path.as_uri())
    scenes = page.locator(".rbf-scene canvas")
    scenes.nth(n_scenes - 1).wait_for(state="visible", timeout=60_000)
    bokeh = page.locator(".bk-Figure canvas, .bk-GridPlot canvas").first
    bokeh.wait_for(state="visible", timeout=60_000)
    # vtk.js draws asynchronously: wait until the first scene shows both site colours
    for _ in range(60):
        red, blue, _ = _colour_counts(scenes.nth(0).screenshot())
        if red > 20 and blue > 20:
            break
        page.wait_for_timeout(250)
    for i in range(n_scenes):
        red, blue, _ = _colour_counts(scenes.nth(i).screenshot())
        assert red > 20 and blue > 20, f"scene {i}: the site colours are missing ({red} red, {blue} blue pixels)"
    assert _colour_counts(bokeh.screenshot())[2] > 500, "the chart is blank"
    assert errors == [], errors
    assert blocked == [], blocked
