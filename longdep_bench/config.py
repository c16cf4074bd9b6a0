"""A run's configuration: what to train on what, with which settings and seeds."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np

DEFAULT_TEST_SIZE = 2560  # the paper's test-set size for Task 6a
DEFAULT_CHECK_EVERY = 1024  # sequences between success checks: sequences_to_solve resolution <= 2048


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one training run's result (device and threads aside)."""

    arch: str
    task: str
    arch_options: Mapping[str, Any]
    params: Mapping[str, Any]
    seed: int  # this run's seed index; data, test and init seeds derive from (master_seed, seed)
    master_seed: int
    hidden: int
    batch_size: int
    lr: float
    clip: float
    max_sequences: int
    threshold: float  # fraction of test sequences that must be correct to count as solved
    match_params: int | None = None  # the parameter budget that chose ``hidden``, if any
    test_size: int = DEFAULT_TEST_SIZE
    check_every: int = DEFAULT_CHECK_EVERY
    device: str = field(default="cpu", compare=False)
    threads: int = field(default=1, compare=False)

    def hyperparameters(self) -> dict[str, Any]:
        """The training settings, as stored in a result record."""
        return {
            "hidden": self.hidden,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "clip": self.clip,
            "optimizer": "adam",
            "max_sequences": self.max_sequences,
            "threshold": self.threshold,
            "test_size": self.test_size,
            "check_every": self.check_every,
            "arch_options": dict(self.arch_options),
            "match_params": self.match_params,
        }

    def identity(self) -> dict[str, Any]:
        """The fields that identify the experiment (everything but device and thread count)."""
        data = asdict(self)
        del data["device"], data["threads"]
        return data

    def run_id(self) -> str:
        """A short hash of the canonical configuration."""
        canonical = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def derive_seeds(master_seed: int, index: int) -> dict[str, int]:
    """Independent data, test-set and initialisation seeds for run ``index`` of a sweep."""
    children = np.random.SeedSequence([master_seed, index]).spawn(3)
    values = [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]
    return dict(zip(("data", "test", "init"), values))
