"""longdep-bench: recurrent architectures on long-term-dependency tasks.

This module is the public API that plugins may import; everything else is internal.
"""

import multiprocessing as _multiprocessing
import os as _os
import sys as _sys

from longdep_bench.system import numba_cache as _numba_cache
from longdep_bench.system import signals as _signals

# First, before anything heavy is imported: a worker process being spawned leaves the signals to its
# driver and dies with it; the command line's own process leaves quietly if stopped during its imports.
if getattr(_multiprocessing.current_process(), "_inheriting", False):
    _signals.quiet_worker()
elif _os.path.basename(_sys.argv[0] if _sys.argv else "") == "longdep-bench":
    _signals.quiet_startup()
_numba_cache.ensure_writable_cache()  # numba must be able to cache, or it raises when a kernel is defined

from longdep_bench.api import rng
from longdep_bench.api.hookspecs import hookimpl
from longdep_bench.api.modeling import (
    OutputsOnly,
    SequenceModel,
    encode_inputs,
    last_step,
    one_hot,
    project_time_major,
    script,
)
from longdep_bench.api.params import Param
from longdep_bench.api.specs import (
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
from longdep_bench.discovery.registry import build_registry
from longdep_bench.results.tables import Cell, Table
from longdep_bench.system.errors import BenchError
from longdep_bench.system.version import __version__ as __version__

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
