"""Result records: one JSON object per finished run, appended to a JSON Lines file."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import IO, Any, Iterator, Mapping

from longdep_bench.config import RunConfig
from longdep_bench.errors import BenchError
from longdep_bench.specs import TaskSpec

STATUSES = ("ok", "diverged", "error")


@dataclass(frozen=True)
class RunRecord:
    """The result of one run, with everything needed to reproduce it."""

    run_id: str
    arch: str
    task: str
    params: Mapping[str, Any]
    gap_param: str | None
    seed: int
    master_seed: int
    seeds: Mapping[str, int]
    status: str
    solved: bool
    sequences_to_solve: int | None
    test_accuracy: float | None
    test_loss: float | None  # mean training loss on the test set at the end of the run
    chance: float  # accuracy of the task's trivial baseline
    baseline: str  # what that baseline is
    baseline_loss: float | None  # the baseline's loss, comparable with test_loss
    train_sequences: int
    train_seconds: float
    eval_seconds: float
    sequences_per_second: float | None
    n_params: int
    hyperparameters: Mapping[str, Any]
    curve: list
    env: Mapping[str, Any]
    error: str | None
    finished_at: str

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
            params=dict(config.params),
            gap_param=task.gap_param,
            seed=config.seed,
            master_seed=config.master_seed,
            seeds=dict(seeds),
            status=outcome.status,
            solved=outcome.sequences_to_solve is not None,
            sequences_to_solve=outcome.sequences_to_solve,
            test_accuracy=finite(outcome.test_accuracy),
            test_loss=finite(outcome.test_loss),
            chance=task.chance,
            baseline=task.baseline,
            baseline_loss=task.baseline_loss(config.params) if task.baseline_loss else None,
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
        )

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(asdict(self), sort_keys=True, allow_nan=False)


# Keys every record must have; records of older versions may lack the others (read with .get).
REQUIRED_KEYS = frozenset(RunRecord.__dataclass_fields__) - {"test_loss", "baseline", "baseline_loss"}


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


def config_from_record(record: Mapping[str, Any]) -> RunConfig:
    """The configuration that produced a record (to resume a sweep or reproduce a run)."""
    hyper = record["hyperparameters"]
    return RunConfig(
        arch=record["arch"], task=record["task"], arch_options=hyper["arch_options"], params=record["params"],
        seed=record["seed"], master_seed=record["master_seed"], hidden=hyper["hidden"],
        batch_size=hyper["batch_size"], lr=hyper["lr"], clip=hyper["clip"], max_sequences=hyper["max_sequences"],
        threshold=hyper["threshold"], match_params=hyper.get("match_params"), test_size=hyper["test_size"],
        check_every=hyper["check_every"],
        device=record["env"]["device"], threads=record["env"]["threads"],
    )


def read_records(path: str) -> Iterator[dict[str, Any]]:
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
            missing = REQUIRED_KEYS - record.keys()
            if missing:
                raise BenchError(f"{path}:{number}: record lacks {', '.join(sorted(missing))}")
            if record["status"] not in STATUSES:
                raise BenchError(f"{path}:{number}: unknown status {record['status']!r}")
            yield record
