"""The built-in executors, registered through the plugin hooks like any other package's
(``register_executors``): ``local`` (this process, or spawned worker processes) and ``dask``
(a dask.distributed cluster). All are used through ``concurrent.futures.Executor``.

``local`` on a CPU is a ``ProcessPoolExecutor`` (spawn context): one single-threaded run per
process, because small RNNs run faster as one process per core than as one process with several
threads. ``local`` on CUDA is a :class:`GpuPool`, which shares each GPU as its option
``gpu_sharing`` says: ``threads``, one worker process per GPU running several runs at once, each
thread on its own CUDA stream (graph replays on different streams of one context can overlap);
or ``processes``, one worker process per run. Separate processes add up on one GPU only under
CUDA MPS (without it the GPU time-slices between their contexts); with it 16 of them ran more
sequences per second than the best number of threads on an H100 (``settings.RUNS_PER_GPU``).
``auto`` takes processes where an MPS control daemon runs, threads elsewhere.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import logging
import multiprocessing
import os
import queue
import signal
import stat
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from longdep_bench.api.hookspecs import hookimpl
from longdep_bench.api.params import Param
from longdep_bench.api.specs import ExecutorRequest, ExecutorSpec
from longdep_bench.config.settings import AUTO, MPS_RUNS_PER_GPU, RUNS_PER_GPU
from longdep_bench.system.errors import BenchError, EnvironmentFailure
from longdep_bench.system.signals import held_for_workers, quiet_worker


def _init_worker() -> None:
    """Worker initialiser: what ``longdep_bench``'s import already did in a spawned worker (signals
    left to the driver, death with it), again for a worker that imported the package before."""
    quiet_worker()


def _stop_local_workers(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Stop a local pool now, running work included (ProcessPoolExecutor has no public way before 3.14)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)


class LocalPool(concurrent.futures.ProcessPoolExecutor):
    """A process pool whose workers start with the terminal's signals held (:func:`held_for_workers`):
    ``submit`` is where a pool starts its worker processes."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        """Submit ``fn(*args, **kwargs)``, starting worker processes with SIGINT and SIGHUP held."""
        with held_for_workers():
            return super().submit(fn, *args, **kwargs)


def _gpu_worker(device: int | None, threads: int, tasks: Any, results: Any) -> None:
    """A GPU worker process: ``threads`` threads, each on its own CUDA stream, take tasks until None."""
    _init_worker()
    import torch

    def work() -> None:
        if device is not None:
            torch.cuda.set_device(device)  # the current device is a per-thread setting
        with torch.cuda.stream(torch.cuda.Stream()) if torch.cuda.is_available() else contextlib.nullcontext():
            while (task := tasks.get()) is not None:
                number, function, args = task
                try:
                    results.put((number, True, function(*args)))
                except BaseException as exc:  # reported to the driver as the future's exception
                    results.put((number, False, exc))

    workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


class GpuPool(concurrent.futures.Executor):
    """An executor of one spawned worker process per GPU, each running ``threads`` tasks at once.

    Tasks go to whichever thread is free; results come back through a queue that a collector
    thread turns into futures. If a worker process dies (killed, out of host memory), every
    unfinished future fails with ``BrokenProcessPool`` instead of waiting forever.
    """

    def __init__(self, devices: Sequence[int | None], threads: int):
        context = multiprocessing.get_context("spawn")
        self.tasks, self.results = context.Queue(), context.Queue()
        self.threads = threads
        self.processes = [context.Process(target=_gpu_worker, args=(device, threads, self.tasks, self.results),
                                          daemon=True) for device in devices]
        with held_for_workers():
            for process in self.processes:
                process.start()
        self.futures: dict[int, concurrent.futures.Future] = {}
        self.numbers = itertools.count()
        self.lock = threading.Lock()
        self.closing = False
        self.collector = threading.Thread(target=self._collect, daemon=True)
        self.collector.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        """Queue ``fn(*args)`` (keyword arguments are not supported) for the next free worker thread."""
        if kwargs:
            raise TypeError("GpuPool.submit takes positional arguments only")
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self.lock:
            number = next(self.numbers)
            self.futures[number] = future
        self.tasks.put((number, fn, args))
        return future

    def _collect(self) -> None:
        while True:
            try:
                number, ok, value = self.results.get(timeout=1.0)
            except queue.Empty:
                if self.closing:
                    return
                dead = [p for p in self.processes if p.exitcode is not None]
                if dead:
                    self._fail_all(f"a GPU worker process died (exit code {dead[0].exitcode})")
                    return
                continue
            with self.lock:
                future = self.futures.pop(number)
            future.set_result(value) if ok else future.set_exception(value)

    def _fail_all(self, reason: str) -> None:
        with self.lock:
            pending, self.futures = list(self.futures.values()), {}
        for future in pending:
            future.set_exception(BrokenProcessPool(reason))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the workers: after their tasks (``wait``), or now (``cancel_futures``: running runs too)."""
        self.closing = True
        if cancel_futures or not wait:
            for process in self.processes:
                process.terminate()
        else:
            for _ in range(len(self.processes) * self.threads):
                self.tasks.put(None)
        for process in self.processes:
            process.join(timeout=None if wait and not cancel_futures else 5)
        self.collector.join(timeout=5)


