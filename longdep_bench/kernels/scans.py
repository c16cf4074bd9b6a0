"""Scans for linear recurrences h_t = a_t * h_{t-1} + b_t (element-wise), h_0 = 0.

``log_space_scan`` and ``doubling_scan`` replace a Python loop over time by a few whole-sequence
tensor operations (parallel scans, any device). ``sequential_scan`` runs the loop itself in numba,
forward and backward, on CPU tensors: a parallel scan's extra work pays only where many cores run
it at once. Forward and backward at B=16, N=64, one thread, fastest rounds of
``tests/benchmarks/test_scan_kernels.py`` on a 2-core AMD EPYC (the other core busy):
``doubling_scan`` 1.7 ms at T=110 and 31 ms at T=1070, ``sequential_scan`` 0.11 ms and 1.2 ms;
with the LRU's time-invariant complex coefficients 2.4 ms and 37 ms against 0.19 ms and 3.7 ms.
``log_space_scan`` took about 17 ms at T=110 on an earlier Intel machine, most of it in
``torch.logcumsumexp``. ``linear_scan`` picks the linear-space kernel by the ``kernel`` option,
among them the Triton kernels of ``kernels.triton.scan``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numba import njit, prange
from torch import Tensor

from longdep_bench.api.params import Param
from longdep_bench.kernels.devices import use_numba
from longdep_bench.kernels.numba.bridge import CompiledPasses
from longdep_bench.kernels.triton import scan as scan_triton

KERNEL_OPTION = Param(
    "kernel", str, "auto",
    "how the linear-space scan runs: numba (one compiled pass over time, CPU only), torch (the "
    "doubling scan in tensor operations, any device), triton (one Triton kernel each way, CUDA), or "
    "auto (numba on the CPU, triton on CUDA where Triton is installed, torch elsewhere)",
    choices=("auto", "numba", "torch", "triton"), runtime=True)


def linear_scan(a: Tensor, b: Tensor, kernel: str) -> tuple[Tensor, str]:
    """h_t = a_t h_{t-1} + b_t by ``kernel`` (a ``KERNEL_OPTION`` value); returns h and the kernel that ran.
    ``auto`` on CUDA runs the Triton kernels where they can run ``b``: a graphed training step of minGRU
    took 0.18-0.33x and the LRU's 0.39-0.55x the time of the doubling scan on an H100
    (reports/gpu-h100-run2/scans.md)."""
    if kernel == "triton" or (kernel == "auto" and b.is_cuda):
        reason = scan_triton.usable(b)
        if not reason:
            return scan_triton.triton_scan(a, b), "triton"
        if kernel == "triton":
            raise ValueError(f"kernel=triton: {reason}")
    if use_numba(kernel, b):
        return sequential_scan(a, b), "numba"
    return doubling_scan(a, b), "torch"


def sequential_scan(a: Tensor, b: Tensor) -> Tensor:
    """h_t = a_t h_{t-1} + b_t along dim 1 in one compiled pass over time (CPU tensors, real or
    complex); ``b`` is (B, T, N), ``a`` (B, T, N) or time-invariant (N,). Differentiable in both."""
    return SCAN_PASSES.apply(a, b)


def _scan_forward_pass(a: Tensor, b: Tensor) -> tuple[Tensor, Any]:
    h = torch.empty(b.shape, dtype=b.dtype)
    _scan_forward(_as_steps(a), b.numpy(), h.numpy())
    return h, (a, h)


def _scan_backward_pass(saved: Any, grad_h: Tensor) -> tuple[Tensor | None, ...]:
    """Complex gradients follow PyTorch's convention (the conjugate Wirtinger derivative): the error
    reaches h_{t-1} through conj(a_t), and a_t's gradient is the error at h_t times conj(h_{t-1})."""
    a, h = saved
    grad_a, grad_b = torch.empty_like(h), torch.empty_like(h)
    _scan_backward(_as_steps(a), h.numpy(), grad_h.numpy(), grad_a.numpy(), grad_b.numpy())
    return (grad_a.sum((0, 1)) if a.dim() == 1 else grad_a), grad_b


SCAN_PASSES = CompiledPasses("numba sequential scan", _scan_forward_pass, _scan_backward_pass)


