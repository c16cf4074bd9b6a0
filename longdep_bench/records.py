"""Result records: one JSON object per finished run, appended to a JSON Lines file."""

from __future__ import annotations

import json
import math
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import datetime, timezone
from enum import Enum
from typing import IO, Any, Iterator, Mapping

from longdep_bench.config import RUN_SETTINGS, RUNTIME_SETTINGS, RunConfig
from longdep_bench.errors import BenchError
from longdep_bench.specs import TaskSpec



class Status(str, Enum):
    """How a run ended. ``ok`` and ``diverged`` are results; ``error`` is a run to do again."""

    OK = "ok"
    DIVERGED = "diverged"  # a non-finite loss: a result of the architecture, not a failure of the suite
    ERROR = "error"  # an exception: the run is redone when the sweep is run again

    @property
    def final(self) -> bool:
        """Whether the run has a result (a rerun of the sweep skips it)."""
        return self is not Status.ERROR


@dataclass(frozen=True)
class RunRecord:
    """The result of one run, with everything needed to reproduce it: written and read as one JSON line.

    Fields with defaults were added after the first release; records written before lack them.
    """

    run_id: str
    arch: str
    task: str
    params: Mapping[str, Any]
    gap_param: str | None
    seed: int
    master_seed: int
    seeds: Mapping[str, int]
    status: Status
    solved: bool
    sequences_to_solve: int | None
    test_accuracy: float | None
    chance: float  # accuracy of the task's trivial baseline
    train_sequences: int
    train_seconds: float
    eval_seconds: float
    sequences_per_second: float | None
    n_params: int
    hyperparameters: Mapping[str, Any]  # the run settings (hidden, batch size, lr, ...) and architecture options
    curve: list
    env: Mapping[str, Any]  # versions, device and threads
    error: str | None
    finished_at: str
    test_loss: float | None = None  # mean training loss on the test set at the end of the run
    baseline: str | None = None  # what the trivial baseline is
    baseline_loss: float | None = None  # the baseline's loss, comparable with test_loss
    runtime: Mapping[str, Any] = field(default_factory=dict)  # the runtime settings and how the step ran
    task_revision: int = 0  # the task definition's revision (TaskSpec.revision) the run used
    milestones: Mapping[str, int] = field(default_factory=dict)  # criteria met on the way (e.g. ST1 before ST2)

    @classmethod
    def from_run(cls, config: RunConfig, task: TaskSpec, seeds: Mapping[str, int], outcome: Any,
                 train_seconds: float, eval_seconds: float, env: Mapping[str, Any]) -> "RunRecord":
        """Assemble the record of a finished run from its configuration and outcome."""
        def finite(value: float | None) -> float | None:
            return None if value is None or math.isnan(value) else value

        return cls(
            run_id=config.run_id(),
            arch=config.arch,
            task=config.task,
            task_revision=config.task_revision,
            params=dict(config.params),
            gap_param=task.gap_param,
            seed=config.seed,
            master_seed=config.master_seed,
            seeds=dict(seeds),
            status=Status(outcome.status),
            solved=outcome.sequences_to_solve is not None,
            sequences_to_solve=outcome.sequences_to_solve,
            test_accuracy=finite(outcome.test_accuracy),
            test_loss=finite(outcome.test_loss),
            chance=task.chance,
            baseline=task.baseline,
            baseline_loss=task.baseline_loss(config.task_params(task)) if task.baseline_loss else None,
            train_sequences=outcome.seen,
            train_seconds=round(train_seconds, 4),
            eval_seconds=round(eval_seconds, 4),
            sequences_per_second=round(outcome.seen / train_seconds, 1) if train_seconds > 0 else None,
            n_params=outcome.n_params,
            hyperparameters=config.hyperparameters(),
            curve=outcome.curve,
            env=dict(env),
            error=outcome.error,
            finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            runtime={**config.runtime(), **outcome.runtime},
            milestones=dict(outcome.milestones),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> "RunRecord":
        """A record from its JSON object; a BenchError naming ``where`` if it is not one.

        Keys this version does not know (written by a newer one) are ignored.
        """
        missing = REQUIRED_KEYS - data.keys()
        if missing:
            raise BenchError(f"{where}: record lacks {', '.join(sorted(missing))}")
        try:
            status = Status(data["status"])
        except ValueError:
            raise BenchError(f"{where}: unknown status {data['status']!r}") from None
        return cls(**{**{k: v for k, v in data.items() if k in FIELDS}, "status": status})

    def settings(self) -> dict[str, Any]:
        """The hyperparameters, with each run setting that the record's version lacked at its default."""
        return {**{s.name: s.default for s in RUN_SETTINGS}, **self.hyperparameters}

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(asdict(self), sort_keys=True, allow_nan=False)


FIELDS = frozenset(f.name for f in fields(RunRecord))
REQUIRED_KEYS = frozenset(f.name for f in fields(RunRecord)
                          if f.default is MISSING and f.default_factory is MISSING)  # type: ignore[misc]


def append_record(stream: IO[str], record: RunRecord) -> None:
    """Append one record as a line and push it to disk, so that a crash loses nothing written."""
    stream.write(record.to_json() + "\n")
    stream.flush()
    os.fsync(stream.fileno())


def open_for_append(path: str) -> IO[str]:
    """Open a results file for appending; a BenchError when it cannot be written.

    A file whose last line is incomplete (a write was interrupted) is refused: appending would
    glue the next record onto the broken line.
    """
    try:
        with open(path, "ab+") as probe:
            size = probe.seek(0, os.SEEK_END)
            probe.seek(max(0, size - 1))
            complete = size == 0 or probe.read(1) == b"\n"
        if not complete:
            raise BenchError(f"{path} ends with a truncated record (an interrupted write); "
                             "move the file aside or delete its last line, then run again")
        return open(path, "a", encoding="utf-8")
    except OSError as exc:
        raise BenchError(f"cannot write results to {path}: {exc.strerror}") from None


def set_aside_truncated_tail(path: str) -> str | None:
    """If the file's last line was cut by an interrupted write, move that fragment to a side file.

    The fragment is saved as ``PATH.truncated-TIMESTAMP`` (never dropped) and removed from the
    results file, whose complete records stay as they are. Returns the side file, or None.
    """
    try:
        with open(path, "rb+") as handle:
            data = handle.read()
            if not data or data.endswith(b"\n"):
                return None
            keep = data.rfind(b"\n") + 1
            side = f"{path}.truncated-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%f')}"
            with open(side, "xb") as saved:
                saved.write(data[keep:])
                saved.flush()
                os.fsync(saved.fileno())
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
            return side
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BenchError(f"cannot repair {path}: {exc.strerror}") from None


def config_from_record(record: RunRecord) -> RunConfig:
    """The configuration that produced a record (to resume a sweep or reproduce a run).

    Settings that the record's version did not have take their defaults; runtime settings come
    from ``runtime``, or from ``env`` in records written before it existed.
    """
    settings, runtime = record.settings(), {**record.env, **record.runtime}
    return RunConfig(
        arch=record.arch, task=record.task, task_revision=record.task_revision,
        arch_options=settings["arch_options"], params=record.params,
        seed=record.seed, master_seed=record.master_seed, hidden=settings["hidden"],
        **{s.name: settings[s.name] for s in RUN_SETTINGS},
        **{s.name: runtime.get(s.name, s.default) for s in RUNTIME_SETTINGS if s.name in runtime},
        arch_runtime=runtime.get("arch_runtime", {}),
    )


def read_records(path: str) -> Iterator[RunRecord]:
    """The records of a results file; a BenchError naming the line if one is corrupt or truncated."""
    try:
        handle = open(path, encoding="utf-8")
    except OSError as exc:
        raise BenchError(f"cannot read results file {path}: {exc.strerror}") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            truncated = not line.endswith("\n")
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                what = "truncated (a write was interrupted)" if truncated else f"not valid JSON ({exc.msg})"
                raise BenchError(f"{path}:{number}: record is {what}") from None
            if not isinstance(record, dict):
                raise BenchError(f"{path}:{number}: record is not a JSON object")
            yield RunRecord.from_dict(record, f"{path}:{number}")
