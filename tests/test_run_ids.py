"""Run ids are stable: every committed record's configuration hashes to the id it was written with.

A run id is what resuming, skipping and reports key on; a refactoring (the kernel libraries' move
out of ``plugins/``) or a new architecture option at its default must not change it, or committed
results would be rerun instead of reused and reports would split one experiment in two.
``tests/data/kernels-slice-0.8.0.jsonl`` holds one short run of every built-in architecture on
task6a and adding, written by 0.8.0 before the move (its metrics were identical after it).
"""

from __future__ import annotations

import pathlib

import pytest

from longdep_bench.results.records import config_from_record, read_records

ROOT = pathlib.Path(__file__).resolve().parent.parent
FILES = ["tests/data/kernels-slice-0.8.0.jsonl", "reports/reference/results.jsonl"]


@pytest.mark.parametrize("name", FILES)
def test_recorded_ids_are_recomputed(name):
    records = list(read_records(str(ROOT / name)))
    assert records
    changed = [r.run_id for r in records if config_from_record(r).run_id() != r.run_id]
    assert not changed, f"{len(changed)} of {len(records)} ids changed"


def test_the_slice_covers_every_builtin_architecture():
    from longdep_bench.discovery.registry import get_registry

    recorded = {r.arch for r in read_records(str(ROOT / FILES[0]))}
    builtin = {name for name, entry in get_registry().architectures.items() if entry.distribution == "longdep-bench"}
    assert builtin <= recorded
