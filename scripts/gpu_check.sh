#!/usr/bin/env bash
# Every GPU check of the suite in one run, for a lent CUDA machine whose image has torch, numba,
# pluggy, click, tabulate and pytest-benchmark but no network. Prepare on the build machine:
#   bash scripts/gpu_wheels.sh            # wheels of longdep-bench and tqdm into dist/
# then on the GPU machine, from the repository root (dist/ carried along):
#   OUT=/some/folder bash scripts/gpu_check.sh
# Sections run in order of importance, each under its own time limit. Their logs and results go to a
# work folder (WORK, default /tmp/longdep-gpu) and are packed into $OUT/gpu-results.tgz after every
# section (the device tool brings back at most 8 files), so a cut run still leaves what it measured.
# A section whose limit no longer fits in BUDGET seconds (default 420) is skipped and says so;
# SECTIONS="tests speed ..." runs only those. With 15 minutes of device time, one call with
# BUDGET=535 (timeout 590 s) leaves room for a short second call on the still-warm machine only.
#  1. correctness on CUDA (8 pytest-xdist workers): the Triton kernels of fused-lstm, gru and rnn =
#     cuDNN in every precision at B16 H64 to B32 H512, and fused-lstm's TorchScript loop; the scan
#     models' Triton recurrence and IndRNN's Triton loop; the graph/pool tests; a GRU and the Triton
#     LSTM that solve Task 6a with graphs on; every architecture's contract checks, including K steps
#     captured in a CUDA graph = K eager steps (tests/test_models.py); graphed steps feed the streak;
#  2. graphed training-step speed at B16 H64 L110, B128 H128 L110 and L1100, B128 H256 and H512 (lstm,
#     fused-lstm with auto, Triton per sequence and per step and its TorchScript loop, gru and rnn with cuDNN and
#     with Triton); an Nsight Compute profile of the Triton LSTM's kernels when ncu is there;
#  3. aggregate throughput of 1, 2, 4, 8, 16 default-size LSTM runs at once on one GPU (threads of one
#     process); the default run with --cuda-graphs auto and off (one run at a time);
#  4. the Triton kernels' launch settings timed one layer at a time; 1, 4, 8, 16, 32 separate processes
#     under CUDA MPS where its daemon starts, and the local executor's --jobs auto under MPS;
#  5. the LSTM forward pass alone; the scan models with the Triton recurrence and with the doubling
#     scan, IndRNN with its Triton loop;
#  6. the default run with --jobs auto, configs/quick.toml with the best number of runs at once, and
#     one slice of the reference sweep; indrnn's contract checks on CUDA (slow TorchScript compiles).
set -uo pipefail
cd "$(dirname "$0")/.."
dest=${OUT:-gpu-out}
out=${WORK:-/tmp/longdep-gpu}
mkdir -p "$dest" "$out"
pack() { tar czf "$dest/gpu-results.tgz" -C "$out" . && cp "$out/sections.log" "$dest/" 2>/dev/null; }
log() { echo "== $(date +%T) $*" | tee -a "$out/sections.log"; }
budget=${BUDGET:-420}
wanted=${SECTIONS:-}
section() {  # section NAME SECONDS COMMAND...: run with a time limit, keep its output, go on when it fails
  local name=$1 limit=$2; shift 2
  last_code=skipped
  if [ -n "$wanted" ] && [[ " $wanted " != *" ${name%%-*} "* ]]; then return; fi
  if [ $((SECONDS + limit)) -gt "$budget" ]; then log "$name: skipped (${limit}s do not fit in the budget)"; return; fi
  log "$name (limit ${limit}s)"
  local start=$SECONDS
  timeout --signal=INT "$limit" "$@" > "$out/$name.log" 2>&1
  local code=$?
  log "$name: exit $code after $((SECONDS - start)) s"
  last_code=$code
  tail -n 25 "$out/$name.log"
  pack
}

