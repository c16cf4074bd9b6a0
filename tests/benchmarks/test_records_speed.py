"""Reading a results file of 20,000 records (pytest-benchmark): parse, validate and keep the newest per
run, as ``report`` and ``run`` do before anything else.

Run: ``pytest tests/benchmarks/test_records_speed.py --benchmark-enable --benchmark-only``; in the
normal test run it reads the file once and checks what it read.
"""

from __future__ import annotations

import json
from pathlib import Path

from longdep_bench.execution.driver import latest_per_run
from longdep_bench.results.records import read_records

RECORDS = 20_000
SOURCE = Path(__file__).parents[2] / "reports" / "reference" / "results.jsonl"


def test_reading_20k_records(benchmark, tmp_path):
    committed = [json.loads(line) for line in SOURCE.read_text().splitlines() if line.strip()]
    path = tmp_path / "r.jsonl"
    with path.open("w") as out:  # the committed records repeated, each with its own run id and seed
        for i in range(RECORDS):
            out.write(json.dumps({**committed[i % len(committed)], "run_id": f"{i:016x}", "seed": i}) + "\n")
    records = benchmark.pedantic(lambda: latest_per_run(read_records(str(path))), rounds=3, iterations=1)
    assert len(records) == RECORDS and {r.arch for r in records} == {r["arch"] for r in committed}
