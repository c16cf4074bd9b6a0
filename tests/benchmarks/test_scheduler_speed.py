"""Picking the next run with 100,000 waiting (pytest-benchmark): the scheduler is O(log n) per pick.

Run: ``pytest tests/benchmarks/test_scheduler_speed.py --benchmark-enable --benchmark-only``; in the normal
test run the benchmark runs once and checks its result.
"""

from __future__ import annotations

from types import SimpleNamespace

from longdep_bench.config.run_config import RunConfig
from longdep_bench.execution.scheduler import Scheduler

WAITING = 100_000
KINDS = 50


def _sweep() -> list[RunConfig]:
    return [RunConfig(arch=f"arch{i % KINDS}", task="task6a", arch_options={}, params={"gap": 40}, seed=i,
                      master_seed=0, hidden=8) for i in range(WAITING)]


def test_picking_among_100k_waiting_runs(benchmark):
    configs = _sweep()

    def pick_and_finish_1000(scheduler: Scheduler) -> list[RunConfig]:
        picked = []
        for _ in range(1000):
            config = scheduler.next()
            scheduler.finished(config, SimpleNamespace(train_seconds=float(config.seed % 7), eval_seconds=0.0,
                                                       compile_seconds=0.0))
            picked.append(config)
        return picked

    # the scheduler is built outside the timing: what is timed is 1,000 picks and finishes
    picked = benchmark.pedantic(pick_and_finish_1000, setup=lambda: ((Scheduler(configs),), {}), rounds=3)
    assert [c.seed for c in picked[:KINDS]] == list(range(KINDS))  # every kind timed first, in plan order
    slowest = max(range(KINDS), key=lambda k: (k % 7, -k))  # then the kind that took longest
    assert picked[KINDS].arch == f"arch{slowest}"
