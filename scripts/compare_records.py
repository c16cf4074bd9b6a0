"""Whether two results files hold the same runs with the same results: every field compared but the
timings and the provenance (which differ between any two runs of one experiment).

    python scripts/compare_records.py before.jsonl after.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys

# what two runs of one experiment on one machine may differ in
TIMING_AND_PROVENANCE = {"train_seconds", "eval_seconds", "compile_seconds", "sequences_per_second", "finished_at",
                         "env", "runtime", "code"}


def _records(path: str) -> dict[str, dict]:
    with open(path, encoding="utf-8") as lines:
        return {record["run_id"]: record for record in map(json.loads, lines)}


def main() -> None:
    """Print the runs that differ; exit 1 if any does or the two files hold other runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    args = parser.parse_args()
    before, after = _records(args.before), _records(args.after)
    differing = [run for run in sorted(before.keys() & after.keys())
                 if {k: v for k, v in before[run].items() if k not in TIMING_AND_PROVENANCE}
                 != {k: v for k, v in after[run].items() if k not in TIMING_AND_PROVENANCE}]
    for run in differing:
        fields = sorted(k for k in before[run].keys() | after[run].keys()
                        if k not in TIMING_AND_PROVENANCE and before[run].get(k) != after[run].get(k))
        print(f"{run}: {', '.join(fields)}")
    same_runs = before.keys() == after.keys()
    print(f"{len(before)} and {len(after)} runs, {'the same' if same_runs else 'not the same'} ids; "
          f"{len(differing)} differ outside timings and provenance")
    sys.exit(0 if same_runs and not differing else 1)


if __name__ == "__main__":
    main()
