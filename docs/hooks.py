"""MkDocs hooks: the reference tables of the site are generated from the code, never written twice.

- One page per task plugin and per architecture plugin (``tasks/<plugin>.md``, ``architectures/<plugin>.md``):
  the module's docstring, then tables of what it registers (parameters or options, outputs, baselines,
  presets, published figures with their marks), from the plugin registry.
- The committed reports (``reports/``), at the same paths, so that the pages link to them.
- Placeholders in the hand-written pages are replaced: ``<!-- settings -->`` (every setting of
  ``run``, from ``longdep_bench.config.settings``), ``<!-- record-fields -->`` (every field of a result record,
  from ``longdep_bench.results.records``), ``<!-- task-index -->`` and ``<!-- architecture-index -->``, and
  ``<!-- include: PATH#HEADING -->``, the section of a committed report under that heading (the
  figures shown are the report's, never copied by hand).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
INCLUDE = re.compile(r"<!-- include: ([^#>]+)#([^>]+?) -->")


def _registry():
    from longdep_bench.discovery.registry import get_registry

    return get_registry()


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(headers, rows) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _builtin(entry) -> bool:
    return entry.distribution == "longdep-bench"


def _plugin_modules(kind: str) -> dict[str, list]:
    """Built-in plugin module name -> its registered entries of ``kind``."""
    modules: dict[str, list] = {}
    for entry in _registry().entries[kind].values():
        if _builtin(entry):
            modules.setdefault(entry.spec.build.__module__ if kind == "architecture" else
                               entry.spec.generate.__module__, []).append(entry)
    return dict(sorted(modules.items()))


def _docstring(module_name: str) -> str:
    import importlib

    text = inspect.getdoc(importlib.import_module(module_name)) or ""
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _params(params) -> str:
    return _table(["parameter", "default", "accepted", "meaning"],
                  [[f"`{p.name}`", p.default if p.default != "" else '""', p.accepted(), p.help] for p in params])


def task_page(module: str, entries) -> str:
    lines = [f"# {', '.join(e.spec.name for e in entries)}", "", _docstring(module), ""]
    for entry in sorted(entries, key=lambda e: e.spec.name):
        task = entry.spec
        params = {p.name: p.default for p in task.params}
        loss = task.baseline_loss(params) if task.baseline_loss else None
        lines += [f"## `{task.name}`", "", task.description, "",
                  _table(["output", "lag parameter", "solved at", "baseline", "baseline right", "baseline loss"],
                         [[task.output.value, task.gap_param or "-", f"{task.success_threshold:.4g}", task.baseline,
                           f"{task.chance:.3g}", "-" if loss is None else f"{loss:.4g}"]]), "",
                  _params(task.params), ""]
        if task.published:
            lines += ["Published figures:", ""] + [f"- {p.line()}" for p in task.published] + [""]
    lines += ["Validators: `tests/test_tasks.py`, `tests/test_task6a.py` and `tests/test_paper_tasks.py` test the "
              "generated data against these definitions (chi-square tests of the distributions, exact structure) "
              "and the declared baselines against generated data.", ""]
    return "\n".join(lines)


def architecture_page(module: str, entries) -> str:
    lines = [f"# {', '.join(e.spec.name for e in entries)}", "", _docstring(module), ""]
    for entry in sorted(entries, key=lambda e: e.spec.name):
        arch = entry.spec
        recommended = ", ".join(f"{k} {v}" for k, v in arch.recommended.items()) or "none"
        lines += [f"## `{arch.name}`", "", arch.description, "",
                  f"Recommended settings: {recommended}. CUDA graphs: {'yes' if arch.cuda_graphs else 'no'}.", "",
                  _params(arch.options), ""]
        if arch.presets:
            names = sorted({k for values in arch.presets.values() for k in values})
            lines += ["Presets (`-a NAME:preset=P`; options given beside a preset override it):", "",
                      _table(["preset", *names], [[p, *(values.get(n, "") for n in names)]
                                                   for p, values in arch.presets.items()]), ""]
    lines += ["Speed: [Speed](../speed.md).", ""]
    return "\n".join(lines)


def settings_table() -> str:
    from longdep_bench.config.settings import SETTINGS

    return _table(["option", "sweep-file key", "default", "accepted", "meaning"],
                  [["`" + "/".join(s.option_flags) + (f" {s.metavar}`" if s.metavar else "`"), f"`{s.name}`",
                    s.default_text(), s.accepted() + (" (a list)" if s.many else ""), s.help] for s in SETTINGS])


def record_fields_table() -> str:
    from longdep_bench.results.records import FIELD_HELP, FIELDS

    return _table(["field", "meaning"], [[f"`{name}`", FIELD_HELP[name]] for name in sorted(FIELDS)])


def index_table(kind: str) -> str:
    rows = []
    for module, entries in _plugin_modules(kind).items():
        page = f"{'tasks' if kind == 'task' else 'architectures'}/{module.rsplit('.', 1)[-1]}.md"
        for entry in sorted(entries, key=lambda e: e.spec.name):
            rows.append([f"[`{entry.spec.name}`]({page})", entry.spec.description])
    return _table([kind, "what it is"], rows)


def include(path: str, heading: str) -> str:
    """The section of a committed file under a heading (to the next heading of the same or a higher level)."""
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip("#").strip() == heading and line.startswith("#"))
    level = len(lines[start]) - len(lines[start].lstrip("#"))
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].startswith("#") and len(lines[i]) - len(lines[i].lstrip("#")) <= level), len(lines))
    body = [line for line in lines[start + 1:end] if not re.search(r"!\[[^\]]*\]\([^)]+\.png\)", line)]
    text = "\n".join(body).strip()
    if path == "README.md":  # the README links into docs/ from the repository's root
        text = text.replace("](docs/", "](")
    return text + f"\n\n(From `{path}`, section \"{heading}\".)"


def report_files(config) -> list:
    """Every committed file under ``reports/``, at the same path in the site: the reports' pages (and
    what they link to: plots, results files, logs) are the repository's, never copied by hand."""
    return [File(str(path.relative_to(ROOT)), src_dir=str(ROOT), dest_dir=config["site_dir"],
                 use_directory_urls=config["use_directory_urls"])
            for path in sorted((ROOT / "reports").rglob("*")) if path.is_file()]


def on_files(files, config):
    """Add the generated plugin pages and the committed reports."""
    for file in report_files(config):
        files.append(file)
    for kind, folder, render in (("task", "tasks", task_page), ("architecture", "architectures", architecture_page)):
        for module, entries in _plugin_modules(kind).items():
            name = f"{folder}/{module.rsplit('.', 1)[-1]}.md"
            files.append(File.generated(config, name, content=render(module, entries)))
    return files


def on_page_markdown(markdown, page, config, files):
    """Replace the placeholders of the hand-written pages; in the reports, links into ``docs/`` (right
    in the repository) point where those pages are in the site."""
    if page.file.src_uri.startswith("reports/"):
        markdown = re.sub(r"\]\(((?:\.\./)+)docs/", r"](\1", markdown)
    markdown = markdown.replace("<!-- settings -->", settings_table())
    markdown = markdown.replace("<!-- record-fields -->", record_fields_table())
    markdown = markdown.replace("<!-- task-index -->", index_table("task"))
    markdown = markdown.replace("<!-- architecture-index -->", index_table("architecture"))
    return INCLUDE.sub(lambda m: include(m.group(1).strip(), m.group(2).strip()), markdown)