def _devices(request: ExecutorRequest) -> list[int | None]:
    """The GPUs to use: those of --devices, checked against the machine, or the current one (None)."""
    import torch

    count = torch.cuda.device_count()
    missing = [d for d in request.devices if d >= count]
    if missing:
        raise BenchError(f"--devices {','.join(map(str, request.devices))}: no CUDA device {missing[0]} on this "
                         f"machine (it has {count}: 0..{count - 1})")
    return list(request.devices) or [None]


def start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker ignoring SIGHUP, as it ignores SIGINT and SIGTERM: a
    hang-up sent to the whole process group must not kill it (a tracker relaunched mid-sweep prints
    tracebacks about the semaphores its predecessor knew)."""
    from multiprocessing import resource_tracker

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # an ignored signal stays ignored in the child
    try:
        resource_tracker.ensure_running()
    finally:
        signal.signal(signal.SIGHUP, previous)


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def mps_running() -> bool:
    """Whether a CUDA MPS control daemon listens where this process's CUDA clients would look for it
    (``CUDA_MPS_PIPE_DIRECTORY``, default /tmp/nvidia-mps)."""
    pipe = os.path.join(os.environ.get("CUDA_MPS_PIPE_DIRECTORY", "/tmp/nvidia-mps"), "control")
    try:
        return stat.S_ISSOCK(os.stat(pipe).st_mode)
    except OSError:
        return False


def gpu_sharing(options: Mapping[str, Any]) -> str:
    """The local executor's ``gpu_sharing`` option resolved: threads or processes."""
    sharing = options.get("gpu_sharing", AUTO)
    if sharing == AUTO:
        return "processes" if mps_running() else "threads"
    return sharing


def local_jobs(runs: int, device: str, devices: Sequence[int], options: Mapping[str, Any]) -> int:
    """--jobs auto on this machine: one single-threaded worker per CPU core on a CPU; on CUDA per GPU,
    RUNS_PER_GPU runs as threads, MPS_RUNS_PER_GPU as processes under MPS (one without it: separate
    graphed processes do not add up); never more than the runs to do."""
    if device == "cuda":
        sharing = gpu_sharing(options)
        per_gpu = RUNS_PER_GPU if sharing == "threads" else MPS_RUNS_PER_GPU if mps_running() else 1
        slots = per_gpu * max(1, len(devices))
    else:
        slots = available_cores()
    return max(1, min(slots, runs))


