"""The linear recurrence h_t = a_t * h_{t-1} + b_t (element-wise, h_0 = 0) as Triton kernels: one
launch runs the whole time loop forward, one runs it in reverse for the gradients.

One program per sequence and block of ``BLOCK`` channels keeps its state in registers for all T
steps and loads the next step's coefficients while it computes the current one; nothing else
depends on the state, so the loop's only serial work is one multiply-add per step (a complex one
for the LRU, whose tensors the kernels read as interleaved real and imaginary float32 parts). The
backward kernel carries the error reaching h_t from h_{t+1} (through conj(a_{t+1})), stores b's
gradient, and a's (the error times conj(h_{t-1})) per step, or summed over the steps in registers
where a is time-invariant. Where the doubling scan runs about 6 log2-steps per 64-step block, each
a few kernels over the whole tensor, forward and backward, these kernels read and write each
tensor once. Their speed on a GPU is unmeasured; with ``TRITON_INTERPRET=1`` they run on CPU
tensors, which is how the tests check them.
"""

from __future__ import annotations

import torch

from longdep_bench_plugins.lstm_triton import UNAVAILABLE, interpreted, triton

if triton is not None:
    import triton.language as tl

BLOCK = 32  # channels per program (one warp): B x N / 32 programs, each a serial loop over time


def usable(x: torch.Tensor) -> str | None:
    """None where the kernels can run on ``x``; otherwise why not, in a few words."""
    if UNAVAILABLE:
        return UNAVAILABLE
    if not (x.is_cuda or (interpreted() and x.device.type == "cpu")):
        return "the Triton scan needs CUDA tensors (or TRITON_INTERPRET=1 on the CPU)"
    if x.dtype not in (torch.float32, torch.complex64):
        return f"the Triton scan computes in float32 and complex64, not {x.dtype}"
    return None


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
        _forward[_grid(batch, width)](_parts(a), _parts(b.contiguous()), _parts(h), steps, width,
                                      *_a_strides(a, steps, width), BLOCK=BLOCK, COMPLEX=b.is_complex(),
                                      num_warps=1)
        ctx.save_for_backward(a, h)
        return h

    @staticmethod
    def backward(ctx, grad_h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, h = ctx.saved_tensors
        batch, steps, width = h.shape
        varying = a.dim() == 3
        grad_b = torch.empty_like(h)
        grad_a = torch.empty_like(h) if varying else h.new_empty(batch, width)
        _backward[_grid(batch, width)](_parts(a), _parts(h), _parts(grad_h.contiguous()), _parts(grad_a),
                                       _parts(grad_b), steps, width, *_a_strides(a, steps, width), BLOCK=BLOCK,
                                       COMPLEX=h.is_complex(), VARYING=varying, num_warps=1)
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
    def _store(base, offset, real, imag, mask, COMPLEX: tl.constexpr):
        if COMPLEX:
            tl.store(base + 2 * offset, real, mask=mask)
            tl.store(base + 2 * offset + 1, imag, mask=mask)
        else:
            tl.store(base + offset, real, mask=mask)

    @triton.jit
    def _forward(a, b, h, steps, width, a_seq, a_step, BLOCK: tl.constexpr, COMPLEX: tl.constexpr):
        """h (B, T, N) from a and b; a's element (s, t, n) at s * a_seq + t * a_step + n."""
        seq = tl.program_id(0)
        n = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
        mask = n < width
        real = tl.zeros((BLOCK,), tl.float32)
        imag = tl.zeros((BLOCK,), tl.float32)
        a_re, a_im = _load(a, seq * a_seq + n, mask, COMPLEX)
        b_re, b_im = _load(b, seq * steps * width + n, mask, COMPLEX)
        for t in range(steps):
            ahead = mask & (n * 0 + t + 1 < steps)  # the next step's coefficients, loaded while this one computes
            next_a_re, next_a_im = _load(a, seq * a_seq + (t + 1) * a_step + n, ahead, COMPLEX)
            next_b_re, next_b_im = _load(b, (seq * steps + t + 1) * width + n, ahead, COMPLEX)
            real, imag = _times(a_re, a_im, real, imag, COMPLEX)
            real, imag = real + b_re, imag + b_im
            _store(h, (seq * steps + t) * width + n, real, imag, mask, COMPLEX)
            a_re, a_im, b_re, b_im = next_a_re, next_a_im, next_b_re, next_b_im

    @triton.jit
    def _backward(a, h, grad_h, grad_a, grad_b, steps, width, a_seq, a_step, BLOCK: tl.constexpr,
                  COMPLEX: tl.constexpr, VARYING: tl.constexpr):
        """grad_b (B, T, N) and grad_a: (B, T, N) where a varies in time, else (B, N) summed over time."""
        seq = tl.program_id(0)
        n = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
        mask = n < width
        carry_re = tl.zeros((BLOCK,), tl.float32)  # the error reaching h_t from h_{t+1}
        carry_im = tl.zeros((BLOCK,), tl.float32)
        total_re = tl.zeros((BLOCK,), tl.float32)
        total_im = tl.zeros((BLOCK,), tl.float32)
        for s in range(steps):
            t = steps - 1 - s
            here = (seq * steps + t) * width + n
            g_re, g_im = _load(grad_h, here, mask, COMPLEX)
            h_re, h_im = _load(h, here - width, mask & (n * 0 + t > 0), COMPLEX)  # h_{t-1}; h_{-1} = 0
            a_re, a_im = _load(a, seq * a_seq + t * a_step + n, mask, COMPLEX)
            e_re, e_im = g_re + carry_re, g_im + carry_im
            _store(grad_b, here, e_re, e_im, mask, COMPLEX)
            da_re, da_im = _times(e_re, e_im, h_re, -h_im, COMPLEX)  # error * conj(h_{t-1})
            if VARYING:
                _store(grad_a, here, da_re, da_im, mask, COMPLEX)
            else:
                total_re += da_re
                total_im += da_im
            carry_re, carry_im = _times(a_re, -a_im, e_re, e_im, COMPLEX)  # conj(a_t) * error
        if not VARYING:
            _store(grad_a, seq * width + n, total_re, total_im, mask, COMPLEX)
