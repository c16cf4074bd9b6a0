"""Recurrent cells (tanh RNN, GRU, LSTM) with ``torch.nn``'s maths, their whole time loop in numba on the CPU.

On a CPU a small ``nn.GRU`` spends most of a step on per-time-step operator overhead: its backward
is autograd over a dozen small kernels per step. These kernels run the loop in compiled code, one
call forward and one backward per batch: per step the recurrent products ``h W_hh^T + b_hh`` of the
whole batch (in register blocks, ``_add_products``) and the cell's element-wise update per sequence,
and in reverse the element-wise gradients and the error's product with ``W_hh``. The input products
``x W_ih^T + b_ih`` of all steps come in as one tensor (one large matmul, or an embedding lookup for
symbol inputs), and the recurrent weights' gradient leaves as one large matmul after the loop.

The nonlinearities use a rational approximation of tanh (``fast_tanh``, the minimax form of Eigen's
``ptanh``; sigmoid(x) = (1 + tanh(x / 2)) / 2) that the compiler vectorises: at most 2.6e-7 from
tanh in float32 (``tests/test_numba_cells.py``), against about 1e-7 for the float32 ``tanh`` of
libm, and the reason the kernels are fast (libm's scalar exp and tanh took most of a step).
Outputs and gradients agree with ``torch.nn`` within float32 rounding (tested against float64).

A cell is described by ``Cell``: how many gate blocks of width H the recurrent product has, how many
state blocks it carries (the RNN and GRU: h; the LSTM: h and c, h first) and how many per-step
values it keeps for the backward pass. Arrays are float32 and time-major; ``cell_recurrence`` is
the entry point, an autograd function over CPU tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numba import njit
from torch import Tensor

from longdep_bench.kernels.numba.bridge import CompiledPasses

FAST: dict[str, Any] = {"cache": True, "nogil": True, "fastmath": True,
                        "error_model": "numpy"}  # numpy: no division checks


@dataclass(frozen=True)
class Cell:
    """A gated cell's layout, in blocks of the hidden size H."""

    name: str
    kind: int    # the kernels' branch for this cell
    gates: int   # rows of W_hh: 1 for the RNN, 3 for the GRU (r, z, n), 4 for the LSTM (i, f, g, o)
    states: int  # carried state: 1 for the RNN and GRU (h), 2 for the LSTM (h, c)
    saved: int   # per-step values kept for the backward pass


GRU_CELL = Cell("gru", 0, gates=3, states=1, saved=4)
LSTM_CELL = Cell("lstm", 1, gates=4, states=2, saved=5)
RNN_CELL = Cell("rnn", 2, gates=1, states=1, saved=1)


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


# The cells' element-wise loops name each gate's block as its own view and write few arrays per
# loop: the compiler then vectorises them (4x faster than one loop writing every block by offset).


@njit(inline="always", **FAST)
def _gru_step(gi, gh, prev, state, saved):
    """r, z = sigmoid(gi + gh), n = tanh(gi_n + r gh_n), h = (1 - z) n + z h_prev (torch.nn.GRU)."""
    hidden = state.shape[0]
    r, z, n, hn = saved[:hidden], saved[hidden:2 * hidden], saved[2 * hidden:3 * hidden], saved[3 * hidden:]
    one = np.float32(1.0)
    for j in range(hidden):
        r[j] = fast_sigmoid(gi[j] + gh[j])
        z[j] = fast_sigmoid(gi[hidden + j] + gh[hidden + j])
        hn[j] = gh[2 * hidden + j]
    for j in range(hidden):
        n[j] = fast_tanh(gi[2 * hidden + j] + r[j] * hn[j])
        state[j] = (one - z[j]) * n[j] + z[j] * prev[j]


@njit(inline="always", **FAST)
def _gru_step_grad(error, prev, saved, grad_gi, grad_gh, grad_prev):
    """The GRU step's gradients: ``error`` reaches h; fill the gate pre-activations' and h_prev's."""
    hidden = error.shape[0]
    r, z, n, hn = saved[:hidden], saved[hidden:2 * hidden], saved[2 * hidden:3 * hidden], saved[3 * hidden:]
    dr, dz, dn = grad_gi[:hidden], grad_gi[hidden:2 * hidden], grad_gi[2 * hidden:]
    one = np.float32(1.0)
    for j in range(hidden):
        dn[j] = error[j] * (one - z[j]) * (one - n[j] * n[j])
        dz[j] = error[j] * (prev[j] - n[j]) * z[j] * (one - z[j])
        grad_prev[j] = error[j] * z[j]
    for j in range(hidden):
        dr[j] = dn[j] * hn[j] * r[j] * (one - r[j])
    grad_gh[:2 * hidden] = grad_gi[:2 * hidden]
    for j in range(hidden):
        grad_gh[2 * hidden + j] = dn[j] * r[j]


