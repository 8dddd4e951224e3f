"""One page driven through a whole exploration of the bundled networks in headless chromium.

Prototypes → each of the three bundled pruned networks → next page → by index → a caption click
→ each viewpoint → Compare → another rank → back to Prototypes → Compare again.  After every step
the drawn canvases are compared, viewport by viewport, with the library's own off-screen render
of what the step should show (the views' own scene factories, filled here from the model
files, not from the app): the share of strongly red among strongly red or blue pixels must agree.
The parts drawn after the scenes (the four-view strip and the Figure 5 chart) are checked the same
way after each network change and the caption click, as is the browser's report of the new scenes
drawn (which those parts wait for) reaching the server.
No page error may be raised in the whole session, no WebGL 'zero size' message (a scene drawn
before it has a size, or in a hidden tab), and the page never holds more than
:data:`MAX_LIVE_CONTEXTS` live WebGL contexts (one per 3D area).  A screenshot of every step is
written to ``$TMPDIR/rbfviz-exploration/``.  Every wait is on a condition (the picture matching).
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

SHOTS = Path(tempfile.gettempdir()) / "rbfviz-exploration"
MAX_LIVE_CONTEXTS = 3  # the page of prototypes, the enlarged prototype, the comparison
TOLERANCE = 0.2  # largest difference of the red share per viewport, browser vs off-screen
WAIT_S = 120  # generous: 2 shared cores

# Counts WebGL contexts whose canvas is still in the page and whose context is not lost.
COUNT_CONTEXTS = """
(() => {
  const orig = HTMLCanvasElement.prototype.getContext;
  window.__gl = [];
  HTMLCanvasElement.prototype.getContext = function (type, ...args) {
    const ctx = orig.call(this, type, ...args);
    if (ctx && /webgl/.test(String(type)) && !window.__gl.some((e) => e.ctx.deref() === ctx))
      window.__gl.push({canvas: new WeakRef(this), ctx: new WeakRef(ctx)});
    return ctx;
  };
  window.__liveGL = () => window.__gl.filter((e) => {
    const c = e.canvas.deref(), x = e.ctx.deref();
    return c && x && c.isConnected && !x.isContextLost();
  }).length;
})();
"""


# --------------------------------------------------------------------------- pictures
def signature(img: np.ndarray, rows: int, cols: int) -> list[tuple[float, int]]:
    from rbfviz.viz.style import sign_balance

    return sign_balance(img, rows, cols)


def matches(seen, expected) -> bool:
    from rbfviz.viz.style import same_sign_balance

    return same_sign_balance(seen, expected, TOLERANCE)


# --------------------------------------------------------------------------- the expected pictures
class Reference:
    """Off-screen renders of what each 3D area should show, from the bundled model files."""

    def __init__(self):
        import pyvista

        from rbfviz.app.workspace import bundled_models_dir
        from rbfviz.core.store import load_model
        from rbfviz.viz.prototypes import as_prototypes

        _ = pyvista.Plotter  # load PyVista's lazy modules here, not in two threads at once (server and test)
        folder = Path(bundled_models_dir())
        self.nets = {}
        for s in ("100", "110", "111"):
            path = folder / f"cu{s}-k4096-m16.safetensors"
            self.nets[s] = as_prototypes(load_model(path))
        self._scenes = {}

    def _scene(self, kind):
        from rbfviz.app import compare, prototypes

        if kind not in self._scenes:  # the views' own scene factories: the same settings as the app
            make = {
                "page": prototypes.page_scene,
                "detail": prototypes.detail_scene,
                "strip": prototypes.strip_scene,
                "compare": compare.compare_scene,
            }
            self._scenes[kind] = make[kind]()
        return self._scenes[kind]

    def page(self, surface, order, page):
        from rbfviz.app.prototypes import PER_PAGE
        from rbfviz.viz.prototypes import weight_order

        p = self.nets[surface]
        idx = weight_order(p.weights_ev, order)[page * PER_PAGE : (page + 1) * PER_PAGE]
        scene = self._scene("page")
        scene.show([(p.centroids[i], "") for i in idx])
        return scene.screenshot().copy(), [int(i) for i in idx]

    def detail(self, surface, index, view):
        scene = self._scene("detail")
        scene.set_view(view)
        scene.show([(self.nets[surface].centroids[index], "")])
        return scene.screenshot().copy()

    def strip(self, surface, index):
        """The static strip: prototype ``index`` from the four standard viewpoints (off-screen in the app too)."""
        scene = self._scene("strip")
        scene.show([(self.nets[surface].centroids[index], "")] * len(scene.views))
        return scene.screenshot().copy()

    def compare(self, rank):
        from rbfviz.viz.prototypes import prototype_by_rank

        items = [(prototype_by_rank(self.nets[s], rank)[0], "") for s in ("100", "110", "111")]
        scene = self._scene("compare")
        scene.show(items, surfaces=["100", "110", "111"])
        return scene.screenshot().copy()


# --------------------------------------------------------------------------- the session
class Session:
    def __init__(self, page):
        self.page = page
        self.errors: list[str] = []
        self.console: list[str] = []
        self.steps: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: self.console.append(m.text))

    def zero_size(self) -> int:
        return sum("zero size" in m for m in self.console)

    def first_zero_size(self) -> str:
        return next((m for m in self.console if "zero size" in m), "")

    def grab(self, css: str) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(self.page.locator(css).first.screenshot())).convert("RGB"))

    def expect(self, step: str, css: str, reference: np.ndarray, rows: int, cols: int, previous=None):
        """Wait until the 3D area ``css`` shows ``reference``; screenshot; check errors and contexts."""
        expected = signature(reference, rows, cols)
        if previous is not None:  # the step must change the picture, or matching it proves nothing
            assert not matches(signature(previous, rows, cols), expected), f"{step}: reference equals the last one"
        deadline = time.monotonic() + WAIT_S
        seen = None
        while time.monotonic() < deadline:
            self.page.locator(f"{css} canvas").first.wait_for(state="attached", timeout=WAIT_S * 1000)
            seen = signature(self.grab(css), rows, cols)
            if matches(seen, expected):
                break
            self.page.wait_for_timeout(250)
        else:
            self.shot(step + "-FAILED", css)
            raise AssertionError(f"{step}: {css} never matched the library's render:\n seen {seen}\n want {expected}")
        self.shot(step, css)
        assert not self.errors, f"page errors by step {step}: {self.errors}"
        live = self.page.evaluate("window.__liveGL()")
        assert live <= MAX_LIVE_CONTEXTS, f"{step}: {live} live WebGL contexts"
        zero = self.zero_size()  # a scene drawn before it has a size, or in a hidden tab
        assert zero == 0, f"{step}: {zero} 'zero size' WebGL messages, e.g. {self.first_zero_size()}"
        self.steps.append(f"{step}: matched, {live} live WebGL contexts, no 'zero size' message")
        return reference

    def expect_below(self, step: str, strip: np.ndarray, network: str) -> None:
        """The parts drawn after the scenes: the strip shows ``strip``, the Figure 5 chart names ``network``."""
        expected = signature(strip, 1, 4)
        deadline = time.monotonic() + WAIT_S
        seen = None
        while time.monotonic() < deadline:
            img = self.page.locator(".rbf-proto-views img")
            if img.count():
                seen = signature(self.grab(".rbf-proto-views img"), 1, 4)
                if matches(seen, expected):
                    break
            self.page.wait_for_timeout(250)
        else:
            self.shot(step + "-FAILED", ".rbf-proto-views")
            raise AssertionError(f"{step}: the strip never matched the library's render:\n {seen}\n want {expected}")
        titles = (  # of the page's Figures (a widget's title is a string: no text)
            "Array.from(window.Bokeh.index.query((v) => v.model && v.model.title)).map((v) => v.model.title.text || '')"
        )
        self.page.wait_for_function(f"{titles}.some((t) => t.startsWith({network!r}))", timeout=WAIT_S * 1000)
        self.shot(step, ".rbf-proto-views")
        assert not self.errors, f"page errors by step {step}: {self.errors}"
        self.steps.append(f"{step}: strip matched, Figure 5 names {network}")

    def expect_draw_report(self, step: str, app, before: int) -> int:
        """The browser reported the new scenes drawn to the server (the strip and chart wait for it)."""
        deadline = time.monotonic() + WAIT_S
        while app.scenes.drawn <= before:
            assert time.monotonic() < deadline, f"{step}: no draw report from the browser"
            self.page.wait_for_timeout(100)
        return app.scenes.drawn

    def shot(self, step: str, css: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.locator(css).first.scroll_into_view_if_needed()
        n = len(list(SHOTS.glob("*.png")))
        self.page.screenshot(path=str(SHOTS / f"{n:02d}-{step}.png"), full_page=False)

    def select_network(self, surface: str) -> None:
        select = self.page.locator(".rbf-proto-network select")
        labels = select.evaluate("s => Array.from(s.options).map(o => o.text)")
        select.select_option(label=next(t for t in labels if t.startswith(f"cu{surface}-k4096-m16")))


def tab(page, name: str) -> None:
    page.locator(".bk-tab", has_text=name).click()


def test_whole_exploration_keeps_scenes_right(page, serve_app, tmp_path):
    from rbfviz.app.main import create_app
    from rbfviz.data.lattice import VIEWPOINTS

    for old in SHOTS.glob("*.png"):
        old.unlink()
    ref = Reference()
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.add_init_script(COUNT_CONTEXTS)
    s = Session(page)
    apps = []  # the session's dashboard, to read what the browser reported
    page.goto(serve_app(lambda: apps.append(create_app(workspace=tmp_path / "ws")) or apps[-1]))
    page.get_by_text("cu111-k4096-m16").first.wait_for(timeout=60_000)

    grid, detail, comp = ".rbf-proto-page-scene", ".rbf-proto-detail-scene", ".rbf-compare-scene"
    tab(page, "Prototypes")
    last, idx = ref.page("100", "weight", 0)
    last = s.expect("prototypes-100", grid, last, 2, 4)
    drawn = s.expect_draw_report("prototypes-100", apps[0], 0)
    s.expect_below("strip-100", ref.strip("100", idx[0]), "cu100-k4096-m16")  # the largest |β| is enlarged
    for surface in ("110", "111"):
        s.select_network(surface)
        img, idx = ref.page(surface, "weight", 0)
        last = s.expect(f"network-{surface}", grid, img, 2, 4, previous=last)
        drawn = s.expect_draw_report(f"network-{surface}", apps[0], drawn)
        s.expect_below(f"strip-{surface}", ref.strip(surface, idx[0]), f"cu{surface}-k4096-m16")
    page.locator(".rbf-proto-next button").click()
    img, idx = ref.page("111", "weight", 1)
    last = s.expect("next-page", grid, img, 2, 4, previous=last)
    page.locator(".rbf-proto-order button", has_text="by index").click()
    img, idx = ref.page("111", "index", 1)
    last = s.expect("by-index", grid, img, 2, 4, previous=last)

    page.locator(".rbf-proto-caption button").nth(2).click()  # enlarge the third of the page
    chosen = idx[2]
    page.get_by_text(f"Prototype ({chosen + 1})").first.wait_for(timeout=WAIT_S * 1000)
    s.expect("caption-click", detail, ref.detail("111", chosen, "[031]"), 1, 1)
    s.expect_below("strip-caption-click", ref.strip("111", chosen), "cu111-k4096-m16")
    for label, view in zip(("[110]", "[001]", "[1\u030510]"), ("[110]", "[001]", "[1-10]")):
        assert view in VIEWPOINTS
        page.locator(".rbf-proto-view button", has_text=label).click()
        s.expect(f"view-{view}", detail, ref.detail("111", chosen, view), 1, 1)
    page.locator(".rbf-proto-view button", has_text="[031]").click()
    s.expect("view-[031]", detail, ref.detail("111", chosen, "[031]"), 1, 1)

    tab(page, "Compare")
    cmp1 = s.expect("compare", comp, ref.compare(1), 1, 4)
    box = page.locator(".rbf-compare-rank input")
    box.fill("2")
    box.press("Enter")
    s.expect("compare-rank-2", comp, ref.compare(2), 1, 4, previous=cmp1)
    tab(page, "Prototypes")
    s.expect("back-to-prototypes", grid, ref.page("111", "index", 1)[0], 2, 4)
    tab(page, "Compare")
    s.expect("compare-again", comp, ref.compare(2), 1, 4)
    assert s.zero_size() == 0, "a scene was drawn at zero size"
    print("\n".join(s.steps))
    assert not s.errors, s.errors
