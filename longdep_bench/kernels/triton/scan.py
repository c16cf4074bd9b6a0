"""The linear recurrence h_t = a_t * h_{t-1} + b_t (element-wise, h_0 = 0) as Triton kernels: one
launch runs the whole time loop forward, one runs it in reverse for the gradients.

One program per sequence and block of ``BLOCK`` channels walks through time in chunks of ``CHUNK``
steps: it loads a chunk's coefficients at once (one memory latency per chunk, not per step), scans
the chunk in parallel (``tl.associative_scan`` of the composed steps h -> a h + b, no ``reverse``
flag, whose results were reported wrong in Triton issues #4362 and #8412), adds the state carried
in from the previous chunk through the running products of a, and keeps the chunk's last state in
registers for the next. Complex tensors (the LRU's) are read as interleaved real and imaginary
float32 parts. The backward kernel runs the same scan on the error e_t = g_t + conj(a_{t+1}) e_{t+1}
with chunks from the end and rows in reverse time order, stores b's gradient e and a's gradient
e_t conj(h_{t-1}), per step or, where a is time-invariant, summed in registers. Where the doubling
scan runs about 6 log2-steps per 64-step block, each a few kernels over whole tensors, these
kernels read and write each tensor once: a graphed training step on an H100 took 0.18-0.33x the
doubling scan's time for minGRU and 0.39-0.55x for the LRU (reports/gpu-h100-run2/scans.md), so
``kernel=auto`` runs them on CUDA. With ``TRITON_INTERPRET=1`` they run on CPU tensors, which is how
the tests check them on a machine without a GPU.
"""

from __future__ import annotations

import torch

from longdep_bench.kernels.triton import cells as triton_cells
from longdep_bench.kernels.triton.cells import triton

if triton is not None:
    import triton.language as tl

BLOCK = 32  # channels per program: B x N / 32 programs, each a loop over chunks of time
CHUNK = 32  # steps loaded and scanned at once: one memory latency per CHUNK steps
WARPS = 4


def usable(x: torch.Tensor) -> str | None:
    """None where the kernels can run on ``x``; otherwise why not, in a few words."""
    return triton_cells.tensor_problem(x, "the Triton scan", (torch.float32, torch.complex64))


def triton_scan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """h_t = a_t h_{t-1} + b_t along dim 1; ``b`` is (B, T, N), ``a`` (B, T, N) or time-invariant
    (N,), both float32 or both complex64. Differentiable in both."""
    return TritonScan.apply(a, b)


class TritonScan(torch.autograd.Function):
    """The kernels as an autograd function, with PyTorch's convention for complex gradients."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        batch, steps, width = b.shape
        h = torch.empty_like(b)
        _forward[_grid(batch, width)](_parts(a), _parts(b), _parts(h), steps, width,
                                      *_a_strides(a, steps, width), BLOCK=BLOCK, CHUNK=CHUNK,
                                      COMPLEX=b.is_complex(), num_warps=WARPS)
        ctx.save_for_backward(a, h)
        return h

    @staticmethod
    def backward(ctx, grad_h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, h = ctx.saved_tensors
        batch, steps, width = h.shape
        varying = a.dim() == 3
        grad_b = torch.empty_like(h)
        grad_a = torch.empty_like(h) if varying else h.new_empty(batch, width)
        _backward[_grid(batch, width)](_parts(a), _parts(h), _parts(grad_h), _parts(grad_a),
                                       _parts(grad_b), steps, width, *_a_strides(a, steps, width), BLOCK=BLOCK,
                                       CHUNK=CHUNK, COMPLEX=h.is_complex(), VARYING=varying, num_warps=WARPS)
        return (grad_a if varying else grad_a.sum(0)), grad_b


def _grid(batch: int, width: int) -> tuple[int, int]:
    return batch, triton.cdiv(width, BLOCK)


def _parts(x: torch.Tensor) -> torch.Tensor:
    """A contiguous tensor as the float32 tensor the kernels read: complex as (..., 2) parts."""
    x = x.detach().contiguous()
    return torch.view_as_real(x) if x.is_complex() else x


def _a_strides(a: torch.Tensor, steps: int, width: int) -> tuple[int, int]:
    """a's strides per sequence and per step, in elements: zero where it is time-invariant."""
    return (steps * width, width) if a.dim() == 3 else (0, 0)


