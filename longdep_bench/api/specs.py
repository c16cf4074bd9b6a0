"""The objects that cross the plugin boundary: batches, model shapes, task and architecture specs."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from longdep_bench.api.params import Param

_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class OutputKind(str, Enum):
    """What a task asks of a model, and so the shape of the model's output."""

    CLASS_AT_END = "class-at-end"  # one class per sequence, read at its true last step: (N, C)
    VALUE_AT_END = "value-at-end"  # one real value per sequence at its true last step: (N, 1)
    CLASS_PER_STEP = "class-per-step"  # one class per step: (N, T, C); target -1 where none is asked


@dataclass(frozen=True, eq=False)
class Batch:
    """A padded batch of sequences, as NumPy arrays (from a generator) or torch tensors (for a model).

    inputs:  (N, T) integer token ids, right-padded with the id ``len(symbols)``; or
             (N, T, F) float32 features, right-padded with zeros.
    lengths: (N,) true lengths; step ``lengths[i] - 1`` is sequence i's last step.
    targets: CLASS_AT_END (N,) class ids; VALUE_AT_END (N,) float32 values;
             CLASS_PER_STEP (N, T) class ids with -1 where no output is asked.
    extras:  task-specific arrays of first dimension N (for example legal-successor masks).
    """

    inputs: Any
    lengths: Any
    targets: Any
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def to_torch(self, device: Any = "cpu") -> Batch:
        """The same batch as torch tensors on ``device`` (no copy on CPU where dtypes allow)."""
        import torch

        def convert(array: Any) -> Any:
            tensor = torch.from_numpy(np.ascontiguousarray(array)) if isinstance(array, np.ndarray) else array
            return tensor.to(device, non_blocking=True)

        return Batch(
            inputs=convert(self.inputs),
            lengths=convert(self.lengths),
            targets=convert(self.targets),
            extras={k: convert(v) for k, v in self.extras.items()},
        )

    def arrays(self) -> dict[str, Any]:
        """All arrays by name (inputs, lengths, targets and the extras)."""
        return {"inputs": self.inputs, "lengths": self.lengths, "targets": self.targets, **self.extras}


@dataclass(frozen=True, eq=False)
class FixedSets:
    """A task's fixed training set and its held-out test set (NumPy batches)."""

    training: Batch
    test: Batch


@dataclass(frozen=True)
class ModelIO:
    """What an architecture's model consumes and produces for one task."""

    n_symbols: int  # one-hot width of token inputs; 0 when the inputs are real-valued features
    n_features: int  # features per step for real-valued inputs; 0 for token inputs
    n_outputs: int  # classes, or 1 for a real value
    per_step: bool  # outputs at every step (N, T, C) instead of at each sequence's last step (N, C)
    max_length: int  # the longest sequence the task produces with its current parameters

    @property
    def input_size(self) -> int:
        """Width of one step's input vector after one-hot encoding."""
        return self.n_symbols or self.n_features


def _check_name(kind: str, name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"{kind} name {name!r} must be lower-case letters, digits, '-' or '_'")


@dataclass(frozen=True)
class Published:
    """A published result on a task, shown next to measured ones in reports.

    ``params``: the task parameters it was measured at (those not given: any); ``sequences``: the
    training sequences until solved, a mean over ``trials`` runs where given (None when the source
    gives none), with its ``spread`` (lowest, highest) where published; ``success``: the success
    rate in words, if given; ``mark``: how sure we are of the figure ([read] in a primary source,
    [agreed] by several secondary ones, [recalled] not checkable here). ``setting``: the
    architecture (``arch``), its options and the run settings the figure was measured with, where it
    applies to those only (for example one network and learning rate of several); ``milestone``:
    the record milestone it is comparable with, where not the run's solving (the 1997 paper's ST1
    in Experiment 3 is the ``accuracy`` milestone, its ST2 the solving).
    """

    source: str
    text: str
    mark: str
    params: Mapping[str, Any] = field(default_factory=dict)
    sequences: int | None = None
    success: str | None = None
    trials: int | None = None
    spread: tuple[int, int] | None = None
    setting: Mapping[str, Any] = field(default_factory=dict)
    milestone: str | None = None

    def applies(self, params: Mapping[str, Any]) -> bool:
        """Whether the result was measured at these task parameters."""
        return all(params.get(k) == v for k, v in self.params.items())

    def applies_to_run(self, arch: str, settings: Mapping[str, Any]) -> bool:
        """Whether the result was measured with this architecture and these settings (a record's
        hyperparameters, its architecture options among them)."""
        options = settings.get("arch_options", {})
        return all((arch if k == "arch" else options.get(k, settings.get(k))) == v for k, v in self.setting.items())

    def line(self) -> str:
        """One line: source, text and mark."""
        return f"{self.source}: {self.text} {self.mark}"


