"""Tests of the example plugin, through longdep-bench's public API and its command line."""

from __future__ import annotations

import json
import subprocess
import sys

import longdep_bench_example as example
import numpy as np
import torch

from longdep_bench.discovery.registry import get_registry


def test_discovered_through_the_entry_point():
    registry = get_registry()
    assert registry.architectures["irnn"].distribution == "longdep-bench-example"
    assert registry.tasks["first-bit"].distribution == "longdep-bench-example"
    assert "example" in {plugin.name for plugin in registry.plugins}


def test_first_bit_data():
    batch = example.generate_first_bit({"length": 30}, 1000, seed=1, start=0)
    assert batch.inputs.shape == (1000, 30) and set(np.unique(batch.inputs)) == {0, 1}
    np.testing.assert_array_equal(batch.targets, batch.inputs[:, 0])
    again = example.generate_first_bit({"length": 30}, 10, seed=1, start=990)
    np.testing.assert_array_equal(again.inputs, batch.inputs[990:])
    assert 400 < batch.targets.sum() < 600


def test_irnn_starts_as_identity_and_reads_the_last_step():
    io = example.FIRST_BIT.model_io({"length": 30}, 30)
    model = example.build_irnn(io, 8, {"scale": 1.0})
    torch.testing.assert_close(model.core.rnn.weight_hh_l0, torch.eye(8))
    batch = example.generate_first_bit({"length": 30}, 4, seed=0).to_torch()
    assert model(batch.inputs, batch.lengths).shape == (4, 2)


def test_runs_from_the_command_line(tmp_path):
    out = tmp_path / "r.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "longdep_bench", "run", "-a", "irnn", "-a", "lstm", "-t", "first-bit", "--gap", "10",
         "--seeds", "1", "--max-sequences", "4096", "--hidden", "16", "-q", "-o", str(out)],
        capture_output=True, text=True, check=True)
    assert "irnn" in result.stdout
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["arch"] for r in records} == {"irnn", "lstm"}
    assert all(r["params"] == {"length": 10} for r in records)
