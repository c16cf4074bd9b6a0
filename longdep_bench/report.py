"""A Markdown report with PNG plots from a results file (``longdep-bench report FILE --out DIR``).

Plots need matplotlib (``pip install 'longdep-bench[plots]'``); without it the report has tables only.
"""

from __future__ import annotations

import collections
import os
import re
from typing import Any, Mapping, Sequence

from tabulate import tabulate

from longdep_bench.errors import BenchError
from longdep_bench.records import RunRecord
from longdep_bench.tables import Cell, Table, build_tables, text_tables

REPORT_NAME = "README.md"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _detail_rows(table: Table) -> list[list[str]]:
    rows = []
    for label, cells in table.rows:
        for gap in table.gaps:
            cell: Cell | None = cells.get(gap)
            if cell is None:
                continue
            q1, q3 = cell.quartiles_sequences_to_solve
            accuracy = (f"{sum(cell.accuracies) / len(cell.accuracies):.1%} "
                        f"({min(cell.accuracies):.1%}-{max(cell.accuracies):.1%})" if cell.accuracies else "n/a")
            rows.append([
                label, gap, f"{cell.solved}/{cell.runs}" + (f" ({cell.failed} failed)" if cell.failed else ""),
                _count(cell.median_sequences_to_solve) if cell.median_sequences_to_solve is not None
                else f">{cell.budget:,}",
                f"{_count(q1)}-{_count(q3)}" if q1 is not None else "-",
                accuracy,
                "-" if cell.mean_test_loss is None else f"{cell.mean_test_loss:.4g}",
                _count(cell.sequences_per_second),
                f"{cell.median_train_seconds:,.1f}",
                f"{cell.n_params:,}",
            ])
    return rows


DETAIL_HEADERS = ["architecture", "gap", "solved", "median seqs to solve", "IQR", "final test acc. mean (min-max)",
                  "mean test loss", "train seq/s", "median train s", "params"]