@njit(inline="always", **FAST)
def _rnn_step(gi, gh, prev, state, saved):
    """h = tanh(gi + gh) (torch.nn.RNN with tanh); h is also kept for the backward pass."""
    for j in range(state.shape[0]):
        state[j] = saved[j] = fast_tanh(gi[j] + gh[j])


@njit(inline="always", **FAST)
def _rnn_step_grad(error, prev, saved, grad_gi, grad_gh, grad_prev):
    """The tanh RNN step's gradients: h_prev's arrive only through the recurrent product."""
    one = np.float32(1.0)
    for j in range(error.shape[0]):
        grad_gi[j] = error[j] * (one - saved[j] * saved[j])
    grad_gh[:] = grad_gi
    grad_prev[:] = 0.0


@njit(inline="always", **FAST)
def _lstm_step(gi, gh, prev, state, saved):
    """c = sigmoid(f) c_prev + sigmoid(i) tanh(g), h = sigmoid(o) tanh(c) (torch.nn.LSTM); state = (h, c)."""
    hidden = state.shape[0] // 2
    i, f, g, o, tc = (saved[:hidden], saved[hidden:2 * hidden], saved[2 * hidden:3 * hidden],
                      saved[3 * hidden:4 * hidden], saved[4 * hidden:])
    h, c, c_prev = state[:hidden], state[hidden:], prev[hidden:]
    for j in range(hidden):
        i[j] = fast_sigmoid(gi[j] + gh[j])
        f[j] = fast_sigmoid(gi[hidden + j] + gh[hidden + j])
    for j in range(hidden):
        g[j] = fast_tanh(gi[2 * hidden + j] + gh[2 * hidden + j])
        o[j] = fast_sigmoid(gi[3 * hidden + j] + gh[3 * hidden + j])
    for j in range(hidden):
        c[j] = f[j] * c_prev[j] + i[j] * g[j]
    for j in range(hidden):
        tc[j] = fast_tanh(c[j])
        h[j] = o[j] * tc[j]


@njit(inline="always", **FAST)
def _lstm_step_grad(error, prev, saved, grad_gi, grad_gh, grad_prev):
    """The LSTM step's gradients: ``error`` reaches (h, c); fill the gates' and (h_prev, c_prev)'s."""
    hidden = error.shape[0] // 2
    i, f, g, o, tc = (saved[:hidden], saved[hidden:2 * hidden], saved[2 * hidden:3 * hidden],
                      saved[3 * hidden:4 * hidden], saved[4 * hidden:])
    di, df, dg, do = grad_gi[:hidden], grad_gi[hidden:2 * hidden], grad_gi[2 * hidden:3 * hidden], grad_gi[3 * hidden:]
    dh, c_prev, dc = error[:hidden], prev[hidden:], grad_prev[hidden:]
    one = np.float32(1.0)
    for j in range(hidden):
        dc[j] = error[hidden + j] + dh[j] * o[j] * (one - tc[j] * tc[j])  # the error at c, for now
        do[j] = dh[j] * tc[j] * o[j] * (one - o[j])
    for j in range(hidden):
        di[j] = dc[j] * g[j] * i[j] * (one - i[j])
        df[j] = dc[j] * c_prev[j] * f[j] * (one - f[j])
        dg[j] = dc[j] * i[j] * (one - g[j] * g[j])
    for j in range(hidden):
        dc[j] *= f[j]  # ... and at c_prev
    grad_prev[:hidden] = 0.0
    grad_gh[:] = grad_gi


@njit(**FAST)
def _add_products(a, m, out):
    """out[b, n] += sum_j a[b, j] m[n, j], in register blocks of 4 rows of ``a`` by 2 rows of ``m``
    (each sum vectorised along the contiguous j), which keeps the partial sums in registers where a
    row-by-row product would load and store ``out`` for every multiply-add."""
    rows, inner = a.shape
    cols = m.shape[0]
    full_rows, full_cols = rows - rows % 4, cols - cols % 2
    zero = np.float32(0.0)
    for b in range(0, full_rows, 4):
        for n in range(0, full_cols, 2):
            s0 = s1 = s2 = s3 = t0 = t1 = t2 = t3 = zero
            for j in range(inner):
                w, x = m[n, j], m[n + 1, j]
                a0, a1, a2, a3 = a[b, j], a[b + 1, j], a[b + 2, j], a[b + 3, j]
                s0 += a0 * w
                s1 += a1 * w
                s2 += a2 * w
                s3 += a3 * w
                t0 += a0 * x
                t1 += a1 * x
                t2 += a2 * x
                t3 += a3 * x
            out[b, n] += s0
            out[b + 1, n] += s1
            out[b + 2, n] += s2
            out[b + 3, n] += s3
            out[b, n + 1] += t0
            out[b + 1, n + 1] += t1
            out[b + 2, n + 1] += t2
            out[b + 3, n + 1] += t3
    for b in range(rows):  # what the blocks left: the last rows % 4 rows, the last column if odd
        for n in range(cols):
            if b >= full_rows or n >= full_cols:
                total = zero
                for j in range(inner):
                    total += a[b, j] * m[n, j]
                out[b, n] += total


