"""Training: solving, failing, divergence, errors, reproducibility and the evaluation shortcut."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

import longdep_bench
from longdep_bench.config.run_config import RunConfig, derive_seeds
from longdep_bench.discovery.registry import get_registry
from longdep_bench.results.records import REQUIRED_KEYS
from longdep_bench.training.loop import evaluate, train
from longdep_bench.training.objectives import run_objective

ODD_ARCHS = """
    import torch
    from longdep_bench import ArchitectureSpec, SequenceModel, hookimpl

    class NaNCore(torch.nn.Module):
        def __init__(self, size):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(size))
        def forward(self, x):
            return x * self.scale * float("nan")

    def explode(io, hidden, options):
        raise RuntimeError("this architecture cannot be built")

    @hookimpl
    def register_architectures(register):
        register(ArchitectureSpec(
            name="nan-net", description="outputs NaN",
            build=lambda io, hidden, options: SequenceModel(NaNCore(io.input_size), io, io.input_size)))
        register(ArchitectureSpec(name="explode", description="fails to build", build=explode))
"""


def config(arch, **overrides):
    settings = dict(arch=arch, task="task6a", arch_options={}, params={"gap": 40}, seed=0, master_seed=0,
                    hidden=32, batch_size=16, lr=3e-3, clip=1.0, max_sequences=2048, threshold=0.99)
    if arch in ("lstm", "gru"):
        settings["arch_options"] = {"init": "constant", "gate_bias": 3.0}
    settings.update(overrides)
    return RunConfig(**settings)


def test_gru_solves_task6a_and_record_is_complete(device):
    record = train(config("gru", hidden=64, max_sequences=30_000, device=device.type))
    assert record.status == "ok" and record.solved
    assert record.test_accuracy >= 0.99
    assert record.sequences_to_solve == record.train_sequences <= 30_000
    assert record.sequences_to_solve % 1024 == 0  # checked every 1024 sequences
    data = record.__dict__
    assert REQUIRED_KEYS <= data.keys()
    assert data["params"]["gap"] == 40 and data["env"]["threads"] == 1
    assert data["env"]["torch"] == torch.__version__ and data["env"]["device"] == device.type
    assert data["env"]["longdep_bench"] == longdep_bench.__version__  # which code produced it
    assert record.curve[-1] == [record.sequences_to_solve, record.test_accuracy]


def test_vanilla_rnn_stays_at_chance():
    record = train(config("rnn", max_sequences=8192))
    assert record.status == "ok" and not record.solved and record.sequences_to_solve is None
    assert 0.2 < record.test_accuracy < 0.3
    assert record.train_sequences == 8192


def test_same_config_reproduces_exactly():
    first, second = train(config("lstm", max_sequences=3000)), train(config("lstm", max_sequences=3000))
    assert first.test_accuracy == second.test_accuracy and first.curve == second.curve
    options = {"init": "constant", "gate_bias": 3.0, "chrono_tmax": 0, "loop": "script"}
    scripted = [train(config("fused-lstm", arch_options=options, max_sequences=2048)) for _ in range(2)]
    assert scripted[0].curve == scripted[1].curve  # TorchScript: the first run of a process = later runs
    assert first.run_id == second.run_id
    assert train(config("lstm", max_sequences=3000, seed=1)).run_id != first.run_id


def test_non_finite_loss_ends_run_as_diverged(plugin_dist, cli, tmp_path):
    plugin_dist("fake-odd", {"odd": ODD_ARCHS})
    record = train(config("nan-net"))
    assert record.status == "diverged" and not record.solved and record.test_accuracy is None
    assert record.train_sequences == 1024  # stopped at the first check
    result = cli("run", "-a", "nan-net", "--seeds", "1", "--max-sequences", "2048", "-o", str(tmp_path / "r.jsonl"))
    assert result.code == 0, result.err  # diverging is a result, not an error


def test_exception_ends_run_as_error(plugin_dist):
    plugin_dist("fake-odd", {"odd": ODD_ARCHS})
    record = train(config("explode"))
    assert record.status == "error" and "cannot be built" in record.error


def test_evaluate_stops_once_success_is_impossible():
    task = get_registry().task("task6a")
    test = task.generate({"gap": 40}, 1024, seed=1, start=0).to_torch()

    class Constant(torch.nn.Module):
        def forward(self, inputs, lengths):
            return torch.nn.functional.one_hot(torch.zeros_like(lengths), 4).float()

    objective = run_objective(task, SimpleNamespace(output_units="linear", step_loss="mean", abs_error=0.0))
    result = evaluate(Constant(), objective, test)
    assert math.isclose(result.accuracy, float((test.targets == 0).float().mean()))
    constant = torch.nn.functional.one_hot(torch.zeros(1024, dtype=torch.long), 4).float()
    expected_loss = torch.nn.functional.cross_entropy(constant, test.targets)
    assert math.isclose(result.loss, float(expected_loss), rel_tol=1e-5)
    assert evaluate(Constant(), objective, test, at_least=0.99) is None
    assert evaluate(Constant(), objective, test, at_least=0.2) == result


def test_seeds_are_independent_and_stable():
    seeds = derive_seeds(0, 0)
    assert len(set(seeds.values())) == 3
    assert derive_seeds(0, 0) == seeds and derive_seeds(0, 1) != seeds and derive_seeds(1, 0) != seeds


@pytest.mark.slow
def test_the_speed_leaves_out_compilation(tmp_path):
    """A run in a fresh process with an empty numba cache compiles its kernels in its first step; that
    step is timed apart (compile_seconds), so its speed is the speed of a rerun with everything cached,
    within the noise (with the compilation counted it was 10 to 40 times slower)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    cli = str(Path(sys.executable).with_name("longdep-bench"))
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    args = [cli, "run", "-a", "gru", "--hidden", "16", "--seeds", "1", "--max-sequences", "4096", "--test-size", "64",
            "-j", "1", "-q"]
    speeds, compiles = [], []
    for name in ("fresh.jsonl", "again.jsonl"):
        result = subprocess.run([*args, "-o", str(tmp_path / name)], env=env, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, result.stderr
        record = json.loads((tmp_path / name).read_text())
        speeds.append(record["sequences_per_second"])
        compiles.append(record["compile_seconds"])
    assert compiles[0] > compiles[1]  # the fresh process compiled; the second loaded the cache
    assert 0.5 < speeds[0] / speeds[1] < 2.0, speeds
