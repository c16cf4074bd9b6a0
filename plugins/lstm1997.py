"""``lstm1997``: the original LSTM of Hochreiter & Schmidhuber, Neural Computation 9(8), 1997, and the
networks of its experiments.

The network, as in the paper's Appendix A.1:

- Memory cell blocks: ``block_size`` cells share one input gate and one output gate (``output_gate
  = false``: none, as in Experiments 2a and 2b). There is no forget gate: the cell state only
  accumulates, ``s_t = s_{t-1} + y_in g(net_c)`` (the constant error carousel), and the cell output
  is ``y = y_out h(s_t)``; ``g`` is ``4 sigmoid - 2`` (``g=scaled``, range [-2, 2]) or the logistic
  sigmoid (``g=logistic``, [0, 1]), ``h`` is ``2 sigmoid - 1`` (``h=scaled``, [-1, 1]) or the identity.
- ``connectivity``: ``F``, the paper's fully connected hidden layer (cells and gates receive the
  input units and the previous activations of every cell and gate unit; the output units receive
  the cells); ``B``, "each layer receives connections from all layers below" (Experiments 2a/2b:
  the hidden units receive the input only, the output units the input and the cells); ``cells``
  (longdep-bench 0.8's layout, the default): cells and gates receive the input and the previous
  cell outputs.
- ``bias``: which units have bias weights: ``all`` non-input units, ``hidden`` units only (the
  paper's "b1"), ``gates`` only ("ga"), ``none``. Cell biases and output weights start uniform in
  [-``init``, ``init``] like every weight; input- and output-gate biases start at ``in_bias`` and
  ``out_bias``, block by block (``-2/-4``: -2 for the first block, -4 for the second, repeating when
  there are more blocks), or ``random`` (uniform in [-``init``, ``init``]).
- Output units: the model returns the output units' net inputs; with ``--output-units sigmoid`` the
  suite makes them the paper's logistic units on the squared error.
- ``preset``: a row of the paper's Table 10, which sets every option above and the number of cells
  (so ``-a lstm1997:preset=6a`` without ``--hidden`` is the paper's 6a network, 156 weights with
  task6a); options given with it override it. ``PRESETS`` lists them with the paper's weight counts.
- The paper's truncated gradient (``gradient=truncated``, the default): errors reaching the cells'
  and gates' net inputs are not propagated further back in time through the recurrent
  connections; they flow back only through the cell states. Here this is exact: the fed-back
  activations enter the recurrent product detached from the graph.
- The paper's learning rule (``learning``, a runtime option): with plain SGD on one sequence per step,
  no clipping, sigmoid output units and the truncated gradient, ``auto`` (which every preset sets)
  trains in compiled code (``kernels.numba.lstm1997_online``: the forward recursion of Appendix A.1, one
  sequence after another, no autograd; weights equal the autograd path's to 1e-5 after 1,000
  sequences); ``autograd`` always backpropagates through the forward pass, ``compiled`` is an error
  where the protocol is not the paper's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch
from torch import Tensor, nn

from longdep_bench import (
    ArchitectureSpec,
    Batch,
    ModelIO,
    OnlineSetup,
    OutputKind,
    Param,
    hookimpl,
    last_step,
    project_time_major,
    script,
)
from longdep_bench.kernels.devices import check_kernel_device, use_numba
from longdep_bench.kernels.numba.lstm1997 import FEEDBACK, Layout, NumbaRecurrence, forward_kernel
from longdep_bench.kernels.numba.lstm1997_online import AT_END, PER_STEP, train_online

PAPER = "0.9"  # the release that added the paper's networks: options left out of run ids at their defaults


@dataclass(frozen=True)
class Preset:
    """A row of Table 10 (Hochreiter & Schmidhuber 1997): the network of one experiment, and the
    number of weights the paper gives for it (with the task the row is about)."""

    cells: int
    block_size: int
    connectivity: str
    bias: str
    in_bias: str
    out_bias: str
    init: float
    weights: int
    h: str = "scaled"
    g: str = "scaled"
    output_gate: bool = True

    def options(self) -> dict[str, Any]:
        """The option values the preset sets: the network, and the paper's learning rule in compiled
        code where the run's protocol is the paper's (``learning=auto``)."""
        return {"block_size": self.block_size, "connectivity": self.connectivity, "bias": self.bias,
                "in_bias": self.in_bias, "out_bias": self.out_bias, "init": self.init, "h": self.h, "g": self.g,
                "output_gate": self.output_gate, "learning": "auto"}


# Table 10, [read]; "r" (random in the initialisation range) is "random"; "none" where a gate has no bias.
PRESETS: Mapping[str, Preset] = {
    "reber-4x1": Preset(4, 1, "F", "gates", "random", "-1/-2/-3/-4", 0.2, 264),
    "reber-3x2": Preset(6, 2, "F", "gates", "random", "-1/-2/-3", 0.2, 276),
    "2a": Preset(1, 1, "B", "none", "random", "random", 0.2, 10504, h="identity", g="logistic", output_gate=False),
    "2b": Preset(1, 1, "B", "none", "random", "random", 0.2, 10504, h="identity", g="logistic", output_gate=False),
    "2c": Preset(2, 1, "F", "none", "random", "random", 0.2, 664),  # q = p = 100; 364 ... 6064 with p
    "3a": Preset(3, 1, "F", "hidden", "-1/-3/-5", "-2/-4/-6", 0.1, 102),
    "3b": Preset(3, 1, "F", "hidden", "-1/-3/-5", "-2/-4/-6", 0.1, 102),
    "3c": Preset(3, 1, "F", "hidden", "-1/-3/-5", "-2/-4/-6", 0.1, 102),
    "adding": Preset(4, 2, "F", "all", "-3/-6", "random", 0.1, 93),
    "multiplication": Preset(4, 2, "F", "all", "random", "random", 0.1, 93),
    "6a": Preset(4, 2, "F", "all", "-2/-4", "random", 0.1, 156),
    "6b": Preset(6, 2, "F", "all", "-2/-4/-6", "random", 0.1, 308),
}
BIAS_UNITS = {"all": (True, True, True), "hidden": (True, True, False), "gates": (False, True, False),
              "none": (False, False, False)}  # bias -> whether cells, gates and output units have bias weights
DEFAULT_GATE_BIAS = "-2/-4/-6/-8"  # 0.8's schedule for both gates


def lstm1997_recurrence(projected: Tensor, weight_rec: Tensor, cells: int, block_size: int, feedback: int,
                        output_gate: bool, h_identity: bool, g_logistic: bool, truncated: bool) -> Tensor:
    """Run the 1997 LSTM over (T, B, U) projections of the input (cells, input gates, output gates);
    return the cell outputs (T, B, C). ``feedback``: 0 nothing, 1 the cell outputs, 2 every unit's
    activation is fed back through ``weight_rec`` (U, R)."""
    blocks = cells // block_size
    batch = projected.size(1)
    s = projected.new_zeros(batch, cells)
    previous = projected.new_zeros(batch, weight_rec.size(1))
    outputs: list[Tensor] = []
    # unbind, not projected[step]: the backward of indexing would materialise a full-size
    # gradient for every step (quadratic in the length); unbind's backward stacks once.
    for step_input in projected.unbind(0):
        net = step_input
        if feedback > 0:
            net = torch.addmm(step_input, previous.detach() if truncated else previous, weight_rec.t())
        gates = torch.sigmoid(net[:, cells:])
        y_in = gates[:, :blocks].repeat_interleave(block_size, 1)
        squashed_input = torch.sigmoid(net[:, :cells]) if g_logistic else 4.0 * torch.sigmoid(net[:, :cells]) - 2.0
        s = s + y_in * squashed_input
        y = s if h_identity else 2.0 * torch.sigmoid(s) - 1.0
        if output_gate:
            y = gates[:, blocks:].repeat_interleave(block_size, 1) * y
        outputs.append(y)
        if feedback == 1:
            previous = y
        elif feedback == 2:
            previous = torch.cat([y, gates], 1)
    return torch.stack(outputs)


SCRIPTED_RECURRENCE = script(lstm1997_recurrence)


def gate_biases(text: str, blocks: int, init: float) -> Tensor:
    """Initial gate biases: 'random' (uniform in [-init, init]) or a '/'-separated list, cycled over blocks."""
    if text == "random":
        return torch.empty(blocks).uniform_(-init, init)
    values = [float(v) for v in text.split("/")]
    return torch.tensor([values[b % len(values)] for b in range(blocks)])


class LSTM1997(nn.Module):
    """A layer of 1997 memory cell blocks; ``forward(inputs)`` returns cell outputs (B, T, C).

    ``kernel``: ``script`` (the TorchScript loop), ``numba`` (compiled time loop, CPU only), or
    ``auto`` (numba on the CPU, script elsewhere).
    """

    def __init__(self, input_size: int, hidden: int, block_size: int, truncated: bool, kernel: str = "auto",
                 connectivity: str = "cells", bias: str = "all", in_bias: str = DEFAULT_GATE_BIAS,
                 out_bias: str = DEFAULT_GATE_BIAS, init: float = 0.1, h: str = "scaled", g: str = "scaled",
                 output_gate: bool = True):
        super().__init__()
        check(hidden, {"block_size": block_size})
        self.layout = Layout(hidden, block_size, FEEDBACK[connectivity], output_gate, h == "identity",
                             g == "logistic")
        self.truncated, self.kernel, self.ran = truncated, kernel, ""
        units, blocks = self.layout.units, self.layout.blocks
        self.weight_in = nn.Parameter(torch.empty(units, input_size).uniform_(-init, init))
        self.weight_rec = nn.Parameter(torch.empty(units, self.layout.recurrent).uniform_(-init, init))
        self.cell_bias, self.gate_bias, _ = BIAS_UNITS[bias]
        gates = [gate_biases(in_bias, blocks, init)] + ([gate_biases(out_bias, blocks, init)] if output_gate else [])
        # one parameter for the units that have bias weights (all hidden units: 0.8's layout)
        if self.cell_bias:
            self.bias = nn.Parameter(torch.cat([torch.empty(hidden).uniform_(-init, init), *gates]))
        elif self.gate_bias:
            self.bias = nn.Parameter(torch.cat(gates))
        else:
            self.bias = None

    def full_bias(self) -> Tensor | None:
        """The bias of every hidden unit (zero where a unit has no bias weight), or None for none."""
        if self.bias is None or self.cell_bias:
            return self.bias
        return torch.cat([self.bias.new_zeros(self.layout.cells), self.bias])

    def bias_mask(self) -> np.ndarray:
        """1.0 for each hidden unit that has a bias weight, else 0.0."""
        cells, units = self.layout.cells, self.layout.units
        return np.array([float(self.cell_bias)] * cells + [float(self.gate_bias)] * (units - cells))

    def trace(self, inputs: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """For diagnostics: the net inputs of every unit (T, B, units) and the cell states (T, B, cells)
        on ``inputs`` (B, T, features), computed by the compiled forward pass, no gradient."""
        projected = project_time_major(inputs, self.weight_in, self.full_bias()).detach().contiguous().numpy()
        steps, batch, units = projected.shape
        layout = self.layout
        net = np.empty((steps, batch, units), dtype=np.float32)
        states = np.empty((steps, batch, layout.cells), dtype=np.float32)
        forward_kernel(projected, self.weight_rec.detach().contiguous().numpy(), layout.codes(), net, states,
                       states.copy(), np.empty((steps, batch, layout.recurrent), dtype=np.float32))
        return net, states

    def forward(self, inputs: Tensor) -> Tensor:
        projected = project_time_major(inputs, self.weight_in, self.full_bias())
        layout = self.layout
        if use_numba(self.kernel, projected):
            outputs = NumbaRecurrence.apply(projected, self.weight_rec, layout, self.truncated)
            self.ran = "numba"
        else:
            outputs = SCRIPTED_RECURRENCE(projected, self.weight_rec, layout.cells, layout.block_size,
                                          layout.feedback, layout.output_gate, layout.h_identity,
                                          layout.g_logistic, self.truncated)
            self.ran = "script"
        return outputs.transpose(0, 1)


class Network1997(nn.Module):
    """The paper's three-layer network: input units, a layer of memory cell blocks, output units that
    receive the cells (and, with ``connectivity=B``, the input units too). ``forward(inputs, lengths)``
    returns the output units' net inputs at each sequence's last step (N, K), or at every step."""

    def __init__(self, io: ModelIO, hidden: int, options: Mapping[str, Any]):
        super().__init__()
        self.io = io
        init = options["init"]
        self.core = LSTM1997(io.input_size, hidden, options["block_size"], options["gradient"] == "truncated",
                             options["kernel"], options["connectivity"], options["bias"], options["in_bias"],
                             options["out_bias"], init, options["h"], options["g"], options["output_gate"])
        self.head = nn.Linear(hidden, io.n_outputs, bias=BIAS_UNITS[options["bias"]][2])
        self.skip = (nn.Linear(io.input_size, io.n_outputs, bias=False) if options["connectivity"] == "B"
                     else None)
        with torch.no_grad():
            for parameter in self.head.parameters():
                parameter.uniform_(-init, init)
            if self.skip is not None:
                self.skip.weight.uniform_(-init, init)
        self.learning, self.learned = options["learning"], "autograd"

    def forward(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        cells = self.core(inputs)
        if self.io.per_step:
            outputs = self.head(cells)
        else:
            outputs = self.head(last_step(cells, lengths))
            inputs = last_step(inputs.unsqueeze(-1), lengths).squeeze(-1) if inputs.dim() == 2 else last_step(
                inputs, lengths)
        if self.skip is not None:
            outputs = outputs + self._skip(inputs)
        return outputs

    def _skip(self, inputs: Tensor) -> Tensor:
        """The input units' contribution to the output units (token ids are one-hot, padding gives 0)."""
        if inputs.dtype.is_floating_point:
            return self.skip(inputs)
        table = torch.cat([self.skip.weight.t(), self.skip.weight.new_zeros(1, self.skip.weight.shape[0])])
        return nn.functional.embedding(inputs.to(torch.long).clamp(max=self.skip.weight.shape[1]), table)

    def online_learner(self, setup: OnlineSetup) -> "CompiledLearner | None":
        """The compiled online learner where ``setup`` is the paper's protocol (None: train by autograd)."""
        reasons = [reason for wrong, reason in (
            (self.learning == "autograd", "learning=autograd"),
            (setup.optimizer != "sgd", f"optimizer {setup.optimizer}"),
            (setup.batch_size != 1, f"batch size {setup.batch_size}"),
            (setup.clip != 0, f"gradient clipping {setup.clip:g}"),
            (setup.output_units != "sigmoid", f"{setup.output_units} output units"),
            (not self.core.truncated, "gradient=full"),
            (setup.device != "cpu", f"device {setup.device}"),
        ) if wrong]
        if reasons:
            if self.learning == "compiled":
                raise ValueError("learning=compiled needs the paper's protocol (sgd, batch size 1, no clipping, "
                                 f"sigmoid output units, gradient=truncated, the CPU); here: {', '.join(reasons)}")
            return None
        self.learned = "compiled"
        return CompiledLearner(self, setup)

    def runtime_info(self) -> dict[str, str]:
        """Which kernel the last forward pass ran, and how the weights learn."""
        return {"kernel": self.core.ran, "learning": self.learned}


