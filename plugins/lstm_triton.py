"""A fused LSTM layer in Triton: the whole time loop in one kernel launch forward and one backward.

Forward (``_forward``): one program per tile of ``BLOCK_B`` sequences keeps that tile's c on chip
for all T steps; each step adds the recurrent products ``h W_k^T`` (one ``tl.dot`` per gate) to the
hoisted input projections (loaded one step ahead), applies the gates and stores h, c and the four
gate activations that the backward pass needs (not in evaluation, under ``torch.no_grad``). Up to
H=64 the weights and h stay in registers; above, each step reads h_{t-1} back and the weights from
L2 in slices of ``BLOCK_K`` rows, one gate at a time, so that what is staged in shared memory fits
(H up to 512).

Backward (``_backward``): the same tiles run the time loop in reverse, carrying dh and dc (the
step's saved tiles loaded one step ahead), and store the gradients of the gates'
pre-activations; above H=64 the recurrent product reads them back in the same slices. The weight
gradient is then one large matmul (``dgates^T h_{t-1}`` over all steps
and sequences) and the input gradient flows on through the projection in PyTorch.

``precision`` is Triton's ``input_precision`` of the recurrent products: ``tf32`` (the default,
as PyTorch's default for cuDNN RNNs on Ampere and Hopper), ``tf32x3`` (three TF32 products:
float32 accuracy on tensor cores) or ``ieee`` (exact float32 without tensor cores, much slower).
Hidden sizes that are not powers of two are padded with masks; tiles have at least 16 rows
(``tl.dot``'s minimum). The kernels launch without host synchronisation, so a step that uses them
can be captured in a CUDA graph. With ``TRITON_INTERPRET=1`` they run on CPU tensors (slowly): that
is how the tests check them without a GPU.

Triton is optional (``pip install 'longdep-bench[triton]'``); without it ``UNAVAILABLE`` says why.
"""

from __future__ import annotations

import torch

try:
    import triton
    import triton.language as tl
except ImportError as exc:  # the optional extra is not installed
    triton = None
    UNAVAILABLE: str | None = f"Triton is not importable ({exc}); pip install 'longdep-bench[triton]'"
else:
    UNAVAILABLE = None

PRECISIONS = ("tf32", "tf32x3", "ieee")
BLOCK_B = 16  # sequences per program: the smallest tile tl.dot accepts, so the most programs


def interpreted() -> bool:
    """Whether Triton runs its interpreter (on CPU tensors) instead of compiling for a GPU."""
    import os

    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def launchable(x: torch.Tensor) -> bool:
    """Whether Triton kernels can run on ``x``: a CUDA tensor, or a CPU tensor under the interpreter."""
    return x.is_cuda or (interpreted() and x.device.type == "cpu")


