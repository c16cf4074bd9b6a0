"""The ``longdep-bench`` command line."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from typing import Any, Sequence

import click
import numpy as np

from longdep_bench.errors import BenchError
from longdep_bench.registry import Registry, get_registry

PROG = "longdep-bench"


def _registry(warn: bool = True) -> Registry:
    """The registry, with one warning line on stderr for each plugin that failed."""
    registry = get_registry()
    if warn:
        for failure in registry.failures:
            click.echo(f"{PROG}: warning: plugin {failure.name!r} ({failure.distribution}) failed: "
                       f"{failure.error} (see '{PROG} plugins')", err=True)
    return registry


def _params_text(params: Sequence[Any]) -> str:
    return ", ".join(f"{p.name}={p.default}" for p in params)


def _params_info(params: Sequence[Any]) -> dict[str, Any]:
    return {p.name: {"default": p.default, "accepted": p.accepted(), "help": p.help} for p in params}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="longdep-bench", prog_name=PROG)
def cli() -> None:
    """Benchmark recurrent architectures on long-term-dependency tasks."""


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def list_command(as_json: bool) -> None:
    """List every registered architecture and task."""
    from tabulate import tabulate

    registry = _registry()
    archs = [
        {"name": name, "description": r.spec.description, "plugin": r.plugin, "distribution": r.distribution,
         "options": _params_info(r.spec.options),
         "recommended": dict(r.spec.recommended), "unavailable": r.spec.unavailable}
        for name, r in sorted(registry.architectures.items())
    ]
    tasks = [
        {"name": name, "description": r.spec.description, "plugin": r.plugin, "distribution": r.distribution,
         "output": r.spec.output.value, "gap_param": r.spec.gap_param, "chance": r.spec.chance,
         "success_threshold": r.spec.success_threshold,
         "params": _params_info(r.spec.params), "baseline": r.spec.baseline}
        for name, r in sorted(registry.tasks.items())
    ]
    if as_json:
        click.echo(json.dumps({"architectures": archs, "tasks": tasks}, indent=2))
        return
    arch_rows = [[a["name"], a["description"] + (f" [unavailable: {a['unavailable']}]" if a["unavailable"] else ""),
                  _params_text(registry.architectures[a["name"]].spec.options), a["distribution"]] for a in archs]
    task_rows = [[t["name"], t["description"], _params_text(registry.tasks[t["name"]].spec.params),
                  t["distribution"]] for t in tasks]
    click.echo("Architectures\n" + tabulate(arch_rows, headers=["name", "description", "options", "plugin"]))
    click.echo("\nTasks\n" + tabulate(task_rows, headers=["name", "description", "parameters", "plugin"]))


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins_command(as_json: bool) -> None:
    """List loaded plugins with their hooks, and plugins that failed to load."""
    from tabulate import tabulate

    registry = _registry(warn=False)
    loaded = [{"name": p.name, "distribution": p.distribution, "version": p.version, "hooks": list(p.hooks)}
              for p in registry.plugins]
    failed = [{"name": f.name, "distribution": f.distribution, "version": f.version, "error": f.error}
              for f in registry.failures]
    if as_json:
        click.echo(json.dumps({"loaded": loaded, "failed": failed}, indent=2))
        return
    click.echo(tabulate([[p["name"], p["distribution"], p["version"], ", ".join(p["hooks"])] for p in loaded],
                        headers=["plugin", "distribution", "version", "hooks"]))
    if failed:
        click.echo("\nFailed\n" + tabulate([[f["name"], f["distribution"], f["version"], f["error"]] for f in failed],
                                            headers=["plugin", "distribution", "version", "error"]))


def _save_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Write an .npz atomically: a failure leaves any existing file untouched."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        handle, temporary = tempfile.mkstemp(suffix=".npz", dir=directory)
    except OSError as exc:
        raise BenchError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez_compressed(stream, **arrays)
        os.replace(temporary, path)
    except OSError as exc:
        os.unlink(temporary)
        raise BenchError(f"cannot write {path}: {exc.strerror}") from None


@cli.command("generate")
@click.argument("task_name", metavar="TASK")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Task parameter.")
@click.option("--gap", type=int, help="The task's lag parameter (for task6a: gap).")
@click.option("-n", "count", type=click.IntRange(min=1, max=100_000_000), required=True, help="Number of sequences.")
@click.option("--seed", type=click.IntRange(min=0), required=True, help="Seed of the stream.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output .npz file.")
def generate_command(task_name: str, params: tuple[str, ...], gap: int | None, count: int, seed: int,
                     output: str) -> None:
    """Write COUNT sequences of TASK to an .npz file for inspection."""
    from longdep_bench.datasets import dataset_arrays
    from longdep_bench.sweep import task_variants

    [(task, resolved)] = task_variants(_registry(), task_name, params, (gap,) if gap is not None else ())
    _save_npz(output, dataset_arrays(task, resolved, count, seed))
    settings = ", ".join(f"{k}={v}" for k, v in resolved.items())
    click.echo(f"wrote {count} {task.name} sequences ({settings}, seed {seed}) to {output}", err=True)


_SWEEP_OPTIONS = ("archs", "tasks", "params", "gaps", "seeds", "master_seed", "hidden", "batch_size", "lr", "clip",
                  "max_sequences", "threshold", "match_params")
_EXECUTION_DEFAULTS = {"output": "results.jsonl", "jobs": 1, "threads": 1, "device": "auto", "executor": "local",
                       "scheduler": None}


def _given(ctx: click.Context, name: str) -> bool:
    """Whether the user set an option on the command line (as opposed to its default)."""
    return ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE


def _sweep_blocks(ctx: click.Context, values: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The run blocks and execution settings: the sweep file's, overridden by the command line."""
    from longdep_bench.sweepfile import load_sweep_file

    overrides = {k: values[k] for k in _SWEEP_OPTIONS if _given(ctx, k)}
    execution = dict(_EXECUTION_DEFAULTS)
    if values["config"]:
        sweep_file = load_sweep_file(values["config"])
        blocks = [{**block, **overrides} for block in sweep_file.runs]
        execution.update(sweep_file.execution)
    else:
        blocks = [{k: values[k] for k in _SWEEP_OPTIONS if values[k] not in ((), None)}]
    execution.update({k: values[k] for k in _EXECUTION_DEFAULTS if _given(ctx, k)})
    return blocks, execution


