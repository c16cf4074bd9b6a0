"""Parallel scans for linear recurrences h_t = a_t * h_{t-1} + b_t (element-wise), h_0 = 0.

Both replace a Python loop over time by a few whole-sequence tensor operations. Measured on this
project's CPU (B=16, T=110, N=64, forward + backward), ``log_space_scan`` takes about 16 ms, most
of it in ``torch.logcumsumexp``, and ``doubling_scan`` about 2 ms.
"""

from __future__ import annotations

import torch
from torch import Tensor


def doubling_scan(a: Tensor, b: Tensor) -> Tensor:
    """h_t = a_t * h_{t-1} + b_t along dim 1; ``b`` is (B, T, N), ``a`` (B, T, N) or time-invariant (N,).

    Hillis-Steele doubling: after the step with offset d, h_t holds the recurrence's sum over its
    last 2d inputs and a_t the product of its last 2d coefficients, so ceil(log2 T) element-wise
    steps suffice. It never divides, so it cannot overflow; a product of coefficients underflows
    only where its contribution is negligible. Works for complex tensors (the LRU's eigenvalues).
    """
    h, offset = b, 1
    varying = a.dim() == b.dim()
    while offset < b.shape[1]:
        h = h + a * _shift(h, offset, 0.0)
        a = a * _shift(a, offset, 1.0) if varying else a * a
        offset *= 2
    return h


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