if triton is not None:

    @triton.jit
    def _sigmoid(x):
        return 1.0 / (1.0 + tl.exp(-x))

    @triton.jit
    def _tanh(x):
        return 2.0 / (1.0 + tl.exp(-2.0 * x)) - 1.0

    @triton.jit
    def _four(base, stride, mask):
        """Four blocks ``stride`` apart, one per gate: ``base`` points at gate 0's block."""
        return (tl.load(base, mask=mask, other=0.0), tl.load(base + stride, mask=mask, other=0.0),
                tl.load(base + 2 * stride, mask=mask, other=0.0), tl.load(base + 3 * stride, mask=mask, other=0.0))

    @triton.jit
    def _gate_blocks(base, row_stride, block_stride, hidden, BLOCK_H: tl.constexpr):
        """The four (BLOCK_H, BLOCK_H) gate blocks of a weight matrix, zero-padded past ``hidden``."""
        inner = tl.arange(0, BLOCK_H)[:, None]
        cols = tl.arange(0, BLOCK_H)[None, :]
        return _four(base + inner * row_stride + cols, block_stride, (inner < hidden) & (cols < hidden))

    @triton.jit
    def _step_tiles(acts, cs, grad_hs, grad_cs, t, batch, hidden, rows, cols, mask):
        """What the backward pass reads for step t: the four gate activations, c_t, and the
        gradients arriving at h_t and c_t from outside the recurrence."""
        state = (t * batch + rows) * hidden + cols
        i, f, g, o = _four(acts + (t * batch + rows) * 4 * hidden + cols, hidden, mask)
        return (i, f, g, o, tl.load(cs + state, mask=mask, other=0.0), tl.load(grad_hs + state, mask=mask, other=0.0),
                tl.load(grad_cs + state, mask=mask, other=0.0))

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
    def _products(x_rows, x_gate_stride, x_ok, weight, row_stride, block_stride, hidden,
                  BLOCK: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr, PRECISION: tl.constexpr):
        """The four gates' products ``x_k W_k`` (see ``_product``), one gate after the other so
        that one weight slice at a time is in flight: gate k's left factor starts ``k *
        x_gate_stride`` after ``x_rows`` (0: one factor for all gates), its weight block ``k *
        block_stride`` after ``weight``."""
        return (_product(x_rows, x_ok, weight, row_stride, hidden, BLOCK, BLOCK_H, BLOCK_K, PRECISION),
                _product(x_rows + x_gate_stride, x_ok, weight + block_stride, row_stride, hidden,
                         BLOCK, BLOCK_H, BLOCK_K, PRECISION),
                _product(x_rows + 2 * x_gate_stride, x_ok, weight + 2 * block_stride, row_stride, hidden,
                         BLOCK, BLOCK_H, BLOCK_K, PRECISION),
                _product(x_rows + 3 * x_gate_stride, x_ok, weight + 3 * block_stride, row_stride, hidden,
                         BLOCK, BLOCK_H, BLOCK_K, PRECISION))

    @triton.jit
    def _forward(projected, weight_t, hs, cs, acts, steps, batch, hidden, BLOCK_H: tl.constexpr,
                 BLOCK: tl.constexpr, BLOCK_K: tl.constexpr, PRECISION: tl.constexpr, HOIST: tl.constexpr,
                 PREFETCH: tl.constexpr, SAVE_GATES: tl.constexpr):
        """projected (T, B, 4H); weight_t = W_hh^T (H, 4H); hs, cs (T, B, H); acts (T, B, 4H).
        HOIST keeps the weights and h in registers for the whole loop (small H); otherwise each
        step reads h_{t-1} back from ``hs`` and the weights from L2 in BLOCK_K-row slices.
        PREFETCH loads each step's inputs one step ahead (where the registers allow it).
        SAVE_GATES stores the gate activations for the backward pass (not without gradients)."""
        rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)[:, None]
        cols = tl.arange(0, BLOCK_H)[None, :]
        mask = (rows < batch) & (cols < hidden)
        if HOIST:
            w_i, w_f, w_g, w_o = _gate_blocks(weight_t, 4 * hidden, hidden, hidden, BLOCK_H)
        h = tl.zeros((BLOCK, BLOCK_H), tl.float32)
        c = tl.zeros((BLOCK, BLOCK_H), tl.float32)
        if PREFETCH:
            x_i, x_f, x_g, x_o = _four(projected + rows * 4 * hidden + cols, hidden, mask)
        for t in range(steps):
            if PREFETCH:  # the next step's input projections load while this step computes
                n_i, n_f, n_g, n_o = _four(projected + ((t + 1) * batch + rows) * 4 * hidden + cols, hidden,
                                           mask & (rows * 0 + t + 1 < steps))
            else:
                x_i, x_f, x_g, x_o = _four(projected + (t * batch + rows) * 4 * hidden + cols, hidden, mask)
            if HOIST:
                r_i = tl.dot(h, w_i, input_precision=PRECISION)
                r_f = tl.dot(h, w_f, input_precision=PRECISION)
                r_g = tl.dot(h, w_g, input_precision=PRECISION)
                r_o = tl.dot(h, w_o, input_precision=PRECISION)
            else:
                tl.debug_barrier()  # h_{t-1}, stored by every thread of the program, is readable
                r_i, r_f, r_g, r_o = _products(hs + ((t - 1) * batch + rows) * hidden, 0,
                                               (rows < batch) & (rows * 0 + t > 0), weight_t, 4 * hidden,
                                               hidden, hidden, BLOCK, BLOCK_H, BLOCK_K, PRECISION)
            i = _sigmoid(x_i + r_i)
            f = _sigmoid(x_f + r_f)
            g = _tanh(x_g + r_g)
            o = _sigmoid(x_o + r_o)
            if PREFETCH:
                x_i, x_f, x_g, x_o = n_i, n_f, n_g, n_o
            c = f * c + i * g
            h = o * _tanh(c)
            h = tl.where(mask, h, 0.0)
            c = tl.where(mask, c, 0.0)
            state = (t * batch + rows) * hidden + cols
            tl.store(hs + state, h, mask=mask)
            tl.store(cs + state, c, mask=mask)
            if SAVE_GATES:
                act = acts + (t * batch + rows) * 4 * hidden + cols
                tl.store(act, i, mask=mask)
                tl.store(act + hidden, f, mask=mask)
                tl.store(act + 2 * hidden, g, mask=mask)
                tl.store(act + 3 * hidden, o, mask=mask)

    @triton.jit
    def _backward(grad_hs, grad_cs, weight, cs, acts, grad_gates, steps, batch, hidden, BLOCK_H: tl.constexpr,
                  BLOCK: tl.constexpr, BLOCK_K: tl.constexpr, PRECISION: tl.constexpr, HOIST: tl.constexpr,
                  PREFETCH: tl.constexpr):
        """grad_hs, grad_cs (T, B, H); weight = W_hh (4H, H); cs (T, B, H); acts (T, B, 4H);
        grad_gates (T, B, 4H): the gradients of the gates' pre-activations. Without HOIST the
        recurrent products read the gate gradients back from ``grad_gates``."""
        rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)[:, None]
        cols = tl.arange(0, BLOCK_H)[None, :]
        mask = (rows < batch) & (cols < hidden)
        if HOIST:
            w_i, w_f, w_g, w_o = _gate_blocks(weight, hidden, hidden * hidden, hidden, BLOCK_H)
        dh_next = tl.zeros((BLOCK, BLOCK_H), tl.float32)
        dc_next = tl.zeros((BLOCK, BLOCK_H), tl.float32)
        if PREFETCH:
            i, f, g, o, c, grad_h, grad_c = _step_tiles(acts, cs, grad_hs, grad_cs, steps - 1, batch, hidden, rows,
                                                        cols, mask)
        for s in range(steps):
            t = steps - 1 - s
            ok = mask & (rows * 0 + t > 0)
            if PREFETCH:  # the previous step's tiles load while this step computes; its c is our c_{t-1}
                n_i, n_f, n_g, n_o, c_prev, n_grad_h, n_grad_c = _step_tiles(acts, cs, grad_hs, grad_cs, t - 1, batch,
                                                                              hidden, rows, cols, ok)
            else:
                i, f, g, o, c, grad_h, grad_c = _step_tiles(acts, cs, grad_hs, grad_cs, t, batch, hidden, rows, cols,
                                                            mask)
                c_prev = tl.load(cs + ((t - 1) * batch + rows) * hidden + cols, mask=ok, other=0.0)
            dh = grad_h + dh_next
            tanh_c = _tanh(c)
            dc = grad_c + dc_next + dh * o * (1.0 - tanh_c * tanh_c)
            a_i = dc * g * i * (1.0 - i)
            a_f = dc * c_prev * f * (1.0 - f)
            a_g = dc * i * (1.0 - g * g)
            a_o = dh * tanh_c * o * (1.0 - o)
            grad = grad_gates + (t * batch + rows) * 4 * hidden + cols
            tl.store(grad, a_i, mask=mask)
            tl.store(grad + hidden, a_f, mask=mask)
            tl.store(grad + 2 * hidden, a_g, mask=mask)
            tl.store(grad + 3 * hidden, a_o, mask=mask)
            if HOIST:
                dh_next = (tl.dot(a_i, w_i, input_precision=PRECISION) + tl.dot(a_f, w_f, input_precision=PRECISION)
                           + tl.dot(a_g, w_g, input_precision=PRECISION)
                           + tl.dot(a_o, w_o, input_precision=PRECISION))
            else:
                tl.debug_barrier()  # this step's gate gradients, stored by every thread, are readable
                d_i, d_f, d_g, d_o = _products(grad_gates + (t * batch + rows) * 4 * hidden, hidden, rows < batch,
                                               weight, hidden, hidden * hidden, hidden, BLOCK, BLOCK_H, BLOCK_K,
                                               PRECISION)
                dh_next = d_i + d_f + d_g + d_o
            dc_next = dc * f
            if PREFETCH:
                i, f, g, o, c, grad_h, grad_c = n_i, n_f, n_g, n_o, c_prev, n_grad_h, n_grad_c


