"""``indrnn``: the Independently Recurrent Neural Network (Li, Li, Cook, Zhu & Gao, CVPR 2018).

Each unit has one recurrent weight: ``h_t = relu(W x_t + u * h_{t-1} + b)`` (element-wise ``u``).
As the paper does for long sequences, the recurrent weights are constrained to
``|u| <= 2 ** (1 / T)`` (gamma = 2 for ReLU), with T the task's maximum length, so that a unit's
gradient can neither explode nor vanish faster than by a factor 2 over the whole sequence.
Layers are stacked (``layers``, default 2, as in the paper's adding-problem network).

Initialisation (our reading of the paper's adding-problem set-up): recurrent weights uniform in
[0, u_max] in every layer but the last, and in [2 ** (-10 / T), u_max] in the last, so that it
starts out keeping information over the whole sequence; input weights PyTorch's default.

Deviations: the paper clips ``u`` after every update; here the forward pass uses
``clamp(u, -u_max, u_max)``, which gives the same network values (a weight past the bound acts as
the bound). No batch normalisation between layers. The time loop is TorchScript (ReLU makes the
recurrence nonlinear, so there is no parallel scan).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor, nn

from longdep_bench import ArchitectureSpec, ModelIO, Param, SequenceModel, hookimpl, script


def indrnn_recurrence(projected: Tensor, u: Tensor) -> Tensor:
    """h_t = relu(projected_t + u * h_{t-1}) over time-major (T, B, H) projections."""
    h = torch.zeros_like(projected[0])
    outputs: list[Tensor] = []
    for step_input in projected.unbind(0):  # unbind: a cheap backward, unlike indexing per step
        h = torch.relu(step_input + u * h)
        outputs.append(h)
    return torch.stack(outputs)


SCRIPTED_RECURRENCE = script(indrnn_recurrence)


class IndRNNLayer(nn.Module):
    """One IndRNN layer: (B, T, input) to (B, T, hidden)."""

    def __init__(self, input_size: int, hidden: int, max_length: int, last: bool):
        super().__init__()
        self.input = nn.Linear(input_size, hidden)
        self.u_max = 2.0 ** (1.0 / max_length)
        low = 2.0 ** (-10.0 / max_length) if last else 0.0
        self.u = nn.Parameter(torch.empty(hidden).uniform_(low, self.u_max))

    def forward(self, x: Tensor) -> Tensor:
        projected = self.input(x).transpose(0, 1)
        u = self.u.clamp(-self.u_max, self.u_max)
        return SCRIPTED_RECURRENCE(projected, u).transpose(0, 1)


class IndRNNStack(nn.Sequential):
    """Stacked IndRNN layers."""

    def __init__(self, input_size: int, hidden: int, layers: int, max_length: int):
        super().__init__(*(IndRNNLayer(input_size if i == 0 else hidden, hidden, max_length, i == layers - 1)
                           for i in range(layers)))


def build(io: ModelIO, hidden: int, options: Mapping[str, Any]) -> nn.Module:
    """Stacked IndRNN layers with the suite's readout."""
    return SequenceModel(IndRNNStack(io.input_size, hidden, options["layers"], io.max_length), io, hidden)


INDRNN = ArchitectureSpec(
    name="indrnn",
    description="IndRNN (Li et al., CVPR 2018): element-wise ReLU recurrence, |u| <= 2^(1/T), stacked",
    build=build,
    options=(Param("layers", int, 2, "stacked IndRNN layers", min=1, max=64),),
    recommended={"lr": 2e-4},
)


@hookimpl
def register_architectures(register):
    """Register indrnn."""
    register(INDRNN)
