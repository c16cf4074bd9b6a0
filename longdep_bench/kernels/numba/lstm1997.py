"""numba kernels of the 1997 LSTM's recurrence on the CPU: the whole time loop, forward and backward,
in compiled code, for every layout of the paper's networks (:class:`Layout`).

At the paper's scale (batch 1, a few cells) a step of the TorchScript loop is thousands of tiny
tensor operations, about 10 ms per Task 6a sequence on this project's CPU; these kernels do the
same arithmetic without them. They compute what ``lstm1997_recurrence`` (the plugin's TorchScript
loop) computes, tested against it: for each step, ``net = P_t + W_rec a_{t-1}`` split into cell
inputs, input gates and output gates (one gate of each per block of ``block_size`` cells; no
output gates in 2a's layout), ``s_t = s_{t-1} + y_in g(net_c)``, ``y_t = y_out h(s_t)``, where
``a_{t-1}`` is what feeds back: nothing, the cell outputs, or every hidden unit's activation
(cells and gates: the paper's fully connected hidden layer). The backward pass runs the time loop
in reverse: with the paper's truncated gradient the error reaches earlier steps only through the
cell states (``a_{t-1}`` enters ``net`` as a constant); with the full gradient it also flows back
through ``W_rec``, into the gates' activations too. Arrays are float32, time-major; batches run in
parallel over sequences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numba import njit, prange

from longdep_bench.kernels.numba.bridge import CompiledPasses

FEEDBACK = {"B": 0, "cells": 1, "F": 2}  # connectivity -> what feeds back: nothing, cell outputs, all units


@dataclass(frozen=True)
class Layout:
    """The shape of a 1997 LSTM hidden layer: ``cells`` memory cells in blocks of ``block_size``
    sharing an input gate (and an output gate unless ``output_gate`` is False); ``feedback`` 0
    (nothing), 1 (cell outputs) or 2 (cells and gates) feeds the previous step back; ``h`` is the
    identity or ``2 sigmoid - 1`` (range [-1, 1]); ``g`` is ``sigmoid`` (range [0, 1]) or
    ``4 sigmoid - 2`` (range [-2, 2])."""

    cells: int
    block_size: int
    feedback: int
    output_gate: bool = True
    h_identity: bool = False
    g_logistic: bool = False

    @property
    def blocks(self) -> int:
        """Cell blocks (each with its own gates)."""
        return self.cells // self.block_size

    @property
    def units(self) -> int:
        """Hidden units: cells, input gates and output gates."""
        return self.cells + self.blocks * (2 if self.output_gate else 1)

    @property
    def recurrent(self) -> int:
        """Activations fed back to the next step."""
        return (0, self.cells, self.units)[self.feedback]

    def codes(self) -> np.ndarray:
        """The layout as the int64 array the kernels take."""
        return np.array([self.cells, self.block_size, self.feedback, self.output_gate, self.h_identity,
                         self.g_logistic], dtype=np.int64)


@njit(inline="always", cache=True)
def sigmoid(x):
    """The logistic function."""
    return 1.0 / (1.0 + math.exp(-x))


@njit(inline="always", cache=True)
def squash_g(x, logistic):
    """The cell input squashing g: sigmoid (range [0, 1]), or 4 sigmoid - 2 (range [-2, 2])."""
    return sigmoid(x) if logistic else 4.0 * sigmoid(x) - 2.0


@njit(inline="always", cache=True)
def back_g(upstream, x, logistic):
    """``upstream * g'(x)``."""
    z = sigmoid(x)
    return upstream * z * (1.0 - z) if logistic else upstream * 4.0 * z * (1.0 - z)


@njit(inline="always", cache=True)
def squash_h(s, identity):
    """The cell output squashing h: the identity, or 2 sigmoid - 1 (range [-1, 1])."""
    return s if identity else 2.0 * sigmoid(s) - 1.0


@njit(inline="always", cache=True)
def back_h(upstream, s, identity):
    """``upstream * h'(s)``."""
    if identity:
        return upstream
    z = sigmoid(s)
    return upstream * 2.0 * z * (1.0 - z)