@dataclass(frozen=True)
class TaskSpec:
    """A task: its parameters, vocabulary, output kind and a deterministic generator.

    ``generate(params, n, seed, start)`` returns sequences ``start .. start + n - 1`` of the
    stream identified by ``seed`` as a NumPy :class:`Batch`; it must be a pure function of its
    arguments, so that consecutive calls continue one stream and never repeat a sequence.
    ``revision`` counts corrections of the task's definition that change its data or targets for
    the same parameters: it enters the run ids from 1 on, so that results of an older definition
    are never taken for this one (a sweep reruns them) and reports keep them apart.

    A task that trains on a fixed set of sequences (the embedded Reber grammar's 256 training
    strings in the 1997 paper) gives ``fixed_sets(params, n_test, data_seed, test_seed)``: the
    :class:`FixedSets` that the data stream ``data_seed`` draws its training sequences from and
    ``n_test`` held-out sequences outside it (None under parameters without a fixed set). A run
    of such a task is solved only when its training set meets the threshold too.
    """

    name: str
    description: str
    output: OutputKind
    generate: Callable[[Mapping[str, Any], int, int, int], Batch]
    params: tuple[Param, ...] = ()
    symbols: tuple[str, ...] | Callable[[Mapping[str, Any]], tuple[str, ...]] = ()  # token names, or params -> names
    n_features: int = 0  # features per step (real-valued inputs)
    classes: tuple[str, ...] | Callable[[Mapping[str, Any]], tuple[str, ...]] = ()  # class names, or params -> names
    gap_param: str | None = None  # the lag parameter that ``--gap`` sets and tables show
    success_threshold: float = 0.99  # fraction of test sequences that must be correct to count as solved
    chance: float = 0.0  # fraction of test sequences that the trivial baseline gets right
    baseline: str = "guessing"  # what the trivial baseline is, in a few words
    baseline_loss: Callable[[Mapping[str, Any]], float] | None = None  # its loss (same loss as training)
    check: Callable[[Mapping[str, Any]], None] | None = None  # cross-parameter validation (raise ValueError)
    loss: Callable[[Any, Batch], Any] | None = None  # training loss; default by output kind
    correct: Callable[[Any, Batch], Any] | None = None  # per-sequence correctness; default by output kind
    published: tuple[Published, ...] = ()  # published results to show next to measured ones in reports
    revision: int = 0  # corrections of the definition (see above); 0 for a task never corrected
    deviation: Callable[[Any, Batch], Any] | None = None  # per-sequence absolute error of a value task; default |y - t|
    fixed_sets: Callable[[Mapping[str, Any], int, int, int], FixedSets | None] | None = None  # see below

    def __post_init__(self) -> None:
        _check_name("task", self.name)
        if bool(self.symbols) == bool(self.n_features):
            raise ValueError(f"task {self.name!r}: give either symbols (token inputs) or n_features")
        if self.output is not OutputKind.VALUE_AT_END and not self.classes:
            raise ValueError(f"task {self.name!r}: class outputs need class names")
        if self.output is OutputKind.VALUE_AT_END and self.correct is None:
            raise ValueError(f"task {self.name!r}: value outputs need a correct() criterion")
        if self.gap_param is not None and self.gap_param not in {p.name for p in self.params}:
            raise ValueError(f"task {self.name!r}: gap_param {self.gap_param!r} is not a parameter")

    def vocabulary(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        """The names of the token ids under these parameters (empty for feature inputs)."""
        return tuple(self.symbols(params)) if callable(self.symbols) else self.symbols

    def class_names(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        """The names of the class ids under these parameters (empty for value outputs)."""
        return tuple(self.classes(params)) if callable(self.classes) else self.classes

    def width(self, params: Mapping[str, Any]) -> int:
        """The padded length T of every batch under these parameters (one sequence is generated)."""
        return int(self.generate(params, 1, 0, 0).inputs.shape[1])

    def model_io(self, params: Mapping[str, Any], max_length: int) -> ModelIO:
        """The input and output shape a model needs for this task's sequences under ``params``."""
        return ModelIO(
            n_symbols=len(self.vocabulary(params)),
            n_features=self.n_features,
            n_outputs=len(self.class_names(params)) or 1,
            per_step=self.output is OutputKind.CLASS_PER_STEP,
            max_length=max_length,
        )


@dataclass(frozen=True)
class ArchitectureSpec:
    """An architecture: a builder of ``torch.nn.Module`` s plus its options and preferred settings.

    ``build(io, hidden, options)`` returns a module whose ``forward(inputs, lengths)`` maps a
    padded batch to outputs at each sequence's true last step, (N, C), or at every step,
    (N, T, C) when ``io.per_step``. Padding after a sequence's end must not change its outputs.
    ``recommended`` holds run hyperparameters (``lr``, ``batch_size``, ``clip``) that ``run`` uses
    unless the user sets them. ``check(hidden, options)`` rejects impossible combinations by
    raising ValueError before any training starts; ``check_device(device, options)`` likewise
    rejects options that cannot run on the runs' device ('cpu' or 'cuda'), such as a CPU-only
    kernel on CUDA. ``unavailable`` says why the architecture
    cannot be built here. ``cuda_graphs=False`` declares that its training step must not be
    captured in a CUDA graph (it syncs with the host, changes shapes, or keeps Python state
    that changes from step to step); it then trains eagerly on CUDA.
    """

    name: str
    description: str
    build: Callable[[ModelIO, int, Mapping[str, Any]], Any]
    options: tuple[Param, ...] = ()
    recommended: Mapping[str, Any] = field(default_factory=dict)
    check: Callable[[int, Mapping[str, Any]], None] | None = None
    unavailable: str | None = None
    cuda_graphs: bool = True
    check_device: Callable[[str, Mapping[str, Any]], None] | None = None
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_name("architecture", self.name)
        if self.presets:
            declared = next((p for p in self.options if p.name == "preset"), None)
            if declared is None or set(declared.choices) != {"", *self.presets}:
                raise ValueError(f"architecture {self.name!r}: presets need an option 'preset' whose choices are '' "
                                 f"and the presets' names ({', '.join(self.presets)})")
            names = {p.name for p in self.options} | {"hidden"}
            unknown = {k for values in self.presets.values() for k in values} - names
            if unknown:
                raise ValueError(f"architecture {self.name!r}: presets set unknown options {sorted(unknown)}")


@dataclass(frozen=True)
class OnlineSetup:
    """What a model's ``online_learner`` is asked to train with: the run's learning rate, optimiser,
    sequences per step, gradient clip, output units, how a per-step task's step errors combine
    (``step_loss``: mean or sum) and when its weights change (``update``: sequence or step), the
    device, and the task's output kind. The learner it returns (or None: train by autograd) has
    ``train(batch)``: train on the batch's sequences one after another, write the weights back to the
    model, and return the outputs each sequence gave while it was trained on. Any split of the
    sequences into batches must train the same, and ``copy.deepcopy`` (sharing the model) must copy
    its state: the harness retrains part of a batch from a copy to stop on the exact sequence that
    met a stopping rule."""

    lr: float
    optimizer: str
    batch_size: int
    clip: float
    output_units: str
    step_loss: str
    device: str
    output: OutputKind
    update: str = "sequence"


@dataclass(frozen=True)
class ExecutorRequest:
    """What an executor is asked for: ``jobs`` runs at once (resolved, never 'auto'), ``runs``
    runs in all, on ``device`` ('cpu' or 'cuda') and CUDA ``devices`` (empty: the current one),
    with the executor's resolved ``options``."""

    jobs: int
    runs: int
    device: str
    options: Mapping[str, Any]
    devices: tuple[int, ...] = ()


@dataclass(frozen=True)
class ExecutorSpec:
    """Where runs execute: ``open(request)`` is a context manager that yields a
    ``concurrent.futures.Executor`` (or None: run in this process). The driver submits
    ``longdep_bench.training.loop.train(config)`` for every run and writes the records it returns;
    workers never write the results file. ``options`` are set with ``--executor NAME:K=V,..``.
    ``auto_jobs(runs, device, devices, options)`` is what ``--jobs auto`` means for it (``options``
    resolved); without one, every run is in flight at once (a cluster schedules them itself)."""

    name: str
    description: str
    open: Callable[[ExecutorRequest], Any]
    options: tuple[Param, ...] = ()
    auto_jobs: Callable[[int, str, Sequence[int], Mapping[str, Any]], int] | None = None

    def __post_init__(self) -> None:
        _check_name("executor", self.name)


@dataclass(frozen=True)
class FormatSpec:
    """An output format of ``run`` and ``report``: ``render(tables)`` turns the summary tables
    (:class:`longdep_bench.Table`) into text."""

    name: str
    description: str
    render: Callable[[Sequence[Any]], str]

    def __post_init__(self) -> None:
        _check_name("format", self.name)
