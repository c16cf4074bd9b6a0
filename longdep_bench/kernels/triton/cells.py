"""Gated recurrent cells in Triton: the whole time loop in one kernel launch forward and one backward.

The kernels are written once for any cell whose recurrent part is a product ``h W_k^T`` per gate
block k (up to four blocks of width H) and whose element-wise part is given as two small
``@triton.jit`` functions (a ``TritonCell``): ``fused-lstm`` runs the LSTM through them, ``rnn``
and ``gru`` their cells (``kernel=triton``), and a third-party cell can pass its own functions.

Forward (``_forward``): one program per tile of ``BLOCK_B`` sequences keeps that tile's state (h,
and c where the cell has one) on chip for all T steps; each step adds the recurrent products (one
``tl.dot`` per gate, plus ``b_hh`` where the cell keeps it apart) to the hoisted input projections
(loaded one step ahead), calls the cell's ``step`` and stores h, c and the values that the
backward pass needs (not in evaluation, under ``torch.no_grad``). Up to H=64 the weights and h
stay in registers; above, each step reads h_{t-1} back and the weights from L2 in slices of
``BLOCK_K`` rows, one gate at a time, so that what is staged in shared memory fits (H up to 512).

Backward (``_backward``): the same tiles run the time loop in reverse, carrying dh and dc (the
step's saved tiles loaded one step ahead); the cell's ``step_grad`` gives the gradients of the
input projections and of the recurrent products (the same for the LSTM; for the GRU's candidate
gate the latter carries r), which are stored; above H=64 the recurrent product reads them back in
the same slices. The weight gradient is then one large matmul (``grad^T h_{t-1}`` over all steps
and sequences) and the input gradient flows on through the projection in PyTorch.

``precision`` is Triton's ``input_precision`` of the recurrent products: ``tf32`` (the default,
as PyTorch's default for cuDNN RNNs on Ampere and Hopper), ``tf32x3`` (three TF32 products:
float32 accuracy on tensor cores) or ``ieee`` (exact float32 without tensor cores, much slower).
Hidden sizes that are not powers of two are padded with masks; tiles have at least 16 rows
(``tl.dot``'s minimum). The kernels launch without host synchronisation, so a step that uses them
can be captured in a CUDA graph. With ``TRITON_INTERPRET=1`` they run on CPU tensors (slowly): that
is how the tests check them without a GPU. Only the LSTM's kernels have been timed on a GPU
(``reports/gpu-*``); the RNN's and GRU's are checked for correctness, not speed.

``launch=step`` (``cell_states``' ``launch``) runs the same cells through ``kernels.triton.steps``
instead: one launch per time step, each split over tiles of sequences and blocks of hidden units.

Triton is optional (``pip install 'longdep-bench[triton]'``); without it ``UNAVAILABLE`` says why.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from longdep_bench.api.params import Param
from longdep_bench.kernels.triton import steps as triton_steps
from longdep_bench.kernels.triton.tiles import BLOCK_B, UNAVAILABLE, triton

if triton is not None:
    import triton.language as tl

    from longdep_bench.kernels.triton.tiles import _step_tiles, _store_tiles, _tiles

PRECISIONS = ("tf32", "tf32x3", "ieee")
PRECISION_OPTION = Param("precision", str, "tf32", "precision of the Triton kernels' recurrent products",
                         choices=PRECISIONS, runtime=True)
LAUNCH_OPTION = Param("launch", str, "sequence", "the Triton kernels' launches: one per sequence (the state stays "
                      "on chip, programs over tiles of 16 sequences) or one per time step (programs over tiles and "
                      "blocks of hidden units, for CUDA graphs; not timed on a GPU yet)", choices=("sequence", "step"),
                      runtime=True)


def runs_on(device: str) -> bool:
    """Whether Triton kernels run on this device type: CUDA, or the CPU under Triton's interpreter
    (``TRITON_INTERPRET=1``, which Triton reads when a kernel is decorated)."""
    import os

    return device == "cuda" or (device == "cpu" and os.environ.get("TRITON_INTERPRET", "0") == "1")


def launchable(x: torch.Tensor) -> bool:
    """Whether Triton kernels can run on ``x``."""
    return runs_on(x.device.type)


def tensor_problem(x: torch.Tensor, kernels: str, dtypes: tuple[torch.dtype, ...]) -> str | None:
    """Why ``kernels`` (their name, for the message) cannot run on ``x``: Triton missing, a device
    they do not run on, or a dtype they do not compute in; None where they can."""
    if UNAVAILABLE:
        return UNAVAILABLE
    if not launchable(x):
        return f"{kernels} needs CUDA tensors (or TRITON_INTERPRET=1 on the CPU)"
    if x.dtype not in dtypes:
        return f"{kernels} computes in {' and '.join(str(d).removeprefix('torch.') for d in dtypes)}, not {x.dtype}"
    return None


@dataclass(frozen=True)
class TritonCell:
    """A recurrent cell for the kernels of this module.

    ``step(x0, x1, x2, x3, r0, r1, r2, r3, h, c) -> (h, c, s0, s1, s2, s3)``: one step on (BLOCK_B,
    BLOCK_H) tiles, from the input projections x_k and recurrent products r_k of the gate blocks
    (zeros past ``gates``) and the previous state; returns the new state and the values saved for
    the backward pass (the first ``saved`` are stored). ``step_grad(s0, s1, s2, s3, c, c_prev,
    h_prev, dh, dc) -> (dx0, dx1, dx2, dx3, dr0, dr1, dr2, dr3, dh_prev, dc_prev)``: from a step's
    saved values, its c and c_{t-1} (zeros without ``carries_c``), h_{t-1} (zeros unless
    ``reads_h_prev``) and the gradients reaching h_t and c_t, the gradients of the input
    projections and of the recurrent products, and those reaching h_{t-1} and c_{t-1} other than
    through the recurrent products. Both are ``@triton.jit`` functions.
    """

    name: str
    gates: int          # gate blocks of W_hh (1 to 4)
    saved: int          # tiles per step kept for the backward pass (1 to 4)
    carries_c: bool     # a second state c beside h (stored, and read by step_grad)
    reads_h_prev: bool  # step_grad needs h_{t-1}
    split: bool         # the recurrent products' gradients differ from the input projections'
    step: Callable[..., Any]
    step_grad: Callable[..., Any]

    def __post_init__(self):
        if not (1 <= self.gates <= 4 and 1 <= self.saved <= 4):
            raise ValueError(f"Triton cell {self.name}: 1 to 4 gate blocks and saved tiles, "
                             f"not {self.gates} and {self.saved}")

    def constants(self) -> dict[str, Any]:
        """The kernels' compile-time arguments that describe this cell."""
        return dict(STEP=self.step, STEP_GRAD=self.step_grad, GATES=self.gates, SAVED=self.saved,
                    CARRY_C=self.carries_c, H_PREV=self.reads_h_prev, SPLIT=self.split)