@njit(cache=True, nogil=True, parallel=True)
def forward_kernel(projected, weight_rec, layout, net, states, outputs, acts):
    """Fill ``net`` (T, B, U), ``states`` and ``outputs`` (T, B, C) and the fed-back activations
    ``acts`` (T, B, R) from the projections (T, B, U) and the recurrent weights (U, R)."""
    cells, block_size, feedback, output_gate, h_identity, g_logistic = layout
    steps, batch, units = projected.shape
    recurrent = weight_rec.shape[1]
    blocks = cells // block_size
    for b in prange(batch):
        s = np.zeros(cells, dtype=np.float32)
        previous = np.zeros(recurrent, dtype=np.float32)
        for t in range(steps):
            for j in range(units):
                total = projected[t, b, j]
                for k in range(recurrent):
                    total += weight_rec[j, k] * previous[k]
                net[t, b, j] = total
            for c in range(cells):
                block = c // block_size
                y_in = sigmoid(net[t, b, cells + block])
                y_out = sigmoid(net[t, b, cells + blocks + block]) if output_gate else 1.0
                s[c] += y_in * squash_g(net[t, b, c], g_logistic)
                states[t, b, c] = s[c]
                outputs[t, b, c] = y_out * squash_h(s[c], h_identity)
            if feedback >= 1:
                for c in range(cells):
                    acts[t, b, c] = outputs[t, b, c]
            if feedback == 2:
                for j in range(units - cells):
                    acts[t, b, cells + j] = sigmoid(net[t, b, cells + j])
            for k in range(recurrent):
                previous[k] = acts[t, b, k]


@njit(cache=True, nogil=True, parallel=True)
def backward_kernel(grad_outputs, weight_rec, layout, truncated, net, states, acts, grad_net):
    """Fill ``grad_net`` (T, B, U), the gradient with respect to the projections, and return the
    per-sequence gradients of the recurrent weights (B, U, R)."""
    cells, block_size, feedback, output_gate, h_identity, g_logistic = layout
    steps, batch, units = net.shape
    recurrent = weight_rec.shape[1]
    blocks = cells // block_size
    grad_rec = np.zeros((batch, units, recurrent), dtype=np.float32)
    for b in prange(batch):
        ds = np.zeros(cells, dtype=np.float32)
        d_acts = np.zeros(recurrent, dtype=np.float32)  # full gradient: d loss / d acts[t] from step t + 1
        for t in range(steps - 1, -1, -1):
            for j in range(units):
                grad_net[t, b, j] = 0.0
            for c in range(cells):
                block = c // block_size
                y_in = sigmoid(net[t, b, cells + block])
                y_out = sigmoid(net[t, b, cells + blocks + block]) if output_gate else 1.0
                dy = grad_outputs[t, b, c] + (d_acts[c] if not truncated and feedback >= 1 else 0.0)
                ds[c] += back_h(dy * y_out, states[t, b, c], h_identity)
                grad_net[t, b, c] = back_g(ds[c] * y_in, net[t, b, c], g_logistic)
                grad_net[t, b, cells + block] += ds[c] * squash_g(net[t, b, c], g_logistic) * y_in * (1.0 - y_in)
                if output_gate:
                    grad_net[t, b, cells + blocks + block] += (dy * squash_h(states[t, b, c], h_identity) * y_out
                                                               * (1.0 - y_out))
            if not truncated and feedback == 2:  # the gates' activations fed back
                for j in range(cells, units):
                    y = sigmoid(net[t, b, j])
                    grad_net[t, b, j] += d_acts[j] * y * (1.0 - y)
            if t > 0:
                for j in range(units):
                    for k in range(recurrent):
                        grad_rec[b, j, k] += grad_net[t, b, j] * acts[t - 1, b, k]
            if not truncated:
                for k in range(recurrent):
                    total = 0.0
                    for j in range(units):
                        total += weight_rec[j, k] * grad_net[t, b, j]
                    d_acts[k] = total
    return grad_rec


def _forward(projected: torch.Tensor, weight_rec: torch.Tensor, layout: Layout, truncated: bool
             ) -> tuple[torch.Tensor, Any]:
    p, w = projected.numpy(), weight_rec.numpy()
    steps, batch, units = p.shape
    codes = layout.codes()
    net = np.empty((steps, batch, units), dtype=np.float32)
    states = np.empty((steps, batch, layout.cells), dtype=np.float32)
    outputs = np.empty((steps, batch, layout.cells), dtype=np.float32)
    acts = np.empty((steps, batch, w.shape[1]), dtype=np.float32)
    forward_kernel(p, w, codes, net, states, outputs, acts)
    return torch.from_numpy(outputs), (codes, truncated, w, net, states, acts)


def _backward(saved: Any, grad_outputs: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    codes, truncated, w, net, states, acts = saved
    grad_net = np.empty(net.shape, dtype=np.float32)
    grad_rec = backward_kernel(grad_outputs.numpy(), w, codes, truncated, net, states, acts, grad_net)
    return torch.from_numpy(grad_net), torch.from_numpy(grad_rec.sum(0)), None, None


# ``NumbaRecurrence.apply(projected, weight_rec, layout, truncated)``: the plugin's
# ``lstm1997_recurrence`` on CPU tensors through the numba kernels.
NumbaRecurrence = CompiledPasses("lstm1997", _forward, _backward)
