"""A stop request is never lost, even when its handler's exception is dropped by C code."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

import pytest

from longdep_bench.system import signals
from longdep_bench.system.errors import Interrupted


@pytest.fixture
def installed():
    previous = {signum: signal.getsignal(signum) for signum in signals.STOPPING}
    signals.install()
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)
    signals._received.clear()


def test_a_signal_inside_a_ctypes_callback_is_still_a_stop(installed, monkeypatch):
    """numba's cache hooks are ctypes callbacks: an exception raised in one is printed and dropped
    ("Exception ignored on calling ctypes callback function"), which lost a SIGTERM in a sweep. The
    handler's record of it survives, and the driver's safe points raise it."""
    callback_type = ctypes.CFUNCTYPE(ctypes.c_int)

    @callback_type
    def callback() -> int:
        os.kill(os.getpid(), signal.SIGTERM)  # the handler runs here, inside the callback
        return 0

    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", dropped.append)
    callback()  # through the C function pointer: the Interrupted raised inside is dropped
    assert [type(d.exc_value) for d in dropped] == [Interrupted]  # it really was lost on the way
    assert signals.received() == signal.SIGTERM
    with pytest.raises(Interrupted) as stop:
        signals.raise_if_received()
    assert stop.value.exit_code == 128 + signal.SIGTERM


def test_no_signal_no_stop(installed):
    signals.raise_if_received()  # nothing came: nothing raised
    assert signals.received() is None


def test_a_dropped_stop_prints_no_traceback_but_other_dropped_errors_do(installed, capfd):
    """Through a real ctypes callback, with the CLI's hook in place: the dropped Interrupted prints
    nothing, any other dropped exception still reaches stderr."""
    callback_type = ctypes.CFUNCTYPE(ctypes.c_int)

    @callback_type
    def stopping() -> int:
        raise Interrupted(signal.SIGTERM)

    @callback_type
    def failing() -> int:
        raise ValueError("a real problem")

    stopping()
    assert "Exception ignored" not in capfd.readouterr().err
    failing()
    assert "a real problem" in capfd.readouterr().err
