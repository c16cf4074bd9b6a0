"""The cells of ``kernels.triton.cells`` with one kernel launch per time step, each step split over
programs by batch tile *and* block of hidden units.

``kernels.triton.cells`` runs the whole time loop in one launch: one program per tile of 16 sequences
keeps the state on chip, so a step's work runs on B/16 multiprocessors (1 of an H100's 132 at
B16, 8 at B128; ``reports/gpu-h100-run2/profile.log``). Splitting a step's hidden units over
programs needs every program to see all of h_{t-1} before step t, a grid-wide barrier that a
Triton program cannot wait for safely; here the launch boundary is the barrier. Step t is one
launch of (B/16) x (H/BLOCK_J) programs, each computing its block of the gate pre-activations
from all of h_{t-1} (in memory, written by the launch before) and the gate columns of W_hh^T,
then the cell's ``step`` on its block. The backward pass mirrors it in reverse: program (b, j)
takes the gradient reaching its block of h_t through the recurrent product of step t + 1 (all of
that step's gradients times the rows of W_hh for its columns), adds what ``step_grad`` passes on
directly (c, and the GRU's z h), and stores its block's gradients. Weight and bias gradients are
the same large matmuls as ``kernels.triton.cells``'.

2T launches per layer cost tens of microseconds each from Python, so this path is for training
steps captured in CUDA graphs (the suite's default on CUDA), where a replay issues them from the
GPU. Written and checked under Triton's interpreter and compiled for sm_90 here; its speed has not
been measured on a GPU yet, so ``kernel=auto`` never chooses it (``launch=step`` asks for it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from longdep_bench.kernels.triton.tiles import BLOCK_B, triton

# Hidden units per program and rows of each slice of the product's inner dimension. Not tuned on a
# GPU yet: 32-unit blocks up to H128 (2-4 blocks), 64 above (4-8).
BLOCK_K = 32


def _block(hidden: int) -> int:
    return 32 if hidden <= 128 else 64


if triton is not None:
    import triton.language as tl

    from longdep_bench.kernels.triton.tiles import _step_tiles, _store_tiles, _tiles

    @triton.jit
    def _block_product(x_rows, x_ok, inner_size, weight, row_stride, cols, hidden, BLOCK: tl.constexpr,
                       BLOCK_J: tl.constexpr, BLOCK_K: tl.constexpr, PRECISION: tl.constexpr):
        """``x W[:, cols]`` for x (BLOCK, inner_size) in memory (``x_rows`` (BLOCK, 1) points at each
        row's first element; rows outside ``x_ok`` read as zeros) and W (inner_size, ...) from
        ``weight``, rows ``row_stride`` apart; columns at or past ``hidden`` read as zeros. The inner
        dimension goes in BLOCK_K-row slices."""
        acc = tl.zeros((BLOCK, BLOCK_J), tl.float32)
        for k in range(0, inner_size, BLOCK_K):
            inner = k + tl.arange(0, BLOCK_K)
            x = tl.load(x_rows + inner[None, :], mask=x_ok & (inner[None, :] < inner_size), other=0.0)
            w = tl.load(weight + inner[:, None] * row_stride + cols,
                        mask=(inner[:, None] < inner_size) & (cols < hidden), other=0.0)
            acc += tl.dot(x, w, input_precision=PRECISION)
        return acc

    @triton.jit(do_not_specialize=["t"])
    def _forward_step(projected, weight_t, bias, hs, cs, saved, t, batch, hidden, STEP: tl.constexpr,
                      STEP_GRAD: tl.constexpr, GATES: tl.constexpr, SAVED: tl.constexpr, CARRY_C: tl.constexpr,
                      H_PREV: tl.constexpr, SPLIT: tl.constexpr, HAS_BIAS: tl.constexpr, BLOCK: tl.constexpr,
                      BLOCK_J: tl.constexpr, BLOCK_K: tl.constexpr, PRECISION: tl.constexpr, SAVE: tl.constexpr):
        """Step t for one tile of sequences and one block of hidden units: projected (T, B, G H);
        weight_t = W_hh^T (H, G H); bias = b_hh (G H) if HAS_BIAS; hs, cs (T, B, H), step t - 1
        written by the launch before; saved (T, B, SAVED H), stored if SAVE."""
        rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)[:, None]
        cols = tl.program_id(1) * BLOCK_J + tl.arange(0, BLOCK_J)[None, :]
        mask = (rows < batch) & (cols < hidden)
        earlier = rows * 0 + t > 0
        width = GATES * hidden
        x0, x1, x2, x3 = _tiles(projected + (t * batch + rows) * width + cols, hidden, mask, GATES)
        h_rows = hs + ((t - 1) * batch + rows) * hidden
        h_ok = (rows < batch) & earlier
        r0 = _block_product(h_rows, h_ok, hidden, weight_t, width, cols, hidden, BLOCK, BLOCK_J, BLOCK_K, PRECISION)
        r1 = tl.zeros_like(r0)
        r2 = tl.zeros_like(r0)
        r3 = tl.zeros_like(r0)
        if GATES > 1:
            r1 = _block_product(h_rows, h_ok, hidden, weight_t + hidden, width, cols, hidden, BLOCK, BLOCK_J, BLOCK_K,
                                PRECISION)
        if GATES > 2:
            r2 = _block_product(h_rows, h_ok, hidden, weight_t + 2 * hidden, width, cols, hidden, BLOCK, BLOCK_J,
                                BLOCK_K, PRECISION)
        if GATES > 3:
            r3 = _block_product(h_rows, h_ok, hidden, weight_t + 3 * hidden, width, cols, hidden, BLOCK, BLOCK_J,
                                BLOCK_K, PRECISION)
        if HAS_BIAS:
            b0, b1, b2, b3 = _tiles(bias + cols, hidden, cols < hidden, GATES)
            r0, r1, r2, r3 = r0 + b0, r1 + b1, r2 + b2, r3 + b3
        previous = ((t - 1) * batch + rows) * hidden + cols
        h = tl.load(hs + previous, mask=mask & earlier, other=0.0)
        c = tl.zeros_like(h)
        if CARRY_C:
            c = tl.load(cs + previous, mask=mask & earlier, other=0.0)
        h, c, s0, s1, s2, s3 = STEP(x0, x1, x2, x3, r0, r1, r2, r3, h, c)
        state = (t * batch + rows) * hidden + cols
        tl.store(hs + state, tl.where(mask, h, 0.0), mask=mask)
        if CARRY_C:
            tl.store(cs + state, tl.where(mask, c, 0.0), mask=mask)
        if SAVE:
            _store_tiles(saved + (t * batch + rows) * SAVED * hidden + cols, hidden, mask, s0, s1, s2, s3, SAVED)

    @triton.jit(do_not_specialize=["t"])
    def _backward_step(grad_hs, grad_cs, weight, hs, cs, saved, grad_x, grad_r, carry_h, carry_c, t, steps, batch,
                       hidden, STEP: tl.constexpr, STEP_GRAD: tl.constexpr, GATES: tl.constexpr,
                       SAVED: tl.constexpr, CARRY_C: tl.constexpr, H_PREV: tl.constexpr, SPLIT: tl.constexpr,
                       BLOCK: tl.constexpr, BLOCK_J: tl.constexpr, BLOCK_K: tl.constexpr,
                       PRECISION: tl.constexpr):
        """Step t of the backward pass for one tile and one block: grad_hs, grad_cs (T, B, H) from
        outside the recurrence; weight = W_hh (G H, H); grad_x, grad_r (T, B, G H), step t + 1
        written by the launch before (one tensor unless SPLIT); carry_h, carry_c (B, H): what step
        t + 1's ``step_grad`` passed on to h_t and c_t directly (read, then replaced by step t's)."""
        rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)[:, None]
        cols = tl.program_id(1) * BLOCK_J + tl.arange(0, BLOCK_J)[None, :]
        mask = (rows < batch) & (cols < hidden)
        later = rows * 0 + t + 1 < steps
        width = GATES * hidden
        recurrent = _block_product(grad_r + ((t + 1) * batch + rows) * width, (rows < batch) & later, width, weight,
                                   hidden, cols, hidden, BLOCK, BLOCK_J, BLOCK_K, PRECISION)
        s0, s1, s2, s3, c, h_prev, grad_h, grad_c = _step_tiles(saved, cs, hs, grad_hs, grad_cs, t, batch, hidden,
                                                                rows, cols, mask, SAVED, CARRY_C, H_PREV)
        carried = rows * hidden + cols
        dh = grad_h + recurrent + tl.load(carry_h + carried, mask=mask & later, other=0.0)
        dc = grad_c
        c_prev = tl.zeros_like(c)
        if CARRY_C:
            dc += tl.load(carry_c + carried, mask=mask & later, other=0.0)
            c_prev = tl.load(cs + ((t - 1) * batch + rows) * hidden + cols, mask=mask & (rows * 0 + t > 0), other=0.0)
        dx0, dx1, dx2, dx3, dr0, dr1, dr2, dr3, dh_prev, dc_prev = STEP_GRAD(s0, s1, s2, s3, c, c_prev, h_prev, dh,
                                                                             dc)
        grad = (t * batch + rows) * width + cols
        _store_tiles(grad_x + grad, hidden, mask, dx0, dx1, dx2, dx3, GATES)
        if SPLIT:
            _store_tiles(grad_r + grad, hidden, mask, dr0, dr1, dr2, dr3, GATES)
        tl.store(carry_h + carried, dh_prev, mask=mask)
        if CARRY_C:
            tl.store(carry_c + carried, dc_prev, mask=mask)


def _launch(batch: int, hidden: int) -> tuple[tuple[int, int], dict]:
    """The grid (tiles of BLOCK_B sequences x blocks of hidden units) and compile-time settings."""
    block_j = _block(hidden)
    return ((triton.cdiv(batch, BLOCK_B), triton.cdiv(hidden, block_j)),
            dict(BLOCK=BLOCK_B, BLOCK_J=block_j, BLOCK_K=BLOCK_K, num_warps=4, num_stages=1))


def forward_pass(projected: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor, hs: torch.Tensor,
                 cs: torch.Tensor, saved: torch.Tensor, flags: Mapping[str, Any]) -> None:
    """``triton_cells.forward_pass`` with one launch per time step."""
    steps, batch, hidden = hs.shape
    grid, settings = _launch(batch, hidden)
    for t in range(steps):
        _forward_step[grid](projected, weight_t, bias, hs, cs, saved, t, batch, hidden, **flags, **settings)


def backward_pass(grad_hs: torch.Tensor, grad_cs: torch.Tensor, weight: torch.Tensor, hs: torch.Tensor,
                  cs: torch.Tensor, saved: torch.Tensor, grad_x: torch.Tensor, grad_r: torch.Tensor,
                  flags: Mapping[str, Any]) -> None:
    """``triton_cells.backward_pass`` with one launch per time step, in reverse; what a step's
    ``step_grad`` passes on directly waits for the next launch in (B, H) buffers."""
    steps, batch, hidden = hs.shape
    grid, settings = _launch(batch, hidden)
    carry_h = hs.new_empty(batch, hidden)
    carry_c = torch.empty_like(carry_h) if flags["CARRY_C"] else carry_h
    for t in range(steps - 1, -1, -1):
        _backward_step[grid](grad_hs, grad_cs, weight, hs, cs, saved, grad_x, grad_r, carry_h, carry_c, t, steps,
                             batch, hidden, **flags, **settings)
