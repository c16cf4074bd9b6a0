"""The 1997 paper's Experiments 1, 2 and 3 as tasks, against the paper's definitions: structure,
distributions (chi-square and moment tests against the definition), baselines, fixed sets, criteria."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch
from longdep_bench_tasks import long_lag, noise_free, reber, two_sequence
from stats_helpers import chi2_critical, chi2_same_ok, chi2_uniform_ok

from longdep_bench.api.params import with_defaults
from longdep_bench.discovery.registry import get_registry
from longdep_bench.training.objectives import objective


def _params(name, **given):
    return with_defaults(get_registry().task(name).params, given)


def _digest(batch, *extras):
    arrays = [batch.inputs, batch.targets, batch.lengths, *(batch.extras[e] for e in extras)]
    return hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)).hexdigest()


def test_the_definitions_before_0_9_are_unchanged():
    """The new parameters' defaults generate what 0.8 generated, byte for byte (digests of 0.8's output)."""
    fixed = long_lag.generate(_params("long-lag", q=50, p=7), 500, 3, 0)
    assert _digest(fixed) == "2326af1427a77274905d053d65aa826d8388cbdb22832d0cbc98bb8893b696eb"
    strings = reber.generate(_params("reber"), 500, 3, 0)
    assert _digest(strings, "legal") == "07337f9375cb3e1fb774783033ba237d293da234c48f4a2428be39bca3a4f23c"


def test_2c_with_the_papers_geometric_tail():
    q, p = 40, 9
    batch = long_lag.generate(_params("long-lag", q=q, p=p, tail="geometric"), 40_000, 5, 0)
    extra = batch.lengths - (q + 3)
    assert extra.min() == 0 and extra.max() <= long_lag.MAX_TAIL
    # P(k) = 0.1 * 0.9^k: the first 30 values against their expected counts, the rest pooled
    expected = np.array([0.1 * 0.9 ** k for k in range(30)] + [0.9 ** 30]) * len(extra)
    observed = np.bincount(np.minimum(extra, 30), minlength=31)
    assert ((observed - expected) ** 2 / expected).sum() <= chi2_critical(30)
    assert extra.mean() == pytest.approx(9.0, abs=4 * 9.5 / math.sqrt(len(extra)))  # mean 9, sd 9.5
    rows = np.arange(len(batch))
    tokens = batch.inputs
    assert np.all(tokens[:, 0] == long_lag.START) and np.all(tokens[rows, batch.lengths - 1] == long_lag.END)
    np.testing.assert_array_equal(tokens[:, 1] - long_lag.X, batch.targets)
    inside = np.arange(tokens.shape[1])[None, :]
    distractors = tokens[(inside >= 2) & (inside < batch.lengths[:, None] - 1)]
    assert chi2_uniform_ok(np.bincount(distractors - long_lag.FIRST_DISTRACTOR, minlength=p))
    assert np.all(tokens[inside >= batch.lengths[:, None]] == long_lag.FIRST_DISTRACTOR + p)  # padding
    reference = long_lag.reference(q, p, 40_000, 5, tail="geometric")
    assert chi2_same_ok(np.bincount(np.minimum(reference.lengths - q - 3, 30), minlength=31), observed)


@pytest.mark.parametrize("name", ["task2a", "task2b"])
def test_2a_and_2b_follow_the_definition(name):
    p = 12
    random_middle = name == "task2b"
    batch = get_registry().task(name).generate(_params(name, p=p), 20_000, 2, 0)
    x, y = p - 1, p
    inputs, targets = batch.inputs.astype(np.int64), batch.targets
    assert inputs.shape == targets.shape == (20_000, p) and np.all(batch.lengths == p)
    assert set(np.unique(inputs[:, 0])) == {x, y} and chi2_uniform_ok(np.bincount(inputs[:, 0] - x))
    np.testing.assert_array_equal(targets[:, :-1], inputs[:, 1:])  # predict the next element
    np.testing.assert_array_equal(targets[:, -1], inputs[:, 0])  # the last element repeats the first
    middle = inputs[:, 1:]
    if random_middle:
        assert chi2_uniform_ok(np.bincount(middle.ravel(), minlength=p - 1)) and middle.max() < x
        _, reference = noise_free.reference(p, 20_000, 2, True)
        assert chi2_same_ok(np.bincount(reference[:, :-1].ravel()), np.bincount(middle.ravel()))
        assert batch.extras["judged"][:, -1].all() and not batch.extras["judged"][:, :-1].any()
    else:
        assert np.all(middle == np.arange(p - 1))  # a_1, ..., a_{p-1}: only two sequences
        assert batch.extras["judged"].all()
    task = get_registry().task(name)
    assert task.vocabulary({"p": p}) == task.class_names({"p": p}) and len(task.vocabulary({"p": p})) == p + 1


@pytest.mark.parametrize("name", ["task2a", "task2b"])
def test_2a_and_2b_baselines_match_generated_data(name):
    """The baseline (the transitions or the symbols' frequencies, not the first element) is right on
    half of the sequences, at the declared cross-entropy."""
    p = 20
    task = get_registry().task(name)
    params = _params(name, p=p)
    batch = task.generate(params, 4000, 3, 0).to_torch()
    logits = torch.full((len(batch), p, p + 1), -1e9)
    if name == "task2a":
        logits.scatter_(2, batch.targets.unsqueeze(-1), 0.0)  # the deterministic successors
    else:
        logits[:, :, :p - 1] = 0.0  # uniform over a_1 .. a_{p-1}
    logits[:, -1] = -1e9
    logits[:, -1, p - 1:] = 0.0  # x or y, equally likely
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch.targets.flatten())
    assert float(loss) == pytest.approx(task.baseline_loss(params), rel=1e-4)
    logits[:, -1, p] = 1.0  # the most active output: always y
    right = objective(task).correct(logits, batch).float().mean()
    assert float(right) == pytest.approx(task.chance, abs=0.03)


@pytest.mark.parametrize("name", ["task3a", "task3b", "task3c"])
def test_3a_3b_3c_follow_the_definition(name):
    t, n_info = 100, 3
    task = get_registry().task(name)
    batch = task.generate(_params(name, T=t, N=n_info), 20_000, 4, 0)
    values = batch.inputs[:, :, 0].astype(np.float64)
    lengths = batch.lengths
    assert chi2_uniform_ok(np.bincount(lengths - t, minlength=t // 10 + 1))
    clean = batch.extras["clean"]
    low, high = (0.2, 0.8) if name == "task3c" else (1.0, 0.0)
    first_class = clean == np.float32(low)
    assert set(np.unique(clean)) == {np.float32(low), np.float32(high)}
    assert abs(first_class.mean() - 0.5) < 4 * 0.5 / math.sqrt(len(clean))
    signal = np.where(first_class, 1.0, -1.0)[:, None]
    noise_sd = math.sqrt(0.2)
    head = values[:, :n_info] - signal
    if name == "task3b":  # noise on the class elements too
        assert head.std() == pytest.approx(noise_sd, rel=0.02) and abs(head.mean()) < 0.01
    else:
        assert np.abs(head).max() < 1e-6
    steps = np.arange(values.shape[1])[None, :]
    tail = values[(steps >= n_info) & (steps < lengths[:, None])]
    assert abs(tail.mean()) < 4 * noise_sd / math.sqrt(tail.size) and tail.var() == pytest.approx(0.2, rel=0.01)
    assert np.all(values[steps >= lengths[:, None]] == 0.0)
    target_noise = batch.targets - clean
    if name == "task3c":
        assert target_noise.var() == pytest.approx(0.1, rel=0.03) and abs(target_noise.mean()) < 0.01
    else:
        assert np.all(target_noise == 0.0)
    if name != "task3c":
        reference = two_sequence.reference(t, n_info, 20_000, 4, name == "task3b")
        assert chi2_same_ok(np.bincount(reference.lengths - t), np.bincount(lengths - t))


@pytest.mark.parametrize("name", ["task3a", "task3b", "task3c"])
def test_3a_3b_3c_baselines_and_criteria(name):
    task = get_registry().task(name)
    params = _params(name)
    batch = task.generate(params, 20_000, 6, 0).to_torch()
    half = torch.full((len(batch), 1), 0.5)
    judge = objective(task)
    assert float(judge.correct(half, batch).float().mean()) == task.chance == 0.0
    assert float(((batch.targets - 0.5) ** 2).mean()) == pytest.approx(task.baseline_loss(params), rel=0.03)
    tolerance = two_sequence.TOLERANCE[name]
    near = batch.extras["clean"].unsqueeze(-1) + 0.99 * tolerance
    assert bool(judge.correct(near, batch).all()) and not bool(judge.correct(near + 0.02 * tolerance, batch).any())
    assert float(judge.deviation(near, batch).mean()) == pytest.approx(0.99 * tolerance, rel=1e-4)


def test_reber_fixed_training_set():
    params = _params("reber", training_set=256, judge="paper")
    task = get_registry().task("reber")
    sets = task.fixed_sets(params, 256, 21, 22)
    assert len(sets.training) == 256 and len(sets.test) == 256
    training = {row.tobytes() for row in sets.training.inputs}
    assert not any(row.tobytes() in training for row in sets.test.inputs)  # test strings are not training strings
    drawn = task.generate(params, 20_000, 21, 0)
    assert all(row.tobytes() in training for row in drawn.inputs[:2000])  # every training string is one of them
    index = {row.tobytes(): i for i, row in enumerate(sets.training.inputs)}
    # picked uniformly among the 256 (duplicate strings pool their counts)
    picks = np.bincount([index[row.tobytes()] for row in drawn.inputs], minlength=256)
    expected = np.bincount([index[row.tobytes()] for row in sets.training.inputs], minlength=256) * len(drawn) / 256
    keep = expected > 0
    assert ((picks[keep] - expected[keep]) ** 2 / expected[keep]).sum() <= chi2_critical(int(keep.sum()) - 1)
    assert task.fixed_sets(_params("reber"), 256, 21, 22) is None


def test_reber_paper_rule_is_stricter_than_argmax():
    """Where two symbols may follow, the paper wants both outputs above every other one."""
    batch = reber.generate(_params("reber", judge="paper"), 50, 1, 0).to_torch()
    legal = batch.extras["legal"]
    perfect = legal.float() * 10
    assert bool(reber.REBER.correct(perfect, batch).all())
    two = legal.sum(-1) == 2
    i, j = [int(v) for v in torch.nonzero(two)[0]]
    second = int(torch.nonzero(legal[i, j])[1])
    weaker = perfect.clone()
    weaker[i, j, second] = -1.0  # below the illegal outputs (0), still not the most active
    assert not bool(reber.REBER.correct(weaker, batch)[i])
    argmax_batch = reber.generate(_params("reber"), 50, 1, 0).to_torch()
    assert bool(reber.REBER.correct(weaker, argmax_batch)[i])  # argmax: the most active is still legal
