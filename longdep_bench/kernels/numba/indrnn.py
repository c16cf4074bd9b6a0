"""IndRNN's time loop in numba: h_t = relu(projected_t + u * h_{t-1}) over time-major (T, B, H) CPU
float32 projections, one compiled pass forward and one in reverse (the ``kernel=numba`` path of the
``indrnn`` architecture)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numba import njit
from torch import Tensor

from longdep_bench.kernels.numba.bridge import CompiledPasses
from longdep_bench.kernels.numba.cells import FAST


@njit(**FAST)
def _forward_kernel(projected, u, h):
    """Fill ``h`` (T, B, H) with relu(projected_t + u * h_{t-1}), h_0 = 0; time outermost, so that
    memory streams through one contiguous (B, H) slice per step."""
    steps, batch, hidden = projected.shape
    zero = np.float32(0.0)
    for b in range(batch):
        for n in range(hidden):
            h[0, b, n] = max(projected[0, b, n], zero)
    for t in range(1, steps):
        for b in range(batch):
            for n in range(hidden):
                h[t, b, n] = max(projected[t, b, n] + u[n] * h[t - 1, b, n], zero)


@njit(**FAST)
def _backward_kernel(u, h, grad_h, grad_projected):
    """Fill ``grad_projected`` (T, B, H) and return u's gradient (H,), running the loop in reverse."""
    steps, batch, hidden = h.shape
    zero = np.float32(0.0)
    grad_u = np.zeros(hidden, dtype=h.dtype)
    carry = np.zeros((batch, hidden), dtype=h.dtype)  # the error reaching h_t from h_{t+1}
    for t in range(steps - 1, -1, -1):
        for b in range(batch):
            for n in range(hidden):
                error = grad_h[t, b, n] + carry[b, n]
                error = error if h[t, b, n] > zero else zero
                grad_projected[t, b, n] = error
                carry[b, n] = error * u[n]
                if t > 0:
                    grad_u[n] += error * h[t - 1, b, n]
    return grad_u


def _forward(projected: Tensor, u: Tensor) -> tuple[Tensor, Any]:
    h = torch.empty(projected.shape)
    _forward_kernel(projected.numpy(), u.numpy(), h.numpy())
    return h, (u, h)


def _backward(saved: Any, grad_h: Tensor) -> tuple[Tensor | None, ...]:
    u, h = saved
    grad_projected = torch.empty_like(h)
    grad_u = _backward_kernel(u.numpy(), h.numpy(), grad_h.numpy(), grad_projected.numpy())
    return grad_projected, torch.from_numpy(grad_u)


PASSES = CompiledPasses("numba IndRNN", _forward, _backward)


def recurrence(projected: Tensor, u: Tensor) -> Tensor:
    """h (T, B, H) from the projections (T, B, H) and the recurrent weights u (H,), differentiable in both."""
    return PASSES.apply(projected, u)
