"""What a plugin declares about its specs, checked when they are registered.

A task declares its success threshold, the accuracy and loss of its trivial baseline (``chance``,
``baseline_loss``), its symbols and classes; an architecture its recommended settings and presets.
These are checked for range and form when registered, and a task's baseline against a probe batch
of its own data when the task is first used (by ``run``, ``generate``, ``check``, and for every task
by ``plugins``; ``PROBE`` sequences at its default parameters, a fixed seed): guessing cannot be right more often
than the most frequent class (or, for a value task, than predicting the mean target), and the
baseline's loss cannot exceed the loss of the best constant prediction (the class frequencies'
entropy, the targets' variance). A spec with a problem is unusable, like a name two plugins
register: each problem is one line naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np

from longdep_bench.api.specs import ArchitectureSpec, OutputKind, TaskSpec
from longdep_bench.config.settings import BY_NAME, recommendable
from longdep_bench.system.errors import BenchError

PROBE = 512  # sequences of the probe batch
PROBE_SEED = 1997
SLACK = 0.05  # declared figures may exceed the probe's by this much (plus 3 standard errors for rates)


def _names(what: str, names: Any) -> str | None:
    """Why a tuple of names is malformed, or None."""
    if not isinstance(names, tuple) or not names:
        return f"{what} must be a non-empty tuple of strings, got {type(names).__name__}"
    if not all(isinstance(n, str) and n for n in names):
        return f"{what} must be non-empty strings"
    if len(set(names)) != len(names):
        return f"{what} repeat a name"
    return None


def _resolved(what: str, value: Any, params: Mapping[str, Any]) -> tuple[Any, str | None]:
    """A declaration that may be a function of the parameters, at ``params``."""
    if not callable(value):
        return value, None
    try:
        return tuple(value(params)), None
    except Exception as exc:  # a plugin's function: one line, not a traceback
        return None, f"{what}(params) raised {type(exc).__name__}: {exc}"


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def _probe(task: TaskSpec, params: Mapping[str, Any]) -> list[str]:
    """The baseline's declared figures against what the generator produces (a batch that breaks its
    contract is left to the batch contract, which says what is wrong with it)."""
    from longdep_bench.discovery.contracts import ContractError, check_batch

    try:
        batch = task.generate(params, PROBE, PROBE_SEED, 0)
        check_batch(SimpleNamespace(spec=task, plugin="", distribution=""), params, batch, PROBE)
    except (Exception, ContractError):  # the task's use reports it, naming the place in its code
        return []
    targets = np.asarray(batch.targets)
    problems = []
    declared_loss = task.baseline_loss(params) if task.baseline_loss else None
    if task.output is OutputKind.VALUE_AT_END:
        values = targets.astype(np.float64)
        constant = float(values.mean())
        if declared_loss is not None and declared_loss > 1.1 * float(values.var()) + 1e-3:
            problems.append(f"baseline_loss {declared_loss:.4g} is above the squared error of predicting the mean "
                            f"target ({values.var():.4g} on generated data)")
        if task.correct is not None:
            import torch

            outputs = torch.full((len(values), 1), constant)
            try:
                rate = float(task.correct(outputs, batch.to_torch()).float().mean())
            except Exception as exc:
                return problems + [f"correct raised {type(exc).__name__}: {exc} on a probe batch"]
            if task.chance > rate + SLACK + 3 * math.sqrt(max(rate * (1 - rate), 1e-4) / PROBE):
                problems.append(f"chance {task.chance:.4g} is above the share of generated sequences that predicting "
                                f"the mean target gets right ({rate:.3g})")
        return problems
    classes = len(task.class_names(params))
    asked = targets[targets >= 0] if task.output is OutputKind.CLASS_PER_STEP else targets
    if asked.size == 0 or asked.min() < 0 or asked.max() >= classes:
        return problems  # the batch contract (contracts.check_batch) says what is wrong with the targets
    counts = np.bincount(asked.astype(np.int64), minlength=classes).astype(np.float64)
    if declared_loss is not None and declared_loss > _entropy(counts) + SLACK:
        problems.append(f"baseline_loss {declared_loss:.4g} is above the loss of the best constant prediction "
                        f"(the class frequencies' entropy, {_entropy(counts):.4g} on generated data)")
    if task.output is OutputKind.CLASS_AT_END:
        top = float(counts.max() / counts.sum())
        if task.chance > top + SLACK + 3 * math.sqrt(top * (1 - top) / PROBE):
            problems.append(f"chance {task.chance:.4g} is above the share of the most frequent class ({top:.3g} on "
                            "generated data), which guessing cannot beat")
    return problems


def task_problems(task: TaskSpec) -> list[str]:
    """Each problem of a task's declarations, one line each (empty: none); the probe of its data is
    :func:`probe_problems`."""
    params = {p.name: p.default for p in task.params}
    problems = [text for ok, text in (
        (0.0 < task.success_threshold <= 1.0, f"success_threshold {task.success_threshold!r} is not in (0, 1]"),
        (isinstance(task.chance, (int, float)) and 0.0 <= task.chance <= 1.0,
         f"chance {task.chance!r} is not in [0, 1]"),
    ) if not ok]
    symbols, problem = _resolved("symbols", task.symbols, params)
    problems += [problem] if problem else []
    if task.symbols and problem is None:
        problems += [p for p in [_names("symbols", symbols)] if p]
    classes, problem = _resolved("classes", task.classes, params)
    problems += [problem] if problem else []
    if task.output is not OutputKind.VALUE_AT_END and problem is None:
        problems += [p for p in [_names("classes", classes)] if p]
    if task.baseline_loss is not None:
        try:
            loss = task.baseline_loss(params)
            if not isinstance(loss, (int, float)) or not math.isfinite(loss) or loss < 0:
                problems.append(f"baseline_loss returned {loss!r}, not a finite number >= 0")
        except Exception as exc:
            problems.append(f"baseline_loss(params) raised {type(exc).__name__}: {exc}")
    return problems


def probe_problems(task: TaskSpec) -> list[str]:
    """Each problem of a task's baseline figures against a probe batch of its data (this generates
    data: compiled generators compile here, so it runs when a task is first used, not at start-up)."""
    return _probe(task, {p.name: p.default for p in task.params})


def architecture_problems(arch: ArchitectureSpec) -> list[str]:
    """Each problem of an architecture's declarations: recommended settings unknown or out of range, and
    presets out of range."""
    problems = []
    unknown = set(arch.recommended) - recommendable()
    if unknown:
        problems.append(f"cannot recommend {sorted(unknown)}; known: {sorted(recommendable())}")
    for name, value in arch.recommended.items():
        if name in unknown:
            continue
        try:
            BY_NAME[name].validate(value, f"recommended {name}")
        except BenchError as exc:
            problems.append(str(exc))
    options = {p.name: p for p in arch.options}
    for preset, values in arch.presets.items():
        for name, value in values.items():
            try:
                if name == "hidden":
                    BY_NAME["hidden"].validate(value, "hidden")
                else:
                    options[name].validate(value)
            except BenchError as exc:
                problems.append(f"preset {preset!r}: {exc}")
    return problems


CHECKS: Mapping[type, Callable[[Any], list[str]]] = {TaskSpec: task_problems, ArchitectureSpec: architecture_problems}


def problems(spec: Any) -> list[str]:
    """The problems of any spec's declarations (kinds without declarations to check have none)."""
    check = CHECKS.get(type(spec))
    return check(spec) if check else []
