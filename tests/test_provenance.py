"""Records say which code trained them: the distribution, version and source hash of the plugins of
their architecture and task. A plugin edited between two runs of a sweep is noticed: the default
reruns its runs (one line says so, the old records stay and reports show the two apart), --resume
refuses, reproduce names the change."""

from __future__ import annotations

import json

from longdep_bench.discovery.registry import get_registry
from longdep_bench.results.records import read_records

TOY = """
    import torch
    from longdep_bench import ArchitectureSpec, SequenceModel, hookimpl

    SCALE = {scale}

    class Scaled(torch.nn.Module):
        def __init__(self, size):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(size))
        def forward(self, x):
            return x * self.weight * SCALE

    @hookimpl
    def register_architectures(register):
        register(ArchitectureSpec(name="toy", description="a toy",
                                  build=lambda io, hidden, options: SequenceModel(Scaled(io.input_size), io,
                                                                                  io.input_size)))
"""
RUN = ["run", "-a", "toy", "--seeds", "2", "--max-sequences", "64", "--test-size", "16", "-j", "1", "-q"]


def test_a_plugin_edited_between_two_runs_is_noticed(plugin_dist, cli, tmp_path):
    site = plugin_dist("fake-prov", {"toy": TOY.format(scale=1.0)}, version="1.0")
    out = str(tmp_path / "r.jsonl")
    assert cli(*RUN, "-o", out).code == 0
    [first, _] = list(read_records(out))
    code = first.code["architecture"]
    assert (code["plugin"], code["distribution"], code["version"]) == ("toy", "fake-prov", "1.0")
    assert len(code["source"]) == 12 and first.code["task"]["distribution"] == "longdep-bench"
    assert "2 of 2 runs already recorded" in cli(*RUN, "-o", out).err  # the same code: nothing to do

    (site / "fake_prov_toy.py").write_text(__import__("textwrap").dedent(TOY.format(scale=2.0)))  # an edit
    get_registry.cache_clear()
    import sys
    sys.modules.pop("fake_prov_toy", None)
    refused = cli(*RUN, "--resume", "-o", out)
    assert refused.code == 2 and "--resume: 2 runs in" in refused.err and "were trained by other code" in refused.err
    assert f"architecture plugin toy (fake-prov) source {code['source']} there" in refused.err
    again = cli(*RUN, "-o", out)
    assert again.code == 0 and "2 runs in" in again.err and "training them again" in again.err
    records = list(read_records(out))
    assert len(records) == 4 and len({r.code["architecture"]["source"] for r in records}) == 2
    assert len({json.dumps(r.code) for r in records[2:]}) == 1

    report = cli("report", out)
    rows = [line for line in report.out.splitlines() if line.startswith("| toy")]
    assert len(rows) == 2 and all("code=1.0/" in row for row in rows)  # the two versions apart, labelled

    (tmp_path / "old.jsonl").write_text(first.to_json() + "\n")  # a record of the code before the edit
    reproduced = cli("reproduce", str(tmp_path / "old.jsonl"), first.run_id)
    assert reproduced.code == 1 and "the plugins' code differs: architecture plugin toy (fake-prov) source" in \
        reproduced.err
    assert "code.architecture" in reproduced.out


def test_records_before_provenance_are_taken_as_they_are(cli, tmp_path):
    """Records written before records said which code trained them (the committed reports) are
    reused, not rerun: nothing can tell whether their code changed."""
    out = tmp_path / "r.jsonl"
    assert cli("run", "-a", "rnn", "--hidden", "4", "--seeds", "1", "--max-sequences", "64", "--test-size", "16",
               "-j", "1", "-q", "-o", str(out)).code == 0
    record = json.loads(out.read_text())
    del record["code"]
    out.write_text(json.dumps(record) + "\n")
    result = cli("run", "-a", "rnn", "--hidden", "4", "--seeds", "1", "--max-sequences", "64", "--test-size", "16",
                 "-j", "1", "-o", str(out))
    assert result.code == 0 and "1 of 1 runs already recorded" in result.err


def test_a_plugin_version_counts_for_third_party_plugins_and_the_source_for_built_ins():
    from longdep_bench.results.records import code_difference, code_key

    def code(distribution, version, source):
        return {"architecture": {"plugin": "p", "distribution": distribution, "version": version, "source": source}}

    # a new release of longdep-bench does not make its unchanged plugin modules other code
    assert code_key(code("longdep-bench", "0.8.0", "abc")) == code_key(code("longdep-bench", "0.9.0", "abc"))
    assert code_difference(code("longdep-bench", "0.8.0", "abc"), code("longdep-bench", "0.9.0", "abc")) is None
    assert "source abc there, def now" in code_difference(code("longdep-bench", "0.8.0", "abc"),
                                                         code("longdep-bench", "0.8.0", "def"))
    # a third-party plugin's release is other code, named by its versions
    assert code_key(code("other", "1.0", "abc")) != code_key(code("other", "1.1", "abc"))
    assert "architecture plugin p (other) version 1.0 there, 1.1 now" == code_difference(
        code("other", "1.0", "abc"), code("other", "1.1", "abc"))
