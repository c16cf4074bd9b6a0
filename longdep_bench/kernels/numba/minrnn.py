"""numba kernels of a minGRU or minLSTM layer on the CPU: gates, recurrence and their gradients in one
compiled pass over time each way.

``MinLayer`` computes a layer as the gates' pre-activations (one matmul or lookup), a chain of
element-wise tensor operations for the coefficients of h_t = a_t h_{t-1} + b_t, and the scan. On a
CPU the element-wise chain, each operation a pass over (B, T, H) floats forward and again backward,
cost several times the scan itself (a profile of minGRU at B16 H64 T1000: sigmoid, where, mul, sub
and their backward passes, and the concatenation of the gates' gradients). These kernels take the
pre-activations and return h, and take h's gradient and return the pre-activations', computing the
gates on the fly (recomputed in the backward pass, not stored):

- minGRU, pre-activations (k, h~'): z = sigmoid(k), a = 1 - z, b = z g(h~');
- minLSTM, (f', i', h~'): f = sigmoid(f'), i = sigmoid(i'), a = f / (f + i), b = i / (f + i) g(h~');

with g(x) = x + 0.5 for x >= 0 and sigmoid(x) otherwise, h_0 = 0. The sigmoid is ``fast_sigmoid``
of ``kernels.numba.cells`` (vectorised, within 1.3e-7 of sigmoid). Arrays are float32 (B, T, G), batch-first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numba import njit
from torch import Tensor

from longdep_bench.kernels.numba.bridge import CompiledPasses
from longdep_bench.kernels.numba.cells import FAST, fast_sigmoid

GATES = {"gru": 2, "lstm": 3}  # pre-activation blocks of width H per kind


@njit(inline="always", **FAST)
def _g(x):
    """g(x) = x + 0.5 for x >= 0, sigmoid(x) otherwise."""
    return x + np.float32(0.5) if x >= np.float32(0.0) else fast_sigmoid(x)


@njit(inline="always", **FAST)
def _g_slope(x):
    """g'(x): 1 for x >= 0, sigmoid(x) (1 - sigmoid(x)) otherwise."""
    s = fast_sigmoid(x)
    return np.float32(1.0) if x >= np.float32(0.0) else s * (np.float32(1.0) - s)


@njit(inline="always", **FAST)
def _decays(lstm, row, hidden, out):
    """Fill ``out`` (H,) with a_t from one step's pre-activations ``row`` (G,)."""
    one = np.float32(1.0)
    if lstm:
        forget, inputs = row[:hidden], row[hidden:2 * hidden]
        for n in range(hidden):
            f = fast_sigmoid(forget[n])
            out[n] = f / (f + fast_sigmoid(inputs[n]))
    else:
        for n in range(hidden):
            out[n] = one - fast_sigmoid(row[n])


@njit(inline="always", **FAST)
def _gru_gate_grads(row, grad_row, error, previous, decay, hidden):
    """One step's gradient of minGRU's gate pre-activation k from the error at h_t (z = 1 - a)."""
    one = np.float32(1.0)
    candidate, grad_k = row[hidden:], grad_row[:hidden]
    for n in range(hidden):
        z = one - decay[n]
        grad_k[n] = error[n] * (_g(candidate[n]) - previous[n]) * z * (one - z)  # h_t = (1 - z) h_{t-1} + z g


@njit(inline="always", **FAST)
def _lstm_gate_grads(row, grad_row, error, previous, hidden):
    """One step's gradients of minLSTM's gate pre-activations (f', i') from the error at h_t."""
    one = np.float32(1.0)
    forget, inputs, candidate = row[:hidden], row[hidden:2 * hidden], row[2 * hidden:]
    grad_f, grad_i = grad_row[:hidden], grad_row[hidden:2 * hidden]
    for n in range(hidden):
        f, i = fast_sigmoid(forget[n]), fast_sigmoid(inputs[n])
        grad_a = error[n] * (previous[n] - _g(candidate[n])) / ((f + i) * (f + i))  # a = f / (f + i)
        grad_f[n] = grad_a * i * f * (one - f)
        grad_i[n] = -grad_a * f * i * (one - i)


@njit(**FAST)
def _forward_kernel(lstm, pre, h):
    """Fill ``h`` (B, T, H) from the pre-activations (B, T, G)."""
    batch, steps, hidden = h.shape
    one = np.float32(1.0)
    previous = np.zeros(hidden, dtype=h.dtype)
    decay = np.empty(hidden, dtype=h.dtype)
    for b in range(batch):
        previous[:] = 0.0
        for t in range(steps):
            row, out = pre[b, t], h[b, t]
            candidate = row[(2 if lstm else 1) * hidden:]
            _decays(lstm, row, hidden, decay)
            for n in range(hidden):
                out[n] = decay[n] * previous[n] + (one - decay[n]) * _g(candidate[n])
            previous[:] = out


@njit(**FAST)
def _backward_kernel(lstm, pre, h, grad_h, grad_pre):
    """Fill ``grad_pre`` (B, T, G) from h's gradient (B, T, H), running the time loop in reverse. Per
    step one loop carries the error back through time and others, free of that dependence, turn it
    into the pre-activations' gradients (each loop reads and writes few arrays, so all vectorise):
    the candidate's, b = (1 - a) g, the same for both kinds, then the gates'."""
    batch, steps, hidden = h.shape
    one = np.float32(1.0)
    carry = np.zeros(hidden, dtype=h.dtype)  # the error reaching h_t from h_{t+1}
    error = np.empty(hidden, dtype=h.dtype)
    decay = np.empty(hidden, dtype=h.dtype)
    zeros = np.zeros(hidden, dtype=h.dtype)  # h_0
    for b in range(batch):
        carry[:] = 0.0
        for t in range(steps - 1, -1, -1):
            row, grad_row, incoming = pre[b, t], grad_pre[b, t], grad_h[b, t]
            _decays(lstm, row, hidden, decay)
            for n in range(hidden):
                error[n] = incoming[n] + carry[n]
                carry[n] = error[n] * decay[n]
            candidate = row[(2 if lstm else 1) * hidden:]
            grad_candidate = grad_row[(2 if lstm else 1) * hidden:]
            for n in range(hidden):
                grad_candidate[n] = error[n] * (one - decay[n]) * _g_slope(candidate[n])
            previous = h[b, t - 1] if t > 0 else zeros
            if lstm:
                _lstm_gate_grads(row, grad_row, error, previous, hidden)
            else:
                _gru_gate_grads(row, grad_row, error, previous, decay, hidden)


def _min_forward(pre: Tensor, kind: str) -> tuple[Tensor, Any]:
    batch, steps, width = pre.shape
    h = torch.empty(batch, steps, width // GATES[kind])
    _forward_kernel(kind == "lstm", pre.numpy(), h.numpy())
    return h, (kind, pre, h)


def _min_backward(saved: Any, grad_h: Tensor) -> tuple[Tensor | None, ...]:
    kind, pre, h = saved
    grad_pre = torch.empty_like(pre)
    _backward_kernel(kind == "lstm", pre.numpy(), h.numpy(), grad_h.numpy(), grad_pre.numpy())
    return grad_pre, None


MIN_PASSES = CompiledPasses("numba minGRU/minLSTM", _min_forward, _min_backward)


def min_layer(pre: Tensor, kind: str) -> Tensor:
    """h (B, T, H) of a ``kind`` ('gru' or 'lstm') layer from its pre-activations (B, T, G)."""
    return MIN_PASSES.apply(pre, kind)
