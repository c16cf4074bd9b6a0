"""Gated recurrent cells (GRU, LSTM) with ``torch.nn``'s maths, their whole time loop in numba on the CPU.

On a CPU a small ``nn.GRU`` spends most of a step on per-time-step operator overhead: its backward
is autograd over a dozen small kernels per step. These kernels run the loop in compiled code, one
call forward and one backward per sequence batch: per step the recurrent product ``h W_hh^T + b_hh``
and the cell's element-wise update, row by row, and in reverse the element-wise gradients and the
error's product with ``W_hh``. The input products ``x W_ih^T + b_ih`` of all steps come in as one
tensor (one large matmul, or an embedding lookup for symbol inputs), and the recurrent weights'
gradient leaves as one large matmul after the loop.

The nonlinearities use a rational approximation of tanh (``fast_tanh``, the minimax form of Eigen's
``ptanh``; sigmoid(x) = (1 + tanh(x / 2)) / 2) that the compiler vectorises: at most 2.6e-7 from
tanh in float32 (``tests/test_numba_cells.py``), against about 1e-7 for the float32 ``tanh`` of
libm, and the reason the kernels are fast (libm's scalar exp and tanh took most of a step).
Outputs and gradients agree with ``torch.nn`` within float32 rounding (tested against float64).

A cell is described by ``Cell``: how many gate blocks of width H the recurrent product has, how many
state blocks it carries (the GRU: h; the LSTM: h and c, h first) and how many per-step values it
keeps for the backward pass. Arrays are float32 and time-major; ``cell_recurrence`` is the entry
point, an autograd function over CPU tensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numba import njit
from torch import Tensor

FAST = {"cache": True, "nogil": True, "fastmath": True, "error_model": "numpy"}  # numpy: no division checks


@dataclass(frozen=True)
class Cell:
    """A gated cell's layout, in blocks of the hidden size H."""

    name: str
    kind: int    # the kernels' branch for this cell
    gates: int   # rows of W_hh: 3 for the GRU (r, z, n), 4 for the LSTM (i, f, g, o)
    states: int  # carried state: 1 for the GRU (h), 2 for the LSTM (h, c)
    saved: int   # per-step values kept for the backward pass


GRU_CELL = Cell("gru", 0, gates=3, states=1, saved=4)
LSTM_CELL = Cell("lstm", 1, gates=4, states=2, saved=5)


@njit(inline="always", **FAST)
def fast_tanh(x):
    """tanh(x) in float32 arithmetic by a (13, 6) rational function on [-7.9, 7.9], clamped outside."""
    c = np.float32(7.90531110763549805)
    x = c if x > c else x
    x = -c if x < -c else x
    x2 = x * x
    p = x2 * np.float32(-2.76076847742355e-16) + np.float32(2.00018790482477e-13)
    p = x2 * p + np.float32(-8.60467152213735e-11)
    p = x2 * p + np.float32(5.12229709037114e-08)
    p = x2 * p + np.float32(1.48572235717979e-05)
    p = x2 * p + np.float32(6.37261928875436e-04)
    p = x2 * p + np.float32(4.89352455891786e-03)
    q = x2 * np.float32(1.19825839466702e-06) + np.float32(1.18534705686654e-04)
    q = x2 * q + np.float32(2.26843463243900e-03)
    q = x2 * q + np.float32(4.89352518554385e-03)
    return x * p / q


@njit(inline="always", **FAST)
def fast_sigmoid(x):
    """sigmoid(x) = (1 + tanh(x / 2)) / 2 through ``fast_tanh``."""
    half = np.float32(0.5)
    return half + half * fast_tanh(half * x)


@njit(**FAST)
def fast_tanh_array(x, out):
    """``fast_tanh`` of every element of a 1-D float32 array (for tests)."""
    for i in range(x.shape[0]):
        out[i] = fast_tanh(x[i])


