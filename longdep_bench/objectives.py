"""Training losses and per-sequence correctness, by output kind unless the task defines its own."""

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


def loss_function(task: TaskSpec) -> Callable[[Any, Batch], torch.Tensor]:
    """The task's training loss: its own, or cross-entropy / mean squared error by output kind."""
    return task.loss or _DEFAULT_LOSS[task.output]


def correct_function(task: TaskSpec) -> Callable[[Any, Batch], torch.Tensor]:
    """The task's per-sequence correctness: its own, or argmax equality by output kind."""
    return task.correct or _DEFAULT_CORRECT[task.output]
