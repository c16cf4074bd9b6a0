"""Summary tables of result records: architectures x gaps, per task.

A cell shows ``solved seeds / runs · median sequences-to-solve · mean final test accuracy``.
The median counts unsolved runs as never solving: when half or more of the runs did not solve,
it is shown as ``>N`` with N the largest training budget among them.

A run with a larger budget continues the same experiment as one with a smaller budget (same
seeds, same data stream, same model), so each experiment counts once, at its largest budget; and
a cell counts only the runs at its largest budget (a sweep that reran some seeds with a larger
budget shows those, not a mixture).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from tabulate import tabulate

from longdep_bench.config.settings import row_settings
from longdep_bench.results.records import RunRecord, Status, code_key
from longdep_bench.results.statistics import count, median_or_beyond, wilson_interval

# Settings that tell two rows of one architecture apart when they differ within a table: derived from
# the settings declaration, so that a setting added later splits rows too.
_ROW_SETTINGS = row_settings()


@dataclass(frozen=True)
class Cell:
    """Aggregate of the runs of one architecture variant at one gap."""

    runs: int
    solved: int
    failed: int  # ended in an error (a run to do again)
    median_sequences_to_solve: float | None  # None: half or more of the runs did not solve
    quartiles_sequences_to_solve: tuple[float | None, float | None]  # 25% and 75%; None: not solved
    budget: int
    mean_test_accuracy: float | None
    mean_test_loss: float | None
    sequences_per_second: float | None
    median_train_seconds: float
    n_params: int
    accuracies: tuple[float, ...]  # final test accuracy of each run that has one
    solved_at: tuple[int | None, ...]  # sequences to solve of each run (None: not solved)
    curves: tuple[tuple[tuple[int, float], ...], ...]  # each run's learning curve
    diverged: int = 0  # ended with a non-finite loss (a result, apart from the failures)

    @property
    def success_interval(self) -> tuple[float, float]:
        """The 95% Wilson score interval of the success rate: what ``solved/runs`` over a few seeds
        says about the rate over all seeds (5/5 is 57-100%)."""
        return wilson_interval(self.solved, self.runs)


@dataclass(frozen=True)
class Table:
    """One task (with its non-lag parameters fixed): rows of architecture variants, columns of gaps."""

    task: str
    params: Mapping[str, Any]
    gap_param: str | None
    chance: float
    baseline: str
    baseline_loss: float | None
    thresholds: tuple[float, ...]  # of the runs solved by test accuracy
    gaps: tuple[Any, ...]
    rows: tuple[tuple[str, Mapping[Any, Cell]], ...]
    revision: int = 0  # the task definition's revision (TaskSpec.revision)
    streaks: tuple[int, ...] = ()  # of the runs solved by training sequences right in a row (the streak setting)
    criteria: tuple[str, ...] = ()  # what solved the runs, in words (solved_when), one per distinct criterion

    @property
    def name(self) -> str:
        """The task's name as tables show it (see ``task_name``)."""
        return task_name(self.task, self.revision)


def task_name(task: str, revision: int) -> str:
    """A task's name as tables show it: with its revision where the definition was corrected."""
    return f"{task} (revision {revision})" if revision else task


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _gap_order(gap: Any) -> tuple[int, Any]:
    """Numbers in numeric order, then anything else by its JSON text."""
    if isinstance(gap, (int, float)) and not isinstance(gap, bool):
        return (0, gap)
    return (1, _canonical(gap))


def _row_key(record: RunRecord) -> str:
    settings = record.settings()
    return _canonical([record.arch, settings.get("arch_options", {}), [settings[k] for k in _ROW_SETTINGS],
                       code_key(record.code)])


def _code_label(record: RunRecord) -> str:
    """The code that trained a run, short: each plugin's version and source hash ('?' for records
    written before records said so)."""
    return "+".join(f"{part.get('version')}/{str(part.get('source'))[:6]}" for _, part in sorted(record.code.items())) \
        if record.code else "?"


def _row_settings(record: RunRecord) -> dict[str, Any]:
    settings = record.settings()
    shown = dict(settings.get("arch_options", {}))
    shown.update({k: settings[k] for k in _ROW_SETTINGS})
    shown["code"] = _code_label(record)  # labels a row only where runs of two versions share a table
    return shown


def longest_runs(records: Iterable[RunRecord]) -> list[RunRecord]:
    """One record per experiment: the one with the largest training budget."""
    best: dict[str, RunRecord] = {}
    for record in records:
        hyper = {k: v for k, v in record.settings().items() if k != "max_sequences"}
        key = _canonical([record.arch, record.task, record.task_revision, record.params, hyper, record.seed,
                          record.master_seed, code_key(record.code)])
        if key not in best or record.hyperparameters["max_sequences"] > best[key].hyperparameters["max_sequences"]:
            best[key] = record
    return list(best.values())


