"""Counter-based random numbers for numba generators (SplitMix64).

Sequence ``i`` of the stream ``key`` gets its own SplitMix64 state, ``start(key, i)``, so a
generator's output depends only on (key, i): it is the same with any number of threads, in any
process, with or without numba's cache. ``key = stream_key(seed)`` is computed once per call.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MASK64 = (1 << 64) - 1


@njit(inline="always", cache=True)
def mix64(z):
    """SplitMix64's finaliser: a bijective scrambling of a uint64."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(inline="always", cache=True)
def start(key, index):
    """The initial state of sequence ``index`` of stream ``key``."""
    return mix64(key + np.uint64(index) * GOLDEN)


@njit(inline="always", cache=True)
def draw(state):
    """Advance a state; return (new_state, 64 random bits)."""
    state = state + GOLDEN
    return state, mix64(state)


@njit(inline="always", cache=True)
def below(bits32, n):
    """Map 32 random bits (an integer below 2**32) to a uniform integer in [0, n), n <= 2**32."""
    return np.int64((np.uint64(bits32) * np.uint64(n)) >> np.uint64(32))


def stream_key(seed: int) -> np.uint64:
    """The uint64 key of the stream named by a non-negative integer seed."""
    if seed < 0:
        raise ValueError("seed must be non-negative")
    z = (seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & _MASK64
    for _ in range(2):  # two rounds so that nearby seeds give unrelated keys
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        z ^= z >> 31
    return np.uint64(z)


@njit(inline="always", cache=True)
def half(bits, k):
    """The k-th 32-bit half (k = 0: low, 1: high) of 64 random bits, as an integer below 2**32:
    two draws for ``below`` from one ``draw``."""
    return (bits >> np.uint64(32 * k)) & np.uint64(0xFFFFFFFF)


PARALLEL_FROM = 4096  # rows; below this one thread is faster than waking numba's thread pool


class RowFiller:
    """Calls a numba row kernel ``fill_row(r, first + r, key, args)`` for rows r = 0 .. n - 1:
    serially below ``parallel_from`` rows, with ``prange`` from there. Both loops are compiled with
    ``nogil`` (threads generating batches do not hold each other up), once per process: they are
    closures over ``fill_row``, whose on-disk cache key numba derives from the closure's contents
    anew in every process, so ``cache=True`` never hit and added a cache file per process instead.

    ``fill_row`` is an ``@njit(inline="always", cache=True)`` function that takes the arguments as
    one tuple and unpacks it (numba cannot inline a function called with ``*args``, and the row
    kernels of the built-in tasks run 3x slower when not inlined). The ``prange`` loop calls it
    through a wrapper that is not inlined: inlined into a parallel loop body, the unpacked tuple's
    array writes were lost (numba 0.68; tested). Each row's random numbers come from
    ``start(key, first + r)``, so the output does not depend on the loop used.
    """

    def __init__(self, fill_row, parallel_from: int = PARALLEL_FROM):
        @njit(nogil=True)
        def serial(key, first, n, args):
            for r in range(n):
                fill_row(r, first + r, key, args)

        @njit(nogil=True)
        def one_row(r, i, key, args):
            fill_row(r, i, key, args)

        @njit(nogil=True, parallel=True)
        def parallel(key, first, n, args):
            for r in prange(n):
                one_row(r, first + r, key, args)

        self.serial, self.parallel, self.parallel_from = serial, parallel, parallel_from

    def __call__(self, key, first: int, n: int, *args) -> None:
        """Fill rows 0 .. n - 1 with sequences ``first .. first + n - 1`` of stream ``key``."""
        (self.parallel if n >= self.parallel_from else self.serial)(key, first, n, args)
