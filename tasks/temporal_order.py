"""The temporal-order tasks of Hochreiter & Schmidhuber (1997), Experiment 6.

Task 6a: a sequence starts with E, ends with the trigger B and otherwise holds symbols drawn
uniformly from {a, b, c, d}, except at positions t1 and t2, which hold X or Y (probability 1/2
each, independently). The class is the order of the relevant symbols: XX -> Q, XY -> R, YX -> S,
YY -> U. With 1-based positions, L is uniform in [60 + G, 70 + G], t1 in [10, 20] and t2 in
[10 + G, 20 + G]; the paper's task is G = 40 (L in [100, 110], t2 in [50, 60]). G must be at
least 11: with a smaller gap the two windows overlap, t1 = t2 becomes possible and the order of
the two symbols is undefined.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from numba import njit, prange

from longdep_bench import Batch, OutputKind, Param, TaskSpec, hookimpl, rng

SYMBOLS = ("a", "b", "c", "d", "E", "B", "X", "Y")
A, E, B, X = 0, 4, 5, 6  # ids of the first distractor, the start, the trigger and X (Y = X + 1)
PAD = len(SYMBOLS)
MIN_GAP = 11  # the windows [10, 20] and [10 + G, 20 + G] must not overlap
MAX_GAP = 100_000
PARALLEL_FROM = 4096  # sequences; below this one thread is faster than waking the pool


@njit(inline="always", cache=True)
def _fill_row(r, i, key, tokens, lengths, targets, lo, hi, len_lo, len_hi):
    """Write sequence ``i`` of the stream ``key`` into row ``r``.

    ``lo[k], hi[k]`` bound the k-th relevant position (1-based, inclusive); the length is
    uniform in [len_lo, len_hi]. The class is the X/Y pattern read as a binary number (X = 0).
    """
    state = rng.start(key, i)
    state, bits = rng.draw(state)
    length = len_lo + rng.below(bits >> np.uint64(32), len_hi - len_lo + 1)
    row = tokens[r]
    # Distractors a..d: 2 random bits per symbol, 32 symbols per 64-bit draw.
    for j in range(1, length - 1):
        if (j - 1) % 32 == 0:
            state, bits = rng.draw(state)
        row[j] = A + np.int64((bits >> np.uint64(2 * ((j - 1) % 32))) & np.uint64(3))
    row[0] = E
    row[length - 1] = B
    for j in range(length, row.shape[0]):
        row[j] = PAD
    label = 0
    for k in range(lo.shape[0]):
        state, bits = rng.draw(state)
        position = lo[k] + rng.below(bits >> np.uint64(32), hi[k] - lo[k] + 1)
        symbol = np.int64(bits & np.uint64(1))  # 0 = X, 1 = Y
        row[position - 1] = X + symbol
        label = 2 * label + symbol
    lengths[r] = length
    targets[r] = label


@njit(cache=True)
def _fill_serial(key, first, tokens, lengths, targets, lo, hi, len_lo, len_hi):
    for r in range(tokens.shape[0]):
        _fill_row(r, first + r, key, tokens, lengths, targets, lo, hi, len_lo, len_hi)


@njit(cache=True, parallel=True)
def _fill_parallel(key, first, tokens, lengths, targets, lo, hi, len_lo, len_hi):
    for r in prange(tokens.shape[0]):
        _fill_row(r, first + r, key, tokens, lengths, targets, lo, hi, len_lo, len_hi)


def generate_temporal_order(
    lo: np.ndarray, hi: np.ndarray, len_lo: int, len_hi: int, n: int, seed: int, start: int
) -> Batch:
    """Sequences ``start .. start + n - 1`` of stream ``seed`` for the given windows."""
    tokens = np.empty((n, len_hi), dtype=np.int8)
    lengths = np.empty(n, dtype=np.int64)
    targets = np.empty(n, dtype=np.int64)
    fill = _fill_parallel if n >= PARALLEL_FROM else _fill_serial
    fill(rng.stream_key(seed), start, tokens, lengths, targets, lo, hi, len_lo, len_hi)
    return Batch(inputs=tokens, lengths=lengths, targets=targets)


def reference_temporal_order(
    lo: np.ndarray, hi: np.ndarray, len_lo: int, len_hi: int, n: int, seed: int
) -> Batch:
    """A plain NumPy generator that follows the definition line by line (the test oracle).

    It draws from ``numpy.random.default_rng(seed)``, so it matches the fast generator in
    distribution, not value by value.
    """
    generator = np.random.default_rng(seed)
    tokens = np.full((n, len_hi), PAD, dtype=np.int8)
    lengths = np.empty(n, dtype=np.int64)
    targets = np.empty(n, dtype=np.int64)
    for i in range(n):
        length = generator.integers(len_lo, len_hi, endpoint=True)  # L uniform in [len_lo, len_hi]
        tokens[i, :length] = generator.integers(A, A + 4, size=length)  # distractors a, b, c, d
        tokens[i, 0] = E  # starts with E
        tokens[i, length - 1] = B  # ends with the trigger B
        label = 0
        for k in range(len(lo)):
            position = generator.integers(lo[k], hi[k], endpoint=True)  # 1-based t_k
            symbol = generator.integers(0, 2)  # X or Y with probability 1/2
            tokens[i, position - 1] = X + symbol
            label = 2 * label + symbol  # XX -> 0 (Q), XY -> 1 (R), YX -> 2 (S), YY -> 3 (U)
        lengths[i] = length
        targets[i] = label
    return Batch(inputs=tokens, lengths=lengths, targets=targets)


def windows_6a(gap: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Relevant-position windows (1-based, inclusive) and the length range of Task 6a at a gap."""
    lo = np.array([10, 10 + gap], dtype=np.int64)
    hi = np.array([20, 20 + gap], dtype=np.int64)
    return lo, hi, 60 + gap, 70 + gap


def _generate_6a(params: Mapping[str, Any], n: int, seed: int, start: int = 0) -> Batch:
    return generate_temporal_order(*windows_6a(params["gap"]), n, seed, start)


TASK_6A = TaskSpec(
    name="task6a",
    description="Temporal order of 2 symbols (Hochreiter & Schmidhuber 1997, Exp. 6a); 4 classes",
    output=OutputKind.CLASS_AT_END,
    generate=_generate_6a,
    params=(
        Param("gap", int, 40, "distance between the windows of t1 and t2 (paper: 40)", min=MIN_GAP, max=MAX_GAP),
    ),
    symbols=SYMBOLS,
    classes=("Q", "R", "S", "U"),
    gap_param="gap",
    success_threshold=0.99,
    chance=0.25,
    published=("Hochreiter & Schmidhuber (1997), gap 40: their LSTM (2 blocks of 2 cells, 156 weights) solved "
               "Task 6a after 31,390 training sequences on average; BPTT and RTRL failed [agreed]."),
)


@hookimpl
def register_tasks(register):
    """Register the temporal-order tasks."""
    register(TASK_6A)
