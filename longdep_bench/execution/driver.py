"""Driving a sweep against its results file: skip what is recorded, run the rest, append as runs finish.

A results file may hold several sweeps: runs whose id is already recorded as finished (``ok`` or
``diverged``) are skipped, so rerunning a command resumes it; runs recorded as ``error`` are run
again and the newest record counts. With ``strict`` (``--resume``) the file must hold nothing but
runs of this very sweep, so that a changed setting cannot silently mix two experiments.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from longdep_bench.api.params import resolve_params
from longdep_bench.api.specs import ExecutorRequest
from longdep_bench.config.options import Execution
from longdep_bench.config.run_config import RunConfig
from longdep_bench.config.settings import AUTO
from longdep_bench.discovery.registry import Registry
from longdep_bench.execution.scheduler import Scheduler
from longdep_bench.planning.plan import parse_ref
from longdep_bench.results.records import (
    RunRecord,
    append_record,
    code_difference,
    code_key,
    new_records,
    open_for_append,
    read_records,
)
from longdep_bench.system.errors import BenchError, EnvironmentFailure, Interrupted
from longdep_bench.system.files import Claims, Follower, file_size, set_aside_truncated_tail
from longdep_bench.system.signals import mark_driver, raise_if_received, received
from longdep_bench.training.loop import train


class WorkerLost(EnvironmentFailure):
    """A worker or the executor died (killed, out of memory, a lost scheduler) and took its runs with it."""


def latest_per_run(records: Iterable[RunRecord], by_code: bool = False) -> list[RunRecord]:
    """One record per run id, the newest (a run that erred and was run again counts once); with
    ``by_code``, one per run id and code (a run trained again by changed plugin code keeps both:
    reports show the versions apart)."""
    latest: dict[tuple[str, str], RunRecord] = {}
    for record in records:
        key = (record.run_id, code_key(record.code) if by_code else "")
        latest.pop(key, None)
        latest[key] = record
    return list(latest.values())


def current_code(registry: Registry, config: RunConfig) -> dict[str, dict[str, str]]:
    """The code that would train a run now: its architecture's and its task's plugin."""
    return {"architecture": registry.entry("architecture", config.arch).code(),
            "task": registry.entry("task", config.task).code()}


def _difference(record: RunRecord, configs: Sequence[RunConfig]) -> str:
    """Why a recorded run is not one of the planned runs, in a few words."""
    same_run = [c for c in configs if (c.arch, c.task, c.seed) == (record.arch, record.task, record.seed)
                and dict(c.params) == record.params]
    if not same_run:
        params = ",".join(f"{k}={v}" for k, v in record.params.items())
        return (f"it holds {record.arch} on {record.task}[{params}] seed {record.seed}, "
                "which this sweep does not plan")
    planned = same_run[0].hyperparameters()
    recorded = record.hyperparameters
    changed = [f"{k} {recorded.get(k)!r} there, {planned[k]!r} now" for k in planned
               if json.dumps(recorded.get(k), sort_keys=True) != json.dumps(planned[k], sort_keys=True)]
    if record.master_seed != same_run[0].master_seed:
        changed.append(f"master seed {record.master_seed} there, {same_run[0].master_seed} now")
    return "it was written with different settings: " + "; ".join(changed or ["(run ids differ)"])


def check_same_sweep(path: str, records: Sequence[RunRecord], configs: Sequence[RunConfig]) -> None:
    """--resume: every record in the file must be one of the planned runs."""
    planned = {config.run_id() for config in configs}
    for record in records:
        if record.run_id not in planned:
            raise BenchError(f"--resume: {path} is not this sweep's results file: {_difference(record, configs)}; "
                             "drop --resume to add these runs to it, or choose another -o")


def resolve_jobs(jobs: int | str, runs: int, device: str, devices: Sequence[int] = (),
                 auto: Callable[[int, str, Sequence[int], Mapping[str, Any]], int] | None = None,
                 options: Mapping[str, Any] | None = None) -> int:
    """Runs at once: a number as given; 'auto' as the executor's ``auto`` says (given its resolved
    ``options``), else every run."""
    if jobs != AUTO:
        return int(jobs)
    return auto(runs, device, devices, options or {}) if auto else runs


class Coordination:
    """What other sweeps on the same results file do: runs they have in flight (claims) and runs they
    recorded since this sweep read the file. A run claimed elsewhere waits; one recorded elsewhere is
    not run again."""

    POLL_SECONDS = 2.0

    def __init__(self, claims: Claims, follower: Follower):
        self.claims, self.follower = claims, follower
        self.recorded: set[str] = set()
        self.records: list[RunRecord] = []  # what other sweeps recorded meanwhile

    def take(self, config: RunConfig) -> bool:
        """Claim a run; False when another sweep trains it or has recorded it meanwhile."""
        run_id = config.run_id()
        if run_id in self.recorded or not self.claims.take(run_id):
            return False
        self.follow()
        if run_id in self.recorded:  # finished elsewhere while we looked
            self.claims.release(run_id)
            return False
        return True

    def release(self, config: RunConfig) -> None:
        """Give a finished run's claim back."""
        self.claims.release(config.run_id())

    def follow(self) -> None:
        """Read the records that other sweeps appended."""
        records = new_records(self.follower)
        self.records += records
        self.recorded |= {r.run_id for r in latest_per_run(records) if r.status.final}

    def skipped(self, config: RunConfig) -> bool:
        """Whether a run waiting on another sweep's claim was recorded there (else it is tried again)."""
        self.follow()
        return config.run_id() in self.recorded


