"""The numba RNN, GRU and LSTM kernels: their tanh, and outputs, states and every gradient against
torch.nn (float64 references), alone and behind ``rnn:kernel=numba`` and ``gru:kernel=numba``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from longdep_bench.discovery.registry import get_registry
from longdep_bench.kernels.numba.cells import GRU_CELL, LSTM_CELL, RNN_CELL, cell_recurrence, fast_tanh_array

CELLS = {"rnn": (torch.nn.RNN, RNN_CELL), "gru": (torch.nn.GRU, GRU_CELL), "lstm": (torch.nn.LSTM, LSTM_CELL)}

TOL = dict(rtol=1e-5, atol=1e-6)


def test_fast_tanh_is_within_three_tenths_of_a_micro_of_tanh():
    x = np.concatenate([np.linspace(-20, 20, 400_001), np.geomspace(1e-30, 1e-2, 1000)]).astype(np.float32)
    x = np.concatenate([x, -x])
    out = np.empty_like(x)
    fast_tanh_array(x, out)
    exact = np.tanh(x.astype(np.float64))
    assert np.abs(out - exact).max() < 2.7e-7
    small = (np.abs(x) < 1e-2) & (x != 0)  # near 0 the error is relative: tanh(x) ~ x keeps its digits
    assert (np.abs(out[small] - exact[small]) / np.abs(exact[small])).max() < 3e-7
    assert np.all(np.abs(out) <= 1.0)


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("batch,steps,input_size,hidden",
                         [(1, 1, 3, 4), (5, 17, 9, 5), (16, 110, 8, 64), (3, 40, 1, 33)])
def test_kernels_equal_torch_nn_in_float64(kind, batch, steps, input_size, hidden):
    torch.manual_seed(0)
    module_class, cell = CELLS[kind]
    module = module_class(input_size, hidden)
    x = torch.randn(steps, batch, input_size)
    projected = torch.addmm(module.bias_ih_l0, x.reshape(-1, input_size), module.weight_ih_l0.t())
    states = cell_recurrence(cell, projected.view(steps, batch, -1), module.weight_hh_l0, module.bias_hh_l0)
    assert states.shape == (steps, batch, cell.states * hidden)
    weights = torch.randn(steps, batch, hidden)
    loss = (states[..., :hidden] * weights).sum() + 2 * states[-1].sum()  # the last c too, for the LSTM
    ours = torch.autograd.grad(loss, list(module.parameters()))

    exact = module.double()
    out, final = exact(x.double())
    final_states = torch.cat(final, -1) if kind == "lstm" else final
    exact_loss = (out * weights.double()).sum() + 2 * final_states.sum()
    expected = torch.autograd.grad(exact_loss, list(exact.parameters()))
    torch.testing.assert_close(states[..., :hidden].double(), out, **TOL)
    torch.testing.assert_close(states[-1].double(), final_states[0], **TOL)
    for (name, _), got, want in zip(exact.named_parameters(), ours, expected):
        scale = want.abs().max().clamp(min=1.0)
        torch.testing.assert_close(got.double() / scale, want / scale, **TOL, msg=name)


def test_kernels_refuse_what_they_cannot_run():
    with pytest.raises(ValueError, match="CPU float32"):
        cell_recurrence(GRU_CELL, torch.zeros(2, 1, 6, dtype=torch.float64), torch.zeros(6, 2), torch.zeros(6))


def _model(name, options, task_name, params):
    registry = get_registry()
    spec, task = registry.architecture(name), registry.task(task_name)
    io = task.model_io(params, task.width(params))
    torch.manual_seed(0)
    model = spec.build(io, 16, {p.name: p.default for p in spec.options} | options)
    return model, task.generate(params, 6, 1, 0).to_torch(torch.device("cpu"))


@pytest.mark.parametrize("name", ["rnn", "gru"])
@pytest.mark.parametrize("task_name,params,input_path", [
    ("task6a", {"gap": 40}, "onehot"), ("long-lag", {"q": 30, "p": 50}, "lookup"), ("adding", {"T": 30}, "onehot")])
def test_numba_kernel_computes_what_the_torch_nn_module_does(name, task_name, params, input_path):
    models = {}
    for kernel in ("torch", "numba"):
        model, batch = _model(name, {"kernel": kernel, "input": input_path}, task_name, params)
        output = model(batch.inputs, batch.lengths)
        output.square().sum().backward()
        models[kernel] = (model, output)
    (reference, expected), (numba, got) = models["torch"], models["numba"]
    torch.testing.assert_close(got, expected, **TOL)
    for (name, want), (_, parameter) in zip(reference.named_parameters(), numba.named_parameters()):
        if want.grad is not None:
            torch.testing.assert_close(parameter.grad, want.grad, rtol=1e-4, atol=1e-6, msg=name)
    assert numba.core.runtime_info()["kernel"] == "numba"
    assert reference.core.runtime_info()["kernel"] == "torch"


def test_gru_kernel_auto_is_numba_on_the_cpu_and_numba_refuses_other_devices():
    model, batch = _model("gru", {}, "task6a", {"gap": 40})
    model(batch.inputs, batch.lengths)
    assert model.core.runtime_info() == {"kernel": "numba"}
    numba_only, _ = _model("gru", {"kernel": "numba"}, "task6a", {"gap": 40})
    with pytest.raises(ValueError, match="CPU only"):
        numba_only.core(torch.zeros(2, 5, dtype=torch.long, device="meta"))


@pytest.mark.parametrize("arch", ["rnn", "gru", "fused-lstm", "lstm1997", "indrnn", "lru", "mingru", "minlstm"])
def test_kernel_numba_on_cuda_is_refused_before_training(monkeypatch, cli, tmp_path, arch):
    """Every architecture with a numba kernel says before training that it cannot run on CUDA
    (CUDA faked: the check comes before anything touches the device)."""
    monkeypatch.setattr("longdep_bench.planning.plan.resolve_device", lambda name: "cuda")
    output = tmp_path / "r.jsonl"
    result = cli("run", "-a", f"{arch}:kernel=numba", "--seeds", "1", "--device", "cuda", "--jobs", "1",
                 "-o", str(output))
    assert result.code == 2 and f"architecture '{arch}' on cuda: kernel=numba runs on the CPU only" in result.err
    assert not output.exists()