def at_largest_budget(records: Sequence[RunRecord]) -> list[RunRecord]:
    """The runs with the largest training budget among these."""
    budget = max(r.hyperparameters["max_sequences"] for r in records)
    return [r for r in records if r.hyperparameters["max_sequences"] == budget]


def _labels(records_by_row: Mapping[str, RunRecord]) -> dict[str, str]:
    """Row labels: the architecture, plus the settings that differ between its rows."""
    by_arch: dict[str, list[str]] = {}
    for key, record in records_by_row.items():
        by_arch.setdefault(record.arch, []).append(key)
    labels = {}
    for arch, keys in by_arch.items():
        settings = {key: _row_settings(records_by_row[key]) for key in keys}
        names = sorted({n for s in settings.values() for n in s})
        varying = [n for n in names if len({_canonical(s.get(n)) for s in settings.values()}) > 1]
        for key in keys:
            shown = ",".join(f"{n}={settings[key].get(n)}" for n in varying)
            labels[key] = f"{arch}[{shown}]" if shown else arch
    return labels


def _quantile(ranked: Sequence[float], q: float) -> float | None:
    """Linear-interpolation quantile of sorted values; None when it falls on an unsolved run (inf)."""
    position = q * (len(ranked) - 1)
    low = int(position)
    fraction = position - low
    values = [ranked[low]] + ([ranked[low + 1]] if fraction else [])
    if float("inf") in values:
        return None
    return values[0] + (values[-1] - values[0]) * fraction


def summarise(records: Sequence[RunRecord]) -> Cell:
    """The aggregate of a group of runs (one cell of a table)."""
    solved = [cast(int, r.sequences_to_solve) for r in records if r.solved]  # a solved run has its count
    ranked = sorted(solved) + [float("inf")] * (len(records) - len(solved))
    median, quartiles = _quantile(ranked, 0.5), (_quantile(ranked, 0.25), _quantile(ranked, 0.75))
    accuracies = [r.test_accuracy for r in records if r.test_accuracy is not None]
    losses = [r.test_loss for r in records if r.test_loss is not None]
    speeds = [r.sequences_per_second for r in records if r.sequences_per_second]
    return Cell(
        runs=len(records),
        solved=len(solved),
        failed=sum(r.status is Status.ERROR for r in records),
        diverged=sum(r.status is Status.DIVERGED for r in records),
        median_sequences_to_solve=median,
        quartiles_sequences_to_solve=quartiles,
        budget=max(r.hyperparameters["max_sequences"] for r in records),
        mean_test_accuracy=statistics.fmean(accuracies) if accuracies else None,
        mean_test_loss=statistics.fmean(losses) if losses else None,
        sequences_per_second=statistics.median(speeds) if speeds else None,
        median_train_seconds=statistics.median(r.train_seconds for r in records),
        n_params=max(r.n_params for r in records),
        accuracies=tuple(accuracies),
        solved_at=tuple(r.sequences_to_solve for r in records),
        curves=tuple(tuple((int(x), float(y)) for x, y in r.curve) for r in records),
    )


def build_tables(records: Iterable[RunRecord]) -> list[Table]:
    """Group records by task and non-lag parameters, then by architecture variant and gap
    (each experiment once, at its largest budget)."""
    groups: dict[str, list[RunRecord]] = {}
    for record in longest_runs(records):
        params = {k: v for k, v in record.params.items() if k != record.gap_param}
        groups.setdefault(_canonical([record.task, record.task_revision, params]), []).append(record)
    tables = []
    for key in sorted(groups):
        members = groups[key]
        first = members[0]
        gap_param = first.gap_param
        gap_key = cast(str, gap_param)  # None (a task without a lag parameter) gets None: one column
        gaps = tuple(sorted({r.params.get(gap_key) for r in members}, key=_gap_order))
        by_row: dict[str, dict[Any, list[RunRecord]]] = {}
        for record in members:
            by_row.setdefault(_row_key(record), {}).setdefault(record.params.get(gap_key), []).append(record)
        labels = _labels({k: next(iter(v.values()))[0] for k, v in by_row.items()})
        rows = tuple(
            (labels[k], {gap: summarise(at_largest_budget(runs)) for gap, runs in by_row[k].items()})
            for k in sorted(by_row, key=lambda k: labels[k])
        )
        tables.append(Table(
            task=first.task,
            revision=first.task_revision,
            params={k: v for k, v in first.params.items() if k != gap_param},
            gap_param=gap_param,
            chance=first.chance,
            baseline=first.baseline or "chance",
            baseline_loss=first.baseline_loss,
            thresholds=tuple(sorted({r.hyperparameters["threshold"] for r in members if not r.settings()["streak"]})),
            streaks=tuple(sorted({r.settings()["streak"] for r in members} - {0})),
            criteria=tuple(sorted({solved_when(r.settings()) for r in members}, key=lambda c: (c.startswith(
                "test") is False, c))),
            gaps=gaps,
            rows=rows,
        ))
    return tables


