"""Aggregation in tables: success counts, medians with unsolved runs, labels of architecture variants."""

from __future__ import annotations

import itertools

import record_helpers

from longdep_bench.execution.driver import latest_per_run
from longdep_bench.results.records import RunRecord
from longdep_bench.results.tables import build_tables, text_tables

SEEDS = itertools.count()


def render(tables, fmt):
    return text_tables(tables, fmt)


def record(arch="lstm", gap=40, solved_at=None, accuracy=0.25, status="ok", run_id=None, seed=None, **hyper):
    hyperparameters = record_helpers.hyperparameters(**hyper)
    seed = next(SEEDS) if seed is None else seed
    return RunRecord.from_dict({
        "run_id": run_id or f"{arch}{gap}{solved_at}{accuracy}{hyper}{seed}", "arch": arch, "task": "task6a",
        "params": {"gap": gap}, "gap_param": "gap", "chance": 0.25, "status": status, "seed": seed, "master_seed": 0,
        "seeds": {}, "solved": solved_at is not None, "sequences_to_solve": solved_at, "test_accuracy": accuracy,
        "sequences_per_second": 1000.0, "train_seconds": 10.0, "eval_seconds": 0.5, "train_sequences": 1000,
        "n_params": 123, "hyperparameters": hyperparameters, "curve": [], "env": {}, "error": None,
        "finished_at": "2026-11-26T00:00:00+00:00"}, "test")


def test_median_counts_unsolved_runs_as_never_solving():
    records = [record(solved_at=1000, accuracy=1.0), record(solved_at=3000, accuracy=1.0), record(),
               record(gap=100, solved_at=5000, accuracy=1.0), record(gap=100), record(gap=100)]
    [table] = build_tables(records)
    cells = dict(table.rows)["lstm"]
    assert (cells[40].solved, cells[40].runs, cells[40].median_sequences_to_solve) == (2, 3, 3000)
    assert cells[40].quartiles_sequences_to_solve == (2000, None)
    assert cells[100].median_sequences_to_solve is None
    text = render([table], "github")
    assert "2/3 · 3.0k · 75.0%" in text and "1/3 · >100k · 50.0%" in text
    from longdep_bench.results.report import _detail_rows

    iqr = {row[1]: row[5] for row in _detail_rows(table)}
    assert iqr == {40: "2,000 to >100,000", 100: "-"}  # the upper quartile lies beyond the budget


def test_variants_of_one_architecture_get_labels_naming_what_differs():
    records = [record(arch_options={"init": "constant"}), record(arch_options={"init": "chrono"}),
               record(arch="gru", lr=0.01)]
    [table] = build_tables(records)
    assert [label for label, _ in table.rows] == ["gru", "lstm[init=chrono]", "lstm[init=constant]"]


def test_diverged_and_failed_runs_are_counted_apart_and_newest_record_wins():
    records = [record(run_id="a", seed=0, status="error", accuracy=None),
               record(run_id="a", seed=0, solved_at=2048, accuracy=1.0),
               record(run_id="b", seed=1, status="diverged", accuracy=None)]
    [table] = build_tables(latest_per_run(records))
    cell = dict(table.rows)["lstm"][40]
    assert (cell.runs, cell.solved, cell.failed, cell.diverged) == (2, 1, 0, 1)
    assert "1/2 (1 diverged)" in render([table], "plain")  # a result of the architecture, not a failure
    records.append(record(run_id="c", seed=2, status="error", accuracy=None))
    [table] = build_tables(latest_per_run(records))
    assert "1/3 (1 diverged, 1 failed)" in render([table], "plain")


def test_gap_columns_in_numeric_order():
    [table] = build_tables([record(gap=100), record(gap=40), record(gap=1000)])
    assert table.gaps == (40, 100, 1000)


def test_budgets_per_gap_stay_in_one_row():
    [table] = build_tables([record(gap=40, max_sequences=40_000), record(gap=500, max_sequences=16_000)])
    [(label, cells)] = table.rows
    assert label == "lstm" and (cells[40].budget, cells[500].budget) == (40_000, 16_000)
    assert ">16k" in render([table], "github")


def test_an_experiment_counts_once_at_its_largest_budget():
    short = [record(gap=500, seed=s, max_sequences=16_000) for s in range(3)]
    long = [record(gap=500, seed=s, max_sequences=200_000, solved_at=50_000 + s, accuracy=1.0) for s in range(2)]
    [table] = build_tables(short + long)
    cell = dict(table.rows)["lstm"][500]
    assert (cell.runs, cell.solved, cell.budget) == (2, 2, 200_000)  # seed 2 ran at 16k only: left out
    assert sorted(cell.solved_at) == [50_000, 50_001]


def test_rows_solved_by_a_streak_are_labelled_and_the_title_says_both_criteria():
    records = [record(arch="lstm1997", solved_at=30_000, accuracy=1.0, streak=2000),
               record(arch="lstm1997", solved_at=28_672, accuracy=1.0), record(arch="gru")]
    [table] = build_tables(records)
    assert [label for label, _ in table.rows] == ["gru", "lstm1997[streak=0]", "lstm1997[streak=2000]"]
    assert ("solved = test accuracy >= 99%; or 2,000 training sequences right in a row (rows with streak=N)"
            in render([table], "github"))
    [streak_only] = build_tables(records[:1])
    assert "solved = 2,000 training sequences right in a row;" in render([streak_only], "github")


