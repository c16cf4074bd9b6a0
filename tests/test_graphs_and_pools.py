"""The CUDA-graph step and the GPU pool, exercised on the CPU.

On the CPU a step never goes through static buffers; here it is made to, with ``capture`` replaced
by "replay = run the body again", so the staging, warm-up, capture, replay, window sums and the
fallback run everywhere. On CUDA, ``tests/test_models.py --device cuda`` compares real graph
replays with eager steps for every architecture.
"""

from __future__ import annotations

import os
import socket
from concurrent.futures.process import BrokenProcessPool

import pytest
import torch

from longdep_bench.api.specs import ExecutorRequest
from longdep_bench.config.run_config import RunConfig, derive_seeds
from longdep_bench.config.settings import MPS_RUNS_PER_GPU, RUNS_PER_GPU
from longdep_bench.discovery.registry import get_registry
from longdep_bench.execution import executors
from longdep_bench.execution.driver import resolve_jobs
from longdep_bench.execution.executors import GpuPool, local_jobs
from longdep_bench.training import steps
from longdep_bench.training.loop import train

STEPS = 9  # 3 warm-up steps, the capture, 5 replays


def _config(arch="lstm", seed=0, **settings):
    options = {p.name: p.default for p in get_registry().architecture(arch).options}
    return RunConfig(arch=arch, task="task6a", arch_options=options, params={"gap": 20}, seed=seed, master_seed=0,
                     hidden=12, batch_size=8, threshold=0.99, **{"device": "cpu", **settings})