@cli.command("run")
@click.option("-a", "--arch", "archs", multiple=True, metavar="ARCH[:OPT=V,..]",
              help="Architecture, with options (repeatable). Default: rnn, lstm, gru.")
@click.option("-t", "--task", "tasks", multiple=True, metavar="TASK[:P=V,..]",
              help="Task, with parameters (repeatable). Default: task6a.")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Parameter for every task.")
@click.option("--gap", "gaps", type=int, multiple=True, help="Lag of each task (repeatable).")
@click.option("--seeds", type=int, default=3, show_default=True, help="Runs per configuration.")
@click.option("--seed", "master_seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Master seed from which every run's seeds derive.")
@click.option("--hidden", type=int, default=64, show_default=True, help="Hidden size.")
@click.option("--match-params", type=int, help="Choose each model's hidden size to have this many parameters (+-10%).")
@click.option("--batch-size", type=int, help="Sequences per step (default: architecture's, else 16).")
@click.option("--lr", type=float, help="Adam learning rate (default: architecture's, else 3e-3).")
@click.option("--clip", type=float, help="Gradient-norm clip, 0 for none (default: 1.0).")
@click.option("--max-sequences", type=int, default=100_000, show_default=True, help="Training budget per run.")
@click.option("--threshold", type=float, help="Test accuracy that counts as solved (default: the task's).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="torch and numba threads per run.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Local worker processes (spawned, one run each).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where runs execute: local processes, or a dask.distributed cluster.")
@click.option("--scheduler", metavar="ADDRESS", help="dask scheduler address, with --executor dask.")
@click.option("--config", type=click.Path(dir_okay=False), help="Sweep file (TOML); options given here override it.")
@click.option("-o", "--output", default="results.jsonl", show_default=True, type=click.Path(dir_okay=False),
              help="JSON Lines file that records are appended to; runs already recorded there are skipped.")
@click.option("--resume", is_flag=True, help="Require the output file to hold only runs of this same sweep.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@click.option("--format", "fmt", type=click.Choice(["github", "plain", "csv", "json"]), default="github",
              show_default=True, help="Format of the table on stdout.")
@click.pass_context
def run_command(ctx: click.Context, **values: Any) -> None:
    """Train every (architecture, task, gap, seed) combination and print the table."""
    from longdep_bench.driver import Execution, SweepInterrupted, run_sweep
    from longdep_bench.environment import resolve_device
    from longdep_bench.progress import Progress
    from longdep_bench.sweep import SweepOptions, plan
    from longdep_bench.tables import build_tables, render

    blocks, execution = _sweep_blocks(ctx, values)
    device = resolve_device(execution["device"])
    registry = _registry()
    configs = {}
    for block in blocks:
        options = SweepOptions(**block, device=device, threads=execution["threads"])
        for config in plan(options, registry):
            configs.setdefault(config.run_id(), config)
    settings = Execution(output=execution["output"], jobs=execution["jobs"], executor=execution["executor"],
                         scheduler=execution["scheduler"])
    started = time.perf_counter()
    try:
        records = run_sweep(
            list(configs.values()), settings, strict=values["resume"],
            notify=lambda message: click.echo(f"{PROG}: {message}", err=True),
            progress_factory=lambda total, parallel: Progress(total, parallel, quiet=values["quiet"]))
    except SweepInterrupted as stop:
        click.echo(f"{PROG}: {stop}; they stay in {settings.output}. Run the same command again to resume.", err=True)
        sys.exit(130)
    if not values["quiet"]:
        click.echo(f"{len(records)} runs in the sweep, {time.perf_counter() - started:.0f} s; "
                   f"records in {settings.output}", err=True)
    click.echo(render(build_tables(records), values["fmt"]))


@cli.command("report")
@click.argument("results", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["github", "plain", "csv", "json"]), default="github",
              show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Also write a Markdown report with PNG plots into this directory.")
def report_command(results: str, fmt: str, out_dir: str | None) -> None:
    """Print the tables of a results file (and write a report with plots with --out)."""
    from longdep_bench.driver import latest_per_run
    from longdep_bench.records import read_records
    from longdep_bench.tables import build_tables, render

    records = latest_per_run(read_records(results))
    if not records:
        raise BenchError(f"{results} holds no records")
    click.echo(render(build_tables(records), fmt))
    if out_dir:
        from longdep_bench.report import write_report

        registry = _registry()
        notes = {name: entry.spec.published for name, entry in registry.tasks.items()}
        path, plots = write_report(records, out_dir, results, notes)
        click.echo(f"wrote {path}" + ("" if plots else " (no plots: install matplotlib)"), err=True)


@cli.command("speed")
@click.argument("bench_json", type=click.Path(dir_okay=False))
@click.option("--baseline", default="lstm", show_default=True, help="Architecture the ratios refer to.")
@click.option("--stat", type=click.Choice(["median", "min"]), default="median", show_default=True,
              help="Which round statistic to show: min leaves out one-off costs (a JIT compile in a round).")
def speed_command(bench_json: str, baseline: str, stat: str) -> None:
    """Speed tables from a pytest-benchmark JSON file of tests/benchmarks."""
    from longdep_bench.speed import load_benchmarks, machine_line, speed_tables

    machine, cases = load_benchmarks(bench_json, stat)
    click.echo(machine_line(machine) + "\n\n" + speed_tables(cases, baseline, stat))


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: bad input and impossible requests exit with code 2 and one line on stderr."""
    try:
        code = cli.main(args=argv, prog_name=PROG, standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except (click.ClickException, BenchError) as exc:
        message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
        click.echo(f"{PROG}: error: {message}", err=True)
        code = 2
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo(f"{PROG}: interrupted", err=True)
        code = 130
    sys.exit(code or 0)
