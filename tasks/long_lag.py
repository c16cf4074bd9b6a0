"""``long-lag``: the noise-free long-time-lag problem with many distractors, after Hochreiter &
Schmidhuber (1997), Experiment 2c.

What we implement: the vocabulary is x, y, b (start), e (end trigger) and p distractor symbols
a1 .. ap. A sequence is ``b, s, d_1, ..., d_q, e``: the relevant symbol s (x or y, probability
1/2 each), q distractors drawn uniformly and independently from a1 .. ap, and the trigger e.
After e the network must tell which of x and y came first: a two-class output at the last step,
q + 1 steps after s. The paper states 2c as next-symbol prediction over such sequences, with the
error that matters at the end [agreed]; we ask only for the final symbol, as the suite does for
all classification tasks, and fix the number of distractors at q (the lag). The paper solved
q = p = 1000 after about 49,000 sequences [agreed]; our defaults are q = p = 100.
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


@njit(inline="always", cache=True)
def _fill_row(r, i, key, args):
    tokens, targets, q, p = args
    state = rng.start(key, i)
    state, bits = rng.draw(state)
    symbol = np.int64(bits & np.uint64(1))
    row = tokens[r]
    row[0] = START
    row[1] = X + symbol
    for j in range(q):
        if j % 2 == 0:
            state, bits = rng.draw(state)
        row[2 + j] = FIRST_DISTRACTOR + rng.below(rng.half(bits, j % 2), p)
    row[q + 2] = END
    targets[r] = symbol


FILL = rng.RowFiller(_fill_row)


def _dtype(p: int) -> type:
    return np.int8 if p + FIRST_DISTRACTOR < 127 else np.int16


def generate(params: Mapping[str, Any], n: int, seed: int, start: int = 0) -> Batch:
    """Sequences ``start .. start + n - 1`` of stream ``seed``: tokens (n, q + 3)."""
    q, p = params["q"], params["p"]
    tokens = np.empty((n, q + 3), dtype=_dtype(p))
    targets = np.empty(n, dtype=np.int64)
    FILL(rng.stream_key(seed), start, n, tokens, targets, q, p)
    return Batch(inputs=tokens, lengths=np.full(n, q + 3, dtype=np.int64), targets=targets)


def reference(q: int, p: int, n: int, seed: int) -> Batch:
    """A plain NumPy generator that follows the definition line by line (the test oracle)."""
    generator = np.random.default_rng(seed)
    tokens = np.empty((n, q + 3), dtype=_dtype(p))
    targets = np.empty(n, dtype=np.int64)
    for i in range(n):
        symbol = generator.integers(0, 2)  # x or y
        tokens[i, 0] = START
        tokens[i, 1] = X + symbol
        tokens[i, 2:q + 2] = FIRST_DISTRACTOR + generator.integers(0, p, size=q)  # q distractors of p
        tokens[i, q + 2] = END
        targets[i] = symbol
    return Batch(inputs=tokens, lengths=np.full(n, q + 3, dtype=np.int64), targets=targets)


LONG_LAG = TaskSpec(
    name="long-lag",
    description="Noise-free long time lag with p distractors (Hochreiter & Schmidhuber 1997, Exp. 2c); x or y",
    output=OutputKind.CLASS_AT_END,
    generate=generate,
    params=(
        Param("q", int, 100, "distractors between the relevant symbol and the trigger, the lag (paper: up to 1000)",
              min=1, max=MAX_Q),
        Param("p", int, 100, "number of distinct distractor symbols (paper: up to 1000)", min=1, max=MAX_P),
    ),
    symbols=lambda params: ("x", "y", "b", "e", *(f"a{k}" for k in range(1, params["p"] + 1))),
    classes=("x", "y"),
    gap_param="q",
    success_threshold=0.99,
    chance=0.5,
    baseline="guessing x or y",
    baseline_loss=lambda params: math.log(2),
    published=(Published(PAPER, "LSTM solved q = p = 1000 after about 49,000 sequences", "[agreed]",
                         {"q": 1000, "p": 1000}, 49_000),),
)


@hookimpl
def register_tasks(register):
    """Register long-lag."""
    register(LONG_LAG)
