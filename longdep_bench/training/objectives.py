"""Training losses, per-sequence correctness and errors, by output kind unless the task defines its own.

With ``output_units="sigmoid"`` (the 1997 paper's set-up) the model's outputs pass through a
logistic sigmoid and are trained on the squared error 1/2 sum_k (y_k - t_k)^2 against one-hot class
targets or the target value, whatever the task's own loss; correctness is then judged on the
sigmoid outputs (for classes the argmax, which the sigmoid does not change). Per-step tasks average
the asked steps' errors, or sum them (``step_loss="sum"``, the paper's: a weight's update is the sum
of every step's contribution).

``abs_error`` > 0 replaces the task's criterion by the paper's ABS(beta): a sequence is right when
every output unit is within beta of its target at every judged step. The judged steps are a
per-step task's asked steps (targets >= 0), or those of the batch's ``judged`` extra where the task
gives one (Experiment 2b trains on every step and judges only the last).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from longdep_bench.api.specs import Batch, OutputKind, TaskSpec

JUDGED = "judged"  # the extra that marks a per-step task's judged steps (N, T) where not all asked steps are


def judged_steps(batch: Batch) -> torch.Tensor:
    """(N, T) bool: the steps at which a per-step task's sequences are judged."""
    asked = batch.targets >= 0
    return asked & batch.extras[JUDGED] if JUDGED in batch.extras else asked


def _class_at_end_loss(outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
    return F.cross_entropy(outputs, batch.targets.long())


def _class_at_end_correct(outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
    return outputs.argmax(-1) == batch.targets


def _value_at_end_loss(outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
    return F.mse_loss(outputs.squeeze(-1), batch.targets.to(outputs.dtype))


def _per_step_loss(outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
    return F.cross_entropy(outputs.flatten(0, 1), batch.targets.long().flatten(), ignore_index=-1)


def _per_step_summed_loss(outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Cross-entropy summed over each sequence's asked steps, averaged over sequences."""
    total = F.cross_entropy(outputs.flatten(0, 1), batch.targets.long().flatten(), ignore_index=-1, reduction="sum")
    return total / outputs.shape[0]


def _per_step_correct(outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
    return ((outputs.argmax(-1) == batch.targets) | ~judged_steps(batch)).all(dim=1)


_DEFAULT_LOSS = {
    OutputKind.CLASS_AT_END: _class_at_end_loss,
    OutputKind.VALUE_AT_END: _value_at_end_loss,
    OutputKind.CLASS_PER_STEP: _per_step_loss,
}
_DEFAULT_CORRECT = {
    OutputKind.CLASS_AT_END: _class_at_end_correct,
    OutputKind.CLASS_PER_STEP: _per_step_correct,
}


def _target_units(units: torch.Tensor, batch: Batch, output: OutputKind) -> torch.Tensor:
    """The targets of the output units, shaped like them: one-hot classes, or the value."""
    if output is OutputKind.VALUE_AT_END:
        return batch.targets.to(units.dtype).view(units.shape)
    return F.one_hot(batch.targets.long().clamp(min=0), units.shape[-1]).to(units.dtype)


def _squared_error(outputs: torch.Tensor, batch: Batch, output: OutputKind, step_loss: str) -> torch.Tensor:
    """1/2 sum_k (sigmoid(o_k) - t_k)^2 per sequence (per asked step: averaged, or summed per
    sequence), averaged over sequences."""
    units = torch.sigmoid(outputs)
    per_output = 0.5 * ((units - _target_units(units, batch, output)) ** 2).sum(-1)
    if output is not OutputKind.CLASS_PER_STEP:
        return per_output.mean()
    asked = batch.targets >= 0
    return per_output[asked].sum() / outputs.shape[0] if step_loss == "sum" else per_output[asked].mean()


def _units(outputs: torch.Tensor, output_units: str) -> torch.Tensor:
    return torch.sigmoid(outputs) if output_units == "sigmoid" else outputs


@dataclass(frozen=True)
class Objective:
    """How a run trains and judges: ``loss(outputs, batch)`` (a scalar tensor), and per sequence
    ``correct`` (bool), ``error`` (the paper's E = sum_k (t_k - y_k)^2, summed over asked steps) and
    ``deviation`` (the absolute error of a value task's output, or the task's own measure)."""

    loss: Callable[[Any, Batch], torch.Tensor]
    correct: Callable[[Any, Batch], torch.Tensor]
    error: Callable[[Any, Batch], torch.Tensor]
    deviation: Callable[[Any, Batch], torch.Tensor]


def objective(task: TaskSpec, output_units: str = "linear", step_loss: str = "mean", abs_error: float = 0.0
              ) -> Objective:
    """The loss and the per-sequence judgements of a run of ``task`` with these settings."""
    output = task.output
    if output_units == "sigmoid":
        loss = lambda outputs, batch: _squared_error(outputs, batch, output, step_loss)  # noqa: E731
    elif output is OutputKind.CLASS_PER_STEP and step_loss == "sum" and task.loss is None:
        loss = _per_step_summed_loss
    else:
        loss = task.loss or _DEFAULT_LOSS[output]

    def deviation(outputs: Any, batch: Batch) -> torch.Tensor:
        units = _units(outputs, output_units)
        if task.deviation is not None:
            return task.deviation(units, batch)
        return (units.squeeze(-1) - batch.targets.to(units.dtype)).abs()

    def error(outputs: Any, batch: Batch) -> torch.Tensor:
        units = _units(outputs, output_units)
        squares = ((units - _target_units(units, batch, output)) ** 2).sum(-1)
        return squares if output is not OutputKind.CLASS_PER_STEP else (squares * (batch.targets >= 0)).sum(-1)

    def within(outputs: Any, batch: Batch) -> torch.Tensor:
        """ABS(beta): every output unit within ``abs_error`` of its target at every judged step."""
        if output is OutputKind.VALUE_AT_END:
            return deviation(outputs, batch) < abs_error
        units = _units(outputs, output_units)
        close = ((units - _target_units(units, batch, output)).abs() < abs_error).all(-1)
        return close if output is OutputKind.CLASS_AT_END else (close | ~judged_steps(batch)).all(-1)

    if abs_error > 0:
        correct: Callable[[Any, Batch], torch.Tensor] = within
    else:
        chosen = task.correct or _DEFAULT_CORRECT[output]
        correct = (lambda outputs, batch: chosen(torch.sigmoid(outputs), batch)) if output_units == "sigmoid" \
            else chosen  # noqa: E731
    return Objective(loss, correct, error, deviation)


def run_objective(task: TaskSpec, config: Any) -> Objective:
    """The objective of a run configuration (its output units, step loss and ABS criterion)."""
    return objective(task, config.output_units, config.step_loss, config.abs_error)
