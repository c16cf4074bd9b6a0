"""Plugin discovery through entry points: built-ins, third-party, broken and conflicting plugins."""

from __future__ import annotations

import json

import pytest

from longdep_bench import BenchError
from longdep_bench.discovery.registry import get_registry

TOY_ARCH = """
    from longdep_bench import ArchitectureSpec, SequenceModel, hookimpl
    import torch

    @hookimpl
    def register_architectures(register):
        register(ArchitectureSpec(
            name="toy", description="a toy",
            build=lambda io, hidden, options: SequenceModel(torch.nn.Identity(), io, io.input_size)))
"""
BROKEN_IMPORT = "import not_a_module_anywhere\n"
BROKEN_HOOK = """
    from longdep_bench import hookimpl

    @hookimpl
    def register_tasks(register):
        raise RuntimeError("cannot register today")
"""
DUPLICATE = """
    from longdep_bench import ArchitectureSpec, hookimpl
    from longdep_bench_plugins.torch_rnns import LSTM

    @hookimpl
    def register_architectures(register):
        register(ArchitectureSpec(name="lstm", description="another lstm", build=LSTM.build))
        register(ArchitectureSpec(name="lstm2", description="fine", build=LSTM.build))
"""


def test_builtins_come_through_entry_points():
    registry = get_registry()
    assert {"rnn", "lstm", "gru"} <= set(registry.architectures)
    assert "task6a" in registry.tasks
    assert registry.architectures["lstm"].distribution == "longdep-bench"
    hooks = {p.name: p.hooks for p in registry.plugins}
    assert hooks["torch-rnns"] == ("register_architectures",)
    assert hooks["temporal-order"] == ("register_tasks",)


def test_third_party_distribution_is_discovered(plugin_dist):
    plugin_dist("fake-toy", {"toy": TOY_ARCH}, version="2.5")
    registry = get_registry()
    assert registry.architectures["toy"].distribution == "fake-toy"
    assert registry.architectures["toy"].plugin == "toy"
    info = {p.name: p for p in registry.plugins}["toy"]
    assert (info.version, info.hooks) == ("2.5", ("register_architectures",))
    assert "lstm" in registry.architectures  # built-ins unaffected


def test_broken_plugins_are_reported_not_fatal(plugin_dist):
    plugin_dist("fake-broken", {"bad-import": BROKEN_IMPORT, "bad-hook": BROKEN_HOOK, "toy": TOY_ARCH})
    registry = get_registry()
    failures = {f.name: f.error for f in registry.failures}
    assert "ModuleNotFoundError" in failures["bad-import"] and "not_a_module_anywhere" in failures["bad-import"]
    assert "RuntimeError: cannot register today" in failures["bad-hook"]
    assert {"toy", "lstm", "gru", "rnn"} <= set(registry.architectures)
    assert "bad-hook" not in {p.name for p in registry.plugins}


