"""The ``longdep-bench`` command line."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any

import click
import numpy as np

from longdep_bench.discovery.registry import Registry, get_registry
from longdep_bench.system.errors import BAD_INPUT, ENVIRONMENT, BenchError, Interrupted

PROG = "longdep-bench"


def _registry(warn: bool = True) -> Registry:
    """The registry, with one warning line on stderr for each plugin that failed and each name
    that several plugins register."""
    registry = get_registry()
    if warn:
        for failure in registry.failures:
            click.echo(f"{PROG}: warning: plugin {failure.name!r} ({failure.distribution}) failed: "
                       f"{failure.error} (see '{PROG} plugins')", err=True)
        for line in registry.conflict_lines() + registry.warning_lines():
            click.echo(f"{PROG}: warning: {line}", err=True)
    return registry


def _params_info(params: Sequence[Any]) -> dict[str, Any]:
    return {p.name: {"default": p.default, "accepted": p.accepted(), "help": p.help} for p in params}


def _details(kind: str, spec: Any) -> dict[str, Any]:
    """What ``list`` shows of a spec beyond its name, description and plugin."""
    if kind == "architecture":
        return {"options": _params_info(spec.options), "recommended": dict(spec.recommended),
                "unavailable": spec.unavailable, "cuda_graphs": spec.cuda_graphs}
    if kind == "task":
        return {"output": spec.output.value, "gap_param": spec.gap_param, "chance": spec.chance,
                "success_threshold": spec.success_threshold, "params": _params_info(spec.params),
                "baseline": spec.baseline}
    if kind == "executor":
        return {"options": _params_info(spec.options)}
    return {}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="longdep-bench", prog_name=PROG)
@click.option("--debug", is_flag=True, help="Show the traceback of a plugin's fault (anywhere on the line).")
def cli(debug: bool) -> None:
    """Benchmark recurrent architectures on long-term-dependency tasks."""


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def list_command(as_json: bool) -> None:
    """List every registered architecture, task, executor and output format.

    A name that several plugins register is listed once per plugin, marked as a conflict.
    """
    from tabulate import tabulate

    from longdep_bench.discovery.registry import KINDS

    registry = _registry()
    listing = {kind.name: [{"name": entry.spec.name, "description": entry.spec.description, "plugin": entry.plugin,
                            "distribution": entry.distribution, "conflict": conflict,
                            **_details(kind.name, entry.spec)}
                           for entry, conflict in registry.listing(kind.name)] for kind in KINDS}
    if as_json:
        click.echo(json.dumps({f"{kind}s": items for kind, items in listing.items()}, indent=2))
        return
    blocks = []
    for kind, items in listing.items():
        rows = []
        for item in items:
            notes = ([f"[unavailable: {item['unavailable']}]"] if item.get("unavailable") else []) + (
                ["[CONFLICT: registered by several plugins; unusable]"] if item["conflict"] else [])
            settings = item.get("options") or item.get("params") or {}
            rows.append([item["name"], " ".join([item["description"], *notes]),
                         ", ".join(f"{k}={v['default']}" for k, v in settings.items()), item["distribution"]])
        heading = {"architecture": "options", "task": "parameters", "executor": "options"}.get(kind)
        if heading is None:
            rows = [[name, description, plugin] for name, description, _, plugin in rows]
        headers = ["name", "description", *([heading] if heading else []), "plugin"]
        blocks.append(f"{kind.capitalize()}s\n" + tabulate(rows, headers=headers))
    click.echo("\n\n".join(blocks))


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins_command(as_json: bool) -> None:
    """List loaded plugins with their hooks, plugins that failed to load, conflicting names, specs
    whose declarations are wrong (every task is checked against its data here) and warnings.

    Exit status 1 when a plugin failed or a spec is unusable.
    """
    from tabulate import tabulate

    registry = _registry(warn=False)
    registry.probe_all()
    loaded = [{"name": p.name, "distribution": p.distribution, "version": p.version, "hooks": list(p.hooks),
               "warnings": list(p.warnings)} for p in registry.plugins]
    failed = [{"name": f.name, "distribution": f.distribution, "version": f.version, "error": f.error}
              for f in registry.failures]
    conflicts = registry.conflict_lines()
    if as_json:
        click.echo(json.dumps({"loaded": loaded, "failed": failed, "conflicts": conflicts}, indent=2))
    else:
        click.echo(tabulate([[p["name"], p["distribution"], p["version"], ", ".join(p["hooks"])] for p in loaded],
                            headers=["plugin", "distribution", "version", "hooks"]))
        if failed:
            click.echo("\nFailed\n" + tabulate([[f["name"], f["distribution"], f["version"], f["error"]]
                                                 for f in failed], headers=["plugin", "distribution", "version",
                                                                            "error"]))
        if conflicts:
            click.echo("\nUnusable\n" + "\n".join(conflicts))
        if registry.warning_lines():
            click.echo("\nWarnings\n" + "\n".join(registry.warning_lines()))
    if failed or conflicts:
        sys.exit(1)


def _save_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Write an .npz atomically: a failure or an interrupt leaves any existing file untouched, and
    only a regular file is ever replaced (see :mod:`longdep_bench.system.files`)."""
    from longdep_bench.system.files import replacing

    with replacing(path, "data set") as handle:
        np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool


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
    from longdep_bench.discovery.contracts import call_plugin, check_batch, check_stream
    from longdep_bench.planning.plan import task_variants
    from longdep_bench.results.datasets import dataset_arrays

    registry = _registry()
    [(task, resolved)] = task_variants(registry, task_name, params, (gap,) if gap is not None else ())
    entry = registry.entry("task", task.name)
    batch = call_plugin("task", entry, task.generate, resolved, count, seed, 0)
    check_batch(entry, resolved, batch, count)
    check_stream(entry, resolved, seed, min(max(count, 3), 16))  # pure, and continues its stream
    _save_npz(output, dataset_arrays(task, resolved, batch))
    settings = "".join(f"{k}={v}, " for k, v in resolved.items())
    click.echo(f"wrote {count} {task.name} sequences ({settings}seed {seed}) to {output}", err=True)


