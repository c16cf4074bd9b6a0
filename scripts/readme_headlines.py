"""The README's two headline tables, made from the committed results files.

The README holds this script's output verbatim between its ``<!-- headlines -->`` markers, and
``tests/test_public_api.py`` checks that it still does, so a headline figure is never typed by
hand and never outlives the records it came from:

    python scripts/readme_headlines.py            # print the tables
    python scripts/readme_headlines.py --write    # put them into README.md

- **The 1997 paper, side by side**: the first row of each experiment of the paper's comparison
  (``reports/paper/``; the full table has every row).
- **Accuracy vs gap at a glance**: Task 6a in the reference sweep (``reports/reference/``), each
  architecture's solved runs/runs and median sequences to solve at five gaps.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from tabulate import tabulate

from longdep_bench.discovery.registry import get_registry
from longdep_bench.execution.driver import latest_per_run
from longdep_bench.results.paper import comparison_rows
from longdep_bench.results.records import read_records
from longdep_bench.results.statistics import count
from longdep_bench.results.tables import build_tables

ROOT = Path(__file__).resolve().parent.parent
PAPER_RESULTS = ROOT / "reports" / "paper" / "results.jsonl"
REFERENCE_RESULTS = ROOT / "reports" / "reference" / "results.jsonl"
GAPS = (40, 200, 1000, 2000, 10000)
MARKERS = ("<!-- headlines -->", "<!-- /headlines -->")


def paper_table() -> str:
    """The first comparison row of each experiment: the paper's mean, ours, the verdict."""
    registry = get_registry()
    rows = comparison_rows(latest_per_run(read_records(str(PAPER_RESULTS)), by_code=True),
                           {name: entry.spec.published for name, entry in registry.tasks.items()},
                           {name: entry.spec.params for name, entry in registry.tasks.items()},
                           {name: entry.spec for name, entry in registry.architectures.items()})
    first: dict[str, list[str]] = {}
    for row in rows:
        first.setdefault(row[0].split()[0], row)
    body = [[row[0], re.sub(r", \d+ trials$", "", row[1]), row[2].split(" (")[0], row[3], row[6]]
            for row in first.values()]
    return tabulate(body, headers=["experiment", "paper: mean sequences [mark]", "ours: solved",
                                   "ours: mean sequences", "verdict"], tablefmt="github", disable_numparse=True)


def gap_table() -> str:
    """Task 6a in the reference sweep: solved/runs · median sequences to solve, by gap."""
    [table] = [t for t in build_tables(latest_per_run(read_records(str(REFERENCE_RESULTS)), by_code=True))
               if t.task == "task6a"]
    body = []
    for name, cells in table.rows:
        shown = []
        for gap in GAPS:
            cell = cells.get(gap)
            median = cell and (count(cell.median_sequences_to_solve) if cell.median_sequences_to_solve is not None
                               else f">{count(cell.budget)}")
            shown.append(f"{cell.solved}/{cell.runs} · {median}" if cell else "")
        body.append([name, *shown])
    return tabulate(body, headers=["architecture", *(f"gap {g}" for g in GAPS)], tablefmt="github",
                    disable_numparse=True)


def headlines() -> str:
    """Both tables, as the README shows them."""
    return f"{paper_table()}\n\n{gap_table()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="replace the tables in README.md")
    args = parser.parse_args()
    text = headlines()
    if not args.write:
        print(text)
        return
    readme = ROOT / "README.md"
    start, end = (re.escape(m) for m in MARKERS)
    updated, found = re.subn(f"{start}.*?{end}", lambda _: f"{MARKERS[0]}\n{text}\n{MARKERS[1]}",
                             readme.read_text(), flags=re.S)
    if found != 1:
        raise SystemExit(f"README.md must hold the markers {MARKERS[0]} and {MARKERS[1]} once")
    readme.write_text(updated)


if __name__ == "__main__":
    main()
