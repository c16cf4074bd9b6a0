"""An example longdep-bench plugin: one architecture and one task, using only the public API.

- ``irnn``: the IRNN of Le, Jaitly & Hinton (2015), "A Simple Way to Initialize Recurrent
  Networks of Rectified Linear Units": a ReLU RNN whose recurrent matrix starts as the identity
  and whose biases start at zero, so that it initially copies its state forward.
- ``first-bit``: a sequence of ``length`` random bits; at the end, say what the first bit was.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from longdep_bench import (
    ArchitectureSpec,
    Batch,
    ModelIO,
    OutputKind,
    OutputsOnly,
    Param,
    SequenceModel,
    TaskSpec,
    hookimpl,
)


def build_irnn(io: ModelIO, hidden: int, options: Mapping[str, Any]) -> torch.nn.Module:
    """A ReLU RNN with identity recurrent weights (scaled by ``scale``) and zero biases."""
    rnn = torch.nn.RNN(io.input_size, hidden, nonlinearity="relu", batch_first=True)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(options["scale"] * torch.eye(hidden))
        rnn.bias_hh_l0.zero_()
        rnn.bias_ih_l0.zero_()
        rnn.weight_ih_l0.normal_(0.0, 0.001)
    return SequenceModel(OutputsOnly(rnn), io, hidden)


IRNN = ArchitectureSpec(
    name="irnn",
    description="IRNN (Le, Jaitly & Hinton 2015): ReLU RNN initialised with the identity",
    build=build_irnn,
    options=(Param("scale", float, 1.0, "scale of the initial identity recurrent matrix", min=0.0, max=2.0),),
    recommended={"lr": 1e-4, "clip": 1.0},
)


def generate_first_bit(params: Mapping[str, Any], n: int, seed: int, start: int = 0) -> Batch:
    """Sequences ``start .. start + n - 1`` of stream ``seed``: random bits (tokens 0/1).

    Each sequence has its own NumPy stream, seeded with (seed, index), so that the output is a
    pure function of the arguments and consecutive calls continue the stream.
    """
    length = params["length"]
    tokens = np.empty((n, length), dtype=np.int8)
    for row, index in enumerate(range(start, start + n)):
        tokens[row] = np.random.default_rng([seed, index]).integers(0, 2, size=length)
    return Batch(inputs=tokens, lengths=np.full(n, length, dtype=np.int64), targets=tokens[:, 0].astype(np.int64))


FIRST_BIT = TaskSpec(
    name="first-bit",
    description="Recall the first of `length` random bits at the end",
    output=OutputKind.CLASS_AT_END,
    generate=generate_first_bit,
    params=(Param("length", int, 50, "number of bits, the lag", min=1, max=100_000),),
    symbols=("0", "1"),
    classes=("0", "1"),
    gap_param="length",
    chance=0.5,
    baseline="guessing",
    baseline_loss=lambda params: math.log(2),
)


@hookimpl
def register_architectures(register):
    """Register irnn."""
    register(IRNN)


@hookimpl
def register_tasks(register):
    """Register first-bit."""
    register(FIRST_BIT)
