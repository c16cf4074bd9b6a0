"""Speed of symbol inputs to the torch.nn RNNs and minGRU: one-hot vectors against ``input=lookup``, one
forward and backward pass of a batch of 16 long-lag sequences with q = p = 1000 (1,004 symbols,
1,003 steps) at hidden size 32, one thread:

    pytest tests/benchmarks/test_symbol_input_speed.py --benchmark-enable --benchmark-only
"""

from __future__ import annotations

import pytest
import torch

from longdep_bench.discovery.registry import get_registry
from longdep_bench.system.environment import configure_threads

PARAMS = {"q": 1000, "p": 1000}


@pytest.mark.parametrize("name", ["lstm", "gru", "mingru"])
@pytest.mark.parametrize("input_path", ["onehot", "lookup"])
def test_symbol_inputs(benchmark, name, input_path):
    configure_threads(1)
    registry = get_registry()
    task, spec = registry.task("long-lag"), registry.architecture(name)
    io = task.model_io(PARAMS, task.width(PARAMS))
    torch.manual_seed(0)
    model = spec.build(io, 32, {p.name: p.default for p in spec.options} | {"input": input_path})
    batch = task.generate(PARAMS, 16, 0, 0).to_torch(torch.device("cpu"))

    def forward_backward():
        model(batch.inputs, batch.lengths).sum().backward()

    forward_backward()
    benchmark.group = f"{name} inputs, long lag q=p=1000, B16 H32"
    benchmark(forward_backward)
