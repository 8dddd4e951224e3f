"""Fixtures of the app tests: a session state over tiny bundled networks, and a toy data set."""

import numpy as np
import pytest

from rbfviz.app.state import AppState
from rbfviz.app.workspace import Workspace


@pytest.fixture
def state(tmp_path, tiny_models):
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
