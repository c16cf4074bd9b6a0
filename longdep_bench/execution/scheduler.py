"""Which run of a sweep to start next, in O(log n) per pick.

Runs of a kind not yet timed start first (in plan order, to learn what they cost), then the kinds
that took longest on average, so that a long run does not start last and finish alone; among equals,
plan order. Runs of one kind wait in a queue in plan order; a heap holds one entry per kind with
waiting runs, keyed by (-expected seconds, the position of its first waiting run), and entries that a
finished run or a pick made stale are skipped when they surface.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections import deque
from collections.abc import Iterable

from longdep_bench.config.run_config import RunConfig
from longdep_bench.results.records import RunRecord


def kind_of(config: RunConfig) -> str:
    """Runs of one kind (architecture and options on a task and its parameters) take similar times."""
    return json.dumps([config.arch, config.arch_options, config.task, config.params, config.hidden], sort_keys=True,
                      default=dict)


class Scheduler:
    """The runs waiting to start, and what finished runs of each kind took."""

    def __init__(self, configs: Iterable[RunConfig] = ()):
        self._order = itertools.count()  # each run's position: plan order, then runs added back later
        self._kinds: dict[int, str] = {}
        self._queues: dict[str, deque[tuple[int, RunConfig]]] = {}
        self._seconds: dict[str, tuple[float, int]] = {}  # kind -> (total seconds, runs)
        self._heap: list[tuple[float, int, str]] = []
        self._waiting = 0
        self.add(configs)

    def __len__(self) -> int:
        """How many runs wait."""
        return self._waiting

    def add(self, configs: Iterable[RunConfig]) -> None:
        """Runs to start, after every run already waiting of the same expected time."""
        for config in configs:
            kind = self._kinds.setdefault(id(config), kind_of(config))
            queue = self._queues.setdefault(kind, deque())
            queue.append((next(self._order), config))
            self._waiting += 1
            if len(queue) == 1:
                self._push(kind)

    def finished(self, config: RunConfig, record: RunRecord) -> None:
        """Learn from a finished run."""
        kind = self._kinds[id(config)]
        total, runs = self._seconds.get(kind, (0.0, 0))
        self._seconds[kind] = (total + record.train_seconds + record.eval_seconds + record.compile_seconds, runs + 1)
        if self._queues.get(kind):
            self._push(kind)  # the kind's older entry is stale now

    def next(self) -> RunConfig:
        """Remove and return the run to start next (IndexError when none waits)."""
        while self._heap:
            negative, position, kind = heapq.heappop(self._heap)
            queue = self._queues[kind]
            if queue and queue[0][0] == position and -negative == self._expected(kind):
                _, config = queue.popleft()
                self._waiting -= 1
                if queue:
                    self._push(kind)
                return config
        raise IndexError("no run waits")

    def _expected(self, kind: str) -> float:
        total, runs = self._seconds.get(kind, (0.0, 0))
        return total / runs if runs else float("inf")

    def _push(self, kind: str) -> None:
        heapq.heappush(self._heap, (-self._expected(kind), self._queues[kind][0][0], kind))
