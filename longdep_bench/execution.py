"""Where runs execute: in this process, in local worker processes, or on a dask.distributed cluster.

Every engine is used through ``concurrent.futures.Executor``: the local pool is a
``ProcessPoolExecutor`` (spawn context), dask's is ``Client.get_executor()``. Workers only train
and return records; the driver alone writes the results file.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import multiprocessing
import signal
import sys
from contextlib import contextmanager
from typing import Iterator, Sequence

from longdep_bench.config import RunConfig
from longdep_bench.errors import BenchError
from longdep_bench.records import RunRecord
from longdep_bench.training import train

EXECUTORS = ("local", "dask")
PR_SET_PDEATHSIG = 1  # prctl option: the signal a process gets when its parent dies


class WorkerLost(Exception):
    """A worker died (killed, out of memory) and took its runs with it."""


def _init_worker() -> None:
    """Worker initialiser: Ctrl-C is the driver's to handle (it stops the workers), and on Linux
    a worker dies with its driver instead of running on as an orphan."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass  # best effort


def _stop_local_workers(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Stop a local pool now, running work included (ProcessPoolExecutor has no public way before 3.14)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)


@contextmanager
def open_executor(kind: str, jobs: int, scheduler: str | None) -> Iterator[concurrent.futures.Executor | None]:
    """An executor for ``kind`` ('local' with ``jobs`` processes, or 'dask' at ``scheduler``).

    ``local`` with one job yields None: runs execute in this process.
    """
    if kind == "dask":
        if not scheduler:
            raise BenchError("--executor dask needs --scheduler ADDRESS (for example tcp://10.0.0.5:8786)")
        try:
            from distributed import Client
        except ImportError:
            raise BenchError("--executor dask needs dask.distributed: pip install 'longdep-bench[dask]'") from None
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise BenchError(f"cannot reach the dask scheduler at {scheduler}: {exc}") from None
        try:
            yield client.get_executor(pure=False)
        finally:
            client.close()
        return
    if kind != "local":
        raise BenchError(f"unknown executor {kind!r}; known: {', '.join(EXECUTORS)}")
    if jobs < 1:
        raise BenchError("--jobs must be at least 1")
    if jobs == 1:
        yield None
        return
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker)
    try:
        yield pool
    except BaseException:
        _stop_local_workers(pool)
        raise
    else:
        pool.shutdown(wait=True)


def execute(configs: Sequence[RunConfig], executor: concurrent.futures.Executor | None) -> Iterator[RunRecord]:
    """Train every configuration and yield records as they finish (in completion order)."""
    if executor is None:
        for config in configs:
            yield train(config)
        return
    futures = {}
    for config in configs:
        futures[executor.submit(train, config)] = config
    for future in concurrent.futures.as_completed(futures):
        try:
            yield future.result()
        except concurrent.futures.process.BrokenProcessPool as exc:
            raise WorkerLost(f"a worker process died ({exc})") from None
