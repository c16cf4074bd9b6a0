"""Online training of one architecture on one task, with success detection on a held-out set.

Every training batch is freshly generated (no sequence is seen twice, as in the paper). Every
``check_every`` sequences the accuracy on the training sequences of that window is compared
with the success threshold; when it reaches it, the fixed test set confirms (or not) that the
task is solved (evaluation stops early once success is impossible). With the ``streak`` setting
(the paper's stopping rule) the run is solved instead after the training sequence that completed
a streak of that many right in a row (:mod:`longdep_bench.training.streak`): an online learner stops right
after that sequence, as the paper did (a batched step after its batch, at the next check), and the
whole test set is measured there. A learning curve records
the accuracy on the first 512 test sequences at 2048, 4096, 8192, ... sequences, plus every
full-test-set evaluation. Together they keep evaluation under 10% of the training time.

The contract checks before training (which run the model forward and backward, compiling what it
runs: numba, TorchScript, Triton) and the first steps of a run (one; on CUDA with graphs, the eager
warm-up steps and the capture) are timed apart as ``compile_seconds``: the training speed
(``sequences_per_second``) counts the steps after them only.

Before training, the task's first batches and the model's first outputs are checked against
their contracts (:mod:`longdep_bench.discovery.contracts`), so that a plugin's mistake ends the run with
one line naming the plugin and the rule, not with a raw error from deep inside torch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import torch

from longdep_bench.api.specs import Batch, TaskSpec
from longdep_bench.config.run_config import RunConfig, derive_seeds
from longdep_bench.config.settings import AUTO
from longdep_bench.discovery import contracts
from longdep_bench.discovery.registry import Registry, get_registry
from longdep_bench.results.records import RunRecord, Status
from longdep_bench.system.capture_gate import GATE
from longdep_bench.system.environment import configure_allocator, configure_threads, environment, resolve_device
from longdep_bench.system.timing import Stopwatch
from longdep_bench.training.objectives import Objective, run_objective
from longdep_bench.training.steps import ONLINE_CHUNK, OnlineStep, TrainingStep, prepare_step

EVAL_CHUNK = {"cpu": 128, "cuda": 1024}  # test sequences per forward pass (CPU: measured fastest for small RNNs)
CURVE_START = 2048  # first learning-curve point; then at every doubling
CURVE_SIZE = 512  # learning-curve points use the first 512 test sequences
STREAM_PROBE = 8  # sequences of the purity and stream-continuation check


def rows(batch: Batch, begin: int, end: int) -> Batch:
    """Sequences ``begin .. end - 1`` of a batch."""
    return Batch(
        inputs=batch.inputs[begin:end],
        lengths=batch.lengths[begin:end],
        targets=batch.targets[begin:end],
        extras={k: v[begin:end] for k, v in batch.extras.items()},
    )


@dataclass(frozen=True)
class Evaluation:
    """Accuracy (fraction of sequences right), mean training loss and, for value tasks, the mean
    absolute error (deviation) on an evaluation set."""

    accuracy: float
    loss: float
    deviation: float | None = None


@torch.no_grad()
def evaluate(model: torch.nn.Module, objective: Objective, batch: Batch, at_least: float | None = None,
             deviation: bool = False) -> Evaluation | None:
    """The model's accuracy and mean training loss on a batch of sequences (and with ``deviation``
    the mean absolute error of a value task's sequences).

    With ``at_least``, return None as soon as the errors so far make that accuracy impossible,
    which makes a failed success check cheap.
    """
    allowed_errors = math.inf if at_least is None else (1.0 - at_least) * len(batch)
    chunk = EVAL_CHUNK.get(batch.lengths.device.type, EVAL_CHUNK["cpu"])
    was_training = model.training
    model.eval()
    errors, loss_sum, deviation_sum = 0, 0.0, 0.0
    try:
        for begin in range(0, len(batch), chunk):
            part = rows(batch, begin, begin + chunk)
            outputs = model(part.inputs, part.lengths)
            errors += len(part) - int(objective.correct(outputs, part).sum())
            if errors > allowed_errors + 1e-9:
                return None
            loss_sum += float(objective.loss(outputs, part)) * len(part)
            if deviation:
                deviation_sum += float(objective.deviation(outputs, part).sum())
    finally:
        model.train(was_training)
    return Evaluation(1.0 - errors / len(batch), loss_sum / len(batch),
                      deviation_sum / len(batch) if deviation else None)


@dataclass
class Outcome:
    """What a training loop reached."""

    status: Status = Status.OK
    seen: int = 0
    sequences_to_solve: int | None = None
    test_accuracy: float = float("nan")
    test_loss: float = float("nan")
    n_params: int = 0
    curve: list = field(default_factory=list)
    milestones: dict[str, int] = field(default_factory=dict)  # criteria met before the one that solved the run
    warm_sequences: int = 0  # trained in the first steps, timed apart (compile_seconds), not in the speed
    compile_seconds: float = 0.0
    error: str | None = None
    runtime: dict[str, Any] = field(default_factory=dict)  # how the step ran (graphed, fallback, kernels)


class Run:
    """One training run: its configuration, the registry entries it uses, its seeds and clocks."""

    def __init__(self, config: RunConfig, registry: Registry | None = None):
        if config.device == AUTO:  # a configuration built by hand: the planner resolves the device
            config = dataclasses.replace(config, device=resolve_device(config.device))
        self.config = config
        registry = registry or get_registry()
        self.task_entry = registry.entry("task", config.task)
        self.arch_entry = registry.entry("architecture", config.arch)
        self.task: TaskSpec = self.task_entry.spec
        self.params = config.task_params(self.task)
        self.objective = run_objective(self.task, config)
        self.seeds = derive_seeds(config.master_seed, config.seed)
        self.device = torch.device(config.device)
        self.train_clock, self.eval_clock = Stopwatch(self.device), Stopwatch(self.device)
        self.compile_clock = Stopwatch(self.device)  # the first steps: compilation, warm-up, graph capture
        self.outcome = Outcome()

    def execute(self, on_check: Callable[[int, float], None] | None = None) -> RunRecord:
        """Train to success, divergence or budget and return the record. A non-finite loss ends the
        run as ``diverged``, an exception as ``error`` (with the plugin named where it is one's)."""
        configure_threads(self.config.threads)
        configure_allocator(self.config.allocator)
        try:
            with GATE.running() if self.device.type == "cuda" else contextlib.nullcontext():
                self._train(on_check)
        except contracts.PluginError as exc:
            self.outcome.status, self.outcome.error = Status.ERROR, str(exc)
        except Exception as exc:  # one failing run must not stop the sweep
            self.outcome.status, self.outcome.error = Status.ERROR, self._blame(exc)
        self.outcome.compile_seconds = self.compile_clock.seconds
        return RunRecord.from_run(self.config, self.task, self.seeds, self.outcome, self.train_clock.seconds,
                                  self.eval_clock.seconds, environment(self.device, self.config.threads),
                                  {"architecture": self.arch_entry.code(), "task": self.task_entry.code()})

    def _blame(self, exc: Exception) -> str:
        """One line for an unexpected exception, naming the plugin whose code it passed through, if any."""
        for kind, entry in (("architecture", self.arch_entry), ("task", self.task_entry)):
            if contracts.passed_through(exc, entry.package):
                return f"{contracts.owner(kind, entry)} failed: {contracts.fault(exc, entry.package)}"
        return contracts.fault(exc)

    def _generate(self, n: int, seed: int, start: int) -> Batch:
        return contracts.call_plugin("task", self.task_entry, self.task.generate, self.params, n, seed, start)

    def _held_out(self) -> tuple[Batch, Batch | None, Batch | None]:
        """The test set, the set the test criterion is judged on when it is not the test set
        (``stop_set``), and the task's fixed training set where it has one (NumPy batches)."""
        config, seeds = self.config, self.seeds
        fixed = None
        if self.task.fixed_sets is not None:
            fixed = contracts.call_plugin("task", self.task_entry, self.task.fixed_sets, self.params,
                                          config.test_size, seeds["data"], seeds["test"])
        test = fixed.test if fixed is not None else self._generate(config.test_size, seeds["test"], 0)
        contracts.check_batch(self.task_entry, self.params, test, config.test_size)
        stop = None
        if config.stop_set:
            stop = self._generate(config.stop_set, seeds["test"], config.test_size)
            contracts.check_batch(self.task_entry, self.params, stop, config.stop_set, test.inputs.shape[1])
        if fixed is not None:
            contracts.check_batch(self.task_entry, self.params, fixed.training, len(fixed.training),
                                  test.inputs.shape[1])
        return test, stop, fixed.training if fixed is not None else None

    def _prepare(self) -> tuple[Batch, TrainingStep | OnlineStep]:
        """Check the task's contract, make the held-out sets, build the model and check its outputs."""
        config = self.config
        contracts.check_stream(self.task_entry, self.params, self.seeds["data"], STREAM_PROBE)
        host_test, host_stop, host_training = self._held_out()
        self.stop_set = host_stop.to_torch(self.device) if host_stop is not None else None
        self.training_set = host_training.to_torch(self.device) if host_training is not None else None
        width = host_test.inputs.shape[1]
        test = host_test.to_torch(self.device)
        step = contracts.call_plugin(
            "architecture", self.arch_entry, prepare_step, config, self.task, self.arch_entry.spec, self.seeds,
            self.device, width,
            check=lambda batch, n: contracts.check_batch(self.task_entry, self.params, batch, n, width))
        io = self.task.model_io(self.params, width)
        probe = self._generate(contracts.probe_size(width, io), self.seeds["test"], 0).to_torch(self.device)
        with torch.no_grad():
            outputs = contracts.call_plugin("architecture", self.arch_entry, step.model, probe.inputs, probe.lengths)
        contracts.check_outputs(self.arch_entry, outputs, io, len(probe), width)
        contracts.check_padding(self.arch_entry, step.model, probe, io)
        contracts.check_registered_state(self.arch_entry, step.model)
        contracts.check_gradients(self.arch_entry, step.model, probe, self.objective.loss)
        return test, step

    def _train(self, on_check: Callable[[int, float], None] | None) -> None:
        config, outcome = self.config, self.outcome
        self.compile_clock.start()
        test, step = self._prepare()  # contract checks: the first forward and backward passes compile
        self.compile_clock.stop()
        model = step.model
        curve_set = rows(test, 0, CURVE_SIZE)
        outcome.n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        next_curve = CURVE_START
        window_seen = 0
        warm = step.warm_steps  # the first steps compile (numba, TorchScript, Triton) and capture: timed apart
        clock = self.compile_clock
        clock.start()
        while outcome.seen < config.max_sequences:
            GATE.let_captures_in()
            n = min(config.batch_size, config.max_sequences - outcome.seen)
            if step.online:  # as many as the learner takes at once, up to the next check
                n = min(ONLINE_CHUNK, config.max_sequences - outcome.seen, config.check_every - window_seen)
            n = step(outcome.seen, n)
            outcome.seen += n
            window_seen += n
            if warm:
                warm -= 1
                outcome.warm_sequences += n
                if not warm:
                    clock.stop()
                    clock = self.train_clock
                    clock.start()
            at_end = outcome.seen >= config.max_sequences
            stopped = step.online and step.streak is not None and step.streak.reached_at() is not None
            if window_seen < config.check_every and not at_end and not stopped:
                continue
            clock.stop()
            outcome.runtime = step.runtime()
            window_hits, window_loss = step.take_window()
            if not math.isfinite(window_loss):
                outcome.status, outcome.test_accuracy = Status.DIVERGED, float("nan")
                return
            window_accuracy = window_hits / window_seen
            if on_check is not None:
                on_check(outcome.seen, window_accuracy)
            self.eval_clock.start()
            if outcome.seen >= next_curve:
                point = evaluate(model, self.objective, curve_set)
                assert point is not None  # without at_least an evaluation is never abandoned
                outcome.curve.append([outcome.seen, point.accuracy])
                while next_curve <= outcome.seen:
                    next_curve *= 2
            if step.streak is not None:
                reached = step.streak.reached_at()
                if reached is not None or at_end:
                    self._test(model, test, None)
                    outcome.sequences_to_solve = reached
            elif window_accuracy >= cast(float, config.threshold) or at_end:
                if self._judge(model, test, at_end):
                    outcome.sequences_to_solve = outcome.seen
            self.eval_clock.stop()
            if outcome.sequences_to_solve is not None:
                return
            window_seen = 0
            clock.start()

    def _judge(self, model: torch.nn.Module, test: Batch, at_end: bool) -> bool:
        """Whether the test-set criterion holds now: the accuracy threshold on the test set (or the stop
        set), its mean absolute error below ``test_error`` where set (the accuracy alone is recorded as
        the ``accuracy`` milestone the first time it holds), and the threshold on the task's fixed
        training set where it has one. At the end of the budget the test set is measured whatever."""
        config, outcome = self.config, self.outcome
        threshold = cast(float, config.threshold)  # the planner resolves it (the task's success_threshold)
        deviation = config.test_error > 0
        if self.stop_set is None:
            result = self._test(model, test, None if at_end else threshold, deviation)
        else:
            result = evaluate(model, self.objective, self.stop_set, threshold, deviation)
        accurate = result is not None and result.accuracy >= threshold
        if accurate and deviation:
            outcome.milestones.setdefault("accuracy", outcome.seen)
        solved = accurate
        if solved and deviation:
            assert result is not None and result.deviation is not None  # accurate: measured, deviation included
            solved = result.deviation < config.test_error
        if solved and self.training_set is not None:
            trained = evaluate(model, self.objective, self.training_set, threshold)
            solved = trained is not None and trained.accuracy >= threshold
        if self.stop_set is not None and (solved or at_end):
            self._test(model, test, None)
        return solved

    def _test(self, model: torch.nn.Module, test: Batch, at_least: float | None, deviation: bool = False
              ) -> Evaluation | None:
        """Evaluate on the test set (abandoned once ``at_least`` is out of reach) and record the result."""
        result = evaluate(model, self.objective, test, at_least, deviation)
        if result is not None:
            self.outcome.test_accuracy, self.outcome.test_loss = result.accuracy, result.loss
            self.outcome.curve.append([self.outcome.seen, result.accuracy])
        return result


def train(config: RunConfig, on_check: Callable[[int, float], None] | None = None) -> RunRecord:
    """Run one configuration to success or budget and return its result record (never raises for
    a failing run: see :meth:`Run.execute`). ``on_check(seen, window_accuracy)`` is called at every
    success check."""
    return Run(config).execute(on_check)