@pytest.fixture(autouse=True)
def one_thread():
    """Runs train with one torch thread; so do these steps (many threads may split sums differently)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _train(config, staged):
    registry = get_registry()
    seeds = derive_seeds(0, 0)
    step = steps.prepare_step(config, registry.task("task6a"), registry.architecture(config.arch), seeds,
                              torch.device("cpu"), 90)
    if staged:
        step.static, step.wanted = True, True
    windows = []
    for index in range(STEPS):
        step(index * 8, 8)
        windows.append(step.take_window())
    step(STEPS * 8, 5)  # a short last batch runs eagerly
    windows.append(step.take_window())
    return windows, [p.detach().clone() for p in step.model.parameters()], step.runtime()


@pytest.mark.parametrize("arch", ["lstm", "gru", "fused-lstm", "mingru"])
def test_staged_and_replayed_steps_equal_eager_steps(monkeypatch, arch):
    monkeypatch.setattr(steps, "capture", lambda body: body)
    eager = _train(_config(arch), staged=False)
    staged = _train(_config(arch), staged=True)
    assert staged[0] == eager[0]  # correct counts and summed losses of every window, exactly
    assert all(torch.equal(a, b) for a, b in zip(staged[1], eager[1]))
    assert {k: staged[2][k] for k in ("graphed", "graph_fallback")} == {"graphed": True, "graph_fallback": None}
    assert eager[2]["graphed"] is False


def test_a_failed_capture_falls_back_to_eager_and_says_why(monkeypatch):
    def refuse(body):
        raise RuntimeError("operation not permitted when stream is capturing\nmore detail")

    monkeypatch.setattr(steps, "capture", refuse)
    eager = _train(_config(), staged=False)
    fallen = _train(_config(), staged=True)
    assert fallen[0] == eager[0] and all(torch.equal(a, b) for a, b in zip(fallen[1], eager[1]))
    assert fallen[2] == {"graphed": False, "graph_fallback": "CUDA graph capture failed (RuntimeError: operation "
                                                            "not permitted when stream is capturing); ran eagerly"}
    with pytest.raises(steps.GraphCaptureError, match="--cuda-graphs on: the training step could not be captured"):
        _train(_config(cuda_graphs="on"), staged=True)


def test_an_architecture_can_declare_that_it_must_not_be_captured():
    spec = get_registry().architecture("lstm")
    from dataclasses import replace

    refusing = replace(spec, cuda_graphs=False)
    assert steps.graphs_wanted("auto", torch.device("cuda"), refusing)[0] is False
    assert "declares that it must not be captured" in steps.graphs_wanted("auto", torch.device("cuda"), refusing)[1]
    with pytest.raises(steps.GraphCaptureError):
        steps.graphs_wanted("on", torch.device("cuda"), refusing)
    assert steps.graphs_wanted("auto", torch.device("cuda"), spec) == (True, None)
    assert steps.graphs_wanted("auto", torch.device("cpu"), spec) == (False, None)


def test_records_say_how_the_step_ran():
    record = train(_config(max_sequences=64, check_every=32))
    assert record.runtime == {"device": "cpu", "threads": 1, "allocator": "keep", "cuda_graphs": "auto",
                              "arch_runtime": {}, "graphed": False, "graph_fallback": None}


def test_gpu_pool_runs_several_runs_per_worker_and_matches_one_process(device):
    """With --device cuda: three runs capture and replay CUDA graphs at once in one process (on an
    H100 such runs failed in capture before the capture gate), with the results of one at a time."""
    configs = [_config(arch, max_sequences=512, device=device.type) for arch in ("lstm", "gru", "rnn")]
    with GpuPool([None], threads=3) as pool:
        pooled = [future.result(timeout=300) for future in [pool.submit(train, c) for c in configs]]
    alone = [train(c) for c in configs]
    assert [(r.run_id, r.test_accuracy, r.curve) for r in pooled] == [
        (r.run_id, r.test_accuracy, r.curve) for r in alone]


def test_gpu_pool_reports_a_dead_worker_instead_of_hanging():
    pool = GpuPool([None], threads=1)
    try:
        future = pool.submit(os._exit, 3)
        with pytest.raises(BrokenProcessPool, match="exit code 3"):
            future.result(timeout=60)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def test_jobs_auto(monkeypatch):
    monkeypatch.setattr(executors, "mps_running", lambda: False)
    assert resolve_jobs(3, 10, "cpu", auto=local_jobs) == 3
    assert 1 <= resolve_jobs("auto", 10, "cpu", auto=local_jobs) <= min(os.cpu_count(), 10)
    assert resolve_jobs("auto", 1, "cpu", auto=local_jobs) == 1
    assert resolve_jobs("auto", 100, "cuda", auto=local_jobs) == RUNS_PER_GPU
    assert resolve_jobs("auto", 100, "cuda", devices=(0, 1), auto=local_jobs) == 2 * RUNS_PER_GPU
    assert resolve_jobs("auto", 3, "cuda", devices=(0, 1), auto=local_jobs) == 3
    assert resolve_jobs("auto", 30, "cpu") == 30  # an executor without auto_jobs (a cluster): all at once
    processes = {"gpu_sharing": "processes"}
    assert resolve_jobs("auto", 100, "cuda", auto=local_jobs, options=processes) == 1  # they would not add up
    monkeypatch.setattr(executors, "mps_running", lambda: True)
    assert resolve_jobs("auto", 100, "cuda", devices=(0, 1), auto=local_jobs) == 2 * MPS_RUNS_PER_GPU
    assert resolve_jobs("auto", 100, "cuda", auto=local_jobs, options={"gpu_sharing": "threads"}) == RUNS_PER_GPU


def test_gpu_sharing_follows_a_running_mps_daemon(monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_MPS_PIPE_DIRECTORY", str(tmp_path))
    assert not executors.mps_running() and executors.gpu_sharing({"gpu_sharing": "auto"}) == "threads"
    (tmp_path / "control").write_text("")  # a stale file is not a daemon's socket
    assert not executors.mps_running()
    (tmp_path / "control").unlink()
    with socket.socket(socket.AF_UNIX) as control:
        control.bind(str(tmp_path / "control"))
        assert executors.mps_running() and executors.gpu_sharing({"gpu_sharing": "auto"}) == "processes"
        assert executors.gpu_sharing({"gpu_sharing": "threads"}) == "threads"


@pytest.mark.parametrize("sharing,processes,threads", [("threads", 1, 3), ("processes", 3, 1)])
def test_local_executor_shares_a_gpu_as_threads_or_as_processes(sharing, processes, threads):
    request = ExecutorRequest(jobs=3, runs=5, device="cuda", options={"gpu_sharing": sharing})
    with executors.open_local(request) as pool:
        assert isinstance(pool, GpuPool) and (len(pool.processes), pool.threads) == (processes, threads)
        assert sorted(f.result(timeout=60) for f in [pool.submit(abs, -i) for i in range(5)]) == [0, 1, 2, 3, 4]


def test_bad_gpu_requests_are_one_line(cli, tmp_path):
    result = cli("run", "--devices", "0,1", "--device", "cpu", "--seeds", "1", "-o", str(tmp_path / "r.jsonl"))
    assert result.code == 2 and "--devices 0,1 needs CUDA" in result.err
    assert len(result.err.strip().splitlines()) == 1
