"""Property-based fuzzing of everything a user or a file hands the command line.

The contract, for any input: exit 0, 1 (failed runs), 2 (bad input) or 3 (the environment failed);
never a traceback; a failure is exactly one ``longdep-bench: error:`` line; nothing already
written changes (``report`` and ``reproduce`` leave the results file as it was, ``run`` only appends
to it), and nothing outside the working directory is touched.

Training is replaced by a stub that returns a record at once (the fuzzing is about inputs, not
about training); ``-j 1`` keeps every run in this process. Seeds are fixed (derandomised), so a CI
run is reproducible and takes well under a minute (the ``ci`` profile of ``tests/conftest.py``).
The long run, with 50 times the cases:

    pytest tests/test_fuzz.py --hypothesis-profile=fuzz
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from longdep_bench.config.run_config import derive_seeds
from longdep_bench.config.settings import SETTINGS
from longdep_bench.discovery.registry import get_registry
from longdep_bench.results.records import RunRecord
from longdep_bench.training.loop import Outcome

BASE = ["-a", "rnn", "--hidden", "4", "--seeds", "1", "--max-sequences", "16", "--test-size", "8",
        "--check-every", "16", "-j", "1", "-q"]
CODES = (0, 1, 2, 3)


def fake_train(config, on_check=None):
    """A run's record at once, without training: the inputs' way through the suite is what is fuzzed."""
    task = get_registry().task(config.task)
    outcome = Outcome(seen=16, test_accuracy=0.5, test_loss=1.0, n_params=10, curve=[[16, 0.5]])
    return RunRecord.from_run(config, task, derive_seeds(config.master_seed, config.seed), outcome, 0.01, 0.0,
                              {"device": "cpu", "device_name": "fuzz"})


@pytest.fixture
def fuzz_cli(cli, monkeypatch, tmp_path):
    """The in-process CLI with training stubbed; each call of ``fuzz_cli.fresh()`` (once per example)
    moves to a new empty working directory."""
    monkeypatch.setattr("longdep_bench.execution.driver.train", fake_train)
    monkeypatch.setattr("longdep_bench.training.loop.train", fake_train)
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str):
        try:
            return cli(*args)
        except Exception as exc:  # escaped main(): a traceback for the user; a broken contract here
            return SimpleNamespace(code=-1, out="", err=f"Traceback (escaped main): {type(exc).__name__}: {exc}")

    invoke.fresh = lambda: os.chdir(tempfile.mkdtemp(dir=tmp_path))
    return invoke


def violations(result) -> list[str]:
    """How a command's result breaks the contract (empty: it keeps it): exit 0-3, no traceback, a
    failure as exactly one error line."""
    errors = [line for line in result.err.splitlines() if line.startswith("longdep-bench: error")]
    return [problem for broken, problem in (
        (result.code not in CODES, f"exit {result.code}"),
        ("Traceback" in result.err + result.out, "a traceback"),
        (result.code in (2, 3) and len(errors) != 1, f"{len(errors)} error lines with exit {result.code}"),
        (result.code in (0, 1) and bool(errors), f"an error line with exit {result.code}"),
    ) if broken]


def expect(condition: bool, problem: str) -> None:
    """A file-state part of the contract (nothing written lost or rewritten), tallied like the rest."""
    check_contract(None, [] if condition else [problem])


def check_contract(result, found: list[str] | None = None) -> None:
    """Fail on a broken contract; with LONGDEP_FUZZ_TALLY=FILE, count it there instead (to measure a
    version, for example the one before these tests existed)."""
    found = violations(result) if found is None else found
    err = result.err[-2000:] if result is not None else ""
    tally = os.environ.get("LONGDEP_FUZZ_TALLY")
    if tally:
        with open(tally, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"violations": found, "err": err[-300:]}) + "\n")
        return
    assert not found, (found, err)


nasty_text = st.one_of(
    st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e309", "-1e309", "", " ", "0", "-0", "-1", "1e-320",
                     "auto", "AUTO", "1,2", ",", "=", ":", "a:b=", "task6a:gap=", "lstm:gate_bias=nan",
                     "\u00e9\u4e2d\U0001f600", "9" * 5000, "0x10", "1_000", "true", "None"]),
    st.integers(min_value=-10 ** 30, max_value=10 ** 30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=30),
)
FUZZED = [s for s in SETTINGS if s.name not in ("output", "executor")]


@given(setting=st.sampled_from(FUZZED), value=nasty_text)
def test_every_setting_on_the_command_line(fuzz_cli, setting, value):
    fuzz_cli.fresh()
    flag = setting.option_flags[-1]
    assume("\x00" not in value)
    if setting.name == "jobs":
        assume(not value.strip().isdigit() or int(value) < 2)  # more jobs spawn processes that would train
    args = [a for a in BASE]
    if flag in args:
        index = args.index(flag)
        del args[index:index + 2]
    result = fuzz_cli("run", *args, flag, value, "-o", "out.jsonl")
    check_contract(result)


@given(option=st.sampled_from(["-a", "-t", "-p", "--gap", "--executor", "--format"]), value=nasty_text)
def test_names_and_assignments_on_the_command_line(fuzz_cli, option, value):
    fuzz_cli.fresh()
    assume("\x00" not in value and not value.startswith("dask"))  # no cluster to reach
    check_contract(fuzz_cli("run", *BASE, option, value, "-o", "out.jsonl"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10 ** 20, max_value=10 ** 20)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def toml_value(value) -> str:
    """A value as TOML (inline arrays and tables; NaN and infinities as TOML writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, (int, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items() if v is not None) + "}"
    return '""'


sweep_keys = st.sampled_from([s.name for s in SETTINGS] + ["run", "bogus", "Archs"])
sweep_tables = st.dictionaries(sweep_keys, json_values.filter(lambda v: v is not None), max_size=4)


@given(top=sweep_tables, blocks=st.lists(sweep_tables, max_size=3))
def test_sweep_files(fuzz_cli, top, blocks):
    fuzz_cli.fresh()
    top = {k: v for k, v in top.items() if k not in ("output", "executor", "run")}
    lines = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in top.items()]
    for block in blocks:
        lines += ["[[run]]"] + [f"{json.dumps(k)} = {toml_value(v)}" for k, v in block.items()
                                if k not in ("output", "executor", "run")]
    Path("sweep.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = fuzz_cli("run", "--config", "sweep.toml", "--max-sequences", "16", "--test-size", "8", "-j", "1",
                      "-o", "out.jsonl", "-q")
    check_contract(result)


