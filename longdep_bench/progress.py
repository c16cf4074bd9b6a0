"""Progress of a sweep on stderr: a one-line bar on a terminal, one line per finished run otherwise."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

BAR_WIDTH = 24


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def describe_record(record: Any) -> str:
    """A few words on a finished run."""
    params = ",".join(f"{k}={v}" for k, v in record.params.items())
    what = f"{record.arch} on {record.task}[{params}] seed {record.seed}"
    if record.status == "error":
        return f"{what}: error: {record.error}"
    if record.status == "diverged":
        return f"{what}: diverged after {record.train_sequences:,} sequences"
    speed = f"{record.sequences_per_second:,.0f} seq/s" if record.sequences_per_second else "n/a"
    result = (f"solved after {record.sequences_to_solve:,} sequences" if record.solved
              else f"not solved in {record.train_sequences:,} sequences")
    return f"{what}: {result}, test accuracy {record.test_accuracy:.1%}, {record.train_seconds:.1f} s ({speed})"


class Progress:
    """Counts runs done, running and failed, with an ETA; draws a bar only on a terminal."""

    def __init__(self, total: int, parallel: int, quiet: bool = False, stream: IO[str] | None = None):
        self.stream = stream or sys.stderr
        self.total, self.parallel = total, parallel
        self.done = self.failed = 0
        self.started = time.monotonic()
        self.quiet = quiet
        self.bar = not quiet and self.stream.isatty()
        self._draw()

    def finished(self, record: Any) -> None:
        """Count a finished run; print its line when not drawing a bar."""
        self.done += 1
        self.failed += record.status != "ok"
        if self.bar:
            self.stream.write("\r\033[K" + f"{describe_record(record)}\n")
        elif not self.quiet:
            self.stream.write(f"[{self.done}/{self.total}] {describe_record(record)}\n")
        self._draw()

    def close(self) -> None:
        """Finish the bar's line."""
        if self.bar:
            self.stream.write("\n")
        self.stream.flush()

    def _draw(self) -> None:
        if not self.bar:
            return
        elapsed = time.monotonic() - self.started
        running = min(self.parallel, self.total - self.done)
        eta = "?" if not self.done else _duration(elapsed / self.done * (self.total - self.done))
        filled = BAR_WIDTH * self.done // max(self.total, 1)
        self.stream.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.total} done, "
                          f"{running} running, {self.failed} failed, elapsed {_duration(elapsed)}, ETA {eta}")
        self.stream.flush()
