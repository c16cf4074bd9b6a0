"""One training step on fresh data: the unit that training runs and speed benchmarks both time.

A step generates its sequences on the host, then runs forward, loss, backward, gradient-norm
clipping and the optimiser update, and adds the batch's correct count and summed loss to the
window's totals (and, with the ``streak`` setting, the training sequences right in a row:
:mod:`longdep_bench.training.streak`), which stay on the device until the trainer reads them.

On the CPU a step is plain eager PyTorch on the generated arrays (zero-copy), bit for bit as
before CUDA graphs existed. On CUDA every batch goes through pinned host slots into static device
buffers with a non-blocking copy; the first ``WARMUP_STEPS`` full batches run eagerly on a side
stream, then the whole step (including the window's totals) is captured once in a CUDA graph and
replayed for every later full batch (``cuda_graphs`` auto/on; shapes are fixed because the batch
size is fixed and every batch is padded to the task's maximum length). A short last batch runs
eagerly. If capture fails, or the architecture declares ``cuda_graphs=False``, the step runs
eagerly on the same buffers (``on`` makes that an error), and :meth:`runtime` says why. Other runs
of the process pause their GPU work while a step captures (:mod:`longdep_bench.system.capture_gate`).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from typing import Any, cast

import numpy as np
import torch

from longdep_bench.api.specs import ArchitectureSpec, Batch, ModelIO, OnlineSetup, OutputKind, TaskSpec
from longdep_bench.system.capture_gate import GATE
from longdep_bench.system.errors import BenchError
from longdep_bench.system.timing import synchronize
from longdep_bench.training.objectives import Objective, run_objective
from longdep_bench.training.streak import Streak

WARMUP_STEPS = 3  # eager steps before capture: lazy initialisation (cuBLAS, autograd, optimiser state)
PINNED_SLOTS = 4  # host staging buffers in flight
_BUILD_LOCK = threading.Lock()  # model initialisation draws from torch's process-wide generator


class GraphCaptureError(RuntimeError):
    """``cuda_graphs=on`` and the step could not be captured."""


def build_model(spec: ArchitectureSpec, io: ModelIO, config: Any, init_seed: int, device: torch.device
                ) -> torch.nn.Module:
    """The configuration's model, initialised from ``init_seed`` (thread-safe: the global generator
    is forked, so concurrent builds in one process neither disturb nor depend on each other).
    Options the configuration lacks (a record written before the option existed) take their defaults."""
    options = {**{p.name: p.default for p in spec.options}, **config.build_options()}
    with _BUILD_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = spec.build(io, config.hidden, options)
    model = model.to(device)
    model.train()
    return model


def prepare_step(config: Any, task: TaskSpec, arch: ArchitectureSpec, seeds: Mapping[str, int], device: torch.device,
                 width: int, check: Callable[[Batch, int], None] | None = None) -> TrainingStep | OnlineStep:
    """The configuration's model (from its init seed) on ``device`` for batches ``width`` steps wide,
    and its training step: the model's own online learner where it offers one for this run, else
    autograd and the optimiser."""
    model = build_model(arch, task.model_io(config.task_params(task), width), config, seeds["init"], device)
    offer = getattr(model, "online_learner", None)
    if callable(offer):
        learner = offer(OnlineSetup(lr=config.lr, optimizer=config.optimizer, batch_size=config.batch_size,
                                    clip=config.clip, output_units=config.output_units, step_loss=config.step_loss,
                                    device=device.type, output=task.output, update=config.update))
        if learner is not None:
            return OnlineStep(model, learner, task, config, seeds["data"], device, check)
    if config.update == "step" and task.output is OutputKind.CLASS_PER_STEP:
        raise BenchError(f"update=step needs an architecture that learns online; {arch.name} trains by autograd here "
                         "(lstm1997 learns online under the paper's protocol: a preset or learning=auto, sgd, batch "
                         "size 1, no clipping, sigmoid output units)")
    return TrainingStep(model, task, arch, config, seeds["data"], device, check)


class WindowTotals:
    """What training sequences gave since the last success check: the right ones and the summed
    loss, kept on the device, and the stopping rule's window (:class:`Streak`) where the run has one."""

    def __init__(self, objective: Objective, config: Any, device: torch.device):
        self.objective = objective
        self.hits = torch.zeros((), dtype=torch.int64, device=device)
        self.loss_sum = torch.zeros((), dtype=torch.float32, device=device)
        self.streak = (Streak(config.streak, device, config.streak_wrong, config.streak_error) if config.streak
                       else None)

    @torch.no_grad()
    def add(self, outputs: torch.Tensor, batch: Batch, loss: torch.Tensor, n: int) -> None:
        """Count a trained batch: its outputs (as the model gave them while training) and mean loss."""
        right = self.objective.correct(outputs, batch)
        self.hits += right.sum()
        self.loss_sum += loss * n
        if self.streak is not None:
            errors = self.objective.error(outputs, batch) if self.streak.error > 0 else None
            self.streak.add(right, errors)

    def take(self) -> tuple[int, float]:
        """The correct count and summed loss since the last call (this waits for the device), then zero them."""
        hits, loss = int(self.hits), float(self.loss_sum)
        self.hits.zero_()
        self.loss_sum.zero_()
        return hits, loss