@njit(inline="always", **FAST)
def _gru_step(gi, gh, prev, state, saved):
    """r, z = sigmoid(gi + gh), n = tanh(gi_n + r gh_n), h = (1 - z) n + z h_prev (torch.nn.GRU)."""
    hidden = state.shape[0]
    one = np.float32(1.0)
    for j in range(hidden):
        r = fast_sigmoid(gi[j] + gh[j])
        z = fast_sigmoid(gi[hidden + j] + gh[hidden + j])
        hn = gh[2 * hidden + j]
        n = fast_tanh(gi[2 * hidden + j] + r * hn)
        state[j] = (one - z) * n + z * prev[j]
        saved[j] = r
        saved[hidden + j] = z
        saved[2 * hidden + j] = n
        saved[3 * hidden + j] = hn


@njit(inline="always", **FAST)
def _gru_step_grad(error, prev, saved, grad_gi, grad_gh, grad_prev):
    """The GRU step's gradients: ``error`` reaches h; fill the gate pre-activations' and h_prev's."""
    hidden = error.shape[0]
    one = np.float32(1.0)
    for j in range(hidden):
        r, z, n, hn = saved[j], saved[hidden + j], saved[2 * hidden + j], saved[3 * hidden + j]
        e = error[j]
        dn = e * (one - z) * (one - n * n)
        dz = e * (prev[j] - n) * z * (one - z)
        dr = dn * hn * r * (one - r)
        grad_prev[j] = e * z
        grad_gi[j] = dr
        grad_gi[hidden + j] = dz
        grad_gi[2 * hidden + j] = dn
        grad_gh[j] = dr
        grad_gh[hidden + j] = dz
        grad_gh[2 * hidden + j] = dn * r


@njit(inline="always", **FAST)
def _lstm_step(gi, gh, prev, state, saved):
    """c = sigmoid(f) c_prev + sigmoid(i) tanh(g), h = sigmoid(o) tanh(c) (torch.nn.LSTM); state = (h, c)."""
    hidden = state.shape[0] // 2
    for j in range(hidden):
        i = fast_sigmoid(gi[j] + gh[j])
        f = fast_sigmoid(gi[hidden + j] + gh[hidden + j])
        g = fast_tanh(gi[2 * hidden + j] + gh[2 * hidden + j])
        o = fast_sigmoid(gi[3 * hidden + j] + gh[3 * hidden + j])
        c = f * prev[hidden + j] + i * g
        tc = fast_tanh(c)
        state[j] = o * tc
        state[hidden + j] = c
        saved[j] = i
        saved[hidden + j] = f
        saved[2 * hidden + j] = g
        saved[3 * hidden + j] = o
        saved[4 * hidden + j] = tc


@njit(inline="always", **FAST)
def _lstm_step_grad(error, prev, saved, grad_gi, grad_gh, grad_prev):
    """The LSTM step's gradients: ``error`` reaches (h, c); fill the gates' and (h_prev, c_prev)'s."""
    hidden = error.shape[0] // 2
    one = np.float32(1.0)
    for j in range(hidden):
        i, f, g = saved[j], saved[hidden + j], saved[2 * hidden + j]
        o, tc = saved[3 * hidden + j], saved[4 * hidden + j]
        dh = error[j]
        dc = error[hidden + j] + dh * o * (one - tc * tc)
        di = dc * g * i * (one - i)
        df = dc * prev[hidden + j] * f * (one - f)
        dg = dc * i * (one - g * g)
        do = dh * tc * o * (one - o)
        grad_prev[j] = np.float32(0.0)
        grad_prev[hidden + j] = dc * f
        grad_gi[j] = grad_gh[j] = di
        grad_gi[hidden + j] = grad_gh[hidden + j] = df
        grad_gi[2 * hidden + j] = grad_gh[2 * hidden + j] = dg
        grad_gi[3 * hidden + j] = grad_gh[3 * hidden + j] = do


