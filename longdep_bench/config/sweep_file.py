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

The keys are the names of :data:`longdep_bench.config.settings.SETTINGS`: a block may set the plan and
run settings, the top level any setting (runtime and execution settings, such as ``device``,
``jobs`` and ``output``, only there). Types and ranges are those of the settings.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from longdep_bench.api.params import suggest
from longdep_bench.config.options import Execution, SweepOptions
from longdep_bench.config.settings import BY_NAME, Scope, in_scopes
from longdep_bench.system.errors import BenchError
from longdep_bench.system.files import read_text


@dataclass(frozen=True)
class SweepFile:
    """A parsed sweep file: the run blocks (top-level block settings merged in) and the top-level
    runtime and execution settings."""

    runs: tuple[Mapping[str, Any], ...]
    top: Mapping[str, Any]


def _validated(table: Mapping[str, Any], where: str, per_block: bool) -> dict[str, Any]:
    values = {}
    for key, value in table.items():
        setting = BY_NAME.get(key)
        if setting is None:
            raise BenchError(f"{where}: unknown key {key!r}{suggest(key, list(BY_NAME))}")
        if per_block and not setting.scope.per_block:
            raise BenchError(f"{where}: {key!r} may only be set at the top level of the file, not in a [[run]] block")
        values[key] = setting.validate(value, f"{where}: {key}")
    return values


def load_sweep_file(path: str) -> SweepFile:
    """Parse and validate a sweep file; a BenchError naming the problem otherwise."""
    text = read_text(path, "sweep file").removeprefix("\ufeff")  # a byte-order mark, as some editors write
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"{path}: malformed TOML: {exc}") from None
    except RecursionError:
        raise BenchError(f"{path}: nested too deeply to be a sweep file") from None
    blocks = data.pop("run", [{}])
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks) or not blocks:
        raise BenchError(f"{path}: 'run' must be one or more [[run]] tables")
    top = _validated(data, path, per_block=False)
    shared = {k: v for k, v in top.items() if BY_NAME[k].scope.per_block}
    runs = tuple({**shared, **_validated(block, f"{path} [[run]] #{number}", per_block=True)}
                 for number, block in enumerate(blocks, start=1))
    return SweepFile(runs=runs, top={k: v for k, v in top.items() if not BY_NAME[k].scope.per_block})


def sweep_blocks(path: str | None, given: Mapping[str, Any]) -> tuple[list[SweepOptions], Execution]:
    """A sweep's blocks and its execution: the defaults, then the sweep file at ``path`` (if any),
    then the settings ``given`` on the command line (validated values by setting name)."""
    per_block = {k: v for k, v in given.items() if BY_NAME[k].scope.per_block}
    top = {k: v for k, v in given.items() if not BY_NAME[k].scope.per_block}
    blocks: list[dict[str, Any]] = [per_block]
    if path:
        sweep_file = load_sweep_file(path)
        blocks = [{**block, **per_block} for block in sweep_file.runs]
        top = {**sweep_file.top, **top}
    runtime = {s.name: top[s.name] for s in in_scopes(Scope.RUNTIME) if s.name in top}
    execution = Execution(**{s.name: top[s.name] for s in in_scopes(Scope.EXECUTION) if s.name in top})
    return [SweepOptions(**block, **runtime) for block in blocks], execution
