"""Kill a sweep at random points, resume it, and count what the kills cost.

Runs a small sweep once uninterrupted (the reference), then ``--kills`` times: starts the same sweep
on a fresh results file, sends SIGKILL to the driver (or a stopping signal to its whole process
group) after a random delay up to the reference's duration (worker start-up included), checks the
process tree for orphans, and runs the command again until the sweep is complete. Prints one line
per kill and a summary: runs lost (in the reference but never recorded), runs recorded twice, runs
whose metrics differ from the reference, processes left behind. For example:

    python scripts/fault_scenarios.py --kills 20 --signal KILL
    python scripts/fault_scenarios.py --kills 10 --signal TERM
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "longdep_bench"]
SWEEP = ["run", "-a", "lstm", "-a", "gru", "--seeds", "6", "--hidden", "16", "--max-sequences", "8192", "-j", "2",
         "-q", "-o", "r.jsonl"]
METRICS = ("status", "solved", "sequences_to_solve", "test_accuracy", "test_loss", "curve")


def left_behind(session: int, wait: float = 15.0) -> int:
    """How many live processes remain in the session (its workers, the resource tracker) after ``wait``."""
    deadline = time.monotonic() + wait
    while True:
        count = 0
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    count += os.getsid(int(entry.name)) == session and state != "Z"
                except (OSError, IndexError):
                    pass
        if not count or time.monotonic() > deadline:
            return count
        time.sleep(0.5)


def records(path: Path) -> list[dict]:
    """The records of a results file (none if it does not exist)."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20, help="interrupted sweeps")
    parser.add_argument("--signal", default="KILL", choices=("KILL", "TERM", "INT", "HUP"),
                        help="KILL goes to the driver alone, the others to its process group (a terminal's Ctrl-C)")
    parser.add_argument("--longest", type=float, help="the latest a kill comes, in seconds (default: as long as the "
                        "uninterrupted sweep took)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    signum = getattr(signal, f"SIG{args.signal}")
    with tempfile.TemporaryDirectory() as scratch:
        reference_dir = Path(scratch, "reference")
        reference_dir.mkdir()
        began = time.monotonic()
        subprocess.run([*CLI, *SWEEP], cwd=reference_dir, check=True, stdout=subprocess.DEVNULL)
        longest = args.longest or time.monotonic() - began
        reference = {r["run_id"]: [r[k] for k in METRICS] for r in records(reference_dir / "r.jsonl")}
        lost = twice = differ = orphans = 0
        for kill in range(args.kills):
            work = Path(scratch, f"kill{kill}")
            work.mkdir()
            delay = rng.uniform(0.1, longest)
            process = subprocess.Popen([*CLI, *SWEEP], cwd=work, start_new_session=True, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            time.sleep(delay)
            if signum == signal.SIGKILL:
                os.kill(process.pid, signum)
            else:
                os.killpg(process.pid, signum)
            process.wait()
            before = len(records(work / "r.jsonl"))
            left = left_behind(process.pid)
            subprocess.run([*CLI, *SWEEP], cwd=work, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            done = records(work / "r.jsonl")
            ids = [r["run_id"] for r in done]
            missing = len(set(reference) - set(ids))
            repeated = len(ids) - len(set(ids))
            changed = sum(reference.get(r["run_id"]) != [r[k] for k in METRICS] for r in done)
            lost, twice, differ, orphans = lost + missing, twice + repeated, differ + changed, orphans + left
            print(f"kill {kill + 1:>2} after {delay:5.2f} s (exit {process.returncode}): {before:>2} of "
                  f"{len(reference)} runs recorded; after resuming: {missing} lost, {repeated} recorded twice, "
                  f"{changed} with other metrics; {left} processes left behind", flush=True)
        print(f"{args.kills} sweeps interrupted by SIG{args.signal}: {lost} runs lost, {twice} recorded twice, "
              f"{differ} with metrics other than the uninterrupted sweep's, {orphans} processes left behind")


if __name__ == "__main__":
    main()
