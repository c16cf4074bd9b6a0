"""Speed of the 1997 LSTM's time loop, forward and backward: the numba kernels against the TorchScript
loop, at the paper's size (batch 1, 4 cells, Task 6a's length; 0.8's layout and the paper's fully
connected one) and at the reference sweep's (batch 16, 32 cells):

    pytest tests/benchmarks/test_lstm1997_kernels.py --benchmark-enable --benchmark-only
"""

from __future__ import annotations

import pytest
import torch
from longdep_bench_plugins.lstm1997 import SCRIPTED_RECURRENCE

from longdep_bench.kernels.numba.lstm1997 import FEEDBACK, Layout, NumbaRecurrence
from longdep_bench.system.environment import configure_threads

SIZES = [(110, 1, 4, "cells"), (110, 1, 4, "F"), (110, 16, 32, "cells")]  # (T, B, cells, connectivity); blocks of 2


@pytest.mark.parametrize("steps,batch,cells,connectivity", SIZES, ids=[f"T{t}-B{b}-H{h}-{c}" for t, b, h, c in SIZES])
@pytest.mark.parametrize("kernel", ["numba", "script"])
def test_lstm1997_recurrence(benchmark, kernel, steps, batch, cells, connectivity):
    configure_threads(1)
    torch.manual_seed(0)
    layout = Layout(cells, 2, FEEDBACK[connectivity])
    projected = torch.randn(steps, batch, layout.units, requires_grad=True)
    weight = torch.empty(layout.units, layout.recurrent).uniform_(-0.1, 0.1).requires_grad_()

    def forward_backward():
        if kernel == "numba":
            outputs = NumbaRecurrence.apply(projected, weight, layout, True)
        else:
            outputs = SCRIPTED_RECURRENCE(projected, weight, cells, 2, layout.feedback, True, False, False, True)
        outputs.sum().backward()

    for _ in range(3):
        forward_backward()
    benchmark.group = f"lstm1997 recurrence T{steps} B{batch} H{cells} {connectivity}"
    benchmark(forward_backward)
