"""The exceptions that the command line reports as a single line, each with its exit status.

Exit status: 0 success; 1 failed runs, a plugin's fault, or a run that does not reproduce; 2 bad
input (:class:`BenchError`); 3 the environment failed (:class:`EnvironmentFailure`: a dead worker
or scheduler, a full disk, a refused write); 130, 143 and 129 interrupted by SIGINT, SIGTERM and
SIGHUP (:class:`Interrupted`).
"""

from __future__ import annotations

import signal

BAD_INPUT, ENVIRONMENT = 2, 3


class BenchError(Exception):
    """Bad input or an impossible request: the message is shown to the user as is (exit 2)."""

    exit_code = BAD_INPUT


class EnvironmentFailure(BenchError):
    """The machine failed the run, not the input: a dead worker or scheduler, a full disk (exit 3)."""

    exit_code = ENVIRONMENT


class Interrupted(BaseException):
    """A signal asked the command to stop (SIGINT, SIGTERM, SIGHUP); exit 128 + the signal's number.

    A BaseException like KeyboardInterrupt, so that ``except Exception`` in plugin code does not
    swallow it."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as shells report a process ended by it."""
        return 128 + self.signum
