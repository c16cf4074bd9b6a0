"""Contract checks of one architecture or task at small sizes: what ``longdep-bench check`` runs for a
plugin author in seconds, and what the suite's own tests run for every registered plugin.

Each check returns a :class:`Check` (passed, or the one-line reason it failed); nothing raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import torch

from longdep_bench.config.run_config import RunConfig, derive_seeds
from longdep_bench.discovery import contracts
from longdep_bench.discovery import declarations as declarations_of
from longdep_bench.discovery.registry import Registered
from longdep_bench.planning.plan import run_config
from longdep_bench.training.objectives import run_objective
from longdep_bench.training.steps import build_model, prepare_step

SMALL_HIDDEN = 16
SMALL_BATCH = 8
GRAPH_CHECK_STEPS = 6  # on CUDA: eager warm-up, capture, then replays, compared with as many eager steps


@dataclass(frozen=True)
class Check:
    """One check of one plugin: its name, and None when it passed or the reason it failed."""

    subject: str
    name: str
    failure: str | None

    @property
    def passed(self) -> bool:
        """Whether the check passed."""
        return self.failure is None


def _run(subject: str, name: str, function: Callable[[], Any]) -> Check:
    try:
        function()
    except contracts.PluginError as exc:
        return Check(subject, name, str(exc))
    except Exception as exc:  # a check must report, not raise
        return Check(subject, name, contracts.fault(exc))
    return Check(subject, name, None)


def default_params(entry: Registered) -> dict[str, Any]:
    """A task's parameters at their defaults."""
    return {p.name: p.default for p in entry.spec.params}


def check_task(entry: Registered, params: Mapping[str, Any] | None = None, seed: int = 3) -> list[Check]:
    """The task's generator and declarations against its contract, at its default parameters."""
    task, params = entry.spec, dict(params or default_params(entry))
    subject = f"task {task.name}"

    def declarations() -> None:
        problems = declarations_of.task_problems(task) or declarations_of.probe_problems(task)
        if problems:
            raise contracts.ContractError(f"{contracts.owner('task', entry)}: " + "; ".join(problems))

    def seeds_differ() -> None:
        a, b = (contracts.call_plugin("task", entry, task.generate, params, 64, s, 0) for s in (seed, seed + 1))
        if all(torch.equal(torch.as_tensor(x), torch.as_tensor(y)) for x, y in zip(a.arrays().values(),
                                                                                  b.arrays().values())):
            raise contracts.ContractError(f"{contracts.owner('task', entry)}: seeds {seed} and {seed + 1} give "
                                          "the same sequences")

    return [
        _run(subject, "declarations (threshold, chance and baseline loss against its data, symbols, classes)",
             declarations),
        _run(subject, "batch shapes, dtypes and ranges; pure; continues its stream",
             lambda: contracts.check_stream(entry, params, seed, 16)),
        _run(subject, "different seeds give different sequences", seeds_differ),
    ]


def small_config(arch: Registered, task: Registered, params: Mapping[str, Any], device: torch.device,
                 options: Mapping[str, Any] | None = None, hidden: int = SMALL_HIDDEN, **settings: Any) -> RunConfig:
    """A small run configuration of ``arch`` on ``task`` with its options (default ones where not given)."""
    options = {**{p.name: p.default for p in arch.spec.options}, **(options or {})}
    given = {"batch_size": SMALL_BATCH, **settings, "device": device.type}
    return run_config(arch.spec, options, task.spec, params, 0, 0, hidden, given)


def _losses_and_parameters(arch: Registered, task: Registered, config: RunConfig, steps: int
                           ) -> tuple[list[float], list[torch.Tensor]]:
    """Losses of ``steps`` training steps from the configuration's initial state, and the final parameters."""
    seeds = derive_seeds(config.master_seed, config.seed)
    width = task.spec.width(config.task_params(task.spec))
    step = prepare_step(config, task.spec, arch.spec, seeds, torch.device(config.device), width)
    model = step.model
    losses = []
    for index in range(steps):
        step(index * config.batch_size, config.batch_size)
        losses.append(step.take_window()[1])
    if config.cuda_graphs == "on" and not step.runtime()["graphed"]:
        raise contracts.ContractError(f"{contracts.owner('architecture', arch)}: its step was not captured "
                                      f"({step.runtime()['graph_fallback']})")
    return losses, [p.detach().clone() for p in model.parameters()]


