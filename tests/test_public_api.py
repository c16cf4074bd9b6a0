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
    for name in longdep_bench.__all__:
        assert getattr(longdep_bench, name).__doc__, name


README = (ROOT / "README.md").read_text()


def test_readme_documents_every_public_name():
    missing = [name for name in longdep_bench.__all__ if f"`{name}" not in README]
    assert not missing, f"README's plugin reference lacks {missing}"


def test_readme_documents_every_setting():
    from longdep_bench.settings import SETTINGS

    missing = [s.name for s in SETTINGS if f"`{s.option_flags[-1]}" not in README and
               f"/{s.option_flags[-1]}" not in README or f"`{s.name}`" not in README]
    assert not missing, f"README's settings table lacks {missing}"


def test_readme_names_every_hook():
    from longdep_bench.registry import HOOKS

    assert all(f"`{hook}(register)`" in README for hook in HOOKS)


def test_the_installed_version_is_the_declared_one():
    """pyproject.toml reads the version from ``longdep_bench.__version__``: one declaration."""
    from importlib.metadata import version

    assert version("longdep-bench") == longdep_bench.__version__
