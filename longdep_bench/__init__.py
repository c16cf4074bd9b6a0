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
from longdep_bench.registry import build_registry
from longdep_bench.specs import (
    ArchitectureSpec,
    Batch,
    ExecutorRequest,
    ExecutorSpec,
    FixedSets,
    FormatSpec,
    ModelIO,
    OnlineSetup,
    OutputKind,
    Published,
    TaskSpec,
)
from longdep_bench.tables import Cell, Table

__version__ = "0.8.0"

__all__ = [
    "ArchitectureSpec",
    "Batch",
    "BenchError",
    "Cell",
    "ExecutorRequest",
    "ExecutorSpec",
    "FixedSets",
    "FormatSpec",
    "ModelIO",
    "OnlineSetup",
    "OutputKind",
    "OutputsOnly",
    "Param",
    "Published",
    "SequenceModel",
    "Table",
    "TaskSpec",
    "build_registry",
    "encode_inputs",
    "hookimpl",
    "last_step",
    "one_hot",
    "project_time_major",
    "rng",
    "script",
]
