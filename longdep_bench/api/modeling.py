"""Building blocks for architecture plugins: input encoding, last-step readout, a model wrapper."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from longdep_bench.api.specs import ModelIO


def one_hot(tokens: torch.Tensor, n_symbols: int) -> torch.Tensor:
    """(N, T) integer ids of any dtype -> (N, T, n_symbols) float32; padding ids give zero rows."""
    ids = torch.arange(n_symbols, device=tokens.device, dtype=tokens.dtype)
    return (tokens.unsqueeze(-1) == ids).to(torch.float32)


def encode_inputs(inputs: torch.Tensor, io: ModelIO) -> torch.Tensor:
    """A batch's inputs as (N, T, io.input_size) float32 vectors."""
    if io.n_symbols:
        return one_hot(inputs, io.n_symbols)
    return inputs.to(torch.float32)


def project_time_major(inputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
                       ) -> torch.Tensor:
    """Input projections ``x W^T + b`` for all steps at once, time-major: (T, N, G).

    ``inputs`` are float features (N, T, I) or integer token ids (N, T); for tokens the product
    with a one-hot vector is an embedding lookup into ``W^T``, and ids >= I (padding) give ``b``.
    ``weight`` is (G, I), ``bias`` (G,) or None for none.
    """
    if inputs.dtype.is_floating_point:
        steps, batch = inputs.shape[1], inputs.shape[0]
        flat = inputs.transpose(0, 1).reshape(steps * batch, -1)
        product = flat @ weight.t() if bias is None else torch.addmm(bias, flat, weight.t())
        return product.view(steps, batch, -1)
    table = torch.cat([weight.t(), weight.new_zeros(1, weight.shape[0])])
    ids = inputs.t().to(torch.long).clamp(max=weight.shape[1])
    projected = nn.functional.embedding(ids, table)
    return projected if bias is None else projected + bias


def last_step(sequence: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(N, T, H) per-step values -> (N, H) values at each sequence's true last step."""
    index = (lengths.to(torch.long) - 1).view(-1, 1, 1).expand(-1, 1, sequence.shape[-1])
    return sequence.gather(1, index).squeeze(1)


class OutputsOnly(nn.Module):
    """Wraps a recurrent module that returns ``(outputs, state)``, like ``nn.LSTM``, to return outputs."""

    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


class SequenceModel(nn.Module):
    """A recurrent core with one-hot/feature input encoding and a linear readout.

    ``core`` maps (N, T, io.input_size) float inputs to (N, T, hidden) states causally (step t
    sees only steps <= t), so padding after a sequence's end cannot change its outputs. With
    ``encode=False`` the core receives the raw inputs (token ids or features) and encodes them
    itself (for example with an embedding lookup). The readout is applied at each sequence's
    last step, or at every step when ``io.per_step``.
    """

    def __init__(self, core: nn.Module, io: ModelIO, hidden: int, encode: bool = True):
        super().__init__()
        self.io = io
        self.core = core
        self.encode = encode
        self.head = nn.Linear(hidden, io.n_outputs)

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        states = self.core(encode_inputs(inputs, self.io) if self.encode else inputs)
        if self.io.per_step:
            return self.head(states)
        return self.head(last_step(states, lengths))


class _Scripted:
    """A function compiled with ``torch.jit.script`` on its first call, once per process.

    On CPU tensors it runs unoptimised: TorchScript's profiling executor otherwise runs the first
    calls of a process one way and later ones another (results differ by about 1e-7), so a run's
    result would depend on what ran before it in the same process; without LLVM (the CPU wheels)
    the optimised graph is no faster. On CUDA it runs optimised (the fuser merges the gate kernels).
    """

    def __init__(self, function: Callable[..., Any]):
        self.function = function
        self.__doc__ = function.__doc__
        self._compiled: Any = None
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> Any:
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    self._compiled = _compile(self.function)
        if any(isinstance(a, torch.Tensor) and a.is_cuda for a in args):
            return self._compiled(*args)
        with torch.jit.optimized_execution(False):
            return self._compiled(*args)


def _compile(function: Callable[..., Any]) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated",
                                    category=DeprecationWarning)
            return torch.jit.script(function)
    except Exception as exc:  # torch.jit missing or broken in this torch/Python
        raise RuntimeError(f"torch.jit.script failed for {function.__name__}: {type(exc).__name__}: {exc}") from exc


def script(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` compiled with ``torch.jit.script`` when it is first called (not at import, so
    that listing plugins stays fast). Thread-safe. TorchScript is deprecated in recent torch
    releases and ``torch.jit.script`` warns; exactly that warning is filtered here, where scripting
    is deliberate. If scripting fails, the first call raises a RuntimeError with the reason."""
    return _Scripted(function)
