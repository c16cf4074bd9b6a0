"""Sweeps: parallel workers, dask, sweep files, resuming after a kill, Ctrl-C, reproducing a record."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from longdep_bench.config.options import SweepOptions
from longdep_bench.config.run_config import RunConfig
from longdep_bench.discovery.registry import get_registry
from longdep_bench.planning.plan import plan
from longdep_bench.results.records import RunRecord, config_from_record, read_records
from longdep_bench.training.loop import train

SMALL = ["--seeds", "1", "--max-sequences", "1024", "--hidden", "8"]


def _cli_process(*args: str) -> subprocess.Popen:
    """The command line in its own process group (so tests can signal it like a terminal would),
    with Ctrl-C's default action: a shell without job control starts background commands with
    SIGINT ignored, and Python then never raises KeyboardInterrupt (the sweep ran to its end)."""
    return subprocess.Popen([sys.executable, "-c", "from longdep_bench.cli import main; main()", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_records(path: Path, count: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= count:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("no records appeared")


def test_two_jobs_record_every_run(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    result = cli("run", "-a", "rnn", "-a", "gru", "--gap", "20", "--gap", "30", *SMALL, "--jobs", "2", "-o", str(out))
    assert result.code == 0, result.err
    records = list(read_records(str(out)))
    assert sorted((r.arch, r.params["gap"]) for r in records) == [("gru", 20), ("gru", 30), ("rnn", 20), ("rnn", 30)]
    assert all(r.env["threads"] == 1 and r.runtime["jobs"] == 2 for r in records)


@pytest.mark.slow
def test_sigkill_then_resume_gives_one_good_record_per_configuration(tmp_path):
    out = tmp_path / "r.jsonl"
    args = ["run", "-a", "rnn", "-a", "gru", "--seeds", "3", "--max-sequences", "2048", "--hidden", "8", "-o", str(out)]
    process = _cli_process(*args)
    _wait_for_records(out, 1, process)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = out.read_bytes()
    resumed = _cli_process(*args)
    stdout, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    assert out.read_bytes().startswith(before.rsplit(b"\n", 1)[0])  # nothing written was rewritten
    records = list(read_records(str(out)))
    planned = {c.run_id() for c in plan(SweepOptions(archs=("rnn", "gru"), seeds=3, max_sequences=2048, hidden=8),
                                        get_registry())}
    ids = [r.run_id for r in records]
    assert len(ids) == len(set(ids)) == 6 and set(ids) == planned
    assert all(r.status == "ok" for r in records)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_keeps_records(tmp_path):
    out = tmp_path / "r.jsonl"
    process = _cli_process("run", "-a", "rnn", "--seeds", "6", "--max-sequences", "3072", "--hidden", "8",
                           "--jobs", "2", "-o", str(out))
    _wait_for_records(out, 1, process)
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Run the same command again to resume" in stderr and "Traceback" not in stderr
    records = list(read_records(str(out)))
    assert 1 <= len(records) < 6


def test_resume_refuses_a_file_with_other_settings(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    assert cli("run", "-a", "rnn", *SMALL, "-o", str(out)).code == 0
    before = out.read_bytes()
    result = cli("run", "-a", "rnn", *SMALL, "--lr", "0.01", "--resume", "-o", str(out))
    assert result.code == 2 and "lr 0.001 there, 0.01 now" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert out.read_bytes() == before
    assert cli("run", "-a", "rnn", *SMALL, "--resume", "-o", str(out)).code == 0  # the same sweep resumes


@pytest.mark.slow
def test_sweep_file_with_blocks_and_command_line_overrides(cli, tmp_path):
    config = tmp_path / "sweep.toml"
    out = tmp_path / "r.jsonl"
    config.write_text(f"""
seeds = 1
hidden = 8
max_sequences = 4096
output = "{out}"

[[run]]
archs = ["rnn"]
gaps = [20]

