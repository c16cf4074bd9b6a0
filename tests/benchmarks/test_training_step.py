"""Speed of one full training step (data, forward, backward, Adam) for every registered architecture.

Parametrised from the plugin registry, so an installed third-party architecture is benchmarked
without code changes. Run with timing:

    pytest tests/benchmarks --benchmark-only --benchmark-json=bench.json

Without ``--benchmark-only`` (as in CI, where ``--benchmark-disable`` is set) each case runs once
as a test. ``--arch NAME`` and ``--size B32-H32-L110`` select exactly (both repeatable); ``-k``
matches substrings. ``--device cuda`` times on a GPU, every architecture both with its step
captured in a CUDA graph (``graphed``) and eagerly (``eager``); the device is synchronised inside
the timed call, exactly as training runs are timed.
"""

from __future__ import annotations

import itertools

import torch

from longdep_bench.config.options import SweepOptions
from longdep_bench.config.run_config import derive_seeds
from longdep_bench.discovery.registry import get_registry
from longdep_bench.kernels.triton import cells as triton_cells
from longdep_bench.planning.plan import parse_ref, plan
from longdep_bench.system.environment import configure_threads
from longdep_bench.system.timing import synchronize
from longdep_bench.training.steps import WARMUP_STEPS, prepare_step

BASELINE = "lstm"
# fused-lstm's TorchScript loop and the same loop in eager Python (its default is a compiled kernel:
# numba on the CPU, Triton on CUDA up to H128), minGRU with the paper's log-space scan; on the
# CPU also nn.GRU, IndRNN's TorchScript loop, minGRU with the doubling scan and nn.RNN (their default
# there is a numba loop); on CUDA the scan models with the doubling scan (their default there is the
# Triton recurrence), the GRU, the RNN and IndRNN with the Triton kernels (there cuDNN and TorchScript),
# and fused-lstm's Triton kernels at every hidden size (auto runs them up to H128), per sequence and per step.
EXTRA_REFS = ("fused-lstm:kernel=script", "fused-lstm:kernel=script,loop=eager", "mingru:scan=log")
CPU_REFS = ("gru:kernel=torch", "indrnn:kernel=script", "mingru:kernel=torch", "rnn:kernel=torch")
CUDA_REFS = ("mingru:kernel=torch", "lru:kernel=torch", "gru:kernel=triton", "rnn:kernel=triton",
             "indrnn:kernel=triton", "fused-lstm:kernel=triton", "fused-lstm:kernel=triton,launch=step")
BENCH_WARMUP = WARMUP_STEPS + 2  # eager warm-up, the capture, one replay; TorchScript optimises meanwhile
SIZES = [(b, h, t) for b in (32, 128) for h in (32, 128) for t in (110, 550, 1100)]
# On CUDA also the default run's size, and hidden sizes whose weights no longer fit on one multiprocessor.
CUDA_SIZES = SIZES + [(16, 64, 110), (128, 256, 110), (128, 512, 110)]


def _refs(cuda: bool) -> list[str]:
    registry = get_registry()
    available = [name for name, entry in sorted(registry.architectures.items()) if not entry.spec.unavailable]
    if cuda:
        extra = EXTRA_REFS + (() if triton_cells.UNAVAILABLE else CUDA_REFS)
    else:
        extra = EXTRA_REFS + CPU_REFS
    return available + [ref for ref in extra if ref.split(":")[0] in available]


def pytest_generate_tests(metafunc):
    """On CUDA every case runs graphed and eager, at more sizes; on the CPU eager only (there are no
    CUDA graphs)."""
    if "mode" in metafunc.fixturenames:
        cuda = metafunc.config.getoption("--device") == "cuda"
        sizes = CUDA_SIZES if cuda else SIZES
        if metafunc.config.getoption("benchmark_disable"):  # as a test (CI): one size, results compared
            sizes = sizes[:1]
        metafunc.parametrize("arch", _refs(cuda))
        metafunc.parametrize("batch,hidden,length", sizes, ids=[f"B{b}-H{h}-L{t}" for b, h, t in sizes])
        metafunc.parametrize("mode", ["graphed", "eager"] if cuda else ["eager"])


def _trained(arch: str, batch: int, hidden: int, length: int, device: torch.device, mode: str, steps: int = 2):
    """The step of ``arch`` at this size, and its model's parameters after ``steps`` steps."""
    registry = get_registry()
    [config] = plan(SweepOptions(archs=(arch,), tasks=("task6a",), gaps=(length - 70,), seeds=1, hidden=hidden,
                                 batch_size=batch, device=device.type,
                                 cuda_graphs="on" if mode == "graphed" else "off"), registry)
    step = prepare_step(config, registry.task("task6a"), registry.architecture(config.arch),
                        derive_seeds(0, 0), device, length)
    for start in range(0, steps * batch, batch):
        step(start, batch)
    synchronize(device)
    return step, [p.detach().clone() for p in step.model.parameters()]


def test_training_step(benchmark, device, arch, batch, hidden, length, mode):
    configure_threads(1)
    if benchmark.disabled:
        # As a test (run once by the disabled fixture): two steps of this path equal themselves when
        # run again (deterministic), and equal two steps of the architecture's default path where the
        # reference changes only runtime options (a kernel, loop or launch changes how a step computes,
        # not what).
        def same_results() -> None:
            _, parameters = _trained(arch, batch, hidden, length, device, mode)
            _, again = _trained(arch, batch, hidden, length, device, mode)
            assert all(torch.equal(a, b) for a, b in zip(parameters, again)), "two identical runs differ"
            name, options = parse_ref(arch)
            runtime = {p.name for p in get_registry().architecture(name).options if p.runtime}
            if options and set(options) <= runtime:
                _, default = _trained(name, batch, hidden, length, device, mode)
                for ours, reference in zip(parameters, default, strict=True):
                    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-5)

        benchmark(same_results)
        return
    step, _ = _trained(arch, batch, hidden, length, device, mode, steps=0)
    starts = itertools.count(0, batch)

    def one_step():
        step(next(starts), batch)
        synchronize(device)

    if not benchmark.disabled:
        # Warm-up: TorchScript profiles on the 1st call, optimises (fuses) the forward on the 2nd and
        # the backward on the 3rd; allocators grow and oneDNN/cuDNN pick kernels; on CUDA the step is
        # captured after WARMUP_STEPS eager steps.
        for _ in range(BENCH_WARMUP):
            one_step()
        if mode == "graphed":
            assert step.runtime()["graphed"], step.runtime()["graph_fallback"]
    benchmark.group = f"B{batch}-H{hidden}-L{length}"
    benchmark.extra_info.update(arch=arch, batch=batch, hidden=hidden, length=length, device=device.type,
                                threads=torch.get_num_threads(), baseline=BASELINE, mode=mode)
    benchmark(one_step)