@njit(**FAST)
def _forward_kernel(kind, projected, weight, bias, states, saved):
    """Fill ``states`` (T + 1, B, S; step 0 holds the zero start) and ``saved`` (T, B, K) from the
    input products (T, B, G), ``W_hh`` (G, H) and ``b_hh`` (G,)."""
    steps, batch, width = projected.shape
    hidden = weight.shape[1]
    recurrent = np.empty((batch, width), dtype=projected.dtype)
    h = np.empty((batch, hidden), dtype=projected.dtype)  # contiguous, so that the products vectorise
    for t in range(steps):
        for b in range(batch):
            recurrent[b] = bias
            h[b] = states[t, b, :hidden]
        _add_products(h, weight, recurrent)
        for b in range(batch):
            if kind == 0:
                _gru_step(projected[t, b], recurrent[b], states[t, b], states[t + 1, b], saved[t, b])
            elif kind == 1:
                _lstm_step(projected[t, b], recurrent[b], states[t, b], states[t + 1, b], saved[t, b])
            else:
                _rnn_step(projected[t, b], recurrent[b], states[t, b], states[t + 1, b], saved[t, b])


@njit(**FAST)
def _backward_kernel(kind, grad_states, weight_t, states, saved, grad_projected, grad_recurrent):
    """Fill the gradients of the input products and of the recurrent products (both (T, B, G)) from
    the gradients of the states (T, B, S), running the time loop in reverse; ``weight_t`` is W_hh^T (H, G)."""
    steps, batch, _ = grad_projected.shape
    hidden = weight_t.shape[0]
    size = states.shape[2]
    carry = np.zeros((batch, size), dtype=states.dtype)  # the error reaching each state from later steps
    error = np.empty(size, dtype=states.dtype)
    through_weights = np.empty((batch, hidden), dtype=states.dtype)  # contiguous, as in the forward kernel
    for t in range(steps - 1, -1, -1):
        for b in range(batch):
            for j in range(size):
                error[j] = carry[b, j] + grad_states[t, b, j]
            if kind == 0:
                _gru_step_grad(error, states[t, b], saved[t, b], grad_projected[t, b], grad_recurrent[t, b],
                               carry[b])
            elif kind == 1:
                _lstm_step_grad(error, states[t, b], saved[t, b], grad_projected[t, b], grad_recurrent[t, b],
                                carry[b])
            else:
                _rnn_step_grad(error, states[t, b], saved[t, b], grad_projected[t, b], grad_recurrent[t, b],
                               carry[b])
        through_weights[:] = 0.0
        _add_products(grad_recurrent[t], weight_t, through_weights)
        carry[:, :hidden] += through_weights


def _cells_forward(cell: Cell, projected: Tensor, weight_hh: Tensor, bias_hh: Tensor) -> tuple[Tensor, Any]:
    steps, batch, _ = projected.shape
    hidden = weight_hh.shape[1]
    states = torch.zeros(steps + 1, batch, cell.states * hidden)
    saved = torch.empty(steps, batch, cell.saved * hidden)
    _forward_kernel(cell.kind, projected.numpy(), weight_hh.numpy(), bias_hh.numpy(), states.numpy(), saved.numpy())
    return states[1:], (cell, weight_hh, states, saved)


def _cells_backward(saved_state: Any, grad_states: Tensor) -> tuple[Tensor | None, ...]:
    cell, weight_hh, states, saved = saved_state
    steps, batch, _ = grad_states.shape
    width, hidden = weight_hh.shape
    grad_projected = torch.empty(steps, batch, width)
    grad_recurrent = torch.empty(steps, batch, width)
    _backward_kernel(cell.kind, grad_states.numpy(), weight_hh.t().contiguous().numpy(), states.numpy(),
                     saved.numpy(), grad_projected.numpy(), grad_recurrent.numpy())
    flat = grad_recurrent.view(steps * batch, width)
    grad_weight = flat.t() @ states[:-1, :, :hidden].reshape(steps * batch, hidden)
    return None, grad_projected, grad_weight, flat.sum(0)


CELL_PASSES = CompiledPasses("numba cells", _cells_forward, _cells_backward)


def cell_recurrence(cell: Cell, projected: Tensor, weight_hh: Tensor, bias_hh: Tensor) -> Tensor:
    """Run ``cell`` over the input products (T, B, G = gates * H, including b_ih) from a zero state;
    return every step's state (T, B, states * H), h first. CPU float32 tensors; differentiable in
    ``projected``, ``weight_hh`` (G, H) and ``bias_hh`` (G,)."""
    if projected.dtype != torch.float32 or projected.device.type != "cpu":
        raise ValueError(f"the numba {cell.name} kernels take CPU float32 tensors, not {projected.dtype} on "
                         f"{projected.device.type}")
    return CELL_PASSES.apply(cell, projected, weight_hh, bias_hh)
