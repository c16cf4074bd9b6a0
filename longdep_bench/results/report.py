"""A Markdown report with PNG plots from a results file (``longdep-bench report FILE --out DIR``).

Plots need matplotlib (``pip install 'longdep-bench[plots]'``); without it the report has tables only.
"""

from __future__ import annotations

import collections
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from tabulate import tabulate

from longdep_bench.api.specs import ArchitectureSpec, Published
from longdep_bench.results.paper import paper_section
from longdep_bench.results.records import RunRecord
from longdep_bench.results.statistics import exact, median_or_beyond
from longdep_bench.results.tables import Cell, Table, build_tables, ended_otherwise, run_hours, text_tables
from longdep_bench.system.errors import BenchError
from longdep_bench.system.files import read_text, replacing, report_directory, write_text

REPORT_NAME = "README.md"
TITLE = "# longdep-bench report: "
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)/\\]+\.png)\)")


@dataclass(frozen=True)
class WrittenReport:
    """What :func:`write_report` wrote: the report's path, whether it has plots, and the plots of
    the previous report in the directory that this one no longer has (removed)."""

    path: str
    plots: bool
    removed: tuple[str, ...] = ()


def _previous_report(path: str) -> str | None:
    """The text of a report written earlier at ``path`` (None if there is none, or if the file there
    is not one of ours)."""
    try:
        text = read_text(path, "report")
    except BenchError:
        return None
    return text if text.startswith(TITLE) else None


def _previous_plots(path: str) -> set[str]:
    """The plot files a report written earlier at ``path`` shows."""
    return set(IMAGE.findall(_previous_report(path) or ""))


def _slug(text: str) -> str:
    """A file-name stem for ``text``; texts that would share a stem (names differing only in case or
    punctuation) get a short hash of the text appended (see :func:`_stems`)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _stems(texts: Sequence[str]) -> dict[str, str]:
    """A distinct file-name stem for each text."""
    slugs = collections.Counter(_slug(text) for text in texts)
    return {text: _slug(text) + ("-" + hashlib.sha256(text.encode()).hexdigest()[:8] if slugs[_slug(text)] > 1 else "")
            for text in texts}


def _count(value: float | None) -> str:
    return "-" if value is None else exact(value)


def _detail_rows(table: Table) -> list[list[str]]:
    rows = []
    for label, cells in table.rows:
        for gap in table.gaps:
            cell: Cell | None = cells.get(gap)
            if cell is None:
                continue
            q1, q3 = cell.quartiles_sequences_to_solve
            low, high = cell.success_interval
            accuracy = (f"{sum(cell.accuracies) / len(cell.accuracies):.1%} "
                        f"({min(cell.accuracies):.1%}-{max(cell.accuracies):.1%})" if cell.accuracies else "n/a")
            rows.append([
                label, gap, f"{cell.solved}/{cell.runs}" + ended_otherwise(cell),
                f"{low:.0%}-{high:.0%}",
                median_or_beyond(cell.median_sequences_to_solve, cell.budget, exact),
                "-" if q1 is None else f"{_count(q1)}-{_count(q3)}" if q3 is not None
                else f"{_count(q1)} to >{cell.budget:,}",  # the upper quartile lies beyond the budget
                accuracy,
                "-" if cell.mean_test_loss is None else f"{cell.mean_test_loss:.4g}",
                _count(cell.sequences_per_second),
                f"{cell.median_train_seconds:,.1f}",
                f"{cell.n_params:,}",
            ])
    return rows


DETAIL_HEADERS = ["architecture", "gap", "solved", "success rate, 95% CI", "median seqs to solve", "IQR",
                  "final test acc. mean (min-max)", "mean test loss", "train seq/s", "median train s", "params"]


def _plots(table: Table, directory: str, stem: str, published: Sequence[Published] = ()) -> list[tuple[str, str]]:
    """Write the table's plots; return (title, file name) pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    palette = plt.get_cmap("tab10" if len(table.rows) <= 10 else "tab20")
    colours = {label: palette(i % palette.N) for i, (label, _) in enumerate(table.rows)}
    return [("Success rate and median sequences to solve", _heatmap(plt, table, directory, stem)),
            ("Sequences to solve per architecture", _small_multiples(plt, table, directory, stem, published)),
            ("Learning curves", _curves(plt, table, directory, stem, colours))]