if triton is not None:

    @triton.jit
    def _sigmoid(x):
        return 1.0 / (1.0 + tl.exp(-x))

    @triton.jit
    def _tanh(x):
        return 2.0 / (1.0 + tl.exp(-2.0 * x)) - 1.0

    @triton.jit
    def _gate_blocks(base, row_stride, block_stride, hidden, BLOCK_H: tl.constexpr, GATES: tl.constexpr):
        """The gate blocks (BLOCK_H, BLOCK_H) of a weight matrix, zero-padded past ``hidden``."""
        inner = tl.arange(0, BLOCK_H)[:, None]
        cols = tl.arange(0, BLOCK_H)[None, :]
        return _tiles(base + inner * row_stride + cols, block_stride, (inner < hidden) & (cols < hidden), GATES)

    @triton.jit
    def _dots(x, w0, w1, w2, w3, GATES: tl.constexpr, PRECISION: tl.constexpr):
        """``x W_k`` for the gate blocks held in registers (zeros past GATES)."""
        r0 = tl.dot(x, w0, input_precision=PRECISION)
        r1 = tl.zeros_like(r0)
        r2 = tl.zeros_like(r0)
        r3 = tl.zeros_like(r0)
        if GATES > 1:
            r1 = tl.dot(x, w1, input_precision=PRECISION)
        if GATES > 2:
            r2 = tl.dot(x, w2, input_precision=PRECISION)
        if GATES > 3:
            r3 = tl.dot(x, w3, input_precision=PRECISION)
        return r0, r1, r2, r3

    @triton.jit
    def _dot_sum(x0, x1, x2, x3, w0, w1, w2, w3, GATES: tl.constexpr, PRECISION: tl.constexpr):
        """The sum of ``x_k W_k`` over the gate blocks held in registers."""
        acc = tl.dot(x0, w0, input_precision=PRECISION)
        if GATES > 1:
            acc += tl.dot(x1, w1, input_precision=PRECISION)
        if GATES > 2:
            acc += tl.dot(x2, w2, input_precision=PRECISION)
        if GATES > 3:
            acc += tl.dot(x3, w3, input_precision=PRECISION)
        return acc

    @triton.jit
    def _product(x_rows, x_ok, weight, row_stride, hidden, BLOCK: tl.constexpr, BLOCK_H: tl.constexpr,
                 BLOCK_K: tl.constexpr, PRECISION: tl.constexpr):
        """``x W`` for a tile whose left factor is in memory: ``x_rows`` (BLOCK, 1) points at each
        row's first element and rows outside ``x_ok`` read as zeros; W (hidden, hidden) starts at
        ``weight``, its rows ``row_stride`` apart. The inner dimension goes in chunks of BLOCK_K,
        so that only a (BLOCK_K, BLOCK_H) slice of the weights is staged on chip at a time."""
        cols = tl.arange(0, BLOCK_H)[None, :]
        acc = tl.zeros((BLOCK, BLOCK_H), tl.float32)
        for k in range(0, BLOCK_H, BLOCK_K):
            inner = k + tl.arange(0, BLOCK_K)
            x = tl.load(x_rows + inner[None, :], mask=x_ok & (inner[None, :] < hidden), other=0.0)
            w = tl.load(weight + inner[:, None] * row_stride + cols, mask=(inner[:, None] < hidden) & (cols < hidden),
                        other=0.0)
            acc += tl.dot(x, w, input_precision=PRECISION)
        return acc

    @triton.jit
    def _products(x_rows, x_gate_stride, x_ok, weight, row_stride, block_stride, hidden, GATES: tl.constexpr,
                  BLOCK: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr, PRECISION: tl.constexpr):
        """The gates' products ``x_k W_k`` (see ``_product``; zeros past GATES), one gate after the
        other so that one weight slice at a time is in flight: gate k's left factor starts ``k *
        x_gate_stride`` after ``x_rows`` (0: one factor for all gates), its weight block ``k *
        block_stride`` after ``weight``."""
        r0 = _product(x_rows, x_ok, weight, row_stride, hidden, BLOCK, BLOCK_H, BLOCK_K, PRECISION)
        r1 = tl.zeros_like(r0)
        r2 = tl.zeros_like(r0)
        r3 = tl.zeros_like(r0)
        if GATES > 1:
            r1 = _product(x_rows + x_gate_stride, x_ok, weight + block_stride, row_stride, hidden,
                          BLOCK, BLOCK_H, BLOCK_K, PRECISION)
        if GATES > 2:
            r2 = _product(x_rows + 2 * x_gate_stride, x_ok, weight + 2 * block_stride, row_stride, hidden,
                          BLOCK, BLOCK_H, BLOCK_K, PRECISION)
        if GATES > 3:
            r3 = _product(x_rows + 3 * x_gate_stride, x_ok, weight + 3 * block_stride, row_stride, hidden,
                          BLOCK, BLOCK_H, BLOCK_K, PRECISION)
        return r0, r1, r2, r3

    @triton.jit
    def _forward(projected, weight_t, bias, hs, cs, saved, steps, batch, hidden, STEP: tl.constexpr,
                 STEP_GRAD: tl.constexpr, GATES: tl.constexpr, SAVED: tl.constexpr, CARRY_C: tl.constexpr,
                 H_PREV: tl.constexpr, SPLIT: tl.constexpr, HAS_BIAS: tl.constexpr, BLOCK_H: tl.constexpr,
                 BLOCK: tl.constexpr, BLOCK_K: tl.constexpr, PRECISION: tl.constexpr, HOIST: tl.constexpr,
                 PREFETCH: tl.constexpr, SAVE: tl.constexpr):
        """projected (T, B, G H); weight_t = W_hh^T (H, G H); bias = b_hh (G H), added to the
        recurrent products if HAS_BIAS; hs, cs (T, B, H); saved (T, B, SAVED H).
        HOIST keeps the weights and h in registers for the whole loop (small H); otherwise each
        step reads h_{t-1} back from ``hs`` and the weights from L2 in BLOCK_K-row slices.
        PREFETCH loads each step's inputs one step ahead (where the registers allow it).
        SAVE stores the cell's saved tiles for the backward pass (not without gradients)."""
        rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)[:, None]
        cols = tl.arange(0, BLOCK_H)[None, :]
        mask = (rows < batch) & (cols < hidden)
        width = GATES * hidden
        if HOIST:
            w0, w1, w2, w3 = _gate_blocks(weight_t, width, hidden, hidden, BLOCK_H, GATES)
        if HAS_BIAS:
            b0, b1, b2, b3 = _tiles(bias + cols, hidden, cols < hidden, GATES)
        h = tl.zeros((BLOCK, BLOCK_H), tl.float32)
        c = tl.zeros((BLOCK, BLOCK_H), tl.float32)
        if PREFETCH:
            x0, x1, x2, x3 = _tiles(projected + rows * width + cols, hidden, mask, GATES)
        for t in range(steps):
            if PREFETCH:  # the next step's input projections load while this step computes
                n0, n1, n2, n3 = _tiles(projected + ((t + 1) * batch + rows) * width + cols, hidden,
                                        mask & (rows * 0 + t + 1 < steps), GATES)
            else:
                x0, x1, x2, x3 = _tiles(projected + (t * batch + rows) * width + cols, hidden, mask, GATES)
            if HOIST:
                r0, r1, r2, r3 = _dots(h, w0, w1, w2, w3, GATES, PRECISION)
            else:
                tl.debug_barrier()  # h_{t-1}, stored by every thread of the program, is readable
                r0, r1, r2, r3 = _products(hs + ((t - 1) * batch + rows) * hidden, 0,
                                           (rows < batch) & (rows * 0 + t > 0), weight_t, width, hidden, hidden,
                                           GATES, BLOCK, BLOCK_H, BLOCK_K, PRECISION)
            if HAS_BIAS:
                r0, r1, r2, r3 = r0 + b0, r1 + b1, r2 + b2, r3 + b3
            h, c, s0, s1, s2, s3 = STEP(x0, x1, x2, x3, r0, r1, r2, r3, h, c)
            if PREFETCH:
                x0, x1, x2, x3 = n0, n1, n2, n3
            h = tl.where(mask, h, 0.0)
            c = tl.where(mask, c, 0.0)
            state = (t * batch + rows) * hidden + cols
            tl.store(hs + state, h, mask=mask)
            if CARRY_C:
                tl.store(cs + state, c, mask=mask)
            if SAVE:
                _store_tiles(saved + (t * batch + rows) * SAVED * hidden + cols, hidden, mask, s0, s1, s2, s3, SAVED)

    @triton.jit
    def _backward(grad_hs, grad_cs, weight, hs, cs, saved, grad_x, grad_r, steps, batch, hidden,
                  STEP: tl.constexpr, STEP_GRAD: tl.constexpr, GATES: tl.constexpr, SAVED: tl.constexpr,
                  CARRY_C: tl.constexpr, H_PREV: tl.constexpr, SPLIT: tl.constexpr, BLOCK_H: tl.constexpr,
                  BLOCK: tl.constexpr, BLOCK_K: tl.constexpr, PRECISION: tl.constexpr, HOIST: tl.constexpr,
                  PREFETCH: tl.constexpr):
        """grad_hs, grad_cs (T, B, H); weight = W_hh (G H, H); hs, cs (T, B, H); saved (T, B,
        SAVED H); grad_x, grad_r (T, B, G H): the gradients of the input projections and of the
        recurrent products (one tensor unless SPLIT). Without HOIST the recurrent products read
        ``grad_r`` back."""
        rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)[:, None]
        cols = tl.arange(0, BLOCK_H)[None, :]
        mask = (rows < batch) & (cols < hidden)
        width = GATES * hidden
        if HOIST:
            w0, w1, w2, w3 = _gate_blocks(weight, hidden, hidden * hidden, hidden, BLOCK_H, GATES)
        dh_next = tl.zeros((BLOCK, BLOCK_H), tl.float32)
        dc_next = tl.zeros((BLOCK, BLOCK_H), tl.float32)
        if PREFETCH:
            s0, s1, s2, s3, c, h_prev, grad_h, grad_c = _step_tiles(saved, cs, hs, grad_hs, grad_cs, steps - 1, batch,
                                                                    hidden, rows, cols, mask, SAVED, CARRY_C, H_PREV)
        for s in range(steps):
            t = steps - 1 - s
            ok = mask & (rows * 0 + t > 0)
            if PREFETCH:  # the previous step's tiles load while this step computes; its c is our c_{t-1}
                n0, n1, n2, n3, c_prev, n_h_prev, n_grad_h, n_grad_c = _step_tiles(
                    saved, cs, hs, grad_hs, grad_cs, t - 1, batch, hidden, rows, cols, ok, SAVED, CARRY_C, H_PREV)
            else:
                s0, s1, s2, s3, c, h_prev, grad_h, grad_c = _step_tiles(saved, cs, hs, grad_hs, grad_cs, t, batch,
                                                                        hidden, rows, cols, mask, SAVED, CARRY_C,
                                                                        H_PREV)
                c_prev = tl.zeros_like(c)
                if CARRY_C:
                    c_prev = tl.load(cs + ((t - 1) * batch + rows) * hidden + cols, mask=ok, other=0.0)
            dx0, dx1, dx2, dx3, dr0, dr1, dr2, dr3, dh_prev, dc_next = STEP_GRAD(
                s0, s1, s2, s3, c, c_prev, h_prev, grad_h + dh_next, grad_c + dc_next)
            grad = (t * batch + rows) * width + cols
            _store_tiles(grad_x + grad, hidden, mask, dx0, dx1, dx2, dx3, GATES)
            if SPLIT:
                _store_tiles(grad_r + grad, hidden, mask, dr0, dr1, dr2, dr3, GATES)
            if HOIST:
                dh_next = dh_prev + _dot_sum(dr0, dr1, dr2, dr3, w0, w1, w2, w3, GATES, PRECISION)
            else:
                tl.debug_barrier()  # this step's gradients, stored by every thread, are readable
                d0, d1, d2, d3 = _products(grad_r + (t * batch + rows) * width, hidden, rows < batch, weight, hidden,
                                           hidden * hidden, hidden, GATES, BLOCK, BLOCK_H, BLOCK_K, PRECISION)
                dh_next = dh_prev + d0 + d1 + d2 + d3
            if PREFETCH:
                s0, s1, s2, s3, c, h_prev, grad_h, grad_c = n0, n1, n2, n3, c_prev, n_h_prev, n_grad_h, n_grad_c

    # The cells, in torch.nn's gate order and maths.

    @triton.jit
    def rnn_step(x0, x1, x2, x3, r0, r1, r2, r3, h, c):
        """tanh RNN (torch.nn.RNN): h = tanh(x + h W^T + b); saves h."""
        h = _tanh(x0 + r0)
        return h, c, h, h, h, h

    @triton.jit
    def rnn_step_grad(h, s1, s2, s3, c, c_prev, h_prev, dh, dc):
        """The tanh RNN step's gradients: one pre-activation, nothing reaches h_{t-1} directly."""
        da = dh * (1.0 - h * h)
        zero = tl.zeros_like(da)
        return da, zero, zero, zero, da, zero, zero, zero, zero, zero

    @triton.jit
    def lstm_step(x0, x1, x2, x3, r0, r1, r2, r3, h, c):
        """LSTM (torch.nn.LSTM, gates i, f, g, o): c = f c + i g, h = o tanh(c); saves i, f, g, o."""
        i = _sigmoid(x0 + r0)
        f = _sigmoid(x1 + r1)
        g = _tanh(x2 + r2)
        o = _sigmoid(x3 + r3)
        c = f * c + i * g
        return o * _tanh(c), c, i, f, g, o

    @triton.jit
    def lstm_step_grad(i, f, g, o, c, c_prev, h_prev, dh, dc):
        """The LSTM step's gradients: the same for the input projections and recurrent products."""
        tanh_c = _tanh(c)
        dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
        a_i = dc * g * i * (1.0 - i)
        a_f = dc * c_prev * f * (1.0 - f)
        a_g = dc * i * (1.0 - g * g)
        a_o = dh * tanh_c * o * (1.0 - o)
        return a_i, a_f, a_g, a_o, a_i, a_f, a_g, a_o, tl.zeros_like(dh), dc * f

    @triton.jit
    def gru_step(x0, x1, x2, x3, r0, r1, r2, r3, h, c):
        """GRU (torch.nn.GRU, gates r, z, n): n = tanh(x_n + r (h W_n^T + b_hn)), h = (1 - z) n + z h;
        saves r, z, n and the candidate's recurrent product."""
        r = _sigmoid(x0 + r0)
        z = _sigmoid(x1 + r1)
        n = _tanh(x2 + r * r2)
        return (1.0 - z) * n + z * h, c, r, z, n, r2

    @triton.jit
    def gru_step_grad(r, z, n, rec_n, c, c_prev, h_prev, dh, dc):
        """The GRU step's gradients: the candidate's recurrent product gets r times its input's."""
        d_n = dh * (1.0 - z) * (1.0 - n * n)
        d_z = dh * (h_prev - n) * z * (1.0 - z)
        d_r = d_n * rec_n * r * (1.0 - r)
        zero = tl.zeros_like(dh)
        return d_r, d_z, d_n, zero, d_r, d_z, d_n * r, zero, dh * z, zero

    RNN_CELL = TritonCell("rnn", gates=1, saved=1, carries_c=False, reads_h_prev=False, split=False,
                          step=rnn_step, step_grad=rnn_step_grad)
    LSTM_CELL = TritonCell("lstm", gates=4, saved=4, carries_c=True, reads_h_prev=False, split=False,
                           step=lstm_step, step_grad=lstm_step_grad)
    GRU_CELL = TritonCell("gru", gates=3, saved=4, carries_c=False, reads_h_prev=True, split=True,
                          step=gru_step, step_grad=gru_step_grad)
    CELLS = {cell.name: cell for cell in (RNN_CELL, LSTM_CELL, GRU_CELL)}
