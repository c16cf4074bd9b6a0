"""Plugin discovery through the ``longdep_bench`` entry points, and the registry it fills.

Every entry point of the group names a module; its functions marked ``@longdep_bench.hookimpl``
implement the hooks of :mod:`longdep_bench.api.hookspecs`, one per kind of thing a plugin adds
(``KINDS``). Mistakes are reported, never fatal: a plugin that fails to import, defines no known
hook, misspells one, forgets the marker or names the hook's argument wrongly is listed as failed
with one line saying which; a name that two plugins register is a conflict, shown by ``list``
and ``plugins``, and unusable until one of them is removed.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from longdep_bench.api import hookspecs
from longdep_bench.api.params import suggest
from longdep_bench.api.specs import ArchitectureSpec, ExecutorSpec, FormatSpec, TaskSpec
from longdep_bench.discovery import declarations
from longdep_bench.discovery.contracts import PluginError, fault
from longdep_bench.system.errors import BenchError

ENTRY_POINT_GROUP = "longdep_bench"
HOOK_ARGUMENT = "register"


@dataclass(frozen=True)
class Kind:
    """A kind of thing plugins register: its name, spec class, and the hook that registers it."""

    name: str
    spec: type

    @property
    def hook(self) -> str:
        """The hook's name: ``register_<kind>s``."""
        return f"register_{self.name}s"


KINDS = (Kind("architecture", ArchitectureSpec), Kind("task", TaskSpec), Kind("executor", ExecutorSpec),
         Kind("format", FormatSpec))
HOOKS = tuple(kind.hook for kind in KINDS)


@dataclass(frozen=True)
class PluginInfo:
    """A plugin that loaded: its entry-point name, distribution, version, implemented hooks, and
    what may be wrong with it without stopping it (``warnings``, one line each)."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that failed to import or to register."""

    name: str
    distribution: str
    version: str
    error: str


@dataclass(frozen=True)
class Registered:
    """A registered spec and the plugin it came from (``package``: the plugin's top-level package;
    ``version``: its distribution's; ``source``: a hash of the plugin module's source, so that an
    edited plugin under development is told apart from the one that wrote earlier records)."""

    spec: Any
    plugin: str
    distribution: str
    package: str = ""
    version: str = "unknown"
    source: str = "unknown"

    def label(self) -> str:
        """'plugin (distribution)'."""
        return f"{self.plugin} ({self.distribution})"

    def code(self) -> dict[str, str]:
        """The code a record says trained it: plugin, distribution, version and source hash."""
        return {"plugin": self.plugin, "distribution": self.distribution, "version": self.version,
                "source": self.source}


