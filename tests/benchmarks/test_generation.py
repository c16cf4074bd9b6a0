"""Speed of data generation: the numba Task 6a generator against the NumPy reference and a plain
memory fill, and generation plus transfer against one training step of the default LSTM.

    pytest tests/benchmarks/test_generation.py --benchmark-enable --benchmark-only --benchmark-json=gen.json
    longdep-bench speed gen.json

Every case runs with one numba thread and one torch thread (per core). ``extra_info.sequences``
is the number of sequences one call makes, so that sequences per second can be compared.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from longdep_bench_tasks import temporal_order as to

from longdep_bench import one_hot, rng
from longdep_bench.config.options import SweepOptions
from longdep_bench.config.run_config import derive_seeds
from longdep_bench.discovery.registry import get_registry
from longdep_bench.planning.plan import plan
from longdep_bench.system.environment import configure_threads
from longdep_bench.system.timing import synchronize
from longdep_bench.training.steps import prepare_step

MILLION = 1_000_000
PARAMS = {"gap": 40}


@pytest.fixture(autouse=True)
def one_thread():
    configure_threads(1)


def _record(benchmark, name, sequences, group="generation"):
    benchmark.group = group
    benchmark.extra_info.update(kind="generation", case=name, sequences=sequences)


def test_numba_generate_1m(benchmark):
    """task.generate for 1M sequences: allocation (first touch of 112 MB) included."""
    task = get_registry().task("task6a")
    task.generate(PARAMS, 10, 0, 0)
    _record(benchmark, "numba generate (allocating)", MILLION)
    benchmark.pedantic(task.generate, args=(PARAMS, MILLION, 1, 0), rounds=5, warmup_rounds=1)


def test_numba_kernel_into_reused_buffer(benchmark):
    """The same kernel writing into already-touched memory: the bound set by the generator itself."""
    lo, hi, len_lo, len_hi = to.windows_6a(40)
    tokens = np.zeros((MILLION, 112), dtype=np.int8)
    lengths, targets = np.zeros(MILLION, dtype=np.int64), np.zeros(MILLION, dtype=np.int64)
    args = (tokens, tokens.view(np.uint32), lengths, targets, lo, hi, len_lo, len_hi, to.SPREAD)
    _record(benchmark, "numba kernel (reused buffer)", MILLION)
    benchmark.pedantic(to.FILL.serial, args=(rng.stream_key(1), 0, MILLION, args), rounds=10, warmup_rounds=1)


def test_numpy_reference(benchmark):
    """The line-by-line NumPy reference generator (the tests' oracle), on 10,000 sequences."""
    _record(benchmark, "NumPy reference", 10_000)
    benchmark.pedantic(to.reference_temporal_order, args=(*to.windows_6a(40), 10_000, 1), rounds=3)


def test_memory_fill(benchmark):
    """Filling the same 1M x 112 byte array with a constant: the memory-bandwidth floor."""
    tokens = np.zeros((MILLION, 112), dtype=np.int8)
    _record(benchmark, "memory fill", MILLION)
    benchmark.pedantic(tokens.fill, args=(3,), rounds=10, warmup_rounds=1)


def test_batch_generation_and_transfer(benchmark):
    """What a training step pays for data: 16 sequences generated, made tensors, one-hot encoded."""
    task = get_registry().task("task6a")
    starts = itertools.count(0, 16)

    def batch():
        one_hot(task.generate(PARAMS, 16, 3, next(starts)).to_torch().inputs, 8)

    batch()
    _record(benchmark, "batch of 16: generate + to_torch + one_hot", 16, group="data vs step")
    benchmark(batch)


def test_default_lstm_training_step(benchmark, device):
    """One training step of the default LSTM (hidden 64, batch 16, Task 6a), data included."""
    registry = get_registry()
    [config] = plan(SweepOptions(archs=("lstm",), seeds=1, device=device.type), registry)
    step = prepare_step(config, registry.task("task6a"), registry.architecture("lstm"), derive_seeds(0, 0), device, 110)
    starts = itertools.count(0, config.batch_size)

    def one_step():
        step(next(starts), config.batch_size)
        synchronize(device)

    one_step()
    _record(benchmark, "default LSTM training step (B16 H64)", config.batch_size, group="data vs step")
    benchmark(one_step)


@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_first_call_latency(benchmark, cache):
    """A fresh process importing the task and generating one sequence, with an empty or a filled
    numba cache; 'import only' is the same process without the generate call."""
    directory = tempfile.mkdtemp(prefix="numba-cache-")
    code = "from longdep_bench_tasks.temporal_order import TASK_6A as t; t.generate({'gap': 40}, 1, 0, 0)"
    env = {**os.environ, "NUMBA_CACHE_DIR": directory, "NUMBA_NUM_THREADS": "1"}
    if cache == "warm":
        subprocess.run([sys.executable, "-c", code], env=env, check=True)

    def first_call():
        if cache == "cold":
            for name in os.listdir(directory):
                subprocess.run(["rm", "-rf", os.path.join(directory, name)], check=True)
        subprocess.run([sys.executable, "-c", code], env=env, check=True)

    _record(benchmark, f"new process, first generate, {cache} numba cache", 1, group="first call")
    benchmark.pedantic(first_call, rounds=3)


def test_import_only_latency(benchmark):
    code = "from longdep_bench_tasks.temporal_order import TASK_6A"
    _record(benchmark, "new process, import only", 1, group="first call")
    benchmark.pedantic(subprocess.run, args=([sys.executable, "-c", code],), kwargs={"check": True}, rounds=3)
