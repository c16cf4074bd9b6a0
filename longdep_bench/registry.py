"""Plugin discovery through the ``longdep_bench`` entry points, and the registry it fills."""

from __future__ import annotations

import functools
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Iterable

import pluggy

from longdep_bench import hookspecs
from longdep_bench.errors import BenchError
from longdep_bench.params import suggest
from longdep_bench.specs import ArchitectureSpec, TaskSpec

ENTRY_POINT_GROUP = "longdep_bench"


@dataclass(frozen=True)
class PluginInfo:
    """A plugin that loaded: its entry-point name, distribution, version and implemented hooks."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that failed to import or to register, or a name that two plugins registered."""

    name: str
    distribution: str
    version: str
    error: str


@dataclass(frozen=True)
class Registered:
    """A registered spec and the plugin it came from."""

    spec: Any
    plugin: str
    distribution: str


@dataclass
class Registry:
    """Every registered architecture and task, and what happened to every plugin."""

    architectures: dict[str, Registered] = field(default_factory=dict)
    tasks: dict[str, Registered] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    conflicts: dict[tuple[str, str], str] = field(default_factory=dict)

    def architecture(self, name: str) -> ArchitectureSpec:
        """The architecture called ``name``; a BenchError suggesting close names otherwise."""
        return self._lookup("architecture", self.architectures, name)

    def task(self, name: str) -> TaskSpec:
        """The task called ``name``; a BenchError suggesting close names otherwise."""
        return self._lookup("task", self.tasks, name)

    def _lookup(self, kind: str, table: dict[str, Registered], name: str) -> Any:
        if (kind, name) in self.conflicts:
            raise BenchError(self.conflicts[(kind, name)])
        if name not in table:
            known = ", ".join(sorted(table)) or "none"
            raise BenchError(f"unknown {kind} {name!r}{suggest(name, list(table))}; known: {known}")
        return table[name].spec


def _describe(exc: BaseException) -> str:
    """One line: the exception type and message, and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}{where}" if message else f"{type(exc).__name__}{where}"


def _dist_of(entry_point: metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return "unknown", "unknown"
    return dist.metadata["Name"] or "unknown", dist.version or "unknown"


def _collect(expected: type, hook: Callable[..., Any]) -> list[Any]:
    """Call one plugin's registration hook and return the specs it registered."""
    found: list[Any] = []

    def register(spec: Any) -> None:
        if not isinstance(spec, expected):
            raise TypeError(f"register() expects a {expected.__name__}, got {type(spec).__name__}")
        found.append(spec)

    hook(register=register)
    return found


def _add(registry: Registry, kind: str, spec: Any, plugin: str, distribution: str, version: str) -> None:
    """Add a spec, or mark its name as conflicting when another plugin registered it already."""
    table = registry.architectures if kind == "architecture" else registry.tasks
    key = (kind, spec.name)
    previous = table.pop(spec.name, None)
    if previous is None and key not in registry.conflicts:
        table[spec.name] = Registered(spec, plugin, distribution)
        return
    if previous is not None:
        registry.conflicts[key] = (
            f"{kind} {spec.name!r} is registered by two plugins: {previous.plugin} "
            f"({previous.distribution}) and {plugin} ({distribution}); uninstall or rename one"
        )
    registry.failures.append(PluginFailure(plugin, distribution, version, registry.conflicts[key]))


def build_registry(entry_points: Iterable[metadata.EntryPoint] | None = None) -> Registry:
    """Load every plugin of the entry-point group and collect what it registers.

    A plugin that fails to import or to register, or that registers a name another plugin
    already registered, is recorded in ``failures``; everything else keeps working.
    """
    if entry_points is None:
        entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    registry = Registry()
    seen: set[str] = set()
    for entry_point in sorted(entry_points, key=lambda ep: ep.name):
        distribution, version = _dist_of(entry_point)
        if entry_point.name in seen:
            continue  # the same distribution visible twice on sys.path
        seen.add(entry_point.name)
        try:
            module = entry_point.load()
            manager.register(module, name=entry_point.name)
        except Exception as exc:  # a broken plugin must not break the suite
            registry.failures.append(PluginFailure(entry_point.name, distribution, version, _describe(exc)))
            continue
        hooks = tuple(sorted(caller.name for caller in manager.get_hookcallers(module) or ()))
        hookimpls = {
            ("architecture", ArchitectureSpec): manager.hook.register_architectures.get_hookimpls(),
            ("task", TaskSpec): manager.hook.register_tasks.get_hookimpls(),
        }
        try:
            found = [
                (kind, spec)
                for (kind, expected), impls in hookimpls.items()
                for impl in impls
                if impl.plugin is module
                for spec in _collect(expected, impl.function)
            ]
        except Exception as exc:
            registry.failures.append(PluginFailure(entry_point.name, distribution, version, _describe(exc)))
            continue
        for kind, spec in found:
            _add(registry, kind, spec, entry_point.name, distribution, version)
        registry.plugins.append(PluginInfo(entry_point.name, distribution, version, hooks))
    return registry


@functools.lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The registry of this process, built once from the installed entry points."""
    return build_registry()