def test_records_written_before_a_setting_existed_read_it_at_its_default():
    old = record(seed=0)  # no optimizer, output_units or streak: written by 0.1
    new = record(seed=1, solved_at=50_000, accuracy=1.0, optimizer="adam", output_units="linear", streak=0)
    assert old.settings()["streak"] == 0 and old.settings()["optimizer"] == "adam"
    [table] = build_tables([old, new])
    [(label, cells)] = table.rows
    assert label == "lstm" and (cells[40].runs, cells[40].solved) == (2, 1)  # one row, not lstm[streak=None]


def test_success_rates_come_with_their_wilson_interval():
    from longdep_bench.results.statistics import wilson_interval

    assert [tuple(round(x, 3) for x in wilson_interval(k, 5)) for k in (0, 3, 5)] == [
        (0.0, 0.434), (0.231, 0.882), (0.566, 1.0)]
    low, high = wilson_interval(50, 100)
    assert round(low, 3) == 0.404 and round(high, 3) == 0.596
    [table] = build_tables([record(solved_at=1000, accuracy=1.0) for _ in range(5)])
    assert dict(table.rows)["lstm"][40].success_interval == wilson_interval(5, 5)
    from longdep_bench.results.report import _detail_rows

    assert _detail_rows(table)[0][3] == "57%-100%"
    from longdep_bench.results.tables import flat_rows

    [row] = flat_rows([table])
    assert (round(row["success_rate_low"], 4), row["success_rate_high"]) == (0.5655, 1.0)


def _other_value(setting):
    """A valid value of a run setting other than the typical records' one."""
    from longdep_bench.config.settings import BY_NAME

    current = record_helpers.HYPERPARAMETERS.get(setting, BY_NAME[setting].default)
    declared = BY_NAME[setting]
    if declared.choices:
        return next(c for c in declared.choices if c != current)
    if declared.type is int:
        return (current or 0) + 7
    return (current or 0.0) / 2 if current else 0.5


def test_every_run_setting_but_the_budget_splits_rows():
    """Rows come from the settings declaration: a run setting added later splits rows unless its
    declaration says why not, and two runs differing only in it never merge into one cell."""
    from longdep_bench.config.settings import Scope, in_scopes

    merged = []
    for setting in ("hidden",) + tuple(s.name for s in in_scopes(Scope.RUN)):
        records = [record(solved_at=1000, accuracy=1.0), record(**{setting: _other_value(setting)})]
        [table] = build_tables(records)
        if len(table.rows) != 2:
            merged.append(setting)
        else:
            labels = [label for label, _ in table.rows]
            assert any(setting in label for label in labels), (setting, labels)  # the label says what differs
    assert merged == ["max_sequences"], "only the training budget may share a row"


def test_records_read_the_same_with_and_without_the_fast_decoder(monkeypatch):
    """orjson where installed, the standard library's json otherwise: the same record, and NaN,
    Infinity and cut lines refused by both with the same one-line errors."""
    import pytest

    from longdep_bench.results import records
    from longdep_bench.system.errors import BenchError

    line = record(solved_at=1000, accuracy=1.0).to_json() + "\n"
    fast = records.parse_record(line, "r.jsonl:1")
    refused = {}
    for decoder in ("orjson", None):
        if decoder is None:
            monkeypatch.setattr(records, "orjson", None)
        assert records.parse_record(line, "r.jsonl:1") == fast
        for bad in ('{"test_accuracy": NaN}\n', '{"x": Infinity}\n', '{"run_id": "ab'):
            with pytest.raises(BenchError) as error:
                records.parse_record(bad, "r.jsonl:2")
            refused.setdefault(bad, set()).add(str(error.value).split("(")[0])
    assert all(len(messages) == 1 for messages in refused.values()), refused


def test_implausible_and_inconsistent_record_values_are_refused():
    """Values each of the right type but impossible: an accuracy of 500%, negative counts, a solved run
    without its count; each one line naming the field, never a table built from them."""
    import json

    import pytest

    from longdep_bench.results import records
    from longdep_bench.system.errors import BenchError

    good = json.loads(record(solved_at=1000, accuracy=1.0).to_json())
    for field, value, words in [("test_accuracy", 5.0, "in [0, 1]"), ("test_accuracy", 1e308, "in [0, 1]"),
                                ("train_sequences", -1, "at least 0"), ("chance", 1.5, "in [0, 1]"),
                                ("sequences_to_solve", None, "a solved run has its count"),
                                ("train_seconds", -0.5, "at least 0")]:
        with pytest.raises(BenchError) as error:
            records.parse_record(json.dumps({**good, field: value}) + "\n", "r.jsonl:3")
        assert str(error.value).startswith("r.jsonl:3: field ") and words in str(error.value), (field, error.value)
    assert records.parse_record(json.dumps(good) + "\n", "r.jsonl:1") is not None