@given(data=st.binary(max_size=300))
def test_any_bytes_as_any_input_file(fuzz_cli, data):
    fuzz_cli.fresh()
    for name in ("r.jsonl", "s.toml", "b.json"):
        Path(name).write_bytes(data)
    readers = (("report", "r.jsonl"), ("reproduce", "r.jsonl", "x"), ("speed", "b.json"),
               ("run", "--config", "s.toml", "-o", "o.jsonl"))
    for args in readers:
        check_contract(fuzz_cli(*args))
    expect(Path("r.jsonl").read_bytes() == data, "a results file rewritten by reading it")
    check_contract(fuzz_cli("run", *BASE, "-o", "r.jsonl"))
    after = Path("r.jsonl").read_bytes()
    sides = list(Path(".").glob("r.jsonl.truncated-*"))
    if sides:  # a cut record at the end was set aside, whole, and the rest only appended to
        cut = data.rfind(b"\n") + 1
        expect(len(sides) == 1 and sides[0].read_bytes() == data[cut:] and data[cut:].startswith(b"{")
               and after.startswith(data[:cut]), "a results file's end moved aside that was not a cut record")
    else:
        expect(after.startswith(data), "a results file rewritten, not appended to")


def _valid_record() -> dict:
    from longdep_bench.config.options import SweepOptions
    from longdep_bench.planning.plan import plan

    [config] = plan(SweepOptions(archs=("rnn",), seeds=1, hidden=4, max_sequences=16, test_size=8), get_registry())
    return json.loads(fake_train(config).to_json())


RECORD = None
paths = st.sampled_from([("params",), ("env",), ("runtime",), ("hyperparameters",), ("train_seconds",), ("run_id",),
                         ("status",), ("curve",), ("seeds",), ("milestones",), ("hyperparameters", "hidden"),
                         ("hyperparameters", "arch_options"), ("hyperparameters", "lr"), ("params", "gap"),
                         ("runtime", "device"), ("runtime", "arch_runtime"), ("task",), ("arch",), ("seed",),
                         ("sequences_to_solve",), ("test_accuracy",), ("task_revision",), ("n_params",)])


@given(path=paths, value=json_values, delete=st.booleans())
def test_records_with_any_value_in_any_field(fuzz_cli, path, value, delete):
    fuzz_cli.fresh()
    global RECORD
    RECORD = RECORD or _valid_record()
    record = json.loads(json.dumps(RECORD))
    holder = record
    for key in path[:-1]:
        holder = holder[key]
    if delete:
        holder.pop(path[-1], None)
    else:
        holder[path[-1]] = value
    text = json.dumps(record) + "\n"
    Path("r.jsonl").write_text(text, encoding="utf-8")
    for args in (("report", "r.jsonl"), ("report", "r.jsonl", "--format", "json"), ("report", "r.jsonl", "--out", "rep"),
                 ("reproduce", "r.jsonl", ""), ("run", *BASE, "--resume", "-o", "r.jsonl"), ("run", *BASE, "-o", "r.jsonl")):
        before = Path("r.jsonl").read_text(encoding="utf-8")
        result = fuzz_cli(*args)
        check_contract(result)
        after = Path("r.jsonl").read_text(encoding="utf-8")
        expect(after.startswith(before) if args[0] == "run" else after == before, "a results file rewritten")
        if args[-1] == "json" and result.code == 0:
            expect("NaN" not in result.out and "Infinity" not in result.out, "--format json printed NaN")