def _plots(table: Table, directory: str, stem: str) -> list[tuple[str, str]]:
    """Write the table's plots; return (title, file name) pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    numeric = all(isinstance(g, (int, float)) for g in table.gaps)
    positions = {gap: (gap if numeric else i) for i, gap in enumerate(table.gaps)}
    palette = plt.get_cmap("tab10" if len(table.rows) <= 10 else "tab20")
    colours = {label: palette(i % palette.N) for i, (label, _) in enumerate(table.rows)}
    written = []

    figure, axes = plt.subplots(figsize=(8.5, 4.5))
    for label, cells in table.rows:
        gaps = [g for g in table.gaps if g in cells and cells[g].accuracies]
        xs = [positions[g] for g in gaps]
        means = [sum(cells[g].accuracies) / len(cells[g].accuracies) for g in gaps]
        axes.plot(xs, means, "-o", color=colours[label], label=label)
        axes.fill_between(xs, [min(cells[g].accuracies) for g in gaps], [max(cells[g].accuracies) for g in gaps],
                          color=colours[label], alpha=0.15)
    axes.axhline(table.chance, color="grey", linestyle=":", label=f"baseline: {table.baseline} ({table.chance:.0%})")
    axes.set(xlabel=table.gap_param or "setting", ylabel="final test accuracy",
             title=f"{table.task}: accuracy vs {table.gap_param} (mean; band: min-max over seeds)")
    if numeric and len(table.gaps) > 1:
        axes.set_xscale("log")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    written.append(("Accuracy vs gap", _save(figure, directory, f"{stem}-accuracy.png")))

    figure, axes = plt.subplots(figsize=(8.5, 4.5))
    budgets = {gap: max(cells[gap].budget for _, cells in table.rows if gap in cells) for gap in table.gaps}
    width = 0.8 / max(len(table.rows), 1)  # architectures side by side within each gap
    for i, (label, cells) in enumerate(table.rows):
        for gap, cell in cells.items():
            x = table.gaps.index(gap) + (i - (len(table.rows) - 1) / 2) * width
            solved = [s for s in cell.solved_at if s is not None]
            failed = len(cell.solved_at) - len(solved)
            axes.scatter([x] * len(solved), solved, color=colours[label], s=18,
                         label=label if gap == next(iter(cells)) else None)
            if failed:
                axes.scatter([x], [budgets[gap] * 1.4], color=colours[label], marker="x", s=30)
                axes.annotate(str(failed), (x, budgets[gap] * 1.4), fontsize=7, xytext=(2, 3),
                              textcoords="offset points")
    for position, gap in enumerate(table.gaps):
        axes.hlines(budgets[gap], position - 0.45, position + 0.45, color="grey", linestyle=":",
                    label="budget (x above it: number of runs not solved)" if position == 0 else None)
    axes.set(xlabel=table.gap_param or "setting", ylabel="sequences to solve", yscale="log",
             title=f"{table.task}: sequences to solve per seed", xticks=range(len(table.gaps)),
             xticklabels=[str(g) for g in table.gaps])
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    written.append(("Sequences to solve", _save(figure, directory, f"{stem}-sequences.png")))

    columns = min(len(table.gaps), 3)
    rows = -(-len(table.gaps) // columns)
    figure, grid = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False, sharey=True)
    for axes, gap in zip(grid.flat, table.gaps):
        for label, cells in table.rows:
            for i, curve in enumerate(cells[gap].curves if gap in cells else ()):
                if curve:
                    xs, ys = zip(*curve)
                    axes.plot(xs, ys, color=colours[label], alpha=0.7, lw=1, label=label if i == 0 else None)
        axes.axhline(table.chance, color="grey", linestyle=":")
        axes.set(title=f"{table.gap_param}={gap}", xscale="log", xlabel="training sequences", ylabel="test accuracy")
    for axes in list(grid.flat)[len(table.gaps):]:
        axes.set_visible(False)
    grid.flat[0].legend(fontsize=7)
    figure.suptitle(f"{table.task}: learning curves (one line per run)")
    written.append(("Learning curves", _save(figure, directory, f"{stem}-curves.png")))
    return written


def _save(figure: Any, directory: str, name: str) -> str:
    figure.tight_layout()
    figure.savefig(os.path.join(directory, name), dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return name


def _environment_lines(records: Sequence[RunRecord]) -> list[str]:
    environments = collections.Counter(
        f"{r.env.get('device_name')} ({r.env.get('device')}), torch {r.env.get('torch')}, "
        f"{r.env.get('threads')} thread(s)" for r in records)
    return [f"- {count} runs on {what}" for what, count in environments.most_common()]


def write_report(records: Sequence[RunRecord], directory: str, source: str,
                 notes: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """Write DIR/README.md and the plots; return the report's path and whether plots were made.

    ``notes`` maps a task name to a line of published results shown under its section.
    """
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise BenchError(f"cannot create report directory {directory}: {exc.strerror}") from None
    try:
        import matplotlib  # noqa: F401
        plots = True
    except ImportError:
        plots = False
    statuses = collections.Counter(r.status.value for r in records)
    lines = [
        f"# longdep-bench report: {os.path.basename(source)}",
        "",
        f"Generated by `longdep-bench report {source} --out {directory}` from {len(records)} runs "
        f"({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))}).",
        "",
        *_environment_lines(records),
        "",
        "Cells of the overview: solved runs/runs · median sequences to solve (unsolved runs count as never "
        "solving; `>N`: half or more did not solve within the budget N) · mean final test accuracy.",
    ]
    for table in build_tables(records):
        stem = _slug(table.task + "-" + "-".join(f"{k}-{v}" for k, v in table.params.items()))
        lines += ["", f"## {table.task}" + (f" ({', '.join(f'{k}={v}' for k, v in table.params.items())})"
                                            if table.params else "")]
        if notes and notes.get(table.task):
            lines += ["", f"Published: {notes[table.task]}"]
        lines += ["", text_tables([table], "github"), "", "Per architecture and gap:", "",
                  tabulate(_detail_rows(table), headers=DETAIL_HEADERS, tablefmt="github")]
        if plots:
            for title, name in _plots(table, directory, stem):
                lines += ["", f"### {title}", "", f"![{title}]({name})"]
    if not plots:
        lines += ["", "(No plots: install matplotlib, `pip install 'longdep-bench[plots]'`.)"]
    path = os.path.join(directory, REPORT_NAME)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path, plots
