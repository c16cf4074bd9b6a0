"""Result records: one JSON object per finished run, appended to a JSON Lines file."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import UTC, datetime
from enum import Enum
from typing import Any

try:
    import orjson
except ImportError:  # the fast decoder is optional
    orjson = None  # type: ignore[assignment]

from longdep_bench.api.specs import TaskSpec
from longdep_bench.config.run_config import RUN_SETTINGS, RUNTIME_SETTINGS, RunConfig
from longdep_bench.config.settings import FIRST_RELEASE
from longdep_bench.system.errors import BenchError
from longdep_bench.system.files import Appender, Follower, failure, read_lines, regular_or_absent


class Status(str, Enum):
    """How a run ended. ``ok`` and ``diverged`` are results; ``error`` is a run to do again."""

    OK = "ok"
    DIVERGED = "diverged"  # a non-finite loss: a result of the architecture, not a failure of the suite
    ERROR = "error"  # an exception: the run is redone when the sweep is run again

    @property
    def final(self) -> bool:
        """Whether the run has a result (a rerun of the sweep skips it)."""
        return self is not Status.ERROR


def _number(value: Any) -> bool:
    """A finite float, or an int within float range (a 310-digit integer is not a number a table can use)."""
    kind = type(value)
    return (kind is float and math.isfinite(value)) or (
        kind is int and -sys.float_info.max <= value <= sys.float_info.max)


_KINDS: Mapping[str, Any] = {
    "str": lambda value: isinstance(value, str),
    "int": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "float": _number,
    "bool": lambda value: isinstance(value, bool),
    "dict": lambda value: isinstance(value, dict),
    "list": lambda value: isinstance(value, list),
    "scalar": lambda value: isinstance(value, (str, bool)) or _number(value),
}


def _is(kind: str, value: Any) -> bool:
    return _KINDS[kind](value)


def _expect(kind: str, optional: bool = False, keys: str | None = None, values: str | None = None,
            low: float | None = None, high: float | None = None) -> Any:
    """A checker of one field: None when ``value`` is a ``kind`` (or None where optional), with the
    keys and values of a dict of the kinds given; else what is wrong, in a few words."""
    test, test_value = _KINDS[kind], _KINDS[values] if values is not None else None  # looked up once

    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        if not test(value):
            return f"expected {'a finite number' if kind == 'float' else kind}{' or null' if optional else ''}, " \
                   f"got {json.dumps(value, default=str)[:60]}"
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"in [{low}, {high}]"
            return f"expected a number {bounds}, got {json.dumps(value)[:60]}"
        if test_value is not None and not all(map(test_value, value.values())):
            bad = next(k for k, v in value.items() if not test_value(v))
            return f"{bad!r} holds {json.dumps(value[bad], default=str)[:60]}, not a {values}"
        return None
    return check


def _curve(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(point, list) and len(point) == 2 and _is("int", point[0])
                                              and _number(point[1]) for point in value):
        return f"expected a list of [sequences, accuracy] pairs, got {json.dumps(value, default=str)[:60]}"
    return None


def _code(value: Any) -> str | None:
    return _expect("dict", values="dict")(value) or next(
        (f"{kind!r}: {problem}" for kind, part in value.items()
         for problem in [_expect("dict", values="str")(part)] if problem), None)


def _field(check: Any, help_: str, **default: Any) -> Any:
    """A record field with its check and its help (the documentation's table of record fields is
    made from the help, and reading a record runs the check)."""
    return field(metadata={"check": check, "help": help_}, **default)


@dataclass(frozen=True)
class RunRecord:
    """The result of one run, with everything needed to reproduce it: written and read as one JSON line.

    Fields with defaults were added after the first release; records written before lack them.
    """

    run_id: str = _field(_expect("str"),
        "a hash of the configuration (architecture, options, task, parameters, seed, run settings): the key "
        "that resuming, skipping and reports use")
    arch: str = _field(_expect("str"), "the architecture's name")
    task: str = _field(_expect("str"), "the task's name")
    params: Mapping[str, Any] = _field(_expect("dict", values="scalar"),
        "the task's parameters (those added after a release are left out at their default)")
    gap_param: str | None = _field(_expect("str", True), "the task's lag parameter, which tables put in columns")
    seed: int = _field(_expect("int"), "the run's index in its sweep")
    master_seed: int = _field(_expect("int"), "the sweep's master seed")
    seeds: Mapping[str, int] = _field(_expect("dict", values="int"),
        "the data, test-set and initialisation seeds derived from (master_seed, seed)")
    status: Status = _field(_expect("str"), "ok, diverged (a non-finite loss: a result) or error (a run to do again)")
    solved: bool = _field(_expect("bool"), "whether the run met its criterion")
    sequences_to_solve: int | None = _field(_expect("int", True, low=0), "training sequences when it did (null: not)")
    test_accuracy: float | None = _field(_expect("float", True, low=0, high=1), "the final accuracy on the test set")
    chance: float = _field(_expect("float", low=0, high=1), "the accuracy of the task's trivial baseline")
    train_sequences: int = _field(_expect("int", low=0),
        "training sequences seen (the budget, or when the run stopped)")
    train_seconds: float = _field(_expect("float", low=0),
        "seconds of training, the first steps left out (see compile_seconds)")
    eval_seconds: float = _field(_expect("float", low=0),
        "seconds of evaluation (success checks, learning curve, test set)")
    sequences_per_second: float | None = _field(_expect("float", True, low=0),
        "training speed: the sequences after the first steps over train_seconds")
    n_params: int = _field(_expect("int", low=0), "trainable parameters")
    hyperparameters: Mapping[str, Any] = _field(_expect("dict"),
        "hidden size, architecture options and every run setting")
    curve: list = _field(_curve,
        "[sequences, accuracy] points: the first 512 test sequences at 2048, 4096, ... and every test-set "
        "evaluation")
    env: Mapping[str, Any] = _field(_expect("dict"),
        "versions (longdep-bench, Python, torch, numba, NumPy; CUDA, cuDNN), platform, device and its name, "
        "threads")
    error: str | None = _field(_expect("str", True),
        "why the run failed (status error), naming the plugin where it is one's")
    finished_at: str = _field(_expect("str"), "when the run finished (UTC)")
    test_loss: float | None = _field(_expect("float", True),
        "the final mean training loss on the test set", default=None)
    baseline: str | None = _field(_expect("str", True), "what that baseline is", default=None)
    baseline_loss: float | None = _field(_expect("float", True), "its loss, comparable with test_loss", default=None)
    runtime: Mapping[str, Any] = _field(_expect("dict"),
        "the runtime settings and options (device, threads, kernel, ...) and how the step ran (graphed, "
        "kernel, learning rule, jobs at once)", default_factory=dict)
    task_revision: int = _field(_expect("int"), "the revision of the task's definition", default=0)
    milestones: Mapping[str, int] = _field(_expect("dict", values="int"),
        "criteria met on the way to the one that solved it (the 1997 paper's ST1 as accuracy)",
        default_factory=dict)
    code: Mapping[str, Mapping[str, str]] = _field(_code,
        "the plugins that trained it: plugin, distribution, version and source hash of its architecture's and "
        "task's", default_factory=dict)
    compile_seconds: float = _field(_expect("float", low=0),
        "seconds of the contract checks and first steps: compilation, warm-up, CUDA-graph capture", default=0.0)
    absent: frozenset = field(default=frozenset(), compare=False, repr=False)  # fields the stored record lacked

    @classmethod
    def from_run(cls, config: RunConfig, task: TaskSpec, seeds: Mapping[str, int], outcome: Any,
                 train_seconds: float, eval_seconds: float, env: Mapping[str, Any],
                 code: Mapping[str, Mapping[str, str]] | None = None) -> RunRecord:
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
            sequences_per_second=(round((outcome.seen - outcome.warm_sequences) / train_seconds, 1)
                                  if train_seconds > 0 and outcome.seen > outcome.warm_sequences else None),
            n_params=outcome.n_params,
            hyperparameters=config.hyperparameters(),
            curve=outcome.curve,
            env=dict(env),
            error=outcome.error,
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
            runtime={**config.runtime(), **outcome.runtime},
            milestones=dict(outcome.milestones),
            code={kind: dict(value) for kind, value in (code or {}).items()},
            compile_seconds=round(getattr(outcome, "compile_seconds", 0.0), 4),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> RunRecord:
        """A record from its JSON object, every field checked by type (and the settings by value); a
        BenchError naming ``where`` and the field if it is not one.

        Keys this version does not know (written by a newer one) are ignored; fields added after a
        record was written take their defaults and are listed in ``absent``.
        """
        missing = REQUIRED_KEYS - data.keys()
        if missing:
            raise BenchError(f"{where}: record lacks {', '.join(sorted(missing))}")
        for name in FIELDS & data.keys():
            problem = _SCHEMA[name](data[name])
            if problem:
                raise BenchError(f"{where}: field {name}: {problem}")
        try:
            status = Status(data["status"])
        except ValueError:
            raise BenchError(f"{where}: field status: unknown status {data['status']!r:.60}") from None
        if data["solved"] != (data["sequences_to_solve"] is not None):
            raise BenchError(f"{where}: field solved is {json.dumps(data['solved'])} but sequences_to_solve is "
                             f"{json.dumps(data['sequences_to_solve'])}: a solved run has its count, an unsolved none")
        _check_settings(data["hyperparameters"], data.get("runtime", {}), where)
        known = {k: v for k, v in data.items() if k in FIELDS}
        return cls(**{**known, "status": status, "absent": frozenset(FIELDS - data.keys())})

    def settings(self) -> dict[str, Any]:
        """The hyperparameters, with each run setting that the record's version lacked at its default."""
        return {**{s.name: s.default for s in RUN_SETTINGS}, **self.hyperparameters}

    def to_json(self) -> str:
        """One line of JSON."""
        data = asdict(self)
        del data["absent"]
        return json.dumps(data, sort_keys=True, allow_nan=False)


