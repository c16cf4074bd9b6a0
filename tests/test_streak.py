"""The paper's stopping rules on the most recent training sequences (``streak``, ``streak_wrong``,
``streak_error``): the window against a plain loop, and runs solved by them."""

from __future__ import annotations

import random

import pytest
import torch

from longdep_bench.config.options import SweepOptions
from longdep_bench.config.run_config import RunConfig, derive_seeds
from longdep_bench.discovery.registry import get_registry
from longdep_bench.planning.plan import plan
from longdep_bench.training.loop import train
from longdep_bench.training.steps import prepare_step
from longdep_bench.training.streak import Streak


def first_streak(right, target, wrong=0, errors=None, error=0.0):
    """Sequences seen when the last ``target`` first held at most ``wrong`` wrong ones (and, with
    ``error``, a mean error below it), by a plain loop (None: never)."""
    for seen in range(target, len(right) + 1):
        window = range(seen - target, seen)
        if sum(not right[i] for i in window) <= wrong and (
                not error or sum(errors[i] for i in window) / target < error):
            return seen
    return None


def first_in_a_row(right, target):
    """Sequences seen when ``target`` were first right in a row: the rule's original reading."""
    length = 0
    for seen, ok in enumerate(right, start=1):
        length = length + 1 if ok else 0
        if length >= target:
            return seen
    return None


@pytest.mark.parametrize("seed", range(30))
def test_the_window_matches_a_plain_loop_over_any_batching(seed):
    rng = random.Random(seed)
    p_right = rng.choice([0.5, 0.8, 0.95])
    right = [rng.random() < p_right for _ in range(rng.randint(1, 400))]
    errors = [rng.random() * (0.05 if ok else 1.0) for ok in right]
    target = rng.randint(1, 30)
    wrong = rng.choice([0, 0, 1, 3])
    error = rng.choice([0.0, 0.0, 0.02, 0.1])
    streak = Streak(target, torch.device("cpu"), wrong, error)
    begin = 0
    while begin < len(right):
        end = min(len(right), begin + rng.choice([1, 2, 7, 16, 64]))
        streak.add(torch.tensor(right[begin:end]), torch.tensor(errors[begin:end]))
        begin = end
    assert streak.reached_at() == first_streak(right, target, wrong, errors, error)
    assert int(streak.seen) == len(right)
    if not wrong and not error:
        assert streak.reached_at() == first_in_a_row(right, target)


def test_a_streak_reached_once_stays_reached():
    streak = Streak(3, torch.device("cpu"))
    for batch in ([True, True, True, True], [False], [True] * 9):
        streak.add(torch.tensor(batch))
    assert streak.reached_at() == 3


def config(**overrides):
    settings = dict(arch="gru", task="task6a", arch_options={}, params={"gap": 40}, seed=0, master_seed=0, hidden=64,
                    batch_size=16, lr=3e-3, clip=1.0, max_sequences=30_000, threshold=0.99)
    settings.update(overrides)
    return RunConfig(**settings)


def test_a_run_is_solved_by_the_training_sequence_that_completes_the_streak(monkeypatch):
    seen_right = []
    add = Streak.add

    def recording_add(self, right, errors=None):
        seen_right.extend(right.tolist())
        add(self, right, errors)

    monkeypatch.setattr(Streak, "add", recording_add)
    record = train(config(streak=300))
    expected = first_in_a_row(seen_right, 300)
    assert record.status == "ok" and record.solved and expected is not None
    assert record.sequences_to_solve == expected  # exact, not rounded to a success check
    assert record.train_sequences == -(-expected // 1024) * 1024  # stopped at the next check
    assert record.train_sequences == len(seen_right)
    assert record.curve[-1] == [record.train_sequences, record.test_accuracy] and record.test_accuracy > 0.9
    assert record.hyperparameters["streak"] == 300


def test_an_online_learner_stops_on_the_sequence_that_completes_the_rule():
    """As the paper did (ST3 on 6a): the run's last training sequence is the one that completed the
    rule, inside a chunk of the compiled learner, and the weights it stops with are those of a learner
    trained on exactly that many sequences in one call."""
    options = SweepOptions(archs=("lstm1997:preset=6a",), tasks=("task6a",), optimizer="sgd", batch_size=1,
                           lr=0.5, clip=0.0, output_units="sigmoid", abs_error=0.3, streak=2000, streak_error=0.1,
                           check_every=1000, max_sequences=60_000, seeds=1, device="cpu")
    run = plan(options, get_registry())[0]
    record = train(run)
    assert record.solved and record.train_sequences == record.sequences_to_solve
    assert record.sequences_to_solve % 256 and record.sequences_to_solve % 1000  # inside a chunk and a window
    assert record.curve[-1] == [record.sequences_to_solve, record.test_accuracy]

    def online_step():
        registry = get_registry()
        task = registry.task(run.task)
        step = prepare_step(run, task, registry.architecture(run.arch), derive_seeds(run.master_seed, run.seed),
                            torch.device("cpu"), 1)
        assert step.online
        return step

    chunked, seen = online_step(), 0
    while chunked.streak.reached_at() is None:
        seen += chunked(seen, 256)
    straight = online_step()
    assert straight(0, seen) == seen == record.sequences_to_solve
    for (name, a), b in zip(chunked.model.state_dict().items(), straight.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_a_streak_out_of_reach_ends_at_the_budget_with_the_test_accuracy_measured():
    record = train(config(arch="rnn", hidden=16, max_sequences=2048, streak=100_000))
    assert record.status == "ok" and not record.solved and record.sequences_to_solve is None
    assert record.train_sequences == 2048 and 0.0 <= record.test_accuracy <= 1.0
    assert record.curve[-1] == [2048, record.test_accuracy]


def test_the_streak_joins_run_ids_only_when_set():
    assert "streak" not in config().identity()  # runs recorded before the setting keep their ids
    assert config(streak=2000).run_id() != config().run_id()


def test_graphed_steps_feed_the_streak(device):
    """Replays of the captured step update the streak (a capture that left it out would never solve)."""
    if device.type != "cuda":
        pytest.skip("CUDA graphs need --device cuda")
    record = train(config(streak=300, device="cuda", cuda_graphs="on"))
    assert record.runtime["graphed"] and record.solved
    assert record.train_sequences - 1024 < record.sequences_to_solve <= record.train_sequences
