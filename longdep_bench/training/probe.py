"""One planned run set up by hand, for diagnostic scripts that train a model step by step and look
inside it (``scripts/lstm1997_*.py``): the run's configuration as a sweep plans it, its task, a test
set from the run's test seed, and its training step on the CPU."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from longdep_bench.api.specs import Batch, TaskSpec
from longdep_bench.config.options import SweepOptions
from longdep_bench.config.run_config import RunConfig, derive_seeds
from longdep_bench.discovery.registry import get_registry
from longdep_bench.planning.plan import plan
from longdep_bench.training.steps import OnlineStep, TrainingStep, prepare_step


@dataclass(frozen=True)
class Probe:
    """A run ready to train by hand: ``step(start, n)`` trains on sequences of its data stream."""

    config: RunConfig
    task: TaskSpec
    test: Batch  # NumPy, from the run's test seed
    step: OnlineStep | TrainingStep


def probe_run(options: SweepOptions, seed: int, test_size: int) -> Probe:
    """Run number ``seed`` of the sweep ``options`` (which must plan at least ``seed + 1`` runs of one
    architecture and task) with ``test_size`` test sequences, its model built from its init seed."""
    registry = get_registry()
    config = plan(options, registry)[seed]
    task = registry.task(config.task)
    seeds = derive_seeds(config.master_seed, config.seed)
    test = task.generate(config.task_params(task), test_size, seeds["test"], 0)
    step = prepare_step(config, task, registry.architecture(config.arch), seeds, torch.device("cpu"),
                        test.inputs.shape[1])
    return Probe(config, task, test, step)
