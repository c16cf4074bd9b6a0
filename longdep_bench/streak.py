"""The 1997 paper's stopping rule: training sequences right in a row, counted on the device.

Hochreiter & Schmidhuber stopped training once the most recent sequences (2,000 on the temporal
order tasks) had all been processed correctly, and reported the training sequences seen until
then. :class:`Streak` follows that count through a run without waiting for the device: every
operation is a fixed-shape tensor operation, so a training step that feeds it can still be
captured in a CUDA graph, and the host reads the result only at a success check.
"""

from __future__ import annotations

import torch


class Streak:
    """How many training sequences in a row were right, and after how many sequences the run
    first had ``target`` of them (the sequence that completed the streak counts)."""

    def __init__(self, target: int, device: torch.device):
        self.target = target
        self.length = torch.zeros((), dtype=torch.int64, device=device)  # right in a row up to now
        self.seen = torch.zeros((), dtype=torch.int64, device=device)
        self.reached = torch.full((), -1, dtype=torch.int64, device=device)  # -1: not yet

    def add(self, right: torch.Tensor) -> None:
        """Follow the streak through one batch: ``right[i]`` says whether its sequence i, in
        training order, was right."""
        position = torch.arange(1, right.shape[0] + 1, device=right.device)
        last_wrong = torch.cummax(torch.where(right, 0, position), dim=0).values  # 0: none wrong so far
        run = torch.where(last_wrong == 0, self.length + position, position - last_wrong)
        hit = run >= self.target
        first = torch.argmax(hit.to(torch.int32))  # the first maximum: the first sequence completing it
        self.reached.copy_(torch.where(hit.any() & (self.reached < 0), self.seen + first + 1, self.reached))
        self.length.copy_(run[-1])
        self.seen += right.shape[0]

    def reached_at(self) -> int | None:
        """Sequences seen when the streak first reached its target (None: not yet). Waits for the device."""
        value = int(self.reached)
        return None if value < 0 else value
