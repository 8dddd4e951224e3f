"""The radial basis function network of the paper (§2.1, eq. 2).

    f(x) = α + Σ_i β_i exp(−γ ‖x − Θ_i‖²)

with bias α, weights β (K), centroids Θ (K × D) and the kernel width γ > 0, stored as log γ
so that the optimiser sees an unconstrained parameter.  The network works in standardised target
units; it carries the target mean and scale it was trained with, so :meth:`RBFN.predict` answers
in physical units (eV for the Cu barrier data).

Examples
--------
>>> import torch
>>> net = RBFN(26, 8, seed=0)
>>> net(torch.ones(3, 26)).shape
torch.Size([3])
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

# The paper's code initialises α, β and Θ uniformly on [−2, 2] and log γ uniformly on
# [−log D − 0.1, −log D + 0.1], i.e. γ ≈ 1/D.
INIT_RANGE = 2.0
LOG_GAMMA_JITTER = 0.1


def _kernel(X, centroids, gamma):
    """exp(−γ max(‖x − θ‖², 0)) for every pair, shape (N, K), plus |x|² (N, 1) and |θ|² (K,)."""
    sq_x = (X * X).sum(1, keepdim=True)  # (N, 1)
    sq_c = (centroids * centroids).sum(1)  # (K,)
    # −γ‖x − θ‖² = −γ|x|² − γ|θ|² + 2γ x·θ, with the 2γ folded into the (K, D) factor
    neg = torch.addmm((-gamma) * sq_x + (-gamma) * sq_c, X, (2 * gamma * centroids).t())  # (N, K)
    return neg.clamp_(max=0.0).exp_(), sq_x, sq_c  # clamp = squared distance ≥ 0


def rbf_forward(X, bias, weights, centroids, log_gamma):
    """f(X) of eq. (2) for (N, D) inputs, shape (N,): a pure function of tensors (no autograd
    bookkeeping), e.g. for validation inside a captured CUDA graph."""
    kernel = _kernel(X, centroids, log_gamma.exp())[0]  # (N, K)
    return torch.addmv(bias.expand(X.shape[0]), kernel, weights)


def resolve_device(device="auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; a request for CUDA without it is an error."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} was requested but torch.cuda.is_available() is False")
    return torch.device(device)


def _parameter_grads(X, centroids, weights, gamma, kernel, grad_out, sq_x, sq_c, kw):
    """Gradients of Σ_n grad_out_n f(x_n) for (α, β, Θ, log γ), and the row sums of G.

    With G = grad_out ⊗ β ⊙ kernel (N, K): ∂/∂θ_k = 2γ Σ_n G_nk (x_n − θ_k) and
    ∂/∂log γ = −γ Σ G·dist, expanded so that G is never formed: its column sums are
    β ⊙ (kernelᵀ grad_out), its row sums grad_out ⊙ (kernel β) (= ``kw``, known from the forward
    pass), and Gᵀ X = β ⊙ kernelᵀ (grad_out ⊙ X).  The (N, K) work is three matrix products.
    """
    grad_weights = kernel.t().mv(grad_out)  # (K,)
    col = weights * grad_weights  # (K,)  Σ_n G_nk
    row = (grad_out * kw)[:, None]  # (N, 1)  Σ_k G_nk
    GX = weights[:, None] * ((grad_out[:, None] * X).t() @ kernel).t()  # (K, D); (Dx N)(N x K) is the fast order
    grad_centroids = 2.0 * gamma * (GX - col[:, None] * centroids)  # (K, D)
    g_dist = (sq_x * row).sum() + (sq_c * col).sum() - 2.0 * (centroids * GX).sum()
    return grad_out.sum(), grad_weights, grad_centroids, -gamma * g_dist, row


def batch_squared_error_and_grads(X, y, bias, weights, centroids, log_gamma):
    """Σ_n (f(x_n) − y_n)² of a batch and its gradients for (α, β, Θ, log γ), analytically.

    A pure function of tensors (no autograd engine), so that it can also be compiled.
    """
    gamma = log_gamma.exp()
    kernel, sq_x, sq_c = _kernel(X, centroids, gamma)
    kw = kernel.mv(weights)  # (N,)
    residual = kw + (bias - y)  # f(x) − y, (N,)
    grads = _parameter_grads(X, centroids, weights, gamma, kernel, 2.0 * residual, sq_x, sq_c, kw)[:4]
    return residual.dot(residual), grads


def packed_index(num_centroids: int, num_inputs: int, device=None) -> torch.Tensor:
    """Where each entry of the *packed* parameter vector sits in the flat one.

    The flat vector (``FlatAdam``'s, the parameters' own order) is [α, β (K), Θ (K × D) row by
    row, log γ]; the packed one is [α, β (K), Θᵀ (D × K) row by row, log γ], the layout in which
    :func:`packed_squared_error_and_grads` runs every pass along K, contiguous.  So
    ``packed = flat[idx]`` and ``flat[idx] = packed``.

    Examples
    --------
    >>> packed_index(2, 3).tolist()
    [0, 1, 2, 3, 6, 4, 7, 5, 8, 9]
    """
    K, D = num_centroids, num_inputs
    theta = 1 + K + torch.arange(K * D, device=device).view(K, D).t().reshape(-1)  # (D·K,)
    ends = torch.tensor([1 + K + K * D], device=device)
    return torch.cat([torch.arange(1 + K, device=device), theta, ends])  # (P,)


def packed_squared_error_and_grads(packed, X, y):
    """:func:`batch_squared_error_and_grads` on the packed parameter vector (see
    :func:`packed_index`): Σ_n (f(x_n) − y_n)² of a batch and its gradient, packed the same way.

    Two matrix products carry the (B, K) work: the distances' X Θᵀ, and [g ⊙ X, g]ᵀ kernel
    (g = ∂loss/∂f), whose rows are Σ_n g_n k_nk x_n (the centroids' gradient, eq. 2) and Σ_n g_n
    k_nk (the weights').  Everything else runs along K, contiguous in this layout, which lets
    a compiler fuse the step into a few loops.  Shapes: packed (P,), X (B, D), y (B,).
    """
    D = X.shape[1]
    K = (packed.shape[0] - 2) // (D + 1)
    bias, weights, log_gamma = packed[0], packed[1 : 1 + K], packed[-1]
    centroids_t = packed[1 + K : 1 + K + K * D].view(D, K)  # Θᵀ
    gamma = log_gamma.exp()
    sq_x = (X * X).sum(1)  # (B,)
    sq_c = (centroids_t * centroids_t).sum(0)  # (K,)
    # −γ‖x − θ‖² = −γ|x|² − γ|θ|² + x·(2γθ), clamped at 0 (the squared distance is ≥ 0), as _kernel
    neg = torch.addmm((-gamma) * sq_x[:, None] + (-gamma) * sq_c, X, (2 * gamma) * centroids_t)  # (B, K)
    kernel = neg.clamp(max=0.0).exp()  # (B, K)
    kw = kernel @ weights  # (B,)
    residual = kw + (bias - y)  # f(x) − y
    grad_out = 2.0 * residual  # (B,)
    lhs = torch.cat([grad_out[:, None] * X, grad_out[:, None]], 1)  # (B, D + 1)
    M = lhs.t() @ kernel  # (D + 1, K)
    grad_weights = M[D]  # (K,)  kernelᵀ g
    GXt = weights * M[:D]  # (D, K)  (Gᵀ X)ᵀ with G = g ⊗ β ⊙ kernel, as _parameter_grads
    col = weights * grad_weights  # (K,)  Σ_n G_nk
    grad_centroids_t = (2.0 * gamma) * (GXt - col * centroids_t)  # (D, K)
    g_dist = (sq_x * grad_out * kw).sum() + (sq_c * col).sum() - 2.0 * (centroids_t * GXt).sum()
    grad = torch.cat([grad_out.sum()[None], grad_weights, grad_centroids_t.reshape(-1), (-gamma * g_dist)[None]])
    return residual.dot(residual), grad  # (), (P,)


def _batched_kernel(X, centroids, gamma, sq_x, sq_c):
    """exp(−γ_r max(‖x − θ‖², 0)) of R networks on R batches, (R, B, K)."""
    g3 = gamma[:, None, None]
    # −γ‖x − θ‖² = [x, |x|², 1] · [2γθ, −γ, −γ|θ|²]: the whole exponent in one batched product
    X_aug = torch.cat([X, sq_x, torch.ones_like(sq_x)], 2)  # (R, B, D + 2)
    C_aug = torch.cat(
        [centroids * (2 * g3), (-g3).expand(-1, centroids.shape[1], 1), (-gamma[:, None] * sq_c)[:, :, None]], 2
    )
    return torch.bmm(X_aug, C_aug.transpose(1, 2)).clamp_(max=0.0).exp_()  # (R, B, K)


def batched_rbf_forward(X, bias, weights, centroids, log_gamma):
    """f(X) of R networks on R inputs (R, B, D), shape (R, B): :func:`rbf_forward`, batched."""
    weights, centroids = weights.contiguous(), centroids.contiguous()
    sq_x, sq_c = (X * X).sum(2, keepdim=True), (centroids * centroids).sum(2)
    kernel = _batched_kernel(X, centroids, log_gamma.exp(), sq_x, sq_c)  # (R, B, K)
    return (kernel * weights[:, None, :]).sum(2) + bias[:, None]


def batched_squared_error_and_grads(X, y, w, bias, weights, centroids, log_gamma):
    """:func:`batch_squared_error_and_grads` of R networks on R batches at once (batched
    matrix products), each row weighted by ``w`` (1 for a real row, 0 for padding).

    Shapes: X (R, B, D), y and w (R, B), bias and log_gamma (R,), weights (R, K), centroids
    (R, K, D); returns the R summed squared errors and the gradients in the parameters' shapes.
    """
    weights, centroids = weights.contiguous(), centroids.contiguous()  # batched products want dense operands
    gamma = log_gamma.exp()  # (R,)
    g3 = gamma[:, None, None]
    sq_x = (X * X).sum(2, keepdim=True)  # (R, B, 1)
    sq_c = (centroids * centroids).sum(2)  # (R, K)
    kernel = _batched_kernel(X, centroids, gamma, sq_x, sq_c)  # (R, B, K)
    kw = (kernel * weights[:, None, :]).sum(2)  # (R, B); a product and a sum beat R tiny matrix-vector products
    residual = (kw + (bias[:, None] - y)) * w  # (R, B)
    grad_out = 2.0 * residual
    # G = grad_out ⊗ β ⊙ kernel is never formed (see _parameter_grads)
    grad_weights = torch.bmm(grad_out[:, None, :], kernel).squeeze(1)  # (R, K)
    col = weights * grad_weights  # (R, K)
    row = (grad_out * kw)[:, :, None]  # (R, B, 1)
    GX = weights[:, :, None] * torch.bmm((grad_out[:, :, None] * X).transpose(1, 2), kernel).transpose(
        1, 2
    )  # (R, K, D)
    grad_centroids = 2.0 * g3 * (GX - col[:, :, None] * centroids)
    g_dist = (sq_x * row).sum((1, 2)) + (sq_c * col).sum(1) - 2.0 * (centroids * GX).sum((1, 2))  # (R,)
    grads = (grad_out.sum(1), grad_weights, grad_centroids, -gamma * g_dist)
    return (residual * residual).sum(1), grads


class _GaussianKernelLayer(torch.autograd.Function):
    """α + exp(−γ max(‖x − θ‖², 0)) @ β with a hand-written backward.

    Autograd on the same expression keeps five (N, K) intermediates alive and runs a dozen
    elementwise passes; this keeps one (the kernel matrix) and reuses it.
    """

    @staticmethod
    def forward(ctx, X, centroids, weights, bias, log_gamma):
        gamma = log_gamma.exp()
        kernel, sq_x, sq_c = _kernel(X, centroids, gamma)
        out = torch.addmv(bias.expand(X.shape[0]), kernel, weights)  # (N,)
        ctx.save_for_backward(X, centroids, weights, gamma, kernel, sq_x, sq_c)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        X, centroids, weights, gamma, kernel, sq_x, sq_c = ctx.saved_tensors
        kw = kernel.mv(weights)  # (N,)
        grad_bias, grad_weights, grad_centroids, grad_log_gamma, row = _parameter_grads(
            X, centroids, weights, gamma, kernel, grad_out, sq_x, sq_c, kw
        )
        grad_X = None
        if ctx.needs_input_grad[0]:  # G @ Θ = grad_out ⊙ kernel (β ⊙ Θ)
            grad_X = 2.0 * gamma * (grad_out[:, None] * (kernel @ (weights[:, None] * centroids)) - row * X)
        return grad_X, grad_centroids, grad_weights, grad_bias, grad_log_gamma


class RBFN(nn.Module):
    """Gaussian radial basis function network, eq. (2).

    Parameters
    ----------
    num_inputs : int
        Input dimension D (26 for the Cu jump environments).
    num_centroids : int
        Number of centroids K.
    seed : int or None, default=None
        Seed of the random initialisation (the paper's uniform ranges); None draws from torch's
        global generator.
    dtype : torch.dtype, default=torch.float32
    device : str or torch.device or None, default=None

    Attributes
    ----------
    bias, weights, centroids, log_gamma : torch.nn.Parameter
        α (0-d), β (K,), Θ (K, D) and log γ (0-d).
    metadata : dict
        Provenance and metrics; ``target_mean`` and ``target_scale`` turn the network's output
        into physical units.

    Examples
    --------
    >>> net = RBFN(2, 4, seed=1)
    >>> net.centroids.shape, float(net.gamma) > 0
    (torch.Size([4, 2]), True)
    >>> net.predict(np.zeros((5, 2))).shape
    (5,)
    """

    def __init__(
        self,
        num_inputs: int,
        num_centroids: int,
        *,
        seed: int | None = None,
        dtype: torch.dtype = torch.float32,
        device=None,
    ):
        super().__init__()
        for name, value in (("num_inputs", num_inputs), ("num_centroids", num_centroids)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive int; got {value!r}")
        num_inputs, num_centroids = int(num_inputs), int(num_centroids)
        kw = dict(dtype=dtype, device=device)
        self.bias = nn.Parameter(torch.zeros((), **kw))
        self.weights = nn.Parameter(torch.zeros(num_centroids, **kw))
        self.centroids = nn.Parameter(torch.zeros(num_centroids, num_inputs, **kw))
        self.log_gamma = nn.Parameter(torch.zeros((), **kw))
        self.metadata: dict = {
            "kind": "trained",
            "surface": None,
            "num_inputs": num_inputs,
            "num_centroids": num_centroids,
            "target_mean": 0.0,
            "target_scale": 1.0,
        }
        self.reset_parameters(seed)

    # -- construction
    @torch.no_grad()
    def reset_parameters(self, seed: int | None = None) -> RBFN:
        """Random initialisation of the paper's code: α, β, Θ ~ U(−2, 2), log γ ~ −log D ± 0.1."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None

        def uniform(shape, low, high):
            u = torch.rand(shape, generator=gen, dtype=torch.float64, device="cpu")  # device-independent draws
            return (low + (high - low) * u).to(self.bias)

        self.bias.copy_(uniform((), -INIT_RANGE, INIT_RANGE))
        self.weights.copy_(uniform(self.weights.shape, -INIT_RANGE, INIT_RANGE))
        self.centroids.copy_(uniform(self.centroids.shape, -INIT_RANGE, INIT_RANGE))
        log_d = math.log(self.num_inputs)
        self.log_gamma.copy_(uniform((), -log_d - LOG_GAMMA_JITTER, -log_d + LOG_GAMMA_JITTER))
        return self

    @classmethod
    @torch.no_grad()
    def from_subset(cls, source: RBFN, num_centroids: int, *, seed: int | None = None) -> RBFN:
        """A smaller network made of ``num_centroids`` centroids of ``source`` (sampled without
        replacement, with their weights), copying α and γ: the paper's pruning initialisation.

        Examples
        --------
        >>> big = RBFN(3, 10, seed=0)
        >>> small = RBFN.from_subset(big, 4, seed=0)
        >>> bool(torch.isin(small.centroids[:, 0], big.centroids[:, 0]).all())
        True
        """
        if not 1 <= num_centroids <= source.num_centroids:
            raise ValueError(f"`num_centroids` must be an int in [1, {source.num_centroids}]; got {num_centroids!r}")
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        idx = torch.randperm(source.num_centroids, generator=gen, device="cpu")[:num_centroids]
        net = cls(source.num_inputs, num_centroids, dtype=source.bias.dtype, device=source.bias.device)
        net.bias.copy_(source.bias)
        net.log_gamma.copy_(source.log_gamma)
        net.weights.copy_(source.weights[idx.to(source.weights.device)])
        net.centroids.copy_(source.centroids[idx.to(source.weights.device)])
        net.metadata.update(
            target_mean=source.metadata.get("target_mean", 0.0),
            target_scale=source.metadata.get("target_scale", 1.0),
            surface=source.metadata.get("surface"),
        )
        return net

    # -- sizes and metadata
    @property
    def info(self):
        """The typed, validated view of :attr:`metadata` (:class:`rbfviz.core.metadata.ModelInfo`)."""
        from rbfviz.core.metadata import ModelInfo

        return ModelInfo.from_model(self)

    @property
    def target_mean(self) -> float:
        """Mean of the training targets (eV): predictions are ``target_mean + target_scale * f(x)``."""
        return float(self.metadata.get("target_mean", 0.0))

    @property
    def target_scale(self) -> float:
        """Scale of the training targets (eV per standardised unit); β in eV is ``target_scale * β``."""
        return float(self.metadata.get("target_scale", 1.0))

    @property
    def num_inputs(self) -> int:
        return self.centroids.shape[1]

    @property
    def num_centroids(self) -> int:
        return self.centroids.shape[0]

    @property
    def gamma(self) -> torch.Tensor:
        """γ = exp(log γ)."""
        return self.log_gamma.exp()

    # -- evaluation
    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """f(X) in standardised units, shape (N,).  ``X`` has shape (N, D)."""
        if X.dim() != 2 or X.shape[1] != self.num_inputs:
            raise ValueError(f"X must have shape (N, {self.num_inputs}); got {tuple(X.shape)}")
        X = X.to(self.centroids)
        return _GaussianKernelLayer.apply(X, self.centroids, self.weights, self.bias, self.log_gamma)

    @torch.no_grad()
    def squared_error_and_grads(self, X: torch.Tensor, y: torch.Tensor):
        """Σ_n (f(x_n) − y_n)² of a batch and its gradients for (bias, weights, centroids,
        log_gamma), computed analytically in one pass: the training step without the autograd
        engine (tests check it against autograd)."""
        return batch_squared_error_and_grads(X, y, self.bias, self.weights, self.centroids, self.log_gamma)

    @torch.no_grad()
    def predict(self, X, *, batch_size: int = 65536) -> np.ndarray:
        """Predictions in physical units (``target_mean + target_scale · f(x)``) as float64.

        ``X`` is array-like of shape (N, D) (±1 occupations for the Cu data).
        """
        dtype = self.centroids.dtype
        X = X.to(dtype) if torch.is_tensor(X) else torch.as_tensor(np.asarray(X, dtype=np.float64), dtype=dtype)
        if X.dim() != 2 or X.shape[1] != self.num_inputs:
            raise ValueError(f"X must have shape (N, {self.num_inputs}); got {tuple(X.shape)}")
        out = (
            torch.cat([self(X[i : i + batch_size]) for i in range(0, len(X), batch_size)]) if len(X) else torch.zeros(0)
        )
        return self.target_mean + self.target_scale * out.double().cpu().numpy()

    def extra_repr(self) -> str:
        return (
            f"num_inputs={self.num_inputs}, num_centroids={self.num_centroids}, "
            f"kind={self.metadata.get('kind')!r}, surface={self.metadata.get('surface')!r}"
        )