[[run]]
archs = ["lstm:init=default", "lstm:init=chrono"]
gaps = [20]
hidden = 12
""")
    result = cli("run", "--config", str(config), "--max-sequences", "1024")
    assert result.code == 0, result.err
    records = list(read_records(str(out)))
    assert sorted((r.arch, r.hyperparameters["hidden"]) for r in records) == [("lstm", 12), ("lstm", 12), ("rnn", 8)]
    assert {r.hyperparameters["max_sequences"] for r in records} == {1024}
    assert "lstm[init=chrono]" in result.out and "lstm[init=default]" in result.out


@pytest.mark.parametrize("text,message", [
    ("seeds = [", "malformed TOML"),
    ("[[run]]\ngapz = [40]", "unknown key 'gapz' (did you mean 'gaps'?)"),
    ("sedes = 3", "unknown key 'sedes' (did you mean 'seeds'?)"),
    ("[[run]]\ngaps = 40", "[[run]] #1: gaps: 40 is not a list"),
    ("[[run]]\nseeds = 0", "[[run]] #1: seeds: 0 is not an integer in [1, 100000]"),
    ("[[run]]\njobs = 2", "'jobs' may only be set at the top level"),
    ('device = "gpu"', "device: 'gpu' is not one of auto, cpu, cuda"),
    ("[[run]]\narchs = [\"lstmm\"]", "did you mean 'lstm'"),
])
def test_bad_sweep_files(cli, tmp_path, text, message):
    config = tmp_path / "sweep.toml"
    config.write_text(text)
    result = cli("run", "--config", str(config), "-o", str(tmp_path / "r.jsonl"))
    assert result.code == 2 and message in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1


def test_shipped_sweep_files_are_valid():
    from longdep_bench.config.sweep_file import load_sweep_file

    files = sorted(Path(__file__).parent.parent.joinpath("configs").glob("*.toml"))
    assert files
    for path in files:
        sweep = load_sweep_file(str(path))
        for block in sweep.runs:
            assert plan(SweepOptions(**block), get_registry())


def test_match_params_chooses_hidden_sizes_within_ten_percent(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    result = cli("run", "-a", "rnn", "-a", "lstm", "-a", "gru", "--match-params", "5000", "--seeds", "1",
                 "--max-sequences", "1024", "-o", str(out))
    assert result.code == 0, result.err
    records = list(read_records(str(out)))
    assert len({r.hyperparameters["hidden"] for r in records}) == 3
    for record in records:
        assert abs(record.n_params - 5000) <= 500 and record.hyperparameters["match_params"] == 5000
    assert cli("run", "-a", "rnn", "--match-params", "3", "-o", str(out)).code == 2


def test_a_record_reproduces_exactly():
    config = RunConfig(arch="gru", task="task6a", arch_options={"init": "chrono", "gate_bias": 3.0, "chrono_tmax": 0},
                       params={"gap": 40}, seed=2, master_seed=5, hidden=16, batch_size=16, lr=3e-3, clip=1.0,
                       max_sequences=3072, threshold=0.99)
    record = train(config)
    again = train(config_from_record(RunRecord.from_dict(json.loads(record.to_json()), "test")))
    assert again.run_id == record.run_id
    assert ((again.test_accuracy, again.curve, again.train_sequences)
            == (record.test_accuracy, record.curve, record.train_sequences))


@pytest.mark.slow
def test_dask_local_cluster_runs_a_sweep(cli, tmp_path):
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "r.jsonl"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        result = cli("run", "-a", "rnn", "-a", "gru", *SMALL, "--executor",
                     f"dask:scheduler={cluster.scheduler_address}", "-o", str(out))
    assert result.code == 0, result.err
    assert sorted(r.arch for r in read_records(str(out))) == ["gru", "rnn"]


def test_unreachable_dask_scheduler_is_one_line(cli, tmp_path):
    pytest.importorskip("distributed")
    result = cli("run", *SMALL, "--executor", "dask:scheduler=tcp://127.0.0.1:9", "-o", str(tmp_path / "r.jsonl"))
    assert result.code == 3 and "cannot reach the dask scheduler" in result.err  # the environment, not the input
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.slow
def test_report_with_plots(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    assert cli("run", "-a", "rnn", "-a", "gru", "--gap", "20", "--gap", "30", "--seeds", "2", "--max-sequences", "2048",
               "--hidden", "8", "-o", str(out)).code == 0
    report_dir = tmp_path / "report"
    result = cli("report", str(out), "--out", str(report_dir))
    assert result.code == 0, result.err
    text = (report_dir / "README.md").read_text()
    assert "from 8 runs (8 ok)" in text and "| architecture" in text and "IQR" in text
    assert "31,390" in text  # the paper's figure next to the measured ones
    for name in ("task6a-success.png", "task6a-sequences.png", "task6a-curves.png"):
        assert (report_dir / name).read_bytes().startswith(b"\x89PNG")
        assert f"]({name})" in text
    rows = json.loads(cli("report", str(out), "--format", "json").out)
    assert {(r["architecture"], r["gap"]) for r in rows} == {("gru", 20), ("gru", 30), ("rnn", 20), ("rnn", 30)}
    assert all(r["runs"] == 2 for r in rows)


def test_report_removes_the_plots_it_no_longer_shows(cli, tmp_path):
    out, report_dir = tmp_path / "r.jsonl", tmp_path / "report"
    for task, gap in (("task6a", "20"), ("adding", "22")):
        assert cli("run", "-a", "rnn", "-t", task, "--gap", gap, "--seeds", "1", "--max-sequences", "64",
                   "--check-every", "64", "--test-size", "64", "--hidden", "8", "-q", "-o", str(out)).code == 0
    assert cli("report", str(out), "--out", str(report_dir)).code == 0
    adding_plots = {p.name for p in report_dir.glob("adding-*.png")}
    assert adding_plots and (report_dir / "task6a-success.png").exists()
    (report_dir / "mine.png").write_bytes(b"not the report's")
    only_6a = tmp_path / "task6a.jsonl"
    only_6a.write_text("".join(line for line in out.read_text().splitlines(keepends=True) if "task6a" in line))
    result = cli("report", str(only_6a), "--out", str(report_dir))
    assert result.code == 0 and "removed the plots it no longer shows" in result.err
    assert not any(report_dir.glob("adding-*.png")) and all(name in result.err for name in adding_plots)
    assert (report_dir / "task6a-success.png").exists() and (report_dir / "mine.png").exists()


def test_run_ids_of_recorded_results_stay_stable():
    """Records written by earlier releases keep their ids, so their sweeps resume after an upgrade."""
    path = Path(__file__).parent.parent / "reports" / "reference" / "results.jsonl"
    records = list(read_records(str(path)))[:20]
    assert records and all(config_from_record(r).run_id() == r.run_id for r in records)


def test_a_corrected_task_gets_other_run_ids_and_its_own_tables(cli, tmp_path):
    """Records of a task's older definition (revision 0, written before the correction) are neither
    taken for the corrected task's runs on resume nor mixed with them in reports."""
    out = tmp_path / "r.jsonl"
    args = ("run", "-a", "gru", "-t", "adding", "--gap", "22", "--hidden", "8", "--seeds", "1",
            "--max-sequences", "64", "--check-every", "64", "--test-size", "64", "-q", "-o", str(out))
    assert cli(*args).code == 0
    [new] = list(read_records(str(out)))
    assert new.task_revision == 1 and config_from_record(new).task_revision == 1
    as_revision_0 = dataclasses.replace(config_from_record(new), task_revision=0)
    assert "task_revision" not in as_revision_0.identity() and as_revision_0.run_id() != new.run_id
    old = {**json.loads(new.to_json()), "run_id": as_revision_0.run_id()}
    del old["task_revision"]  # as written before revisions existed
    out.write_text(json.dumps(old) + "\n")
    assert RunRecord.from_dict(old, "test").task_revision == 0
    assert cli(*args).code == 0  # the corrected task's run is not found: it runs
    records = list(read_records(str(out)))
    assert [r.task_revision for r in records] == [0, 1]
    report = cli("report", str(out), "--out", str(tmp_path / "report"))
    text = (tmp_path / "report" / "README.md").read_text()
    assert report.code == 0 and "\n## adding\n" in text and "\n## adding (revision 1)\n" in text


