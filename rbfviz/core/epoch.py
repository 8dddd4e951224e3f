"""The graph-ready training epoch: one network (:class:`GraphReadyEpoch`, captured as one CUDA
graph on CUDA) and R networks at once (:class:`BatchedEpoch`).

Everything an epoch touches is allocated once: the data, static buffers the epoch's shuffle is
gathered into (each minibatch a fixed slice of them), Adam's per-step constants (computed on the
device from the step count and the rate), the summed errors, the best parameters so far.  So an
epoch launches the same operations on the same memory every time and never waits for the host:
what ``torch.cuda.graph`` can capture.  The host reads the epoch's errors once, after it.

On the CPU, where there is no graph to capture, a compiled run does the same work through
:func:`adam_steps`: S minibatch steps (gradient and Adam update) per call of one compiled
function, on the parameters packed with the centroids transposed, so that every pass runs along
K (:func:`rbfviz.core.model.packed_index`).
"""

from __future__ import annotations

import contextlib
import math
import warnings

import torch

from rbfviz.core.model import (
    batch_squared_error_and_grads,
    batched_rbf_forward,
    batched_squared_error_and_grads,
    packed_index,
    packed_squared_error_and_grads,
    rbf_forward,
)
from rbfviz.core.optim import FlatAdam, _adam_update, adam_step_constants
from rbfviz.core.progress import cancel_requested

_CANCEL_EVERY = 256  # eager epochs test cancel every this many minibatches (free on the host)
# On the CPU validation runs in chunks of at most this many kernel entries (rows × K, 4 MB of
# float32): chunks that stay in cache are ~4x faster than one (10,000 × 1024) pass through memory.
_CPU_VAL_ENTRIES = 1 << 20