if triton is not None:

    @triton.jit
    def _load(base, offset, mask, COMPLEX: tl.constexpr):
        """Real and imaginary parts of the elements at ``offset`` (imaginary 0 for real tensors)."""
        if COMPLEX:
            real = tl.load(base + 2 * offset, mask=mask, other=0.0)
            imag = tl.load(base + 2 * offset + 1, mask=mask, other=0.0)
        else:
            real = tl.load(base + offset, mask=mask, other=0.0)
            imag = tl.zeros(offset.shape, tl.float32)
        return real, imag

    @triton.jit
    def _store(base, offset, real, imag, mask, COMPLEX: tl.constexpr):
        if COMPLEX:
            tl.store(base + 2 * offset, real, mask=mask)
            tl.store(base + 2 * offset + 1, imag, mask=mask)
        else:
            tl.store(base + offset, real, mask=mask)

    @triton.jit
    def _times(x_re, x_im, y_re, y_im, COMPLEX: tl.constexpr):
        """x * y; for real tensors the imaginary parts are zero and left out."""
        if COMPLEX:
            real = x_re * y_re - x_im * y_im
            imag = x_re * y_im + x_im * y_re
        else:
            real = x_re * y_re
            imag = x_im
        return real, imag

    @triton.jit
    def _compose_real(a1, b1, a2, b2):
        """Two steps h -> a1 h + b1, then h -> a2 h + b2, as one: h -> a1 a2 h + a2 b1 + b2."""
        return a1 * a2, a2 * b1 + b2

    @triton.jit
    def _compose_complex(a1_re, a1_im, b1_re, b1_im, a2_re, a2_im, b2_re, b2_im):
        """``_compose_real`` for complex coefficients given as real and imaginary parts."""
        return (a1_re * a2_re - a1_im * a2_im, a1_re * a2_im + a1_im * a2_re,
                a2_re * b1_re - a2_im * b1_im + b2_re, a2_re * b1_im + a2_im * b1_re + b2_im)

    @triton.jit
    def _chunk_scan(a_re, a_im, b_re, b_im, carry_re, carry_im, COMPLEX: tl.constexpr):
        """The recurrence along the rows of (CHUNK, BLOCK) tiles, entering with state ``carry``
        (BLOCK,): a parallel scan of the composed steps, then the carry through their products."""
        if COMPLEX:
            p_re, p_im, h_re, h_im = tl.associative_scan((a_re, a_im, b_re, b_im), 0, _compose_complex)
        else:
            p_re, h_re = tl.associative_scan((a_re, b_re), 0, _compose_real)
            p_im, h_im = a_im, b_im
        c_re, c_im = _times(p_re, p_im, carry_re[None, :], carry_im[None, :], COMPLEX)
        return h_re + c_re, h_im + c_im

    @triton.jit
    def _row(x, rows, row):
        """Row ``row`` of a (CHUNK, BLOCK) tile, as (BLOCK,)."""
        return tl.sum(tl.where(rows == row, x, 0.0), axis=0)

    @triton.jit
    def _forward(a, b, h, steps, width, a_seq, a_step, BLOCK: tl.constexpr, CHUNK: tl.constexpr,
                 COMPLEX: tl.constexpr):
        """h (B, T, N) from a and b; a's element (s, t, n) at s * a_seq + t * a_step + n. Chunks of
        CHUNK steps in order, each loaded at once and scanned in parallel."""
        seq = tl.program_id(0)
        n = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)[None, :]
        rows = tl.arange(0, CHUNK)[:, None]
        carry_re = tl.zeros((BLOCK,), tl.float32)
        carry_im = tl.zeros((BLOCK,), tl.float32)
        for start in range(0, steps, CHUNK):
            t = start + rows
            ok = (t < steps) & (n < width)
            a_re, a_im = _load(a, seq * a_seq + t * a_step + n, ok, COMPLEX)
            b_re, b_im = _load(b, (seq * steps + t) * width + n, ok, COMPLEX)
            h_re, h_im = _chunk_scan(a_re, a_im, b_re, b_im, carry_re, carry_im, COMPLEX)
            _store(h, (seq * steps + t) * width + n, h_re, h_im, ok, COMPLEX)
            last = tl.minimum(CHUNK, steps - start) - 1
            carry_re, carry_im = _row(h_re, rows, last), _row(h_im, rows, last)

    @triton.jit
    def _backward(a, h, grad_h, grad_a, grad_b, steps, width, a_seq, a_step, BLOCK: tl.constexpr,
                  CHUNK: tl.constexpr, COMPLEX: tl.constexpr, VARYING: tl.constexpr):
        """grad_b (B, T, N) and grad_a: (B, T, N) where a varies in time, else (B, N) summed over time.

        The error e_t reaching h_t obeys e_t = g_t + conj(a_{t+1}) e_{t+1}: the same recurrence run
        backwards in time, so chunks go from the end, their rows in reverse time order; grad_b = e
        and a's gradient is e_t conj(h_{t-1})."""
        seq = tl.program_id(0)
        n = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)[None, :]
        rows = tl.arange(0, CHUNK)[:, None]
        carry_re = tl.zeros((BLOCK,), tl.float32)  # the error at the step after the chunk
        carry_im = tl.zeros((BLOCK,), tl.float32)
        total_re = tl.zeros((BLOCK,), tl.float32)
        total_im = tl.zeros((BLOCK,), tl.float32)
        for done in range(0, steps, CHUNK):
            end = steps - 1 - done
            t = end - rows
            ok = (t >= 0) & (n < width)
            here = (seq * steps + t) * width + n
            g_re, g_im = _load(grad_h, here, ok, COMPLEX)
            next_re, next_im = _load(a, seq * a_seq + (t + 1) * a_step + n, ok & (t + 1 < steps), COMPLEX)
            e_re, e_im = _chunk_scan(next_re, -next_im, g_re, g_im, carry_re, carry_im, COMPLEX)
            _store(grad_b, here, e_re, e_im, ok, COMPLEX)
            h_re, h_im = _load(h, here - width, ok & (t > 0), COMPLEX)  # h_{t-1}; h_{-1} = 0
            da_re, da_im = _times(e_re, e_im, h_re, -h_im, COMPLEX)  # error * conj(h_{t-1})
            if VARYING:
                _store(grad_a, here, da_re, da_im, ok, COMPLEX)
            else:
                total_re += tl.sum(da_re, axis=0)
                total_im += tl.sum(da_im, axis=0)
            last = tl.minimum(CHUNK, end + 1) - 1
            carry_re, carry_im = _row(e_re, rows, last), _row(e_im, rows, last)
        if not VARYING:
            _store(grad_a, seq * width + n, total_re[None, :], total_im[None, :], n < width, COMPLEX)
