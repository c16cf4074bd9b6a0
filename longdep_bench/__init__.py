"""longdep-bench: recurrent architectures on long-term-dependency tasks.

This module is the public API that plugins may import; everything else is internal.
"""

from longdep_bench import rng
from longdep_bench.errors import BenchError
from longdep_bench.hookspecs import hookimpl
from longdep_bench.modeling import (
    OutputsOnly,
    SequenceModel,
    encode_inputs,
    last_step,
    one_hot,
    project_time_major,
    script,
)
from longdep_bench.params import Param
from longdep_bench.specs import ArchitectureSpec, Batch, ModelIO, OutputKind, TaskSpec

__version__ = "0.1.0"

__all__ = [
    "ArchitectureSpec",
    "Batch",
    "BenchError",
    "ModelIO",
    "OutputKind",
    "OutputsOnly",
    "Param",
    "SequenceModel",
    "TaskSpec",
    "encode_inputs",
    "hookimpl",
    "last_step",
    "one_hot",
    "project_time_major",
    "rng",
    "script",
]
