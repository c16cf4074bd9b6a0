"""Keeps the CUDA calls of other runs in the same process out of a CUDA graph capture.

Several runs share one GPU as threads of one worker process (:class:`~longdep_bench.execution.executors.GpuPool`).
On an H100 (torch 2.11, CUDA 13) two to sixteen default-size runs at once, each capturing on its
own stream with a thread-local capture mode, failed with ``CUDNN_STATUS_INTERNAL_ERROR`` or
stalled, while one run at a time captured and trained correctly. PyTorch explains it: "graphs
already have the general (explicitly documented) restriction that only one capture may be underway
at a time in the process" (``torch/cuda/graphs.py``), and ``torch.cuda.graph`` begins every capture
with a device-wide ``torch.cuda.synchronize()`` and ``torch.cuda.empty_cache()``, which break a
capture under way in another thread whatever its capture mode. Other cross-thread calls can too
(a kernel module loaded on its first launch, a ``cudaFree``, a pinned-memory allocation). The
gate rules all of them out: a run holds it while it uses the GPU (:meth:`CaptureGate.running`),
lets waiting captures in between steps (:meth:`CaptureGate.let_captures_in`), and captures only
when every other run of the process has stopped issuing work (:meth:`CaptureGate.capturing`).
Work already queued keeps running on the device; only new calls wait, at most one training step
long. One process, one gate: processes do not share CUDA state.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class CaptureGate:
    """A writer-preferring gate: any number of runs use the GPU at once, a capture runs alone."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running = 0  # threads inside running() and not capturing
        self._waiting = 0  # captures waiting for the others to pause
        self._capturing = False
        self._mine = threading.local()

    def _open(self) -> bool:
        return not self._capturing and not self._waiting

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Hold the gate while this thread issues GPU work (one run's whole training)."""
        with self._changed:
            self._changed.wait_for(self._open)
            self._running += 1
        self._mine.inside = True
        try:
            yield
        finally:
            self._mine.inside = False
            with self._changed:
                self._running -= 1
                self._changed.notify_all()

    def let_captures_in(self) -> None:
        """Pause here while another thread waits to capture or captures (cheap when none does)."""
        if not self._waiting and not self._capturing:
            return
        with self._changed:
            self._running -= 1
            self._changed.notify_all()
            self._changed.wait_for(self._open)
            self._running += 1

    @contextlib.contextmanager
    def capturing(self) -> Iterator[None]:
        """Capture alone: wait until no other thread of the process is issuing GPU work."""
        inside = getattr(self._mine, "inside", False)
        with self._changed:
            self._waiting += 1
            if inside:
                self._running -= 1
            self._changed.notify_all()
            self._changed.wait_for(lambda: self._running == 0 and not self._capturing)
            self._waiting -= 1
            self._capturing = True
        try:
            yield
        finally:
            with self._changed:
                self._capturing = False
                if inside:
                    self._running += 1
                self._changed.notify_all()


GATE = CaptureGate()
