"""``longdep-bench reproduce``: a recorded run trained again, compared result by result."""

from __future__ import annotations

import json

from longdep_bench.execution.reproduce import compare
from longdep_bench.results.records import read_records

SMALL = ["--seeds", "2", "--max-sequences", "2048", "--hidden", "8", "-t", "task6a:gap=20", "--check-every", "512"]


def recorded(cli, tmp_path):
    out = tmp_path / "results.jsonl"
    assert cli("run", "-a", "gru", *SMALL, "--jobs", "1", "-o", str(out)).code == 0
    return out, [json.loads(line) for line in out.read_text().splitlines()]


def test_a_recorded_run_trains_again_to_the_same_results(cli, tmp_path):
    out, records = recorded(cli, tmp_path)
    result = cli("reproduce", str(out), records[1]["run_id"][:6])
    assert result.code == 0, result.err
    assert "gru on task6a[gap=20] seed 1" in result.err
    assert "the run reproduces: all 7 results the record holds are the same" in result.err
    assert result.out.count("| same") == 7 and "differs" not in result.out


def test_a_result_that_differs_is_named_and_exits_1(cli, tmp_path):
    out, records = recorded(cli, tmp_path)
    first = {**records[0], "test_accuracy": 0.5, "env": {**records[0]["env"], "torch": "0.0-elsewhere"}}
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text(json.dumps(first) + "\n")
    result = cli("reproduce", str(tampered), first["run_id"])
    assert result.code == 1
    assert "1 of 7 results differ" in result.err
    assert any(line.startswith("| test_accuracy") and line.rstrip().endswith("differs |")
               for line in result.out.splitlines())
    assert "env.torch" in result.out and "0.0-elsewhere" in result.out  # what may explain it


def test_unknown_and_ambiguous_ids_are_one_line_and_exit_2(cli, tmp_path):
    out, records = recorded(cli, tmp_path)
    unknown = cli("reproduce", str(out), "zz")
    assert unknown.code == 2
    assert unknown.err.strip() == f"longdep-bench: error: no run in {out} has an id starting with 'zz'"
    ambiguous = cli("reproduce", str(out), "")
    assert ambiguous.code == 2 and "2 runs in" in ambiguous.err and "give more of it" in ambiguous.err
    assert len(ambiguous.err.strip().splitlines()) == 1
    missing = cli("reproduce", str(tmp_path / "none.jsonl"), "ab")
    assert missing.code == 2 and "cannot read results file" in missing.err


def test_compare_names_results_and_environment_that_differ(cli, tmp_path):
    out, _ = recorded(cli, tmp_path)
    record = next(read_records(str(out)))
    same = compare(record, record)
    assert same.identical and same.results == () and same.environment == ()
    from dataclasses import replace

    moved = replace(record, curve=record.curve[:-1], env={**record.env, "device_name": "another CPU"})
    other = compare(record, moved)
    assert not other.identical and other.results == ("curve",) and other.environment == ("device_name",)


def test_a_run_recorded_on_cuda_needs_cuda_or_says_how_to_train_it_here(cli, tmp_path):
    import torch

    out, records = recorded(cli, tmp_path)
    on_gpu = {**records[0], "runtime": {**records[0]["runtime"], "device": "cuda"},
              "env": {**records[0]["env"], "device": "cuda", "device_name": "NVIDIA H100 80GB HBM3"}}
    moved = tmp_path / "gpu.jsonl"
    moved.write_text(json.dumps(on_gpu) + "\n")
    if not torch.cuda.is_available():
        refused = cli("reproduce", str(moved), on_gpu["run_id"])
        assert refused.code == 2 and "trained on CUDA (NVIDIA H100 80GB HBM3)" in refused.err
        assert "--device cpu trains it here" in refused.err
    here = cli("reproduce", str(moved), on_gpu["run_id"], "--device", "cpu")
    assert here.code == 0, here.err  # the same code and CPU as the run recorded beside it
    assert "env.device " in here.out and "env.device_name" in here.out  # the environment that changed


def test_a_record_edited_by_hand_is_refused_before_training(cli, tmp_path):
    """reproduce does not trust a record: a thread count or device out of range (10**6 threads was a
    segmentation fault in torch), a run id that is not its configuration's hash, seeds that are not
    the derived ones; each one line, exit 2, nothing trained."""
    import pytest

    out, records = recorded(cli, tmp_path)
    base = {**records[0], "runtime": {k: v for k, v in records[0]["runtime"].items() if k != "threads"}}
    cases = [({"env": {**base["env"], "threads": 10 ** 6}}, "field env.threads"),
             ({"env": {**base["env"], "threads": "abc"}}, "field env.threads"),
             ({"runtime": {**base["runtime"], "device": "tpu"}}, "device"),
             ({"run_id": "0123456789abcdef"}, "hashes to"),
             ({"seeds": {**base["seeds"], "data": 7}}, "seeds are not the ones derived")]
    for number, (change, words) in enumerate(cases):
        edited = tmp_path / f"edited{number}.jsonl"
        record = {**base, **change}
        edited.write_text(json.dumps(record) + "\n")
        result = cli("reproduce", str(edited), record["run_id"])
        assert result.code == 2, (change, result.err)
        [line] = result.err.strip().splitlines()
        assert words in line and "Traceback" not in line, (change, line)
    with pytest.raises(AssertionError):  # the check itself can fail: an unedited record trains
        assert cli("reproduce", str(out), records[0]["run_id"]).code == 2
