"""Numba kernels as torch autograd functions: the one bridge every compiled recurrence goes through.

A :class:`CompiledPasses` holds a recurrence's two passes as plain functions. ``forward(*inputs)``
gets the tensor inputs detached and contiguous (anything else as it is: a cell, a layout, a flag),
runs the kernels on their ``.numpy()`` views and returns ``(output, saved)``; ``backward(saved,
grad_output)`` gets the output's gradient contiguous and returns one gradient per input (None for
inputs without one). ``passes.apply(*inputs)`` runs them under autograd, like a
``torch.autograd.Function``'s ``apply``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


@dataclass(frozen=True)
class CompiledPasses:
    """A compiled recurrence's forward and backward passes (see the module's docstring)."""

    name: str
    forward: Callable[..., tuple[Any, Any]]
    backward: Callable[..., tuple[Tensor | None, ...]]

    def apply(self, *inputs: Any) -> Any:
        """The forward pass's output, differentiable in the tensor inputs through ``backward``."""
        return _Bridge.apply(self, *inputs)


def host(value: Any) -> Any:
    """A tensor detached and contiguous (a view the kernels may read through ``.numpy()``); anything
    else as it is."""
    return value.detach().contiguous() if isinstance(value, Tensor) else value


class _Bridge(torch.autograd.Function):
    """The autograd function behind every :class:`CompiledPasses`."""

    @staticmethod
    def forward(ctx: Any, passes: CompiledPasses, *inputs: Any) -> Any:
        output, ctx.saved = passes.forward(*(host(value) for value in inputs))
        ctx.passes = passes
        return output

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Any:
        gradients = ctx.passes.backward(ctx.saved, grad_output.contiguous())
        return (None, *gradients)
