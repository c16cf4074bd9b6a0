"""Train one recorded run again from its record and compare the results (``longdep-bench reproduce``).

A record holds everything a run's results depend on: the configuration, the seeds, the task's
revision and the code's and libraries' versions. On the same machine with the same versions a
run reproduces exactly; across CPU models (oneDNN picks other kernels), libraries or devices
float rounding differs, and single runs may reach different sequences-to-solve. The comparison
therefore says which results changed and which parts of the environment did.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from longdep_bench.config.run_config import RunConfig, derive_seeds
from longdep_bench.execution.driver import latest_per_run
from longdep_bench.results.records import RunRecord, code_difference, code_identity, config_from_record
from longdep_bench.system.errors import BenchError

# The results a rerun must give again, in the order they are shown.
RESULTS = ("status", "solved", "sequences_to_solve", "train_sequences", "test_accuracy", "test_loss", "curve")
# The parts of a record's environment that can change a run's arithmetic.
ENVIRONMENT = ("device", "device_name", "longdep_bench", "torch", "numba", "numpy", "cuda", "cudnn")


@dataclass(frozen=True)
class Comparison:
    """A recorded run, the same configuration trained again, and what differs between them."""

    recorded: RunRecord
    now: RunRecord
    results: tuple[str, ...]  # the results that differ
    environment: tuple[str, ...]  # the parts of the environment that differ
    code: str | None = None  # how the plugins' code differs (version or source), if it does

    @property
    def identical(self) -> bool:
        """Whether every result is the same."""
        return not self.results


def find_record(records: Iterable[RunRecord], run_id: str, source: str) -> RunRecord:
    """The newest record whose run id starts with ``run_id``; a BenchError when none or several runs match."""
    matches = {record.run_id: record for record in latest_per_run(records) if record.run_id.startswith(run_id)}
    if not matches:
        raise BenchError(f"no run in {source} has an id starting with {run_id!r}")
    if len(matches) > 1:
        raise BenchError(f"{len(matches)} runs in {source} have ids starting with {run_id!r} "
                         f"({', '.join(sorted(matches)[:4])}{', ...' if len(matches) > 4 else ''}); give more of it")
    return next(iter(matches.values()))


def rerun(record: RunRecord, config: RunConfig) -> Comparison:
    """Train the record's run again from its checked configuration (:func:`rerun_config`) and compare
    the two."""
    from longdep_bench.training.loop import train

    return compare(record, train(config))


def rerun_config(record: RunRecord, device: str | None = None) -> RunConfig:
    """The configuration that trains a record's run again (on ``device`` where given), after checking
    that the record can be trusted to name one: a BenchError otherwise."""
    import torch

    where = device or {**record.env, **record.runtime}.get("device", "cpu")
    if where == "cuda" and not torch.cuda.is_available():
        raise BenchError(f"the run trained on CUDA ({record.env.get('device_name', 'a GPU')}) and this torch has no "
                         "usable CUDA device; --device cpu trains it here (its results will differ in rounding)")
    config = config_from_record(dataclasses.replace(record, runtime={**record.runtime, "device": where}))
    if config.run_id() != record.run_id:
        raise BenchError(f"run {record.run_id}: its configuration hashes to {config.run_id()}, not to its run id: the "
                         "record was edited, so it names no run that can be trained again")
    if record.seeds and dict(record.seeds) != derive_seeds(record.master_seed, record.seed):
        raise BenchError(f"run {record.run_id}: its seeds are not the ones derived from master seed "
                         f"{record.master_seed} and seed {record.seed}: the record was edited")
    return config


def compared(record: RunRecord) -> tuple[str, ...]:
    """The results a record holds (one written before a result existed, such as ``test_loss`` before
    0.3, cannot be compared on it)."""
    return tuple(name for name in RESULTS if name not in record.absent)


def compare(recorded: RunRecord, now: RunRecord) -> Comparison:
    """What differs between a record and its rerun: the results the record holds, and the parts of the
    environment that may explain a difference."""
    results = tuple(name for name in compared(recorded)
                    if _plain(getattr(recorded, name)) != _plain(getattr(now, name)))
    environment = tuple(name for name in ENVIRONMENT if recorded.env.get(name) != now.env.get(name))
    return Comparison(recorded, now, results, environment, code_difference(recorded.code, now.code))


def _plain(value: Any) -> Any:
    """A result as JSON holds it (an enum as its value, lists of lists as lists)."""
    return getattr(value, "value", value)


def rows(comparison: Comparison) -> Sequence[list[str]]:
    """One row per result and per differing part of the environment: name, recorded, now, same or not."""
    def shown(value: Any) -> str:
        value = _plain(value)
        if isinstance(value, list):
            return f"{len(value)} points, last {value[-1]}" if value else "none"
        return "-" if value is None else f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) \
            else str(value)

    table = [[name, shown(getattr(comparison.recorded, name)), shown(getattr(comparison.now, name)),
              "differs" if name in comparison.results else "same"] for name in compared(comparison.recorded)]
    table += [[f"env.{name}", str(comparison.recorded.env.get(name, "-")), str(comparison.now.env.get(name, "-")),
               "differs"] for name in comparison.environment]
    for kind in ("architecture", "task"):
        before, after = comparison.recorded.code.get(kind, {}), comparison.now.code.get(kind, {})
        if before and code_identity(before) != code_identity(after):
            table.append([f"code.{kind}", f"{before.get('version')} / source {before.get('source')}",
                          f"{after.get('version')} / source {after.get('source')}", "differs"])
    return table
