"""Plugin contracts: a task's or model's mistake is one line naming the plugin and the rule."""

from __future__ import annotations

import pytest

from longdep_bench.results.records import Status, read_records

BAD_TASKS = """
    import numpy as np
    from longdep_bench import Batch, OutputKind, Param, TaskSpec, hookimpl

    def make(kind):
        def generate(params, n, seed, start=0):
            rows = [np.random.default_rng([seed, start + i]).integers(0, 2, size=12) for i in range(n)]
            tokens = np.array(rows, dtype=np.int8).reshape(n, 12)
            lengths = np.full(n, 12, dtype=np.int64)
            targets = tokens[:, 0].astype(np.int64)
            if kind == "wide-targets":
                targets = np.zeros((n, 3), dtype=np.int64)
            elif kind == "short-targets":
                targets = targets[:-1]
            elif kind == "four-d":
                tokens = tokens.reshape(n, 12, 1, 1)
            elif kind == "long-lengths":
                lengths = lengths + 5
            elif kind == "class-seven":
                targets[:] = 7
            elif kind == "bad-ids":
                tokens[:, 3] = 9
            elif kind == "impure":
                targets = np.random.default_rng().integers(0, 2, size=n)
            elif kind == "a-tuple":
                return tokens, lengths, targets
            elif kind == "raises":
                raise ValueError("no data today")
            return Batch(inputs=tokens, lengths=lengths, targets=targets)
        return generate

    KINDS = ("wide-targets", "short-targets", "four-d", "long-lengths", "class-seven", "bad-ids", "impure", "a-tuple",
             "raises", "fine")

    @hookimpl
    def register_tasks(register):
        for kind in KINDS:
            register(TaskSpec(name=kind, description=kind, output=OutputKind.CLASS_AT_END, generate=make(kind),
                              symbols=("0", "1"), classes=("0", "1"), chance=0.5))
"""
RULES = {
    "wide-targets": "targets are int64 of shape (50, 3); a class-at-end task returns integer class ids (50,)",
    "short-targets": "targets has shape (49,); asked for 50 sequences",
    "four-d": "inputs are int8 of shape (50, 12, 1, 1); token tasks return integer ids (N, T)",
    "long-lengths": "lengths span [17, 17]; allowed: 1..12 (the padded width)",
    "class-seven": "class ids span [7, 7]; allowed: 0..1",
    "bad-ids": "token ids span [0, 9]; allowed: 0..1 and 2 for padding",
    "a-tuple": "generate returned a tuple, not a Batch",
    "raises": "failed: ValueError: no data today (fake_bad_tasks.py:",
}
BAD_MODEL = """
    import torch
    from longdep_bench import ArchitectureSpec, hookimpl

    class Wrong(torch.nn.Module):
        def __init__(self, io):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(3))
        def forward(self, inputs, lengths):
            return self.w.expand(inputs.shape[0], 3)

    class Peeks(torch.nn.Module):
        def __init__(self, io):
            super().__init__()
            self.head = torch.nn.Linear(1, io.n_outputs)
        def forward(self, inputs, lengths):
            return self.head(inputs.float().sum(1, keepdim=True))  # reads the padding too

    @hookimpl
    def register_architectures(register):
        register(ArchitectureSpec(name="wrong-shape", description="3 outputs", build=lambda io, h, o: Wrong(io)))
        register(ArchitectureSpec(name="peeks", description="reads padding", build=lambda io, h, o: Peeks(io)))
"""


@pytest.mark.parametrize("kind,rule", RULES.items())
def test_generate_names_the_plugin_and_the_broken_rule(plugin_dist, cli, tmp_path, kind, rule):
    plugin_dist("fake-bad", {"tasks": BAD_TASKS})
    out = tmp_path / "d.npz"
    result = cli("generate", kind, "-n", "50", "--seed", "1", "-o", str(out))
    assert result.code == 1 and not out.exists()
    [line] = result.err.strip().splitlines()
    assert f"task '{kind}' (plugin tasks from fake-bad)" in line and rule in line and "Traceback" not in line


@pytest.mark.parametrize("where", [0, 1, 7])
def test_debug_shows_the_traceback_of_a_plugin_fault_wherever_it_stands(plugin_dist, cli, tmp_path, where):
    plugin_dist("fake-bad", {"tasks": BAD_TASKS})
    arguments = ["generate", "raises", "-n", "5", "--seed", "1", "-o", str(tmp_path / "d.npz")]
    arguments.insert(where, "--debug")
    result = cli(*arguments)
    assert result.code == 1 and "Traceback" in result.err and "no data today" in result.err
    without = cli("generate", "raises", "-n", "5", "--seed", "1", "-o", str(tmp_path / "d.npz"))
    assert without.code == 1 and "Traceback" not in without.err


@pytest.mark.parametrize("kind", ["class-seven", "impure", "raises"])
def test_run_records_the_broken_rule_and_exits_1(plugin_dist, cli, tmp_path, kind):
    plugin_dist("fake-bad", {"tasks": BAD_TASKS})
    out = tmp_path / "r.jsonl"
    result = cli("run", "-a", "rnn", "-a", "gru", "-t", kind, "--seeds", "1", "--max-sequences", "64", "--hidden", "4",
                 "--test-size", "32", "-o", str(out))
    assert result.code == 1, result.err
    records = list(read_records(str(out)))
    assert [r.status for r in records] == [Status.ERROR, Status.ERROR]
    assert all(f"task '{kind}' (plugin tasks from fake-bad)" in r.error for r in records)
    assert result.err.strip().splitlines()[-1].endswith("2 of them ended in an error (see the error field of their "
                                                         "records; running the command again redoes them)")
    assert "Traceback" not in result.err


def test_a_model_with_the_wrong_output_shape_is_named(plugin_dist, cli, tmp_path):
    plugin_dist("fake-model", {"models": BAD_MODEL})
    out = tmp_path / "r.jsonl"
    result = cli("run", "-a", "wrong-shape", "--seeds", "1", "--max-sequences", "64", "-o", str(out))
    assert result.code == 1
    [record] = read_records(str(out))
    assert ("architecture 'wrong-shape' (plugin models from fake-model) broke its contract: its model returned "
            "torch.float32 of shape (7, 3); expected floats of shape (7, 4)") in record.error


def test_check_command_passes_built_ins_and_names_what_fails(plugin_dist, cli):
    plugin_dist("fake-model", {"models": BAD_MODEL})
    plugin_dist("fake-bad", {"tasks": BAD_TASKS})
    good = cli("check", "lstm", "gru", "task6a", "reber")
    assert good.code == 0, good.out
    assert good.out.count("ok  ") == 16 and "16 of 16 checks passed" in good.err
    assert "architecture lstm on task6a" in good.out  # the first task named is the architectures' task
    bad = cli("check", "wrong-shape", "peeks", "impure", "fine", "-t", "task6a")
    assert bad.code == 1
    assert "FAIL architecture wrong-shape on task6a: output shape" in bad.out
    assert "FAIL architecture peeks on task6a: padding does not change outputs" in bad.out
    assert "generate is not pure: two identical calls gave different targets" in bad.out
    assert "ok   task fine: batch shapes" in bad.out
    assert cli("check", "nothing-by-this-name").code == 2
    with_options = cli("check", "lstm1997:preset=6a,init=0.05", "-t", "task6a:gap=20")
    assert with_options.code == 0 and "architecture lstm1997[preset=6a," in with_options.out
    assert "init=0.05" in with_options.out and " on task6a: " in with_options.out
