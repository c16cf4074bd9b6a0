"""Recurrent networks from ``torch.nn``: vanilla RNN (tanh), LSTM and GRU.

``lstm`` and ``gru`` take the gate-bias initialisation options of :mod:`gate_init`
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
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from longdep_bench import (
    ArchitectureSpec,
    ModelIO,
    OutputsOnly,
    Param,
    SequenceModel,
    hookimpl,
    project_time_major,
)
from longdep_bench_plugins.gate_init import INIT_OPTIONS, apply_gate_init

# Gate order in torch.nn: LSTM (i, f, g, o); GRU (r, z, n), where z = 1 keeps the state.
LSTM_INPUT_GATE, LSTM_FORGET_GATE, GRU_UPDATE_GATE = 0, 1, 1
INPUT_OPTION = Param("input", str, "onehot", "symbol inputs as one-hot vectors, or as an embedding lookup into "
                     "the input weights (same function; cheaper for large vocabularies)",
                     choices=("onehot", "lookup"), runtime=True)


class LookupInputs(nn.Module):
    """A torch.nn recurrent module fed token ids: ``x W_ih^T`` by embedding lookup
    (``project_time_major``), then the module with identity input weights (frozen). Ids >= the
    vocabulary (padding) give zero inputs."""

    def __init__(self, rnn: nn.RNNBase):
        super().__init__()
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

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        projected = project_time_major(tokens, self.weight_ih)  # b_ih stays in the module
        return self.rnn(projected)[0].transpose(0, 1)

    def runtime_info(self) -> dict[str, str]:
        """The input path that ran."""
        return {"input": "lookup"}


def _builder(rnn_class: type, memory_gate: int | None, input_gate: int | None):
    """A build function for a torch.nn recurrent class; ``memory_gate`` is the gate ``init`` sets."""

    def build(io: ModelIO, hidden: int, options: Mapping[str, Any]) -> nn.Module:
        rnn = rnn_class(io.input_size, hidden, batch_first=True)
        if memory_gate is not None:
            apply_gate_init(rnn, options, io.max_length, memory_gate, input_gate)
        if options["input"] == "lookup" and io.n_symbols:
            return SequenceModel(LookupInputs(rnn), io, hidden, encode=False)
        return SequenceModel(OutputsOnly(rnn), io, hidden)

    return build


RNN = ArchitectureSpec(
    name="rnn",
    description="Vanilla RNN with tanh (torch.nn.RNN), trained with full BPTT",
    build=_builder(nn.RNN, None, None),
    options=(INPUT_OPTION,),
    recommended={"lr": 1e-3},
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
    description="GRU (torch.nn.GRU); update-gate bias +3",
    build=_builder(nn.GRU, GRU_UPDATE_GATE, None),
    options=(*INIT_OPTIONS, INPUT_OPTION),
    recommended={"lr": 3e-3},
)


@hookimpl
def register_architectures(register):
    """Register rnn, lstm and gru."""
    for spec in (RNN, LSTM, GRU):
        register(spec)