def execute(configs: Sequence[RunConfig], executor: concurrent.futures.Executor | None, jobs: int = 1,
            coordination: Coordination | None = None) -> Iterator[RunRecord]:
    """Train every configuration and yield records as they finish (in completion order).

    With an executor, at most ``jobs`` runs are in flight; the next run to start is chosen by
    :class:`~longdep_bench.execution.scheduler.Scheduler`. Every run trains the same either way: only the
    order changes. With
    ``coordination``, a run that another sweep on the same file trains waits for it, and is not run
    again if that sweep records it.
    """
    scheduler = Scheduler(configs)
    running: dict[concurrent.futures.Future, RunConfig] = {}
    deferred: list[RunConfig] = []
    while scheduler or running or deferred:
        raise_if_received()
        while scheduler and len(running) < max(1, jobs):
            config = scheduler.next()
            if coordination is not None and not coordination.take(config):
                deferred.append(config)
                continue
            if executor is None:
                record = train(config)
                scheduler.finished(config, record)
                yield record
                if coordination is not None:
                    coordination.release(config)
                continue
            running[executor.submit(train, config)] = config
        if not running:
            if deferred:  # only runs that other sweeps train are left: wait for them
                time.sleep(Coordination.POLL_SECONDS)
                scheduler.add(c for c in deferred if coordination is None or not coordination.skipped(c))
                deferred.clear()
            continue
        done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
        for future in done:
            config = running.pop(future)
            try:
                record = future.result()
            except BrokenProcessPool as exc:
                raise WorkerLost(f"a worker process died ({exc}); the runs recorded so far stay") from None
            except (Exception, concurrent.futures.CancelledError) as exc:  # train() returns every run's failure
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise WorkerLost(f"the executor failed ({type(exc).__name__}{': ' + message if message else ''}); "
                                 "the runs recorded so far stay") from None
            scheduler.finished(config, record)
            yield record
            if coordination is not None:
                coordination.release(config)


