"""What a sweep is asked for, written out: :class:`SweepOptions` (one block of a sweep: the plan, run
and runtime settings) and :class:`Execution` (how the driver executes it).

Their fields are the settings of :mod:`longdep_bench.config.settings`, in its order, each with the
setting's default (None: unset); each value is validated by its setting. ``tests/test_config.py``
checks that the fields and the declaration agree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from longdep_bench.config.settings import BY_NAME


class _Validated:
    """Validates and normalises every field by its setting on construction."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = BY_NAME[field.name].validate(getattr(self, field.name), f"setting {field.name}")
            object.__setattr__(self, field.name, value)


@dataclass(frozen=True)
class SweepOptions(_Validated):
    """What one block of a sweep asks for (the plan, run and runtime settings); None means unset."""

    # plan: which runs the block holds
    archs: tuple[str, ...] = ("rnn", "lstm", "gru")
    tasks: tuple[str, ...] = ("task6a",)
    params: tuple[str, ...] = ()
    gaps: tuple[int, ...] = ()
    seeds: int = 3
    master_seed: int = 0
    hidden: int | None = None
    # run: part of every run's id
    match_params: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    clip: float | None = None
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
    # runtime: how the runs execute
    device: str = "auto"
    threads: int = 1
    allocator: str = "keep"
    cuda_graphs: str = "auto"


@dataclass(frozen=True)
class Execution(_Validated):
    """How the driver executes a sweep (the execution settings)."""

    output: str = "results.jsonl"
    jobs: int | str = "auto"
    devices: tuple[int, ...] = ()
    executor: str = "local"
