"""``copy-memory``: the copy task of Arjovsky, Shah & Bengio (2016), as used by TCN (Bai et al.
2018) and expRNN (Lezcano-Casado & Martinez-Rubio 2019).

Symbols: 0 is the blank, 1-8 are data, 9 is the delimiter. The input is 10 data symbols drawn
uniformly from 1-8, then T - 1 blanks, the delimiter, and 10 more blanks (T + 20 steps). The
target is blank for the first T + 10 steps and the 10 data symbols over the last 10. The loss is
the cross-entropy averaged over all T + 20 steps; a memoryless strategy (blanks, then uniform
guesses) scores 10 ln 8 / (T + 20), reported as the baseline loss. A sequence counts as right
when every step is predicted right; solved at 99% of the test sequences.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
from numba import njit

from longdep_bench import Batch, OutputKind, Param, Published, TaskSpec, hookimpl, rng

BLANK, DELIMITER, COPIED = 0, 9, 10
SYMBOLS = ("_", "1", "2", "3", "4", "5", "6", "7", "8", ":")


@njit(inline="always", cache=True)
def _fill_row(r, i, key, args):
    tokens, targets, t = args
    state = rng.start(key, i)
    tokens[r, :] = BLANK
    targets[r, :] = BLANK
    for j in range(COPIED):
        if j % 2 == 0:
            state, bits = rng.draw(state)
        symbol = 1 + rng.below(rng.half(bits, j % 2), 8)
        tokens[r, j] = symbol
        targets[r, t + COPIED + j] = symbol
    tokens[r, t + COPIED - 1] = DELIMITER


FILL = rng.RowFiller(_fill_row)


def generate(params: Mapping[str, Any], n: int, seed: int, start: int = 0) -> Batch:
    """Sequences ``start .. start + n - 1`` of stream ``seed``: tokens and targets (n, T + 20)."""
    t = params["T"]
    tokens = np.empty((n, t + 2 * COPIED), dtype=np.int8)
    targets = np.empty((n, t + 2 * COPIED), dtype=np.int64)
    FILL(rng.stream_key(seed), start, n, tokens, targets, t)
    return Batch(inputs=tokens, lengths=np.full(n, t + 2 * COPIED, dtype=np.int64), targets=targets)


def reference(t: int, n: int, seed: int) -> Batch:
    """A plain NumPy generator that follows the definition line by line (the test oracle)."""
    generator = np.random.default_rng(seed)
    data = generator.integers(1, 9, size=(n, COPIED))  # 10 symbols from 1-8
    tokens = np.concatenate([data, np.zeros((n, t - 1)), np.full((n, 1), DELIMITER), np.zeros((n, COPIED))], axis=1)
    targets = np.concatenate([np.zeros((n, t + COPIED)), data], axis=1)
    return Batch(inputs=tokens.astype(np.int8), lengths=np.full(n, t + 2 * COPIED, dtype=np.int64),
                 targets=targets.astype(np.int64))


COPY_MEMORY = TaskSpec(
    name="copy-memory",
    description="Copy memory (Arjovsky et al. 2016; TCN, expRNN): reproduce 10 symbols after T blanks",
    output=OutputKind.CLASS_PER_STEP,
    generate=generate,
    params=(Param("T", int, 100, "blanks between the data and the delimiter, the lag", min=1, max=100_000),),
    symbols=SYMBOLS,
    classes=SYMBOLS,
    gap_param="T",
    success_threshold=0.99,
    chance=0.0,
    baseline="memoryless: blanks, then uniform guesses",
    baseline_loss=lambda params: COPIED * math.log(8) / (params["T"] + 2 * COPIED),
    published=(Published("nnRNN (Kerg et al. 2019)", "on T = 200 the LSTM plateaus at the memoryless baseline",
                         "[read]",
                         {"T": 200}),),
)


@hookimpl
def register_tasks(register):
    """Register copy-memory."""
    register(COPY_MEMORY)
