"""Speed tables from the pytest-benchmark JSON of ``tests/benchmarks``: step times relative to a
baseline architecture at each size, and how step time grows with sequence length."""

from __future__ import annotations

import json
import math
from typing import Any

from tabulate import tabulate

from longdep_bench.system.errors import BenchError
from longdep_bench.system.files import read_text

MAX_BENCHMARK_FILE = 256 * 1024 * 1024

STATS = {"median": "Median", "min": "Fastest-round"}
GRAPHED = " (graphed)"  # label suffix of a step captured in a CUDA graph; eager steps carry none
FORWARD = " [forward only]"  # label suffix of a forward pass alone (tests/benchmarks/test_lstm_forward.py)


def load_benchmarks(path: str, stat: str = "median") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Machine info and one entry per benchmark case: training steps (arch, batch, hidden, length)
    and data generation (kind 'generation': case, sequences), each with its ``stat`` in seconds
    ('median', or 'min': the fastest round, which leaves out one-off costs such as a JIT compile)."""
    text = read_text(path, "benchmark file", limit=MAX_BENCHMARK_FILE)
    try:
        data = json.loads(text, parse_constant=lambda name: float("nan"))
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise BenchError(f"{path} is nested too deeply to be a pytest-benchmark file") from None
    benchmarks = data.get("benchmarks", []) if isinstance(data, dict) else None
    if not isinstance(benchmarks, list):
        raise BenchError(f"{path} is not a pytest-benchmark file (no list of benchmarks)")
    cases = []
    for number, bench in enumerate(benchmarks, start=1):
        if not isinstance(bench, dict) or not isinstance(bench.get("stats", {}), dict):
            raise BenchError(f"{path}: benchmark #{number} is not a pytest-benchmark entry")
        info = bench.get("extra_info", {})
        if "stats" not in bench or not isinstance(info, dict):
            continue
        name = str(bench.get("name", f"#{number}"))[:60]
        seconds = bench["stats"].get(stat)
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds) or \
                seconds <= 0:
            raise BenchError(f"{path}: benchmark {name!r} has no {stat!r} statistic in seconds")
        if {"arch", "batch", "hidden", "length"} <= info.keys():
            _expect_fields(path, name, info, {"arch": str, "batch": int, "hidden": int, "length": int})
            arch = info["arch"] + {"graphed": GRAPHED, "forward": FORWARD}.get(info.get("mode", ""), "")
            cases.append({**{k: info[k] for k in ("batch", "hidden", "length")}, "arch": arch, "seconds": seconds})
        elif info.get("kind") == "generation":
            _expect_fields(path, name, info, {"case": str, "sequences": int})
            cases.append({"case": info["case"], "group": str(bench.get("group")), "sequences": info["sequences"],
                          "seconds": seconds})
    if not cases:
        raise BenchError(f"{path} holds no benchmarks of tests/benchmarks (run pytest tests/benchmarks "
                         "--benchmark-enable --benchmark-only --benchmark-json=FILE)")
    machine = data.get("machine_info", {})
    return (machine if isinstance(machine, dict) else {}), cases


def _expect_fields(path: str, name: str, info: dict[str, Any], kinds: dict[str, type[Any]]) -> None:
    """A benchmark's extra_info fields of the right types, or one line naming the first that is not."""
    for field, kind in kinds.items():
        value = info[field]
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value <= 0):
            raise BenchError(f"{path}: benchmark {name!r}: extra_info.{field} is {json.dumps(value)[:40]}, "
                             f"not a {'positive integer' if kind is int else 'string'}")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3g}" if seconds < 0.1 else f"{seconds * 1000:,.0f}"


def speed_tables(cases: list[dict[str, Any]], baseline: str, stat: str = "median") -> str:
    """Markdown tables of whichever benchmarks the file holds: training steps, data generation."""
    steps = [c for c in cases if "arch" in c and not c["arch"].endswith(FORWARD)]
    forward = [c for c in cases if "arch" in c and c["arch"].endswith(FORWARD)]
    generation = [c for c in cases if "case" in c]
    return "\n\n".join(part for part in (
        step_tables(steps, baseline, stat) if steps else "",
        step_tables(forward, baseline + FORWARD, stat, what="forward-pass time") if forward else "",
        generation_table(generation, stat) if generation else "") if part)


def generation_table(cases: list[dict[str, Any]], stat: str = "median") -> str:
    """Markdown: each generation case's time per call and sequences per second, the speed-ups that
    matter, the share of a training step that data costs, and the first-call latencies."""
    rows = [[c["case"], f"{c['seconds'] * 1000:.3g} ms",
             "-" if c["group"] == "first call" else f"{c['sequences'] / c['seconds'] / 1e6:.3g} M/s"] for c in cases]
    label = STATS[stat].lower()
    lines = [f"Data generation ({label} time per call; sequences per second):\n" + tabulate(
        rows, headers=["case", label, "sequences/s"], tablefmt="github")]
    by_case = {c["case"]: c for c in cases}
    rate = {name: c["sequences"] / c["seconds"] for name, c in by_case.items()}
    kernel, reference, fill = (by_case.get(name) for name in
                               ("numba kernel (reused buffer)", "NumPy reference", "memory fill"))
    if kernel and reference:
        lines.append(f"The numba kernel makes {rate[kernel['case']] / rate[reference['case']]:,.0f}x as many sequences "
                     "per second as the NumPy reference.")
    if kernel and fill:
        lines.append(f"It takes {kernel['seconds'] / fill['seconds']:.1f}x the time of filling the same memory.")
    data = [c for c in cases if c["case"].startswith("batch of")]
    step = [c for c in cases if "training step" in c["case"]]
    if data and step:
        share = data[0]["seconds"] / step[0]["seconds"]
        lines.append(f"Data for one training step ({data[0]['case']}) costs {share:.2%} "
                     f"of the step ({step[0]['case']}).")
    imports = by_case.get("new process, import only")
    for cache in ("cold", "warm"):
        first = by_case.get(f"new process, first generate, {cache} numba cache")
        if first and imports:
            what = "compiling the kernel" if cache == "cold" else "loading it from numba's cache"
            extra = first["seconds"] - imports["seconds"]
            lines.append(f"First call with a {cache} cache: {extra:.2f} s more than the import alone ({what}).")
    return "\n\n".join(lines)


