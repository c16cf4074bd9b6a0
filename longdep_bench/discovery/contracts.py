"""What a plugin promises, checked where a broken promise would otherwise surface far away.

A task's ``generate`` must return a :class:`~longdep_bench.api.specs.Batch` of the documented shapes
and dtypes, with ids, classes and lengths in range, and be a pure function of its arguments
that continues one stream; an architecture's model must map a batch to outputs of the documented
shape, and ignore padding. Each broken rule is one :class:`ContractError` line that names the
plugin and the rule. ``longdep-bench check`` and the suite's own tests run the same checks.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from longdep_bench.api.specs import Batch, ModelIO, OutputKind, TaskSpec
from longdep_bench.system.errors import BenchError

PADDING_PROBE = 6  # sequences whose padding the padding check replaces


class PluginError(BenchError):
    """A plugin failed or broke its contract; the message names it. Exit code 1 (not the user's input)."""

    exit_code = 1


class ContractError(PluginError):
    """A plugin returned something its contract rules out."""


def owner(kind: str, entry: Any) -> str:
    """'task 'x' (plugin p from dist)': how messages name a registered spec and where it came from."""
    return f"{kind} {entry.spec.name!r} (plugin {entry.plugin} from {entry.distribution})"


def _frames_in(exc: BaseException, package: str | None) -> list[tuple[Any, int]]:
    """The traceback's frames that run code of ``package`` (a top-level package name)."""
    return [(frame, line) for frame, line in traceback.walk_tb(exc.__traceback__)
            if package and frame.f_globals.get("__name__", "").split(".")[0] == package]


def passed_through(exc: BaseException, package: str | None) -> bool:
    """Whether an exception passed through code of ``package``."""
    return bool(_frames_in(exc, package))


def fault(exc: BaseException, package: str | None = None) -> str:
    """One line: the exception and the deepest place it passed through the plugin's package
    (else where it was raised)."""
    frames = list(traceback.walk_tb(exc.__traceback__))
    mine = _frames_in(exc, package)
    where = ""
    if mine or frames:
        frame, line = (mine or frames)[-1]
        where = f" ({frame.f_code.co_filename.rsplit('/', 1)[-1]}:{line})"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}{': ' + message if message else ''}{where}"


