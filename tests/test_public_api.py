"""Built-in plugins use only the public API that third-party plugins have: the names of
``longdep_bench.__all__`` and the kernel libraries of ``longdep_bench.kernels``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import longdep_bench

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_FILES = sorted([*ROOT.joinpath("plugins").glob("*.py"), *ROOT.joinpath("tasks").glob("*.py"),
                       *ROOT.joinpath("examples").rglob("longdep_bench_*.py")])


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                yield node.module or "", alias.name


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_plugins_import_only_the_public_api(path):
    for module, name in _imports(path):
        if module == "longdep_bench.kernels" or module.startswith("longdep_bench.kernels."):
            continue
        if module.startswith("longdep_bench.") or module == "longdep_bench" and name not in longdep_bench.__all__:
            pytest.fail(f"{path.name} imports {module}{'.' + name if name else ''}, which is not public API "
                        f"(public: {', '.join(longdep_bench.__all__)})")


def test_public_api_is_importable_and_documented():
    """Every public name has a docstring written for it: a dataclass without one gets its signature
    as ``__doc__`` ('Batch(inputs: ...)'), which is not documentation."""
    undocumented = []
    for name in longdep_bench.__all__:
        doc = getattr(longdep_bench, name).__doc__ or ""
        if not doc.strip() or doc.startswith(f"{name}("):
            undocumented.append(name)
    assert not undocumented, f"public names without a docstring: {undocumented}"


def test_the_docstring_check_tells_a_generated_docstring_apart():
    import dataclasses

    @dataclasses.dataclass
    class Example:
        value: int

    assert Example.__doc__.startswith("Example(")  # what the check above refuses


PLUGIN_GUIDE = (ROOT / "docs" / "plugins.md").read_text()


def test_the_plugin_guide_documents_every_public_name():
    missing = [name for name in longdep_bench.__all__ if f"`{name}" not in PLUGIN_GUIDE]
    assert not missing, f"docs/plugins.md lacks {missing}"


def test_the_plugin_guide_names_every_hook():
    from longdep_bench.discovery.registry import HOOKS

    assert all(f"`{hook}(register)`" in PLUGIN_GUIDE for hook in HOOKS)


def _docs_hooks():
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reference_tables_of_the_docs_are_generated_from_the_code():
    """Settings and record fields are documented where they are declared; the docs' tables are made
    from those declarations, so a new setting or field without its help text fails here."""
    pytest.importorskip("mkdocs")
    from longdep_bench.config.settings import SETTINGS
    from longdep_bench.results.records import FIELD_HELP, FIELDS

    hooks = _docs_hooks()
    assert set(FIELD_HELP) == set(FIELDS) and all(FIELD_HELP.values())
    settings, fields = hooks.settings_table(), hooks.record_fields_table()
    assert all(f"`{s.name}`" in settings and s.help for s in SETTINGS)
    assert all(f"`{name}`" in fields for name in FIELDS)
    assert "<!-- settings -->" in (ROOT / "docs" / "running.md").read_text()
    assert "<!-- record-fields -->" in (ROOT / "docs" / "records.md").read_text()


def test_the_readme_is_short_and_keeps_its_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    assert readme.count("<!-- main-command -->") == 1 and readme.count("<!-- test-command -->") == 1


def test_the_installed_version_is_the_declared_one():
    """pyproject.toml reads the version from ``longdep_bench.__version__``: one declaration."""
    from importlib.metadata import version

    assert version("longdep-bench") == longdep_bench.__version__


def test_the_readme_headlines_are_the_committed_results():
    """The README's headline tables are scripts/readme_headlines.py's output on the committed results
    files, verbatim: rerun it (with --write) whenever those files change."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("readme_headlines", ROOT / "scripts" / "readme_headlines.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (ROOT / "README.md").read_text()
    start, end = (readme.index(marker) for marker in module.MARKERS)
    assert readme[start + len(module.MARKERS[0]):end].strip() == module.headlines()