def _step_times(cases: list[dict[str, Any]]) -> dict[tuple[str, int, int, int], float]:
    """Seconds per training-step case, by (arch, batch, hidden, length); other cases are left out."""
    return {(c["arch"], c["batch"], c["hidden"], c["length"]): c["seconds"] for c in cases if "arch" in c}


def step_tables(cases: list[dict[str, Any]], baseline: str, stat: str = "median",
                what: str = "training-step time (forward, backward, Adam)") -> str:
    """Markdown: step time (ms) and its ratio to the baseline per size; L_max/L_min ratios. When the
    file holds graphed steps (CUDA), the baseline is the graphed baseline."""
    by_case = _step_times(cases)
    if any(c["arch"] == baseline + GRAPHED for c in cases):
        baseline += GRAPHED
    archs = sorted({c["arch"] for c in cases}, key=lambda a: (a != baseline, a))
    sizes = sorted({(c["batch"], c["hidden"], c["length"]) for c in cases})
    headers = ["size (B, H, L)", *archs]
    rows = []
    for batch, hidden, length in sizes:
        base = by_case.get((baseline, batch, hidden, length))
        row = [f"B{batch} H{hidden} L{length}"]
        for arch in archs:
            value = by_case.get((arch, batch, hidden, length))
            if value is None:
                row.append("")
            elif base is None or arch == baseline:
                row.append(f"{_ms(value)} ms")
            else:
                row.append(f"{_ms(value)} ms ({value / base:.2f}x)")
        rows.append(row)
    parts = [f"{STATS[stat]} {what}; in brackets, relative to {baseline}:\n",
             tabulate(rows, headers=headers, tablefmt="github")]
    lengths = sorted({c["length"] for c in cases})
    if len(lengths) > 1:
        short, long = lengths[0], lengths[-1]
        scaling = []
        for batch, hidden in sorted({(b, h) for b, h, _ in sizes}):
            if not {(batch, hidden, short), (batch, hidden, long)} <= set(sizes):
                continue  # a size timed at one length only has no growth to show
            row = [f"B{batch} H{hidden}"]
            for arch in archs:
                a, b = by_case.get((arch, batch, hidden, short)), by_case.get((arch, batch, hidden, long))
                row.append(f"{b / a:.1f}" if a and b else "")
            scaling.append(row)
        parts += [f"\n\nTime at L={long} divided by time at L={short} (linear growth: "
                  f"{long / short:.1f}):\n", tabulate(scaling, headers=["size", *archs], tablefmt="github")]
    return "".join(parts)


def comparison_table(before: list[dict[str, Any]], after: list[dict[str, Any]], stat: str = "median") -> str:
    """Markdown: each training-step case timed in both files, as ``before -> after`` and before's
    time over after's (above 1: faster after), one row per architecture, one column per size."""
    times = [_step_times(cases) for cases in (before, after)]
    common = times[0].keys() & times[1].keys()
    if not common:
        raise BenchError("the two benchmark files have no training-step case in common (same architecture and size)")
    archs = sorted({key[0] for key in common})
    sizes = sorted({key[1:] for key in common})
    rows = []
    for arch in archs:
        row = [arch]
        for size in sizes:
            key = (arch, *size)
            row.append(f"{_ms(times[0][key])} -> {_ms(times[1][key])} ms ({times[0][key] / times[1][key]:.2f}x)"
                       if key in common else "")
        rows.append(row)
    return (f"{STATS[stat]} training-step time before -> after (ms); in brackets, before over after (above 1: "
            "faster after):\n\n" + tabulate(rows, headers=["architecture", *(f"B{b} H{h} L{t}" for b, h, t in sizes)],
                                            tablefmt="github"))


def machine_line(machine: dict[str, Any]) -> str:
    """One line naming the machine and libraries a benchmark file was measured with."""
    def part(name: str) -> dict[str, Any]:
        value = machine.get(name, {})
        return value if isinstance(value, dict) else {}

    extra = part("longdep_bench")
    cpu = part("cpu").get("brand_raw") or machine.get("processor", "")
    return (f"Measured on {extra.get('device_name') or cpu} ({extra.get('device', '?')}), "
            f"torch {extra.get('torch', '?')}, numba {extra.get('numba', '?')}, "
            f"{extra.get('torch_threads', '?')} torch thread(s), Python {machine.get('python_version', '?')}"
            + (f", allocator {extra['allocator']}" if "allocator" in extra else "") + ".")
