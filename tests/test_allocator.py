"""The ``allocator`` setting: with ``keep`` a step's large arrays reuse freed memory instead of new
mappings that fault in afresh (counted as minor page faults, in a fresh process each)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

FAULTS_OF_A_SECOND_STEP = """
import resource, sys
import numpy as np
from longdep_bench.system.environment import configure_allocator
changed = configure_allocator(sys.argv[1])
def step():  # a training step's large temporary: 64 MB written, then freed
    np.ones(16 << 20, dtype=np.float32).sum()
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
step()
print(changed, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _second_step_faults(allocator: str) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", FAULTS_OF_A_SECOND_STEP, allocator], capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.slow
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting acts on glibc's malloc only")
def test_keep_reuses_freed_memory_where_system_maps_it_afresh():
    huge_pages = (64 << 20) // (2 << 20)  # the fewest faults a fresh 64 MB mapping takes (2 MB pages)
    changed, afresh = _second_step_faults("system")
    assert not changed and afresh >= huge_pages  # a fresh mapping: it faults in again
    changed, kept = _second_step_faults("keep")
    assert changed and kept < afresh / 10  # the heap's pages, already resident


def test_records_say_which_allocator_ran(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    args = ("run", "-a", "rnn", "--gap", "11", "--hidden", "4", "--seeds", "1", "--max-sequences", "32",
            "--check-every", "32", "--test-size", "32", "-q")
    assert cli(*args, "-o", str(out)).code == 0
    assert cli(*args, "--allocator", "system", "-o", str(out)).code == 0  # runtime: the same run, skipped
    [record] = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["runtime"]["allocator"] == "keep"
    result = cli(*args, "--allocator", "jemalloc", "-o", str(tmp_path / "s.jsonl"))
    assert result.code == 2 and "jemalloc" in result.err and len(result.err.strip().splitlines()) == 1
