"""Built-in architectures: output shapes, last-step readout, padding invariance, gate-bias init."""

from __future__ import annotations

import pytest
import torch

from longdep_bench.registry import get_registry

ARCHS = sorted(get_registry().architectures)  # every registered architecture, plugins included


def _model(name, options=None):
    registry = get_registry()
    spec = registry.architecture(name)
    task = registry.task("task6a")
    resolved = {p.name: p.default for p in spec.options} | (options or {})
    torch.manual_seed(0)
    return spec.build(task.model_io({"gap": 40}, 110), 16, resolved), task


@pytest.mark.parametrize("name", ARCHS)
def test_output_read_at_true_last_step_and_padding_is_ignored(name, exact_device):
    model, task = _model(name)
    model = model.to(exact_device)
    batch = task.generate({"gap": 40}, 6, seed=1, start=0).to_torch(exact_device)
    out = model(batch.inputs, batch.lengths)
    assert out.shape == (6, 4)
    for i in range(6):  # each sequence alone, unpadded, gives the same output
        length = int(batch.lengths[i])
        alone = model(batch.inputs[i:i + 1, :length], batch.lengths[i:i + 1])
        torch.testing.assert_close(alone[0], out[i], rtol=1e-5, atol=1e-6)
    garbage = batch.inputs.clone()
    steps = torch.arange(garbage.shape[1], device=garbage.device)
    garbage[steps[None, :] >= batch.lengths[:, None]] = 3  # padding replaced by real symbols
    torch.testing.assert_close(model(garbage, batch.lengths), out)


@pytest.mark.parametrize("name,gate", [("lstm", 1), ("gru", 1)])
def test_memory_gate_bias_is_an_explicit_option(name, gate):
    model, _ = _model(name, {"init": "constant", "gate_bias": 3.0})
    rnn = model.core.rnn
    hidden = rnn.hidden_size
    total = (rnn.bias_ih_l0 + rnn.bias_hh_l0)[gate * hidden:(gate + 1) * hidden]
    torch.testing.assert_close(total, torch.full((hidden,), 3.0))
    default, _ = _model(name, {"init": "default"})
    assert (default.core.rnn.bias_ih_l0 + default.core.rnn.bias_hh_l0).abs().max() < 1.0
