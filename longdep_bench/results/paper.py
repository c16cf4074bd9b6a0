"""The 1997 paper side by side: every published figure beside the runs made under its conditions.

A run is under the paper's protocol when it trains a preset of an architecture (one of the paper's
networks), unchanged, with plain SGD; a preset with options given beside it is another network, shown
apart with what it changes. A published figure (:class:`~longdep_bench.api.specs.Published`) is compared
with the runs of its task whose parameters and settings it applies to. Per row:

- the paper's mean (with its spread where published) and number of trials, with its mark;
- ours: runs solved/runs with the 95% Wilson interval of the success rate; the mean sequences to
  solve with a 95% t-interval, unsolved runs counted at their budget (so the mean is then a lower
  bound, ``>=``, and the interval is open above); the median (``>N`` when it falls on an unsolved
  run);
- the verdict: ``agrees`` when the paper's mean lies in our interval, ``slower`` when it lies below
  it (we needed more sequences), ``faster`` when above; ``undecided`` when it lies above an interval
  that counts unsolved runs at their budget (they might have solved at any later point); none from
  a single run.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from tabulate import tabulate

from longdep_bench.api.params import with_defaults
from longdep_bench.api.specs import ArchitectureSpec, Published
from longdep_bench.results.records import RunRecord, code_key
from longdep_bench.results.statistics import count, median_or_beyond, t_quantile, wilson_interval
from longdep_bench.results.tables import (
    at_largest_budget,
    longest_runs,
    run_hours,
    solved_when,
    summarise,
    task_name,
)

# The paper's experiment of each task, in the paper's order.
EXPERIMENTS = {"reber": "1", "task2a": "2a", "task2b": "2b", "long-lag": "2c", "task3a": "3a", "task3b": "3b",
               "task3c": "3c", "adding": "4", "multiplication": "5", "task6a": "6a", "task6b": "6b"}
@dataclass(frozen=True)
class Estimate:
    """Sequences to solve over runs, unsolved runs censored at their budget."""

    runs: int
    solved: int
    mean: float  # a lower bound of the true mean when some runs are censored
    low: float | None  # the 95% t-interval, unsolved runs at their budget; None from one run
    high: float | None  # (with unsolved runs the true interval is open above)
    median: float | None  # None: the median falls on an unsolved run
    budget: int

    @property
    def censored(self) -> int:
        """Runs that did not solve within their budget."""
        return self.runs - self.solved


def estimate(reached: Sequence[int | None], budgets: Sequence[int]) -> Estimate:
    """The mean, its 95% interval and the median of sequences to solve; ``reached[i]`` None for a
    run that did not solve within ``budgets[i]``."""
    values = [float(r if r is not None else b) for r, b in zip(reached, budgets)]
    solved = sum(r is not None for r in reached)
    n = len(values)
    mean = statistics.fmean(values)
    low = high = None
    if n > 1:
        half = t_quantile(n - 1) * statistics.stdev(values) / math.sqrt(n)
        low, high = mean - half, mean + half
    ranked = sorted(float(r) for r in reached if r is not None) + [math.inf] * (n - solved)
    median = statistics.median(ranked)
    return Estimate(n, solved, mean, low, high, None if math.isinf(median) else median, max(budgets))


def verdict(paper: float, ours: Estimate) -> str:
    """Whether the paper's mean lies in our interval (agrees), below it (slower) or above it (faster)."""
    if ours.low is None:
        return "- (one run)"
    if paper < ours.low:
        return "slower"
    assert ours.high is not None  # set together with low
    if paper > ours.high:
        return f"undecided ({ours.censored} unsolved)" if ours.censored else "faster"
    return "agrees"


def preset_changes(record: RunRecord, architectures: Mapping[str, ArchitectureSpec]) -> dict[str, Any] | None:
    """How a run's network differs from the preset it names (one of the paper's networks): None when
    it names none, {} when it is the preset's network, else each option (or hidden size) given
    beside the preset with its value. A run of an architecture not installed counts as its preset's."""
    options = record.settings()["arch_options"]
    name = options.get("preset")
    spec = architectures.get(record.arch)
    if not name:
        return None
    if spec is None or name not in spec.presets:
        return {}
    resolved = {**{p.name: p.default for p in spec.options}, **options}
    preset = spec.presets[name]
    runtime = {p.name for p in spec.options if p.runtime}
    changes = {k: resolved.get(k) for k, v in preset.items()
               if k != "hidden" and k not in runtime and resolved.get(k) != v}
    if "hidden" in preset and record.settings()["hidden"] != preset["hidden"]:
        changes["hidden"] = record.settings()["hidden"]
    return changes