@cli.command("check")
@click.argument("names", nargs=-1, required=True, metavar="NAME[:OPT=V,..]...")
@click.option("-t", "--task", "task_ref", metavar="TASK[:P=V,..]",
              help="The task that architectures are checked on (default: the first task named, else task6a).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="cuda adds: steps captured in a CUDA graph equal eager steps.")
def check_command(names: tuple[str, ...], task_ref: str | None, device: str) -> None:
    """Check architectures and tasks (by name, with options or parameters) against their plugin
    contracts, at small sizes.

    For a task: its declarations (against its data too), shapes, dtypes and ranges of its batches,
    purity and stream continuation. For an architecture: reproducible build, output shape, padding
    invariance, no tensor outside its parameters and buffers, a gradient for every parameter (and on
    CUDA, graphed steps = eager steps), on the task given with -t, else the first task named.
    Exit status 1 when a check fails.
    """
    import torch

    from longdep_bench.discovery.contracts import PluginError
    from longdep_bench.planning.plan import architecture_variant, parse_ref, task_variants
    from longdep_bench.system.environment import resolve_device
    from longdep_bench.training.checks import Check, check_architecture, check_task

    registry = _registry()
    target = torch.device(resolve_device(device))
    kinds = {}
    for text in names:
        name = parse_ref(text)[0]
        known = [kind for kind in ("architecture", "task") if name in registry.entries[kind] or any(
            (kind, name) == key for key in (*registry.conflicts, *registry.invalid))]
        if not known:
            raise BenchError(f"no architecture or task is called {name!r}; see '{PROG} list'")
        kinds[text] = known[0]
    tasks = [text for text in names if kinds[text] == "task"]
    task_text = task_ref or (tasks[0] if tasks else "task6a")
    results: list[Check] = []
    for text in names:
        try:
            if kinds[text] == "task":
                [(task, params)] = task_variants(registry, text, (), ())
                results += check_task(registry.entry("task", task.name), params)
                continue
            [(task, params)] = task_variants(registry, task_text, (), ())
            spec, options, hidden = architecture_variant(registry, text, None, False)
            results += check_architecture(registry.entry("architecture", spec.name), registry.entry("task", task.name),
                                          target, params, options, hidden)
        except PluginError as exc:  # a spec that cannot be used: its declarations are wrong
            results.append(Check(f"{kinds[text]} {parse_ref(text)[0]}", "declarations", str(exc)))
    for result in results:
        click.echo(f"{'ok  ' if result.passed else 'FAIL'} {result.subject}: {result.name}"
                   + ("" if result.passed else f"\n     {result.failure}"))
    failed = sum(not r.passed for r in results)
    click.echo(f"{len(results) - failed} of {len(results)} checks passed", err=True)
    if failed:
        sys.exit(1)


format_option = click.option("--format", "fmt", default="github", show_default=True, metavar="NAME",
                             help="Format of the tables: github, plain, csv, json, or a plugin's (see 'list').")


def setting_options(function: Any) -> Any:
    """One click option per setting of :mod:`longdep_bench.config.settings` (default None: 'not given')."""
    from longdep_bench.config.settings import SETTINGS

    types = {int: click.INT, float: click.FLOAT, str: click.STRING}
    for setting in reversed(SETTINGS):
        textual = setting.auto or (setting.many and setting.type is int)  # 'auto'; '40,100'
        kind = click.STRING if textual else click.Choice(setting.choices) if setting.choices else types[
            setting.type]
        function = click.option(*setting.option_flags, setting.name, type=kind, multiple=setting.many,
                                default=None, metavar=setting.metavar,
                                help=f"{setting.help} [default: {setting.default_text()}]")(function)
    return function


def _given_settings(values: dict[str, Any]) -> dict[str, Any]:
    """The settings given on the command line, validated."""
    from longdep_bench.config.settings import BY_NAME

    given = {}
    for name, value in values.items():
        if value is None or value == ():
            continue
        setting = BY_NAME[name]
        flag = setting.option_flags[-1]
        if setting.many and setting.type is int:
            given[name] = tuple(setting.parse(part.strip(), flag) for text in value for part in text.split(","))
        else:
            given[name] = setting.parse(value, flag) if setting.auto else setting.validate(value, flag)
    return given


@cli.command("run")
@setting_options
@click.option("--config", type=click.Path(dir_okay=False), help="Sweep file (TOML); options given here override it.")
@click.option("--resume", is_flag=True, help="Require the output file to hold only runs of this same sweep.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@format_option
def run_command(config: str | None, resume: bool, quiet: bool, fmt: str, **values: Any) -> None:
    """Train every (architecture, task, gap, seed) combination and print the table.

    Exit status: 0 when every run has a result (solved, not solved or diverged), 1 when some runs
    ended in an error (their records say why; running the command again redoes them), 2 for bad
    input, 3 when the environment failed (a dead worker, a full disk), 130, 143 or 129 when SIGINT,
    SIGTERM or SIGHUP stopped it.
    """
    from longdep_bench.config.sweep_file import sweep_blocks
    from longdep_bench.execution.driver import SweepInterrupted, run_sweep
    from longdep_bench.execution.progress import Progress
    from longdep_bench.planning.plan import plan_sweep
    from longdep_bench.results.records import Status
    from longdep_bench.results.tables import build_tables

    blocks, execution = sweep_blocks(config, _given_settings(values))
    registry = _registry()
    output_format = registry.format(fmt)
    configs = plan_sweep(blocks, registry, config)
    defaults = {name: {p.name: p.default for p in entry.spec.options} for name, entry in registry.architectures.items()}
    started = time.perf_counter()
    try:
        records = run_sweep(
            configs, execution, registry, strict=resume,
            notify=lambda message: click.echo(f"{PROG}: {message}", err=True),
            progress_factory=lambda total, parallel: Progress(total, parallel, quiet=quiet, defaults=defaults))
    except SweepInterrupted as stop:
        click.echo(f"{PROG}: {stop}; they stay in {execution.output}. Run the same command again to resume.", err=True)
        sys.exit(stop.exit_code)
    click.echo(output_format.render(build_tables(records)))
    failed = [r for r in records if r.status is Status.ERROR]
    errors = len(failed)
    if quiet:  # the progress lines said why runs failed; -q still does, once per distinct reason
        for reason in list(dict.fromkeys(r.error for r in failed))[:5]:
            click.echo(f"{PROG}: a run failed: {reason}", err=True)
    if not quiet or errors:
        click.echo(f"{_runs(len(records))} in the sweep, {time.perf_counter() - started:.0f} s; records in "
                   f"{execution.output}" + (f"; {errors} of them ended in an error (see the error field of their "
                                            "records; running the command again redoes them)" if errors else ""),
                   err=True)
    if errors:
        sys.exit(1)


def _runs(count: int) -> str:
    return f"{count} run" + ("" if count == 1 else "s")


@cli.command("report")
@click.argument("results", type=click.Path(dir_okay=False))
@format_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Also write a Markdown report with PNG plots into this directory.")
@click.option("--paper", is_flag=True, help="With --out: first a table of every experiment side by side with "
              "the published results of its task (one row per task and setting, one column per architecture and "
              "protocol).")
def report_command(results: str, fmt: str, out_dir: str | None, paper: bool) -> None:
    """Print the tables of a results file (and write a report with plots with --out)."""
    from longdep_bench.execution.driver import latest_per_run
    from longdep_bench.results.records import read_records
    from longdep_bench.results.tables import build_tables

    if paper and not out_dir:
        raise BenchError("--paper adds a table to the report that --out DIR writes: give --out too")
    registry = _registry()
    output_format = registry.format(fmt)
    records = latest_per_run(read_records(results), by_code=True)
    if not records:
        raise BenchError(f"{results} holds no records")
    click.echo(output_format.render(build_tables(records)))
    if out_dir:
        from longdep_bench.results.report import write_report

        published = {name: entry.spec.published for name, entry in registry.tasks.items()}
        task_params = {name: entry.spec.params for name, entry in registry.tasks.items()}
        architectures = {name: entry.spec for name, entry in registry.architectures.items()}
        written = write_report(records, out_dir, results, published, paper=paper, task_params=task_params,
                               architectures=architectures)
        click.echo(f"wrote {written.path}" + ("" if written.plots else " (no plots: install matplotlib)")
                   + (f"; removed the plots it no longer shows: {', '.join(written.removed)}" if written.removed
                      else ""), err=True)


@cli.command("reproduce")
@click.argument("results", type=click.Path(dir_okay=False))
@click.argument("run_id")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), help="Train there instead of on the record's device.")
def reproduce_command(results: str, run_id: str, device: str | None) -> None:
    """Train a recorded run again and compare its results with the record's.

    RUN_ID is the record's run id or a prefix of it that names one run. Exit status 1 when a
    result differs (the table names the parts of the environment that differ too).
    """
    from tabulate import tabulate

    from longdep_bench.execution.progress import run_label
    from longdep_bench.execution.reproduce import compared, find_record, rerun, rerun_config, rows
    from longdep_bench.results.records import read_records

    record = find_record(read_records(results), run_id, results)
    config = rerun_config(record, device)  # a record that cannot be trusted is refused before anything is said
    arch = _registry().entry("architecture", record.arch)
    defaults = {p.name: p.default for p in arch.spec.options}
    click.echo(f"{PROG}: training {run_label(record, defaults)} ({record.run_id}) again", err=True)
    comparison = rerun(record, config)
    click.echo(tabulate(rows(comparison), headers=["", "recorded", "now", ""], tablefmt="github"))
    held = len(compared(record))
    if comparison.identical:
        click.echo(f"the run reproduces: all {held} results the record holds are the same", err=True)
        return
    cause = f"; the plugins' code differs: {comparison.code}" if comparison.code else ""
    click.echo(f"{len(comparison.results)} of {held} results differ{cause}", err=True)
    sys.exit(1)