def _as_steps(a: Tensor) -> np.ndarray:
    """``a`` as a (B, T, N) or (1, 1, N) array for the kernels."""
    return (a.detach().reshape(1, 1, -1) if a.dim() == 1 else a.detach()).contiguous().numpy()


@njit(cache=True, nogil=True, parallel=True)
def _scan_forward(a, b, h):
    """Fill ``h`` (B, T, N) from ``b`` (B, T, N) and ``a`` (B, T, N), or (1, 1, N) if time-invariant."""
    batch, steps, width = b.shape
    varying = a.shape[1] > 1
    for i in prange(batch):
        state = np.zeros(width, dtype=b.dtype)
        for t in range(steps):
            row = a[i, t] if varying else a[0, 0]
            for n in range(width):
                state[n] = row[n] * state[n] + b[i, t, n]
                h[i, t, n] = state[n]


@njit(cache=True, nogil=True, parallel=True)
def _scan_backward(a, h, grad_h, grad_a, grad_b):
    """Fill ``grad_b`` and ``grad_a`` (both (B, T, N)) by the reverse pass over time."""
    batch, steps, width = h.shape
    varying = a.shape[1] > 1
    for i in prange(batch):
        carry = np.zeros(width, dtype=h.dtype)  # the error reaching h_t from h_{t+1}
        for t in range(steps - 1, -1, -1):
            row = a[i, t] if varying else a[0, 0]
            for n in range(width):
                error = grad_h[i, t, n] + carry[n]
                grad_b[i, t, n] = error
                carry[n] = np.conj(row[n]) * error
        grad_a[i, 0] = 0  # h_0 = 0; a separate loop without branches or negative indices vectorises
        for t in range(1, steps):
            for n in range(width):
                grad_a[i, t, n] = grad_b[i, t, n] * np.conj(h[i, t - 1, n])


CHUNK = 64  # steps per block of the blocked scan: small blocks keep its working set in cache


def doubling_scan(a: Tensor, b: Tensor) -> Tensor:
    """h_t = a_t * h_{t-1} + b_t along dim 1; ``b`` is (B, T, N), ``a`` (B, T, N) or time-invariant (N,).

    The sequence is cut into blocks of ``CHUNK`` steps. Within a block, Hillis-Steele doubling:
    after the step with offset d, h_t holds the recurrence's sum over its last 2d inputs and a_t
    the product of its last 2d coefficients, so ceil(log2 CHUNK) element-wise steps suffice. The
    blocks are then chained: a block's start state enters each of its steps through the running
    product of coefficients. The scan never divides, so it cannot overflow; a product of
    coefficients underflows only where its contribution is negligible. Works for complex tensors
    (the LRU's eigenvalues).
    """
    invariant = a.dim() != b.dim()
    blocks, carry = [], None
    for start in range(0, b.shape[1], CHUNK):
        block = b[:, start:start + CHUNK]
        h, decay = _block_scan(a.expand(1, block.shape[1], -1) if invariant else a[:, start:start + CHUNK], block)
        if carry is not None:
            h = h + decay * carry.unsqueeze(1)
        carry = h[:, -1]
        blocks.append(h)
    return blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=1)


def _block_scan(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Doubling scan of one block; returns h (from a zero start) and the running products of a."""
    h, offset = b, 1
    while offset < b.shape[1]:
        h = h + a * _shift(h, offset, 0.0)
        a = a * _shift(a, offset, 1.0)
        offset *= 2
    return h, a


def _shift(x: Tensor, offset: int, fill: float) -> Tensor:
    """x delayed by ``offset`` steps along dim 1, the first steps filled with ``fill``."""
    return torch.cat([torch.full_like(x[:, :offset], fill), x[:, :-offset]], dim=1)


def log_space_scan(log_a: Tensor, log_b: Tensor) -> Tensor:
    """h_t = a_t * h_{t-1} + b_t along dim 1 for positive a_t, b_t given as logarithms (B, T, N).

    h_t = exp(A_t + logcumsumexp_{j<=t}(log b_j - A_j)) with A_t = sum_{j<=t} log a_j: the
    log-space formulation of Feng et al. (2024), numerically stable for long sequences.
    """
    cumulative = torch.cumsum(log_a, dim=1)
    return torch.exp(cumulative + torch.logcumsumexp(log_b - cumulative, dim=1))
