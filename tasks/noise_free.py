"""``task2a`` and ``task2b``: noise-free sequences with long time lags, next-symbol prediction at every
step (Hochreiter & Schmidhuber 1997, Experiments 2a and 2b [read]).

There are p + 1 symbols a_1, ..., a_{p-1}, x, y, one-hot coded; a sequence has p + 1 elements and
the network sees elements 0 .. p - 1, predicting the next one at every step (p + 1 output units; an
error signal at every step, a per-step class output here).

- ``task2a``: the training set is two sequences, (y, a_1, ..., a_{p-1}, y) and (x, a_1, ...,
  a_{p-1}, x), each chosen with probability 1/2. Every target is determined by the first element;
  to predict the last one the network must remember it for p steps. A sequence is judged at every
  step (the paper: the maximal absolute error of all output units always below 0.25).
- ``task2b``: the middle is a random string a_{i_1}, ..., a_{i_{p-1}} over a_1, ..., a_{p-1}: no local
  regularity to compress. Only x and y at the end are predictable; the network trains on every
  step and is judged at the last (the ``judged`` extra; the paper: below 0.25 at the sequence end).

The trivial baselines know the transitions (2a) or the symbols' frequencies (2b) but not the first
element: they are right on half of the sequences (guessing x or y at the end, by the most active
output), with a cross-entropy of ln 2 / p (2a) or ((p - 1) ln(p - 1) + ln 2) / p (2b) per step.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
from numba import njit

from longdep_bench import Batch, OutputKind, Param, Published, TaskSpec, hookimpl, rng

PAPER = "Hochreiter & Schmidhuber (1997)"
MIN_P, MAX_P = 3, 10_000


def _symbols(params: Mapping[str, Any]) -> tuple[str, ...]:
    p = params["p"]
    return (*(f"a{k}" for k in range(1, p)), "x", "y")


@njit(inline="always", cache=True)
def _fill_row(r, i, key, args):
    tokens, targets, judged, p, random_middle = args
    x = p - 1  # ids: a_k -> k - 1, x -> p - 1, y -> p
    state = rng.start(key, i)
    state, bits = rng.draw(state)
    first = x + np.int64(bits & np.uint64(1))
    row = tokens[r]
    row[0] = first
    for j in range(1, p):
        if random_middle:
            if j % 2 == 1:
                state, bits = rng.draw(state)
            row[j] = rng.below(rng.half(bits, j % 2), p - 1)
        else:
            row[j] = j - 1
    for j in range(p - 1):
        targets[r, j] = row[j + 1]
        judged[r, j] = not random_middle
    targets[r, p - 1] = first
    judged[r, p - 1] = True


FILL = rng.RowFiller(_fill_row)


def _dtype(p: int) -> type:
    return np.int8 if p < 127 else np.int16


def generate(params: Mapping[str, Any], n: int, seed: int, start: int, random_middle: bool) -> Batch:
    """Sequences ``start .. start + n - 1`` of stream ``seed``: tokens (n, p), targets (n, p)."""
    p = params["p"]
    tokens = np.empty((n, p), dtype=_dtype(p))
    targets = np.empty((n, p), dtype=np.int64)
    judged = np.empty((n, p), dtype=np.bool_)
    FILL(rng.stream_key(seed), start, n, tokens, targets, judged, p, random_middle)
    return Batch(inputs=tokens, lengths=np.full(n, p, dtype=np.int64), targets=targets, extras={"judged": judged})


def reference(p: int, n: int, seed: int, random_middle: bool) -> tuple[np.ndarray, np.ndarray]:
    """Whole sequences (n, p + 1) of symbol ids, drawn element by element from the definition (the
    test oracle): inputs are elements 0 .. p - 1, targets elements 1 .. p."""
    generator = np.random.default_rng(seed)
    x, y = p - 1, p
    sequences = np.empty((n, p + 1), dtype=np.int64)
    for i in range(n):
        first = (x, y)[generator.integers(0, 2)]  # x or y, probability 1/2
        middle = generator.integers(0, p - 1, size=p - 1) if random_middle else np.arange(p - 1)  # a_1 .. a_{p-1}
        sequences[i] = [first, *middle, first]
    return sequences[:, :-1], sequences[:, 1:]


def _task(name: str, random_middle: bool, description: str, sequences: int, baseline_loss: Any) -> TaskSpec:
    return TaskSpec(
        name=name,
        description=description,
        output=OutputKind.CLASS_PER_STEP,
        generate=lambda params, n, seed, start=0: generate(params, n, seed, start, random_middle),
        params=(Param("p", int, 100, "the time lag: p - 1 symbols between the first element and its repetition "
                      "(paper: 100)", min=MIN_P, max=MAX_P),),
        symbols=_symbols,
        classes=_symbols,
        gap_param="p",
        success_threshold=1.0,
        chance=0.5,
        baseline="knowing the transitions but not the first element" if not random_middle
        else "knowing the symbols' frequencies but not the first element",
        baseline_loss=baseline_loss,
        published=(Published(PAPER, f"LSTM (1 memory cell, an input gate, no output gate, 10,504 weights, lr 1.0) "
                            f"succeeded in 18 of 18 trials after {sequences:,} training sequences on average", "[read]",
                            {"p": 100}, sequences, "100%", trials=18),),
    )


TASK_2A = _task("task2a", False, "Noise-free long time lag, 2 training sequences, next-symbol prediction "
                "(Hochreiter & Schmidhuber 1997, Exp. 2a)", 5_040, lambda params: math.log(2) / params["p"])
TASK_2B = _task("task2b", True, "Long time lag with a random middle, next-symbol prediction (Hochreiter & "
                "Schmidhuber 1997, Exp. 2b)", 5_680,
                lambda params: ((params["p"] - 1) * math.log(params["p"] - 1) + math.log(2)) / params["p"])


@hookimpl
def register_tasks(register):
    """Register task2a and task2b."""
    register(TASK_2A)
    register(TASK_2B)