@njit(**FAST)
def _forward_kernel(kind, projected, weight_t, bias, states, saved):
    """Fill ``states`` (T + 1, B, S; step 0 holds the zero start) and ``saved`` (T, B, K) from the
    input products (T, B, G) and ``W_hh^T`` (H, G), ``b_hh`` (G,)."""
    steps, batch, width = projected.shape
    hidden = weight_t.shape[0]
    recurrent = np.empty(width, dtype=projected.dtype)
    for t in range(steps):
        for b in range(batch):
            for k in range(width):
                recurrent[k] = bias[k]
            for j in range(hidden):
                h = states[t, b, j]
                for k in range(width):
                    recurrent[k] += h * weight_t[j, k]
            if kind == 0:
                _gru_step(projected[t, b], recurrent, states[t, b], states[t + 1, b], saved[t, b])
            else:
                _lstm_step(projected[t, b], recurrent, states[t, b], states[t + 1, b], saved[t, b])


@njit(**FAST)
def _backward_kernel(kind, grad_states, weight, states, saved, grad_projected, grad_recurrent):
    """Fill the gradients of the input products and of the recurrent products (both (T, B, G)) from
    the gradients of the states (T, B, S), running the time loop in reverse; ``weight`` is W_hh (G, H)."""
    steps, batch, width = grad_projected.shape
    hidden = weight.shape[1]
    size = states.shape[2]
    carry = np.zeros((batch, size), dtype=states.dtype)  # the error reaching each state from later steps
    error = np.empty(size, dtype=states.dtype)
    for t in range(steps - 1, -1, -1):
        for b in range(batch):
            for j in range(size):
                error[j] = carry[b, j] + grad_states[t, b, j]
            if kind == 0:
                _gru_step_grad(error, states[t, b], saved[t, b], grad_projected[t, b], grad_recurrent[t, b],
                               carry[b])
            else:
                _lstm_step_grad(error, states[t, b], saved[t, b], grad_projected[t, b], grad_recurrent[t, b],
                                carry[b])
            for k in range(width):
                d = grad_recurrent[t, b, k]
                for j in range(hidden):
                    carry[b, j] += d * weight[k, j]


class CellRecurrence(torch.autograd.Function):
    """The kernels as an autograd function over CPU float32 tensors."""

    @staticmethod
    def forward(ctx, cell: Cell, projected: Tensor, weight_hh: Tensor, bias_hh: Tensor) -> Tensor:
        steps, batch, _ = projected.shape
        hidden = weight_hh.shape[1]
        states = torch.zeros(steps + 1, batch, cell.states * hidden)
        saved = torch.empty(steps, batch, cell.saved * hidden)
        _forward_kernel(cell.kind, projected.detach().contiguous().numpy(),
                        weight_hh.detach().t().contiguous().numpy(), bias_hh.detach().contiguous().numpy(),
                        states.numpy(), saved.numpy())
        ctx.cell = cell
        ctx.save_for_backward(weight_hh, states, saved)
        return states[1:]

    @staticmethod
    def backward(ctx, grad_states: Tensor):
        weight_hh, states, saved = ctx.saved_tensors
        steps, batch, _ = grad_states.shape
        width, hidden = weight_hh.shape
        grad_projected = torch.empty(steps, batch, width)
        grad_recurrent = torch.empty(steps, batch, width)
        _backward_kernel(ctx.cell.kind, grad_states.contiguous().numpy(), weight_hh.detach().contiguous().numpy(),
                         states.numpy(), saved.numpy(), grad_projected.numpy(), grad_recurrent.numpy())
        flat = grad_recurrent.view(steps * batch, width)
        grad_weight = flat.t() @ states[:-1, :, :hidden].reshape(steps * batch, hidden)
        return None, grad_projected, grad_weight, flat.sum(0)


def cell_recurrence(cell: Cell, projected: Tensor, weight_hh: Tensor, bias_hh: Tensor) -> Tensor:
    """Run ``cell`` over the input products (T, B, G = gates * H, including b_ih) from a zero state;
    return every step's state (T, B, states * H), h first. CPU float32 tensors; differentiable in
    ``projected``, ``weight_hh`` (G, H) and ``bias_hh`` (G,)."""
    if projected.dtype != torch.float32 or projected.device.type != "cpu":
        raise ValueError(f"the numba {cell.name} kernels take CPU float32 tensors, not {projected.dtype} on "
                         f"{projected.device.type}")
    return CellRecurrence.apply(cell, projected, weight_hh, bias_hh)
