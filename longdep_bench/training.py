"""Online training of one architecture on one task, with success detection on a held-out set.

Every training batch is freshly generated (no sequence is seen twice, as in the paper). Every
``check_every`` sequences the accuracy on the training sequences of that window is compared
with the success threshold; when it reaches it, the fixed test set confirms (or not) that the
task is solved (evaluation stops early once success is impossible). A learning curve records
the accuracy on the first 512 test sequences at 2048, 4096, 8192, ... sequences, plus every
full-test-set evaluation. Together they keep evaluation under 10% of the training time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch

from longdep_bench.config import RunConfig, derive_seeds
from longdep_bench.environment import configure_threads, environment
from longdep_bench.objectives import correct_function, loss_function
from longdep_bench.records import RunRecord
from longdep_bench.registry import get_registry
from longdep_bench.specs import ArchitectureSpec, Batch, TaskSpec
from longdep_bench.steps import prepare_step
from longdep_bench.timing import Stopwatch

EVAL_CHUNK = 128  # test sequences per forward pass (measured fastest on CPU for small RNNs)
CURVE_START = 2048  # first learning-curve point; then at every doubling
CURVE_SIZE = 512  # learning-curve points use the first 512 test sequences


def _rows(batch: Batch, begin: int, end: int) -> Batch:
    """Sequences ``begin .. end - 1`` of a batch."""
    return Batch(
        inputs=batch.inputs[begin:end],
        lengths=batch.lengths[begin:end],
        targets=batch.targets[begin:end],
        extras={k: v[begin:end] for k, v in batch.extras.items()},
    )


@dataclass(frozen=True)
class Evaluation:
    """Accuracy (fraction of sequences right) and mean training loss on an evaluation set."""

    accuracy: float
    loss: float


@torch.no_grad()
def evaluate(model: torch.nn.Module, task: TaskSpec, batch: Batch, at_least: float | None = None) -> Evaluation | None:
    """The model's accuracy and mean loss on a batch of sequences.

    With ``at_least``, return None as soon as the errors so far make that accuracy impossible,
    which makes a failed success check cheap.
    """
    correct, loss = correct_function(task), loss_function(task)
    allowed_errors = math.inf if at_least is None else (1.0 - at_least) * len(batch)
    was_training = model.training
    model.eval()
    errors, loss_sum = 0, 0.0
    try:
        for begin in range(0, len(batch), EVAL_CHUNK):
            part = _rows(batch, begin, begin + EVAL_CHUNK)
            outputs = model(part.inputs, part.lengths)
            errors += len(part) - int(correct(outputs, part).sum())
            if errors > allowed_errors + 1e-9:
                return None
            loss_sum += float(loss(outputs, part)) * len(part)
    finally:
        model.train(was_training)
    return Evaluation(1.0 - errors / len(batch), loss_sum / len(batch))


@dataclass
class Outcome:
    """What a training loop reached."""

    status: str = "ok"
    seen: int = 0
    sequences_to_solve: int | None = None
    test_accuracy: float = float("nan")
    test_loss: float = float("nan")
    n_params: int = 0
    curve: list = field(default_factory=list)
    error: str | None = None


def _loop(config: RunConfig, task: TaskSpec, arch: ArchitectureSpec, seeds: dict[str, int],
          device: torch.device, clocks: tuple[Stopwatch, Stopwatch], outcome: Outcome,
          on_check: Callable[[int, float], None] | None) -> None:
    """Train until solved, diverged or out of budget, updating ``outcome`` as it goes."""
    train_clock, eval_clock = clocks
    test = task.generate(config.params, config.test_size, seeds["test"], 0).to_torch(device)
    curve_set = _rows(test, 0, CURVE_SIZE)
    step = prepare_step(config, task, arch, seeds, device, test.inputs.shape[1])
    model = step.model
    outcome.n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    correct = correct_function(task)
    next_curve = CURVE_START
    window_hits, window_loss, window_seen = 0, 0.0, 0
    task.generate(config.params, config.batch_size, seeds["data"], 0)  # compile or load the kernels untimed
    train_clock.start()
    while outcome.seen < config.max_sequences:
        n = min(config.batch_size, config.max_sequences - outcome.seen)
        batch, loss, outputs = step(outcome.seen, n)
        window_hits = window_hits + correct(outputs, batch).sum()  # stays on the device
        window_loss = window_loss + loss * n
        outcome.seen += n
        window_seen += n
        at_end = outcome.seen >= config.max_sequences
        if window_seen < config.check_every and not at_end:
            continue
        train_clock.stop()
        if not math.isfinite(float(window_loss)):
            outcome.status, outcome.test_accuracy = "diverged", float("nan")
            return
        window_accuracy = float(window_hits) / window_seen
        if on_check is not None:
            on_check(outcome.seen, window_accuracy)
        eval_clock.start()
        if outcome.seen >= next_curve:
            outcome.curve.append([outcome.seen, evaluate(model, task, curve_set).accuracy])
            while next_curve <= outcome.seen:
                next_curve *= 2
        if window_accuracy >= config.threshold or at_end:
            result = evaluate(model, task, test, None if at_end else config.threshold)
            if result is not None:
                outcome.test_accuracy, outcome.test_loss = result.accuracy, result.loss
                outcome.curve.append([outcome.seen, result.accuracy])
                if result.accuracy >= config.threshold:
                    outcome.sequences_to_solve = outcome.seen
        eval_clock.stop()
        if outcome.sequences_to_solve is not None:
            return
        window_hits, window_loss, window_seen = 0, 0.0, 0
        train_clock.start()


def train(config: RunConfig, on_check: Callable[[int, float], None] | None = None) -> RunRecord:
    """Run one configuration to success or budget and return its result record.

    A non-finite loss ends the run as ``diverged``; an exception ends it as ``error``. Neither
    propagates, so that one bad run never stops a sweep. ``on_check(seen, window_accuracy)`` is
    called at every success check.
    """
    configure_threads(config.threads)
    device = torch.device(config.device)
    seeds = derive_seeds(config.master_seed, config.seed)
    registry = get_registry()
    task = registry.task(config.task)
    clocks = (Stopwatch(device), Stopwatch(device))
    outcome = Outcome()
    try:
        _loop(config, task, registry.architecture(config.arch), seeds, device, clocks, outcome, on_check)
    except Exception as exc:  # one failing run must not stop the sweep
        outcome.status, outcome.error = "error", f"{type(exc).__name__}: {exc}"
    return RunRecord.from_run(config, task, seeds, outcome, clocks[0].seconds, clocks[1].seconds,
                              environment(device, config.threads))