def run_sweep(configs: Sequence[RunConfig], execution: Execution, registry: Registry, strict: bool,
              notify: Callable[[str], None], progress_factory: Callable[[int, int], Any]) -> list[RunRecord]:
    """Run the configurations not yet recorded; return the sweep's records (old and new, newest per run).

    ``notify`` receives one-line messages; ``progress_factory(total, parallel)`` makes the progress
    display, which gets ``finished(record)`` and ``close()``.
    """
    name, raw = parse_ref(execution.executor)
    executor_spec = registry.executor(name)
    executor_options = resolve_params(executor_spec.options, raw, f"executor {name!r}")
    side = set_aside_truncated_tail(execution.output)
    if side:
        notify(f"{execution.output} ended with a record cut by an interrupted write: saved it to {side} "
               "and removed it from the file; that run will be done again")
    stream = open_for_append(execution.output)  # fails early on an unwritable path
    follower = None
    try:
        start = file_size(execution.output)  # records appended after this by other sweeps are followed
        existing = list(read_records(execution.output))
        if strict:
            check_same_sweep(execution.output, existing, configs)
        newest = {r.run_id: r for r in existing}  # the newest record of each run counts
        todo, stale = [], []
        for config in configs:
            record = newest.get(config.run_id())
            changed = code_difference(record.code, current_code(registry, config)) if record else None
            if record is None or not record.status.final or changed:
                todo.append(config)
            if record is not None and record.status.final and changed:
                stale.append(changed)
        if stale and strict:
            raise BenchError(f"--resume: {len(stale)} runs in {execution.output} were trained by other code "
                             f"({stale[0]}); drop --resume to train them again beside the old records")
        if stale:
            notify(f"{len(stale)} runs in {execution.output} were trained by other code ({stale[0]}): training them "
                   "again; the old records stay, and reports show the two apart")
        if len(todo) < len(configs):
            notify(f"{len(configs) - len(todo)} of {len(configs)} runs already recorded in {execution.output}; "
                   f"running the other {len(todo)}")
        new: list[RunRecord] = []
        device = todo[0].device if todo else "cpu"
        jobs = resolve_jobs(execution.jobs, len(todo), device, execution.devices, executor_spec.auto_jobs,
                            executor_options)
        progress = progress_factory(len(todo), jobs)
        request = ExecutorRequest(jobs=jobs, runs=len(todo), device=device, options=executor_options,
                                  devices=execution.devices)
        mark_driver()  # the workers started from here check that this process is their parent
        follower = Follower(execution.output, start, "results file")
        coordination = Coordination(Claims(stream), follower)
        try:
            with executor_spec.open(request) as executor:
                warned: set[str] = set()
                for record in execute(todo, executor, jobs, coordination):
                    # how many runs shared the machine: a run's speed depends on it
                    record = dataclasses.replace(record, runtime={**record.runtime, "jobs": jobs})
                    append_record(stream, record)
                    new.append(record)
                    progress.finished(record)
                    fallback = record.runtime.get("graph_fallback")
                    if fallback and record.arch not in warned:
                        warned.add(record.arch)
                        notify(f"warning: {record.arch}: {fallback} (its records say so)")
                    raise_if_received()  # the record is written: stop here if asked to
                raise_if_received()  # a request to stop that came during the last run
        except (KeyboardInterrupt, Interrupted) as stop:
            progress.close()
            raise SweepInterrupted(len(new), len(todo), getattr(stop, "signum", signal.SIGINT)) from None
        except WorkerLost:
            signum = received()
            if signum is None:
                raise
            progress.close()  # the signal reached the workers too: an interruption, not a failure
            raise SweepInterrupted(len(new), len(todo), signum) from None
        progress.close()
        coordination.follow()  # the records other sweeps wrote meanwhile
    finally:
        stream.close()
        if follower is not None:
            follower.close()
    planned = {config.run_id() for config in configs}
    return latest_per_run([r for r in [*existing, *coordination.records, *new] if r.run_id in planned], by_code=True)


class SweepInterrupted(Exception):
    """A stopping signal (Ctrl-C, SIGTERM, SIGHUP) during a sweep; records already written stay."""

    def __init__(self, recorded: int, planned: int, signum: int = signal.SIGINT):
        name = signal.Signals(signum).name
        super().__init__(f"interrupted ({name}): {recorded} of {planned} runs recorded")
        self.recorded, self.planned, self.signum = recorded, planned, signum

    @property
    def exit_code(self) -> int:
        """128 + the signal's number."""
        return 128 + self.signum