else:
    CELLS = {}


HOIST_UP_TO = 64  # hidden sizes whose gate weight blocks stay in registers for the whole loop
PREFETCH_UP_TO = 128  # above, holding the next step's tiles spills registers (ptxas, sm_90a)
MAX_HIDDEN = 512  # the largest hidden size whose kernels are compiled and checked (tests/test_triton_cells.py)
# kernel=auto runs the kernels up to this hidden size. The kernels parallelise over batch tiles only,
# so each step's products run on B/16 multiprocessors: graphed training steps of fused-lstm on an
# H100 took 0.763, 2.66, 7.79 and 34.8 ms at B16 H64, B128 H128, H256, H512 (L110,
# reports/gpu-h100-run2/speed.md), the TorchScript loop 1.77, 2.87 and 3.83 ms at the first three
# (reports/gpu-h100/speed.md, another H100 run).
AUTO_UP_TO = 128
# Warps per program, chosen with ptxas (CUDA 13.4, sm_90a) on the LSTM's compiled kernels: no spills
# at H <= 64 (4 warps, 198-252 registers) and H128 (8 warps); 16-128 bytes per thread at H256 (8
# warps); 0.5-0.8 KB at H512 (16 warps). Cells with fewer gates hold less.
WARPS = {16: 4, 32: 4, 64: 4, 128: 8, 256: 8, 512: 16}
STAGED_WEIGHTS = 128 * 1024  # BLOCK_K: four (BLOCK_K, BLOCK_H) float32 slices in this; 33-37 KB staged (sm_90)


