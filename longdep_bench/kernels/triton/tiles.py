"""What the Triton kernels of both launch schedules share: the import guard, the tile of sequences
per program, and the helpers that load and store tiles of four gates (``cells`` runs one launch per
sequence, ``steps`` one per time step)."""

from __future__ import annotations

try:
    import triton
    import triton.language as tl
except ImportError as exc:  # the optional extra is not installed
    triton = None
    UNAVAILABLE: str | None = f"Triton is not importable ({exc}); pip install 'longdep-bench[triton]'"
else:
    UNAVAILABLE = None

BLOCK_B = 16  # sequences per program: the smallest tile tl.dot accepts, so the most programs


if triton is not None:

    @triton.jit
    def _tiles(base, stride, mask, COUNT: tl.constexpr):
        """COUNT tiles (1 to 4) ``stride`` apart from ``base``, then zero tiles up to four."""
        t0 = tl.load(base, mask=mask, other=0.0)
        t1 = tl.zeros_like(t0)
        t2 = tl.zeros_like(t0)
        t3 = tl.zeros_like(t0)
        if COUNT > 1:
            t1 = tl.load(base + stride, mask=mask, other=0.0)
        if COUNT > 2:
            t2 = tl.load(base + 2 * stride, mask=mask, other=0.0)
        if COUNT > 3:
            t3 = tl.load(base + 3 * stride, mask=mask, other=0.0)
        return t0, t1, t2, t3

    @triton.jit
    def _store_tiles(base, stride, mask, t0, t1, t2, t3, COUNT: tl.constexpr):
        """Store the first COUNT of four tiles ``stride`` apart from ``base``."""
        tl.store(base, t0, mask=mask)
        if COUNT > 1:
            tl.store(base + stride, t1, mask=mask)
        if COUNT > 2:
            tl.store(base + 2 * stride, t2, mask=mask)
        if COUNT > 3:
            tl.store(base + 3 * stride, t3, mask=mask)

    @triton.jit
    def _step_tiles(saved, cs, hs, grad_hs, grad_cs, t, batch, hidden, rows, cols, mask, SAVED: tl.constexpr,
                    CARRY_C: tl.constexpr, H_PREV: tl.constexpr):
        """What the backward pass reads for step t: the saved tiles, c_t, h_{t-1}, and the gradients
        arriving at h_t and c_t from outside the recurrence (zeros for what the cell lacks)."""
        state = (t * batch + rows) * hidden + cols
        s0, s1, s2, s3 = _tiles(saved + (t * batch + rows) * SAVED * hidden + cols, hidden, mask, SAVED)
        grad_h = tl.load(grad_hs + state, mask=mask, other=0.0)
        c = tl.zeros_like(grad_h)
        grad_c = tl.zeros_like(grad_h)
        h_prev = tl.zeros_like(grad_h)
        if CARRY_C:
            c = tl.load(cs + state, mask=mask, other=0.0)
            grad_c = tl.load(grad_cs + state, mask=mask, other=0.0)
        if H_PREV:
            h_prev = tl.load(hs + state - batch * hidden, mask=mask & (rows * 0 + t > 0), other=0.0)
        return s0, s1, s2, s3, c, h_prev, grad_h, grad_c
