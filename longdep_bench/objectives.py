"""Training losses and per-sequence correctness, by output kind unless the task defines its own.

With ``output_units="sigmoid"`` (the 1997 paper's set-up) the model's outputs pass through a
logistic sigmoid and are trained on the squared error 1/2 sum_k (y_k - t_k)^2 against one-hot class
targets or the target value, whatever the task's own loss; correctness is then judged on the
sigmoid outputs (for classes the argmax, which the sigmoid does not change).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

from longdep_bench.specs import Batch, OutputKind, TaskSpec


def _class_at_end_loss(outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
    return F.cross_entropy(outputs, batch.targets.long())


def _class_at_end_correct(outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
    return outputs.argmax(-1) == batch.targets


def _value_at_end_loss(outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
    return F.mse_loss(outputs.squeeze(-1), batch.targets.to(outputs.dtype))


def _per_step_loss(outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
    return F.cross_entropy(outputs.flatten(0, 1), batch.targets.long().flatten(), ignore_index=-1)


def _per_step_correct(outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
    asked = batch.targets >= 0
    return ((outputs.argmax(-1) == batch.targets) | ~asked).all(dim=1)


_DEFAULT_LOSS = {
    OutputKind.CLASS_AT_END: _class_at_end_loss,
    OutputKind.VALUE_AT_END: _value_at_end_loss,
    OutputKind.CLASS_PER_STEP: _per_step_loss,
}
_DEFAULT_CORRECT = {
    OutputKind.CLASS_AT_END: _class_at_end_correct,
    OutputKind.CLASS_PER_STEP: _per_step_correct,
}


def _squared_error(outputs: torch.Tensor, batch: Batch, output: OutputKind) -> torch.Tensor:
    """1/2 sum_k (sigmoid(o_k) - t_k)^2 per sequence (per asked step), averaged."""
    units = torch.sigmoid(outputs)
    if output is OutputKind.VALUE_AT_END:
        return 0.5 * ((units.squeeze(-1) - batch.targets.to(units.dtype)) ** 2).mean()
    asked = batch.targets >= 0
    targets = F.one_hot(batch.targets.long().clamp(min=0), units.shape[-1]).to(units.dtype)
    per_output = 0.5 * ((units - targets) ** 2).sum(-1)
    return per_output[asked].mean() if output is OutputKind.CLASS_PER_STEP else per_output.mean()


def loss_function(task: TaskSpec, output_units: str = "linear") -> Callable[[Any, Batch], torch.Tensor]:
    """The training loss: the task's own, or cross-entropy / mean squared error by output kind; with
    sigmoid output units, the paper's squared error."""
    if output_units == "sigmoid":
        return lambda outputs, batch: _squared_error(outputs, batch, task.output)
    return task.loss or _DEFAULT_LOSS[task.output]


def correct_function(task: TaskSpec, output_units: str = "linear") -> Callable[[Any, Batch], torch.Tensor]:
    """Per-sequence correctness: the task's own, or argmax equality by output kind; judged on the
    sigmoid outputs with sigmoid output units."""
    correct = task.correct or _DEFAULT_CORRECT[task.output]
    if output_units == "sigmoid":
        return lambda outputs, batch: correct(torch.sigmoid(outputs), batch)
    return correct
