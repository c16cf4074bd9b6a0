"""Turning command-line choices into a validated list of run configurations."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from longdep_bench.api.params import parse_assignments, recorded, resolve_params
from longdep_bench.api.specs import ArchitectureSpec, TaskSpec
from longdep_bench.config.options import SweepOptions
from longdep_bench.config.run_config import RUN_SETTINGS, RUNTIME_SETTINGS, RunConfig
from longdep_bench.config.settings import BY_NAME, MAX_HIDDEN, MAX_RUNS, resolve
from longdep_bench.discovery.registry import Registry
from longdep_bench.system.environment import resolve_device
from longdep_bench.system.errors import BenchError


def parse_ref(text: str) -> tuple[str, dict[str, str]]:
    """'lstm:init=chrono,gate_bias=2' -> ('lstm', {'init': 'chrono', 'gate_bias': '2'})."""
    name, colon, rest = text.partition(":")
    assignments = [part for part in rest.split(",") if part.strip()]
    if colon and not assignments:
        raise BenchError(f"{text!r}: nothing after ':' (give NAME, or NAME:OPTION=VALUE,...)")
    return name.strip(), parse_assignments(assignments)


def task_variants(registry: Registry, text: str, params: Sequence[str], gaps: Sequence[int]
                  ) -> list[tuple[TaskSpec, dict[str, Any]]]:
    """The task named by ``text`` ('NAME[:K=V,...]') with its resolved parameters, one set per gap."""
    name, raw = parse_ref(text)
    task = registry.task(name)
    given = {**parse_assignments(params), **raw}
    if gaps and task.gap_param is None:
        raise BenchError(f"task {task.name!r} has no lag parameter, so --gap does not apply to it")
    if gaps and task.gap_param in given:
        raise BenchError(f"task {task.name!r}: give its lag either with --gap or with {task.gap_param}=, not both")
    variants = []
    lags: Sequence[int | None] = gaps or [None]
    for gap in lags:
        values = dict(given)
        if gap is not None and task.gap_param is not None:
            values[task.gap_param] = str(gap)
        resolved = resolve_params(task.params, values, f"task {task.name!r}")
        if task.check is not None:
            try:
                task.check(resolved)
            except ValueError as exc:
                raise BenchError(f"task {task.name!r}: {exc}") from None
        variants.append((task, resolved))
    return variants


MATCH_TOLERANCE = 0.10  # the Long Range Arena rule: parameter counts within 10%


def _count_params(arch: ArchitectureSpec, options: Mapping[str, Any], task: TaskSpec, params: Mapping[str, Any],
                  max_length: int, hidden: int) -> int:
    model = arch.build(task.model_io(params, max_length), hidden, options)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def matched_hidden(arch: ArchitectureSpec, options: Mapping[str, Any], task: TaskSpec,
                   params: Mapping[str, Any], budget: int) -> int:
    """The hidden size whose parameter count is closest to ``budget`` (within 10%, else BenchError)."""
    max_length = task.width(params)

    def allowed(hidden: int) -> bool:
        if arch.check is None:
            return True
        try:
            arch.check(hidden, options)
        except ValueError:
            return False
        return True

    sizes = [h for h in range(1, MAX_HIDDEN + 1) if allowed(h)]
    if not sizes:
        raise BenchError(f"architecture {arch.name!r}: no hidden size up to {MAX_HIDDEN} is valid")
    # the smallest size with at least `budget` parameters (counts grow with size): doubling first, so that
    # no model much larger than the one asked for is ever built, then bisection
    low, high = 0, 1
    while high < len(sizes) and _count_params(arch, options, task, params, max_length, sizes[high]) < budget:
        low, high = high, 2 * high
    high = min(high, len(sizes) - 1)
    while low < high:
        middle = (low + high) // 2
        if _count_params(arch, options, task, params, max_length, sizes[middle]) >= budget:
            high = middle
        else:
            low = middle + 1
    counts = {sizes[i]: _count_params(arch, options, task, params, max_length, sizes[i])
              for i in (low - 1, low) if i >= 0}
    best = min(counts, key=lambda h: (abs(counts[h] - budget), h))
    if abs(counts[best] - budget) > MATCH_TOLERANCE * budget:
        raise BenchError(f"architecture {arch.name!r} on {task.name!r}: cannot get within 10% of {budget:,} "
                         f"parameters (closest: {counts[best]:,} at hidden size {best})")
    return best


def runtime_names(arch: ArchitectureSpec) -> set[str]:
    """The architecture's runtime options (implementation choices, outside the run's id)."""
    return {p.name for p in arch.options if p.runtime}


def architecture_variant(registry: Registry, text: str, hidden: int | None, matching: bool
                         ) -> tuple[ArchitectureSpec, dict[str, Any], int]:
    """The architecture named by ``text`` ('NAME[:K=V,...]'), its resolved options (a preset's values
    under the options given) and its hidden size: the preset's, else ``hidden``, else the default."""
    name, raw = parse_ref(text)
    spec = registry.architecture(name)
    if spec.unavailable:
        raise BenchError(f"architecture {name!r} is unavailable here: {spec.unavailable}")
    owner = f"architecture {name!r}"
    chosen = resolve_params(spec.options, {"preset": raw["preset"]}, owner)["preset"] if "preset" in raw else ""
    preset = dict(spec.presets.get(chosen, {}))
    fixed = preset.pop("hidden", None)
    arch_options = resolve_params(spec.options, {**preset, **raw}, owner)
    if fixed is not None and (matching or hidden not in (None, fixed)):
        given = "--match-params" if matching else f"hidden size {hidden}"
        raise BenchError(f"{owner} with preset={chosen} has hidden size {fixed}; {given} contradicts it (leave it "
                         "out, or give the options without the preset)")
    size = fixed or hidden or BY_NAME["hidden"].fallback
    if spec.check is not None and not matching:
        try:
            spec.check(size, arch_options)
        except ValueError as exc:
            raise BenchError(f"{owner}: {exc}") from None
    return spec, arch_options, size


