"""The generator's device plumbing, checked without a GPU."""

from __future__ import annotations

import numpy as np
import torch

from rbfviz.data import potential
from rbfviz.data.barriers import GeneratorConfig, compute_barriers


def test_every_generator_tensor_is_made_on_the_configured_device():
    """Under ``torch.device("meta")`` a tensor created without an explicit device lands on the
    meta device and mixing it with the configured device's tensors fails: the run passing means
    every tensor of the generator (unrelaxed and relaxed) is made where GeneratorConfig says."""
    X = np.where(np.random.default_rng(0).random((6, 26)) < 0.5, -1.0, 1.0)
    cfg = GeneratorConfig(device="cpu", compile="never")
    want = compute_barriers(X, "100", relaxed=True, config=cfg)
    with torch.device("meta"):
        got = compute_barriers(X, "100", relaxed=True, config=cfg)
        unrelaxed = compute_barriers(X, "111", relaxed=False, config=cfg)
    np.testing.assert_array_equal(got, want)
    assert np.isfinite(unrelaxed).all()


def test_eigh_in_slices_equals_one_call(monkeypatch):
    """The relaxation's batched eigh runs in slices (cuSOLVER fails on ~10^5 matrices at once);
    the slices give the one call's eigenpairs."""
    A = torch.randn(23, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    H = A + A.transpose(1, 2)
    whole = torch.linalg.eigh(H)
    monkeypatch.setattr(potential, "_EIGH_BATCH", 5)
    lam, vec = potential._batched_eigh(H)
    torch.testing.assert_close(lam, whole[0], rtol=1e-13, atol=1e-13)
    torch.testing.assert_close((vec @ torch.diag_embed(lam) @ vec.transpose(1, 2)), H, rtol=1e-12, atol=1e-12)
