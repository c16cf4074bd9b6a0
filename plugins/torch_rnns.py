"""Recurrent networks from ``torch.nn``: vanilla RNN (tanh), LSTM and GRU.

``lstm`` and ``gru`` take the gate-bias initialisation options of :mod:`gate_init`
(``init=default|constant|chrono``, ``gate_bias``, ``chrono_tmax``); ``constant`` with +3 is the
default.
"""

from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from longdep_bench import ArchitectureSpec, ModelIO, OutputsOnly, SequenceModel, hookimpl
from longdep_bench_plugins.gate_init import INIT_OPTIONS, apply_gate_init

# Gate order in torch.nn: LSTM (i, f, g, o); GRU (r, z, n), where z = 1 keeps the state.
LSTM_INPUT_GATE, LSTM_FORGET_GATE, GRU_UPDATE_GATE = 0, 1, 1


def _builder(rnn_class: type, memory_gate: int | None, input_gate: int | None):
    """A build function for a torch.nn recurrent class; ``memory_gate`` is the gate ``init`` sets."""

    def build(io: ModelIO, hidden: int, options: Mapping[str, Any]) -> nn.Module:
        rnn = rnn_class(io.input_size, hidden, batch_first=True)
        if memory_gate is not None:
            apply_gate_init(rnn, options, io.max_length, memory_gate, input_gate)
        return SequenceModel(OutputsOnly(rnn), io, hidden)

    return build


RNN = ArchitectureSpec(
    name="rnn",
    description="Vanilla RNN with tanh (torch.nn.RNN), trained with full BPTT",
    build=_builder(nn.RNN, None, None),
    recommended={"lr": 1e-3},
)
LSTM = ArchitectureSpec(
    name="lstm",
    description="LSTM with forget gate (torch.nn.LSTM; cuDNN/oneDNN kernels); forget-gate bias +3",
    build=_builder(nn.LSTM, LSTM_FORGET_GATE, LSTM_INPUT_GATE),
    options=INIT_OPTIONS,
    recommended={"lr": 3e-3},
)
GRU = ArchitectureSpec(
    name="gru",
    description="GRU (torch.nn.GRU); update-gate bias +3",
    build=_builder(nn.GRU, GRU_UPDATE_GATE, None),
    options=INIT_OPTIONS,
    recommended={"lr": 3e-3},
)


@hookimpl
def register_architectures(register):
    """Register rnn, lstm and gru."""
    for spec in (RNN, LSTM, GRU):
        register(spec)
