"""Speed of the 1997 LSTM's time loop, forward and backward: the numba kernels against the TorchScript
loop, at the paper's size (batch 1, 4 cells, Task 6a's length) and at the reference sweep's
(batch 16, 32 cells):

    pytest tests/benchmarks/test_lstm1997_kernels.py --benchmark-enable --benchmark-only
"""

from __future__ import annotations

import pytest
import torch

from longdep_bench.environment import configure_threads
from longdep_bench_plugins.lstm1997 import SCRIPTED_RECURRENCE
from longdep_bench.kernels.numba.lstm1997 import NumbaRecurrence

SIZES = [(110, 1, 4), (110, 16, 32)]  # (T, B, H); blocks of 2 cells


@pytest.mark.parametrize("steps,batch,hidden", SIZES, ids=[f"T{t}-B{b}-H{h}" for t, b, h in SIZES])
@pytest.mark.parametrize("kernel", ["numba", "script"])
def test_lstm1997_recurrence(benchmark, kernel, steps, batch, hidden):
    configure_threads(1)
    torch.manual_seed(0)
    projected = torch.randn(steps, batch, 2 * hidden, requires_grad=True)
    weight = torch.empty(2 * hidden, hidden).uniform_(-0.1, 0.1).requires_grad_()
    recurrence = NumbaRecurrence.apply if kernel == "numba" else SCRIPTED_RECURRENCE

    def forward_backward():
        recurrence(projected, weight, 2, True).sum().backward()

    for _ in range(3):
        forward_backward()
    benchmark.group = f"lstm1997 recurrence T{steps} B{batch} H{hidden}"
    benchmark(forward_backward)
