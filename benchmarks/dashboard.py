"""Time from a click to the 3D scene drawn in the dashboard (headless Debian chromium).

Run:  python benchmarks/dashboard.py [--repeat N]

Serves the dashboard with the bundled networks on a free 127.0.0.1 port, opens it in Debian's
chromium through Playwright and measures, for each action, the wall-clock time from the click until
the 3D area shows the new picture: every viewport has the red/blue balance of the library's own
off-screen render of the same prototypes (:func:`rbfviz.viz.style.same_sign_balance`).  Actions:
the Prototypes tab (8 prototypes, first show), another network on that tab, and the Compare tab
(three surfaces).  Targets from issue 9: 3 s, 2 s and 3 s.  Wall-clock times on a shared machine
are noisy: run it alone, and compare ratios measured in one run.

Where the time went (Chrome CPU profile and trace, 2026-11-30, this 2-core machine): the server's
messages reach the browser within 0.4 s of a network change; the rest was the browser.  Panel's
default (empty) axes added a depth-reading mapper, so every frame was drawn twice and read back
(readPixels, 6.5 of 9.9 s); Panel deleted the vtk.js window on every update (a new WebGL context,
all shaders compiled again); and each Bokeh relayout drew the page scene again (16 frames for one
network change), each frame rasterized by SwiftShader and read back by the software compositor.
:data:`rbfviz.app.live_scene.SCENE_SCRIPT` removes all three.  A second pass (CPU profile and trace
of a network change and of the first show, same day): Panel still re-rendered each view's DOM and
laid out the whole page for every new scene state (0.3 s a view), the hidden Train tab's chart was
painted with WebGL and read back on every relayout (0.3 s), the off-screen strip and the chart were
computed while the browser drew the scenes (two cores), and the first frames were drawn at zero
size.  Now a new state is synchronized into the kept window in place, charts use a plain canvas,
the strip and chart wait for the browser's "drawn" report (:class:`rbfviz.app.live_scene.SceneBehaviour`)
and a canvas is 1 px until laid out.  Medians of 5 page loads: 2.3 s, 1.6 s and 1.8 s (were 3.7,
2.6 and 2.0 s before the second pass).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PIL import Image

CHROMIUM_ARGS = ["--enable-unsafe-swiftshader", "--disable-dev-shm-usage", "--no-first-run", "--disable-sync"]
OTHER_NETWORK = re.compile(r"cu111-k\d+-m16")  # the bundled pruned {111} network, whatever its K
TARGETS = {
    "Prototypes tab (8 prototypes)": 3.0,
    "another network": 2.0,
    "  of which: page label shown": 2.0,
    "Compare (3 surfaces)": 3.0,
}


def grab(page, css: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(page.locator(css).first.screenshot())).convert("RGB"))


def time_to_drawn(page, click, css: str, expected: np.ndarray, rows: int, cols: int, timeout_s: float = 120) -> float:
    """Seconds from ``click()`` until ``css`` shows what the library's off-screen render ``expected`` shows.

    Shown = the same red/blue balance in every viewport (:func:`rbfviz.viz.style.same_sign_balance`).
    """
    from rbfviz.viz.style import same_sign_balance, sign_balance

    want = sign_balance(expected, rows, cols)
    t0 = time.monotonic()
    click()
    while time.monotonic() - t0 < timeout_s:
        if page.locator(f"{css} canvas").count() and same_sign_balance(sign_balance(grab(page, css), rows, cols), want):
            return time.monotonic() - t0
        page.wait_for_timeout(50)
    raise TimeoutError(f"{css} not drawn within {timeout_s} s")


class Expected:
    """The library's own off-screen renders of what the timed actions should show."""

    def __init__(self):
        from rbfviz.app.workspace import bundled_models_dir
        from rbfviz.core.store import load_model
        from rbfviz.viz.prototypes import as_prototypes

        folder = Path(bundled_models_dir())
        self.nets = {s: as_prototypes(load_model(next(folder.glob(f"cu{s}-k*-m16.safetensors")))) for s in SURFACES}

    def page(self, surface: str) -> np.ndarray:
        from rbfviz.app.prototypes import PER_PAGE, page_scene
        from rbfviz.viz.prototypes import weight_order

        p = self.nets[surface]
        scene = page_scene()
        scene.show([(p.centroids[i], "") for i in weight_order(p.weights_ev, "weight")[:PER_PAGE]])
        return scene.screenshot()

    def compare(self) -> np.ndarray:
        from rbfviz.app.compare import compare_scene
        from rbfviz.viz.prototypes import prototype_by_rank

        scene = compare_scene()
        scene.show([(prototype_by_rank(self.nets[s], 1)[0], "") for s in SURFACES], surfaces=list(SURFACES))
        return scene.screenshot()


SURFACES = ("100", "110", "111")


def measure_once(browser, url: str, expected: dict) -> dict:
    """One fresh page: the three timed actions."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(url)
        page.get_by_text(OTHER_NETWORK).first.wait_for(timeout=120_000)
        grid = ".rbf-proto-page-scene"
        out = {
            "Prototypes tab (8 prototypes)": time_to_drawn(
                page, lambda: tab(page, "Prototypes"), grid, expected["100"], 2, 4
            )
        }
        select = page.locator(".rbf-proto-network select")
        labels = select.evaluate("s => Array.from(s.options).map(o => o.text)")
        other = next(t for t in labels if OTHER_NETWORK.match(t))
        answered = {}

        def choose():
            t0 = time.monotonic()
            select.select_option(label=other)
            page.locator(".rbf-proto-page", has_text="cu111").first.wait_for(timeout=120_000)
            answered["s"] = time.monotonic() - t0

        out["another network"] = time_to_drawn(page, choose, grid, expected["111"], 2, 4)
        out["  of which: page label shown"] = answered["s"]
        out["Compare (3 surfaces)"] = time_to_drawn(
            page, lambda: tab(page, "Compare"), ".rbf-compare-scene", expected["compare"], 1, 4
        )
        return out
    finally:
        page.close()


def tab(page, name: str) -> None:
    page.locator(".bk-tab", has_text=name).click()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="fresh page loads to time")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from rbfviz.app.main import create_app
    from rbfviz.app.server import serve_in_background

    workspace = tempfile.mkdtemp(prefix="rbfviz-bench-")
    server = serve_in_background(lambda: create_app(workspace=workspace))
    ref = Expected()
    expected = {"100": ref.page("100"), "111": ref.page("111"), "compare": ref.compare()}
    times = {k: [] for k in TARGETS}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for _ in range(args.repeat):
                for k, v in measure_once(browser, server.url, expected).items():
                    times[k].append(v)
            browser.close()
    finally:
        server.stop()
    print(f"{'action':32s} {'median s':>9s} {'min s':>7s} {'target s':>9s} {'median/target':>14s}")
    for k, v in times.items():
        med = float(np.median(v))
        print(f"{k:32s} {med:9.2f} {min(v):7.2f} {TARGETS[k]:9.1f} {med / TARGETS[k]:14.2f}")
    print(f"({args.repeat} page load(s); wall clock on this machine, click to drawn, includes a 50 ms poll)")
    return times


if __name__ == "__main__":
    main()
