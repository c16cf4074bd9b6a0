"""Plugin discovery through entry points: built-ins, third-party, broken and conflicting plugins."""

from __future__ import annotations

import json

import pytest

from longdep_bench import BenchError
from longdep_bench.registry import get_registry

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


def test_duplicate_name_is_an_error_naming_both_plugins(plugin_dist):
    plugin_dist("fake-dup", {"dup": DUPLICATE})
    registry = get_registry()
    with pytest.raises(BenchError) as error:
        registry.architecture("lstm")
    message = str(error.value)
    assert "torch-rnns (longdep-bench)" in message and "dup (fake-dup)" in message
    assert registry.architecture("lstm2").description == "fine"  # the rest of the plugin works
    assert registry.architecture("gru").name == "gru"
    assert any("registered by two plugins" in f.error for f in registry.failures)


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