def call_plugin(kind: str, entry: Any, function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a plugin's function; an exception becomes one PluginError line naming the plugin."""
    try:
        return function(*args, **kwargs)
    except BenchError:
        raise
    except Exception as exc:
        raise PluginError(f"{owner(kind, entry)} failed: {fault(exc, entry.package)}") from exc


def _broke(entry: Any, kind: str, rule: str) -> ContractError:
    return ContractError(f"{owner(kind, entry)} broke its contract: {rule}")


def check_batch(entry: Any, params: Mapping[str, Any], batch: Any, n: int, width: int | None = None) -> None:
    """The rules a generated batch of ``n`` sequences obeys (``width``: the task's padded length)."""
    task: TaskSpec = entry.spec

    def rule(ok: bool, text: str) -> None:
        if not ok:
            raise _broke(entry, "task", text)

    rule(isinstance(batch, Batch), f"generate returned a {type(batch).__name__}, not a Batch")
    for name, array in batch.arrays().items():
        rule(isinstance(array, np.ndarray), f"{name} is a {type(array).__name__}, not a NumPy array")
        rule(array.ndim >= 1 and array.shape[0] == n, f"{name} has shape {array.shape}; asked for {n} sequences")
    inputs, lengths, targets = batch.inputs, batch.lengths, batch.targets
    vocabulary = task.vocabulary(params)
    if vocabulary:
        rule(inputs.ndim == 2 and np.issubdtype(inputs.dtype, np.integer),
             f"inputs are {inputs.dtype} of shape {inputs.shape}; token tasks return integer ids (N, T)")
        rule(inputs.size == 0 or (inputs.min() >= 0 and inputs.max() <= len(vocabulary)),
             f"token ids span [{inputs.min()}, {inputs.max()}]; allowed: 0..{len(vocabulary) - 1} "
             f"and {len(vocabulary)} for padding")
    else:
        rule(inputs.ndim == 3 and inputs.shape[2] == task.n_features and inputs.dtype == np.float32,
             f"inputs are {inputs.dtype} of shape {inputs.shape}; feature tasks return float32 "
             f"(N, T, {task.n_features})")
    steps = inputs.shape[1]
    rule(width is None or steps == width, f"inputs are {steps} steps wide; the task's batches are {width} wide "
         "(every batch is padded to the task's maximum length)")
    rule(lengths.ndim == 1 and np.issubdtype(lengths.dtype, np.integer), f"lengths are {lengths.dtype} of shape "
         f"{lengths.shape}; expected integers (N,)")
    rule(n == 0 or (lengths.min() >= 1 and lengths.max() <= steps),
         f"lengths span [{lengths.min()}, {lengths.max()}]; allowed: 1..{steps} (the padded width)")
    classes = len(task.class_names(params))
    if task.output is OutputKind.VALUE_AT_END:
        rule(targets.shape == (n,) and np.issubdtype(targets.dtype, np.floating),
             f"targets are {targets.dtype} of shape {targets.shape}; a value task returns floats ({n},)")
        return
    per_step = task.output is OutputKind.CLASS_PER_STEP
    shape = (n, steps) if per_step else (n,)
    rule(targets.shape == shape and np.issubdtype(targets.dtype, np.integer),
         f"targets are {targets.dtype} of shape {targets.shape}; a {task.output.value} task returns integer "
         f"class ids {shape}")
    low = -1 if per_step else 0
    rule(targets.size == 0 or (targets.min() >= low and targets.max() < classes),
         f"class ids span [{targets.min()}, {targets.max()}]; allowed: {low}..{classes - 1}")


def check_stream(entry: Any, params: Mapping[str, Any], seed: int, n: int) -> Batch:
    """Purity and stream continuation: the same call twice gives the same arrays, and
    ``generate(n - 2, start=2)`` gives rows 2.. of ``generate(n, start=0)``. Returns the batch."""
    task: TaskSpec = entry.spec
    first = call_plugin("task", entry, task.generate, params, n, seed, 0)
    check_batch(entry, params, first, n)
    again = call_plugin("task", entry, task.generate, params, n, seed, 0)
    later = call_plugin("task", entry, task.generate, params, n - 2, seed, 2)
    for name, array in first.arrays().items():
        if not np.array_equal(array, again.arrays()[name]):
            raise _broke(entry, "task", f"generate is not pure: two identical calls gave different {name}")
    for name, array in first.arrays().items():
        if not np.array_equal(array[2:], later.arrays()[name]):
            raise _broke(entry, "task", f"generate(start=2) does not continue the stream: its {name} differ from "
                         "rows 2.. of generate(start=0)")
    return first


def check_outputs(entry: Any, outputs: Any, io: ModelIO, n: int, steps: int) -> None:
    """A model's outputs for ``n`` sequences of ``steps`` steps: (n, C), or (n, T, C) per step."""
    shape = (n, steps, io.n_outputs) if io.per_step else (n, io.n_outputs)
    if not isinstance(outputs, torch.Tensor) or tuple(outputs.shape) != shape or not outputs.is_floating_point():
        got = f"{outputs.dtype} of shape {tuple(outputs.shape)}" if isinstance(outputs, torch.Tensor) else type(
            outputs).__name__
        raise _broke(entry, "architecture", f"its model returned {got}; expected floats of shape {shape}")


@torch.no_grad()
def check_padding(entry: Any, model: torch.nn.Module, batch: Batch, io: ModelIO, tolerance: float = 1e-5) -> None:
    """Outputs at real steps do not depend on padding: each sequence alone, unpadded, and the batch
    with its padding replaced by real inputs give the same outputs."""
    was_training = model.training
    model.eval()
    try:
        outputs = model(batch.inputs, batch.lengths)
        for i in range(min(len(batch), PADDING_PROBE)):
            length = int(batch.lengths[i])
            alone = model(batch.inputs[i:i + 1, :length], batch.lengths[i:i + 1])
            expected = outputs[i, :length] if io.per_step else outputs[i]
            if not torch.allclose(alone[0], expected, rtol=tolerance, atol=tolerance, equal_nan=True):
                raise _broke(entry, "architecture", f"sequence {i} alone gives other outputs than in a padded batch "
                             "(padding changes the outputs, or the model is not causal)")
        garbage = batch.inputs.clone()
        steps = torch.arange(garbage.shape[1], device=garbage.device)
        garbage[steps[None, :] >= batch.lengths[:, None]] = 1 if not garbage.is_floating_point() else 0.5
        changed = model(garbage, batch.lengths)
        mask = (steps[None, :] < batch.lengths[:, None]) if io.per_step else None
        same = (torch.allclose(changed[mask], outputs[mask], rtol=tolerance, atol=tolerance, equal_nan=True)
                if mask is not None
                else torch.allclose(changed, outputs, rtol=tolerance, atol=tolerance, equal_nan=True))
        if not same:
            raise _broke(entry, "architecture", "outputs change when the padding after a sequence's end changes")
    finally:
        model.train(was_training)


def probe_size(width: int, io: ModelIO) -> int:
    """A probe batch size unlike every other dimension of the task (its width, features, outputs), so
    that a model that swaps the time and batch dimensions shows it in its output shape."""
    taken = {width, io.input_size, io.n_outputs, io.n_features}
    return next(n for n in (7, 5, 11, 13, 3, 17, 19) if n not in taken)


def _tensors(value: Any) -> list[torch.Tensor]:
    """The tensors an attribute holds (directly, or in a list, tuple or dict)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors(item)]
    return []


def check_registered_state(entry: Any, model: torch.nn.Module) -> None:
    """Every tensor a model keeps is a parameter or a buffer: a plain attribute holding one is never
    trained, counted in ``n_params``, moved to the device nor saved."""
    registered = {id(t) for t in [*model.parameters(), *model.buffers()]}
    for prefix, module in model.named_modules():
        for name, value in vars(module).items():
            if name in ("_parameters", "_buffers", "_modules"):
                continue
            stray = [t for t in _tensors(value) if id(t) not in registered]
            if stray:
                where = f"{prefix}.{name}" if prefix else name
                shape = "x".join(map(str, stray[0].shape)) or "scalar"
                raise _broke(entry, "architecture", f"its model keeps a tensor ({shape}) in the attribute {where!r} "
                             "that is neither a parameter nor a buffer: it is never trained, counted or moved (use "
                             "nn.Parameter, or register_buffer for state that is not learned)")


def check_gradients(entry: Any, model: torch.nn.Module, batch: Batch, loss: Any) -> None:
    """One backward pass gives every trainable parameter a gradient (a non-finite one is a result,
    divergence, not a broken contract); the gradients are then cleared, the model left as it was."""
    try:
        value = call_plugin("architecture", entry, lambda: loss(model(batch.inputs, batch.lengths), batch))
        call_plugin("architecture", entry, value.backward)
        missing = [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]
    finally:
        for parameter in model.parameters():
            parameter.grad = None
    if missing:
        raise _broke(entry, "architecture", f"parameters that get no gradient: {', '.join(missing[:4])}"
                     + (" ..." if len(missing) > 4 else "") + " (not connected to the outputs: never trained)")
