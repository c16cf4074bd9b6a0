"""Signals: SIGINT, SIGTERM and SIGHUP stop a command cleanly, with one line and exit 128 + the signal.

The command line (:func:`install`) turns each into :class:`~longdep_bench.system.errors.Interrupted` in the
main thread, so that a sweep stops its workers, keeps every record written and says how to resume.
Worker processes leave the signals to their driver (:func:`quiet_worker`): they ignore SIGINT and
SIGHUP, which a terminal sends to the whole process group, and die with the driver (Linux's
parent-death signal), set before they import anything heavy, so that no window leaves an orphan.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from longdep_bench.system.errors import Interrupted

STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # prctl option: the signal a process gets when its parent dies
DRIVER = "LONGDEP_BENCH_DRIVER"  # environment variable: the driver's pid, which its workers check
_received: list[int] = []


def _raise(signum: int, frame: object) -> None:
    _received.append(signum)
    raise Interrupted(signum)


def _unraisable(unraisable: Any) -> None:
    """An Interrupted that C code dropped (a handler that fired inside a ctypes callback) is kept by
    the handler and raised at the driver's next safe point: printing it would only leak a traceback."""
    if not isinstance(unraisable.exc_value, Interrupted):
        sys.__unraisablehook__(unraisable)


def install() -> None:
    """Make SIGINT, SIGTERM and SIGHUP raise Interrupted in this (the main) thread."""
    _received.clear()  # a new command: nothing asked it to stop yet
    sys.unraisablehook = _unraisable
    if threading.current_thread() is threading.main_thread():
        for signum in STOPPING:
            signal.signal(signum, _raise)


def received() -> int | None:
    """The first stopping signal this process received, if any."""
    return _received[0] if _received else None


def raise_if_received() -> None:
    """Raise Interrupted if a stopping signal came. The handler raises too, but an exception raised
    where C code calls back into Python (numba's cache hooks are ctypes callbacks) is printed and
    dropped; the driver calls this at every point where it can stop, so that no request is lost."""
    if _received:
        raise Interrupted(_received[0])


def mark_driver() -> None:
    """Tell the worker processes started from here who their driver is (see :func:`quiet_worker`)."""
    os.environ[DRIVER] = str(os.getpid())


LEFT_TO_DRIVER = (signal.SIGINT, signal.SIGHUP)  # what a terminal sends the whole group: workers ignore them


@contextlib.contextmanager
def held_for_workers() -> Iterator[None]:
    """While worker processes may be started here: SIGINT and SIGHUP blocked in this thread, so that a
    worker starts with them blocked (a mask survives exec) and no Ctrl-C reaches it before
    :func:`quiet_worker` ignores them. The driver gets a signal that arrived meanwhile when this ends
    and the thread's mask is what it was before (so that holds may nest)."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, LEFT_TO_DRIVER)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def quiet_worker() -> None:
    """In a worker process: ignore SIGINT and SIGHUP (the driver stops the workers; one that came while
    the worker started, blocked by :func:`held_for_workers`, is dropped) and die with the driver: the
    parent-death signal on Linux, and an exit now if the driver is already gone."""
    for signum in LEFT_TO_DRIVER:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, LEFT_TO_DRIVER)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass  # best effort
    driver = os.environ.get(DRIVER)
    if driver and driver.isdigit() and os.getppid() != int(driver):
        os._exit(1)  # the driver died before the parent-death signal was set


def quiet_startup() -> None:
    """In the command line's process, until its handlers are installed: a stopping signal during the
    imports exits at once with one line (not a traceback from somewhere in an import)."""
    def leave(signum: int, frame: object) -> None:
        os.write(2, b"longdep-bench: interrupted\n")
        os._exit(128 + signum)

    if threading.current_thread() is threading.main_thread():
        for signum in STOPPING:
            signal.signal(signum, leave)
