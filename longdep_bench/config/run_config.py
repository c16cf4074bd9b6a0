"""A run's configuration: what to train on what, with which settings and seeds.

:class:`RunConfig` has the fields that name the experiment (architecture, task, their options
and parameters, seed, hidden size) and one field per run and runtime setting of
:mod:`longdep_bench.config.settings`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from longdep_bench.api.params import with_defaults
from longdep_bench.config.settings import FIRST_RELEASE, Scope, in_scopes

RUN_SETTINGS = in_scopes(Scope.RUN)
RUNTIME_SETTINGS = in_scopes(Scope.RUNTIME)


EXPERIMENT_FIELDS = ("arch", "task", "arch_options", "params", "seed", "master_seed", "hidden")


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one training run's result, and how it executes.

    ``seed`` is the run's index in its sweep: data, test and initialisation seeds derive from
    (master_seed, seed). The run and runtime fields are the settings of those scopes, in the
    declaration's order, each defaulting to its value when nothing resolves it (a test keeps them in
    step). Runtime fields (device, threads, ...) and the architecture's runtime options
    (``arch_runtime``) do not enter the id. ``device`` is kept as given ('auto' included): the
    planner resolves it for this machine, so a record's configuration is rebuilt anywhere.
    """

    # the experiment
    arch: str
    task: str
    arch_options: Mapping[str, Any]
    params: Mapping[str, Any]
    seed: int
    master_seed: int
    hidden: int
    task_revision: int = 0
    # run settings: part of the id
    match_params: int | None = None
    batch_size: int = 16
    lr: float = 3e-3
    clip: float = 1.0
    optimizer: str = "adam"
    output_units: str = "linear"
    max_sequences: int = 100_000
    threshold: float | None = None
    test_size: int = 2560
    check_every: int = 1024
    streak: int = 0
    streak_wrong: int = 0
    streak_error: float = 0.0
    abs_error: float = 0.0
    test_error: float = 0.0
    stop_set: int = 0
    step_loss: str = "mean"
    update: str = "sequence"
    # runtime settings: how it executes, outside the id
    device: str = field(default="auto", compare=False)
    threads: int = field(default=1, compare=False)
    allocator: str = field(default="keep", compare=False)
    cuda_graphs: str = field(default="auto", compare=False)
    arch_runtime: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def hyperparameters(self) -> dict[str, Any]:
        """The training settings, as stored in a result record."""
        return {"hidden": self.hidden, "arch_options": dict(self.arch_options),
                **{s.name: getattr(self, s.name) for s in RUN_SETTINGS}}

    def runtime(self) -> dict[str, Any]:
        """The runtime settings and architecture options (how the run executes, not what it
        computes), as stored in a record."""
        return {**{s.name: getattr(self, s.name) for s in RUNTIME_SETTINGS}, "arch_runtime": dict(self.arch_runtime)}

    def task_params(self, task: Any) -> dict[str, Any]:
        """All of the task's parameters (a TaskSpec's): the configuration's, and the parameters
        that it leaves out at their defaults (see :func:`longdep_bench.api.params.recorded`)."""
        return with_defaults(task.params, self.params)

    def build_options(self) -> dict[str, Any]:
        """Every option the architecture's build receives: the experiment's and the runtime ones."""
        return {**self.arch_options, **self.arch_runtime}

    def identity(self) -> dict[str, Any]:
        """The fields that identify the experiment: everything but the runtime settings.

        Run settings added after the first release are left out at their default, so that runs
        recorded before they existed keep their ids (and a sweep resumes across the upgrade); the
        task's revision likewise at 0.
        """
        data = {name: getattr(self, name) for name in EXPERIMENT_FIELDS}
        if self.task_revision:  # a corrected task definition: other runs than those of the original
            data["task_revision"] = self.task_revision
        for setting in RUN_SETTINGS:
            value = getattr(self, setting.name)
            if setting.since == FIRST_RELEASE or value != setting.default:
                data[setting.name] = value
        return json.loads(json.dumps(data, default=dict))

    def run_id(self) -> str:
        """A short hash of the canonical configuration."""
        canonical = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]



def derive_seeds(master_seed: int, index: int) -> dict[str, int]:
    """Independent data, test-set and initialisation seeds for run ``index`` of a sweep."""
    children = np.random.SeedSequence([master_seed, index]).spawn(3)
    values = [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]
    return dict(zip(("data", "test", "init"), values))