def _heatmap(plt: Any, table: Table, directory: str, stem: str) -> str:
    """Architectures x gaps, coloured by the fraction of runs solved, each cell's median written in it."""
    import numpy as np

    rates = np.full((len(table.rows), len(table.gaps)), np.nan)
    figure, axes = plt.subplots(figsize=(1.3 * len(table.gaps) + 3.5, 0.42 * len(table.rows) + 1.6))
    for i, (_, cells) in enumerate(table.rows):
        for j, gap in enumerate(table.gaps):
            cell = cells.get(gap)
            if cell is None:
                continue
            rates[i, j] = cell.solved / cell.runs
            text_colour = "black" if rates[i, j] >= 0.45 else "white"  # dark on viridis' light half
            median = median_or_beyond(cell.median_sequences_to_solve, cell.budget)
            axes.text(j, i, f"{cell.solved}/{cell.runs}\n{median}",
                      ha="center", va="center", fontsize=7, color=text_colour)
    image = axes.imshow(rates, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    axes.set(xticks=range(len(table.gaps)), xticklabels=[str(g) for g in table.gaps],
             yticks=range(len(table.rows)), yticklabels=[label for label, _ in table.rows],
             xlabel=table.gap_param or "setting",
             title=f"{table.name}: runs solved (colour) and median sequences to solve (text)")
    figure.colorbar(image, ax=axes, label="fraction of runs solved", fraction=0.04)
    return _save(figure, directory, f"{stem}-success.png")


def _small_multiples(plt: Any, table: Table, directory: str, stem: str, published: Sequence[Published]) -> str:
    """One panel per architecture: sequences to solve of every run against the gap (log-log), the
    median as a line, unsolved runs as crosses at their budget, the published figures as stars."""
    numeric = all(isinstance(g, (int, float)) for g in table.gaps)
    position = {gap: (gap if numeric else i) for i, gap in enumerate(table.gaps)}
    columns = min(4, len(table.rows))
    rows = -(-len(table.rows) // columns)
    figure, grid = plt.subplots(rows, columns, figsize=(3.3 * columns, 2.6 * rows), squeeze=False, sharex=True,
                                sharey=True)
    gap_key = cast(str, table.gap_param)  # None (a task without a lag parameter) gets None
    stars = [(p.params.get(gap_key), p.sequences) for p in published
             if p.sequences and p.params.get(gap_key) in position]
    for axes, (label, cells) in zip(grid.flat, table.rows):
        for gap, cell in cells.items():
            solved = [s for s in cell.solved_at if s is not None]
            axes.scatter([position[gap]] * len(solved), solved, s=12, color="tab:blue", alpha=0.7)
            unsolved = len(cell.solved_at) - len(solved)
            if unsolved:
                axes.scatter([position[gap]], [cell.budget], marker="x", s=40, color="tab:red")
                axes.annotate(f"{unsolved}", (position[gap], cell.budget), fontsize=7, xytext=(3, 2),
                              textcoords="offset points", color="tab:red")
        medians = [(position[g], cells[g].median_sequences_to_solve) for g in table.gaps
                   if g in cells and cells[g].median_sequences_to_solve is not None]
        if medians:
            axes.plot(*zip(*medians), color="tab:blue", lw=1)
        if stars:
            axes.scatter([position[g] for g, _ in stars], [n for _, n in stars], marker="*", s=90,
                         color="tab:orange", zorder=3)
        axes.set(title=label, yscale="log", xscale="log" if numeric and len(table.gaps) > 1 else "linear")
    for axes in list(grid.flat)[len(table.rows):]:
        axes.set_visible(False)
    for axes in grid[:, 0]:
        axes.set_ylabel("sequences to solve")
    for axes in grid[-1, :]:
        axes.set_xlabel(table.gap_param or "setting")
    figure.suptitle(f"{table.name}: sequences to solve per run (dots), median (line), runs not solved within the "
                    "budget (x, with their number)" + (", published (star)" if stars else ""), fontsize=9)
    return _save(figure, directory, f"{stem}-sequences.png")


def _curves(plt: Any, table: Table, directory: str, stem: str, colours: Mapping[str, Any]) -> str:
    """Test accuracy against training sequences, one line per run, one panel per gap."""
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
    figure.suptitle(f"{table.name}: learning curves (one line per run)")
    return _save(figure, directory, f"{stem}-curves.png")


def _save(figure: Any, directory: str, name: str) -> str:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    try:
        with replacing(os.path.join(directory, name), "plot") as handle:
            figure.savefig(handle, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(figure)
    return name


def _environment_lines(records: Sequence[RunRecord]) -> list[str]:
    environments = collections.Counter(
        f"{r.env.get('device_name')} ({r.env.get('device')}), torch {r.env.get('torch')}, "
        f"{r.env.get('threads')} thread(s)" for r in records)
    return [f"- {count} runs on {what}" for what, count in environments.most_common()]


def _relevant(published: Sequence[Published], params: Mapping[str, Any], ignore: str | None = None
              ) -> list[Published]:
    return [p for p in published if all(params.get(k) == v for k, v in p.params.items() if k != ignore)]


def write_report(records: Sequence[RunRecord], directory: str, source: str,
                 published: Mapping[str, Sequence[Published]] | None = None, paper: bool = False,
                 task_params: Mapping[str, Sequence[Any]] | None = None,
                 architectures: Mapping[str, ArchitectureSpec] | None = None) -> WrittenReport:
    """Write DIR/README.md and the plots, and remove the plots of the report it replaces that it
    no longer shows (a table gone from the results); other files are left alone.

    ``published`` maps a task name to its published results, shown under its section and as stars
    in its plots; ``paper`` puts the comparison with them first (:func:`longdep_bench.results.paper.paper_section`;
    ``task_params`` maps a task name to its parameters, to read records that leave some at their defaults;
    ``architectures`` the registered architectures, whose presets are the paper's networks).
    """
    published = published or {}
    report_directory(directory, lambda path: _previous_report(path) is not None, REPORT_NAME)
    try:
        import matplotlib  # noqa: F401
        plots = True
    except ImportError:
        plots = False
    statuses = collections.Counter(r.status.value for r in records)
    lines = [
        f"{TITLE}{os.path.basename(source)}",
        "",
        f"Generated by `longdep-bench report {source}{' --paper' if paper else ''} --out {directory}` from "
        f"{len(records)} runs ({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))}).",
        "",
        *_environment_lines(records),
        f"- {run_hours(records):.2f} run hours in all (compilation, training and evaluation, summed over runs)",
        "",
        "Cells of the overview: solved runs/runs · median sequences to solve (unsolved runs count as never "
        "solving; `>N`: half or more did not solve within the budget N) · mean final test accuracy. An experiment "
        "run with several budgets counts once, at its largest; a cell counts only the runs at its largest budget. "
        "The success rate's 95% confidence interval (Wilson score) says what solved/runs over a few seeds tells "
        "about all seeds: 5/5 is 57%-100%, 3/5 23%-88%.",
    ]
    if paper:
        lines += paper_section(records, published, task_params or {}, architectures or {})
    shown: set[str] = set()  # the plots this report shows
    tables = build_tables(records)
    titles = [table.name + "-" + "-".join(f"{k}-{v}" for k, v in table.params.items()) for table in tables]
    stems = _stems(titles)
    for table, title in zip(tables, titles):
        name = table.name
        stem = stems[title]
        lines += ["", f"## {name}" + (f" ({', '.join(f'{k}={v}' for k, v in table.params.items())})"
                                      if table.params else "")]
        relevant = _relevant(published.get(table.task, ()), table.params, ignore=table.gap_param)
        lines += [line for p in relevant for line in ("", f"Published: {p.line()}")]
        lines += ["", text_tables([table], "github"), "", "Per architecture and gap:", "",
                  tabulate(_detail_rows(table), headers=DETAIL_HEADERS, tablefmt="github")]
        if plots:
            for title, name in _plots(table, directory, stem, relevant):
                lines += ["", f"### {title}", "", f"![{title}]({name})"]
                shown.add(name)
    if not plots:
        lines += ["", "(No plots: install matplotlib, `pip install 'longdep-bench[plots]'`.)"]
    path = os.path.join(directory, REPORT_NAME)
    stale = sorted(_previous_plots(path) - shown) if plots else []
    write_text(path, "\n".join(lines) + "\n", "report")
    removed = []
    for name in stale:
        try:
            os.remove(os.path.join(directory, name))
            removed.append(name)
        except OSError:  # already gone, or not ours to remove: it stays
            pass
    return WrittenReport(path, plots, tuple(removed))
