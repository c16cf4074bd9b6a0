"""The paper comparison: t-intervals, censored runs, verdicts, and which runs a published figure meets."""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics

import pytest
import record_helpers

from longdep_bench.api.specs import Published
from longdep_bench.discovery.registry import get_registry
from longdep_bench.results.paper import (
    comparison_rows,
    estimate,
    paper_protocol,
    preset_changes,
    suite_table,
    tally,
    verdict,
)
from longdep_bench.results.records import RunRecord
from longdep_bench.results.statistics import t_quantile

SEEDS = itertools.count()


def test_t_quantiles():
    assert t_quantile(1) == 12.706 and t_quantile(9) == 2.262 and t_quantile(30) == 2.042
    assert t_quantile(60) == pytest.approx(2.000, abs=1e-3) and t_quantile(120) == pytest.approx(1.980, abs=1e-3)
    assert t_quantile(10 ** 6) == pytest.approx(1.95996, abs=1e-4)


def test_an_estimate_without_censoring_is_the_textbook_t_interval():
    values = [1000, 3000, 2000, 5000, 4000]
    ours = estimate(values, [10_000] * 5)
    half = 2.776 * statistics.stdev(values) / math.sqrt(5)
    assert (ours.mean, ours.median, ours.censored) == (3000, 3000, 0)
    assert ours.low == pytest.approx(3000 - half) and ours.high == pytest.approx(3000 + half)
    assert verdict(3000, ours) == "agrees"
    assert verdict(100, ours) == "slower" and verdict(9000, ours) == "faster"  # we needed more, fewer sequences


def test_unsolved_runs_count_at_their_budget_and_leave_the_verdict_open_above():
    ours = estimate([1900, None, None], [2000, 2000, 2100])
    assert ours.mean == pytest.approx((1900 + 2000 + 2100) / 3) and ours.censored == 2 and ours.median is None
    assert ours.budget == 2100
    assert verdict(1e9, ours) == "undecided (2 unsolved)"  # they might solve at any later point
    assert verdict(10, ours) == "slower"  # even counting them at the budget, ours is above the paper's
    assert verdict(5, estimate([1000], [2000])) == "- (one run)"


ARCHITECTURES = {name: entry.spec for name, entry in get_registry().architectures.items()}


def preset_options(name):
    """The options a run of lstm1997's preset ``name`` records (its runtime options are not among them)."""
    spec = ARCHITECTURES["lstm1997"]
    runtime = {p.name for p in spec.options if p.runtime}
    return {k: v for k, v in spec.presets[name].items() if k != "hidden" and k not in runtime}


def record(task="task6a", params=None, solved_at=None, budget=100_000, options=None, milestones=None, **hyper):
    options = dict(options if options is not None else {"preset": "6a"})
    if options.get("preset"):
        options = {**preset_options(options["preset"]), "preset": options["preset"], **options}
    hyperparameters = record_helpers.hyperparameters(**{
        "hidden": ARCHITECTURES["lstm1997"].presets.get(options.get("preset"), {}).get("hidden", 4), "batch_size": 1,
        "lr": 0.5, "clip": 0.0, "max_sequences": budget, "optimizer": "sgd", "output_units": "sigmoid",
        "arch_options": options, **hyper})
    seed = next(SEEDS)
    return RunRecord.from_dict({
        "run_id": f"r{seed}", "arch": "lstm1997", "task": task, "params": params or {"gap": 40}, "gap_param": None,
        "chance": 0.25, "status": "ok", "seed": seed, "master_seed": 0, "seeds": {}, "solved": solved_at is not None,
        "sequences_to_solve": solved_at, "test_accuracy": 1.0, "sequences_per_second": 1000.0, "train_seconds": 36.0,
        "eval_seconds": 0.0, "train_sequences": solved_at or budget, "n_params": 156,
        "hyperparameters": hyperparameters, "curve": [], "env": {}, "error": None,
        "finished_at": "2026-12-05T00:00:00+00:00", "milestones": milestones or {}}, "test")