FIELDS = frozenset(f.name for f in fields(RunRecord)) - {"absent"}
REQUIRED_KEYS = frozenset(f.name for f in fields(RunRecord)
                          if f.default is MISSING and f.default_factory is MISSING)  # type: ignore[misc]
FIELD_HELP = {f.name: f.metadata["help"] for f in fields(RunRecord) if f.name in FIELDS}  # what each field holds
_SCHEMA = {f.name: f.metadata["check"] for f in fields(RunRecord) if f.name in FIELDS}


# What every record's hyperparameters hold: the settings of the first release (later ones may be absent).
FIRST_SETTINGS = frozenset({"hidden", "arch_options"} | {s.name for s in RUN_SETTINGS if s.since == FIRST_RELEASE})


_VALID: set[tuple[str, type, Any]] = set()  # (setting, type, value) that passed: records repeat their settings


def _check_settings(hyperparameters: Mapping[str, Any], runtime: Mapping[str, Any], where: str) -> None:
    """The settings a record holds, each valid as the command line would take it."""
    def validate(setting: Any, value: Any, field: str) -> None:
        key: tuple[str, type, Any] | None = (setting.name, type(value), value)
        try:
            if key in _VALID:
                return
        except TypeError:  # an unhashable value (a list): validated every time
            key = None
        try:
            setting.validate(value, field)
        except BenchError as exc:
            raise BenchError(f"{where}: {exc}") from None
        if key is not None:
            _VALID.add(key)

    missing = sorted(FIRST_SETTINGS - hyperparameters.keys())
    if missing:
        raise BenchError(f"{where}: field hyperparameters lacks {', '.join(missing)}")
    if not _is("int", hyperparameters.get("hidden")) or hyperparameters["hidden"] < 1:
        raise BenchError(f"{where}: field hyperparameters.hidden: expected a positive integer, got "
                         f"{json.dumps(hyperparameters.get('hidden'), default=str)[:60]}")
    options = hyperparameters.get("arch_options", {})
    problem = _expect("dict", values="scalar")(options)
    if problem:
        raise BenchError(f"{where}: field hyperparameters.arch_options: {problem}")
    for setting in RUN_SETTINGS:
        if setting.name in hyperparameters:
            validate(setting, hyperparameters[setting.name], f"field hyperparameters.{setting.name}")
    for setting in RUNTIME_SETTINGS:
        if setting.name in runtime:
            validate(setting, runtime[setting.name], f"field runtime.{setting.name}")
    problem = _expect("dict", values="scalar")(runtime.get("arch_runtime", {}))
    if problem:
        raise BenchError(f"{where}: field runtime.arch_runtime: {problem}")


