"""The progress display: a bar on a terminal, lines otherwise, nothing when quiet."""

from __future__ import annotations

import io
from dataclasses import replace

from record_helpers import hyperparameters

from longdep_bench.execution.progress import Progress
from longdep_bench.results.records import RunRecord


class Terminal(io.StringIO):
    def isatty(self):
        return True


RECORD = RunRecord.from_dict({
    "run_id": "r", "arch": "lstm", "task": "task6a", "params": {"gap": 40}, "gap_param": "gap", "seed": 0,
    "master_seed": 0, "seeds": {}, "status": "ok", "solved": True, "sequences_to_solve": 2048, "test_accuracy": 1.0,
    "chance": 0.25, "train_sequences": 2048, "train_seconds": 1.5, "eval_seconds": 0.1,
    "sequences_per_second": 1365.0, "n_params": 1, "curve": [], "env": {}, "error": None, "finished_at": "",
    "hyperparameters": hyperparameters(arch_options={"init": "chrono", "gate_bias": 3.0})}, "test")
DEFAULTS = {"lstm": {"init": "constant", "gate_bias": 3.0}}


def test_bar_on_a_terminal():
    stream = Terminal()
    progress = Progress(3, 2, stream=stream, defaults=DEFAULTS)
    progress.finished(RECORD)
    progress.close()
    text = stream.getvalue()
    assert "1/3" in text and "2 running, 0 failed" in text and "\r" in text
    assert "lstm[init=chrono] on task6a[gap=40] seed 0: solved after 2,048 sequences" in text


def test_lines_when_not_a_terminal_and_silence_when_quiet():
    stream = io.StringIO()
    progress = Progress(3, 1, stream=stream)
    progress.finished(RECORD)
    progress.close()
    assert stream.getvalue().startswith("[1/3] lstm[init=chrono,gate_bias=3.0] on task6a[gap=40] seed 0: solved")
    assert "\r" not in stream.getvalue()
    quiet = Terminal()
    progress = Progress(3, 1, quiet=True, stream=quiet)
    progress.finished(RECORD)
    progress.close()
    assert quiet.getvalue() == ""


def test_a_task_without_parameters_prints_no_brackets():
    stream = io.StringIO()
    progress = Progress(1, 1, stream=stream, defaults=DEFAULTS)
    progress.finished(replace(RECORD, params={}, task="plain", arch="gru", hyperparameters={"arch_options": {}}))
    assert stream.getvalue().startswith("[1/1] gru on plain seed 0: solved")


def test_a_run_solved_by_a_streak_says_so():
    stream = io.StringIO()
    progress = Progress(1, 1, stream=stream, defaults=DEFAULTS)
    progress.finished(replace(RECORD, sequences_to_solve=1999, hyperparameters={"arch_options": {}, "streak": 2000}))
    assert "solved after 1,999 sequences (2,000 right in a row)" in stream.getvalue()
