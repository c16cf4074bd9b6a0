"""The package's layers: each folder imports only from the folders below it, and no module imports
itself back through others (docs/development.md draws the same picture)."""

from __future__ import annotations

import ast
import pathlib

import longdep_bench

PACKAGE = pathlib.Path(longdep_bench.__file__).parent
# bottom to top; the package's own __init__ (the public API), cli and __main__ stand above them all
LAYERS = ("system", "api", "kernels", "config", "results", "discovery", "planning", "training", "execution")
TOP = ("__init__", "cli", "__main__")


def _modules() -> dict[str, pathlib.Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(("longdep_bench",) + (parts[:-1] if parts[-1] == "__init__" else parts))] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Each module of the package -> the modules of the package it imports (anywhere in its body)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                           for alias in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def layer(module: str) -> int:
    """The layer of a module: its folder's index in LAYERS, or above them all for the top modules."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in TOP:
        return len(LAYERS)
    return LAYERS.index(parts[1])


def test_every_module_is_in_a_layer():
    strays = [m for m in import_graph() if len(m.split(".")) > 1 and m.split(".")[1] not in LAYERS + TOP]
    assert not strays, f"modules outside every layer: {strays}"


def test_no_import_reaches_up_a_layer():
    upward = [f"{m} -> {d}" for m, deps in import_graph().items() for d in deps
              if layer(d) > layer(m) or (layer(d) == len(LAYERS) and layer(m) == len(LAYERS) and d == "longdep_bench"
                                         and m != "longdep_bench")]
    assert not upward, "imports from a higher layer: " + ", ".join(sorted(upward))


def test_no_import_cycle():
    graph = import_graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph[module]):
            if state.get(dep) == 1:
                cycles.append(path[path.index(dep):] + [dep] if dep in path else [module, dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_layer_checks_can_fail():
    """The graph sees imports inside functions and ``from package import module``."""
    graph = import_graph()
    assert "longdep_bench.system.version" in graph["longdep_bench.system.environment"]  # imported in a function
    assert "longdep_bench.api.hookspecs" in graph["longdep_bench.discovery.registry"]  # from package import module
    assert layer("longdep_bench.cli") > layer("longdep_bench.execution.driver") > layer("longdep_bench.system.files")


def test_development_page_lists_the_layers_in_order():
    page = (PACKAGE.parent / "docs" / "development.md").read_text()
    positions = [page.find(f"`{name}/`") for name in LAYERS]
    assert -1 not in positions, "docs/development.md names every layer as `name/`"
    assert positions == sorted(positions, reverse=True), "docs/development.md draws the layers top to bottom"
