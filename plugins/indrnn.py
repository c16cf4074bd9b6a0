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
the bound). No batch normalisation between layers. ReLU makes the recurrence nonlinear, so there
is no parallel scan: the time loop runs, by the runtime option ``kernel``, in numba (``numba``: one
compiled pass over time forward and one in reverse, CPU only; ``auto``, the default, picks it on the
CPU), in TorchScript (``script``, any device; what every run recorded before 0.4.0 ran, and
``auto`` on CUDA), or in Triton (``triton``: one launch each way, see ``kernels.triton.indrnn``; CUDA, or
the CPU under ``TRITON_INTERPRET=1``; not yet timed on a GPU, so ``auto`` does not pick it). The
record's ``runtime.kernel`` says which ran.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor, nn

from longdep_bench import ArchitectureSpec, ModelIO, Param, SequenceModel, hookimpl, script
from longdep_bench.kernels.triton import indrnn as indrnn_triton
from longdep_bench.kernels.triton import cells as triton_cells
from longdep_bench.kernels.devices import check_kernel_device, use_numba
from longdep_bench.kernels.numba import indrnn as indrnn_numba


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

    def __init__(self, input_size: int, hidden: int, max_length: int, last: bool, kernel: str = "auto"):
        super().__init__()
        self.kernel, self.ran = kernel, ""
        self.input = nn.Linear(input_size, hidden)
        self.u_max = 2.0 ** (1.0 / max_length)
        low = 2.0 ** (-10.0 / max_length) if last else 0.0
        self.u = nn.Parameter(torch.empty(hidden).uniform_(low, self.u_max))

    def forward(self, x: Tensor) -> Tensor:
        projected = self.input(x).transpose(0, 1)
        u = self.u.clamp(-self.u_max, self.u_max)
        if self.kernel == "triton":
            reason = indrnn_triton.usable(projected)
            if reason:
                raise ValueError(f"kernel=triton: {reason}")
            self.ran, h = "triton", indrnn_triton.triton_recurrence(projected, u)
        elif use_numba(self.kernel, projected):
            self.ran, h = "numba", indrnn_numba.recurrence(projected, u)
        else:
            self.ran, h = "script", SCRIPTED_RECURRENCE(projected, u)
        return h.transpose(0, 1)

    def runtime_info(self) -> dict[str, str]:
        """Which time loop the last forward pass ran."""
        return {"kernel": self.ran}


class IndRNNStack(nn.Sequential):
    """Stacked IndRNN layers."""

    def __init__(self, input_size: int, hidden: int, layers: int, max_length: int, kernel: str = "auto"):
        super().__init__(*(IndRNNLayer(input_size if i == 0 else hidden, hidden, max_length, i == layers - 1, kernel)
                           for i in range(layers)))


def build(io: ModelIO, hidden: int, options: Mapping[str, Any]) -> nn.Module:
    """Stacked IndRNN layers with the suite's readout."""
    stack = IndRNNStack(io.input_size, hidden, options["layers"], io.max_length, options["kernel"])
    return SequenceModel(stack, io, hidden)


INDRNN = ArchitectureSpec(
    name="indrnn",
    description="IndRNN (Li et al., CVPR 2018): element-wise ReLU recurrence, |u| <= 2^(1/T), stacked",
    build=build,
    options=(Param("layers", int, 2, "stacked IndRNN layers", min=1, max=64),
             Param("kernel", str, "auto", "the time loop: numba (compiled, CPU only), script (TorchScript, any "
                   "device), triton (one Triton kernel each way, CUDA), or auto (numba on the CPU, script elsewhere)",
                   choices=("auto", "numba", "script", "triton"), runtime=True)),
    recommended={"lr": 2e-4},
    check=triton_cells.check_installed,
    check_device=check_kernel_device,
)


@hookimpl
def register_architectures(register):
    """Register indrnn."""
    register(INDRNN)