def _params():
    return {name: entry.spec.params for name, entry in get_registry().tasks.items()}


def test_a_figure_meets_only_runs_under_its_conditions():
    figures = {"reber": (Published("P", "a", "[read]", {"training_set": 256}, 8_440, trials=30,
                                   setting={"arch": "lstm1997", "preset": "reber-3x2", "lr": 0.5}),)}
    params = {"training_set": 256, "judge": "paper"}
    matching = [record("reber", params, 9000 + i, options={"preset": "reber-3x2"}) for i in range(3)]
    other_lr = record("reber", params, 100, options={"preset": "reber-3x2"}, lr=0.1)
    other_net = record("reber", params, 100, options={"preset": "reber-4x1"})
    fresh = record("reber", {}, 100, options={"preset": "reber-3x2"})  # training_set 0: not the paper's task
    modern = record("reber", params, 100, optimizer="adam", options={})
    changed = record("reber", params, 100, options={"preset": "reber-3x2", "connectivity": "cells"})
    [row] = comparison_rows(matching + [other_lr, other_net, fresh, modern, changed], figures, _params(), ARCHITECTURES)
    assert row[0] == "1 reber training_set=256 [preset reber-3x2, lr 0.5]"
    assert row[1] == "8,440 [read], 30 trials" and row[2].startswith("3/3 (") and row[3] == "9.0k"
    assert row[6] == "slower"  # 9,000-9,002 sequences: the paper's 8,440 lies below the interval
    assert row[8] == f"{3 * 36 / 3600:.2f}"


def test_a_milestone_figure_is_compared_with_the_milestone():
    figures = {"task3a": (Published("P", "ST1", "[read]", {"T": 100, "N": 3}, 27_380, trials=10, milestone="accuracy"),
                          Published("P", "ST2", "[read]", {"T": 100, "N": 3}, 39_850, trials=10))}
    runs = [record("task3a", {}, 40_000 + i, options={"preset": "3a"}, milestones={"accuracy": 27_000 + i})
            for i in range(4)]
    first, second = comparison_rows(runs, figures, _params(), ARCHITECTURES)
    assert first[0].endswith("(ST1)") and first[3] == "27k" and second[3] == "40k"
    assert (first[6], second[6]) == ("faster", "slower")
    assert tally([first, second]) == {"agrees": 0, "slower": 1, "faster": 1, "undecided": 0, "no verdict": 0}


def test_a_changed_preset_is_another_network_shown_with_its_changes():
    paper = record("long-lag", {"q": 100, "p": 100, "tail": "geometric"}, 30_000, options={"preset": "2c"}, lr=0.01)
    changed = record("long-lag", {"q": 100, "p": 100, "tail": "geometric"}, 31_000,
                     options={"preset": "2c", "connectivity": "cells"}, lr=0.01)
    assert preset_changes(paper, ARCHITECTURES) == {} and paper_protocol(paper, ARCHITECTURES)
    assert preset_changes(changed, ARCHITECTURES) == {"connectivity": "cells"}
    assert not paper_protocol(changed, ARCHITECTURES)
    table = suite_table([paper, changed], ARCHITECTURES)
    assert "lstm1997[preset 2c, connectivity=cells] (sgd, 1/step, sigmoid out)" in table
    assert "1/1 · 31k" in table and "30k" not in table


def test_a_row_says_when_runs_of_several_code_versions_meet_in_it():
    figures = {"task6a": (Published("P", "6a", "[read]", {"gap": 40}, 31_390, trials=20),)}
    old = [record(solved_at=30_000 + i) for i in range(2)]
    new = [dataclasses.replace(record(solved_at=32_000 + i), code={"architecture": {
        "plugin": "lstm1997", "distribution": "longdep-bench", "version": "0.9.0", "source": "abc"}}) for i in range(2)]
    assert "code versions" not in comparison_rows(old, figures, _params(), ARCHITECTURES)[0][0]
    [row] = comparison_rows(old + new, figures, _params(), ARCHITECTURES)
    assert row[0].endswith("(2 code versions, one not recorded)") and row[2].startswith("4/4")