class CompiledLearner:
    """Trains a :class:`Network1997` with ``kernels.numba.lstm1997_online``: float64 copies of its
    weights learn sequence by sequence; ``train(batch)`` writes them back to the model after each call."""

    def __init__(self, model: Network1997, setup: OnlineSetup):
        self.model, self.setup = model, setup
        core = model.core
        self.codes = core.layout.codes()
        bias = core.full_bias()
        self.bias = np.zeros(core.layout.units) if bias is None else bias.detach().double().numpy().copy()
        self.bias_mask = core.bias_mask()
        self.w_in = core.weight_in.detach().double().numpy().copy()
        self.w_rec = core.weight_rec.detach().double().numpy().copy()
        self.w_out = model.head.weight.detach().double().numpy().copy()
        classes = self.w_out.shape[0]
        self.w_skip = (model.skip.weight.detach().double().numpy().copy() if model.skip is not None
                       else np.zeros((classes, 0)))
        has_out_bias = model.head.bias is not None
        self.out_bias = model.head.bias.detach().double().numpy().copy() if has_out_bias else np.zeros(classes)
        self.out_mask = np.full(classes, 1.0 if has_out_bias else 0.0)

    def train(self, batch: Batch) -> Tensor:
        """Train on the batch's sequences one after another (a NumPy batch); return the outputs each
        sequence got while it was trained on, as the model's forward would shape them."""
        io, n = self.model.io, len(batch)
        tokens = batch.inputs.ndim == 2
        ids = batch.inputs.astype(np.int64) if tokens else np.zeros((n, 0), dtype=np.int64)
        features = (np.zeros((n, batch.inputs.shape[1], 0)) if tokens else batch.inputs.astype(np.float64))
        classes = self.w_out.shape[0]
        if io.per_step:
            targets, end_targets = batch.targets.astype(np.int64), np.zeros((n, 0))
            asked = np.maximum((targets >= 0).sum(1), 1)
            scales = np.ones(n) if self.setup.step_loss == "sum" else 1.0 / asked
            logits = np.zeros((n, batch.inputs.shape[1], classes))
        else:
            targets, scales = np.zeros((n, 0), dtype=np.int64), np.ones(n)
            end_targets = (batch.targets.astype(np.float64).reshape(n, 1) if self.setup.output is OutputKind.VALUE_AT_END
                           else np.eye(classes)[batch.targets.astype(np.int64)])
            logits = np.zeros((n, 1, classes))
        train_online(ids, features, batch.lengths.astype(np.int64), targets, end_targets, self.codes,
                     PER_STEP if io.per_step else AT_END, scales, float(self.setup.lr), self.setup.update == "step",
                     self.w_in, self.w_rec,
                     self.bias, self.bias_mask, self.w_out, self.w_skip, self.out_bias, self.out_mask, logits)
        self._write_back()
        return torch.from_numpy(logits.astype(np.float32) if io.per_step else logits[:, 0].astype(np.float32))

    @torch.no_grad()
    def _write_back(self) -> None:
        core, model = self.model.core, self.model
        core.weight_in.copy_(torch.from_numpy(self.w_in))
        core.weight_rec.copy_(torch.from_numpy(self.w_rec))
        if core.bias is not None:
            core.bias.copy_(torch.from_numpy(self.bias if core.cell_bias else self.bias[core.layout.cells:]))
        model.head.weight.copy_(torch.from_numpy(self.w_out))
        if model.head.bias is not None:
            model.head.bias.copy_(torch.from_numpy(self.out_bias))
        if model.skip is not None:
            model.skip.weight.copy_(torch.from_numpy(self.w_skip))