@contextmanager
def open_local(request: ExecutorRequest) -> Iterator[concurrent.futures.Executor | None]:
    """This process (None) for one job; else ``jobs`` spawned single-threaded worker processes on a
    CPU, or a GpuPool with ``jobs`` runs at once spread over the GPUs on CUDA, as threads or as
    processes (``gpu_sharing``)."""
    if request.devices and request.device != "cuda":
        raise BenchError(f"--devices {','.join(map(str, request.devices))} needs CUDA, and these runs train on the CPU")
    devices = _devices(request) if request.device == "cuda" else []
    if request.jobs == 1 and len(devices) <= 1:
        if devices and devices[0] is not None:
            import torch

            torch.cuda.set_device(devices[0])
        yield None
        return
    start_resource_tracker()
    if devices:
        per_gpu = -(-request.jobs // len(devices))
        if gpu_sharing(request.options) == "threads":
            pool: GpuPool | LocalPool = GpuPool(devices, threads=per_gpu)
        else:
            pool = GpuPool([device for device in devices for _ in range(per_gpu)], threads=1)
    else:
        pool = LocalPool(max_workers=request.jobs, mp_context=multiprocessing.get_context("spawn"),
                         initializer=_init_worker)
    try:
        yield pool
    except BaseException:
        if isinstance(pool, GpuPool):
            pool.shutdown(wait=False, cancel_futures=True)
        else:
            _stop_local_workers(pool)
        raise
    else:
        pool.shutdown(wait=True)


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """Silence a library's logger (dask.distributed logs a lost scheduler as tracebacks on stderr): the
    command's one line says what happened."""
    names = [name for name in logging.root.manager.loggerDict if name == logger or name.startswith(logger + ".")]
    logs = [logging.getLogger(name) for name in names or [logger]]
    levels = [log.level for log in logs]
    for log in logs:
        log.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for log, level in zip(logs, levels):
            log.setLevel(level)


@contextmanager
def open_dask(request: ExecutorRequest) -> Iterator[concurrent.futures.Executor]:
    """The executor of a dask.distributed cluster at the ``scheduler`` option's address."""
    scheduler = request.options["scheduler"]
    if not scheduler:
        raise BenchError("--executor dask needs the scheduler's address: --executor dask:scheduler=tcp://HOST:8786")
    try:
        from distributed import Client
    except ImportError:
        raise BenchError("--executor dask needs dask.distributed: pip install 'longdep-bench[dask]'") from None
    with _quiet("distributed"):  # its loggers exist once distributed is imported
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise EnvironmentFailure(f"cannot reach the dask scheduler at {scheduler}: {exc}") from None
        try:
            yield client.get_executor(pure=False)
        except EnvironmentFailure as exc:
            raise EnvironmentFailure(f"lost the dask scheduler at {scheduler} ({exc})") from None
        finally:
            try:
                client.close(timeout=5)
            except Exception:  # the scheduler is gone: nothing left to close cleanly
                pass


LOCAL = ExecutorSpec("local", "this machine: --jobs worker processes on a CPU; on CUDA, --jobs concurrent runs "
                     "spread over the GPUs of --devices, shared as gpu_sharing says", open_local,
                     options=(Param("gpu_sharing", str, AUTO, "how runs share a GPU: threads (one worker process "
                                    "per GPU, one CUDA stream per run), processes (one worker process per run; they "
                                    "add up only under CUDA MPS), or auto (processes where a CUDA MPS daemon runs, "
                                    "else threads)", choices=(AUTO, "threads", "processes")),),
                     auto_jobs=local_jobs)
DASK = ExecutorSpec("dask", "a dask.distributed cluster (pip install 'longdep-bench[dask]')", open_dask,
                    options=(Param("scheduler", str, "", "the scheduler's address, e.g. tcp://10.0.0.5:8786"),))


@hookimpl
def register_executors(register):
    """Register local and dask."""
    register(LOCAL)
    register(DASK)
