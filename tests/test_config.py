"""The configuration dataclasses, written out, against the settings declaration they must agree with."""

from __future__ import annotations

import dataclasses

import pytest

from longdep_bench.config.options import Execution, SweepOptions
from longdep_bench.config.run_config import EXPERIMENT_FIELDS, RunConfig
from longdep_bench.config.settings import AUTO, Scope, Setting, in_scopes
from longdep_bench.system.errors import BenchError


def _annotation(setting: Setting, default: object) -> str:
    """The field type a setting's field must have, written as the dataclasses write it."""
    base = f"tuple[{setting.type.__name__}, ...]" if setting.many else setting.type.__name__
    if setting.auto:
        base += " | str"
    return f"{base} | None" if default is None else base


def _declared(cls: type) -> list[tuple[str, str, object]]:
    fields = dataclasses.fields(cls)
    return [(f.name, f.type, f.default) for f in fields]  # type: ignore[misc]


@pytest.mark.parametrize("cls, scopes", [(SweepOptions, (Scope.PLAN, Scope.RUN, Scope.RUNTIME)),
                                         (Execution, (Scope.EXECUTION,))])
def test_options_have_one_field_per_setting_with_its_type_and_default(cls, scopes):
    expected = [(s.name, _annotation(s, s.default), s.default) for s in in_scopes(*scopes)]
    assert _declared(cls) == expected


def test_run_config_has_the_experiment_then_every_run_and_runtime_setting():
    fields = dataclasses.fields(RunConfig)
    names = [f.name for f in fields]
    assert names[:len(EXPERIMENT_FIELDS)] == list(EXPERIMENT_FIELDS)
    settings = in_scopes(Scope.RUN, Scope.RUNTIME)
    rest = [f for f in fields if f.name not in EXPERIMENT_FIELDS and f.name not in ("task_revision", "arch_runtime")]
    expected = []
    for s in settings:
        default = s.fallback if s.default is None else s.default
        expected.append((s.name, _annotation(s, default), default, s.scope is Scope.RUN))
    assert [(f.name, f.type, f.default, f.compare) for f in rest] == expected
    by_name = {f.name: f for f in fields}
    assert not by_name["arch_runtime"].compare and by_name["task_revision"].compare


def test_options_validate_every_field():
    with pytest.raises(BenchError, match="setting seeds"):
        SweepOptions(seeds=0)
    with pytest.raises(BenchError, match="setting jobs"):
        Execution(jobs=0)
    assert Execution(jobs=AUTO).jobs == AUTO
    assert SweepOptions(gaps=[40, 80]).gaps == (40, 80)  # normalised to a tuple


def test_a_cuda_configuration_is_built_and_identified_on_any_machine():
    """The device is resolved by the planner, not by the configuration: a CUDA record's run id is
    recomputed on a CPU machine, and equals the CPU run's (runtime settings stay out of the id)."""
    common = dict(arch="gru", task="task6a", arch_options={}, params={"gap": 40}, seed=0, master_seed=0, hidden=8)
    cuda, cpu = RunConfig(**common, device="cuda"), RunConfig(**common, device="cpu")
    assert cuda.device == "cuda"
    assert cuda.run_id() == cpu.run_id()