@cli.command("speed")
@click.argument("bench_json", type=click.Path(dir_okay=False))
@click.option("--baseline", default="lstm", show_default=True, help="Architecture the ratios refer to.")
@click.option("--stat", type=click.Choice(["median", "min"]), default="median", show_default=True,
              help="Which round statistic to show: min leaves out one-off costs (a JIT compile in a round).")
@click.option("--against", "before_json", type=click.Path(dir_okay=False), metavar="BEFORE_JSON",
              help="Instead: compare with another benchmark file, case by case (before -> this file).")
def speed_command(bench_json: str, baseline: str, stat: str, before_json: str | None) -> None:
    """Speed tables from a pytest-benchmark JSON file of tests/benchmarks."""
    from longdep_bench.results.speed import (
        FORWARD,
        GRAPHED,
        comparison_table,
        load_benchmarks,
        machine_line,
        speed_tables,
    )

    machine, cases = load_benchmarks(bench_json, stat)
    if before_json:
        before_machine, before = load_benchmarks(before_json, stat)
        click.echo(f"before ({before_json}): {machine_line(before_machine)}\nafter ({bench_json}): "
                   f"{machine_line(machine)}\n\n{comparison_table(before, cases, stat)}")
        return
    steps = {c["arch"] for c in cases if "arch" in c}
    if steps and baseline not in {arch.removesuffix(GRAPHED).removesuffix(FORWARD) for arch in steps}:
        click.echo(f"{PROG}: note: the baseline {baseline!r} is not in {bench_json}; times are shown without "
                   f"ratios (architectures there: {', '.join(sorted(steps))})", err=True)
    click.echo(machine_line(machine) + "\n\n" + speed_tables(cases, baseline, stat))


