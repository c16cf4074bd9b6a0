"""Records for tests that need one without training: every field a real record holds."""

from __future__ import annotations

from typing import Any

# The first release's run settings, which every record holds (records.FIRST_SETTINGS), at typical values.
HYPERPARAMETERS = {"hidden": 64, "batch_size": 16, "lr": 3e-3, "clip": 1.0, "max_sequences": 100_000,
                   "threshold": 0.99, "test_size": 2560, "check_every": 1024, "match_params": None,
                   "arch_options": {}}


def hyperparameters(**given: Any) -> dict[str, Any]:
    """A record's hyperparameters: the typical ones, with ``given`` on top."""
    return {**HYPERPARAMETERS, **given}
