"""One training step on fresh data: the unit that training runs and speed benchmarks both time."""

from __future__ import annotations

from typing import Any, Mapping

import torch

from longdep_bench.config import RunConfig
from longdep_bench.objectives import loss_function
from longdep_bench.specs import ArchitectureSpec, Batch, TaskSpec


class TrainingStep:
    """Generate sequences, then forward, loss, backward, gradient-norm clipping and an Adam update."""

    def __init__(self, model: torch.nn.Module, task: TaskSpec, params: Mapping[str, Any], data_seed: int,
                 device: torch.device, lr: float, clip: float):
        self.model = model
        self.task = task
        self.params = params
        self.data_seed = data_seed
        self.device = device
        self.clip = clip
        self.loss = loss_function(task)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def __call__(self, start: int, n: int) -> tuple[Batch, torch.Tensor, torch.Tensor]:
        """Train on sequences ``start .. start + n - 1`` of the data stream; return the batch and
        the (detached) loss and outputs. Nothing here waits for the device."""
        batch = self.task.generate(self.params, n, self.data_seed, start).to_torch(self.device)
        self.optimizer.zero_grad(set_to_none=True)
        outputs = self.model(batch.inputs, batch.lengths)
        loss = self.loss(outputs, batch)
        loss.backward()
        if self.clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.optimizer.step()
        return batch, loss.detach(), outputs.detach()


def prepare_step(config: RunConfig, task: TaskSpec, arch: ArchitectureSpec, seeds: Mapping[str, int],
                 device: torch.device, max_length: int) -> TrainingStep:
    """Build the configuration's model (seeded with its init seed) on ``device`` and its training step."""
    torch.manual_seed(seeds["init"])
    model = arch.build(task.model_io(config.params, max_length), config.hidden, config.arch_options).to(device)
    model.train()
    return TrainingStep(model, task, config.params, seeds["data"], device, config.lr, config.clip)
