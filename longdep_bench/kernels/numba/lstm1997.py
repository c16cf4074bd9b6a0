"""numba kernels of the 1997 LSTM's recurrence on the CPU: the whole time loop, forward and backward,
in compiled code.

At the paper's scale (batch 1, a few cells, online gradient descent) a step of the TorchScript loop
is thousands of tiny tensor operations, about 10 ms per Task 6a sequence on this project's CPU; these
kernels do the same arithmetic without them. They compute what ``lstm1997_recurrence`` computes
(tested against it): for each step, ``net = P_t + W_rec y_{t-1}`` split into cell inputs, input
gates and output gates (one gate of each per block of ``block_size`` cells),
``s_t = s_{t-1} + sigmoid(net_in) g(net_c)``, ``y_t = sigmoid(net_out) h(s_t)`` with
``g(x) = 4 sigmoid(x) - 2`` and ``h(x) = 2 sigmoid(x) - 1``. The backward pass runs the time loop in
reverse: with the paper's truncated gradient the error reaches earlier steps only through the cell
states (``y_{t-1}`` enters ``net`` as a constant); with the full gradient it also flows back through
``W_rec``. Arrays are float32, time-major; batches run in parallel over sequences.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit, prange


@njit(inline="always", cache=True)
def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True, nogil=True, parallel=True)
def forward_kernel(projected, weight_rec, block_size, net, states, outputs):
    """Fill ``net`` (T, B, W), ``states`` (T, B, H) and ``outputs`` (T, B, H) from the projections
    (T, B, W = H + 2 * blocks) and the recurrent weights (W, H)."""
    steps, batch, width = projected.shape
    hidden = weight_rec.shape[1]
    blocks = hidden // block_size
    for b in prange(batch):
        s = np.zeros(hidden, dtype=np.float32)
        previous = np.zeros(hidden, dtype=np.float32)
        for t in range(steps):
            for j in range(width):
                total = projected[t, b, j]
                for k in range(hidden):
                    total += weight_rec[j, k] * previous[k]
                net[t, b, j] = total
            for c in range(hidden):
                block = c // block_size
                y_in = _sigmoid(net[t, b, hidden + block])
                y_out = _sigmoid(net[t, b, hidden + blocks + block])
                s[c] += y_in * (4.0 * _sigmoid(net[t, b, c]) - 2.0)
                states[t, b, c] = s[c]
                outputs[t, b, c] = y_out * (2.0 * _sigmoid(s[c]) - 1.0)
            for c in range(hidden):
                previous[c] = outputs[t, b, c]


@njit(cache=True, nogil=True, parallel=True)
def backward_kernel(grad_outputs, weight_rec, block_size, truncated, net, states, outputs, grad_net):
    """Fill ``grad_net`` (T, B, W), the gradient with respect to the projections, and return the
    per-sequence gradients of the recurrent weights (B, W, H)."""
    steps, batch, width = net.shape
    hidden = weight_rec.shape[1]
    blocks = hidden // block_size
    grad_rec = np.zeros((batch, width, hidden), dtype=np.float32)
    for b in prange(batch):
        ds = np.zeros(hidden, dtype=np.float32)
        dy_rec = np.zeros(hidden, dtype=np.float32)
        for t in range(steps - 1, -1, -1):
            for j in range(width):
                grad_net[t, b, j] = 0.0
            for c in range(hidden):
                block = c // block_size
                y_in = _sigmoid(net[t, b, hidden + block])
                y_out = _sigmoid(net[t, b, hidden + blocks + block])
                cell = _sigmoid(net[t, b, c])
                squashed = _sigmoid(states[t, b, c])
                dy = grad_outputs[t, b, c] + (0.0 if truncated else dy_rec[c])
                ds[c] += dy * y_out * 2.0 * squashed * (1.0 - squashed)
                grad_net[t, b, c] = ds[c] * y_in * 4.0 * cell * (1.0 - cell)
                grad_net[t, b, hidden + block] += ds[c] * (4.0 * cell - 2.0) * y_in * (1.0 - y_in)
                grad_net[t, b, hidden + blocks + block] += dy * (2.0 * squashed - 1.0) * y_out * (1.0 - y_out)
            if t > 0:
                for j in range(width):
                    for k in range(hidden):
                        grad_rec[b, j, k] += grad_net[t, b, j] * outputs[t - 1, b, k]
            if not truncated:
                for k in range(hidden):
                    total = 0.0
                    for j in range(width):
                        total += weight_rec[j, k] * grad_net[t, b, j]
                    dy_rec[k] = total
    return grad_rec


class NumbaRecurrence(torch.autograd.Function):
    """``lstm1997_recurrence`` on CPU tensors through the numba kernels."""

    @staticmethod
    def forward(ctx, projected: torch.Tensor, weight_rec: torch.Tensor, block_size: int, truncated: bool
                ) -> torch.Tensor:
        p = projected.detach().contiguous().numpy()
        w = weight_rec.detach().contiguous().numpy()
        steps, batch, width = p.shape
        hidden = w.shape[1]
        net = np.empty((steps, batch, width), dtype=np.float32)
        states = np.empty((steps, batch, hidden), dtype=np.float32)
        outputs = np.empty((steps, batch, hidden), dtype=np.float32)
        forward_kernel(p, w, block_size, net, states, outputs)
        ctx.block_size, ctx.truncated = block_size, truncated
        ctx.save_for_backward(weight_rec, torch.from_numpy(net), torch.from_numpy(states), torch.from_numpy(outputs))
        return torch.from_numpy(outputs).clone()

    @staticmethod
    def backward(ctx, grad_outputs: torch.Tensor):
        weight_rec, net, states, outputs = ctx.saved_tensors
        grad_net = np.empty(net.shape, dtype=np.float32)
        grad_rec = backward_kernel(grad_outputs.contiguous().numpy(), weight_rec.detach().contiguous().numpy(),
                                   ctx.block_size, ctx.truncated, net.numpy(), states.numpy(), outputs.numpy(),
                                   grad_net)
        return torch.from_numpy(grad_net), torch.from_numpy(grad_rec.sum(0)), None, None
