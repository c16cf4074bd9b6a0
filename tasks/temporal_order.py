"""The temporal-order tasks of Hochreiter & Schmidhuber (1997), Experiment 6.

Task 6b (``task6b``): the same with three relevant positions t1, t2, t3 and 8 classes (XXX,
XXY, ..., YYY). Paper windows: L in [100, 110], t1 in [10, 20], t2 in [33, 43], t3 in
[66, 76]. The ``gap`` G of 6b is the distance between the first and the last window (paper:
56); it stretches both distances between windows in the paper's proportion and, as in 6a, keeps
the end a fixed distance after the last window: t1 in [10, 20], t2 in [s2, s2 + 10] with
s2 = 10 + floor(23 G / 56 + 1/2), t3 in [10 + G, 20 + G], L in [44 + G, 54 + G]. G = 56 gives
the paper's task; G must be at least 26 so that the windows cannot overlap.

Task 6a: a sequence starts with E, ends with the trigger B and otherwise holds symbols drawn
uniformly from {a, b, c, d}, except at positions t1 and t2, which hold X or Y (probability 1/2
each, independently). The class is the order of the relevant symbols: XX -> Q, XY -> R, YX -> S,
YY -> U. With 1-based positions, L is uniform in [60 + G, 70 + G], t1 in [10, 20] and t2 in
[10 + G, 20 + G]; the paper's task is G = 40 (L in [100, 110], t2 in [50, 60]). G must be at
least 11: with a smaller gap the two windows overlap, t1 = t2 becomes possible and the order of
the two symbols is undefined.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
from numba import njit

from longdep_bench import Batch, OutputKind, Param, Published, TaskSpec, hookimpl, rng

PAPER = "Hochreiter & Schmidhuber (1997)"

SYMBOLS = ("a", "b", "c", "d", "E", "B", "X", "Y")
A, E, B, X = 0, 4, 5, 6  # ids of the first distractor, the start, the trigger and X (Y = X + 1)
PAD = len(SYMBOLS)
MIN_GAP = 11  # the windows [10, 20] and [10 + G, 20 + G] must not overlap
MIN_GAP_6B = 26  # likewise for Task 6b's three windows
MAX_GAP = 100_000


def _spread_table() -> np.ndarray:
    """For each byte, the 4 distractor ids its 2-bit fields select, packed into a little-endian uint32."""
    table = np.zeros(256, dtype=np.uint32)
    for byte in range(256):
        for k in range(4):
            table[byte] |= np.uint32((A + ((byte >> (2 * k)) & 3)) << (8 * k))
    return table


SPREAD = _spread_table()


@njit(inline="always", cache=True)
def _fill_row(r, i, key, args):
    """Write sequence ``i`` of the stream ``key`` into row ``r``.

    ``args``: (tokens, words, lengths, targets, lo, hi, len_lo, len_hi, spread).
    ``lo[k], hi[k]`` bound the k-th relevant position (1-based, inclusive); the length is
    uniform in [len_lo, len_hi]. The class is the X/Y pattern read as a binary number (X = 0).
    ``words`` is the same memory as ``tokens`` seen as uint32: the distractors are written four
    at a time from a table, 32 per 64-bit random draw, so that the kernel runs at memory speed.
    """
    tokens, words, lengths, targets, lo, hi, len_lo, len_hi, spread = args
    state = rng.start(key, i)
    state, bits = rng.draw(state)
    length = len_lo + rng.below(bits >> np.uint64(32), len_hi - len_lo + 1)
    row_words = words[r]
    for w in range(row_words.shape[0]):
        if w % 8 == 0:
            state, bits = rng.draw(state)
        row_words[w] = spread[(bits >> np.uint64(8 * (w % 8))) & np.uint64(255)]
    row = tokens[r]
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


FILL = rng.RowFiller(_fill_row)


def generate_temporal_order(
    lo: np.ndarray, hi: np.ndarray, len_lo: int, len_hi: int, n: int, seed: int, start: int
) -> Batch:
    """Sequences ``start .. start + n - 1`` of stream ``seed`` for the given windows.

    Rows are allocated 8-byte aligned (the stride is rounded up to a multiple of 8) and the
    returned tokens are the first ``len_hi`` columns.
    """
    stride = -(-len_hi // 8) * 8
    tokens = np.empty((n, stride), dtype=np.int8)
    lengths = np.empty(n, dtype=np.int64)
    targets = np.empty(n, dtype=np.int64)
    FILL(rng.stream_key(seed), start, n, tokens, tokens.view(np.uint32), lengths, targets, lo, hi, len_lo, len_hi,
         SPREAD)
    return Batch(inputs=tokens[:, :len_hi], lengths=lengths, targets=targets)


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


def windows_6b(gap: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Relevant-position windows (1-based, inclusive) and the length range of Task 6b at a gap."""
    second = 10 + int(23 * gap / 56 + 0.5)
    lo = np.array([10, second, 10 + gap], dtype=np.int64)
    return lo, lo + 10, 44 + gap, 54 + gap


def _generate_6a(params: Mapping[str, Any], n: int, seed: int, start: int = 0) -> Batch:
    return generate_temporal_order(*windows_6a(params["gap"]), n, seed, start)


def _generate_6b(params: Mapping[str, Any], n: int, seed: int, start: int = 0) -> Batch:
    return generate_temporal_order(*windows_6b(params["gap"]), n, seed, start)


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
    baseline="guessing the class",
    baseline_loss=lambda params: math.log(4),
    published=(Published(PAPER, "LSTM (2 blocks of 2 cells, 156 weights, lr 0.5) met its stopping criterion after "
                         "31,390 training sequences on average (20 trials); the paper did not run BPTT or RTRL here",
                         "[read]", {"gap": 40}, 31_390, trials=20),),
)


TASK_6B = TaskSpec(
    name="task6b",
    description="Temporal order of 3 symbols (Hochreiter & Schmidhuber 1997, Exp. 6b); 8 classes",
    output=OutputKind.CLASS_AT_END,
    generate=_generate_6b,
    params=(
        Param("gap", int, 56, "distance between the windows of t1 and t3 (paper: 56)", min=MIN_GAP_6B, max=MAX_GAP),
    ),
    symbols=SYMBOLS,
    classes=("XXX", "XXY", "XYX", "XYY", "YXX", "YXY", "YYX", "YYY"),
    gap_param="gap",
    success_threshold=0.99,
    chance=0.125,
    baseline="guessing the class",
    baseline_loss=lambda params: math.log(8),
    published=(Published(PAPER, "LSTM (3 blocks of 2 cells, 308 weights, lr 0.1) met its stopping criterion after "
                         "571,100 training sequences on average (10 trials)", "[read]", {"gap": 56}, 571_100,
                         trials=10),),
)


@hookimpl
def register_tasks(register):
    """Register the temporal-order tasks."""
    register(TASK_6A)
    register(TASK_6B)
