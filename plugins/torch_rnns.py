"""Recurrent networks from ``torch.nn``: vanilla RNN (tanh), LSTM and GRU.

Gate-bias initialisation is an explicit option of ``lstm`` and ``gru``:

- ``default``: PyTorch's initialisation (all weights and biases uniform in +-1/sqrt(hidden)).
- ``constant``: the forget-gate bias (LSTM) or update-gate bias (GRU) set to ``gate_bias``
  (default +3), so that the cell starts out remembering. Measured on this project's machine, the
  default initialisation solved Task 6a in neither LSTM nor GRU within 200k sequences, while
  bias +3 solved it in 8-102k sequences; ``constant`` is therefore the default.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from longdep_bench import ArchitectureSpec, ModelIO, Param, SequenceModel, hookimpl

INIT_OPTIONS = (
    Param("init", str, "constant", "gate-bias initialisation", choices=("default", "constant")),
    Param("gate_bias", float, 3.0, "forget (LSTM) / update (GRU) gate bias for init=constant", min=-20, max=20),
)


class TorchRecurrentCore(nn.Module):
    """Adapts a batch-first ``nn.RNN``/``nn.LSTM``/``nn.GRU`` to return only its per-step states."""

    def __init__(self, rnn: nn.RNNBase):
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


def set_gate_bias(rnn: nn.RNNBase, gate: int, value: float) -> None:
    """Set the bias of gate number ``gate`` (in PyTorch's gate order) to ``value``.

    The input-side bias carries the value and the hidden-side bias of that gate is zeroed, so
    their sum, which is what the cell uses, equals ``value``.
    """
    hidden = rnn.hidden_size
    with torch.no_grad():
        for layer in range(rnn.num_layers):
            getattr(rnn, f"bias_ih_l{layer}")[gate * hidden:(gate + 1) * hidden].fill_(value)
            getattr(rnn, f"bias_hh_l{layer}")[gate * hidden:(gate + 1) * hidden].zero_()


def _builder(rnn_class: type, memory_gate: int | None):
    """A build function for a torch.nn recurrent class; ``memory_gate`` is the gate ``init`` sets."""

    def build(io: ModelIO, hidden: int, options: Mapping[str, Any]) -> nn.Module:
        rnn = rnn_class(io.input_size, hidden, batch_first=True)
        if memory_gate is not None and options["init"] == "constant":
            set_gate_bias(rnn, memory_gate, options["gate_bias"])
        return SequenceModel(TorchRecurrentCore(rnn), io, hidden)

    return build


RNN = ArchitectureSpec(
    name="rnn",
    description="Vanilla RNN with tanh (torch.nn.RNN), trained with full BPTT",
    build=_builder(nn.RNN, None),
    recommended={"lr": 1e-3},
)
LSTM = ArchitectureSpec(
    name="lstm",
    description="LSTM with forget gate (torch.nn.LSTM; cuDNN/oneDNN kernels); forget-gate bias +3",
    build=_builder(nn.LSTM, 1),  # gate order i, f, g, o
    options=INIT_OPTIONS,
    recommended={"lr": 3e-3},
)
GRU = ArchitectureSpec(
    name="gru",
    description="GRU (torch.nn.GRU); update-gate bias +3",
    build=_builder(nn.GRU, 1),  # gate order r, z, n; z = 1 keeps the state
    options=INIT_OPTIONS,
    recommended={"lr": 3e-3},
)


@hookimpl
def register_architectures(register):
    """Register rnn, lstm and gru."""
    for spec in (RNN, LSTM, GRU):
        register(spec)