def _not_installed() -> str:
    """The reason no Triton kernel can run here at all, where ``UNAVAILABLE`` says why."""
    return f"kernel=triton is unavailable here: {UNAVAILABLE}"


def unusable(hidden: int, x: torch.Tensor | None = None) -> str | None:
    """Why the kernels cannot run a layer of this hidden size here (on ``x``, where given), or None
    where they can."""
    if UNAVAILABLE:
        return _not_installed()
    if hidden > MAX_HIDDEN:
        return f"kernel=triton supports hidden sizes up to {MAX_HIDDEN}, not {hidden} (kernel=auto runs another there)"
    if x is not None and not launchable(x):
        return "kernel=triton needs CUDA tensors (or TRITON_INTERPRET=1 on the CPU)"
    return None


def require(hidden: int, x: torch.Tensor | None = None) -> None:
    """Raise ValueError with :func:`unusable`'s reason where the kernels cannot run."""
    reason = unusable(hidden, x)
    if reason:
        raise ValueError(reason)


def check_installed(hidden: int, options: Mapping[str, Any]) -> None:
    """An architecture's ``check`` for Triton kernels of any hidden size: ``kernel=triton`` needs Triton."""
    if options.get("kernel") == "triton" and UNAVAILABLE:
        raise ValueError(_not_installed())