@dataclass
class Registry:
    """Every registered spec by kind and name, the conflicts, and what happened to every plugin."""

    entries: dict[str, dict[str, Registered]] = field(default_factory=lambda: {k.name: {} for k in KINDS})
    conflicts: dict[tuple[str, str], list[Registered]] = field(default_factory=dict)
    invalid: dict[tuple[str, str], tuple[Registered, str]] = field(default_factory=dict)  # spec, its problems
    probes: dict[str, str] = field(default_factory=dict)  # task -> its probe's problems ("": none), once probed
    plugins: list[PluginInfo] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)

    @property
    def architectures(self) -> dict[str, Registered]:
        """Usable architectures by name."""
        return self.entries["architecture"]

    @property
    def tasks(self) -> dict[str, Registered]:
        """Tasks by name, less those whose probe found their declarations wrong."""
        return {name: entry for name, entry in self.entries["task"].items() if not self.probes.get(name)}

    def entry(self, kind: str, name: str) -> Registered:
        """The registered ``kind`` called ``name``; a BenchError (with suggestions, or naming the
        conflicting plugins) otherwise, and a PluginError for a spec whose declarations are wrong (a
        task's checked against its data the first time it is asked for: the registry itself is not
        changed)."""
        if (kind, name) in self.conflicts:
            raise BenchError(conflict_message(kind, name, self.conflicts[kind, name]))
        if (kind, name) in self.invalid:
            raise PluginError(invalid_message(kind, *self.invalid[kind, name]))
        table = self.entries[kind]
        if name not in table:
            known = ", ".join(sorted(table)) or "none"
            raise BenchError(f"unknown {kind} {name!r}{suggest(name, list(table))}; known: {known}")
        if kind == "task" and self.probe(name):
            raise PluginError(invalid_message(kind, table[name], self.probes[name]))
        return table[name]

    def architecture(self, name: str) -> ArchitectureSpec:
        """The architecture called ``name``."""
        return self.entry("architecture", name).spec

    def task(self, name: str) -> TaskSpec:
        """The task called ``name``."""
        return self.entry("task", name).spec

    def executor(self, name: str) -> ExecutorSpec:
        """The executor called ``name``."""
        return self.entry("executor", name).spec

    def format(self, name: str) -> FormatSpec:
        """The output format called ``name``."""
        return self.entry("format", name).spec

    def probe(self, name: str) -> str:
        """The problems of a task's declared baseline against its data ("" for none; see
        :mod:`longdep_bench.discovery.declarations`), computed once: generating the probe batch
        compiles a compiled generator, so it runs when a task is first used, not at start-up."""
        if name not in self.probes:
            self.probes[name] = "; ".join(declarations.probe_problems(self.entries["task"][name].spec))
        return self.probes[name]

    def probe_all(self) -> None:
        """Check every task against its data (``plugins`` does: it says everything that is wrong)."""
        for name in self.entries["task"]:
            self.probe(name)

    def _unusable(self) -> list[tuple[str, Registered, str]]:
        """Every spec that cannot be used for its declarations: (kind, entry, problems)."""
        return [(kind, entry, problem) for (kind, _), (entry, problem) in sorted(self.invalid.items())] + [
            ("task", self.entries["task"][name], problem) for name, problem in sorted(self.probes.items()) if problem]

    def listing(self, kind: str) -> list[tuple[Registered, bool]]:
        """Every spec of a kind by name, conflicting ones included: (entry, in conflict)."""
        clashing = [(entry, True) for (k, _), entries in self.conflicts.items() if k == kind for entry in entries]
        usable = [(entry, False) for entry in (self.tasks if kind == "task" else self.entries[kind]).values()]
        unusable = [(entry, True) for k, entry, _ in self._unusable() if k == kind]
        return sorted(usable + clashing + unusable, key=lambda pair: (pair[0].spec.name, pair[0].plugin))

    def conflict_lines(self) -> list[str]:
        """One line per name that several plugins register, and per spec whose declarations are wrong."""
        return [conflict_message(kind, name, entries) for (kind, name), entries in sorted(self.conflicts.items())] + [
            invalid_message(kind, entry, problem) for kind, entry, problem in self._unusable()]

    def warning_lines(self) -> list[str]:
        """One line per plugin warning (hooks that registered nothing, near-misses of hook names)."""
        return [line for plugin in self.plugins for line in plugin.warnings]


def invalid_message(kind: str, entry: Registered, problem: str) -> str:
    """Why a spec is unusable: its plugin, distribution and the declarations that are wrong."""
    return f"{kind} {entry.spec.name!r} (plugin {entry.plugin} from {entry.distribution}) is unusable: {problem}"


def conflict_message(kind: str, name: str, entries: list[Registered]) -> str:
    """Why a name is unusable, naming every plugin that registers it."""
    who = " and ".join(entry.label() for entry in entries)
    return f"{kind} {name!r} is registered by {len(entries)} plugins: {who}; uninstall or rename one to use it"