python3 -m pip install --no-deps --no-index --quiet dist/*.whl 2>&1 | tail -n 3
python3 - <<'EOF' | tee "$out/env.txt"
import torch, numba, platform
print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())
print("device", torch.cuda.get_device_name(), "count", torch.cuda.device_count(), "python", platform.python_version())
print("kernel", platform.release(), "(gVisor reports 4.4.0; Firecracker machines a -fc- kernel)")
try:
    import triton
    print("triton", triton.__version__)
except ImportError as exc:
    print("triton: not importable:", exc)
EOF

# Correctness first, spread over 8 pytest-xdist workers (Triton and TorchScript compile on the CPU),
# each test cut at 120 s so that one slow compile (indrnn's TorchScript on CUDA) cannot eat the section.
section tests 170 python3 -m pytest -q -p no:cacheprovider -n 8 --timeout 120 --device cuda \
  tests/test_triton_cells.py tests/test_scan_triton.py tests/test_indrnn_triton.py tests/test_fused_lstm.py \
  tests/test_graphs_and_pools.py \
  "tests/test_training.py::test_gru_solves_task6a_and_record_is_complete" tests/test_models.py \
  "tests/test_streak.py::test_graphed_steps_feed_the_streak" \
  --deselect "tests/test_models.py::test_every_architecture_keeps_its_contract[indrnn]"

section speed 200 python3 -m pytest -q -p no:cacheprovider --device cuda tests/benchmarks/test_training_step.py \
  --benchmark-enable --benchmark-only --benchmark-min-rounds=10 --benchmark-max-time=0.2 -k graphed \
  --arch lstm --arch fused-lstm --arch fused-lstm:kernel=triton --arch fused-lstm:kernel=script \
  --arch fused-lstm:kernel=triton,launch=step \
  --arch gru --arch gru:kernel=triton --arch rnn --arch rnn:kernel=triton \
  --size B16-H64-L110 --size B128-H128-L110 --size B128-H128-L1100 --size B128-H256-L110 --size B128-H512-L110 \
  --benchmark-json="$out/speed.json"
python3 -m longdep_bench speed "$out/speed.json" --stat min > "$out/speed.md" 2>&1 && cat "$out/speed.md"
if command -v ncu > /dev/null; then  # where does the Triton LSTM's time go (B16 H64 and B128 H128, L110)
  section profile 90 ncu --kernel-name regex:_forward\|_backward --launch-count 4 --section SpeedOfLight \
    --section Occupancy --section LaunchStats --section WarpStateStats --section SchedulerStats python3 -c "
import torch
from longdep_bench_plugins.fused_lstm import FusedLSTM
for batch, hidden in ((16, 64), (128, 128)):
    layer = FusedLSTM(hidden, hidden, kernel='triton').cuda()
    x = torch.randn(batch, 110, hidden, device='cuda')
    layer(x)[0].sum().backward()
torch.cuda.synchronize()"
fi

concurrency_table() {  # every concurrent and MPS run so far; the best thread count for --jobs auto
  python3 - "$out" <<'EOF' | tee "$out/concurrency.md"
import datetime, json, sys, pathlib
out = pathlib.Path(sys.argv[1])
print("Sequences per second in all, bracketed: at most the sum of the runs' own rates (all at once), at least all\n"
      "their sequences over the span from the first run's start to the last one's end (records keep whole seconds).\n")
print("| how | runs at once | at most | at least | per run (mean rate) | graphed |\n|---|---|---|---|---|---|")
best = None
cases = [("threads of one process", n, [out / f"concurrent-{n}.jsonl"]) for n in (1, 2, 4, 8, 16)]
cases += [("processes under MPS", n, sorted(out.glob(f"mps-{n}-*.jsonl"))) for n in (1, 4, 8, 16, 32)]
cases += [("the local executor under MPS, --jobs auto", None, [out / "mps-executor.jsonl"])]
for how, n, paths in cases:
    paths = [path for path in paths if path.exists()]
    if not paths:
        continue
    records = [json.loads(line) for path in paths for line in path.read_text().splitlines()]
    n = n or len(records)
    ok = [r for r in records if r["status"] == "ok"]
    graphed = sum(bool(r["runtime"].get("graphed")) for r in ok)
    if len(ok) == n:
        total = sum(r["sequences_per_second"] for r in ok)
        finished = [datetime.datetime.fromisoformat(r["finished_at"]).timestamp() for r in ok]
        span = max(finished) + 1 - min(f - r["train_seconds"] - r["eval_seconds"] for f, r in zip(finished, ok))
        if how.startswith("threads"):  # what --jobs auto can use
            best = max(best or (0, 0), (total, n))
        print(f"| {how} | {n} | {total:,.0f} | {sum(r['train_sequences'] for r in ok) / span:,.0f} | "
              f"{total / n:,.0f} | {graphed} |")
    else:
        errors = sorted({r.get("error") or "" for r in records if r["status"] != "ok"})
        print(f"| {how} | {n} | (not finished: {len(ok)} of {n} runs ok, {len(records) - len(ok)} failed: "
              f"{'; '.join(errors)[:200]}) | | | {graphed} |")
print(f"\nbest with threads: {best[1] if best else '?'} runs at once")
(out / "best-n.txt").write_text(str(best[1] if best else 4))
EOF
}
for n in 1 2 4 8 16; do  # full budgets (no early success checks), so every run trains as long as the others
  section "concurrent-$n" 60 python3 -m longdep_bench run -a lstm --seeds "$n" --jobs "$n" --device cuda \
    --executor local:gpu_sharing=threads --max-sequences 100000 --check-every 100000000 -q \
    -o "$out/concurrent-$n.jsonl"
done
concurrency_table
best=$(cat "$out/best-n.txt" 2>/dev/null || echo 4)

for graphs in auto off; do
  section "default-run-graphs-$graphs" 60 python3 -m longdep_bench run --device cuda --jobs 1 \
    --cuda-graphs "$graphs" -o "$out/default-$graphs.jsonl"
done
python3 - "$out" <<'EOF' | tee "$out/default-runs.md"
import json, sys, pathlib
print("| file | runs | graphed | asked | training s (sum) | solved |\n|---|---|---|---|---|---|")
for path in sorted(pathlib.Path(sys.argv[1]).glob("default-*.jsonl")):
    records = [json.loads(line) for line in path.read_text().splitlines()]
    graphed = sum(bool(r["runtime"].get("graphed")) for r in records)
    asked = sorted({str(r["runtime"].get("cuda_graphs")) for r in records})
    seconds = sum(r.get("train_seconds") or 0 for r in records)
    print(f"| {path.name} | {len(records)} | {graphed} | {','.join(asked)} | {seconds:.1f} | "
          f"{sum(bool(r.get('solved')) for r in records)} |")
EOF

# Which launch settings of the Triton LSTM are fastest (warps, weights in registers or L2 slices,
# prefetch), against cuDNN, one layer at B16 H64, B128 H128 and B128 H256 (L110)
section tune 120 python3 scripts/triton_tune.py --out "$out/triton-tune.json"
# The same runs as separate processes, one run each, under CUDA MPS where its daemon starts (the
# GPU time-slices between processes' contexts without it; MPS lets their kernels share the GPU).
# The daemon is a user process; it is stopped afterwards and changes no device setting.
if [ -n "$wanted" ] && [[ " $wanted " != *" mps "* ]]; then
  :  # not asked for: no daemon either
elif command -v nvidia-cuda-mps-control > /dev/null; then
  export CUDA_MPS_PIPE_DIRECTORY=$out/mps-pipe CUDA_MPS_LOG_DIRECTORY=$out/mps-log
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  if nvidia-cuda-mps-control -d; then
    log "mps: daemon started"
    for n in 1 4 8 16 32; do  # stop at the first size that fails: a broken MPS server would stall every one
      section "mps-$n" 60 bash -c 'for i in $(seq 0 $(($1 - 1))); do
          python3 -m longdep_bench run -a lstm --seeds 1 --seed "$i" --jobs 1 --device cuda --max-sequences 100000 \
            --check-every 100000000 -q -o "$2/mps-$1-$i.jsonl" & done; wait' _ "$n" "$out"
      [ "$last_code" = 0 ] || break
    done
    # The suite's own path: --jobs auto sees the daemon and starts MPS_RUNS_PER_GPU worker processes
    section mps-executor 90 python3 -m longdep_bench run -a lstm --seeds 32 --device cuda --max-sequences 100000 \
      --check-every 100000000 -o "$out/mps-executor.jsonl"
    echo quit | nvidia-cuda-mps-control
  else
    log "mps: the daemon did not start"
  fi
  unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
else
  log "mps: nvidia-cuda-mps-control not found"
fi
concurrency_table

section forward 60 python3 -m pytest -q -p no:cacheprovider --device cuda tests/benchmarks/test_lstm_forward.py \
  --benchmark-enable --benchmark-only --benchmark-min-rounds=10 --benchmark-json="$out/forward.json"
python3 -m longdep_bench speed "$out/forward.json" --stat min > "$out/forward.md" 2>&1 && cat "$out/forward.md"

# The scan models' Triton recurrence (their CUDA default) against the doubling scan and minGRU's
# log-space scan, and IndRNN's Triton loop (opt-in, not yet timed); cuDNN's LSTM as the baseline
section scans 90 python3 -m pytest -q -p no:cacheprovider --device cuda tests/benchmarks/test_training_step.py \
  --benchmark-enable --benchmark-only --benchmark-min-rounds=10 --benchmark-max-time=0.2 \
  --arch lstm --arch mingru --arch mingru:kernel=torch --arch mingru:scan=log --arch lru --arch lru:kernel=torch \
  --arch indrnn:kernel=triton \
  --size B16-H64-L110 --size B128-H128-L110 --size B128-H128-L1100 --benchmark-json="$out/scans.json"
python3 -m longdep_bench speed "$out/scans.json" --stat min > "$out/scans.md" 2>&1 && cat "$out/scans.md"

section default-run-jobs-auto 45 python3 -m longdep_bench run --device cuda -o "$out/default-jobs-auto.jsonl"
section quick-toml 60 python3 -m longdep_bench run --config configs/quick.toml --device cuda --jobs "$best" \
  -o "$out/quick.jsonl"
section reference-slice 90 python3 -m longdep_bench run --device cuda --jobs "$best" --seeds 1 --hidden 32 \
  --gap 100 --max-sequences 40000 -o "$out/reference-slice.jsonl" \
  -a rnn -a lstm -a gru -a fused-lstm -a lstm1997 -a indrnn -a lru -a mingru -a minlstm \
  -a lstm:init=default -a lstm:init=chrono
# Last: indrnn's contract checks on CUDA (its TorchScript loop recompiles for every sequence length the
# padding check feeds it: more than 100 s on an H100 and an H200)
section tests-indrnn 200 python3 -m pytest -q -p no:cacheprovider --device cuda \
  "tests/test_models.py::test_every_architecture_keeps_its_contract[indrnn]"
log "done"
pack
