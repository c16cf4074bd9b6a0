"""``input=lookup`` of the torch.nn RNNs and the min-RNNs: the function, gradients and padding of the
one-hot path."""

from __future__ import annotations

import json

import pytest
import torch

from longdep_bench.discovery import contracts
from longdep_bench.discovery.registry import get_registry

LONG_LAG = {"q": 30, "p": 50}  # 54 symbols: more than the gates of rnn (16) and gru (48) at hidden 16


def _model(name, task, params, input_path):
    spec = get_registry().architecture(name)
    io = task.model_io(params, task.width(params))
    options = {p.name: p.default for p in spec.options} | {"input": input_path}
    torch.manual_seed(0)
    return spec.build(io, 16, options), io


def _input_weight(model):
    return model.core.weight_ih if hasattr(model.core, "weight_ih") else model.core.rnn.weight_ih_l0


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_lookup_computes_what_one_hot_inputs_do(name):
    task = get_registry().task("long-lag")
    batch = task.generate(LONG_LAG, 6, 1, 0).to_torch(torch.device("cpu"))
    onehot, _ = _model(name, task, LONG_LAG, "onehot")
    lookup, _ = _model(name, task, LONG_LAG, "lookup")
    trainable = [sum(p.numel() for p in m.parameters() if p.requires_grad) for m in (onehot, lookup)]
    assert trainable[0] == trainable[1]
    assert torch.equal(_input_weight(onehot), _input_weight(lookup))  # the same initial parameters
    outputs = [m(batch.inputs, batch.lengths) for m in (onehot, lookup)]
    torch.testing.assert_close(outputs[1], outputs[0], rtol=1e-5, atol=1e-6)
    for model, output in zip((onehot, lookup), outputs):
        output.square().sum().backward()
    torch.testing.assert_close(_input_weight(lookup).grad, _input_weight(onehot).grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(lookup.core.rnn.weight_hh_l0.grad, onehot.core.rnn.weight_hh_l0.grad,
                               rtol=1e-4, atol=1e-6)
    assert lookup.core.rnn.weight_ih_l0.grad is None  # the identity stays frozen


@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_min_rnn_lookup_computes_what_one_hot_inputs_do(name):
    task = get_registry().task("long-lag")
    batch = task.generate(LONG_LAG, 6, 1, 0).to_torch(torch.device("cpu"))
    models = [_model(name, task, LONG_LAG, path)[0] for path in ("onehot", "lookup")]
    outputs = [m(batch.inputs, batch.lengths) for m in models]
    torch.testing.assert_close(outputs[1], outputs[0], rtol=1e-5, atol=1e-6)
    for model, output in zip(models, outputs):
        output.square().sum().backward()
    gradients = [{key: p.grad for key, p in m.named_parameters()} for m in models]
    assert gradients[0].keys() == gradients[1].keys()  # the same parameters, nothing frozen
    for key in gradients[0]:
        torch.testing.assert_close(gradients[1][key], gradients[0][key], rtol=1e-4, atol=1e-6, msg=key)


@pytest.mark.parametrize("name", ["gru", "mingru"])
def test_lookup_keeps_outputs_independent_of_padding(name):
    registry = get_registry()
    task = registry.task("reber")  # variable lengths, outputs at every step
    params = {p.name: p.default for p in task.params}
    model, io = _model(name, task, params, "lookup")
    batch = task.generate(params, 8, 2, 0).to_torch(torch.device("cpu"))
    contracts.check_padding(registry.entry("architecture", name), model, batch, io)


def test_a_run_records_the_lookup_path(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    result = cli("run", "-a", "lstm:input=lookup", "-t", "long-lag:q=20,p=40", "--seeds", "1", "--max-sequences",
                 "64", "--hidden", "8", "-o", str(out))
    assert result.code == 0, result.err
    record = json.loads(out.read_text())
    assert record["runtime"]["arch_runtime"] == {"input": "lookup"} and record["runtime"]["input"] == "lookup"
    assert record["status"] == "ok"