def make_optimizer(name: str, parameters: Any, lr: float, device: torch.device) -> torch.optim.Optimizer:
    """Adam, or plain SGD; on CUDA Adam keeps its step count on the device so that it can be captured."""
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr)
    if device.type == "cuda":
        return torch.optim.Adam(parameters, lr=lr, capturable=True)
    return torch.optim.Adam(parameters, lr=lr)


def graphs_wanted(setting: str, device: torch.device, spec: ArchitectureSpec) -> tuple[bool, str | None]:
    """Whether to capture the step, and why not when the setting allowed it."""
    if device.type != "cuda" or setting == "off":
        return False, None
    if not spec.cuda_graphs:
        reason = f"architecture {spec.name!r} declares that it must not be captured (cuda_graphs=False)"
        if setting == "on":
            raise GraphCaptureError(f"--cuda-graphs on: {reason}")
        return False, reason
    return True, None


def capture(body: Callable[[], None]) -> Callable[[], None]:
    """Capture ``body`` (its kernels, not run now) in a CUDA graph; return the graph's replay.

    Each capture has its own stream (``torch.cuda.graph`` would otherwise use one default capture
    stream for every graph of the process) and a thread-local capture mode; the caller holds the
    capture gate (:mod:`longdep_bench.system.capture_gate`), so no other run of the process issues work
    meanwhile."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=torch.cuda.Stream(), capture_error_mode="thread_local"):
        body()
    return graph.replay


class _Staging:
    """Host slots (pinned on CUDA) and static device buffers for one batch shape; copies never block
    the host except to reuse a slot whose previous copy has not left it yet."""

    def __init__(self, first: Batch, device: torch.device):
        arrays = first.arrays()
        self.cuda = device.type == "cuda"
        self.slots = [{k: torch.empty(v.shape, dtype=torch.from_numpy(v).dtype, pin_memory=self.cuda)
                       for k, v in arrays.items()} for _ in range(PINNED_SLOTS)]
        self.events: list[Any] = [None] * PINNED_SLOTS
        static = {k: torch.empty(v.shape, dtype=torch.from_numpy(v).dtype, device=device) for k, v in arrays.items()}
        extras = {k: static[k] for k in first.extras}
        self.batch = Batch(static["inputs"], static["lengths"], static["targets"], extras)
        self.static = static
        self.turn = 0

    def load(self, host: Batch) -> None:
        """Copy a host batch into the static buffers (stream-ordered, non-blocking)."""
        slot = self.turn % PINNED_SLOTS
        self.turn += 1
        if self.events[slot] is not None:
            self.events[slot].synchronize()
        pinned = self.slots[slot]
        for name, array in host.arrays().items():
            np.copyto(pinned[name].numpy(), array)
            self.static[name].copy_(pinned[name], non_blocking=True)
        if self.cuda:
            event = torch.cuda.Event()
            event.record()
            self.events[slot] = event


class TrainingStep:
    """Generate sequences, then forward, loss, backward, clipping and an optimiser update."""

    online = False

    @property
    def warm_steps(self) -> int:
        """Steps that compile or capture rather than train at speed: the first; on CUDA with graphs,
        the eager warm-up steps and the capture."""
        return WARMUP_STEPS + 1 if self.wanted else 1

    def __init__(self, model: torch.nn.Module, task: TaskSpec, arch: ArchitectureSpec, config: Any, data_seed: int,
                 device: torch.device, check: Callable[[Batch, int], None] | None = None):
        self.model, self.task, self.params = model, task, config.task_params(task)
        self.data_seed, self.device, self.clip = data_seed, device, config.clip
        self.batch_size = config.batch_size
        self.objective = run_objective(task, config)
        self.optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr, device)
        self.totals = WindowTotals(self.objective, config, device)
        self.streak = self.totals.streak
        self.check, self.first = check, True  # the batch contract: the first batch, and any that fails a step
        self.setting = config.cuda_graphs
        self.wanted, self.fallback = graphs_wanted(self.setting, device, arch)
        self.static = device.type == "cuda"  # batches through static buffers (so that they can be captured)
        self.staging: _Staging | None = None
        self.replay: Callable[[], None] | None = None
        self.full_steps = 0

    def __call__(self, start: int, n: int) -> int:
        """Train on sequences ``start .. start + n - 1`` of the data stream and return ``n`` (one
        update: a stopping rule met inside the batch stops the run after it). Nothing here waits
        for the device."""
        host = self.task.generate(self.params, n, self.data_seed, start)
        if self.first and self.check is not None:
            self.check(host, n)
        self.first = False
        try:
            self._dispatch(host, n)
        except Exception:
            if self.check is not None:
                self.check(host, n)  # a batch that breaks its contract is the task's fault: say so
            raise
        return n

    def _dispatch(self, host: Batch, n: int) -> None:
        if not self.static or n != self.batch_size:  # the CPU, or a short last batch: eager on fresh tensors
            self._body(host.to_torch(self.device), n)
            return
        if self.staging is None:
            self.staging = _Staging(host, self.device)
        self.staging.load(host)
        self.full_steps += 1
        if self.replay is not None:
            self.replay()
        elif self.wanted and self.full_steps > WARMUP_STEPS:
            self._capture(n)
        elif self.wanted:
            self._warm_up(n)
        else:
            self._body(self.staging.batch, n)

    def _body(self, batch: Batch, n: int) -> None:
        self.optimizer.zero_grad(set_to_none=self.device.type != "cuda")
        outputs = self.model(batch.inputs, batch.lengths)
        loss = self.objective.loss(outputs, batch)
        loss.backward()
        if self.clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.optimizer.step()
        self.totals.add(outputs.detach(), batch, loss.detach(), n)

    def _warm_up(self, n: int) -> None:
        """An eager step on a side stream, as CUDA graph capture wants its warm-up steps (on the CPU,
        where tests stage and replay steps without a GPU, an eager step)."""
        assert self.staging is not None  # called by _dispatch once the buffers exist
        if self.device.type != "cuda":
            self._body(self.staging.batch, n)
            return
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            self._body(self.staging.batch, n)
        torch.cuda.current_stream(self.device).wait_stream(side)

    def _capture(self, n: int) -> None:
        """Capture the step, then replay it for this batch; on failure run eagerly from now on."""
        assert self.staging is not None  # called by _dispatch once the buffers exist
        try:
            with GATE.capturing():
                synchronize(self.device)
                replay = capture(lambda: self._body(cast(_Staging, self.staging).batch, n))
        except Exception as exc:  # host syncs, data-dependent shapes, unsupported kernels
            synchronize(self.device)
            reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            if self.setting == "on":
                raise GraphCaptureError(f"--cuda-graphs on: the training step could not be captured ({reason})"
                                        ) from exc
            self.wanted, self.fallback = False, f"CUDA graph capture failed ({reason}); ran eagerly"
            self._body(self.staging.batch, n)
            return
        self.replay = replay
        replay()

    def take_window(self) -> tuple[int, float]:
        """The correct count and summed loss since the last call (this waits for the device), then zero them."""
        return self.totals.take()

    def runtime(self) -> dict[str, Any]:
        """How the step ran: whether it was graphed, why not if it could have been, and what the
        model's modules report about themselves (``runtime_info()``, e.g. the kernel that ran)."""
        return {"graphed": self.replay is not None, "graph_fallback": self.fallback, **module_info(self.model)}


