"""``lru``: the Linear Recurrent Unit (Orvieto, Smith, Gu, Fernando, Gulcehre, Pascanu & De, "Resurrecting
Recurrent Neural Networks for Long Sequences", ICML 2023).

Each layer is a complex diagonal linear recurrence ``x_k = lambda * x_{k-1} + gamma * (B u_k)``,
read out as ``y_k = Re(C x_k) + D * u_k``, with the paper's choices:

- exponential parametrisation ``lambda = exp(-exp(nu_log) + i exp(theta_log))``, so |lambda| < 1;
- ring initialisation: |lambda| uniform on the ring [r_min, r_max] (in squared modulus, as the
  paper's code), phase uniform in [0, max_phase];
- normalisation ``gamma = sqrt(1 - |lambda|^2)``, a trained parameter initialised so;
- B and C complex Glorot-like, D real Gaussian;
- layers stacked as in the paper: ``x + GLU(GELU(LRU(LayerNorm(x))))``, after a linear encoder.

Training does not loop over time in Python: the recurrence runs as one compiled pass over time on
the CPU (``kernel=numba``) and as a doubling scan (log2 T steps) elsewhere (``kernel=torch``).
Deviations: LayerNorm instead of BatchNorm (BatchNorm would mix statistics across padding and
time, breaking causality with variable lengths); no dropout; ``layers`` (default 2) and the state
size (= hidden) are smaller than the paper's long-range-arena models.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from longdep_bench import ArchitectureSpec, ModelIO, Param, SequenceModel, hookimpl
from longdep_bench.kernels.triton import cells as triton_cells
from longdep_bench.kernels.devices import check_kernel_device
from longdep_bench.kernels.scans import KERNEL_OPTION, linear_scan


class LRULayer(nn.Module):
    """One linear recurrent unit: (B, T, H) real inputs to (B, T, H) real outputs."""

    def __init__(self, size: int, r_min: float, r_max: float, max_phase: float, kernel: str = "auto"):
        super().__init__()
        self.kernel, self.ran = kernel, ""
        u1, u2 = torch.rand(size), torch.rand(size)
        self.nu_log = nn.Parameter(torch.log(-0.5 * torch.log(u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2)))
        self.theta_log = nn.Parameter(torch.log(max_phase * u2))
        modulus = torch.exp(-torch.exp(self.nu_log.detach()))
        self.gamma_log = nn.Parameter(torch.log(torch.sqrt(1 - modulus ** 2)))
        self.B_re = nn.Parameter(torch.randn(size, size) / math.sqrt(2 * size))
        self.B_im = nn.Parameter(torch.randn(size, size) / math.sqrt(2 * size))
        self.C_re = nn.Parameter(torch.randn(size, size) / math.sqrt(size))
        self.C_im = nn.Parameter(torch.randn(size, size) / math.sqrt(size))
        self.D = nn.Parameter(torch.randn(size))

    def eigenvalues(self) -> Tensor:
        """lambda = exp(-exp(nu_log) + i exp(theta_log))."""
        return torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))

    def driven(self, u: Tensor) -> Tensor:
        """gamma * (B u_k) for every step: (B, T, N) complex."""
        weight = torch.complex(self.B_re, self.B_im) * torch.exp(self.gamma_log).unsqueeze(-1)
        return u.to(weight.dtype) @ weight.t()

    def read(self, x: Tensor, u: Tensor) -> Tensor:
        """y_k = Re(C x_k) + D * u_k."""
        return (x @ torch.complex(self.C_re, self.C_im).t()).real + self.D * u

    def forward(self, u: Tensor) -> Tensor:
        x, self.ran = linear_scan(self.eigenvalues(), self.driven(u), self.kernel)
        return self.read(x, u)

    def runtime_info(self) -> dict[str, str]:
        """Which kernel the last forward pass ran."""
        return {"kernel": self.ran}


class LRUStack(nn.Module):
    """Linear encoder, then ``layers`` residual blocks x + GLU(GELU(LRU(LayerNorm(x))))."""

    def __init__(self, input_size: int, hidden: int, options: Mapping[str, Any]):
        super().__init__()
        self.encoder = nn.Linear(input_size, hidden)
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(options["layers"]))
        self.units = nn.ModuleList(LRULayer(hidden, options["r_min"], options["r_max"], options["max_phase"],
                                            options["kernel"])
                                   for _ in range(options["layers"]))
        self.mixers = nn.ModuleList(nn.Linear(hidden, 2 * hidden) for _ in range(options["layers"]))

    def forward(self, x: Tensor) -> Tensor:
        x = self.encoder(x)
        for norm, unit, mixer in zip(self.norms, self.units, self.mixers):
            x = x + nn.functional.glu(mixer(nn.functional.gelu(unit(norm(x)))), dim=-1)
        return x


def check(hidden: int, options: Mapping[str, Any]) -> None:
    """The ring must be a ring: 0 <= r_min < r_max < 1; ``kernel=triton`` needs Triton."""
    if not options["r_min"] < options["r_max"]:
        raise ValueError(f"r_min ({options['r_min']}) must be below r_max ({options['r_max']})")
    triton_cells.check_installed(hidden, options)


def build(io: ModelIO, hidden: int, options: Mapping[str, Any]) -> nn.Module:
    """A stack of LRU blocks with the suite's readout at each sequence's last step."""
    return SequenceModel(LRUStack(io.input_size, hidden, options), io, hidden)


LRU = ArchitectureSpec(
    name="lru",
    description="Linear Recurrent Unit (Orvieto et al., ICML 2023): complex diagonal, ring init, parallel scan",
    build=build,
    options=(
        Param("layers", int, 2, "stacked LRU blocks", min=1, max=64),
        Param("r_min", float, 0.9, "inner radius of the eigenvalue ring", min=0.0, max=0.999999),
        Param("r_max", float, 0.999, "outer radius of the eigenvalue ring", min=0.0, max=0.999999),
        Param("max_phase", float, 2 * math.pi, "largest initial eigenvalue phase", min=0.0, max=2 * math.pi),
        KERNEL_OPTION,
    ),
    recommended={"lr": 1e-3},
    check_device=check_kernel_device,
    check=check,
)


@hookimpl
def register_architectures(register):
    """Register lru."""
    register(LRU)