def paper_protocol(record: RunRecord, architectures: Mapping[str, ArchitectureSpec]) -> bool:
    """Whether a run trained one of an architecture's presets (a paper's network, unchanged) with plain SGD."""
    return record.settings()["optimizer"] == "sgd" and preset_changes(record, architectures) == {}


def _label(task: str, params: Mapping[str, Any], figure: Published) -> str:
    setting = ", ".join(f"{k} {v}" for k, v in figure.setting.items() if k != "arch")
    shown = ", ".join(f"{k}={v}" for k, v in params.items() if k in figure.params and k != "tail")
    milestone = " (ST1)" if figure.milestone else ""
    return f"{EXPERIMENTS.get(task, task)} {task}" + (f" {shown}" if shown else "") + (
        f" [{setting}]" if setting else "") + milestone


def _reached(record: RunRecord, figure: Published) -> int | None:
    return record.milestones.get(figure.milestone) if figure.milestone else record.sequences_to_solve


def code_versions(runs: Sequence[RunRecord]) -> str:
    """'' when one version of the plugins' code trained every run, else how many (records written
    before records said which code trained them count as one version, 'not recorded')."""
    versions = {code_key(r.code) for r in runs}
    if len(versions) < 2:
        return ""
    return f" ({len(versions)} code versions" + (", one not recorded)" if "" in versions else ")")


def comparison_rows(records: Sequence[RunRecord], published: Mapping[str, Sequence[Published]],
                    task_params: Mapping[str, Sequence[Any]], architectures: Mapping[str, ArchitectureSpec]
                    ) -> list[list[str]]:
    """One row per published figure with runs under its conditions (see the module docstring)."""
    runs = [r for r in longest_runs(records) if paper_protocol(r, architectures)]
    rows = []
    for task in sorted(published, key=lambda t: list(EXPERIMENTS).index(t) if t in EXPERIMENTS else 99):
        for figure in published[task]:
            if not figure.sequences:
                continue
            matched = [r for r in runs if r.task == task
                       and figure.applies(with_defaults(task_params.get(task, ()), r.params))
                       and figure.applies_to_run(r.arch, r.settings())]
            if not matched:
                continue
            ours = estimate([_reached(r, figure) for r in matched],
                            [r.hyperparameters["max_sequences"] for r in matched])
            low, high = wilson_interval(ours.solved, ours.runs)
            spread = f" ({figure.spread[0]:,}-{figure.spread[1]:,})" if figure.spread else ""
            trials = f", {figure.trials} trials" if figure.trials else ""
            interval = ("-" if ours.low is None else f"{count(max(ours.low, 0))}-{count(cast(float, ours.high))}"
                        + (" (open above)" if ours.censored else ""))
            rows.append([
                _label(task, with_defaults(task_params.get(task, ()), matched[0].params), figure)
                + ("" if not matched[0].task_revision else f" (revision {matched[0].task_revision})")
                + code_versions(matched),
                f"{figure.sequences:,}{spread} {figure.mark}{trials}",
                f"{ours.solved}/{ours.runs} ({low:.0%}-{high:.0%})",
                ("≥ " if ours.censored else "") + count(ours.mean),
                interval,
                median_or_beyond(ours.median, ours.budget),
                verdict(figure.sequences, ours),
                solved_when(matched[0].settings()),
                f"{run_hours(matched):.2f}",
            ])
    return rows


COMPARISON_HEADERS = ["experiment", "paper: mean sequences [mark]", "ours: solved (95% CI)",
                      "ours: mean", "95% CI of the mean", "median", "verdict", "solved when", "run hours"]


def tally(rows: Sequence[Sequence[str]]) -> dict[str, int]:
    """How many rows agree, are slower, faster, or have no verdict."""
    kinds = ("agrees", "slower", "faster", "undecided")
    counts = {kind: sum(row[6].startswith(kind) for row in rows) for kind in kinds}
    counts["no verdict"] = len(rows) - sum(counts.values())
    return counts


def experiment_name(record: RunRecord) -> str:
    """A row of the suite-protocol table: the task and its parameters."""
    return task_name(record.task, record.task_revision) + "".join(f", {k}={v}" for k, v in record.params.items())


def protocol(record: RunRecord) -> str:
    """The training protocol of a run in a few words: optimiser, sequences per step, output units."""
    settings = record.settings()
    return f"{settings['optimizer']}, {settings['batch_size']}/step, {settings['output_units']} out"