def _dist_of(entry_point: metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return "unknown", "unknown"
    return dist.metadata["Name"] or "unknown", dist.version or "unknown"


def near_misses(module: ModuleType) -> list[str]:
    """Functions that are neither hooks nor marked, whose names are close to a hook's (a typo that
    leaves a hook unimplemented, silently)."""
    marker = f"{ENTRY_POINT_GROUP}_impl"
    return [f"{name} looks like {close[0]} but is not a hook (misspelt, and not marked with "
            "@longdep_bench.hookimpl): it is never called"
            for name, obj in sorted(vars(module).items())
            if callable(obj) and not isinstance(obj, type) and not hasattr(obj, marker) and name not in HOOKS
            for close in [difflib.get_close_matches(name, HOOKS, n=1, cutoff=0.85)] if close]


def hook_problems(module: ModuleType, plugin: str) -> list[str]:
    """Mistakes in a plugin module's hooks, one line each (empty when its hooks are right)."""
    marker = f"{ENTRY_POINT_GROUP}_impl"
    functions = {name: obj for name, obj in vars(module).items() if callable(obj) and not isinstance(obj, type)}
    marked = {name for name, obj in functions.items() if hasattr(obj, marker)}
    problems = []
    for name in sorted(marked - set(HOOKS)):
        close = difflib.get_close_matches(name, HOOKS, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else f" (hooks: {', '.join(HOOKS)})"
        problems.append(f"plugin {plugin} defines {name}, which is not a hook{hint}")
    for name in sorted(set(HOOKS) & set(functions) - marked):
        problems.append(f"plugin {plugin}: {name} is not marked with @longdep_bench.hookimpl, so it is never called")
    for name in sorted(set(HOOKS) & marked):
        try:
            arguments = list(inspect.signature(functions[name]).parameters)
        except (TypeError, ValueError):
            continue
        if arguments != [HOOK_ARGUMENT]:
            problems.append(f"hook {name} of {plugin} takes `{HOOK_ARGUMENT}`, got "
                            f"{', '.join(f'`{a}`' for a in arguments) or 'no argument'}")
    if not problems and not set(HOOKS) & marked:
        problems.append(f"plugin {plugin} defines no known hook (hooks: {', '.join(HOOKS)}, each marked with "
                        "@longdep_bench.hookimpl)" + "".join(f"; {line}" for line in near_misses(module)))
    return problems


def _collect(kind: Kind, function: Any, warnings: list[str]) -> list[Any]:
    """Call one plugin's registration hook and return the specs it registered (a hook that registers
    nothing adds a warning)."""
    found: list[Any] = []

    def register(spec: Any) -> None:
        if not isinstance(spec, kind.spec):
            raise TypeError(f"{kind.hook}: register() expects a {kind.spec.__name__}, got {type(spec).__name__}")
        found.append(spec)

    returned = function(**{HOOK_ARGUMENT: register})
    if not found:
        hint = (f"; it returned a {type(returned).__name__}: call register(spec) for each instead"
                if returned is not None else "")
        warnings.append(f"hook {kind.hook} registered nothing{hint}")
    return found


def _source_hash(module: ModuleType) -> str:
    """A short hash of a module's source file (unknown where it has none)."""
    try:
        path = inspect.getsourcefile(module)
        with open(path or "", "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()[:12]
    except (OSError, TypeError):
        return "unknown"


def _add(registry: Registry, kind: str, entry: Registered) -> None:
    """Add a spec, or make its name a conflict when another plugin registered it already."""
    table, name = registry.entries[kind], entry.spec.name
    if (kind, name) in registry.conflicts:
        registry.conflicts[kind, name].append(entry)
    elif name in table:
        registry.conflicts[kind, name] = [table.pop(name), entry]
    else:
        table[name] = entry


def build_registry(entry_points: Iterable[metadata.EntryPoint] | None = None) -> Registry:
    """Load every plugin of the ``longdep_bench`` entry-point group and collect what it registers.

    ``entry_points`` (``importlib.metadata.EntryPoint`` objects) replaces discovery, to test a
    plugin without installing it. A plugin that fails to import, has mistakes in its hooks or
    fails to register is recorded in ``failures``; everything else keeps working.
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

        def fail(error: str, name: str = entry_point.name, distribution: str = distribution,
                 version: str = version) -> None:  # called in this iteration; the defaults say so
            registry.failures.append(PluginFailure(name, distribution, version, error))

        try:
            module = entry_point.load()
        except Exception as exc:  # a broken plugin must not break the suite
            fail(fault(exc))
            continue
        problems = hook_problems(module, entry_point.name)
        if problems:
            fail("; ".join(problems))
            continue
        manager.register(module, name=entry_point.name)
        package = module.__name__.split(".")[0]
        warnings: list[str] = []
        try:
            found = [(kind, spec) for kind in KINDS for impl in getattr(manager.hook, kind.hook).get_hookimpls()
                     if impl.plugin is module for spec in _collect(kind, impl.function, warnings)]
        except Exception as exc:
            fail(fault(exc, package))
            continue
        source = _source_hash(module)
        for kind, spec in found:
            entry = Registered(spec, entry_point.name, distribution, package, version, source)
            problems = declarations.problems(spec)
            if problems:
                registry.invalid[kind.name, spec.name] = (entry, "; ".join(problems))
            else:
                _add(registry, kind.name, entry)
        hooks = tuple(sorted(caller.name for caller in manager.get_hookcallers(module) or ()))
        warnings += near_misses(module)
        registry.plugins.append(PluginInfo(entry_point.name, distribution, version, hooks,
                                           tuple(f"plugin {entry_point.name} ({distribution}): {w}" for w in warnings)))
    return registry


@functools.lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The registry of this process, built once from the installed entry points."""
    return build_registry()
