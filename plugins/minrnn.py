"""``mingru`` and ``minlstm``: Feng, Tung, Ahmed, Bengio & Hajimirsadeghi, "Were RNNs All We Needed?" (2024).

Gates depend only on the current input, so a layer is the linear recurrence
``h_t = a_t * h_{t-1} + b_t`` and trains with a parallel scan instead of a loop over time:

- minGRU: ``z_t = sigmoid(W_z x_t)``, ``h~_t = g(W_h x_t)``, ``h_t = (1 - z_t) h_{t-1} + z_t h~_t``;
- minLSTM: ``f_t = sigmoid(W_f x_t)``, ``i_t = sigmoid(W_i x_t)``, normalised
  ``f'_t = f_t / (f_t + i_t)``, ``i'_t = i_t / (f_t + i_t)``, ``h_t = f'_t h_{t-1} + i'_t h~_t``;

with ``g(x) = x + 0.5`` for x >= 0 and ``sigmoid(x)`` otherwise, which keeps h~ positive so that
its logarithm exists. ``scan=log`` runs the paper's log-space scan (``logcumsumexp``);
``scan=doubling`` (the default) runs the same recurrence in linear space, which never divides and
is equally safe from overflow. How it runs is the runtime option ``kernel``: on the CPU by default
one compiled pass over time each way that computes the gates, the recurrence and their gradients
together (``numba``, see ``kernels.numba.minrnn``: a training step 2.2-5.0x faster than with the
doubling scan, ``reports/speed-cpu.md``), elsewhere the gates in tensor operations and the
doubling scan (``torch``, after which the value ``doubling`` is named; it predates the numba
kernels), or the Triton scan (``triton``). Layers are stacked (``layers``,
default 2): the first maps the input to the hidden size, later ones add their output to their
input (residual), as the paper stacks layers for its tasks. ``input=lookup`` feeds symbol ids to
the first layer, whose gate pre-activations are then an embedding lookup into its weights (as for
``lstm`` and ``gru``: the same function, cheaper for large vocabularies). Deviations: h_0 = 0 (not
a learned initial state); no normalisation, dropout or MLP between layers.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from longdep_bench import ArchitectureSpec, ModelIO, Param, SequenceModel, hookimpl, project_time_major
from longdep_bench.kernels.triton import cells as triton_cells
from longdep_bench.kernels.devices import check_kernel_device, use_numba
from longdep_bench.kernels.numba.minrnn import min_layer
from longdep_bench.kernels.scans import KERNEL_OPTION, linear_scan, log_space_scan
from longdep_bench_plugins.torch_rnns import INPUT_OPTION


def g(x: Tensor) -> Tensor:
    """g(x) = x + 0.5 for x >= 0, sigmoid(x) otherwise: positive and continuous."""
    return torch.where(x >= 0, F.relu(x) + 0.5, torch.sigmoid(x))


def log_g(x: Tensor) -> Tensor:
    """log g(x), computed without taking the logarithm of g."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


