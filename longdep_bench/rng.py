"""Counter-based random numbers for numba generators (SplitMix64).

Sequence ``i`` of the stream ``key`` gets its own SplitMix64 state, ``start(key, i)``, so a
generator's output depends only on (key, i): it is the same with any number of threads, in any
process, with or without numba's cache. ``key = stream_key(seed)`` is computed once per call.
"""

from __future__ import annotations

import numpy as np
from numba import njit

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
