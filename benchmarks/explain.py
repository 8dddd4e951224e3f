"""Time of one site toggle in the Explain view, server side (rbfviz.explain + rbfviz.app.explain).

Run:  PYTHONPATH=. python benchmarks/explain.py [--rows 100000] [--repeat 20] [--browser]

With the bundled {100} networks (K = 1024 and its pruned M = 16) and a synthetic data set of
``--rows`` rows for the nearest-neighbour search: the library's :func:`rbfviz.explain.explain`
alone, and a toggle through :class:`ExplainState` including the view's update of its chart and
tables (what the browser then receives).  The issue's target is 200 ms from click to picture:
``--browser`` serves the dashboard and clicks sites' cells in Debian's chromium (Playwright),
timing click → new barrier text (polled every 5 ms).  Wall clock on a shared machine: noisy.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def browser_toggles(clicks: int = 8) -> list[float]:
    """Seconds from a click on a site's "occupied" cell to the changed barrier text, per click."""
    from playwright.sync_api import sync_playwright

    from rbfviz.app.main import create_app
    from rbfviz.app.server import serve_in_background

    workspace = tempfile.mkdtemp()
    server = serve_in_background(lambda: create_app(workspace=workspace))
    times = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--enable-unsafe-swiftshader"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url)  # it listens already
            page.locator(".bk-tab", has_text="Explain").click()
            summary = page.locator(".rbf-explain-summary p").first
            summary.wait_for(timeout=60_000)
            rows = page.locator(".rbf-explain-sites .tabulator-row")
            for site in range(clicks):
                before = summary.inner_text()
                t = time.perf_counter()
                rows.nth(site).locator('[tabulator-field="occupied"]').click()
                while summary.inner_text() == before and time.perf_counter() - t < 10:
                    page.wait_for_timeout(5)
                times.append(time.perf_counter() - t)
                page.wait_for_timeout(300)
            browser.close()
    finally:
        server.stop()
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--browser", action="store_true", help="also time clicks in chromium (bundled networks)")
    args = parser.parse_args(argv)

    from rbfviz.app.explain import ExplainState, ExplainView
    from rbfviz.app.state import AppState
    from rbfviz.app.workspace import Workspace
    from rbfviz.data.datasets import Dataset
    from rbfviz.explain import explain

    state = AppState(workspace=Workspace(folder=tempfile.mkdtemp()))
    rng = np.random.default_rng(0)
    data = Dataset(X=rng.choice([-1.0, 1.0], size=(args.rows, 26)), y=rng.uniform(0, 1.5, args.rows), surface="100")
    explainer = ExplainState(state=state, uploaded=data)
    view = ExplainView(explainer=explainer)
    view.__panel__()
    models = explainer.models()
    sizes = {role: m.num_centroids for role, m in models.items()}

    lib, full = [], []
    for i in range(args.repeat):
        x = np.asarray(explainer.occupation)
        t = time.perf_counter()
        explain(models, x, data=data)
        lib.append(time.perf_counter() - t)
        t = time.perf_counter()
        explainer.toggle(1 + i % 26)
        full.append(time.perf_counter() - t)
    print(f"networks {sizes}, data {args.rows} rows, {args.repeat} toggles")
    print(f"{'step':<44}{'median ms':>10}{'max ms':>9}")
    for label, ts in (("rbfviz.explain.explain", lib), ("toggle: explain + view update (server)", full)):
        print(f"{label:<44}{1e3 * np.median(ts):>10.1f}{1e3 * max(ts):>9.1f}")
    if args.browser:
        ts = browser_toggles()
        print(
            f"chromium click -> new barrier text: first {1e3 * ts[0]:.0f} ms (warm-up), then (ms) "
            f"{[round(1e3 * t) for t in ts[1:]]}, median {1e3 * np.median(ts[1:]):.0f}"
        )


if __name__ == "__main__":
    main()
