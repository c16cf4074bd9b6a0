"""``long-lag``: the noise-free long-time-lag problem with many distractors, Hochreiter &
Schmidhuber (1997), Experiment 2c.

The vocabulary is x, y, b (start), e (trigger) and p distractor symbols a1 .. ap (p + 4 input
units). A sequence is ``b, s, d_1, ..., d_q, [d_{q+1}, ..., d_{q+k},] e``: the relevant symbol s
(x or y, probability 1/2 each), q distractors drawn uniformly and independently from a1 .. ap, and
the trigger e. After e the network predicts the sequence's last element, s again, with 2 output
units (a two-class output at the last step, error only there), q + 1 or more steps after s.

``tail`` chooses the length. ``geometric`` is the paper's task [read]: after the q distractors
each further element is another distractor with probability 9/10 or the trigger with 1/10, so k is
geometric (mean 9) and the expected length is q + 13 with s's repetition; k above 150 (probability
1.4e-7) is redrawn, so that batches are q + 153 steps wide. ``fixed`` (the default, and the only
definition before longdep-bench 0.9) puts the trigger right after the q distractors. The paper's
results (Table 3, 20 trials each [read]) are for the geometric tail.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
from numba import njit

from longdep_bench import Batch, OutputKind, Param, Published, TaskSpec, hookimpl, rng

PAPER = "Hochreiter & Schmidhuber (1997)"

X, Y, START, END, FIRST_DISTRACTOR = 0, 1, 2, 3, 4
MAX_Q, MAX_P = 100_000, 30_000
CONTINUE = 0.9  # geometric tail: the probability that another distractor follows
MAX_TAIL = 150  # longer tails are redrawn (probability 0.9^151 = 1.4e-7)


@njit(inline="always", cache=True)
def _tail(state):
    """k, the number of distractors after the q (geometric: P(k) = 0.1 * 0.9^k), redrawn above MAX_TAIL."""
    while True:
        state, bits = rng.draw(state)
        u = (np.float64(bits >> np.uint64(11)) + 1.0) * (1.0 / 9007199254740992.0)  # uniform in (0, 1]
        k = np.int64(np.floor(np.log(u) / np.log(CONTINUE)))
        if k <= MAX_TAIL:
            return state, k


@njit(inline="always", cache=True)
def _fill_row(r, i, key, args):
    tokens, targets, lengths, q, p, geometric = args
    state = rng.start(key, i)
    state, bits = rng.draw(state)
    symbol = np.int64(bits & np.uint64(1))
    extra = 0
    if geometric:
        state, extra = _tail(state)
    row = tokens[r]
    row[0] = START
    row[1] = X + symbol
    for j in range(q + extra):
        if j % 2 == 0:
            state, bits = rng.draw(state)
        row[2 + j] = FIRST_DISTRACTOR + rng.below(rng.half(bits, j % 2), p)
    row[q + extra + 2] = END
    for j in range(q + extra + 3, row.shape[0]):
        row[j] = p + FIRST_DISTRACTOR  # padding
    targets[r] = symbol
    lengths[r] = q + extra + 3


FILL = rng.RowFiller(_fill_row)


def _dtype(p: int) -> type:
    return np.int8 if p + FIRST_DISTRACTOR < 127 else np.int16


def _geometric(params: Mapping[str, Any]) -> bool:
    """Whether the tail is the paper's (``tail`` came in 0.9: callers from before it leave it out)."""
    return params.get("tail", "fixed") == "geometric"


def width(params: Mapping[str, Any]) -> int:
    """The padded length of every batch: q + 3, plus room for the longest geometric tail."""
    return params["q"] + 3 + (MAX_TAIL if _geometric(params) else 0)


def generate(params: Mapping[str, Any], n: int, seed: int, start: int = 0) -> Batch:
    """Sequences ``start .. start + n - 1`` of stream ``seed``: tokens (n, width(params))."""
    q, p = params["q"], params["p"]
    tokens = np.empty((n, width(params)), dtype=_dtype(p))
    targets = np.empty(n, dtype=np.int64)
    lengths = np.empty(n, dtype=np.int64)
    FILL(rng.stream_key(seed), start, n, tokens, targets, lengths, q, p, _geometric(params))
    return Batch(inputs=tokens, lengths=lengths, targets=targets)


def reference(q: int, p: int, n: int, seed: int, tail: str = "fixed") -> Batch:
    """A plain NumPy generator that follows the definition line by line (the test oracle)."""
    generator = np.random.default_rng(seed)
    tokens = np.full((n, width({"q": q, "tail": tail})), p + FIRST_DISTRACTOR, dtype=_dtype(p))
    targets = np.empty(n, dtype=np.int64)
    lengths = np.empty(n, dtype=np.int64)
    for i in range(n):
        symbol = generator.integers(0, 2)  # x or y
        extra = 0
        while tail == "geometric":  # another distractor with probability 9/10, else the trigger
            if generator.random() >= CONTINUE:
                break
            extra += 1
            if extra > MAX_TAIL:
                extra = 0  # redrawn
        tokens[i, 0] = START
        tokens[i, 1] = X + symbol
        tokens[i, 2:q + extra + 2] = FIRST_DISTRACTOR + generator.integers(0, p, size=q + extra)  # distractors of p
        tokens[i, q + extra + 2] = END
        targets[i] = symbol
        lengths[i] = q + extra + 3
    return Batch(inputs=tokens, lengths=lengths, targets=targets)


# Table 3 [read]: sequences to success, means of 20 trials, with the geometric tail.
TABLE_3 = ((50, 50, 30_000), (100, 100, 31_000), (200, 200, 33_000), (500, 500, 38_000), (1000, 1000, 49_000),
           (1000, 500, 49_000), (1000, 200, 75_000), (1000, 100, 135_000), (1000, 50, 203_000))


LONG_LAG = TaskSpec(
    name="long-lag",
    description="Noise-free long time lag with p distractors (Hochreiter & Schmidhuber 1997, Exp. 2c); x or y",
    output=OutputKind.CLASS_AT_END,
    generate=generate,
    params=(
        Param("q", int, 100, "distractors between the relevant symbol and the trigger, the lag (paper: up to 1000)",
              min=1, max=MAX_Q),
        Param("p", int, 100, "number of distinct distractor symbols (paper: up to 1000)", min=1, max=MAX_P),
        Param("tail", str, "fixed", "geometric: after the q distractors, more until the trigger comes with probability "
              "1/10 each step (the paper's); fixed: the trigger right after them", choices=("fixed", "geometric"),
              since="0.9"),
    ),
    symbols=lambda params: ("x", "y", "b", "e", *(f"a{k}" for k in range(1, params["p"] + 1))),
    classes=("x", "y"),
    gap_param="q",
    success_threshold=0.99,
    chance=0.5,
    baseline="guessing x or y",
    baseline_loss=lambda params: math.log(2),
    published=tuple(Published(PAPER, f"LSTM (2 blocks of 1 cell, lr 0.01) solved q = {q}, p = {p} after {n:,} "
                              "training sequences on average (20 trials)", "[read]",
                              {"q": q, "p": p, "tail": "geometric"}, n, trials=20) for q, p, n in TABLE_3),
)


@hookimpl
def register_tasks(register):
    """Register long-lag."""
    register(LONG_LAG)
