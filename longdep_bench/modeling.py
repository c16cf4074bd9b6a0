"""Building blocks for architecture plugins: input encoding, last-step readout, a model wrapper."""

from __future__ import annotations

import torch
from torch import nn

from longdep_bench.specs import ModelIO


def one_hot(tokens: torch.Tensor, n_symbols: int) -> torch.Tensor:
    """(N, T) integer ids of any dtype -> (N, T, n_symbols) float32; padding ids give zero rows."""
    ids = torch.arange(n_symbols, device=tokens.device, dtype=tokens.dtype)
    return (tokens.unsqueeze(-1) == ids).to(torch.float32)


def encode_inputs(inputs: torch.Tensor, io: ModelIO) -> torch.Tensor:
    """A batch's inputs as (N, T, io.input_size) float32 vectors."""
    if io.n_symbols:
        return one_hot(inputs, io.n_symbols)
    return inputs.to(torch.float32)


def last_step(sequence: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(N, T, H) per-step values -> (N, H) values at each sequence's true last step."""
    index = (lengths.to(torch.long) - 1).view(-1, 1, 1).expand(-1, 1, sequence.shape[-1])
    return sequence.gather(1, index).squeeze(1)


class SequenceModel(nn.Module):
    """A recurrent core with one-hot/feature input encoding and a linear readout.

    ``core`` maps (N, T, io.input_size) float inputs to (N, T, hidden) states causally (step t
    sees only steps <= t), so padding after a sequence's end cannot change its outputs. The
    readout is applied at each sequence's last step, or at every step when ``io.per_step``.
    """

    def __init__(self, core: nn.Module, io: ModelIO, hidden: int):
        super().__init__()
        self.io = io
        self.core = core
        self.head = nn.Linear(hidden, io.n_outputs)

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        states = self.core(encode_inputs(inputs, self.io))
        if self.io.per_step:
            return self.head(states)
        return self.head(last_step(states, lengths))