def network(record: RunRecord, architectures: Mapping[str, ArchitectureSpec]) -> str:
    """The architecture of a run, and for a changed preset network the preset and each change."""
    changes = preset_changes(record, architectures)
    if not changes:
        return record.arch
    shown = ", ".join(f"{k}={v}" for k, v in changes.items())
    return f"{record.arch}[preset {record.settings()['arch_options']['preset']}, {shown}]"


def suite_table(records: Sequence[RunRecord], architectures: Mapping[str, ArchitectureSpec]) -> str:
    """The runs not under the paper's protocol, one row per task and parameters, one column per
    architecture and protocol: runs solved/runs · median sequences to solve (mean over the solved
    runs) · budget, and the hours that every run of the row took (shorter budgets included)."""
    records = [r for r in records if not paper_protocol(r, architectures)]
    hours: dict[str, float] = {}
    for record in records:
        hours[experiment_name(record)] = hours.get(experiment_name(record), 0.0) + run_hours([record])
    rows: dict[str, dict[str, list[RunRecord]]] = {}
    keys: dict[str, tuple[Any, ...]] = {}
    columns: dict[str, None] = {}
    for record in longest_runs(records):
        row = experiment_name(record)
        order = list(EXPERIMENTS)
        keys[row] = (order.index(record.task) if record.task in order else len(order), record.task,
                     tuple(sorted(record.params.items())))  # T=100 before T=1000
        column = f"{network(record, architectures)} ({protocol(record)})"
        columns.setdefault(column)
        rows.setdefault(row, {}).setdefault(column, []).append(record)
    body = []
    for row in sorted(rows, key=keys.__getitem__):
        cells = []
        for column in columns:
            runs = at_largest_budget(rows[row][column]) if column in rows[row] else []
            cell = summarise(runs) if runs else None
            solved = [n for n in cell.solved_at if n is not None] if cell else []
            mean = f" (mean {count(sum(solved) / len(solved))})" if solved else ""
            cells.append("" if cell is None else f"{cell.solved}/{cell.runs} · "
                         f"{median_or_beyond(cell.median_sequences_to_solve, cell.budget)}{mean} · "
                         f"{count(cell.budget)}")
        body.append([row, *cells, f"{hours[row]:.2f}"])
    return tabulate(body, headers=["experiment", *columns, "run hours"], tablefmt="github",
                    disable_numparse=True) if body else ""


def paper_section(records: Sequence[RunRecord], published: Mapping[str, Sequence[Published]],
                  task_params: Mapping[str, Sequence[Any]], architectures: Mapping[str, ArchitectureSpec]
                  ) -> list[str]:
    """The report's section on the paper: the comparison, its tally, and other protocols and networks on
    the same tasks."""
    rows = comparison_rows(records, published, task_params, architectures)
    lines = ["", "## Side by side with the paper", "",
             "Each published figure beside the runs made under its conditions: the paper's network for the "
             "experiment (an lstm1997 preset), its learning rate, plain online gradient descent with the truncated "
             "gradient, sigmoid output units on the squared error, and its criterion and stopping rule (column "
             "'solved when'). Ours: runs solved/runs with the 95% Wilson interval of the success rate; the mean "
             "sequences to solve with a 95% t-interval, where unsolved runs count at their budget (the mean is "
             "then a lower bound, marked >=, and the interval is open above); the median. Verdict: agrees (the "
             "paper's mean inside our interval), slower (below it), faster (above it), undecided (above an "
             "interval that counts unsolved runs at their budget). Paper figures carry their "
             "mark: [read] in a primary source, [agreed] by several secondary sources, [recalled] not checkable "
             "here."]
    if rows:
        tallied = ", ".join(f"{n} {kind}" for kind, n in tally(rows).items() if n)
        lines += ["", tabulate(rows, headers=COMPARISON_HEADERS, tablefmt="github", disable_numparse=True), "",
                  f"{len(rows)} rows: {tallied}."]
    else:
        lines += ["", "(No run in this file is under the paper's protocol.)"]
    suite = suite_table(records, architectures)
    if suite:
        lines += ["", "### Other protocols and networks on the same tasks", "",
                  "The suite's architectures under its own protocol, and the paper's networks changed (the preset "
                  "and what differs from it). Cells: runs solved/runs · median sequences to solve (mean over the "
                  "solved runs) · budget; each run's own criterion.", "", suite]
    return lines