HOIST_UP_TO = 64  # hidden sizes whose four weight blocks stay in registers for the whole loop
PREFETCH_UP_TO = 128  # above, holding the next step's tiles spills registers (ptxas, sm_90a)
MAX_HIDDEN = 512  # the largest hidden size whose kernels are compiled and checked (tests/test_triton_lstm.py)
# Warps per program, chosen with ptxas (CUDA 13.4, sm_90a) on the compiled kernels: no spills at
# H <= 64 (4 warps, 198-252 registers) and H128 (8 warps); 16-128 bytes per thread at H256 (8
# warps); 0.5-0.8 KB at H512 (16 warps).
WARPS = {16: 4, 32: 4, 64: 4, 128: 8, 256: 8, 512: 16}
STAGED_WEIGHTS = 128 * 1024  # BLOCK_K: four (BLOCK_K, BLOCK_H) float32 slices in this; 33-37 KB staged (sm_90)


def _launch(batch: int, hidden: int) -> tuple[tuple[int], dict]:
    """The grid (one program per tile of BLOCK_B sequences) and the kernels' compile-time settings."""
    if hidden > MAX_HIDDEN:
        raise ValueError(f"the Triton LSTM supports hidden sizes up to {MAX_HIDDEN}, not {hidden}")
    block_h = max(16, triton.next_power_of_2(hidden))
    block_k = min(block_h, max(16, STAGED_WEIGHTS // (4 * 4 * block_h)))
    return (triton.cdiv(batch, BLOCK_B),), dict(BLOCK_H=block_h, BLOCK=BLOCK_B, BLOCK_K=block_k,
                                                 HOIST=block_h <= HOIST_UP_TO, PREFETCH=block_h <= PREFETCH_UP_TO,
                                                 num_warps=WARPS[block_h], num_stages=1)


def lstm_states(projected: torch.Tensor, weight_hh: torch.Tensor, precision: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(hs, cs)`` (T, B, H) of an LSTM layer for time-major input projections (T, B, 4H) with both
    biases added, ``nn.LSTM``'s gate order (i, f, g, o) and zero initial states. Where no gradient
    will be asked for (evaluation under ``torch.no_grad``), the forward kernel stores no gates."""
    backward = torch.is_grad_enabled() and (projected.requires_grad or weight_hh.requires_grad)
    return TritonLSTMFunction.apply(projected, weight_hh, precision, backward)


class TritonLSTMFunction(torch.autograd.Function):
    """``(hs, cs) = TritonLSTMFunction.apply(projected, weight_hh, precision, backward)``, see
    :func:`lstm_states`; ``backward`` False stores no gates (the backward pass then cannot run)."""

    @staticmethod
    def forward(ctx, projected: torch.Tensor, weight_hh: torch.Tensor, precision: str, backward: bool):
        steps, batch, gates = projected.shape
        hidden = gates // 4
        projected = projected.contiguous()
        hs = projected.new_empty(steps, batch, hidden)
        cs = torch.empty_like(hs)
        acts = torch.empty_like(projected) if backward else projected  # never written unless stored
        grid, settings = _launch(batch, hidden)
        _forward[grid](projected, weight_hh.t().contiguous(), hs, cs, acts, steps, batch, hidden,
                       PRECISION=precision, SAVE_GATES=backward, **settings)
        ctx.precision = precision
        ctx.save_for_backward(weight_hh, hs, cs, acts)
        return hs, cs

    @staticmethod
    def backward(ctx, grad_hs: torch.Tensor | None, grad_cs: torch.Tensor | None):
        weight_hh, hs, cs, acts = ctx.saved_tensors
        steps, batch, hidden = hs.shape
        grad_hs = torch.zeros_like(hs) if grad_hs is None else grad_hs.contiguous()
        grad_cs = torch.zeros_like(cs) if grad_cs is None else grad_cs.contiguous()
        grad_gates = torch.empty_like(acts)
        grid, settings = _launch(batch, hidden)
        _backward[grid](grad_hs, grad_cs, weight_hh.contiguous(), cs, acts, grad_gates, steps, batch, hidden,
                        PRECISION=ctx.precision, **settings)
        previous = torch.cat([hs.new_zeros(1, batch, hidden), hs[:-1]])
        grad_weight = grad_gates.reshape(-1, 4 * hidden).t() @ previous.reshape(-1, hidden)
        return grad_gates, grad_weight, None, None