def _say(message: str) -> None:
    """One line on stderr, if stderr can still be written."""
    try:
        click.echo(f"{PROG}: {message}", err=True)
    except OSError:
        pass


def _devnull_onto(fd: int) -> None:
    """Make descriptor ``fd`` refer to /dev/null."""
    devnull = os.open(os.devnull, os.O_RDWR)
    if devnull != fd:
        os.dup2(devnull, fd)
        os.close(devnull)


def _silence_stdout() -> None:
    """After stdout failed (a full device, a closed pipe): send what is left to /dev/null, so that the
    interpreter's final flush fails no more."""
    try:
        _devnull_onto(sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _standard_streams_open() -> bool:
    """Give a closed standard stream (a command started with ``>&-`` or ``2>&-``) /dev/null, so that no
    file the suite opens later takes its descriptor (and gets the table or the messages written into
    it); False, after one line on stderr where it is open, when stdout was closed: the output has
    nowhere to go."""
    closed = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.append(fd)
            _devnull_onto(fd)
    if 2 in closed or sys.stderr is None:
        sys.stderr = open(2, "w", closefd=False)  # the process's own stream, reopened on /dev/null
    if 1 in closed or sys.stdout is None:
        sys.stdout = open(1, "w", closefd=False)
        _say("error: standard output is closed: nothing can be printed (give it a file or /dev/null)")
        return False
    return True


def _without_debug(arguments: list[str]) -> tuple[list[str], bool]:
    """The arguments without ``--debug`` (which may stand anywhere before a ``--``), and whether it was there."""
    end = arguments.index("--") if "--" in arguments else len(arguments)
    kept = [a for a in arguments[:end] if a != "--debug"] + arguments[end:]
    return kept, len(kept) != len(arguments)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point. Exit status: 0; 1 when runs failed, a plugin broke its contract or a run does not
    reproduce; 2 for bad input; 3 when the environment failed (a dead worker or scheduler, a full
    disk, an unwritable output); 128 + the signal when SIGINT, SIGTERM or SIGHUP stopped it. Each
    failure is one line on stderr (``--debug`` adds the traceback of a plugin's fault)."""
    from longdep_bench.system import signals

    if not _standard_streams_open():
        sys.exit(ENVIRONMENT)
    arguments, debug = _without_debug(list(sys.argv[1:] if argv is None else argv))
    previous = {signum: signal.getsignal(signum) for signum in signals.STOPPING}
    previous_hook = sys.unraisablehook
    signals.install()
    try:
        code = cli.main(args=arguments, prog_name=PROG, standalone_mode=False)
        sys.stdout.flush()
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except (click.ClickException, BenchError) as exc:
        message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
        _say(f"error: {message}")
        if debug and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__)
        code = getattr(exc, "exit_code", BAD_INPUT) if isinstance(exc, BenchError) else BAD_INPUT
    except (KeyboardInterrupt, click.exceptions.Abort):
        _say("interrupted")
        code = 128 + signal.SIGINT
    except Interrupted as stop:
        _say(f"interrupted ({stop})")
        code = stop.exit_code
    except OSError as exc:  # stdout or stderr refused, or a file outside the suite's file handling
        _silence_stdout()
        where = f" {exc.filename}" if exc.filename else " the output"
        _say(f"error: cannot write{where}: {exc.strerror or exc}")
        code = ENVIRONMENT
    except RecursionError:
        _say("error: the input is nested too deeply")
        code = BAD_INPUT
    finally:
        for signum, handler in previous.items():
            if handler is not None:
                signal.signal(signum, handler)
        sys.unraisablehook = previous_hook
    sys.exit(code or 0)