class MinLayer(nn.Module):
    """One minGRU or minLSTM layer: (B, T, input) to (B, T, hidden) through a linear-recurrence scan.

    ``scan='log'`` is the paper's log-space scan; ``scan='doubling'`` computes the same recurrence
    in linear space, by the kernel that ``kernel`` picks (see ``scans.linear_scan``).
    """

    def __init__(self, input_size: int, hidden: int, kind: str, scan: str = "doubling", kernel: str = "auto"):
        super().__init__()
        check(hidden, {"scan": scan, "kernel": kernel})
        self.kind, self.scan, self.kernel = kind, scan, kernel
        self.ran = ""
        self.gates = nn.Linear(input_size, (2 if kind == "gru" else 3) * hidden)

    def project(self, x: Tensor) -> Tensor:
        """The gates' pre-activations (B, T, G): from features (B, T, input) by the linear layer, from
        token ids (B, T) by an embedding lookup into its weights (the same values)."""
        if x.dtype.is_floating_point:
            return self.gates(x)
        return project_time_major(x, self.gates.weight, self.gates.bias).transpose(0, 1)

    def log_coefficients(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """log a_t and log b_t of the recurrence h_t = a_t h_{t-1} + b_t."""
        if self.kind == "gru":
            k, h = self.project(x).chunk(2, dim=-1)
            return -F.softplus(k), -F.softplus(-k) + log_g(h)  # log(1 - z), log z + log h~
        f, i, h = self.project(x).chunk(3, dim=-1)
        log_f, log_i = -F.softplus(-f), -F.softplus(-i)
        total = torch.logaddexp(log_f, log_i)
        return log_f - total, log_i - total + log_g(h)

    def coefficients(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """a_t and b_t of the recurrence h_t = a_t h_{t-1} + b_t."""
        if self.kind == "gru":
            k, h = self.project(x).chunk(2, dim=-1)
            z = torch.sigmoid(k)
            return 1 - z, z * g(h)
        f, i, h = self.project(x).chunk(3, dim=-1)
        f, i = torch.sigmoid(f), torch.sigmoid(i)
        return f / (f + i), i / (f + i) * g(h)

    def forward(self, x: Tensor) -> Tensor:
        if self.scan == "log":
            self.ran = "torch"
            return log_space_scan(*self.log_coefficients(x))
        if use_numba(self.kernel, x):
            self.ran = "numba"
            return min_layer(self.project(x), self.kind)
        h, self.ran = linear_scan(*self.coefficients(x), self.kernel)
        return h

    def runtime_info(self) -> dict[str, str]:
        """Which kernel the last forward pass ran."""
        return {"kernel": self.ran}


class MinStack(nn.Module):
    """Stacked min-RNN layers, residual from the second layer on."""

    def __init__(self, input_size: int, hidden: int, options: Mapping[str, Any], kind: str):
        super().__init__()
        self.layers = nn.ModuleList(
            MinLayer(input_size if i == 0 else hidden, hidden, kind, options["scan"], options["kernel"])
            for i in range(options["layers"]))

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x) if i == 0 else x + layer(x)
        return x


def _builder(kind: str):
    def build(io: ModelIO, hidden: int, options: Mapping[str, Any]) -> nn.Module:
        lookup = options["input"] == "lookup" and io.n_symbols
        return SequenceModel(MinStack(io.input_size, hidden, options, kind), io, hidden, encode=not lookup)

    return build


OPTIONS = (
    Param("layers", int, 2, "stacked layers (residual from the second on)", min=1, max=64),
    Param("scan", str, "doubling", "the recurrence in linear space (run as kernel says), or the paper's log-space scan",
          choices=("doubling", "log")),
    KERNEL_OPTION,
    INPUT_OPTION,
)


def check(hidden: int, options: Mapping[str, Any]) -> None:
    """The numba and Triton kernels run the linear-space scan only, Triton where it is installed."""
    if options["scan"] == "log" and options["kernel"] in ("numba", "triton"):
        raise ValueError(f"kernel={options['kernel']} runs the linear-space scan (scan=doubling), not scan=log")
    triton_cells.check_installed(hidden, options)


MIN_GRU = ArchitectureSpec(
    name="mingru",
    description="minGRU (Feng et al. 2024, 'Were RNNs All We Needed?'): input-only gates, linear-recurrence scan",
    build=_builder("gru"),
    options=OPTIONS,
    recommended={"lr": 3e-3},
    check=check,
    check_device=check_kernel_device,
)
MIN_LSTM = ArchitectureSpec(
    name="minlstm",
    description="minLSTM (Feng et al. 2024): normalised input-only forget/input gates, linear-recurrence scan",
    build=_builder("lstm"),
    options=OPTIONS,
    recommended={"lr": 3e-3},
    check=check,
    check_device=check_kernel_device,
)


@hookimpl
def register_architectures(register):
    """Register mingru and minlstm."""
    register(MIN_GRU)
    register(MIN_LSTM)