def run_hours(records: Sequence[RunRecord]) -> float:
    """Hours the runs took, compilation, training and evaluation, summed over runs (on a CPU, core hours: one
    thread per run)."""
    return sum(r.train_seconds + r.eval_seconds + r.compile_seconds for r in records) / 3600


def ended_otherwise(cell: Cell) -> str:
    """' (1 diverged, 2 failed)': the runs that diverged (a result) and failed (to be redone), apart."""
    parts = [f"{count} {what}" for count, what in ((cell.diverged, "diverged"), (cell.failed, "failed")) if count]
    return f" ({', '.join(parts)})" if parts else ""


def _cell_text(cell: Cell | None) -> str:
    if cell is None:
        return ""
    solved = f"{cell.solved}/{cell.runs}" + ended_otherwise(cell)
    median = median_or_beyond(cell.median_sequences_to_solve, cell.budget)
    accuracy = f"{cell.mean_test_accuracy:.1%}" if cell.mean_test_accuracy is not None else "n/a"
    return f"{solved} · {median} · {accuracy}"


def solved_when(settings: Mapping[str, Any]) -> str:
    """What solves a run with these settings, in words: the test accuracy (with the 1997 paper's
    ST2 condition and stop set where set), or the most recent training sequences (``streak``: all
    right, or at most ``streak_wrong`` wrong, with ``streak_error``); and ABS(beta) where set."""
    if settings.get("streak"):
        window = settings["streak"]
        rule = (f"fewer than {settings['streak_wrong'] + 1} of the last {window:,} training sequences wrong"
                if settings.get("streak_wrong") else f"{window:,} training sequences right in a row")
        rule += f", their mean error below {settings['streak_error']:g}" if settings.get("streak_error") else ""
    else:
        rule = f"test accuracy >= {100 * settings['threshold']:.4g}%"
        rule += f" on {settings['stop_set']} sequences after the test set" if settings.get("stop_set") else ""
        rule += f", mean absolute error below {settings['test_error']:g}" if settings.get("test_error") else ""
    return rule + (f" (right: every output within {settings['abs_error']:g})" if settings.get("abs_error") else "")


def _criteria(table: Table) -> str:
    """What 'solved' means in the table: one criterion, or each of the rows' criteria."""
    several = len(table.criteria) > 1
    return "; or ".join(c + (" (rows with streak=N)" if several and "training sequences" in c else "")
                        for c in table.criteria)


def _title(table: Table) -> str:
    params = ", ".join(f"{k}={v}" for k, v in table.params.items())
    loss = f", loss {table.baseline_loss:.4g}" if table.baseline_loss is not None else ""
    return (table.name + (f" ({params})" if params else "") +
            f": baseline ({table.baseline}) {table.chance:.1%} right{loss}; solved = {_criteria(table)}; "
            "cells: solved runs/runs · median sequences to solve · mean final test accuracy")


def _gap_header(table: Table, gap: Any) -> str:
    return f"{table.gap_param}={gap}" if table.gap_param else "default"


def flat_rows(tables: Sequence[Table]) -> list[dict[str, Any]]:
    """One dict per architecture and lag: the table's task and baseline, and the cell's aggregates."""
    rows = []
    for table in tables:
        for label, cells in table.rows:
            for gap, cell in cells.items():
                rows.append({"task": table.task, **{f"param_{k}": v for k, v in table.params.items()},
                             "architecture": label, "gap_param": table.gap_param, "gap": gap,
                             "chance": table.chance, "baseline": table.baseline,
                             "baseline_loss": table.baseline_loss, **_summary(cell)})
    return rows


def _summary(cell: Cell) -> dict[str, Any]:
    """A cell's aggregates, without the per-run values."""
    skip = ("accuracies", "solved_at", "curves", "quartiles_sequences_to_solve")
    summary = {k: v for k, v in cell.__dict__.items() if k not in skip}
    summary["q1_sequences_to_solve"], summary["q3_sequences_to_solve"] = cell.quartiles_sequences_to_solve
    summary["success_rate_low"], summary["success_rate_high"] = cell.success_interval
    return summary


def text_tables(tables: Sequence[Table], tablefmt: str) -> str:
    """The tables as text in one of tabulate's formats, each under its title."""
    blocks = []
    for table in tables:
        several = len(table.gaps) > 1
        per_gap = f" ({' / '.join(_gap_header(table, g) for g in table.gaps)})" if several else ""
        speed_header = "train seq/s" + per_gap
        headers = ["architecture", *(_gap_header(table, g) for g in table.gaps), speed_header, "params"]
        body = []
        for label, cells in table.rows:
            speeds = [cells[g].sequences_per_second if g in cells else None for g in table.gaps]
            speed = " / ".join(count(s) if s else "-" for s in speeds)
            params = max(c.n_params for c in cells.values())
            body.append([label, *(_cell_text(cells.get(g)) for g in table.gaps), speed, f"{params:,}"])
        blocks.append(_title(table) + "\n\n" + tabulate(body, headers=headers, tablefmt=tablefmt))
    return "\n\n".join(blocks)
