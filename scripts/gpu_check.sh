#!/usr/bin/env bash
# GPU checks for a CUDA machine (about 4-5 minutes on an H200, much of it TorchScript compiling on CUDA),
# from the repository root with longdep-bench installed:
#   bash scripts/gpu_check.sh
# 1. The device-aware tests on CUDA: fused-lstm equals cuDNN nn.LSTM (outputs, states, gradients, 1e-5,
#    TensorFloat-32 off), every architecture's padding invariance, every scan and layer against its
#    step-by-step recurrence, lstm1997 against the 1997 equations, and a GRU training run that solves Task 6a.
# 2. The training-step benchmark of every registered architecture at B=128 H=128 L=110 (set SIZES to a
#    pytest -k expression for others, e.g. SIZES="B128-H128-L110] or B128-H128-L1100]"), and its speed table.
# Targets on a GPU: fused-lstm within 1.3x of cuDNN nn.LSTM and at least 3x faster than its eager loop.
# Results go to $OUT (default: the current folder): gpu-tests.log, gpu-bench.json, gpu-speed.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-.}
sizes=${SIZES:-B128-H128-L110]}
python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name())"
tests=0  # a failing test is reported at the end; the speed figures are still taken
python3 -m pytest -q -p no:cacheprovider --device cuda tests/test_fused_lstm.py tests/test_models.py \
  tests/test_modern.py tests/test_lstm1997.py tests/test_training.py 2>&1 | tee "$out/gpu-tests.log" || tests=$?
python3 -m pytest -q -p no:cacheprovider --device cuda tests/benchmarks/test_training_step.py \
  --benchmark-enable --benchmark-only --benchmark-warmup=on --benchmark-min-rounds=5 \
  -k "$sizes" --benchmark-json="$out/gpu-bench.json"
python3 -m longdep_bench speed "$out/gpu-bench.json" --baseline lstm | tee "$out/gpu-speed.md"
exit "$tests"
