"""Task 6a data against the paper's definition, and the generator's determinism."""

from __future__ import annotations

import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from longdep_bench_tasks import temporal_order as to
from stats_helpers import chi2_same_ok, chi2_uniform_ok

from longdep_bench.discovery.registry import get_registry

N = 40_000


def _positions(batch):
    """1-based positions of X/Y per sequence, as an (N, 2) array."""
    tokens = np.asarray(batch.inputs)
    rows, cols = np.nonzero((tokens == to.X) | (tokens == to.X + 1))
    assert np.all(np.bincount(rows, minlength=len(tokens)) == 2), "every sequence holds exactly 2 of X/Y"
    return cols.reshape(-1, 2) + 1


def _check_structure(batch, gap):
    tokens, lengths, targets = np.asarray(batch.inputs), np.asarray(batch.lengths), np.asarray(batch.targets)
    n = len(tokens)
    assert tokens.shape == (n, 70 + gap)
    assert lengths.min() >= 60 + gap and lengths.max() <= 70 + gap
    assert np.all(tokens[:, 0] == to.E), "E at position 1"
    assert np.all(tokens[np.arange(n), lengths - 1] == to.B), "B at position L"
    steps = np.arange(tokens.shape[1])
    padding = steps[None, :] >= lengths[:, None]
    assert np.all(tokens[padding] == to.PAD), "right-padded with the padding id"
    inside = ~padding
    inside[:, 0] = False
    inside[np.arange(n), lengths - 1] = False
    body = tokens[inside]
    assert np.all((body <= 3) | (body == to.X) | (body == to.X + 1)), "only a-d, X, Y between E and B"
    positions = _positions(batch)
    assert positions[:, 0].min() >= 10 and positions[:, 0].max() <= 20
    assert positions[:, 1].min() >= 10 + gap and positions[:, 1].max() <= 20 + gap
    first = tokens[np.arange(n), positions[:, 0] - 1] - to.X
    second = tokens[np.arange(n), positions[:, 1] - 1] - to.X
    assert np.array_equal(targets, 2 * first + second), "XX->Q(0) XY->R(1) YX->S(2) YY->U(3)"
    return positions, body


@pytest.mark.parametrize("gap", [11, 17, 40, 200])
def test_structure_matches_definition(gap):
    batch = get_registry().task("task6a").generate({"gap": gap}, 5000, seed=3, start=0)
    _check_structure(batch, gap)


def test_paper_statistics():
    batch = get_registry().task("task6a").generate({"gap": 40}, N, seed=11, start=0)
    positions, body = _check_structure(batch, 40)
    lengths, targets = np.asarray(batch.lengths), np.asarray(batch.targets)
    assert chi2_uniform_ok(np.bincount(lengths - 100, minlength=11)), "L uniform in [100, 110]"
    assert chi2_uniform_ok(np.bincount(positions[:, 0] - 10, minlength=11)), "t1 uniform in [10, 20]"
    assert chi2_uniform_ok(np.bincount(positions[:, 1] - 50, minlength=11)), "t2 uniform in [50, 60]"
    assert chi2_uniform_ok(np.bincount(targets, minlength=4)), "classes balanced (X/Y independent, p=1/2)"
    distractors = body[body <= 3]
    assert chi2_uniform_ok(np.bincount(distractors, minlength=4)), "distractors uniform over a-d"
    # Distractor symbols at neighbouring steps are independent (pairs uniform over 16 values).
    tokens = np.asarray(batch.inputs)[:, 21:49]  # a stretch that holds only distractors
    pairs = (tokens[:, :-1].astype(int) * 4 + tokens[:, 1:]).ravel()
    assert chi2_uniform_ok(np.bincount(pairs, minlength=16))


def test_fast_generator_matches_reference_in_distribution():
    fast = get_registry().task("task6a").generate({"gap": 40}, 20_000, seed=5, start=0)
    reference = to.reference_temporal_order(*to.windows_6a(40), 20_000, seed=5)
    _check_structure(reference, 40)
    for name, a, b in [
        ("lengths", fast.lengths - 100, reference.lengths - 100),
        ("targets", fast.targets, reference.targets),
        ("t1", _positions(fast)[:, 0] - 10, _positions(reference)[:, 0] - 10),
        ("t2", _positions(fast)[:, 1] - 50, _positions(reference)[:, 1] - 50),
    ]:
        size = max(a.max(), b.max()) + 1
        assert chi2_same_ok(np.bincount(a, minlength=size), np.bincount(b, minlength=size)), name


def test_stream_is_pure_function_of_seed_and_index():
    task = get_registry().task("task6a")
    whole = task.generate({"gap": 40}, 10_000, seed=9, start=0)  # parallel kernel
    parts = [task.generate({"gap": 40}, 100, seed=9, start=s) for s in range(0, 10_000, 100)]  # serial
    assert np.array_equal(whole.inputs, np.concatenate([p.inputs for p in parts]))
    assert np.array_equal(whole.targets, np.concatenate([p.targets for p in parts]))
    other = task.generate({"gap": 40}, 100, seed=10, start=0)
    assert not np.array_equal(other.inputs, parts[0].inputs)


def test_same_output_with_one_or_two_threads():
    task = get_registry().task("task6a")
    previous = numba.get_num_threads()
    try:
        outputs = []
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            outputs.append(task.generate({"gap": 40}, 50_000, seed=2, start=17).inputs)
    finally:
        numba.set_num_threads(previous)
    assert np.array_equal(outputs[0], outputs[1])


def test_same_output_in_a_fresh_process_without_the_cache(tmp_path):
    code = ("import hashlib; from longdep_bench_tasks.temporal_order import TASK_6A as t; "
            "b = t.generate({'gap': 40}, 5000, 4, 0); print(hashlib.sha256(b.inputs.tobytes()).hexdigest())")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_NUM_THREADS": "1"}
    fresh = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    import hashlib
    here = hashlib.sha256(get_registry().task("task6a").generate({"gap": 40}, 5000, 4, 0).inputs.tobytes())
    assert fresh.stdout.strip() == here.hexdigest()