def module_info(model: torch.nn.Module) -> dict[str, Any]:
    """What the model's modules report about how they ran (``runtime_info()``, e.g. the kernel)."""
    info: dict[str, Any] = {}
    for module in model.modules():
        if callable(getattr(module, "runtime_info", None)):
            info.update(cast(Any, module).runtime_info())
    return info


ONLINE_CHUNK = 256  # sequences an online learner trains on per call (one after another; the size changes nothing)


class OnlineStep:
    """Training sequences given to a model's own online learner (``model.online_learner``), which
    trains on them one after another and returns the outputs each gave while it was trained on;
    the window's totals and stopping rule follow those outputs as :class:`TrainingStep`'s do. The
    learner's chunk of sequences is an execution detail: any chunking trains the same."""

    online = True
    warm_steps = 1  # the first call compiles the learner's kernel (or loads it from numba's cache)

    def __init__(self, model: torch.nn.Module, learner: Any, task: TaskSpec, config: Any, data_seed: int,
                 device: torch.device, check: Callable[[Batch, int], None] | None = None):
        self.model, self.learner, self.task, self.params = model, learner, task, config.task_params(task)
        self.data_seed, self.device, self.check = data_seed, device, check
        self.objective = run_objective(task, config)
        self.totals = WindowTotals(self.objective, config, device)
        self.streak = self.totals.streak

    def __call__(self, start: int, n: int) -> int:
        """Train on sequences ``start .. start + n - 1`` of the data stream and return how many it
        trained on: all of them, or, where the stopping rule first held after one of them, the
        sequences up to that one only (trained again from copies of the learner, its model and the
        window taken before), so that the run stops where the paper's stopped."""
        watching = self.streak is not None and self.streak.reached_at() is None
        saved = self._snapshot() if watching else None
        self._train(self.task.generate(self.params, n, self.data_seed, start), n)
        reached = cast(Streak, self.streak).reached_at() if watching else None  # watching: there is a streak
        if saved is None or reached is None or reached == start + n:
            return n
        self.learner, self.totals, state = saved
        self.streak = self.totals.streak
        self.model.load_state_dict(state)
        kept = reached - start
        self._train(self.task.generate(self.params, kept, self.data_seed, start), kept)
        return kept

    def _snapshot(self) -> tuple[Any, WindowTotals, dict[str, torch.Tensor]]:
        """Copies of the learner (sharing the model), the window totals and the model's weights."""
        shared = {id(self.model): self.model, id(self.objective): self.objective}
        state = {name: value.clone() for name, value in self.model.state_dict().items()}
        return copy.deepcopy(self.learner, shared), copy.deepcopy(self.totals, shared), state

    def _train(self, host: Batch, n: int) -> None:
        if self.check is not None:
            self.check(host, n)  # every batch: a learner in compiled code may not notice a bad target
        outputs = self.learner.train(host).to(self.device)
        batch = host.to_torch(self.device)
        with torch.no_grad():
            self.totals.add(outputs, batch, self.objective.loss(outputs, batch), n)

    def take_window(self) -> tuple[int, float]:
        """The correct count and summed loss since the last call, then zero them."""
        return self.totals.take()

    def runtime(self) -> dict[str, Any]:
        """How the step ran: never graphed; what the model's modules report (the learning rule)."""
        return {"graphed": False, "graph_fallback": None, **module_info(self.model)}
