"""Session-wide test setup: headless VTK, private cache and workspace folders, the dashboard
server fixture and the pytest-playwright launch arguments for Debian's chromium."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
_TMP = Path(tempfile.mkdtemp(prefix="rbfviz-tests-"))
os.environ.setdefault("RBFVIZ_CACHE_DIR", str(_TMP / "cache"))
os.environ.setdefault("RBFVIZ_WORKSPACE", str(_TMP / "workspace"))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):  # overrides pytest-playwright's fixture
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def serve_app():
    """serve_app(factory) -> URL of the app's own server (127.0.0.1, a free port), stopped after the test."""
    from rbfviz.app.server import serve_in_background

    servers = []

    def _serve(factory):
        servers.append(serve_in_background(factory))
        return servers[-1].url

    yield _serve
    for s in servers:
        s.stop()


def make_tiny_networks(folder: Path, surfaces=("100", "110", "111"), k: int = 24, m: int = 8) -> Path:
    """Write, per surface, a random 'trained' RBFN (K=k) and a 'pruned' one (M=m) built directly."""
    import torch

    from rbfviz.core.model import RBFN
    from rbfviz.core.store import content_hash, save_model

    folder.mkdir(parents=True, exist_ok=True)
    for n, surface in enumerate(surfaces):
        large = RBFN(26, k, seed=10 + n)
        large.metadata.update(
            surface=surface,
            name=f"tiny trained {surface}",
            metrics={"test_rmse": 0.05 + 0.01 * n},
            data={"occupation_frequencies": [0.6] * 26},
        )
        save_model(large, folder / f"trained-{surface}.safetensors")
        small = RBFN(26, m, seed=20 + n)
        with torch.no_grad():
            small.centroids.mul_(1.5)
            small.weights.copy_(torch.linspace(-1.0, 1.0, m))
        small.metadata.update(
            kind="pruned",
            surface=surface,
            name=f"tiny pruned {surface}",
            parent_hash=content_hash(large),
            prune={"distribution": "Bernoulli(q=0.5)", "loss": 0.01 * (n + 1), "restarts": 1},
        )
        save_model(small, folder / f"pruned-{surface}.safetensors")
    return folder


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """A folder of six small networks (trained + pruned per surface) used as the 'bundled' ones."""
    return make_tiny_networks(tmp_path_factory.mktemp("bundled"))


# --------------------------------------------------------------------------- app tests: session state and toy data


@pytest.fixture
def state(tmp_path, tiny_models):
    from rbfviz.app.state import AppState
    from rbfviz.app.workspace import Workspace

    return AppState(workspace=Workspace(folder=str(tmp_path / "ws")), bundled_dir=str(tiny_models))


def make_toy_dataset(n=400, seed=0, surface="100"):
    """A small ±1 data set whose target depends on a few sites."""
    from rbfviz.data.datasets import Dataset

    rng = np.random.default_rng(seed)
    X = rng.choice([-1.0, 1.0], size=(n, 26))
    y = 0.5 + 0.1 * X[:, 0] - 0.05 * X[:, 3] * X[:, 7] + 0.01 * rng.standard_normal(n)
    return Dataset(X=X, y=y, surface=surface, source="toy")


@pytest.fixture
def toy_dataset():
    """:func:`make_toy_dataset` (call it with the size and seed a test needs)."""
    return make_toy_dataset
