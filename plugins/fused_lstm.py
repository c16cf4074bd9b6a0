"""``fused-lstm``: an LSTM with ``nn.LSTM``'s maths and parameters, whose time loop is either a
Triton kernel (the whole sequence in one launch forward and one backward; see ``kernels.triton.cells``) or a
TorchScript loop in the style of PyTorch's ``benchmarks/fastrnns``.

``kernel=auto`` (the default) runs the Triton kernels on CUDA when Triton is importable (up to
``triton_cells.AUTO_UP_TO`` hidden units: above, the loop was faster on an H100), the numba
kernels of ``kernels.numba.cells`` on the CPU (the whole time loop compiled, forward and backward) and the
TorchScript loop otherwise; ``kernel=triton`` asks for Triton (an error with the reason where it
cannot run: Triton not installed, or CPU tensors without ``TRITON_INTERPRET=1``); ``kernel=numba``
for numba (CPU only); ``kernel=script`` the loop. ``precision=tf32|tf32x3|ieee`` sets the Triton
kernels' recurrent products (default tf32, as PyTorch's cuDNN RNNs use on Ampere and Hopper). Both
are runtime options: not part of a run's id; the record's ``runtime.kernel`` says which kernel ran.

The TorchScript loop:

The input projection of all time steps is computed once before the loop (for token inputs it is
an embedding lookup into the transposed input weights), the loop does one recurrent matmul per
step, and the gate nonlinearities and state update are plain element-wise TorchScript, which the
TorchScript fuser can fuse into one kernel on CUDA. Parameters have ``nn.LSTM``'s names, shapes
and gate order (i, f, g, o), so ``load_state_dict`` copies weights both ways.

On a CPU wheel without LLVM (such as torch 2.13.0+cpu) TorchScript cannot fuse, and this LSTM is
several times slower than ``nn.LSTM`` (oneDNN): see the README's speed table.

``torch.jit.script`` is deprecated in recent torch releases and warns; ``longdep_bench.script``
compiles the recurrence on its first call (not at import) and filters exactly that warning. If
scripting fails (a torch or Python without a working ``torch.jit``), the run ends as an error
with the reason; ``loop=eager`` runs the same code unscripted.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Tuple

import torch
from torch import Tensor, nn

from longdep_bench import (
    ArchitectureSpec,
    ModelIO,
    OutputsOnly,
    Param,
    SequenceModel,
    hookimpl,
    project_time_major,
    script,
)
from longdep_bench.kernels.devices import check_kernel_device, use_numba
from longdep_bench.kernels.triton import cells as triton_cells
from longdep_bench.kernels.numba.cells import LSTM_CELL, cell_recurrence
from longdep_bench.kernels.gate_init import INIT_OPTIONS, apply_gate_init

INPUT_GATE, FORGET_GATE = 0, 1


def lstm_recurrence(projected: Tensor, weight_hh: Tensor, h: Tensor, c: Tensor) -> Tuple[Tensor, Tensor]:
    """Run the LSTM over time-major input projections (T, B, 4H); return all h and c, (T, B, H)."""
    recurrent = weight_hh.t()
    hs: list[Tensor] = []
    cs: list[Tensor] = []
    # unbind, not projected[step]: the backward of indexing would materialise a full-size
    # gradient for every step (quadratic in the length); unbind's backward stacks once.
    for step_input in projected.unbind(0):
        gates = torch.addmm(step_input, h, recurrent)
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        hs.append(h)
        cs.append(c)
    return torch.stack(hs), torch.stack(cs)


SCRIPTED_RECURRENCE = script(lstm_recurrence)


class FusedLSTM(nn.Module):
    """A single-layer, batch-first LSTM with ``nn.LSTM``'s parameters and a scripted time loop.

    ``forward(inputs, lengths=None)`` accepts float inputs (B, T, input_size) or integer token
    ids (B, T), where ids >= input_size (padding) act as all-zero one-hot vectors. It returns
    ``(outputs, (h_n, c_n))`` like ``nn.LSTM``; with ``lengths``, h_n and c_n are the states at
    each sequence's true last step (as with a packed sequence).
    """

    num_layers = 1

    def __init__(self, input_size: int, hidden_size: int, scripted: bool = True, kernel: str = "script",
                 precision: str = "tf32", launch: str = "sequence"):
        super().__init__()
        self.recurrence = SCRIPTED_RECURRENCE if scripted else lstm_recurrence
        self.loop = "script" if scripted else "eager"
        self.kernel, self.precision, self.launch = kernel, precision, launch
        self.ran = ""
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih_l0 = nn.Parameter(torch.empty(4 * hidden_size))
        self.bias_hh_l0 = nn.Parameter(torch.empty(4 * hidden_size))
        bound = 1.0 / math.sqrt(hidden_size)
        for parameter in self.parameters():  # nn.LSTM's initialisation
            nn.init.uniform_(parameter, -bound, bound)

    def runtime_info(self) -> dict[str, str]:
        """Which kernel the last forward pass ran."""
        return {"kernel": self.ran}

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        if use_numba(self.kernel, inputs):
            projected = project_time_major(inputs, self.weight_ih_l0, self.bias_ih_l0)
            hs, cs = cell_recurrence(LSTM_CELL, projected, self.weight_hh_l0, self.bias_hh_l0).chunk(2, -1)
            self.ran = "numba"
            return self._outputs(hs, cs, lengths)
        projected = project_time_major(inputs, self.weight_ih_l0, self.bias_ih_l0 + self.bias_hh_l0)
        if triton_cells.use_triton(self.kernel, self.hidden_size, projected):
            hs, cs = triton_cells.cell_states(triton_cells.LSTM_CELL, projected, self.weight_hh_l0, None,
                                              self.precision, self.launch)
            self.ran = triton_cells.kernel_label(self.precision, self.launch)
        else:
            zeros = projected.new_zeros(projected.shape[1], self.hidden_size)
            hs, cs = self.recurrence(projected, self.weight_hh_l0, zeros, zeros)
            self.ran = self.loop
        return self._outputs(hs, cs, lengths)

    @staticmethod
    def _outputs(hs: Tensor, cs: Tensor, lengths: Tensor | None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Batch-first outputs and the final states from time-major h and c (T, B, H)."""
        last = (lengths.to(torch.long) - 1) if lengths is not None else torch.full(
            (hs.shape[1],), hs.shape[0] - 1, dtype=torch.long, device=hs.device)
        batch = torch.arange(hs.shape[1], device=hs.device)
        final = (hs[last, batch].unsqueeze(0), cs[last, batch].unsqueeze(0))
        return hs.transpose(0, 1), final


