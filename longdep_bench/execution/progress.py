"""Progress of a sweep on stderr: a tqdm bar on a terminal, one line per finished run otherwise."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import IO, Any

from longdep_bench.results.records import RunRecord, Status


def _settings(values: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in values.items())


def run_label(record: RunRecord, defaults: Mapping[str, Any] | None = None) -> str:
    """'lstm[init=chrono] on task6a[gap=40] seed 0': the architecture with the options that differ
    from ``defaults`` (its declared defaults), the task with its parameters, and the seed."""
    options = {k: v for k, v in record.hyperparameters.get("arch_options", {}).items()
               if defaults is None or defaults.get(k) != v}
    arch = f"{record.arch}[{_settings(options)}]" if options else record.arch
    task = f"{record.task}[{_settings(record.params)}]" if record.params else record.task
    return f"{arch} on {task} seed {record.seed}"


def describe_record(record: RunRecord, defaults: Mapping[str, Any] | None = None) -> str:
    """A few words on a finished run."""
    what = run_label(record, defaults)
    if record.status is Status.ERROR:
        return f"{what}: error: {record.error}"
    if record.status is Status.DIVERGED:
        return f"{what}: diverged after {record.train_sequences:,} sequences"
    speed = f"{record.sequences_per_second:,.0f} seq/s" if record.sequences_per_second else "n/a"
    settings = record.settings()
    streak, wrong = settings["streak"], settings.get("streak_wrong")
    criterion = (f" (at most {wrong:,} of the last {streak:,} wrong)" if streak and wrong
                 else f" ({streak:,} right in a row)" if streak else "")
    result = (f"solved after {record.sequences_to_solve:,} sequences{criterion}" if record.solved
              else f"not solved in {record.train_sequences:,} sequences")
    return f"{what}: {result}, test accuracy {record.test_accuracy:.1%}, {record.train_seconds:.1f} s ({speed})"


class Progress:
    """Counts runs done, running and failed; a tqdm bar (with ETA) on a terminal, lines otherwise.

    ``defaults`` maps an architecture name to its options' defaults, so that run lines show only
    the options that differ (two variants never print alike).
    """

    def __init__(self, total: int, parallel: int, quiet: bool = False, stream: IO[str] | None = None,
                 defaults: Mapping[str, Mapping[str, Any]] | None = None):
        self.stream = stream or sys.stderr
        self.total, self.parallel = total, parallel
        self.done = self.failed = 0
        self.quiet = quiet
        self.defaults = defaults or {}
        self.bar = None
        if not quiet and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, file=self.stream, unit="run", dynamic_ncols=True, leave=True)
            self._postfix()

    def _postfix(self) -> None:
        running = min(self.parallel, self.total - self.done)
        assert self.bar is not None  # called only while there is a bar
        self.bar.set_postfix_str(f"{running} running, {self.failed} failed")

    def finished(self, record: RunRecord) -> None:
        """Count a finished run and print its line (above the bar on a terminal)."""
        self.done += 1
        self.failed += record.status is not Status.OK
        line = describe_record(record, self.defaults.get(record.arch))
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
            self._postfix()
            self.bar.update(1)
        elif not self.quiet:
            self.stream.write(f"[{self.done}/{self.total}] {line}\n")
            self.stream.flush()

    def close(self) -> None:
        """Finish the bar."""
        if self.bar is not None:
            self.bar.close()
        self.stream.flush()
