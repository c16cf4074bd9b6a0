"""A results file of N records made by repeating a committed one (each with its own run id and seed),
for timing ``longdep-bench report`` and ``run`` against large files.

    python scripts/records_at_scale.py reports/reference/results.jsonl 200000 /tmp/r200k.jsonl
    /usr/bin/time -v longdep-bench report /tmp/r200k.jsonl > /dev/null
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    """Write the file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a results file whose records are repeated")
    parser.add_argument("count", type=int, help="records to write")
    parser.add_argument("output", help="the file to write (it must not exist)")
    args = parser.parse_args()
    with open(args.source, encoding="utf-8") as source:
        records = [json.loads(line) for line in source if line.strip()]
    with open(args.output, "x", encoding="utf-8") as output:
        for i in range(args.count):
            record = {**records[i % len(records)], "run_id": f"{i:016x}", "seed": i}
            output.write(json.dumps(record, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
