"""Hostile input and faults: the twenty failures of 0.8.0 (F1-F20, ``shared/reference/reliability-repro.sh``),
each kept fixed, and fault injection: file-size limits during appends and report writes, a full
stdout, signals at random points (worker start-up included) with the process tree checked for
orphans, a killed dask scheduler, no writable numba cache.

Each case asserts the contract: the documented exit status (2 bad input, 3 environment, 128 + signal),
one ``longdep-bench: error`` line and no traceback, nothing already written lost or rewritten.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = [str(Path(sys.executable).with_name("longdep-bench"))]  # the installed command, as users run it
TINY = ["-a", "rnn", "--hidden", "4", "--seeds", "1", "--max-sequences", "64", "--test-size", "16", "-j", "1"]


def one_error(result, code: int) -> str:
    """The single error line of a failed command, after checking its exit status and that no traceback leaked."""
    assert result.code == code, (result.code, result.err)
    assert "Traceback" not in result.err + result.out
    errors = [line for line in result.err.splitlines() if line.startswith("longdep-bench: error")]
    assert len(errors) == 1, result.err
    return errors[0]


def run_cli(args, cwd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=300, **kwargs)


@pytest.fixture
def recorded(cli, tmp_path, monkeypatch):
    """A results file with one real record, in the working directory."""
    monkeypatch.chdir(tmp_path)
    assert cli("run", *TINY, "-o", "r.jsonl", "-q").code == 0
    return tmp_path / "r.jsonl"


@pytest.mark.parametrize("args", [["--lr", "nan"], ["--lr", "inf"], ["--clip", "inf"], ["--threshold", "nan"],
                                  ["-a", "lstm:gate_bias=nan"], ["--lr", "1e309"], ["--streak-error", "-inf"]])
def test_f1_nan_and_infinities_are_refused(cli, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    base = [a for a in TINY if a not in ("-a", "rnn")] if args[0] == "-a" else TINY
    line = one_error(cli("run", *base, *args, "-o", "r.jsonl"), 2)
    assert "finite" in line and not (tmp_path / "r.jsonl").exists()


def test_f1_nan_in_a_sweep_file(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("s.toml").write_text("lr = nan\n[[run]]\narchs = ['rnn']\n")
    assert "finite number" in one_error(cli("run", "--config", "s.toml", "-o", "r.jsonl"), 2)


def test_f2_bytes_that_are_not_utf8(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    junk = bytes(range(128, 256)) * 12 + b"\n"  # no valid UTF-8 here
    for name in ("g.jsonl", "s.toml", "b.json"):
        Path(name).write_bytes(junk)
    for args in (["report", "g.jsonl"], ["run", *TINY, "-o", "g.jsonl"], ["speed", "b.json"],
                 ["run", "--config", "s.toml"], ["reproduce", "g.jsonl", "x"]):
        assert "not UTF-8" in one_error(cli(*args), 2)
    assert Path("g.jsonl").read_bytes() == junk  # nothing moved aside, truncated or rewritten


def test_f3_deep_nesting(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("d.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n")
    Path("d.toml").write_text("seeds = " + "[" * 5000 + "]" * 5000 + "\n")
    Path("d.json").write_text("[" * 100_000 + "]" * 100_000)
    for args in (["report", "d.jsonl"], ["run", *TINY, "-o", "d.jsonl"], ["run", "--config", "d.toml"],
                 ["speed", "d.json"]):
        assert "nested too deeply" in one_error(cli(*args), 2)


@pytest.mark.parametrize("field,value,message", [("params", "gap=40", "field params"), ("env", [], "field env"),
                                                  ("train_seconds", None, "field train_seconds"),
                                                  ("run_id", 5, "field run_id"),
                                                  ("hyperparameters", {"hidden": 4}, "hyperparameters lacks")])
def test_f4_records_of_another_schema(cli, recorded, field, value, message):
    record = json.loads(recorded.read_text())
    record[field] = value
    bad = recorded.parent / "bad.jsonl"
    bad.write_text(json.dumps(record) + "\n")
    for args in (["report", "bad.jsonl"], ["report", "bad.jsonl", "--out", "rep"], ["reproduce", "bad.jsonl", ""],
                 ["run", *TINY, "--resume", "-o", "bad.jsonl"]):
        line = one_error(cli(*args), 2)
        assert "bad.jsonl:1" in line and message in line


def test_f4_speed_files_of_another_schema(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    entries = [{"benchmarks": "x"}, {"benchmarks": [1]}, {"benchmarks": [{"stats": {"median": "fast"}}]},
               {"benchmarks": [{"stats": {"median": 0.1}, "extra_info": {"arch": 5, "batch": 1, "hidden": 1,
                                                                          "length": 1}}]}]
    for entry in entries:
        Path("b.json").write_text(json.dumps(entry))
        one_error(cli("speed", "b.json"), 2)


def test_f5_f6_counts_beyond_a_machine(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    started = time.perf_counter()
    assert "[1, 100000]" in one_error(cli("run", *TINY, "--seeds", str(10 ** 8)), 2)
    assert "[1, 4096]" in one_error(cli("run", *TINY, "--jobs", str(10 ** 10)), 2)
    Path("s.toml").write_text("seeds = 100000\n" + "[[run]]\narchs = ['rnn', 'gru', 'lstm']\ngaps = "
                              + str(list(range(11, 20))) + "\n" + "[[run]]\nseeds = 2\n")
    assert "more than one sweep may plan" in one_error(cli("run", "--config", "s.toml"), 2)
    for flag, value in (("--hidden", 10 ** 6), ("--test-size", 10 ** 9), ("--threads", 10 ** 5),
                        ("--streak", 10 ** 9), ("--batch-size", 10 ** 7)):
        one_error(cli("run", *[a for a in TINY if a not in ("--hidden", "4", "--test-size", "16")], flag, str(value)),
                  2)
    assert time.perf_counter() - started < 60  # refused up front, not after planning 10**8 runs


def _limited(size: int):
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


@pytest.mark.slow
def test_f7_a_file_size_limit_while_appending(recorded):
    before = recorded.read_bytes()
    for attempt in range(2):  # a rerun on the still-full disk fails alike, leaving nothing behind
        result = run_cli(["run", *TINY, "--seeds", "3", "-o", "r.jsonl"], recorded.parent,
                         preexec_fn=_limited(len(before) + 100))
        assert result.returncode == 3, result.stderr
        assert "cannot append to r.jsonl: File too large" in result.stderr and "Traceback" not in result.stderr
        assert recorded.read_bytes() == before  # the records written stay; no fragment is left
        assert sorted(p.name for p in recorded.parent.iterdir()) == ["r.jsonl"]


def test_f7_a_file_size_limit_while_writing_a_report(recorded):
    result = run_cli(["report", "r.jsonl", "--out", "rep"], recorded.parent, preexec_fn=_limited(2000))
    assert result.returncode == 3 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("longdep-bench: error: cannot write")
    assert not [p for p in (recorded.parent / "rep").iterdir() if p.name.startswith(".longdep-bench-")]


def test_f8_devices_that_never_end(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    started = time.perf_counter()
    assert "character device" in one_error(cli("run", *TINY, "-o", "/dev/zero"), 2)
    assert "character device" in one_error(cli("report", "/dev/zero"), 2)
    Path("long.jsonl").write_bytes(b"{" + b" " * (17 * 1024 * 1024) + b"}\n")
    assert "longer than 16 MiB" in one_error(cli("report", "long.jsonl"), 2)
    assert time.perf_counter() - started < 60


def test_f9_generate_replaces_only_regular_files(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkfifo("fifo")
    Path("target").write_text("mine")
    os.symlink("target", "link")
    for name in ("fifo", "link", "/dev/null"):
        assert "not a regular file" in one_error(cli("generate", "task6a", "-n", "4", "--seed", "0", "-o", name), 2)
    assert os.path.islink("link") and Path("target").read_text() == "mine"
    assert cli("generate", "task6a", "-n", "4", "--seed", "0", "-o", "data.npz").code == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".longdep-bench-")] == []


def test_f10_report_never_overwrites_a_file_that_is_not_its_report(cli, recorded):
    readme = recorded.parent / "README.md"
    readme.write_text("my own notes\n")
    assert "not a longdep-bench report" in one_error(cli("report", "r.jsonl", "--out", "."), 2)
    assert readme.read_text() == "my own notes\n"
    assert cli("report", "r.jsonl", "--out", "rep").code == 0
    assert cli("report", "r.jsonl", "--out", "rep").code == 0  # a report of ours may be replaced


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to act as another user")
def test_f11_f19_an_unwritable_report_directory_and_no_writable_numba_cache(recorded):
    os.chmod(recorded.parent, 0o777)
    os.chmod(recorded, 0o644)
    (recorded.parent / "ro").mkdir(mode=0o555)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    env = {"PATH": os.environ["PATH"]}  # no HOME: no user-wide numba cache either
    result = subprocess.run([*nobody, *CLI, "report", "r.jsonl", "--out", "ro"], cwd=recorded.parent, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 3 and "permission denied" in result.stderr and "Traceback" not in result.stderr
    result = subprocess.run([*nobody, *CLI, "run", *TINY, "-o", "n.jsonl", "-q"], cwd=recorded.parent, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_f12_a_full_stdout(tmp_path):
    for args in (["list"], ["plugins"]):
        with open("/dev/full", "w") as full:
            result = subprocess.run([*CLI, *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
        assert result.returncode == 3 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.strip().splitlines() == ["longdep-bench: error: cannot write the output: No space left "
                                                      "on device"]


def _session(pid: int, wait: float = 10.0) -> list[str]:
    """The processes still running in the session of ``pid`` (its workers and the resource tracker),
    after waiting up to ``wait`` seconds for them to exit (zombies, already dead, do not count)."""
    deadline = time.monotonic() + wait
    while True:
        left = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    if os.getsid(int(entry.name)) == pid and state != "Z":
                        left.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:80])
                except (OSError, ProcessLookupError, IndexError):
                    pass
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


SWEEP = ["run", "-a", "lstm", "-a", "gru", "--seeds", "6", "--hidden", "16", "--max-sequences", "8192", "-j", "2",
         "-o", "r.jsonl"]


def _start(cwd) -> subprocess.Popen:
    return subprocess.Popen([*CLI, *SWEEP], cwd=cwd, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _records(path: Path) -> list[str]:
    return [json.loads(line)["run_id"] for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("delay", [0.3, 1.0, 2.0, 4.0])
def test_f13_sigkill_of_the_driver_leaves_no_orphans(tmp_path, delay):
    process = _start(tmp_path)
    time.sleep(delay)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert _session(process.pid, wait=30) == []  # workers and the resource tracker went with it
    runs = _records(tmp_path / "r.jsonl")
    assert len(runs) == len(set(runs))  # nothing recorded twice


def test_f14_workers_start_with_the_terminals_signals_held_until_they_ignore_them():
    """A Ctrl-C while a worker process starts (before it can ignore SIGINT) must not reach it: the
    driver starts workers with SIGINT and SIGHUP blocked, which a worker unblocks once it ignores them."""
    from longdep_bench.system.signals import held_for_workers

    probe = ("import signal, sys\n"
             "blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])\n"
             "if sys.argv[1] == 'quiet':\n"
             "    from longdep_bench.system.signals import quiet_worker; quiet_worker()\n"
             "print(sorted(int(s) for s in blocked), sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),"
             " signal.getsignal(signal.SIGINT) == signal.SIG_IGN)")
    with held_for_workers():
        started, quiet = (subprocess.run([sys.executable, "-c", probe, mode], capture_output=True, text=True,
                                         check=True).stdout.split("] ") for mode in ("plain", "quiet"))
    held = {int(signal.SIGINT), int(signal.SIGHUP)}
    assert held <= set(json.loads(started[0] + "]"))  # blocked from the first instruction
    assert held <= set(json.loads(quiet[0] + "]"))
    assert not held & set(json.loads(quiet[1] + "]")) and quiet[2].strip() == "True"  # then ignored, unblocked
    assert not held & set(signal.pthread_sigmask(signal.SIG_BLOCK, []))  # the driver's thread has them back


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_f14_stopping_signals_at_random_points_are_quiet(tmp_path, signum):
    """To the whole process group (a terminal's Ctrl-C, a service manager's stop), during imports, worker
    start-up or training: one line, 128 + the signal, no traceback, no orphan, a resumable file."""
    rng = random.Random(signum)
    for delay in sorted(rng.uniform(0.05, 6.0) for _ in range(4)):
        process = _start(tmp_path)
        time.sleep(delay)
        os.killpg(process.pid, signum)
        err = process.communicate(timeout=120)[1]
        assert process.returncode == 128 + signum, (delay, err)
        assert "Traceback" not in err and "leaked" not in err, (delay, err)
        assert err.strip().splitlines()[-1].startswith("longdep-bench: interrupted"), (delay, err)
        assert _session(process.pid) == []
    runs = _records(tmp_path / "r.jsonl")
    assert len(runs) == len(set(runs))


def test_f15_a_run_whose_newest_record_is_an_error_is_redone(cli, recorded):
    record = json.loads(recorded.read_text())
    with open(recorded, "a") as handle:
        handle.write(json.dumps({**record, "status": "error", "error": "x"}) + "\n")
    result = cli("run", *TINY, "-o", "r.jsonl")
    assert result.code == 0, result.err
    statuses = [json.loads(line)["status"] for line in recorded.read_text().splitlines()]
    assert statuses == ["ok", "error", "ok"]
    assert "already recorded" in cli("run", *TINY, "-o", "r.jsonl").err  # and now it counts as done


def test_f16_reproduce_compares_only_what_a_record_holds(cli, recorded):
    record = json.loads(recorded.read_text())
    del record["test_loss"]
    (recorded.parent / "old.jsonl").write_text(json.dumps(record) + "\n")
    result = cli("reproduce", "old.jsonl", "")
    assert result.code == 0 and "all 6 results the record holds are the same" in result.err, result.err
    assert "test_loss" not in result.out


@pytest.mark.parametrize("key", ["archs", "tasks"])
def test_f17_empty_lists_in_a_sweep_file(cli, tmp_path, monkeypatch, key):
    monkeypatch.chdir(tmp_path)
    Path("s.toml").write_text(f"seeds = 1\n[[run]]\n{key} = []\n")
    assert "s.toml [[run]] #1: " + key + ": the list is empty" in one_error(cli("run", "--config", "s.toml"), 2)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(shutil.which("dask") is None and not Path(sys.executable).with_name("dask").exists(),
                    reason="needs dask.distributed's command line")
@pytest.mark.slow
def test_f18_a_dead_dask_scheduler_is_one_line(tmp_path):
    dask = str(Path(sys.executable).with_name("dask"))
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen([dask, "scheduler", "--port", str(port), "--no-dashboard"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
    worker = None
    try:
        time.sleep(3)
        worker = subprocess.Popen([dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        sweep = subprocess.Popen([*CLI, "run", "-a", "rnn", "--hidden", "8", "--seeds", "3", "--max-sequences",
                                  "400000", "--executor", f"dask:scheduler={address}", "-o", "r.jsonl"], cwd=tmp_path,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(15)
        os.killpg(scheduler.pid, signal.SIGKILL)
        _, err = sweep.communicate(timeout=120)
        assert sweep.returncode == 3 and "Traceback" not in err, err
        errors = [line for line in err.splitlines() if "error" in line.lower()]
        assert len(errors) == 1 and errors[0].startswith(f"longdep-bench: error: lost the dask scheduler at {address}")
    finally:
        for process in (scheduler, worker):
            if process is not None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def test_f20_an_interrupt_while_saving_leaves_nothing_behind(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("data.npz").write_bytes(b"an earlier data set")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("numpy.savez_compressed", interrupted)
    result = cli("generate", "task6a", "-n", "4", "--seed", "0", "-o", "data.npz")
    assert result.code == 130 and "Traceback" not in result.err and "interrupted" in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npz"]
    assert Path("data.npz").read_bytes() == b"an earlier data set"


def test_sweep_file_errors_of_tasks_and_options_name_the_file_and_block(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("s.toml").write_text("seeds = 1\n[[run]]\narchs = ['rnn']\n[[run]]\ntasks = ['task6a:gap=5']\n")
    assert one_error(cli("run", "--config", "s.toml"), 2).startswith("longdep-bench: error: s.toml [[run]] #2: task")
    Path("s.toml").write_text("seeds = 1\n[[run]]\narchs = ['lstm:gate_bais=1']\n")
    assert "s.toml [[run]] #1: architecture 'lstm' has no parameter 'gate_bais'" in one_error(
        cli("run", "--config", "s.toml"), 2)


def test_json_output_is_json(cli, recorded):
    record = json.loads(recorded.read_text())
    record["test_loss"] = None
    (recorded.parent / "n.jsonl").write_text(json.dumps(record) + "\n")
    result = cli("report", "n.jsonl", "--format", "json")
    assert result.code == 0 and "NaN" not in result.out
    assert json.loads(result.out)[0]["mean_test_loss"] is None


def test_tasks_whose_names_differ_in_punctuation_get_their_own_plots():
    from longdep_bench.results.report import _stems

    stems = _stems(["task-6a-gap-40", "task_6a-gap-40", "adding"])
    assert len(set(stems.values())) == 3 and stems["adding"] == "adding"


@pytest.mark.slow
def test_identical_concurrent_sweeps_share_the_work(tmp_path):
    """Sweeps on one file claim the runs they train (byte-range locks): none is trained twice, and each
    sweep ends with every run's result in its table; a claim dies with its sweep."""
    args = ["run", "-a", "rnn", "-a", "gru", "--hidden", "8", "--seeds", "3", "--max-sequences", "4096",
            "--test-size", "64", "-j", "1", "-o", "r.jsonl", "-q"]
    sweeps = [subprocess.Popen([*CLI, *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(3)]
    outputs = [sweep.communicate(timeout=300) for sweep in sweeps]
    assert [sweep.returncode for sweep in sweeps] == [0, 0, 0], outputs
    runs = _records(tmp_path / "r.jsonl")
    assert len(runs) == len(set(runs)) == 6
    for out, _ in outputs:
        assert "| gru " in out and "| rnn " in out and "/3 " in out
    victim = subprocess.Popen([*CLI, *args[:-5], "--seeds", "4", "-o", "r.jsonl", "-q"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(8)
    os.killpg(victim.pid, signal.SIGKILL)  # its claim on the run it was training goes with it
    victim.wait()
    result = run_cli([*args[:-5], "--seeds", "4", "-o", "r.jsonl", "-q"], tmp_path)
    assert result.returncode == 0, result.stderr
    runs = _records(tmp_path / "r.jsonl")
    assert len(runs) == len(set(runs)) == 8


def _closing(fd: int):
    """A child process's set-up that closes one of its standard streams (as ``>&-`` or ``2>&-`` do)."""
    return lambda: os.close(fd)


def test_a_closed_stdout_is_one_line_and_exit_3_and_no_file_gets_its_descriptor(tmp_path):
    result = subprocess.run([*CLI, "run", *TINY, "-o", "r.jsonl"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, timeout=300, preexec_fn=_closing(1))
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip().splitlines() == [
        "longdep-bench: error: standard output is closed: nothing can be printed (give it a file or /dev/null)"]
    assert not (tmp_path / "r.jsonl").exists()  # refused before anything is trained or written


def test_a_closed_stderr_keeps_the_exit_status_and_writes_nothing_elsewhere(tmp_path):
    (tmp_path / "notes.txt").write_text("mine\n")
    result = subprocess.run([*CLI, "report", "absent.jsonl"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, timeout=300, preexec_fn=_closing(2))
    assert result.returncode == 2 and result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "mine\n"


def test_a_sweep_file_with_a_byte_order_mark_reads_and_a_nul_in_a_setting_is_one_line(tmp_path):
    (tmp_path / "bom.toml").write_bytes("\ufeffseeds = 1\nmax_sequences = 64\n".encode())
    result = run_cli(["run", "--config", "bom.toml", *TINY[:4], "--test-size", "16", "-o", "r.jsonl", "-q"],
                     tmp_path)
    assert result.returncode == 0, result.stderr
    (tmp_path / "nul.toml").write_text('output = "a\\u0000b"\n')
    result = run_cli(["run", "--config", "nul.toml", *TINY], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "longdep-bench: error: nul.toml: output: 'a\\x00b' holds a NUL character"]
