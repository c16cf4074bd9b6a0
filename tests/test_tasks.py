"""The task family against its published definitions: structure, distributions, baselines, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from longdep_bench_tasks import arithmetic, copy_memory, long_lag, reber, temporal_order
from stats_helpers import chi2_same_ok, chi2_uniform_ok

from longdep_bench import BenchError
from longdep_bench.config.options import SweepOptions
from longdep_bench.discovery.registry import get_registry
from longdep_bench.planning.plan import plan

ALL_TASKS = sorted(get_registry().tasks)


def _defaults(name):
    return {p.name: p.default for p in get_registry().task(name).params}


@pytest.mark.parametrize("name", ALL_TASKS)
def test_every_task_is_deterministic_and_continues_its_stream(name):
    task, params = get_registry().task(name), _defaults(name)
    whole = task.generate(params, 300, 7, 0)
    parts = [task.generate(params, 100, 7, s) for s in (0, 100, 200)]
    for key, array in whole.arrays().items():
        np.testing.assert_array_equal(array, np.concatenate([p.arrays()[key] for p in parts]), err_msg=key)
    assert not np.array_equal(task.generate(params, 300, 8, 0).targets, whole.targets)
    big = task.generate(params, 5000, 7, 0)  # parallel kernel
    np.testing.assert_array_equal(big.inputs[:300], whole.inputs)


@pytest.mark.parametrize("name", ALL_TASKS)
def test_declared_baselines_match_generated_data(name):
    task, params = get_registry().task(name), _defaults(name)
    batch = task.generate(params, 20_000, 3, 0).to_torch()
    if task.name == "adding" or task.name == "multiplication":
        constant = 0.5 if task.name == "adding" else 0.275
        outputs = torch.full((len(batch), 1), constant)
        assert float(task.correct(outputs, batch).float().mean()) == pytest.approx(task.chance, abs=0.01)
        assert float(((batch.targets - constant) ** 2).mean()) == pytest.approx(task.baseline_loss(params), rel=0.03)
    elif task.name == "copy-memory":
        steps = batch.targets.shape[1]
        logits = torch.full((len(batch), steps, 10), -30.0)
        logits[:, :-10, 0] = 30.0  # blanks, then uniform over the 8 data symbols
        logits[:, -10:, 1:9] = 0.0
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch.targets.flatten())
        assert float(loss) == pytest.approx(task.baseline_loss(params), rel=1e-3)
        assert task.chance == pytest.approx(0.0) and (1 / 8) ** 10 < 1e-9  # guessing all ten copied symbols
    elif task.output.value == "class-at-end":
        counts = np.bincount(batch.targets.numpy(), minlength=len(task.classes))
        assert chi2_uniform_ok(counts) and task.chance == pytest.approx(1 / len(task.classes))
        assert task.baseline_loss(params) == pytest.approx(math.log(len(task.classes)))
    elif task.output.value == "class-per-step":
        # a model right at every step but the one that needs the long-lag symbol (the latest judged
        # step whose target varies: Reber's last symbol is always E, the one before it decides) can
        # only guess there, and its best guess is the most frequent target there
        targets = batch.targets.numpy()
        judged = [np.flatnonzero(row >= 0) for row in targets]
        for back in (1, 2, 3):
            decisive = np.array([row[steps[-back]] for row, steps in zip(targets, judged)])
            if len(np.unique(decisive)) > 1:
                break
        frequencies = np.bincount(decisive) / len(decisive)
        assert len(np.flatnonzero(frequencies)) == 2, "the decisive step chooses between two symbols"
        assert task.chance == pytest.approx(frequencies.max(), abs=0.02)
    elif task.output.value == "value-at-end":
        # the best constant prediction (the mean target) meets the task's criterion this often
        outputs = torch.full((len(batch), 1), float(batch.targets.float().mean()))
        assert float(task.correct(outputs, batch).float().mean()) == pytest.approx(task.chance, abs=0.01)
    else:
        pytest.fail(f"no oracle for the baseline of {name} ({task.output.value}): add one here")


def test_task6b_structure_and_gap_formula():
    task = get_registry().task("task6b")
    assert temporal_order.windows_6b(56)[2:] == (100, 110)
    np.testing.assert_array_equal(temporal_order.windows_6b(56)[0], [10, 33, 66])
    for gap in range(26, 2000):
        lo, hi, len_lo, _ = temporal_order.windows_6b(gap)
        assert hi[0] < lo[1] and hi[1] < lo[2] and hi[2] < len_lo, gap
    lo, hi, _, _ = temporal_order.windows_6b(25)
    assert hi[0] >= lo[1]  # why 26 is the minimum
    batch = task.generate({"gap": 56}, 20_000, 1, 0)
    tokens = batch.inputs
    rows, cols = np.nonzero(tokens >= temporal_order.X)
    cols = cols[tokens[rows, cols] <= temporal_order.X + 1].reshape(-1, 3) + 1
    assert [(cols[:, k].min(), cols[:, k].max()) for k in range(3)] == [(10, 20), (33, 43), (66, 76)]
    symbols = tokens[np.arange(len(tokens))[:, None], cols - 1] - temporal_order.X
    np.testing.assert_array_equal(batch.targets, symbols[:, 0] * 4 + symbols[:, 1] * 2 + symbols[:, 2])
    assert chi2_uniform_ok(np.bincount(batch.targets, minlength=8))
    reference = temporal_order.reference_temporal_order(*temporal_order.windows_6b(56), 20_000, 2)
    assert chi2_same_ok(np.bincount(batch.lengths - 100), np.bincount(reference.lengths - 100))


@pytest.mark.parametrize("module,operation", [(arithmetic, arithmetic.ADD), (arithmetic, arithmetic.MULTIPLY)])
def test_arithmetic_tasks_follow_the_paper(module, operation):
    t = 100
    batch = module.generate(operation, t, 20_000, 5, 0)
    reference = module.reference(operation, t, 20_000, 5)
    for b in (batch, reference):
        values, markers = b.inputs[..., 0], b.inputs[..., 1]
        n = len(values)
        assert b.lengths.min() == t and b.lengths.max() == t + t // 10
        marked = markers == 1.0
        assert np.all(marked.sum(1) == 2)
        positions = np.nonzero(marked)[1].reshape(-1, 2)
        assert np.all(positions[:, 0] <= 9)  # X1 among the first 10 pairs
        assert np.all(positions[:, 1] >= 1) and np.all(positions[:, 1] <= t // 2)  # X2: first T/2 - 1 unmarked
        first, second = positions[:, 0], positions[:, 1]  # the sum and product are symmetric in X1, X2
        end = markers[np.arange(n), b.lengths - 1]
        assert np.all(end == -1.0)
        assert np.all((markers[:, 0] == -1.0) | (first == 0))
        padding = np.arange(values.shape[1])[None, :] >= b.lengths[:, None]
        assert np.all(values[padding] == 0) and np.all(markers[padding] == 0)
        inside = values[~padding]
        assert inside.min() >= (-1 if operation == arithmetic.ADD else 0) and inside.max() <= 1
        # the target is computed from the marked values shown, also where the first pair is marked:
        # there X1 is set to 0 (1 for multiplication) in the input, as the paper says (revision 1)
        x1, x2 = values[np.arange(n), first], values[np.arange(n), second]
        assert np.all(x1[first == 0] == (0.0 if operation == arithmetic.ADD else 1.0))
        assert 0.07 < np.mean(first == 0) < 0.13  # X1 uniform over the first 10 pairs
        expected = 0.5 + (x1 + x2) / 4 if operation == arithmetic.ADD else x1 * x2
        np.testing.assert_allclose(b.targets, expected, rtol=1e-6)
    histogram = lambda b: np.histogram(b.targets, bins=20, range=(0, 1))[0]  # noqa: E731
    assert chi2_same_ok(histogram(batch), histogram(reference))
    marks = lambda b: np.bincount(np.nonzero(b.inputs[:, :, 1] == 1.0)[1], minlength=t // 2 + 1)  # noqa: E731
    assert chi2_same_ok(marks(batch), marks(reference))  # where the marks fall


def test_long_lag_follows_its_definition():
    batch = long_lag.generate({"q": 50, "p": 7, "tail": "fixed"}, 20_000, 3, 0)
    tokens = batch.inputs
    assert tokens.shape == (20_000, 53)
    assert np.all(tokens[:, 0] == long_lag.START) and np.all(tokens[:, -1] == long_lag.END)
    np.testing.assert_array_equal(tokens[:, 1] - long_lag.X, batch.targets)
    distractors = tokens[:, 2:-1]
    assert distractors.min() == long_lag.FIRST_DISTRACTOR and distractors.max() == long_lag.FIRST_DISTRACTOR + 6
    assert chi2_uniform_ok(np.bincount(distractors.ravel() - long_lag.FIRST_DISTRACTOR))
    reference = long_lag.reference(50, 7, 20_000, 3)
    assert chi2_same_ok(np.bincount(reference.inputs[:, 2:-1].ravel()), np.bincount(distractors.ravel()))
    task = get_registry().task("long-lag")
    assert len(task.vocabulary({"q": 50, "p": 1000})) == 1004
    assert long_lag.generate({"q": 5, "p": 1000, "tail": "fixed"}, 10, 0, 0).inputs.dtype == np.int16


def _valid_prefix(symbols):
    """An independent recogniser: is this a prefix of some embedded Reber string?"""
    if not symbols:
        return True
    if symbols[0] != reber.B:
        return False
    if len(symbols) > 1 and symbols[1] not in (reber.T, reber.P):
        return False
    if len(symbols) > 2 and symbols[2] != reber.B:
        return False
    state = 0
    for j, symbol in enumerate(symbols[3:], start=3):
        if state == reber.FINAL:  # after the inner string: E, the embedded symbol, E
            rest = symbols[j:]
            return rest == [reber.E, symbols[1], reber.E][:len(rest)]
        branches = [k for k in (0, 1) if reber.EMIT[state, k] == symbol]
        if not branches:
            return False
        state = int(reber.GOTO[state, branches[0]])
    return True


def test_reber_strings_are_grammatical_and_legal_sets_exact():
    batch = reber.generate({"max_length": 50, "training_set": 0, "judge": "argmax"}, 3000, 4, 0)
    for i in range(len(batch)):
        length = int(batch.lengths[i])
        string = [int(s) for s in batch.inputs[i, :length]]
        assert _valid_prefix(string) and string[-1] == reber.E and string[-2] == string[1]
        assert all(s == reber.PAD for s in batch.inputs[i, length:])
        for j in range(length - 1):
            legal = {c for c in range(7) if _valid_prefix(string[:j + 1] + [c])}
            assert set(np.nonzero(batch.extras["legal"][i, j])[0]) == legal, (string, j)
            assert batch.targets[i, j] == string[j + 1]
        assert np.all(batch.targets[i, length - 1:] == -1)
    generator = np.random.default_rng(0)
    reference_lengths = [len(reber.reference_string(generator, 50)) for _ in range(3000)]
    assert chi2_same_ok(np.bincount(batch.lengths, minlength=51)[9:], np.bincount(reference_lengths, minlength=51)[9:])
    assert batch.lengths.min() == 9


def test_reber_correctness_is_legality_at_every_step():
    batch = reber.generate({"max_length": 50, "training_set": 0, "judge": "argmax"}, 50, 1, 0).to_torch()
    perfect = batch.extras["legal"].float() * 10
    assert bool(reber.REBER.correct(perfect, batch).all())
    wrong = perfect.clone()
    index = int(batch.lengths[0]) - 3  # the step after the inner E: must predict the embedded symbol
    wrong[0, index] = 0
    wrong[0, index, reber.E] = 10
    result = reber.REBER.correct(wrong, batch)
    assert not bool(result[0]) and bool(result[1:].all())


def test_copy_memory_matches_reference_layout():
    batch = copy_memory.generate({"T": 30}, 5000, 2, 0)
    reference = copy_memory.reference(30, 5000, 2)
    for b in (batch, reference):
        assert b.inputs.shape == (5000, 50)
        assert np.all(b.inputs[:, 39] == copy_memory.DELIMITER)
        np.testing.assert_array_equal(b.targets[:, -10:], b.inputs[:, :10])
        assert np.all(b.inputs[:, 10:39] == 0) and np.all(b.inputs[:, 40:] == 0) and np.all(b.targets[:, :40] == 0)
    assert chi2_uniform_ok(np.bincount(batch.inputs[:, :10].ravel())[1:])


@pytest.mark.parametrize("ref,message", [
    ("adding:T=1", "parameter T=1: expected an integer in [22, 100000]"),
    ("long-lag:q=-3", "parameter q=-3"),
    ("long-lag:p=many", "parameter p='many': expected an integer"),
    ("copy-memory:lag=5", "task 'copy-memory' has no parameter 'lag'"),
    ("task6b:gap=20", "expected an integer in [26, 100000]"),
    ("reber:max_length=4", "expected an integer in [9, 10000]"),
])
def test_impossible_parameters_are_rejected(ref, message):
    with pytest.raises(BenchError, match=message.replace("[", r"\[").replace("]", r"\]")):
        plan(SweepOptions(archs=("lstm",), tasks=(ref,)), get_registry())


def test_gap_on_a_task_without_lag_is_rejected():
    with pytest.raises(BenchError, match="no lag parameter"):
        plan(SweepOptions(archs=("lstm",), tasks=("reber",), gaps=(40,)), get_registry())


def test_row_filler_loops_are_compiled_per_process_not_cached_on_disk():
    """numba keys a closure's disk cache anew in every process: cached, RowFiller's loops never
    loaded from it and left one more cache file behind per process."""
    for loop in (long_lag.FILL.serial, long_lag.FILL.parallel):
        assert type(loop._cache).__name__ == "NullCache"
