"""The 1997 paper's stopping rules on the most recent training sequences, counted on the device.

Hochreiter & Schmidhuber stopped training on the most recent training sequences, each judged by the
output the network gave while it trained on it: once the last 2,000 had all been right and their
average error was below beta (ST3: Experiments 4 and 6), or once fewer than n_seq of the last
2,000 were wrong (Experiment 5). :class:`Streak` follows such a window through a run without
waiting for the device: every operation is a fixed-shape tensor operation, so a training step that
feeds it can still be captured in a CUDA graph, and the host reads the result only at a success
check. The sequence that first satisfies the rule is the run's sequences to solve (exactly, not
rounded to a check).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class Streak:
    """The ``length`` most recent training sequences: the rule holds after a sequence when at least
    ``length`` have been seen, at most ``wrong`` of the last ``length`` were wrong and, where
    ``error`` > 0, their mean error was below ``error``. Records after how many sequences the rule
    first held (the sequence that completed it counts). With the defaults: ``length`` right in a row."""

    def __init__(self, length: int, device: torch.device, wrong: int = 0, error: float = 0.0):
        self.target, self.wrong, self.error = length, wrong, error
        self.recent_wrong = torch.zeros(length, dtype=torch.int64, device=device)  # oldest first
        self.recent_error = torch.zeros(length, dtype=torch.float64, device=device)
        self.seen = torch.zeros((), dtype=torch.int64, device=device)
        self.reached = torch.full((), -1, dtype=torch.int64, device=device)  # -1: not yet

    def add(self, right: torch.Tensor, errors: torch.Tensor | None = None) -> None:
        """Follow the window through one batch: ``right[i]`` (and ``errors[i]``, needed where the
        rule has an error condition) of its sequence i, in training order."""
        n, length = right.shape[0], self.target
        wrong = torch.cat([self.recent_wrong, (~right.bool()).to(torch.int64)])
        errors = torch.zeros(n, dtype=torch.float64, device=right.device) if errors is None else errors.double()
        error = torch.cat([self.recent_error, errors])
        # window sums ending at each of the batch's sequences, from prefix sums (a leading 0)
        wrong_sums, error_sums = (F.pad(values.cumsum(0), (1, 0)) for values in (wrong, error))
        ends = torch.arange(length + 1, length + n + 1, device=right.device)
        in_window_wrong = wrong_sums[ends] - wrong_sums[ends - length]
        hit = (in_window_wrong <= self.wrong) & (self.seen + ends - length >= length)
        if self.error > 0:
            hit &= (error_sums[ends] - error_sums[ends - length]) / length < self.error
        first = torch.argmax(hit.to(torch.int32))  # the first maximum: the first sequence completing it
        self.reached.copy_(torch.where(hit.any() & (self.reached < 0), self.seen + first + 1, self.reached))
        self.recent_wrong.copy_(wrong[-length:])
        self.recent_error.copy_(error[-length:])
        self.seen += n

    def reached_at(self) -> int | None:
        """Sequences seen when the rule first held (None: not yet). Waits for the device."""
        value = int(self.reached)
        return None if value < 0 else value
