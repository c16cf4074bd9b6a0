"""Wall-clock timing of training steps that is honest on CUDA (the device is synchronised)."""

from __future__ import annotations

import time

import torch


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on this thread's current stream of ``device`` (a no-op on CPU).

    Only the current stream: runs that share a GPU, each on its own stream, do not wait for
    each other."""
    if device.type == "cuda":
        torch.cuda.current_stream(device).synchronize()


class Stopwatch:
    """Accumulates the seconds between ``start()`` and ``stop()``, synchronising the device."""

    def __init__(self, device: torch.device):
        self.device = device
        self.seconds = 0.0
        self._started: float | None = None

    def start(self) -> None:
        """Begin a timed interval."""
        synchronize(self.device)
        self._started = time.perf_counter()

    def stop(self) -> None:
        """End the current interval and add it to ``seconds``."""
        synchronize(self.device)
        assert self._started is not None, "stop() without start()"
        self.seconds += time.perf_counter() - self._started
        self._started = None
