"""Speed of the 1997 paper's learning rule: plain online gradient descent, one sequence at a time,
with the truncated gradient, through the harness's training steps, at Task 6a's and adding
T = 100's sizes. Side by side, each on the same 256 training sequences per round:

- ``autograd 0.8``: today's (0.8's) lstm1997 protocol: its network (4 cells, gates fed by the cell
  outputs), the numba time loop forward and backward, autograd and ``torch.optim.SGD``, one
  sequence per step;
- ``autograd``: the paper's network (the preset) on that same path (``learning=autograd``);
- ``compiled``: the paper's network with the whole online step (forward, truncated gradient,
  update) in compiled code (``learning=auto``, ``kernels.numba.lstm1997_online``).

    pytest tests/benchmarks/test_lstm1997_learning.py --benchmark-enable --benchmark-only \\
        --benchmark-json=learning.json

Sequences per second = 256 / the round's time. Compilation happens before timing (numba caches on
disk; the warm-up rounds compile what is not cached).
"""

from __future__ import annotations

import itertools

import pytest
import torch

from longdep_bench.config.options import SweepOptions
from longdep_bench.config.run_config import derive_seeds
from longdep_bench.discovery.registry import get_registry
from longdep_bench.planning.plan import plan
from longdep_bench.system.environment import configure_threads
from longdep_bench.training.steps import prepare_step

ROUND = 256  # training sequences per timed round
CASES = {"task6a": ("6a", 0.5, 4), "adding": ("adding", 0.5, 4)}  # task: preset, lr, 0.8's hidden size
PATHS = {"autograd 0.8": "lstm1997", "autograd": "lstm1997:preset={},learning=autograd",
         "compiled": "lstm1997:preset={}"}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("task", list(CASES))
def test_online_learning_rule(benchmark, task, path):
    configure_threads(1)
    preset, lr, hidden = CASES[task]
    registry = get_registry()
    arch = PATHS[path].format(preset)
    [config] = plan(SweepOptions(archs=(arch,), tasks=(task,), seeds=1, optimizer="sgd", batch_size=1, clip=0.0,
                                 output_units="sigmoid", lr=lr, device="cpu",
                                 **({"hidden": hidden} if path == "autograd 0.8" else {})), registry)
    spec = registry.task(task)
    params = config.task_params(spec)
    step = prepare_step(config, spec, registry.architecture("lstm1997"), derive_seeds(0, 0), torch.device("cpu"),
                        spec.width(params))
    assert step.online == (path == "compiled")
    starts = itertools.count(0, ROUND)

    def one_round():
        start = next(starts)
        if step.online:
            step(start, ROUND)
        else:
            for i in range(ROUND):
                step(start + i, 1)

    one_round()  # warm-up: numba's cache loaded (or compiled), allocators grown
    benchmark.group = f"lstm1997 online learning, {task}, {ROUND} sequences"
    benchmark.extra_info.update(task=task, path=path, sequences=ROUND, arch=arch)
    benchmark(one_round)
