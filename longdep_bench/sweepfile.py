"""Sweeps described in TOML: top-level settings apply to every ``[[run]]`` block, which adds its own.

Example (see ``configs/``)::

    seeds = 5
    max_sequences = 60000
    output = "results.jsonl"
    jobs = 2

    [[run]]
    archs = ["rnn", "lstm", "gru"]
    tasks = ["task6a"]
    gaps = [40, 100]

    [[run]]                       # an ablation, with its own settings
    archs = ["lstm:init=default", "lstm:init=chrono"]
    gaps = [40]

Keys of a block: the fields of :class:`SweepOptions` (archs, tasks, params, gaps, seeds,
master_seed, hidden, batch_size, lr, clip, max_sequences, threshold, match_params). Top-level
keys: those, plus the execution settings ``output``, ``jobs``, ``threads``, ``device``,
``executor`` and ``scheduler``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from typing import Any, Mapping

from longdep_bench.errors import BenchError
from longdep_bench.params import suggest
from longdep_bench.sweep import SweepOptions

RUN_KEYS = tuple(f.name for f in dataclasses.fields(SweepOptions) if f.name not in ("device", "threads"))
EXECUTION_KEYS = ("output", "jobs", "threads", "device", "executor", "scheduler")


@dataclass(frozen=True)
class SweepFile:
    """A parsed sweep file: the run blocks (settings merged) and the execution settings."""

    runs: tuple[Mapping[str, Any], ...]
    execution: Mapping[str, Any]


def _check_keys(table: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise BenchError(f"{where}: unknown key {key!r}{suggest(key, list(allowed))}")


_TYPES: Mapping[str, Any] = {
    "archs": [str], "tasks": [str], "params": [str], "gaps": [int],
    "seeds": int, "master_seed": int, "hidden": int, "batch_size": int, "lr": float, "clip": float,
    "max_sequences": int, "threshold": float, "match_params": int,
    "output": str, "jobs": int, "threads": int, "device": str, "executor": str, "scheduler": str,
}


def _has_type(value: Any, expected: Any) -> bool:
    if isinstance(expected, list):
        return isinstance(value, list) and all(_has_type(v, expected[0]) for v in value)
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float)) if expected is float else isinstance(value, expected)


def _check_types(table: Mapping[str, Any], where: str) -> None:
    for key, value in table.items():
        expected = _TYPES[key]
        if not _has_type(value, expected):
            name = f"a list of {expected[0].__name__}" if isinstance(expected, list) else expected.__name__
            raise BenchError(f"{where}: {key} = {value!r} should be {name}")


def load_sweep_file(path: str) -> SweepFile:
    """Parse and validate a sweep file; a BenchError naming the problem otherwise."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise BenchError(f"cannot read sweep file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"{path}: malformed TOML: {exc}") from None
    blocks = data.pop("run", [{}])
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks) or not blocks:
        raise BenchError(f"{path}: 'run' must be one or more [[run]] tables")
    _check_keys(data, RUN_KEYS + EXECUTION_KEYS, path)
    _check_types(data, path)
    execution = {k: data.pop(k) for k in EXECUTION_KEYS if k in data}
    runs = []
    for number, block in enumerate(blocks, start=1):
        where = f"{path} [[run]] #{number}"
        _check_keys(block, RUN_KEYS, where)
        _check_types(block, where)
        runs.append({**data, **block})
    return SweepFile(runs=tuple(runs), execution=execution)
