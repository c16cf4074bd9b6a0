#!/usr/bin/env bash
# GPU checks for a CUDA machine (a few minutes): fused-lstm equals nn.LSTM on CUDA, then the speed of
# fused-lstm, its eager loop and cuDNN nn.LSTM at B=128 H=128 L=110, side by side.
#   bash scripts/gpu_check.sh            (from the repository root, with longdep-bench installed)
# Targets on a GPU: fused-lstm within 1.3x of cuDNN nn.LSTM and at least 3x faster than the eager loop.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-.}
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name())"
python -m pytest -q -p no:cacheprovider tests/test_fused_lstm.py --device cuda
python -m pytest -q -p no:cacheprovider tests/benchmarks --device cuda --benchmark-enable --benchmark-only \
  -k "B128-H128-L110 and (lstm- or fused-lstm)" --benchmark-json="$out/gpu-bench.json"
python -m longdep_bench speed "$out/gpu-bench.json" --baseline lstm | tee "$out/gpu-speed.md"
