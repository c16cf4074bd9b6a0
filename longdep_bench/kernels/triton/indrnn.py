"""IndRNN's recurrence h_t = relu(p_t + u * h_{t-1}) (element-wise ``u``, h_0 = 0) as two Triton
kernels: one launch runs the whole time loop forward, one runs it in reverse for the gradients.

Every unit of every sequence is independent of the others, so the (batch x hidden) units are laid
out flat and each program takes ``BLOCK`` of them through all time steps, the state in registers
and the next step's input loaded while the current one is computed. The backward kernel carries
the error back through the recurrence (e_t = (g_t + u e_{t+1}) where h_t > 0, else 0), stores p's
gradient e and sums u's gradient e_t h_{t-1} over time in registers; the sum over the batch is one
tensor operation afterwards. The ReLU's derivative at 0 is 0, as autograd's. This replaces, on
CUDA, a TorchScript loop of a few kernels per step that compiles for tens of seconds per shape.
With ``TRITON_INTERPRET=1`` the kernels run on CPU tensors, which is how the tests check them.
"""

from __future__ import annotations

import torch

from longdep_bench.kernels.triton import cells as triton_cells
from longdep_bench.kernels.triton.cells import triton

if triton is not None:
    import triton.language as tl

BLOCK = 128  # units per program: B x H / 128 programs, each a loop over time
WARPS = 4


def usable(x: torch.Tensor) -> str | None:
    """None where the kernels can run on ``x``; otherwise why not, in a few words."""
    return triton_cells.tensor_problem(x, "the Triton IndRNN loop", (torch.float32,))


def triton_recurrence(projected: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """h_t = relu(projected_t + u * h_{t-1}) over time-major (T, B, H) float32 projections, ``u``
    (H,); differentiable in both."""
    return TritonRecurrence.apply(projected, u)


class TritonRecurrence(torch.autograd.Function):
    """The kernels as an autograd function."""

    @staticmethod
    def forward(ctx, projected: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        steps, batch, hidden = projected.shape
        projected, u = projected.contiguous(), u.contiguous()
        h = torch.empty_like(projected)
        _forward[_grid(batch * hidden)](projected, u, h, steps, batch * hidden, hidden, BLOCK=BLOCK,
                                        num_warps=WARPS)
        ctx.save_for_backward(u, h)
        return h

    @staticmethod
    def backward(ctx, grad_h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u, h = ctx.saved_tensors
        steps, batch, hidden = h.shape
        grad_projected = torch.empty_like(h)
        grad_u = h.new_empty(batch, hidden)
        _backward[_grid(batch * hidden)](grad_h.contiguous(), h, u, grad_projected, grad_u, steps, batch * hidden,
                                         hidden, BLOCK=BLOCK, num_warps=WARPS)
        return grad_projected, grad_u.sum(0)


def _grid(units: int) -> tuple[int]:
    return (triton.cdiv(units, BLOCK),)


if triton is not None:

    @triton.jit
    def _forward(projected, u, h, steps, units, hidden, BLOCK: tl.constexpr):
        """h[t] = relu(projected[t] + u * h[t - 1]) for this program's units, t = 0 .. steps - 1."""
        cols = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = cols < units  # time conditions below are broadcast over cols (the interpreter needs tensors)
        weight = tl.load(u + cols % hidden, mask=mask, other=0.0)
        state = tl.zeros((BLOCK,), dtype=tl.float32)
        x = tl.load(projected + cols, mask=mask, other=0.0)
        for t in range(steps):
            ahead = tl.load(projected + (t + 1) * units + cols, mask=mask & (cols * 0 + t + 1 < steps),
                            other=0.0)
            state = tl.maximum(x + weight * state, 0.0)
            tl.store(h + t * units + cols, state, mask=mask)
            x = ahead

    @triton.jit
    def _backward(grad_h, h, u, grad_projected, grad_u, steps, units, hidden, BLOCK: tl.constexpr):
        """The time loop in reverse: projected's gradient per step, u's summed over time per unit."""
        cols = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = cols < units
        weight = tl.load(u + cols % hidden, mask=mask, other=0.0)
        carried = tl.zeros((BLOCK,), dtype=tl.float32)  # dL/dh_t through h_{t+1}
        summed = tl.zeros((BLOCK,), dtype=tl.float32)
        h_t = tl.load(h + (steps - 1) * units + cols, mask=mask, other=0.0)
        for i in range(steps):
            t = steps - 1 - i
            h_prev = tl.load(h + (t - 1) * units + cols, mask=mask & (cols * 0 + t > 0), other=0.0)
            error = tl.load(grad_h + t * units + cols, mask=mask, other=0.0) + carried
            error = tl.where(h_t > 0.0, error, 0.0)
            tl.store(grad_projected + t * units + cols, error, mask=mask)
            summed += error * h_prev
            carried = error * weight
            h_t = h_prev
        tl.store(grad_u + cols, summed, mask=mask)
