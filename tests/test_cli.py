"""The command line: outputs, files and exit codes, including bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from longdep_bench.results.records import read_records

SMALL = ["--seeds", "1", "--max-sequences", "1024", "--hidden", "8"]


def test_list_shows_architectures_and_tasks(cli):
    result = cli("list")
    assert result.code == 0
    for name in ("rnn", "lstm", "gru", "task6a", "longdep-bench"):
        assert name in result.out
    data = json.loads(cli("list", "--json").out)
    task = {t["name"]: t for t in data["tasks"]}["task6a"]
    assert task["params"]["gap"]["default"] == 40 and task["distribution"] == "longdep-bench"
    assert {a["name"]: a for a in data["architectures"]}["lstm"]["options"]["init"]["default"] == "constant"


def test_run_appends_records_and_prints_table(cli, tmp_path):
    out = tmp_path / "results.jsonl"
    result = cli("run", "-a", "gru", "-a", "rnn", "--gap", "40", "--gap", "60", *SMALL, "-o", str(out))
    assert result.code == 0, result.err
    records = list(read_records(str(out)))
    assert sorted((r.arch, r.params["gap"]) for r in records) == [("gru", 40), ("gru", 60), ("rnn", 40), ("rnn", 60)]
    assert "| architecture" in result.out and "gap=40" in result.out and "gap=60" in result.out
    assert "[4/4]" in result.err
    again = cli("run", "-a", "gru", *SMALL, "-o", str(out))  # already recorded: nothing to run
    assert again.code == 0 and "1 of 1 runs already recorded" in again.err
    assert len(list(read_records(str(out)))) == 4
    other = cli("run", "-a", "gru", *SMALL, "--seed", "1", "-o", str(out))  # another master seed: appended
    assert other.code == 0
    assert len(list(read_records(str(out)))) == 5  # appended, nothing lost
    report = cli("report", str(out), "--format", "csv")
    assert report.code == 0 and report.out.splitlines()[0].startswith("task,")
    assert len(json.loads(cli("report", str(out), "--format", "json").out)) == 4  # gru@40 merges 2 runs
    assert "gru" in cli("report", str(out), "--format", "plain").out


def test_arch_options_and_task_params_in_refs(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    result = cli("run", "-a", "lstm:init=default", "-a", "lstm:gate_bias=1", "-t", "task6a:gap=30",
                 *SMALL, "-o", str(out))
    assert result.code == 0, result.err
    records = list(read_records(str(out)))
    options = sorted((r.hyperparameters["arch_options"] for r in records), key=lambda o: o["init"])
    assert options == [{"init": "constant", "gate_bias": 1.0, "chrono_tmax": 0},
                       {"init": "default", "gate_bias": 3.0, "chrono_tmax": 0}]
    assert all(r.params == {"gap": 30} for r in records)
    assert "lstm[gate_bias=1.0,init=constant]" in result.out


def test_generate_writes_inspectable_npz(cli, tmp_path):
    path = tmp_path / "d.npz"
    result = cli("generate", "task6a", "--gap", "50", "-n", "300", "--seed", "7", "-o", str(path))
    assert result.code == 0, result.err
    data = np.load(path)
    assert data["tokens"].shape == (300, 120) and data["lengths"].shape == (300,)
    assert list(data["symbols"]) == ["a", "b", "c", "d", "E", "B", "X", "Y", "<pad>"]
    assert list(data["classes"]) == ["Q", "R", "S", "U"]
    assert json.loads(str(data["params"])) == {"gap": 50}
    again = tmp_path / "e.npz"
    cli("generate", "task6a", "-p", "gap=50", "-n", "300", "--seed", "7", "-o", str(again))
    assert np.array_equal(np.load(again)["tokens"], data["tokens"])


@pytest.mark.parametrize("args,message", [
    (["run", "-a", "lstmm"], "did you mean 'lstm'"),
    (["run", "-t", "task7"], "unknown task 'task7'"),
    (["run", "--gap", "0"], "gap=0: expected an integer in [11, 100000]"),
    (["run", "--gap", "10000000"], "expected an integer in [11, 100000]"),
    (["run", "-a", "lstm:init=magic"], "init='magic': expected one of default, constant"),
    (["run", "-a", "lstm:colour=red"], "architecture 'lstm' has no parameter 'colour'"),
    (["run", "-p", "gapp=50"], "did you mean 'gap'"),
    (["run", "--seeds", "0"], "--seeds: 0 is not an integer in [1, 100000]"),
    (["run", "--hidden", "-4"], "--hidden: -4 is not an integer in [1, 8192]"),
    (["run", "--lr", "0"], "--lr: 0.0 is not a finite number in (0, 1e+06]"),
    (["run", "--threshold", "1.5"], "--threshold: 1.5 is not a finite number in (0, 1]"),
    (["run", "--jobs", "many"], "--jobs: 'many' is not an integer in [1, 4096] or auto"),
    (["run", "-a", "lstm:"], "'lstm:': nothing after ':'"),
    (["run", "-a", "lstm:init=magic"], "architecture 'lstm': parameter init='magic'"),
    (["run", "--cuda-graphs", "on", "--device", "cpu"], "--cuda-graphs on needs CUDA"),
    (["run", "--format", "yaml"], "unknown format 'yaml'"),
    (["run", "--executor", "slurm"], "unknown executor 'slurm'"),
    (["run", "--device", "cuda"], "CUDA"),
    (["run", "--seeds", "x"], "'x' is not a valid integer"),
    (["generate", "task6a", "-n", "10", "--seed", "1", "-o", "/nonexistent/dir/x.npz"], "cannot write"),
    (["generate", "task6a", "-n", "0", "--seed", "1", "-o", "x.npz"], "-n"),
    (["report", "/nonexistent.jsonl"], "cannot read results file"),
    (["report", "/nonexistent.jsonl", "--paper"], "--paper adds a table to the report that --out DIR writes"),
])
def test_bad_input_is_one_line_and_exit_2(cli, args, message, monkeypatch):
    if args[:3] == ["run", "--device", "cuda"]:
        monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    result = cli(*args)
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert message in result.err and "Traceback" not in result.err


def test_unwritable_output_fails_before_training(cli, tmp_path):
    result = cli("run", *SMALL, "-o", str(tmp_path / "missing" / "r.jsonl"))
    assert result.code == 2 and "cannot write results" in result.err
    assert "[1/" not in result.err


def test_report_rejects_corrupt_and_truncated_files_without_touching_them(cli, tmp_path):
    good = tmp_path / "good.jsonl"
    assert cli("run", "-a", "rnn", *SMALL, "-o", str(good)).code == 0
    line = good.read_text()
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text(line + line[: len(line) // 2])
    result = cli("report", str(truncated))
    assert result.code == 2 and "truncated.jsonl:2: record is truncated" in result.err
    corrupt = tmp_path / "corrupt.jsonl"
    corrupt.write_text("not json\n" + line)
    result = cli("report", str(corrupt))
    assert result.code == 2 and "corrupt.jsonl:1: record is not valid JSON" in result.err
    assert truncated.read_text() == line + line[: len(line) // 2]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert cli("report", str(empty)).code == 2


def test_truncated_last_record_is_set_aside_and_its_run_redone(cli, tmp_path):
    path = tmp_path / "r.jsonl"
    assert cli("run", "-a", "rnn", "-a", "gru", *SMALL, "-o", str(path)).code == 0
    first, second = path.read_text().splitlines(keepends=True)
    path.write_text(first + second[:40])  # as if killed while writing the second record
    result = cli("run", "-a", "rnn", "-a", "gru", *SMALL, "-o", str(path))
    assert result.code == 0, result.err
    assert "cut by an interrupted write" in result.err
    [side] = tmp_path.glob("r.jsonl.truncated-*")
    assert side.read_text() == second[:40]
    lines = path.read_text().splitlines(keepends=True)
    assert lines[0] == first and len(lines) == 2
    assert sorted(r.arch for r in read_records(str(path))) == ["gru", "rnn"]


def test_speed_tables_from_benchmark_json(cli, tmp_path):
    def bench(extra, median):
        return {"group": "g", "name": "n", "extra_info": extra,
                "stats": {"median": median, "min": median / (4 if extra.get("arch") == "gru" else 2), "rounds": 3}}

    data = {"machine_info": {"python_version": "3.11", "longdep_bench": {"torch": "2.13", "device": "cpu"}},
            "benchmarks": [
                bench({"arch": "lstm", "batch": 32, "hidden": 32, "length": 110}, 0.002),
                bench({"arch": "lstm", "batch": 32, "hidden": 32, "length": 1100}, 0.02),
                bench({"arch": "gru", "batch": 32, "hidden": 32, "length": 110}, 0.008),
                bench({"arch": "gru", "batch": 32, "hidden": 32, "length": 1100}, 0.1),
                bench({"arch": "gru", "batch": 128, "hidden": 32, "length": 110}, 0.01),  # one length only
                bench({"kind": "generation", "case": "batch of 16: x", "sequences": 16}, 0.00001),
                bench({"kind": "generation", "case": "default LSTM training step", "sequences": 16}, 0.004)]}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(data))
    result = cli("speed", str(path))
    assert result.code == 0, result.err
    assert "8 ms (4.00x)" in result.out and "| B32 H32 |     10 |  12.5 |" in result.out
    assert "| B128 H32 L110 " in result.out and "| B128 H32 |" not in result.out  # no growth row without L1100
    assert "costs 0.25% of the step" in result.out
    fastest = cli("speed", str(path), "--stat", "min")  # gru's fastest round is 4x faster than its median
    assert fastest.code == 0 and "Fastest-round training-step time" in fastest.out and "2 ms (2.00x)" in fastest.out
    del data["benchmarks"][0]["stats"]["min"]
    path.write_text(json.dumps(data))
    missing = cli("speed", str(path), "--stat", "min")
    assert missing.code == 2 and "has no 'min' statistic" in missing.err and "Traceback" not in missing.err
    path.write_text("{broken")
    bad = cli("speed", str(path))
    assert bad.code == 2 and "is not valid JSON" in bad.err
    path.with_name("b2.json").write_text(json.dumps({"benchmarks": [bench({"arch": "gru", "batch": 32, "hidden": 32,
                                                                           "length": 110}, 0.008)]}))
    no_baseline = cli("speed", str(path.with_name("b2.json")))
    assert no_baseline.code == 0 and "the baseline 'lstm' is not in" in no_baseline.err and "8 ms" in no_baseline.out


def test_speed_puts_graphed_and_eager_side_by_side_relative_to_graphed_lstm(cli, tmp_path):
    def bench(arch, mode, median):
        return {"extra_info": {"arch": arch, "batch": 16, "hidden": 64, "length": 110, "mode": mode},
                "stats": {"median": median}}

    path = tmp_path / "gpu.json"
    path.write_text(json.dumps({"benchmarks": [bench("lstm", "graphed", 0.0005), bench("lstm", "eager", 0.003),
                                               bench("fused-lstm", "graphed", 0.001)]}))
    result = cli("speed", str(path))
    assert result.code == 0, result.err
    assert "lstm (graphed)" in result.out and "3 ms (6.00x)" in result.out and "1 ms (2.00x)" in result.out


def test_speed_shows_a_forward_pass_file_relative_to_the_forward_baseline(cli, tmp_path):
    def bench(arch, median):
        return {"extra_info": {"arch": arch, "batch": 16, "hidden": 64, "length": 110, "mode": "forward"},
                "stats": {"median": median}}

    path = tmp_path / "forward.json"
    path.write_text(json.dumps({"benchmarks": [bench("lstm", 0.0002), bench("fused-lstm (tf32)", 0.0005)]}))
    result = cli("speed", str(path))
    assert result.code == 0 and result.err == ""  # the baseline is there, as its forward pass
    assert "Median forward-pass time; in brackets, relative to lstm [forward only]" in result.out
    assert "0.5 ms (2.50x)" in result.out


def test_speed_against_another_file_compares_case_by_case(cli, tmp_path):
    def bench_file(name, allocator, medians):
        path = tmp_path / name
        path.write_text(json.dumps({
            "machine_info": {"longdep_bench": {"device": "cpu", "allocator": allocator}},
            "benchmarks": [{"extra_info": {"arch": arch, "batch": 128, "hidden": 128, "length": length},
                            "stats": {"median": median}} for (arch, length), median in medians.items()]}))
        return str(path)

    before = bench_file("before.json", "system", {("lstm", 1100): 0.9, ("gru", 1100): 1.1, ("rnn", 110): 0.02})
    after = bench_file("after.json", "keep", {("lstm", 1100): 0.4, ("gru", 1100): 0.55, ("gru", 110): 0.05})
    result = cli("speed", after, "--against", before)
    assert result.code == 0, result.err
    assert "allocator system" in result.out and "allocator keep" in result.out
    assert "900 -> 400 ms (2.25x)" in result.out and "1,100 -> 550 ms (2.00x)" in result.out
    assert "| rnn" not in result.out and "L110 " not in result.out  # cases timed in one file only are left out
    disjoint = cli("speed", bench_file("other.json", "keep", {("rnn", 550): 0.1}), "--against", before)
    assert disjoint.code == 2 and "no training-step case in common" in disjoint.err


@pytest.mark.parametrize("task", ["task6a", "task6b", "adding", "multiplication", "long-lag", "reber", "copy-memory"])
def test_generate_works_for_every_task(cli, tmp_path, task):
    path = tmp_path / f"{task}.npz"
    result = cli("generate", task, "-n", "20", "--seed", "3", "-o", str(path))
    assert result.code == 0, result.err
    data = np.load(path)
    inputs = data["tokens"] if "tokens" in data else data["inputs"]
    assert inputs.shape[0] == data["lengths"].shape[0] == data["targets"].shape[0] == 20
    assert str(data["task"]) == task
    if "tokens" in data:
        assert data["symbols"][-1] == "<pad>" and inputs.max() < len(data["symbols"])
    else:
        assert inputs.dtype == np.float32 and inputs.shape[2] == 2 and data["targets"].dtype == np.float32
    if task == "reber":
        assert data["legal"].shape == (20, 50, 7)


def test_list_settings_take_commas_or_repetition(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    result = cli("run", "-a", "rnn", "--gap", "20,30", "--gap", "40", *SMALL, "--max-sequences", "64", "-o", str(out))
    assert result.code == 0, result.err
    assert sorted(r.params["gap"] for r in read_records(str(out))) == [20, 30, 40]
    error = cli("run", "--gap", "20,x", "-o", str(out)).err.strip()
    assert error == "longdep-bench: error: --gap: 'x' is not an integer"


def test_two_kernels_of_the_same_runs_in_one_file_are_refused(cli, tmp_path):
    path = tmp_path / "r.jsonl"
    result = cli("run", "-a", "gru", "-a", "gru:kernel=torch", *SMALL, "-o", str(path))
    assert result.code == 2 and "Traceback" not in result.err
    assert "gru:kernel=auto and gru:kernel=torch ask for the same runs" in result.err
    assert not path.exists()


@pytest.mark.parametrize("arguments", [["-a", "gru:gate_bias=1,gate_bias=2"], ["-p", "gap=20", "-p", "gap=30"]])
def test_an_option_given_twice_with_two_values_is_refused(cli, tmp_path, arguments):
    result = cli("run", *arguments, "--seeds", "1", "-o", str(tmp_path / "r.jsonl"))
    assert result.code == 2 and "is given twice" in result.err and len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "r.jsonl").exists()
