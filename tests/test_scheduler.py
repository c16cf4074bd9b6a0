"""The scheduler: new kinds first in plan order, then the longest kinds, exactly the rule written in
its docstring, checked against a direct (quadratic) statement of that rule on random sweeps."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from longdep_bench.config.run_config import RunConfig
from longdep_bench.execution.scheduler import Scheduler, kind_of


def _config(arch: str, seed: int = 0, hidden: int = 8) -> RunConfig:
    return RunConfig(arch=arch, task="task6a", arch_options={}, params={"gap": 20}, seed=seed, master_seed=0,
                     hidden=hidden)


def _took(seconds: float) -> SimpleNamespace:
    return SimpleNamespace(train_seconds=seconds, eval_seconds=0.0, compile_seconds=0.0)


class ReferenceScheduler:
    """The rule as a scan over every waiting run: the largest mean time of its kind (untimed: infinite),
    the earliest in line among equals."""

    def __init__(self, configs):
        self.waiting, self.seconds = list(configs), {}

    def finished(self, config, record):
        self.seconds.setdefault(kind_of(config), []).append(record.train_seconds)

    def next(self):
        def expected(config):
            times = self.seconds.get(kind_of(config))
            return sum(times) / len(times) if times else float("inf")

        best = max(range(len(self.waiting)), key=lambda i: (expected(self.waiting[i]), -i))
        return self.waiting.pop(best)


def test_scheduler_times_new_kinds_first_then_starts_the_longest():
    configs = [_config(arch, seed=seed) for seed in range(2) for arch in ("rnn", "lstm", "gru")]
    scheduler = Scheduler(configs)
    first = [scheduler.next() for _ in range(3)]
    assert [c.arch for c in first] == ["rnn", "lstm", "gru"]  # nothing timed yet: plan order
    for config, seconds in zip(first, (24.0, 5.0, 4.0)):
        scheduler.finished(config, _took(seconds))
    assert [scheduler.next().arch for _ in range(3)] == ["rnn", "lstm", "gru"]  # longest first
    assert len(scheduler) == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcd"), st.integers(1, 3)), min_size=1, max_size=40),
       st.lists(st.floats(0.5, 50.0), min_size=40, max_size=40), st.integers(1, 4), st.integers(0, 5))
def test_scheduler_picks_what_the_rule_picks(plan, durations, in_flight, deferred):
    """Runs start `in_flight` at a time, finish first-in first-out, and some are deferred and added back
    at the end (as runs that another sweep holds are): the order equals the reference rule's."""
    configs = [_config(arch, seed=i, hidden=hidden) for i, (arch, hidden) in enumerate(plan)]
    fast, reference = Scheduler(configs), ReferenceScheduler(configs)
    started, running, held = [], [], []
    while len(fast) or running or held:
        while len(fast) and len(running) < in_flight:
            picked, expected = fast.next(), reference.next()
            assert picked is expected
            started.append(picked)
            if len(held) < deferred and picked.seed % 3 == 0:
                held.append(picked)
            else:
                running.append(picked)
        if running:
            done = running.pop(0)
            record = _took(durations[done.seed % len(durations)])
            fast.finished(done, record)
            reference.finished(done, record)
        elif held:
            fast.add(held)
            reference.waiting.extend(held)
            deferred, held = 0, []
    assert len(fast) == 0 and not reference.waiting