def check_option(hidden: int, options: Mapping[str, Any]) -> None:
    """An architecture's ``check``: its option ``kernel=triton`` needs Triton and a hidden size
    that the kernels support."""
    if options.get("kernel") == "triton":
        require(hidden)


def use_triton(kernel: str, hidden: int, x: torch.Tensor) -> bool:
    """Whether a ``kernel`` option's value runs these kernels on ``x``: ``triton`` always (an error
    with the reason where they cannot), ``auto`` on CUDA where they can, up to ``AUTO_UP_TO`` hidden
    units, anything else never."""
    if kernel == "triton":
        require(hidden, x)
        return True
    return kernel == "auto" and x.is_cuda and hidden <= AUTO_UP_TO and unusable(hidden, x) is None


def _launch(batch: int, hidden: int) -> tuple[tuple[int], dict]:
    """The grid (one program per tile of BLOCK_B sequences) and the kernels' compile-time settings."""
    block_h = max(16, triton.next_power_of_2(hidden))
    block_k = min(block_h, max(16, STAGED_WEIGHTS // (4 * 4 * block_h)))
    return (triton.cdiv(batch, BLOCK_B),), dict(BLOCK_H=block_h, BLOCK=BLOCK_B, BLOCK_K=block_k,
                                                 HOIST=block_h <= HOIST_UP_TO, PREFETCH=block_h <= PREFETCH_UP_TO,
                                                 num_warps=WARPS[block_h], num_stages=1)


def cell_states(cell: TritonCell, projected: torch.Tensor, weight_hh: torch.Tensor, bias_hh: torch.Tensor | None,
                precision: str, launch: str = "sequence") -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(hs, cs)`` (T, B, H) of a layer of ``cell`` for time-major input projections (T, B, G H)
    with zero initial states; ``cs`` is None for a cell without c. ``bias_hh`` (G H) is added to the
    recurrent products (None: it is in the projections already). Where no gradient will be asked
    for (evaluation under ``torch.no_grad``), the forward kernel stores nothing for the backward.
    ``launch``: ``sequence``, the kernels of this module; ``step``, those of ``kernels.triton.steps``."""
    tensors = (projected, weight_hh) + (() if bias_hh is None else (bias_hh,))
    backward = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    hs, cs = TritonCellFunction.apply(projected, weight_hh, bias_hh, cell, precision, backward, launch)
    return hs, (cs if cell.carries_c else None)


def kernel_label(precision: str, launch: str) -> str:
    """What a record's ``runtime.kernel`` says when these kernels ran: 'triton (tf32)', 'triton
    (tf32, per step)'."""
    return f"triton ({precision}{', per step' if launch == 'step' else ''})"


def forward_pass(projected: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor, hs: torch.Tensor,
                 cs: torch.Tensor, saved: torch.Tensor, flags: Mapping[str, Any]) -> None:
    """Fill hs, cs and saved (T, B, ...) with the forward kernel: one launch for the whole sequence.
    ``flags``: the cell's constants, HAS_BIAS, PRECISION and SAVE."""
    steps, batch, hidden = hs.shape
    grid, settings = _launch(batch, hidden)
    _forward[grid](projected, weight_t, bias, hs, cs, saved, steps, batch, hidden, **flags, **settings)


def backward_pass(grad_hs: torch.Tensor, grad_cs: torch.Tensor, weight: torch.Tensor, hs: torch.Tensor,
                  cs: torch.Tensor, saved: torch.Tensor, grad_x: torch.Tensor, grad_r: torch.Tensor,
                  flags: Mapping[str, Any]) -> None:
    """Fill grad_x and grad_r (T, B, G H) with the backward kernel: one launch for the whole sequence.
    ``flags``: the cell's constants and PRECISION."""
    steps, batch, hidden = hs.shape
    grid, settings = _launch(batch, hidden)
    _backward[grid](grad_hs, grad_cs, weight, hs, cs, saved, grad_x, grad_r, steps, batch, hidden, **flags, **settings)


def _schedule(launch: str) -> Any:
    """The module whose ``forward_pass`` and ``backward_pass`` run a launch schedule."""
    if launch == "step":
        return triton_steps
    return sys.modules[__name__]


class TritonCellFunction(torch.autograd.Function):
    """``(hs, cs) = TritonCellFunction.apply(projected, weight_hh, bias_hh, cell, precision,
    backward, launch)``, see :func:`cell_states` (``cs`` is empty for a cell without c);
    ``backward`` False stores nothing for the backward pass (which then cannot run)."""

    @staticmethod
    def forward(ctx, projected: torch.Tensor, weight_hh: torch.Tensor, bias_hh: torch.Tensor | None, cell: TritonCell,
                precision: str, backward: bool, launch: str):
        steps, batch, width = projected.shape
        hidden = width // cell.gates
        if hidden > MAX_HIDDEN:  # both schedules' launch settings stop there
            raise ValueError(f"the Triton kernels support hidden sizes up to {MAX_HIDDEN}, not {hidden}")
        projected = projected.contiguous()
        hs = projected.new_empty(steps, batch, hidden)
        cs = torch.empty_like(hs) if cell.carries_c else hs.new_empty(0)
        # without a backward pass nothing is saved: ``hs`` stands in for the buffer, never written
        saved = projected.new_empty(steps, batch, cell.saved * hidden) if backward else hs
        _schedule(launch).forward_pass(
            projected, weight_hh.t().contiguous(), projected if bias_hh is None else bias_hh.contiguous(), hs,
            cs if cell.carries_c else hs, saved,
            dict(HAS_BIAS=bias_hh is not None, PRECISION=precision, SAVE=backward, **cell.constants()))
        ctx.cell, ctx.precision, ctx.has_bias, ctx.launch = cell, precision, bias_hh is not None, launch
        ctx.save_for_backward(weight_hh, hs, cs, saved)
        if not cell.carries_c:
            ctx.mark_non_differentiable(cs)
        return hs, cs

    @staticmethod
    def backward(ctx, grad_hs: torch.Tensor | None, grad_cs: torch.Tensor | None):
        weight_hh, hs, cs, saved = ctx.saved_tensors
        cell = ctx.cell
        steps, batch, hidden = hs.shape
        grad_hs = torch.zeros_like(hs) if grad_hs is None else grad_hs.contiguous()
        if cell.carries_c:
            grad_cs = torch.zeros_like(cs) if grad_cs is None else grad_cs.contiguous()
        grad_x = hs.new_empty(steps, batch, cell.gates * hidden)
        grad_r = torch.empty_like(grad_x) if cell.split else grad_x
        _schedule(ctx.launch).backward_pass(
            grad_hs, grad_cs if cell.carries_c else grad_hs, weight_hh.contiguous(), hs, cs if cell.carries_c else hs,
            saved, grad_x, grad_r, dict(PRECISION=ctx.precision, **cell.constants()))
        previous = torch.cat([hs.new_zeros(1, batch, hidden), hs[:-1]])
        grad_weight = grad_r.reshape(-1, grad_r.shape[-1]).t() @ previous.reshape(-1, hidden)
        grad_bias = grad_r.sum((0, 1)) if ctx.has_bias else None
        return grad_x, grad_weight, grad_bias, None, None, None, None