CODE_FIELDS = ("distribution", "version", "source")  # what tells two versions of a plugin's code apart
BUILT_IN = "longdep-bench"  # the distribution of the built-in plugins


def code_identity(part: Mapping[str, str]) -> list[Any]:
    """What tells two versions of one plugin's code apart: the distribution, version and source hash;
    for a built-in plugin its source hash alone (the package's version changes with every release,
    the plugin module only when it is edited)."""
    if part.get("distribution") == BUILT_IN:
        return [BUILT_IN, part.get("source")]
    return [part.get(k) for k in CODE_FIELDS]


def code_key(code: Mapping[str, Mapping[str, str]]) -> str:
    """The code that trained a run, as a key (see :func:`code_identity`) of the plugins of its
    architecture and task ("" for a record written before records said so)."""
    return json.dumps({kind: code_identity(part) for kind, part in sorted(code.items())}) if code else ""


def code_difference(recorded: Mapping[str, Mapping[str, str]], now: Mapping[str, Mapping[str, str]]) -> str | None:
    """How the code that trained a record differs from the code installed now, in a few words (None:
    the same, or a record too old to say)."""
    if not recorded:
        return None
    changes = []
    for kind in sorted(set(recorded) | set(now)):
        before, after = recorded.get(kind, {}), now.get(kind, {})
        if code_identity(before) != code_identity(after):
            versions = before.get("version") != after.get("version") and after.get("distribution") != BUILT_IN
            what = "version" if versions else "source"
            changes.append(f"{kind} plugin {after.get('plugin') or before.get('plugin')} "
                           f"({after.get('distribution') or before.get('distribution')}) {what} "
                           f"{before.get(what, '?')} there, {after.get(what, '?')} now")
    return "; ".join(changes) or None


