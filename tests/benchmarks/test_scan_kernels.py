"""Speed of the linear-recurrence scans, forward and backward: numba's sequential pass against the
doubling scan in tensor operations, at minGRU's case (time-varying real coefficients) and the LRU's
(time-invariant complex eigenvalues), 16 sequences of 64 channels, Task 6a's length at gaps 40
and 1000:

    pytest tests/benchmarks/test_scan_kernels.py --benchmark-enable --benchmark-only
"""

from __future__ import annotations

import pytest
import torch

from longdep_bench.kernels.scans import doubling_scan, sequential_scan
from longdep_bench.system.environment import configure_threads

BATCH, WIDTH = 16, 64


def _coefficients(case: str, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    if case == "complex":
        a = torch.polar(torch.rand(WIDTH) * 0.1 + 0.9, torch.rand(WIDTH) * 6.28)
        b = torch.randn(BATCH, steps, WIDTH, dtype=torch.complex64)
    else:
        a, b = torch.rand(BATCH, steps, WIDTH), torch.randn(BATCH, steps, WIDTH)
    return a.requires_grad_(), b.requires_grad_()


@pytest.mark.parametrize("steps", [110, 1070])
@pytest.mark.parametrize("case", ["real", "complex"])
@pytest.mark.parametrize("scan", [sequential_scan, doubling_scan], ids=["numba", "doubling"])
def test_linear_scan(benchmark, scan, case, steps):
    configure_threads(1)
    a, b = _coefficients(case, steps)

    def forward_backward():
        scan(a, b).sum().real.backward()  # .real: the identity on real tensors

    for _ in range(3):
        forward_backward()
    benchmark.group = f"linear scan, {case}, B{BATCH} N{WIDTH} T{steps}"
    benchmark(forward_backward)
