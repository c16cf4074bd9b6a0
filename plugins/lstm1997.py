"""``lstm1997``: the original LSTM of Hochreiter & Schmidhuber, Neural Computation 9(8), 1997.

What we follow from the paper:

- Memory cell blocks: ``block_size`` cells (default 2, as in Experiment 6a) share one input gate
  and one output gate. There is no forget gate: the cell state only accumulates,
  ``s_t = s_{t-1} + y_in * g(net_c)`` (the constant error carousel), and the cell output is
  ``y = y_out * h(s_t)``, with the paper's squashing functions ``g(x) = 4 sigmoid(x) - 2`` and
  ``h(x) = 2 sigmoid(x) - 1``.
- Cells and gates receive the input and the previous cell outputs; all weights are initialised
  uniformly in [-0.1, 0.1].
- Gate biases initialised negative block by block, -2, -4, -6, -8, then again -2, ... (the paper
  gives successive blocks increasingly negative input-gate biases; we apply the same schedule to
  the output gates, as the paper does in several experiments, and cycle after four blocks so that
  wide layers do not start with saturated gates).
- The paper's truncated gradient (``gradient=truncated``, the default): errors reaching the cells'
  and gates' net inputs are not propagated further back in time through the recurrent
  connections; they flow back only through the cell states. Here this is exact: the previous
  outputs enter the recurrent matmul detached from the graph.

What we cannot or do not follow: the paper computed that gradient online with an RTRL-like
forward recursion and plain gradient descent (learning rate 0.5 for 6a) and sigmoid outputs with
squared error; here the same truncated gradient comes from backpropagation through the sequence,
the optimiser is the suite's (Adam, gradient clipping) and the readout is the suite's linear
layer with cross-entropy, so that all architectures train alike. The paper's hidden layer for 6a
had 2 blocks of 2 cells (4 cells, 156 weights); ours has ``hidden`` cells.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor, nn

from longdep_bench import (
    ArchitectureSpec,
    ModelIO,
    Param,
    SequenceModel,
    hookimpl,
    project_time_major,
    script,
)
from longdep_bench.kernels.devices import check_kernel_device, use_numba
from longdep_bench.kernels.numba.lstm1997 import NumbaRecurrence

INIT_RANGE = 0.1
BIAS_SCHEDULE = (-2.0, -4.0, -6.0, -8.0)


def lstm1997_recurrence(projected: Tensor, weight_rec: Tensor, block_size: int, truncated: bool) -> Tensor:
    """Run the 1997 LSTM over (T, B, H + 2 * blocks) projections; return the cell outputs (T, B, H)."""
    hidden = weight_rec.size(1)
    blocks = hidden // block_size
    y = projected.new_zeros(projected.size(1), hidden)
    s = projected.new_zeros(projected.size(1), hidden)
    outputs: list[Tensor] = []
    # unbind, not projected[step]: the backward of indexing would materialise a full-size
    # gradient for every step (quadratic in the length); unbind's backward stacks once.
    for step_input in projected.unbind(0):
        previous = y.detach() if truncated else y
        net = torch.addmm(step_input, previous, weight_rec.t())
        net_cell, net_in, net_out = net.split([hidden, blocks, blocks], 1)
        y_in = torch.sigmoid(net_in).repeat_interleave(block_size, 1)
        y_out = torch.sigmoid(net_out).repeat_interleave(block_size, 1)
        s = s + y_in * (4.0 * torch.sigmoid(net_cell) - 2.0)
        y = y_out * (2.0 * torch.sigmoid(s) - 1.0)
        outputs.append(y)
    return torch.stack(outputs)


SCRIPTED_RECURRENCE = script(lstm1997_recurrence)


class LSTM1997(nn.Module):
    """A layer of 1997 memory cell blocks; ``forward(inputs)`` returns cell outputs (B, T, H).

    ``kernel``: ``script`` (the TorchScript loop), ``numba`` (compiled time loop, CPU only), or
    ``auto`` (numba on the CPU, script elsewhere).
    """

    def __init__(self, input_size: int, hidden: int, block_size: int, truncated: bool, kernel: str = "auto"):
        super().__init__()
        check(hidden, {"block_size": block_size})
        blocks = hidden // block_size
        width = hidden + 2 * blocks  # cell inputs, input gates, output gates
        self.block_size, self.truncated, self.kernel = block_size, truncated, kernel
        self.ran = ""
        self.weight_in = nn.Parameter(torch.empty(width, input_size).uniform_(-INIT_RANGE, INIT_RANGE))
        self.weight_rec = nn.Parameter(torch.empty(width, hidden).uniform_(-INIT_RANGE, INIT_RANGE))
        gate_bias = torch.tensor([BIAS_SCHEDULE[b % len(BIAS_SCHEDULE)] for b in range(blocks)])
        cell_bias = torch.empty(hidden).uniform_(-INIT_RANGE, INIT_RANGE)
        self.bias = nn.Parameter(torch.cat([cell_bias, gate_bias, gate_bias]))

    def forward(self, inputs: Tensor) -> Tensor:
        projected = project_time_major(inputs, self.weight_in, self.bias)
        if use_numba(self.kernel, projected):
            outputs = NumbaRecurrence.apply(projected, self.weight_rec, self.block_size, self.truncated)
            self.ran = "numba"
        else:
            outputs = SCRIPTED_RECURRENCE(projected, self.weight_rec, self.block_size, self.truncated)
            self.ran = "script"
        return outputs.transpose(0, 1)

    def runtime_info(self) -> dict[str, str]:
        """Which kernel the last forward pass ran."""
        return {"kernel": self.ran}


def check(hidden: int, options: Mapping[str, Any]) -> None:
    """Cells come in whole blocks."""
    if hidden % options["block_size"]:
        raise ValueError(f"hidden size {hidden} is not a multiple of block_size={options['block_size']}")


def build(io: ModelIO, hidden: int, options: Mapping[str, Any]) -> nn.Module:
    """1997 LSTM blocks fed with raw token ids or features, with a linear readout."""
    layer = LSTM1997(io.input_size, hidden, options["block_size"], options["gradient"] == "truncated",
                     options["kernel"])
    model = SequenceModel(layer, io, hidden, encode=False)
    with torch.no_grad():
        for parameter in model.head.parameters():
            parameter.uniform_(-INIT_RANGE, INIT_RANGE)
    return model


LSTM_1997 = ArchitectureSpec(
    name="lstm1997",
    description="Original LSTM (Hochreiter & Schmidhuber 1997): cell blocks, no forget gate, truncated gradient",
    build=build,
    options=(
        Param("block_size", int, 2, "memory cells per block (sharing input and output gates)", min=1, max=4096),
        Param("gradient", str, "truncated", "the paper's truncated gradient, or full BPTT",
              choices=("truncated", "full")),
        Param("kernel", str, "auto", "time loop: numba (CPU), TorchScript, or auto (numba on the CPU)",
              choices=("auto", "numba", "script"), runtime=True),
    ),
    recommended={"lr": 3e-3},
    check_device=check_kernel_device,
    check=check,
)


@hookimpl
def register_architectures(register):
    """Register lstm1997."""
    register(LSTM_1997)
