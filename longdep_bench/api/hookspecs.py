"""The plugin hooks. A plugin module implements any of them, marked with ``longdep_bench.hookimpl``.

Each hook takes one argument, ``register``, and calls it once for every spec it adds.
"""

import pluggy

hookspec = pluggy.HookspecMarker("longdep_bench")
hookimpl = pluggy.HookimplMarker("longdep_bench")


@hookspec
def register_architectures(register):
    """Register architectures: call ``register(ArchitectureSpec(...))`` once for each."""


@hookspec
def register_tasks(register):
    """Register tasks: call ``register(TaskSpec(...))`` once for each."""


@hookspec
def register_executors(register):
    """Register executors (where runs execute): call ``register(ExecutorSpec(...))`` once for each."""


@hookspec
def register_formats(register):
    """Register output formats of tables: call ``register(FormatSpec(...))`` once for each."""