def test_paper_report_puts_each_experiment_beside_the_published_figure(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    paper = ["--optimizer", "sgd", "--batch-size", "1", "--lr", "0.5", "--clip", "0", "--output-units", "sigmoid",
             "--abs-error", "0.3", "--streak", "2000", "--streak-error", "0.1"]
    assert cli("run", "-a", "lstm1997:preset=6a", *paper, "--seeds", "2", "--max-sequences", "1500",
               "-o", str(out)).code == 0
    assert cli("run", "-a", "gru", "--seeds", "1", "--max-sequences", "1024", "--hidden", "8", "-o", str(out)).code == 0
    result = cli("report", str(out), "--paper", "--out", str(tmp_path / "report"))
    assert result.code == 0, result.err
    text = (tmp_path / "report" / "README.md").read_text()
    [row] = [line for line in text.splitlines() if line.startswith("| 6a task6a ")]
    cells = [cell.strip() for cell in row.split("|")[1:-1]]
    assert cells[1] == "31,390 [read], 20 trials" and cells[2].startswith("0/2 (")
    assert cells[3] == "≥ 1.5k" and cells[4] == "1.5k-1.5k (open above)" and cells[5] == ">1.5k"
    assert cells[6] == "undecided (2 unsolved)"  # unsolved at 1,500: they might solve at 31,390
    assert "2,000 training sequences right in a row, their mean error below 0.1" in cells[7]
    spent = sum(r.train_seconds + r.eval_seconds for r in read_records(str(out)) if r.arch == "lstm1997") / 3600
    assert cells[8] == f"{spent:.2f}"
    assert "1 rows: 1 undecided." in text
    assert "### Other protocols and networks on the same tasks" in text and "gru (adam, 16/step, linear out)" in text
    assert "--paper --out" in text


def test_paper_report_orders_the_settings_of_an_experiment_by_value(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    assert cli("run", "-a", "gru", "-t", "adding", "--gap", "100,30", "--seeds", "1", "--max-sequences", "16",
               "--test-size", "16", "--hidden", "4", "-o", str(out)).code == 0
    assert cli("report", str(out), "--paper", "--out", str(tmp_path / "report")).code == 0
    text = (tmp_path / "report" / "README.md").read_text()
    assert text.index("| adding (revision 1), T=30 ") < text.index("| adding (revision 1), T=100 ")  # not as strings


def test_every_runtime_setting_reaches_every_run():
    """A runtime setting given once (command line or sweep file) is in each run's configuration
    (a setting dropped on the way silently ran every run with its default)."""
    from longdep_bench.config.run_config import RUNTIME_SETTINGS

    chosen = {"threads": 2, "cuda_graphs": "off", "device": "cpu", "allocator": "system"}
    assert set(chosen) == {s.name for s in RUNTIME_SETTINGS}, "give every runtime setting a non-default value here"
    configs = plan(SweepOptions(archs=("rnn", "gru"), seeds=2, **chosen), get_registry())
    assert len(configs) == 4
    assert all({name: getattr(c, name) for name in chosen} == chosen for c in configs)
