"""Recurrent networks from ``torch.nn``: vanilla RNN (tanh), LSTM and GRU.

``lstm`` and ``gru`` take the gate-bias initialisation options of :mod:`longdep_bench.kernels.gate_init`
(``init=default|constant|chrono``, ``gate_bias``, ``chrono_tmax``); ``constant`` with +3 is the
default.

All three take the runtime option ``input=onehot|lookup`` for tasks with symbol inputs. ``onehot``
(the default) feeds the one-hot vectors to the torch.nn module. ``lookup`` computes the input
products ``x W_ih^T`` as an embedding lookup into ``W_ih^T`` (a one-hot product picks one row of
it, exactly) and feeds them to a module whose input weights are a frozen identity: the same
function, parameters (``W_ih`` keeps its initial values) and trainable-parameter count, while a
step costs the gates' width instead of the vocabulary's per input (long lag with q = p = 1000:
``tests/benchmarks/test_symbol_input_speed.py``: 6.8x faster for the LSTM, 2.4x for the GRU on a CPU).
Results differ from ``onehot`` by float rounding in the input-weight gradient (sums in another
order), as a different kernel's would.

``rnn`` and ``gru`` take the runtime option ``kernel=auto|torch|numba|triton``: ``torch`` runs the
torch.nn module (cuDNN on CUDA, ATen on the CPU), ``numba`` the same network's time loop in compiled
code on the CPU (see ``kernels.numba.cells``; training steps of ``gru`` 2.7-3.6x faster than ``nn.GRU`` on
one CPU thread at batch 32 and hidden 32, level at batch 128 and hidden 128,
``reports/speed-cpu.md``), ``triton`` the whole time loop in one Triton kernel forward and one
backward (see ``kernels.triton.cells``; CUDA, or CPU tensors under ``TRITON_INTERPRET=1``; a graphed
training step took 1.6-5.2x cuDNN's time for ``gru`` and 1.3-3.5x for ``rnn`` on an H100 at B16 H64
to B128 H512, ``reports/gpu-h100-run2/speed.md``, so ``auto`` never picks it; ``precision`` as for
``fused-lstm``, and so is ``launch=sequence|step``), ``auto`` (the
default) numba on the CPU and torch elsewhere. The parameters are torch.nn's in all; the kernels
differ by float rounding. The record's ``runtime.kernel`` says which ran. With the numba and
Triton kernels symbol inputs always enter by lookup (``input`` only changes which tensor holds the
input weights).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from longdep_bench import (
    ArchitectureSpec,
    ModelIO,
    Param,
    SequenceModel,
    encode_inputs,
    hookimpl,
    project_time_major,
)
from longdep_bench.kernels.devices import check_kernel_device, use_numba
from longdep_bench.kernels.gate_init import INIT_OPTIONS, apply_gate_init
from longdep_bench.kernels.triton import cells as triton_cells
from longdep_bench.kernels.numba.cells import GRU_CELL, RNN_CELL, Cell, cell_recurrence

# Gate order in torch.nn: LSTM (i, f, g, o); GRU (r, z, n), where z = 1 keeps the state.
LSTM_INPUT_GATE, LSTM_FORGET_GATE, GRU_UPDATE_GATE = 0, 1, 1
INPUT_OPTION = Param("input", str, "onehot", "symbol inputs as one-hot vectors, or as an embedding lookup into "
                     "the input weights (same function; cheaper for large vocabularies)",
                     choices=("onehot", "lookup"), runtime=True)


KERNEL_OPTION = Param("kernel", str, "auto", "how the time loop runs: torch (the torch.nn module: cuDNN on CUDA), "
                      "numba (compiled, CPU only), triton (one kernel per sequence, CUDA), or auto (numba on the "
                      "CPU, torch elsewhere)", choices=("auto", "torch", "numba", "triton"), runtime=True)


class TorchRNN(nn.Module):
    """A torch.nn recurrent module fed raw inputs (token ids or features), returning (B, T, hidden).

    ``lookup``: for token ids, ``x W_ih^T`` by embedding lookup (``project_time_major``) into a
    trainable copy of ``W_ih^T``, then the module with identity input weights (frozen); ids >= the
    vocabulary (padding) give zero inputs. Otherwise the ids are one-hot encoded. ``cell`` (the
    module's numba cell, or None) and ``kernel`` choose the numba time loop on CPU tensors, or the
    Triton kernels of the cell of the same name (``precision``: of their recurrent products).
    """

    def __init__(self, rnn: nn.RNNBase, io: ModelIO, lookup: bool, cell: Cell | None = None, kernel: str = "torch",
                 precision: str = "tf32", launch: str = "sequence"):
        super().__init__()
        self.io, self.lookup, self.cell, self.kernel = io, lookup and bool(io.n_symbols), cell, kernel
        self.precision, self.launch = precision, launch
        self.ran = ""
        if not self.lookup:
            self.rnn = rnn
            return
        width = rnn.weight_ih_l0.shape[0]
        self.weight_ih = nn.Parameter(rnn.weight_ih_l0.detach().clone())
        extra = {"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}
        with torch.random.fork_rng(devices=[]):  # its initial values are overwritten: draw nothing
            self.rnn = type(rnn)(width, rnn.hidden_size, **extra)  # time-major, as the projections
        with torch.no_grad():
            for name in ("weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
                getattr(self.rnn, name).copy_(getattr(rnn, name))
            self.rnn.weight_ih_l0.copy_(torch.eye(width))
        self.rnn.weight_ih_l0.requires_grad_(False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        weight_ih = self.weight_ih if self.lookup else self.rnn.weight_ih_l0
        if self.cell is not None and self.kernel == "triton":  # auto does not pick it
            projected = project_time_major(inputs, weight_ih, self.rnn.bias_ih_l0)
            triton_cells.require(self.rnn.hidden_size, projected)
            hs, _ = triton_cells.cell_states(triton_cells.CELLS[self.cell.name], projected, self.rnn.weight_hh_l0,
                                             self.rnn.bias_hh_l0, self.precision, self.launch)
            self.ran = triton_cells.kernel_label(self.precision, self.launch)
            return hs.transpose(0, 1)
        if self.cell is not None and use_numba(self.kernel, inputs):
            self.ran = "numba"
            projected = project_time_major(inputs, weight_ih, self.rnn.bias_ih_l0)
            states = cell_recurrence(self.cell, projected, self.rnn.weight_hh_l0, self.rnn.bias_hh_l0)
            return states[..., :self.rnn.hidden_size].transpose(0, 1)
        self.ran = "torch"
        if self.lookup:
            return self.rnn(project_time_major(inputs, weight_ih))[0].transpose(0, 1)  # b_ih stays in the module
        return self.rnn(encode_inputs(inputs, self.io))[0]

    def runtime_info(self) -> dict[str, str]:
        """The input path, and the kernel that ran where there is a choice."""
        info = {"input": "lookup"} if self.lookup else {}
        return info | ({"kernel": self.ran} if self.cell is not None else {})


def _builder(rnn_class: type, memory_gate: int | None, input_gate: int | None, cell: Cell | None = None):
    """A build function for a torch.nn recurrent class; ``memory_gate`` is the gate ``init`` sets."""

    def build(io: ModelIO, hidden: int, options: Mapping[str, Any]) -> nn.Module:
        rnn = rnn_class(io.input_size, hidden, batch_first=True)
        if memory_gate is not None:
            apply_gate_init(rnn, options, io.max_length, memory_gate, input_gate)
        core = TorchRNN(rnn, io, options["input"] == "lookup", cell, options.get("kernel", "torch"),
                        options.get("precision", "tf32"), options.get("launch", "sequence"))
        return SequenceModel(core, io, hidden, encode=False)

    return build


RNN = ArchitectureSpec(
    name="rnn",
    description="Vanilla RNN with tanh (torch.nn.RNN; a numba time loop on the CPU), trained with full BPTT",
    build=_builder(nn.RNN, None, None, RNN_CELL),
    options=(INPUT_OPTION, KERNEL_OPTION, triton_cells.PRECISION_OPTION, triton_cells.LAUNCH_OPTION),
    recommended={"lr": 1e-3},
    check_device=check_kernel_device,
    check=triton_cells.check_option,
)
LSTM = ArchitectureSpec(
    name="lstm",
    description="LSTM with forget gate (torch.nn.LSTM; cuDNN/oneDNN kernels); forget-gate bias +3",
    build=_builder(nn.LSTM, LSTM_FORGET_GATE, LSTM_INPUT_GATE),
    options=(*INIT_OPTIONS, INPUT_OPTION),
    recommended={"lr": 3e-3},
)
GRU = ArchitectureSpec(
    name="gru",
    description="GRU (torch.nn.GRU; a numba time loop on the CPU); update-gate bias +3",
    build=_builder(nn.GRU, GRU_UPDATE_GATE, None, GRU_CELL),
    options=(*INIT_OPTIONS, INPUT_OPTION, KERNEL_OPTION, triton_cells.PRECISION_OPTION, triton_cells.LAUNCH_OPTION),
    recommended={"lr": 3e-3},
    check_device=check_kernel_device,
    check=triton_cells.check_option,
)


@hookimpl
def register_architectures(register):
    """Register rnn, lstm and gru."""
    for spec in (RNN, LSTM, GRU):
        register(spec)
