"""``task3a``, ``task3b``, ``task3c``: noise and signal on the same input line, Bengio et al.'s
(1994) "2-sequence problem" as Hochreiter & Schmidhuber (1997), Experiment 3, pose it [read].

One real-valued input line; two classes, probability 1/2 each. The length is uniform in
[T, T + T/10]. The first N elements (N = 1 or 3) carry the class: +1.0 (class 1) or -1.0 (class 2);
every later element is Gaussian noise, mean 0, variance 0.2. The target comes at the end.

- ``task3a``: targets 1.0 (class 1) and 0.0 (class 2); a sequence is right when the absolute error
  at the end is below 0.2. The paper stops at ST1 (none of 256 test sequences wrong: the threshold
  1.0) and ST2 (ST1 and a mean absolute test error below 0.01).
- ``task3b``: as 3a, with the same Gaussian noise added to the first N elements too; ST1 is fewer
  than 6 of 256 wrong (the threshold 251/256), ST2 adds a mean absolute error below 0.04.
- ``task3c``: as 3a, but the targets are 0.2 (class 1) and 0.8 (class 2) plus Gaussian noise of
  variance 0.1: the network must learn the conditional expectation. A sequence is wrong when its
  output is 0.1 or more from the noise-free target (the ``clean`` extra); the paper stops when
  none of 256 test sequences is wrong and the mean absolute difference to the noise-free target is
  below 0.015 (``deviation`` measures it).

The trivial baseline predicts 0.5: never right, mean squared error 0.25 (3a, 3b) or 0.09 + 0.1 =
0.19 (3c, against the noisy targets).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch
from numba import njit

from longdep_bench import Batch, OutputKind, Param, Published, TaskSpec, hookimpl, rng

PAPER = "Hochreiter & Schmidhuber (1997)"
NOISE = math.sqrt(0.2)  # standard deviation of the input noise (variance 0.2)
TARGET_NOISE = math.sqrt(0.1)  # 3c: standard deviation of the target noise (variance 0.1)
TOLERANCE = {"task3a": 0.2, "task3b": 0.2, "task3c": 0.1}
MIN_T, MAX_T = 10, 100_000


@njit(inline="always", cache=True)
def _gaussian(state):
    """A standard normal draw (Box-Muller) from one 64-bit draw."""
    state, bits = rng.draw(state)
    u1 = (np.float64(rng.half(bits, 0)) + 1.0) * (1.0 / 4294967296.0)  # (0, 1]
    u2 = np.float64(rng.half(bits, 1)) * (1.0 / 4294967296.0)
    return state, math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(inline="always", cache=True)
def _fill_row(r, i, key, args):
    inputs, lengths, targets, clean, t, n_info, noisy_info, first, second_target, target_noise = args
    state = rng.start(key, i)
    state, bits = rng.draw(state)
    length = t + rng.below(bits >> np.uint64(32), t // 10 + 1)
    second = np.int64(bits & np.uint64(1))  # class 2 with probability 1/2
    row = inputs[r]
    for j in range(length):
        state, noise = _gaussian(state)
        if j < n_info:
            row[j, 0] = (-1.0 if second else 1.0) + (NOISE * noise if noisy_info else 0.0)
        else:
            row[j, 0] = NOISE * noise
    for j in range(length, row.shape[0]):
        row[j, 0] = 0.0
    lengths[r] = length
    clean[r] = second_target if second else first
    state, noise = _gaussian(state)
    targets[r] = clean[r] + target_noise * noise


FILL = rng.RowFiller(_fill_row)


def generate(params: Mapping[str, Any], n: int, seed: int, start: int, noisy_info: bool, first: float,
             second: float, target_noise: float) -> Batch:
    """Sequences ``start .. start + n - 1`` of stream ``seed``: inputs (n, T + T // 10, 1)."""
    t = params["T"]
    inputs = np.empty((n, t + t // 10, 1), dtype=np.float32)
    lengths = np.empty(n, dtype=np.int64)
    targets = np.empty(n, dtype=np.float32)
    clean = np.empty(n, dtype=np.float32)
    FILL(rng.stream_key(seed), start, n, inputs, lengths, targets, clean, t, params["N"], noisy_info, first, second,
         target_noise)
    return Batch(inputs=inputs, lengths=lengths, targets=targets, extras={"clean": clean})


def reference(t: int, n_info: int, n: int, seed: int, noisy_info: bool) -> Batch:
    """A plain NumPy generator that follows the definition line by line (the test oracle), targets of 3a/3b."""
    generator = np.random.default_rng(seed)
    inputs = np.zeros((n, t + t // 10, 1), dtype=np.float32)
    lengths = np.empty(n, dtype=np.int64)
    targets = np.empty(n, dtype=np.float32)
    for i in range(n):
        length = generator.integers(t, t + t // 10, endpoint=True)  # uniform in [T, T + T/10]
        second = generator.integers(0, 2)  # the class, probability 1/2 each
        inputs[i, :length, 0] = generator.normal(0.0, NOISE, size=length)  # noise of variance 0.2
        inputs[i, :n_info, 0] = (-1.0 if second else 1.0) + (inputs[i, :n_info, 0] if noisy_info else 0.0)
        lengths[i] = length
        targets[i] = 0.0 if second else 1.0
    return Batch(inputs=inputs, lengths=lengths, targets=targets)


def _deviation_from_clean(outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
    return (outputs.squeeze(-1) - batch.extras["clean"]).abs()


def _within(tolerance: float) -> Any:
    """Right: the output within ``tolerance`` of the noise-free target."""
    return lambda outputs, batch: _deviation_from_clean(outputs, batch) < tolerance


def _published(rows: tuple) -> tuple[Published, ...]:
    """Table 4, 5 or 6 [read]: per (T, N), the sequences to ST1 (the accuracy milestone) and to ST2."""
    figures = []
    for t, n, st1, st2 in rows:
        if st1 is not None:
            figures.append(Published(PAPER, f"LSTM (3 blocks of 1 cell, 102 weights) met ST1 after {st1:,} training "
                                     "sequences on average (10 trials)", "[read]", {"T": t, "N": n}, st1, trials=10,
                                     milestone="accuracy"))
        figures.append(Published(PAPER, f"LSTM met {'ST2' if st1 is not None else 'its stopping criterion'} after "
                                 f"{st2:,} training sequences on average (10 trials)", "[read]", {"T": t, "N": n}, st2,
                                 trials=10))
    return tuple(figures)


def _task(name: str, noisy_info: bool, first: float, second: float, target_noise: float, threshold: float,
          description: str, rows: tuple) -> TaskSpec:
    """A 2-sequence task: class 1's target ``first``, class 2's ``second``."""
    tolerance = TOLERANCE[name]
    return TaskSpec(
        name=name,
        description=description,
        output=OutputKind.VALUE_AT_END,
        generate=lambda params, n, seed, start=0: generate(params, n, seed, start, noisy_info, first, second,
                                                           target_noise),
        params=(Param("T", int, 100, "minimal sequence length (paper: 100, 1000)", min=MIN_T, max=MAX_T),
                Param("N", int, 3, "leading elements that carry the class (paper: 1 or 3)", min=1, max=10)),
        n_features=1,
        gap_param="T",
        success_threshold=threshold,
        correct=_within(tolerance),
        deviation=_deviation_from_clean,
        chance=0.0,
        baseline="predicting 0.5",
        baseline_loss=lambda params: (0.5 - first) ** 2 + target_noise ** 2,
        published=_published(rows),
    )


TASK_3A = _task("task3a", False, 1.0, 0.0, 0.0, 1.0, "2-sequence problem: the class in the first N elements, noise "
                "after (Hochreiter & Schmidhuber 1997, Exp. 3a)",
                ((100, 3, 27_380, 39_850), (100, 1, 58_370, 64_330), (1000, 3, 446_850, 452_460)))
TASK_3B = _task("task3b", True, 1.0, 0.0, 0.0, 251 / 256, "2-sequence problem with noise on the class elements too "
                "(Hochreiter & Schmidhuber 1997, Exp. 3b)",
                ((100, 3, 41_740, 43_250), (100, 1, 74_950, 78_430), (1000, 1, 481_060, 485_080)))
TASK_3C = _task("task3c", False, 0.2, 0.8, TARGET_NOISE, 1.0, "2-sequence problem with noisy targets: learn the "
                "conditional expectation (Hochreiter & Schmidhuber 1997, Exp. 3c)",
                ((100, 3, None, 269_650), (100, 1, None, 565_640)))


@hookimpl
def register_tasks(register):
    """Register task3a, task3b and task3c."""
    register(TASK_3A)
    register(TASK_3B)
    register(TASK_3C)
