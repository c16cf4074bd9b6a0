"""The plugin hooks. A plugin module implements any of them, marked with ``longdep_bench.hookimpl``."""

import pluggy

hookspec = pluggy.HookspecMarker("longdep_bench")
hookimpl = pluggy.HookimplMarker("longdep_bench")


@hookspec
def register_architectures(register):
    """Register architectures: call ``register(ArchitectureSpec(...))`` once for each."""


@hookspec
def register_tasks(register):
    """Register tasks: call ``register(TaskSpec(...))`` once for each."""