def build(io: ModelIO, hidden: int, options: Mapping[str, Any]) -> nn.Module:
    """A fused LSTM fed with raw token ids (embedding lookup) or features, with a linear readout."""
    lstm = FusedLSTM(io.input_size, hidden, scripted=options["loop"] == "script", kernel=options["kernel"],
                     precision=options["precision"], launch=options["launch"])
    apply_gate_init(lstm, options, io.max_length, FORGET_GATE, INPUT_GATE)
    return SequenceModel(OutputsOnly(lstm), io, hidden, encode=False)


FUSED_LSTM = ArchitectureSpec(
    name="fused-lstm",
    description="LSTM with nn.LSTM's maths: Triton kernels (one launch per sequence), a numba loop (CPU) "
                "or TorchScript",
    build=build,
    options=INIT_OPTIONS + (
        Param("loop", str, "script", "time loop in TorchScript, or the same code in eager Python (a baseline)",
              choices=("script", "eager")),
        Param("kernel", str, "auto", "Triton kernels (the whole sequence per launch), numba kernels (the whole "
              "sequence per call, CPU), the time loop of 'loop', or auto: Triton on CUDA when importable (up to "
              f"{triton_cells.AUTO_UP_TO} hidden units, the loop above), numba on the CPU"
              + (f" [triton unavailable here: {triton_cells.UNAVAILABLE}]" if triton_cells.UNAVAILABLE else ""),
              choices=("auto", "triton", "numba", "script"), runtime=True),
        triton_cells.PRECISION_OPTION,
        triton_cells.LAUNCH_OPTION,
    ),
    recommended={"lr": 3e-3},
    check_device=check_kernel_device,
    check=triton_cells.check_option,
)


@hookimpl
def register_architectures(register):
    """Register fused-lstm."""
    register(FUSED_LSTM)