def _gate_schedule(text: str) -> str | None:
    """Why a gate-bias option is malformed, or None."""
    if text == "random":
        return None
    try:
        [float(v) for v in text.split("/")]
    except ValueError:
        return f"{text!r} is neither 'random' nor numbers separated by '/' (e.g. -2/-4)"
    return None


def check(hidden: int, options: Mapping[str, Any]) -> None:
    """Cells come in whole blocks; gate biases are 'random' or numbers; a preset fixes the cells."""
    if hidden % options["block_size"]:
        raise ValueError(f"hidden size {hidden} is not a multiple of block_size={options['block_size']}")
    problems = [p for p in (_gate_schedule(options.get("in_bias", "random")),
                            _gate_schedule(options.get("out_bias", "random"))) if p]
    if problems:
        raise ValueError("; ".join(problems))


def build(io: ModelIO, hidden: int, options: Mapping[str, Any]) -> nn.Module:
    """The 1997 network fed with raw token ids or features."""
    return Network1997(io, hidden, options)


LSTM_1997 = ArchitectureSpec(
    name="lstm1997",
    description="Original LSTM (Hochreiter & Schmidhuber 1997): cell blocks, no forget gate, truncated gradient; "
                "the paper's networks as presets",
    build=build,
    options=(
        Param("preset", str, "", "a row of the paper's Table 10: sets the options below and the number of cells",
              choices=("", *PRESETS), since=PAPER),
        Param("block_size", int, 2, "memory cells per block (sharing input and output gates)", min=1, max=4096),
        Param("connectivity", str, "cells", "F: cells and gates receive the input and every cell and gate (the "
              "paper's); B: the hidden units receive the input, the outputs the input and the cells (2a/2b); cells: "
              "cells and gates receive the input and the cell outputs (0.8)", choices=("cells", "F", "B"), since=PAPER),
        Param("bias", str, "all", "units with bias weights: all non-input units, hidden units, gates, or none",
              choices=tuple(BIAS_UNITS), since=PAPER),
        Param("in_bias", str, DEFAULT_GATE_BIAS, "initial input-gate biases per block ('/'-separated, cycled), or "
              "random", since=PAPER),
        Param("out_bias", str, DEFAULT_GATE_BIAS, "initial output-gate biases per block, or random", since=PAPER),
        Param("init", float, 0.1, "weights start uniform in [-init, init]", above=0, max=10, since=PAPER),
        Param("h", str, "scaled", "cell output squashing: 2 sigmoid - 1, or the identity",
              choices=("scaled", "identity"), since=PAPER),
        Param("g", str, "scaled", "cell input squashing: 4 sigmoid - 2, or the logistic sigmoid",
              choices=("scaled", "logistic"), since=PAPER),
        Param("output_gate", bool, True, "output gates (none in Experiments 2a and 2b)", since=PAPER),
        Param("gradient", str, "truncated", "the paper's truncated gradient, or full BPTT",
              choices=("truncated", "full")),
        Param("kernel", str, "auto", "time loop: numba (CPU), TorchScript, or auto (numba on the CPU)",
              choices=("auto", "numba", "script"), runtime=True),
        Param("learning", str, "autograd", "auto: the paper's online rule in compiled code where the run's protocol "
              "is the paper's (sgd, batch 1, no clipping, sigmoid outputs, truncated gradient, CPU), else autograd "
              "(every preset sets auto); compiled: an error elsewhere; autograd: always (0.8's, which records "
              "without this option were trained with)", choices=("auto", "compiled", "autograd"),
              runtime=True, since=PAPER),
    ),
    presets={name: {**preset.options(), "hidden": preset.cells} for name, preset in PRESETS.items()},
    recommended={"lr": 3e-3},
    check_device=check_kernel_device,
    check=check,
)


@hookimpl
def register_architectures(register):
    """Register lstm1997."""
    register(LSTM_1997)
