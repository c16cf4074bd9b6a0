"""Built-in architectures: output shapes, last-step readout, padding invariance, gate-bias init."""

from __future__ import annotations

import pytest
import torch

from longdep_bench.discovery.registry import get_registry
from longdep_bench.training.checks import check_architecture, check_task

ARCHS = sorted(get_registry().architectures)  # every registered architecture, plugins included


def _model(name, options=None):
    registry = get_registry()
    spec = registry.architecture(name)
    task = registry.task("task6a")
    resolved = {p.name: p.default for p in spec.options} | (options or {})
    torch.manual_seed(0)
    return spec.build(task.model_io({"gap": 40}, 110), 16, resolved), task


@pytest.mark.parametrize("name", ARCHS)
def test_every_architecture_keeps_its_contract(name, exact_device):
    """The checks of 'longdep-bench check': reproducible build, output shape, padding invariance,
    readout at the true last step, a gradient for every parameter; on CUDA, graphed = eager steps."""
    registry = get_registry()
    for task in ("task6a", "reber"):  # outputs at the last step, and at every step
        failures = [c.failure for c in check_architecture(registry.entry("architecture", name),
                                                          registry.entry("task", task), exact_device) if not c.passed]
        assert not failures, failures


@pytest.mark.parametrize("name", sorted(get_registry().tasks))
def test_every_task_keeps_its_contract(name):
    failures = [c.failure for c in check_task(get_registry().entry("task", name)) if not c.passed]
    assert not failures, failures


@pytest.mark.parametrize("name,gate", [("lstm", 1), ("gru", 1)])
def test_memory_gate_bias_is_an_explicit_option(name, gate):
    model, _ = _model(name, {"init": "constant", "gate_bias": 3.0})
    rnn = model.core.rnn
    hidden = rnn.hidden_size
    total = (rnn.bias_ih_l0 + rnn.bias_hh_l0)[gate * hidden:(gate + 1) * hidden]
    torch.testing.assert_close(total, torch.full((hidden,), 3.0))
    default, _ = _model(name, {"init": "default"})
    assert (default.core.rnn.bias_ih_l0 + default.core.rnn.bias_hh_l0).abs().max() < 1.0