def check_architecture(arch: Registered, task: Registered, device: torch.device,
                       params: Mapping[str, Any] | None = None, options: Mapping[str, Any] | None = None,
                       hidden: int | None = None) -> list[Check]:
    """The architecture's model (with ``options``) against its contract on a task, at hidden size 16
    (or the size a preset fixes), on a batch whose size differs from every dimension of the task."""
    params = dict(params or default_params(task))
    defaults = {p.name: p.default for p in arch.spec.options}
    shown = ",".join(f"{k}={v}" for k, v in (options or {}).items() if defaults.get(k) != v)
    subject = f"architecture {arch.spec.name}{f'[{shown}]' if shown else ''} on {task.spec.name}"
    config = small_config(arch, task, params, device, options, hidden or SMALL_HIDDEN, cuda_graphs="off")
    seeds = derive_seeds(0, 0)
    width = task.spec.width(params)
    io = task.spec.model_io(params, width)
    batch = task.spec.generate(params, contracts.probe_size(width, io), seeds["test"], 0)
    tensors = batch.to_torch(device)
    built: dict[str, torch.nn.Module] = {}

    def builds() -> None:
        if arch.spec.unavailable:
            raise contracts.PluginError(f"{contracts.owner('architecture', arch)} is unavailable here: "
                                        f"{arch.spec.unavailable}")
        built["model"] = contracts.call_plugin("architecture", arch, build_model, arch.spec, io, config,
                                               seeds["init"], device)
        again = build_model(arch.spec, io, config, seeds["init"], device)
        if not all(torch.equal(a, b) for a, b in zip(built["model"].parameters(), again.parameters())):
            raise contracts.ContractError(f"{contracts.owner('architecture', arch)}: two builds from the same seed "
                                          "differ (initialise with torch's generator only)")

    def outputs() -> None:
        with torch.no_grad():
            result = contracts.call_plugin("architecture", arch, built["model"], tensors.inputs, tensors.lengths)
        contracts.check_outputs(arch, result, io, len(batch), width)

    checks = [_run(subject, "builds, reproducibly from its seed", builds)]
    if not checks[0].passed:
        return checks
    loss = run_objective(task.spec, config).loss
    checks += [
        _run(subject, "output shape", outputs),
        _run(subject, "padding does not change outputs; readout at each sequence's last step",
             lambda: contracts.check_padding(arch, built["model"], tensors, io)),
        _run(subject, "every tensor it keeps is a parameter or a buffer",
             lambda: contracts.check_registered_state(arch, built["model"])),
        _run(subject, "one training step: a gradient for every parameter",
             lambda: contracts.check_gradients(arch, built["model"], tensors, loss)),
    ]
    if device.type == "cuda" and arch.spec.cuda_graphs:
        checks.append(_run(subject, f"{GRAPH_CHECK_STEPS} steps in a CUDA graph equal {GRAPH_CHECK_STEPS} eager steps",
                           lambda: graphed_equals_eager(arch, task, config)))
    return checks


def graphed_equals_eager(arch: Registered, task: Registered, config: RunConfig, tolerance: float = 1e-6) -> None:
    """K steps with the step captured in a CUDA graph give the losses and parameters of K eager steps
    (from the same initial state and data; within ``tolerance`` for kernels that are not deterministic)."""
    eager = _losses_and_parameters(arch, task, replace(config, cuda_graphs="off"), GRAPH_CHECK_STEPS)
    graphed = _losses_and_parameters(arch, task, replace(config, cuda_graphs="on"), GRAPH_CHECK_STEPS)
    worst = max([abs(a - b) / max(1.0, abs(a)) for a, b in zip(eager[0], graphed[0])] +
                [float(((a - b).abs() / a.abs().clamp(min=1.0)).max()) for a, b in zip(eager[1], graphed[1])])
    if worst > tolerance:
        raise contracts.ContractError(f"{contracts.owner('architecture', arch)}: graphed and eager steps differ by "
                                      f"{worst:.2e} (relative), more than {tolerance:g}; losses eager {eager[0]}, "
                                      f"graphed {graphed[0]}")
