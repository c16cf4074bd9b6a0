"""The capture gate: a CUDA graph capture never overlaps another run's GPU work in the same process."""

from __future__ import annotations

import threading
import time

from longdep_bench.system.capture_gate import CaptureGate


class Log:
    """Intervals of (who, what, start, end), recorded from several threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.intervals = []

    def span(self, who, what, seconds):
        start = time.perf_counter()
        time.sleep(seconds)
        with self.lock:
            self.intervals.append((who, what, start, time.perf_counter()))

    def overlapping(self):
        """Pairs of (capture, other work) intervals of different threads that overlap in time."""
        captures = [i for i in self.intervals if i[1] == "capture"]
        return [(c, o) for c in captures for o in self.intervals
                if o[0] != c[0] and o[2] < c[3] and c[2] < o[3]]


def _run(gate, log, name, steps, capture_at=None, seconds=0.004):
    with gate.running():
        for index in range(steps):
            gate.let_captures_in()
            if index == capture_at:
                with gate.capturing():
                    log.span(name, "capture", 0.02)
            else:
                log.span(name, "step", seconds)


def _threads(*targets):
    threads = [threading.Thread(target=t) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck at the gate"


def test_captures_never_overlap_other_runs_steps_and_every_run_finishes():
    gate, log = CaptureGate(), Log()
    _threads(*[lambda n=n: _run(gate, log, f"run{n}", 40, capture_at=5 + 3 * n) for n in range(6)])
    assert len([i for i in log.intervals if i[1] == "capture"]) == 6
    assert len([i for i in log.intervals if i[1] == "step"]) == 6 * 39
    assert not log.overlapping()


def test_a_capture_outside_any_run_waits_for_the_runs_to_pause():
    gate, log = CaptureGate(), Log()

    def capture_alone():
        time.sleep(0.02)
        with gate.capturing():
            log.span("benchmark", "capture", 0.02)

    _threads(lambda: _run(gate, log, "run", 30, seconds=0.005), capture_alone)
    assert not log.overlapping()
    assert gate._running == 0 and gate._waiting == 0 and not gate._capturing


def test_runs_use_the_gpu_together_when_nobody_captures():
    gate, inside, most = CaptureGate(), [0], [0]
    lock = threading.Lock()

    def run():
        with gate.running():
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.05)
            with lock:
                inside[0] -= 1

    _threads(*[run] * 4)
    assert most[0] == 4