def plan(options: SweepOptions, registry: Registry) -> list[RunConfig]:
    """Every (task, parameters, seed, architecture) run the options ask for, validated up front."""
    matching = options.match_params is not None
    variants = [architecture_variant(registry, text, options.hidden, matching) for text in options.archs]
    archs = [(spec, arch_options) for spec, arch_options, _ in variants]
    tasks = [variant for text in options.tasks
             for variant in task_variants(registry, text, options.params, options.gaps)]
    planned = len(tasks) * options.seeds * len(archs)
    if planned > MAX_RUNS:
        raise BenchError(f"{planned:,} runs ({len(archs)} architectures x {len(tasks)} tasks and gaps x "
                         f"{options.seeds} "
                         f"seeds) are more than one sweep may plan ({MAX_RUNS:,}); split it")
    hidden: dict[tuple[int, int], int] = {}
    if options.match_params is not None:
        for (t, (task, params)), (a, (arch, arch_options)) in itertools.product(enumerate(tasks), enumerate(archs)):
            hidden[t, a] = matched_hidden(arch, arch_options, task, params, options.match_params)
    device = resolve_device(options.device)
    for arch, arch_options in archs:
        if arch.check_device is not None:
            try:
                arch.check_device(device, arch_options)
            except ValueError as exc:
                raise BenchError(f"architecture {arch.name!r} on {device}: {exc}") from None
    if options.cuda_graphs == "on":
        if device != "cuda":
            raise BenchError("--cuda-graphs on needs CUDA, and these runs train on the CPU (--device cuda, or "
                             "--cuda-graphs auto/off)")
        refusing = [arch.name for arch, _ in archs if not arch.cuda_graphs]
        if refusing:
            raise BenchError(f"--cuda-graphs on: {', '.join(refusing)} declare(s) that the training step must not be "
                             "captured (use --cuda-graphs auto to train them eagerly)")
    runtime = {s.name: getattr(options, s.name) for s in RUNTIME_SETTINGS} | {"device": device}
    given = {s.name: getattr(options, s.name) for s in RUN_SETTINGS} | runtime
    return [run_config(arch, arch_options, task, params, seed, options.master_seed, hidden.get((t, a), variants[a][2]),
                       given)
            for (t, (task, params)), seed, (a, (arch, arch_options)) in itertools.product(
                enumerate(tasks), range(options.seeds), enumerate(archs))]


def run_config(arch: ArchitectureSpec, options: Mapping[str, Any], task: TaskSpec, params: Mapping[str, Any],
               seed: int, master_seed: int, hidden: int, given: Mapping[str, Any]) -> RunConfig:
    """The one builder of a run's configuration: the architecture's options split into the experiment's
    and the runtime ones, options and parameters as records keep them, each run setting resolved (the
    value ``given``, else the architecture's recommendation, else the task's, else the fallback) and
    the runtime settings ``given`` (the rest at their defaults)."""
    runtime = runtime_names(arch)
    return RunConfig(
        arch=arch.name, task=task.name, task_revision=task.revision,
        arch_options=recorded(arch.options, {k: v for k, v in options.items() if k not in runtime}),
        arch_runtime={k: v for k, v in options.items() if k in runtime},
        params=recorded(task.params, params), seed=seed, master_seed=master_seed, hidden=hidden,
        **{s.name: resolve(s, given.get(s.name, s.default), arch.recommended, task) for s in RUN_SETTINGS},
        **{s.name: given[s.name] for s in RUNTIME_SETTINGS if s.name in given})


def plan_sweep(blocks: Sequence[SweepOptions], registry: Registry, source: str | None = None) -> list[RunConfig]:
    """Every run of a sweep's blocks, each once: a run that two blocks plan is one run, unless they ask
    for it with different runtime settings (a BenchError: one results file holds one of them). A
    block's error names ``source`` (the sweep file) and the block; at most MAX_RUNS runs."""
    configs: dict[str, RunConfig] = {}
    for number, options in enumerate(blocks, start=1):
        try:
            planned = plan(options, registry)
        except BenchError as exc:
            if source is None:
                raise
            raise type(exc)(f"{source} [[run]] #{number}: {exc}") from None
        if len(configs) + len(planned) > MAX_RUNS:
            raise BenchError(f"the sweep plans more than {MAX_RUNS:,} runs; split it")
        for config in planned:
            first = configs.setdefault(config.run_id(), config)
            if first.runtime() != config.runtime():
                one, other = _runtime_labels(first, config)
                raise BenchError(
                    f"{one} and {other} ask for the same runs (runtime settings and options, such as kernel, "
                    "change how a run executes, not what it computes, and not its id): one results file holds one "
                    "of them; run the other with another -o to compare")
    return list(configs.values())


def _runtime_labels(one: RunConfig, other: RunConfig) -> tuple[str, str]:
    """``arch:name=value,..`` for two run configs: the runtime settings in which they differ."""
    flat = [{**c.arch_runtime, **{k: v for k, v in c.runtime().items() if k != "arch_runtime"}} for c in (one, other)]
    differing = sorted(k for k in flat[0].keys() | flat[1].keys() if flat[0].get(k) != flat[1].get(k))
    first, second = (f"{c.arch}:" + ",".join(f"{k}={f.get(k)}" for k in differing) for c, f in zip((one, other), flat))
    return first, second