def validation_rows(eval_batch_size: int, num_centroids: int, device: torch.device) -> int:
    """Rows of a validation chunk: ``eval_batch_size``, capped on the CPU to stay in cache.

    Examples
    --------
    >>> cpu, cuda = torch.device("cpu"), torch.device("cuda")
    >>> validation_rows(16384, 1024, cpu), validation_rows(16384, 1024, cuda), validation_rows(20, 6, cpu)
    (1024, 16384, 20)
    """
    if device.type != "cpu":
        return eval_batch_size
    return max(1, min(eval_batch_size, _CPU_VAL_ENTRIES // num_centroids))


@contextlib.contextmanager
def tf32_matmul(enabled: bool, device: torch.device):
    """TF32 matrix products on CUDA while training, as ``TrainConfig.tf32`` says; restored after."""
    if device.type != "cuda":
        yield
        return
    matmul = torch.backends.cuda.matmul
    before = matmul.allow_tf32
    matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        matmul.allow_tf32 = before


@contextlib.contextmanager
def at_most_threads(n: int):
    """Run torch's CPU operations on at most ``n`` threads inside the block (0: no limit), and
    restore the setting after it.

    With torch's OpenMP builds the setting belongs to the calling thread once it has used torch
    (OpenMP's thread count and MKL's local one are per thread), so a training thread limits
    itself, not the threads beside it.
    """
    before = torch.get_num_threads()
    if n <= 0 or n >= before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------- fused steps
def adam_steps(
    packed, exp_avg, exp_avg_sq, X, y, c1, c2, sse, weight_decay: float, beta1: float, beta2: float, eps: float
):
    """S = ``X.shape[0]`` consecutive minibatch steps (gradient and Adam update) on the packed
    parameters (:func:`rbfviz.core.model.packed_index`), in place, adding each batch's summed
    squared error to ``sse``.

    A pure function of tensors: compiled (for one S), it is one call and a handful of fused
    loops per S steps, where the step-by-step loop pays the interpreter and dispatcher for every
    operation.  Shapes: packed, exp_avg, exp_avg_sq (P,), X (S, B, D), y (S, B), c1 and c2 (S,)
    (each step's Adam constants, :func:`rbfviz.core.optim.adam_step_constants`), sse 0-d.
    """
    for s in range(X.shape[0]):
        loss, grad = packed_squared_error_and_grads(packed, X[s], y[s])
        _adam_update(packed, exp_avg, exp_avg_sq, grad, c1[s], c2[s], weight_decay, beta1, beta2, eps)
        sse += loss


# --------------------------------------------------------------------------- the epoch
class GraphReadyEpoch:
    """One epoch of minibatch Adam plus validation and the keep-best copy, with no host
    synchronisation inside: what a CUDA graph can capture.

    All state lives in tensors allocated once: the shuffled data (static buffers that each
    minibatch slices), Adam's per-step constants (computed on the device from the step count and
    the rate), the summed training error, the validation error and the best parameters so far.
    :meth:`run` does one epoch: the shuffle (an on-device permutation and gather) and then either
    the captured graph's replay or the same operations eagerly.  :meth:`read` is the one host
    synchronisation of an epoch: (summed training error, validation MSE).
    """

    def __init__(
        self,
        params,
        optimizer: FlatAdam,
        Xt,
        yt,
        Xv,
        yv,
        step,
        device,
        batch_size,
        eval_batch_size,
        seed,
        fused=None,
        chunk: int = 1,
        step_threads: int = 0,
    ):
        self.params, self.opt, self.step, self.device = params, optimizer, step, device
        # fused: adam_steps (compiled for `chunk` steps a call) runs the minibatches instead of
        # step + optimizer, on packed copies of the optimiser's buffers (see packed_index)
        self.fused, self.chunk, self.step_threads = fused, chunk, step_threads
        if fused is not None:
            self.pack = packed_index(params[1].numel(), Xt.shape[1], device)  # (P,)
            self.packed = tuple(torch.empty_like(t) for t in optimizer.state())  # parameters, both moments
        self.Xt, self.yt, self.Xv, self.yv = Xt, yt, Xv, yv
        self.bs, self.eval_bs = batch_size, validation_rows(eval_batch_size, params[1].numel(), device)
        n = len(Xt)
        self.n_full, self.rem = divmod(n, self.bs)
        self.num_batches = self.n_full + (self.rem > 0)
        f64 = dict(dtype=torch.float64, device=device)
        self.X_epoch, self.y_epoch = torch.empty_like(Xt), torch.empty_like(yt)  # (N, D), (N,)
        self.perm = torch.empty(n, dtype=torch.int64, device=device)
        self.shuffle_gen = torch.Generator(device=device).manual_seed(seed)
        self.steps_ahead = torch.arange(1, self.num_batches + 1, **f64)  # (B,)
        self.t = torch.zeros((), **f64)  # Adam steps taken before this epoch
        self.lr = torch.full((), optimizer.lr, **f64)
        self.c1 = torch.empty(self.num_batches, dtype=optimizer.flat.dtype, device=device)  # (B,)
        self.c2 = torch.empty_like(self.c1)
        self.sse = torch.zeros((), dtype=torch.float32, device=device)
        self.val_sse = torch.zeros((), **f64)
        self.val_mse = torch.zeros((), **f64)
        self.best_val = torch.full((), math.inf, **f64)
        self.best_flat = optimizer.flat.clone()  # (P,)
        self.graph = None

    def _body(self, cancel=None, limit: int | None = None) -> bool:
        """The epoch's device work on the data already in the static buffers; False if cancelled."""
        opt, bs = self.opt, self.bs
        c1, c2 = adam_step_constants(self.lr, self.t + self.steps_ahead, *opt.betas)
        self.c1.copy_(c1)
        self.c2.copy_(c2)
        self.sse.zero_()
        n_full = self.n_full if limit is None else min(limit, self.n_full)
        if self.fused is not None:
            if not self._fused_minibatches(n_full, cancel):
                return False
        else:
            for j in range(self.num_batches if limit is None else n_full + (self.rem > 0)):
                if cancel is not None and j % _CANCEL_EVERY == _CANCEL_EVERY - 1 and cancel_requested(cancel):
                    return False
                full = j < n_full
                lo = j * bs if full else self.n_full * bs
                Xb, yb = self.X_epoch[lo : lo + bs], self.y_epoch[lo : lo + bs]  # fixed slices of static buffers
                # summed squared error, as the paper's code; gradients analytically (eq. 2)
                loss, grads = (self.step if full else batch_squared_error_and_grads)(Xb, yb, *self.params)
                opt.update_with(torch.cat([g.reshape(-1) for g in grads]), self.c1[j], self.c2[j])
                self.sse += loss
        self.t += self.num_batches
        # validation (float64 accumulation of float32 chunk sums) and the keep-best copy
        self.val_sse.zero_()
        for i in range(0, len(self.Xv), self.eval_bs):
            r = rbf_forward(self.Xv[i : i + self.eval_bs], *self.params) - self.yv[i : i + self.eval_bs]
            self.val_sse += r.dot(r).double()
        torch.div(self.val_sse, len(self.Xv), out=self.val_mse)
        improved = self.val_mse < self.best_val  # the host schedule's test (threshold 0)
        self.best_flat.copy_(torch.where(improved, opt.flat, self.best_flat))
        self.best_val.copy_(torch.where(improved, self.val_mse, self.best_val))  # NaN never "improves"
        return True

    def _fused_minibatches(self, n_full: int, cancel) -> bool:
        """The epoch's minibatch steps through ``fused`` (``chunk`` steps a call; the last
        n_full mod chunk full batches and the remainder batch through eager :func:`adam_steps`,
        one a call) on at most ``step_threads`` threads; False if cancelled."""
        opt = self.opt
        for flat, packed in zip(opt.state(), self.packed):
            torch.index_select(flat, 0, self.pack, out=packed)
        with at_most_threads(self.step_threads):
            finished = self._fused_loop(n_full, cancel)
        for flat, packed in zip(opt.state(), self.packed):
            flat.index_copy_(0, self.pack, packed)
        return finished

    def _fused_loop(self, n_full: int, cancel) -> bool:
        opt, bs, S = self.opt, self.bs, self.chunk
        hyper = (opt.weight_decay, *opt.betas, opt.eps)
        D, j, next_check, finished = self.X_epoch.shape[1], 0, _CANCEL_EVERY, True
        batches = [(S, self.fused)] * (n_full // S) + [(1, adam_steps)] * (n_full % S)
        if self.rem:
            batches.append((1, adam_steps))  # the remainder batch, rows n_full·B onwards
        for s, steps in batches:
            lo = j * bs if j < n_full else self.n_full * bs
            Xb = self.X_epoch[lo : lo + s * bs].view(s, -1, D)  # (s, B, D): s consecutive batches
            yb = self.y_epoch[lo : lo + s * bs].view(s, -1)  # (s, B)
            steps(*self.packed, Xb, yb, self.c1[j : j + s], self.c2[j : j + s], self.sse, *hyper)
            j += s
            if cancel is not None and j >= next_check:
                next_check += _CANCEL_EVERY
                if cancel_requested(cancel):
                    finished = False
                    break
        return finished

    def capture(self) -> None:
        """Capture :meth:`_body` as a CUDA graph (after a warm-up on a side stream; the warm-up's
        changes are undone)."""
        saved = [t.clone() for t in (*self.opt.state(), self.t, self.best_flat, self.best_val)]
        self.X_epoch.copy_(self.Xt)  # real data for the warm-up (the buffers are still empty)
        self.y_epoch.copy_(self.yt)
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream), torch.no_grad():
            for _ in range(2):
                self._body(limit=3)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        for t, s in zip((*self.opt.state(), self.t, self.best_flat, self.best_val), saved):
            t.copy_(s)
        graph = torch.cuda.CUDAGraph()
        # thread-local: the dashboard trains on a worker thread while others may use the GPU
        with torch.cuda.graph(graph, capture_error_mode="thread_local"), torch.no_grad():
            self._body()
        self.graph = graph

    @torch.no_grad()
    def run(self, lr: float, cancel=None) -> bool:
        """One epoch at rate ``lr``; False if cancelled before its end (eager runs only)."""
        torch.randperm(len(self.Xt), generator=self.shuffle_gen, device=self.device, out=self.perm)
        torch.index_select(self.Xt, 0, self.perm, out=self.X_epoch)  # one gather; minibatches are slices
        torch.index_select(self.yt, 0, self.perm, out=self.y_epoch)
        self.lr.fill_(lr)
        if self.graph is not None:
            self.graph.replay()
            return True
        return self._body(cancel)

    def read(self) -> tuple[float, float]:
        """(summed training squared error, validation MSE) of the last epoch: one host sync."""
        sse, val = torch.stack([self.sse.double(), self.val_mse]).tolist()
        return sse, val


def _pad_stack(tensors, length: int, tail_shape=()) -> tuple[torch.Tensor, torch.Tensor]:
    """(R, length, ...) zero-padded stack and the (R, length) mask of real rows."""
    first = tensors[0]
    out = first.new_zeros(len(tensors), length, *first.shape[1:])
    mask = first.new_zeros(len(tensors), length)
    for r, t in enumerate(tensors):
        out[r, : len(t)] = t
        mask[r, : len(t)] = 1
    return out, mask


def _batched_adam_step(flat, exp_avg, exp_avg_sq, grads, c1, c2, on, all_on: bool, wd: float) -> None:
    """FlatAdam's update for the rows of (R, P) buffers where ``on`` (R,) is set, each with its
    own step constants ``c1``, ``c2`` (R, 1); the other rows are left exactly as they are."""
    b1, b2, eps = 0.9, 0.999, 1e-8
    R = flat.shape[0]
    g = torch.cat([gr.reshape(R, -1) for gr in grads], dim=1).add_(flat, alpha=wd)  # (R, P)
    if all_on:  # every row steps: in place, as FlatAdam
        exp_avg.lerp_(g, 1 - b1)
        exp_avg_sq.mul_(b2).addcmul_(g, g, value=1 - b2)
        flat.sub_(c1 * exp_avg / (exp_avg_sq.sqrt() * c2 + eps))
        return
    keep = on[:, None]
    m_new = exp_avg.lerp(g, 1 - b1)
    v_new = (exp_avg_sq * b2).addcmul_(g, g, value=1 - b2)
    x_new = flat - c1 * m_new / (v_new.sqrt() * c2 + eps)
    exp_avg.copy_(torch.where(keep, m_new, exp_avg))
    exp_avg_sq.copy_(torch.where(keep, v_new, exp_avg_sq))
    flat.copy_(torch.where(keep, x_new, flat))


class BatchedEpoch:
    """:class:`GraphReadyEpoch` for R networks at once (:func:`rbfviz.core.train.train_many`).

    The networks' data are zero-padded to common lengths with row weights (1 real, 0 padding),
    so a network with fewer rows has a partial last batch and then steps no more; each keeps
    its own shuffle generator, Adam state, step count and rate.  Row r of the flat (R, P)
    buffer is network r's :class:`FlatAdam` buffer (bias, weights, centroids, log γ).
    """

    def __init__(self, models, prepared, seeds, batch_size, eval_batch_size, weight_decay, device, use_graph=False):
        R, K, D = len(models), models[0].num_centroids, models[0].num_inputs
        self.R, self.bs, self.eval_bs, self.wd, self.device = R, batch_size, eval_batch_size, weight_decay, device
        self.n = [len(p[0]) for p in prepared]
        self.batches = [-(-k // batch_size) for k in self.n]  # per network, the remainder batch included
        B = max(self.batches)
        self.Xt, _ = _pad_stack([p[0] for p in prepared], max(self.n))  # (R, Nmax, D)
        self.yt, _ = _pad_stack([p[1] for p in prepared], max(self.n))  # (R, Nmax)
        self.Xv, self.wv = _pad_stack([p[2] for p in prepared], max(len(p[2]) for p in prepared))  # (R, V, D)
        self.yv, _ = _pad_stack([p[3] for p in prepared], self.Xv.shape[1])
        self.n_val = torch.tensor([len(p[2]) for p in prepared], dtype=torch.float64, device=device)  # (R,)
        self.row_w = torch.zeros(R, B * batch_size, device=device)  # 1 on the rows of each network's epoch
        for r, k in enumerate(self.n):
            self.row_w[r, :k] = 1
        self.identity = torch.arange(max(self.n), device=device).expand(R, -1)  # (R, Nmax)
        self.offsets = torch.arange(R, device=device)[:, None] * max(self.n)  # (R, 1)
        self.X_epoch = torch.zeros(R, B * batch_size, D, device=device)  # static buffers
        self.y_epoch = torch.zeros(R, B * batch_size, device=device)
        self.gens = [torch.Generator(device=device).manual_seed(s) for s in seeds]
        ps = [(m.bias, m.weights, m.centroids, m.log_gamma) for m in models]
        self.flat = torch.stack([torch.cat([p.detach().reshape(-1) for p in group]) for group in ps])  # (R, P)
        f = self.flat
        self.params = (f[:, 0], f[:, 1 : 1 + K], f[:, 1 + K : 1 + K + K * D].view(R, K, D), f[:, -1])
        self.exp_avg, self.exp_avg_sq = torch.zeros_like(f), torch.zeros_like(f)
        self.best_flat = f.clone()
        self.t = torch.zeros(R, dtype=torch.float64, device=device)  # Adam steps per network
        self.lr = torch.zeros(R, dtype=torch.float64, device=device)
        self.best = torch.zeros(R, dtype=torch.float64, device=device)  # the schedules' best validation MSEs
        self.on = torch.zeros(R, dtype=torch.bool, device=device)  # the networks still training
        self.masks = torch.zeros(B, R, dtype=torch.bool, device=device)  # who takes step j
        self.sse = torch.zeros(R, device=device)
        self.val_sse = torch.zeros(R, dtype=torch.float64, device=device)
        self.val_mse = torch.zeros(R, dtype=torch.float64, device=device)
        self.use_graph, self.graphs = use_graph and device.type == "cuda", {}

    def _body(self, steps_on: list[list[bool]]) -> None:
        """The epoch's device work on the static buffers (no host synchronisation, no tensors
        from the host): what :meth:`capture` records."""
        R, bs = self.R, self.bs
        # every step's Adam constants at once: network r's step count after step j is t_r + Σ masks
        counts = self.t + torch.cumsum(self.masks.double(), 0)  # (B, R)
        c1, c2 = adam_step_constants(self.lr, counts.clamp_min(1))
        c1, c2 = c1.float()[:, :, None], c2.float()[:, :, None]  # (B, R, 1)
        self.t += self.masks.double().sum(0)
        self.sse.zero_()
        for j in range(len(steps_on)):
            sl = slice(j * bs, (j + 1) * bs)
            loss, grads = batched_squared_error_and_grads(
                self.X_epoch[:, sl], self.y_epoch[:, sl], self.row_w[:, sl], *self.params
            )
            self.sse += loss
            _batched_adam_step(
                self.flat, self.exp_avg, self.exp_avg_sq, grads, c1[j], c2[j], self.masks[j], all(steps_on[j]), self.wd
            )
        self.val_sse.zero_()
        # an (R, rows, K) kernel per chunk: the memory of one network's chunk (and in cache on the CPU)
        rows = validation_rows(max(1, self.eval_bs // R), R * self.params[1].shape[1], self.device)
        for i in range(0, self.Xv.shape[1], rows):
            chunk = slice(i, i + rows)
            res = (batched_rbf_forward(self.Xv[:, chunk], *self.params) - self.yv[:, chunk]) * self.wv[:, chunk]
            self.val_sse += (res * res).sum(1).double()
        torch.div(self.val_sse, self.n_val, out=self.val_mse)
        improved = self.on & (self.val_mse < self.best)  # (R,)
        self.best_flat.copy_(torch.where(improved[:, None], self.flat, self.best_flat))

    def capture(self, steps_on: list[list[bool]]) -> torch.cuda.CUDAGraph:
        """:meth:`_body` captured as a CUDA graph for one set of running networks (the host
        decisions of the step loop depend on it), after a warm-up whose changes are undone."""
        state = (self.flat, self.exp_avg, self.exp_avg_sq, self.t, self.best_flat)
        saved = [t.clone() for t in state]
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream), torch.no_grad():
            self._body(steps_on)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        for t, v in zip(state, saved):
            t.copy_(v)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, capture_error_mode="thread_local"), torch.no_grad():
            self._body(steps_on)
        return graph

    @torch.no_grad()
    def run(self, running: list[bool], lrs: list[float], best: list[float]) -> tuple[list[float], list[float]]:
        """One epoch of the networks with ``running`` set, at rates ``lrs``; keeps a network's
        parameters where its validation MSE beats ``best``.  Returns the summed training errors
        and validation MSEs (one host synchronisation)."""
        R, dev = self.R, self.device
        idx = self.identity.clone()  # (R, Nmax): each network's own shuffle (as train()'s), one gather for all
        for r in range(R):
            if running[r]:
                idx[r, : self.n[r]] = torch.randperm(self.n[r], generator=self.gens[r], device=dev)
        N, D = idx.shape[1], self.Xt.shape[2]
        rows = (idx + self.offsets).reshape(-1)  # (R·Nmax,) rows of the flattened data
        self.X_epoch[:, :N] = torch.index_select(self.Xt.view(R * N, D), 0, rows).view(R, N, D)
        self.y_epoch[:, :N] = torch.index_select(self.yt.view(R * N), 0, rows).view(R, N)
        steps_on = [[running[r] and j < self.batches[r] for r in range(R)] for j in range(max(self.batches))]
        # the epoch's inputs, into static buffers
        self.lr.copy_(torch.tensor(lrs, dtype=torch.float64))
        self.best.copy_(torch.tensor(best, dtype=torch.float64))
        self.on.copy_(torch.tensor(running))
        self.masks.copy_(torch.tensor(steps_on))  # (B, R): who takes step j
        if self.use_graph:
            key = tuple(running)
            if key not in self.graphs:
                try:
                    self.graphs = {key: self.capture(steps_on)}  # the running set only shrinks: keep one
                except Exception as exc:  # an operation that cannot be captured here: eager epochs
                    warnings.warn(
                        f"CUDA graph capture failed ({type(exc).__name__}: {exc}); eager epochs", stacklevel=3
                    )
                    self.use_graph = False
        if self.use_graph:
            self.graphs[tuple(running)].replay()
        else:
            self._body(steps_on)
        return self.sse.double().tolist(), self.val_mse.tolist()

    @torch.no_grad()
    def load_best(self, r: int, model) -> None:
        """Copy network r's best parameters into ``model``."""
        offset = 0
        for p in (model.bias, model.weights, model.centroids, model.log_gamma):
            p.copy_(self.best_flat[r, offset : offset + p.numel()].view_as(p))
            offset += p.numel()
