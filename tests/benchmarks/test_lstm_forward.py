"""Speed of the LSTM layer's forward pass alone: cuDNN ``nn.LSTM`` against the Triton kernel of
``fused-lstm`` in each precision, input projection included, on CUDA only:

    pytest tests/benchmarks/test_lstm_forward.py --device cuda --benchmark-enable --benchmark-only

Results go into the same JSON as the training-step benchmark (arch ``lstm``, ``fused-lstm (tf32)``, ...,
``mode`` ``forward``) and ``longdep-bench speed`` lists them under their own heading.
"""

from __future__ import annotations

import pytest
import torch

from longdep_bench.system.timing import synchronize

SIZES = [(16, 64, 110), (128, 128, 110), (128, 128, 1100), (128, 256, 110), (128, 512, 110)]


@pytest.mark.parametrize("batch,hidden,length", SIZES, ids=[f"B{b}-H{h}-L{t}" for b, h, t in SIZES])
@pytest.mark.parametrize("arch", ["lstm", "fused-lstm (tf32)", "fused-lstm (tf32x3)", "fused-lstm (ieee)"])
def test_lstm_forward(benchmark, device, arch, batch, hidden, length):
    if device.type != "cuda":
        pytest.skip("forward-only kernel timings are a CUDA benchmark")
    pytest.importorskip("triton")
    from longdep_bench_plugins.fused_lstm import FusedLSTM

    torch.manual_seed(0)
    reference = torch.nn.LSTM(hidden, hidden, batch_first=True).to(device)
    if arch == "lstm":
        layer = reference
    else:
        layer = FusedLSTM(hidden, hidden, kernel="triton", precision=arch.split("(")[1].rstrip(")")).to(device)
        layer.load_state_dict(reference.state_dict())
    x = torch.randn(batch, length, hidden, device=device)

    @torch.no_grad()
    def forward():
        layer(x)
        synchronize(device)

    for _ in range(3):
        forward()
    benchmark.group = f"forward B{batch}-H{hidden}-L{length}"
    benchmark.extra_info.update(arch=arch, batch=batch, hidden=hidden, length=length, device=device.type,
                                mode="forward")
    benchmark(forward)