def test_duplicate_name_is_a_conflict_shown_everywhere_and_unusable(plugin_dist, cli):
    plugin_dist("fake-dup", {"dup": DUPLICATE})
    registry = get_registry()
    with pytest.raises(BenchError) as error:
        registry.architecture("lstm")
    message = str(error.value)
    assert "torch-rnns (longdep-bench)" in message and "dup (fake-dup)" in message
    assert registry.architecture("lstm2").description == "fine"  # the rest of both plugins works
    assert registry.architecture("gru").name == "gru"
    assert not registry.failures and {"dup", "torch-rnns"} <= {p.name for p in registry.plugins}
    listed = cli("list", "--json")
    lstms = [a for a in json.loads(listed.out)["architectures"] if a["name"] == "lstm"]
    assert sorted((a["distribution"], a["conflict"]) for a in lstms) == [("fake-dup", True), ("longdep-bench", True)]
    warnings = [line for line in listed.err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "'lstm' is registered by 2 plugins" in warnings[0]
    assert cli("list").out.count("CONFLICT") == 2
    result = cli("run", "-a", "lstm", "-o", "unused.jsonl")
    assert result.code == 2 and "registered by 2 plugins" in result.err.splitlines()[-1]


MISSPELT = """
    from longdep_bench import hookimpl

    @hookimpl
    def register_architecture(register):
        pass
"""
UNMARKED = """
    def register_tasks(register):
        pass
"""
WRONG_ARGUMENT = """
    from longdep_bench import hookimpl

    @hookimpl
    def register_architectures(reg):
        pass
"""
NO_HOOK = "VALUE = 1\n"


@pytest.mark.parametrize("source,message", [
    (MISSPELT, "plugin p defines register_architecture, which is not a hook (did you mean register_architectures?)"),
    (UNMARKED, "plugin p: register_tasks is not marked with @longdep_bench.hookimpl, so it is never called"),
    (WRONG_ARGUMENT, "hook register_architectures of p takes `register`, got `reg`"),
    (NO_HOOK, "plugin p defines no known hook"),
])
def test_hook_mistakes_are_one_clear_line(plugin_dist, cli, source, message):
    plugin_dist("fake-hooks", {"p": source})
    [failure] = get_registry().failures
    assert message in failure.error
    shown = cli("plugins")
    assert message in shown.out
    warned = [line for line in cli("list").err.splitlines() if "warning" in line]
    assert len(warned) == 1 and message in warned[0]


EXTRAS = """
    import contextlib
    from longdep_bench import ExecutorSpec, FormatSpec, hookimpl

    @contextlib.contextmanager
    def inline(request):
        yield None

    @hookimpl
    def register_executors(register):
        register(ExecutorSpec("inline", "this process, whatever --jobs says", inline))

    @hookimpl
    def register_formats(register):
        register(FormatSpec("count", "the number of tables", lambda tables: f"{len(tables)} table(s)"))
"""


def test_a_plugin_adds_an_executor_and_a_format(plugin_dist, cli, tmp_path):
    plugin_dist("fake-extras", {"extras": EXTRAS})
    out = tmp_path / "r.jsonl"
    result = cli("run", "-a", "rnn", "--seeds", "1", "--max-sequences", "1024", "--hidden", "8", "--executor",
                 "inline", "--jobs", "2", "--format", "count", "-o", str(out))
    assert result.code == 0, result.err
    assert result.out.strip() == "1 table(s)"
    assert cli("report", str(out), "--format", "count").out.strip() == "1 table(s)"
    assert cli("report", str(out), "--format", "cnt").err.count("did you mean 'count'") == 1


def test_cli_reports_broken_plugin(plugin_dist, cli):
    plugin_dist("fake-broken", {"bad-import": BROKEN_IMPORT})
    listed = cli("list", "--json")
    assert listed.code == 0
    warnings = [line for line in listed.err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "bad-import" in warnings[0]
    names = {a["name"] for a in json.loads(listed.out)["architectures"]}
    assert {"rnn", "lstm", "gru"} <= names
    shown = cli("plugins", "--json")
    data = json.loads(shown.out)
    assert [f["name"] for f in data["failed"]] == ["bad-import"]
    assert {"torch-rnns", "temporal-order"} <= {p["name"] for p in data["loaded"]}
    assert cli("plugins").out.count("bad-import") == 1


def test_unknown_names_suggest_close_matches():
    registry = get_registry()
    with pytest.raises(BenchError, match="did you mean 'lstm'"):
        registry.architecture("lsmt")
    with pytest.raises(BenchError, match="did you mean 'task6a'"):
        registry.task("tsak6a")


def test_every_kind_has_its_hook_and_every_hook_its_kind():
    from longdep_bench.api import hookspecs
    from longdep_bench.discovery.registry import HOOKS

    declared = {name for name in vars(hookspecs) if name.startswith("register_")}
    assert declared == set(HOOKS)