def append_record(results: Appender, record: RunRecord) -> None:
    """Append one record as a line and push it to disk, so that a crash loses nothing written."""
    results.append(record.to_json())


def open_for_append(path: str) -> Appender:
    """Open a results file for appending; a BenchError when it cannot be written.

    A file whose last line is incomplete (a write was interrupted) is refused: appending would
    glue the next record onto the broken line (:func:`longdep_bench.system.files.set_aside_truncated_tail`
    repairs it first).
    """
    if regular_or_absent(path, "write results to"):
        try:
            with open(path, "rb") as probe:
                size = probe.seek(0, 2)
                probe.seek(max(0, size - 1))
                complete = size == 0 or probe.read(1) == b"\n"
        except OSError as exc:
            raise failure("write results to", path, exc) from None
        if not complete:
            raise BenchError(f"{path} ends with a truncated record (an interrupted write); "
                             "move the file aside or delete its last line, then run again")
    return Appender(path)


def config_from_record(record: RunRecord) -> RunConfig:
    """The configuration that produced a record (to resume a sweep or reproduce a run).

    Settings that the record's version did not have take their defaults; runtime settings come
    from ``runtime``, or from ``env`` in records written before it existed.
    """
    settings, runtime = record.settings(), {**record.env, **record.runtime}
    for setting in RUNTIME_SETTINGS:  # env is not checked when a record is read: a bad value stops here
        if setting.name in runtime:
            where = "runtime" if setting.name in record.runtime else "env"
            setting.validate(runtime[setting.name], f"run {record.run_id}: field {where}.{setting.name}")
    return RunConfig(
        arch=record.arch, task=record.task, task_revision=record.task_revision,
        arch_options=settings["arch_options"], params=record.params,
        seed=record.seed, master_seed=record.master_seed, hidden=settings["hidden"],
        **{s.name: settings[s.name] for s in RUN_SETTINGS},
        **{s.name: runtime.get(s.name, s.default) for s in RUNTIME_SETTINGS if s.name in runtime},
        arch_runtime=runtime.get("arch_runtime", {}),
    )


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _loads(line: str) -> Any:
    """One JSON value, strictly: NaN and Infinity are refused (orjson where installed, 3-4x faster, which
    also refuses lone surrogates and integers beyond 64 bits; else the standard library)."""
    if orjson is not None:
        return orjson.loads(line)
    return json.loads(line, parse_constant=_no_constants)


def parse_record(line: str, where: str) -> RunRecord | None:
    """The record of one results-file line (None for a blank line); a BenchError naming ``where``
    (file:line) and the field when it is not one."""
    if not line.strip():
        return None
    truncated = not line.endswith("\n")
    try:
        data = _loads(line)
    except RecursionError:
        raise BenchError(f"{where}: record is nested too deeply to be a record") from None
    except ValueError as exc:
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        if "recursion" in message or "depth" in message:  # orjson's limit on nesting
            raise BenchError(f"{where}: record is nested too deeply to be a record") from None
        what = "truncated (a write was interrupted)" if truncated else f"not valid JSON ({message})"
        raise BenchError(f"{where}: record is {what}") from None
    if not isinstance(data, dict):
        raise BenchError(f"{where}: record is not a JSON object")
    return RunRecord.from_dict(data, where)


def read_records(path: str) -> Iterator[RunRecord]:
    """The records of a results file, streamed; a BenchError naming the line (and the field) if one
    is corrupt, truncated or of another schema."""
    for number, line in read_lines(path, "results file"):
        record = parse_record(line, f"{path}:{number}")
        if record is not None:
            yield record


def new_records(follower: Follower) -> list[RunRecord]:
    """The records appended to a results file since the follower last looked."""
    records = [parse_record(line, f"{follower.path} (appended meanwhile)") for line in follower.new_lines()]
    return [r for r in records if r is not None]
