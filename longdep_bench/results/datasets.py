"""Data sets as named arrays, the layout of ``longdep-bench generate``'s .npz files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from longdep_bench.api.specs import Batch, TaskSpec

PAD_NAME = "<pad>"


def dataset_arrays(task: TaskSpec, params: Mapping[str, Any], batch: Batch) -> dict[str, np.ndarray]:
    """A generated batch with its vocabulary and metadata, as named arrays.

    Token tasks store ``tokens`` (N, max_len) and ``symbols`` (the name of each id, the padding
    id last); feature tasks store ``inputs`` (N, max_len, F). Every task stores ``lengths``,
    ``targets``, ``classes`` (empty for value targets), its extras, ``task`` and ``params``
    (JSON).
    """
    symbols = task.vocabulary(params)
    arrays: dict[str, np.ndarray] = {
        "tokens" if symbols else "inputs": np.asarray(batch.inputs),
        "lengths": np.asarray(batch.lengths),
        "targets": np.asarray(batch.targets),
        "symbols": np.array([*symbols, PAD_NAME] if symbols else [], dtype=str),
        "classes": np.array(task.class_names(params), dtype=str),
        "task": np.array(task.name),
        "params": np.array(json.dumps(dict(params), sort_keys=True)),
    }
    for name, value in batch.extras.items():
        arrays[name] = np.asarray(value)
    return arrays
