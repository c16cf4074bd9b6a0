"""The built-in executors, registered through the plugin hooks like any other package's
(``register_executors``): ``local`` (this process, or spawned worker processes) and ``dask``
(a dask.distributed cluster). Both are used through ``concurrent.futures.Executor``: the local pool
is a ``ProcessPoolExecutor`` (spawn context), dask's is ``Client.get_executor()``.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import multiprocessing
import signal
import sys
from contextlib import contextmanager
from typing import Iterator

from longdep_bench.errors import BenchError
from longdep_bench.hookspecs import hookimpl
from longdep_bench.params import Param
from longdep_bench.specs import ExecutorRequest, ExecutorSpec

PR_SET_PDEATHSIG = 1  # prctl option: the signal a process gets when its parent dies


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
def open_local(request: ExecutorRequest) -> Iterator[concurrent.futures.Executor | None]:
    """``jobs`` spawned worker processes, or this process (None) for one job."""
    if request.jobs == 1:
        yield None
        return
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=request.jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker)
    try:
        yield pool
    except BaseException:
        _stop_local_workers(pool)
        raise
    else:
        pool.shutdown(wait=True)


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
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise BenchError(f"cannot reach the dask scheduler at {scheduler}: {exc}") from None
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()


LOCAL = ExecutorSpec("local", "this machine: one run at a time in this process, or --jobs worker processes",
                     open_local)
DASK = ExecutorSpec("dask", "a dask.distributed cluster (pip install 'longdep-bench[dask]')", open_dask,
                    options=(Param("scheduler", str, "", "the scheduler's address, e.g. tcp://10.0.0.5:8786"),))


@hookimpl
def register_executors(register):
    """Register local and dask."""
    register(LOCAL)
    register(DASK)
