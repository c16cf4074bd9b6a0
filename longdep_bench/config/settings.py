"""Every setting of ``longdep-bench run``, declared once.

Each :class:`Setting` is one line of ``SETTINGS``. From it come the command-line option, the
sweep-file key (its type, and whether a ``[[run]]`` block may set it), the validation of values
from either, the record's ``hyperparameters`` and ``runtime``, which settings tell table rows apart,
and whether an architecture may recommend it. The configuration dataclasses
(:mod:`longdep_bench.config.options`, :class:`~longdep_bench.config.run_config.RunConfig`) write
the settings out as fields, and a test keeps them in step with this declaration. A new setting is
one line here, a field there, plus the code that uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import Any

from longdep_bench.api.params import Param
from longdep_bench.system.errors import BenchError

AUTO = "auto"
FIRST_RELEASE = "0.1"
# --jobs auto on CUDA: concurrent runs per GPU, as threads of one worker process per GPU, and as one
# process each under CUDA MPS. Measured on an H100 (reports/gpu-h100-run2/concurrency.md, default-size
# LSTM runs, graphed): threads 1, 2, 4, 8, 16 ran 37.6k, 70.6k, 94.0k, 83.3k, 63.2k sequences/s in
# all; processes under MPS 1, 4, 8, 16 at least 18k, 50k, 62k and 121k (at most 34k, 134k, 250k, 457k).
RUNS_PER_GPU = 4
MPS_RUNS_PER_GPU = 16  # the most that was measured; more may add more
MAX_SEEDS = 100_000  # runs per configuration
MAX_HIDDEN = 8192
MAX_RUNS = 1_000_000  # runs one sweep may plan (each is a record of a few kB)


class Scope(str, Enum):
    """Where a setting acts: that decides where it may be set and what it is part of."""

    PLAN = "plan"  # which runs a sweep holds
    RUN = "run"  # copied into every run's configuration; part of its id (results depend on it)
    RUNTIME = "runtime"  # copied into every run's configuration; not part of its id (how, not what)
    EXECUTION = "execution"  # how the driver executes the sweep

    @property
    def per_block(self) -> bool:
        """Whether a sweep file's ``[[run]]`` blocks may set it (else only the file's top level)."""
        return self in (Scope.PLAN, Scope.RUN)


@dataclass(frozen=True)
class Setting:
    """One setting: name, type, default, accepted values, help, scope and command-line flags.

    ``default`` None means "unset": then an architecture's recommendation applies
    (``recommendable``), else the task's attribute ``from_task``, else ``fallback``.
    """

    name: str
    type: type
    default: Any
    help: str
    scope: Scope
    flags: tuple[str, ...] = ()
    many: bool = False  # a list: a repeatable option, a TOML array
    min: float | None = None
    max: float | None = None
    above: float | None = None
    choices: tuple = ()
    auto: bool = False  # also accepts the word "auto"
    recommendable: bool = False
    from_task: str | None = None
    fallback: Any = None
    since: str = FIRST_RELEASE  # run settings added later are left out of run ids at their default
    metavar: str | None = None
    nonempty: bool = False  # a list that must hold at least one value
    same_row: str = ""  # why runs that differ only in this run setting share a table row ("": they do not)

    @cached_property
    def value_param(self) -> Param:
        """A Param that validates one value (one element of a list setting)."""
        example = self.fallback if self.default is None or self.many else self.default
        if example is None or example == AUTO:
            example = self.choices[0] if self.choices else {int: 1, float: 1.0, str: "", bool: False}[self.type]
        return Param(self.name, self.type, example, self.help, min=self.min, max=self.max, above=self.above,
                     choices=self.choices)

    @property
    def option_flags(self) -> tuple[str, ...]:
        """The command-line flags: as declared, else ``--name-with-dashes``."""
        return self.flags or ("--" + self.name.replace("_", "-"),)

    def accepted(self) -> str:
        """The accepted values (of one element, for a list) in a few words."""
        kind = self.value_param.accepted()
        return f"{kind} or {AUTO}" if self.auto else kind

    def default_text(self) -> str:
        """How the default reads in help texts."""
        if self.default is None:
            parts = (["the architecture's recommendation"] if self.recommendable else []) + (
                ["the task's"] if self.from_task else []) + ([str(self.fallback)] if self.fallback is not None else [])
            return ", else ".join(parts) or "none"
        if self.many:
            return ", ".join(str(v) for v in self.default) or "none"
        return str(self.default)

    def validate(self, value: Any, where: str) -> Any:
        """Check a value (a list for list settings); return it normalised. ``where`` names its source."""
        if value is None and self.default is None:
            return None
        if self.many:
            if not isinstance(value, (list, tuple)):
                raise BenchError(f"{where}: {value!r:.60} is not a list (of values each {self.accepted()})")
            if self.nonempty and not value:
                raise BenchError(f"{where}: the list is empty; give at least one value (each {self.accepted()})")
            return tuple(self._one(item, where) for item in value)
        return self._one(value, where)

    def _one(self, value: Any, where: str, from_text: bool = False) -> Any:
        if self.auto and value == AUTO:
            return value
        if isinstance(value, str) and "\x00" in value:  # no path, name or option can hold one
            raise BenchError(f"{where}: {value!r:.60} holds a NUL character")
        try:
            return self.value_param.parse(value) if from_text else self.value_param.validate(value)
        except BenchError:
            raise BenchError(f"{where}: {value!r:.60} is not {self.accepted()}") from None

    def parse(self, text: str, where: str) -> Any:
        """A command-line string as a validated value."""
        return self._one(text, where, from_text=True)


def _s(name: str, type_: type, default: Any, scope: Scope, help_: str, **more: Any) -> Setting:
    return Setting(name, type_, default, help_, scope, **more)


P, R, T, E = Scope.PLAN, Scope.RUN, Scope.RUNTIME, Scope.EXECUTION
SETTINGS: tuple[Setting, ...] = (
    _s("archs", str, ("rnn", "lstm", "gru"), P, "Architecture with options (repeatable).", many=True, nonempty=True,
       flags=("-a", "--arch"), metavar="ARCH[:OPT=V,..]"),
    _s("tasks", str, ("task6a",), P, "Task with parameters (repeatable).", many=True, nonempty=True,
       flags=("-t", "--task"),
       metavar="TASK[:P=V,..]"),
    _s("params", str, (), P, "Parameter of every task (repeatable).", many=True, flags=("-p", "--param"),
       metavar="NAME=VALUE"),
    _s("gaps", int, (), P, "Lag of each task (repeatable, or comma-separated); sets each task's lag parameter.",
       many=True, flags=("--gap",), metavar="G[,G..]"),
    _s("seeds", int, 3, P, "Runs per configuration.", min=1, max=MAX_SEEDS),
    _s("master_seed", int, 0, P, "Master seed from which every run's seeds derive.", min=0, max=2 ** 63 - 1,
       flags=("--seed",)),
    _s("hidden", int, None, P, "Hidden size (an architecture preset may fix it).", min=1, max=MAX_HIDDEN, fallback=64),
    _s("match_params", int, None, R, "Choose each model's hidden size to have this many parameters (+-10%).",
       min=1, max=10 ** 7),
    _s("batch_size", int, None, R, "Sequences per step.", min=1, max=65_536, recommendable=True, fallback=16),
    _s("lr", float, None, R, "Learning rate.", above=0, max=1e6, recommendable=True, fallback=3e-3),
    _s("clip", float, None, R, "Gradient-norm clip, 0 for none.", min=0, max=1e9, recommendable=True, fallback=1.0),
    _s("optimizer", str, "adam", R, "Adam, or plain stochastic gradient descent (the 1997 paper's).",
       choices=("adam", "sgd"), since="0.2"),
    _s("output_units", str, "linear", R, "Output units: linear, trained on the task's loss (cross-entropy for "
       "classes); or sigmoid, trained on the squared error (the 1997 paper's).", choices=("linear", "sigmoid"),
       since="0.2"),
    _s("max_sequences", int, 100_000, R, "Training budget per run, in sequences.", min=1, max=10 ** 12,
       same_row="a larger budget continues the same experiment (same seeds, data and model), and each cell shows "
       "its own budget where it did not solve"),
    _s("threshold", float, None, R, "Test accuracy that counts as solved.", above=0, max=1,
       from_task="success_threshold"),
    _s("test_size", int, 2560, R, "Held-out test sequences (the paper's Task 6a test set: 2560).", min=1,
       max=10_000_000),
    _s("check_every", int, 1024, R, "Training sequences between success checks.", min=1, max=10 ** 12),
    _s("streak", int, 0, R, "Solved instead by the most recent N training sequences, each judged by the output the "
       "model gave while training on it: solved after the sequence that made all N right (the 1997 paper stopped at "
       "2000), or as streak_wrong and streak_error say; the run stops at the next success check and the test set "
       "measures its accuracy. 0: solved when the test accuracy reaches the threshold at a success check.", min=0,
       max=10_000_000, since="0.8"),
    _s("streak_wrong", int, 0, R, "With streak N: how many of the N may be wrong (the 1997 paper's Exp. 5 stopped "
       "when fewer than n_seq = 140 or 13 of the last 2000 were wrong: 139, 12).", min=0, max=10_000_000,
       since="0.9"),
    _s("streak_error", float, 0.0, R, "With streak N: their mean squared error sum_k (t_k - y_k)^2 must be below this "
       "too (the 1997 paper's ST3(beta): 0.01 for adding, 0.1 for temporal order); 0: no condition.", min=0,
       max=1e9, since="0.9"),
    _s("abs_error", float, 0.0, R, "A sequence is right when the absolute error of every output unit at its judged "
       "steps is below this (the 1997 paper's ABS(beta); class tasks need sigmoid output units); 0: the task's own "
       "criterion (the most active output for classes).", min=0, max=1, since="0.9"),
    _s("test_error", float, 0.0, R, "Solved by the test set also needs the mean absolute error of its sequences below "
       "this (the 1997 paper's ST2 in Exp. 3; value tasks); 0: no condition.", min=0, max=1e9, since="0.9"),
    _s("stop_set", int, 0, R, "Judge the test-set criterion on this many sequences that follow the test set in the "
       "test stream (the 1997 paper's 256 in Exp. 3), the test set measuring the accuracy at the end; 0: on the test "
       "set.", min=0, max=10_000_000, since="0.9"),
    _s("step_loss", str, "mean", R, "Per-step tasks: the training loss averages the asked steps' errors (mean) or sums "
       "them (sum: the 1997 paper's, a weight's update the sum of every step's contribution).",
       choices=("mean", "sum"), since="0.9"),
    _s("update", str, "sequence", R, "When weights change on per-step tasks: once per batch, from its summed or "
       "averaged step errors (sequence), or after every step with a target (step: the 1997 paper's real-time "
       "learning; needs an architecture that learns online, such as lstm1997 under the paper's protocol). The "
       "same on tasks with a target at the end only.", choices=("sequence", "step"), since="0.9"),
    _s("device", str, "auto", T, "Where runs train; auto: CUDA when available.", choices=("auto", "cpu", "cuda")),
    _s("threads", int, 1, T, "torch and numba threads per run.", min=1, max=1024),
    _s("allocator", str, "keep", T, "CPU memory of a run's process: keep (freed blocks of up to 1 GiB stay in the "
       "process for reuse, so a step's large arrays are not mapped and faulted in afresh at every step; glibc "
       "only) or system (the C library's defaults).", choices=("keep", "system")),
    _s("cuda_graphs", str, "auto", T, "Capture each training step in a CUDA graph: auto (on with CUDA), on "
       "(an error where it cannot be), off.", choices=("auto", "on", "off")),
    _s("output", str, "results.jsonl", E, "JSON Lines file that records are appended to; runs already recorded "
       "there are skipped.", flags=("-o", "--output")),
    _s("jobs", int, AUTO, E, "Runs at once. auto: one single-threaded worker process per CPU core; on CUDA, "
       f"{RUNS_PER_GPU} concurrent runs per GPU (threads of one worker process per GPU, each on its own CUDA stream), "
       f"or {MPS_RUNS_PER_GPU} worker processes per GPU where a CUDA MPS daemon runs (see the local executor).",
       min=1, max=4096, auto=True, flags=("-j", "--jobs"), metavar="N|auto"),
    _s("devices", int, (), E, "CUDA devices to spread runs over, e.g. 0,1; none: the current device.",
       many=True, min=0, max=1023, flags=("--devices",), metavar="I[,I..]"),
    _s("executor", str, "local", E, "Where runs execute, with options: local, or dask:scheduler=ADDRESS.",
       metavar="NAME[:OPT=V,..]"),
)
BY_NAME: Mapping[str, Setting] = {s.name: s for s in SETTINGS}


def in_scopes(*scopes: Scope) -> tuple[Setting, ...]:
    """The settings of the given scopes, in declaration order."""
    return tuple(s for s in SETTINGS if s.scope in scopes)


def row_settings() -> tuple[str, ...]:
    """The recorded settings that tell two table rows of one architecture apart: the hidden size and
    every run setting, unless its declaration says why runs differing in it share a row (``same_row``)."""
    return ("hidden",) + tuple(s.name for s in in_scopes(Scope.RUN) if not s.same_row)


def resolve(setting: Setting, value: Any, recommended: Mapping[str, Any], task: Any) -> Any:
    """A run setting's value for one run: the given value, else the architecture's recommendation,
    else the task's, else the fallback."""
    if value is not None:
        return value
    if setting.recommendable and setting.name in recommended:
        return recommended[setting.name]
    if setting.from_task:
        return getattr(task, setting.from_task)
    return setting.fallback


def recommendable() -> frozenset[str]:
    """The settings an architecture may recommend."""
    return frozenset(s.name for s in SETTINGS if s.recommendable)
