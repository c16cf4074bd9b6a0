"""Shared test helpers: in-process CLI calls, statistics, throw-away plugin distributions."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

# Without a GPU, Triton kernels run in Triton's interpreter on CPU tensors. Triton decides when a
# kernel is decorated, that is when the plugins are first imported: so before anything imports them.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

from longdep_bench.cli import main
from longdep_bench.config.settings import BY_NAME
from longdep_bench.discovery.registry import get_registry
from longdep_bench.system.environment import configure_allocator

# Property-based tests: derandomised, so that CI is reproducible; the ``fuzz`` profile is the long run
# (pytest tests/test_fuzz.py --hypothesis-profile=fuzz).
_HYPOTHESIS = dict(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None,
                   derandomize=True)
settings.register_profile("ci", max_examples=40, **_HYPOTHESIS)
settings.register_profile("fuzz", max_examples=2000, **_HYPOTHESIS)
settings.register_profile("fuzz-short", max_examples=300, **_HYPOTHESIS)
settings.load_profile("ci")


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys):
    """Call ``longdep-bench`` in-process; return exit code, stdout and stderr."""

    def invoke(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:  # pragma: no cover - main always exits
            code = 0
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def plugin_dist(tmp_path, monkeypatch):
    """Install a throw-away plugin distribution on sys.path: ``plugin_dist(dist, {ep: source})``."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))

    def make(dist: str, modules: dict[str, str], version: str = "1.0") -> Path:
        info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = ["[longdep_bench]"]
        for entry_point, source in modules.items():
            module = f"{dist.replace('-', '_')}_{entry_point.replace('-', '_')}"
            (root / f"{module}.py").write_text(textwrap.dedent(source))
            lines.append(f"{entry_point} = {module}")
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        get_registry.cache_clear()
        return root

    yield make
    get_registry.cache_clear()
    for name in [m for m in sys.modules if m.startswith("fake")]:
        del sys.modules[name]


def pytest_addoption(parser):
    parser.addoption("--device", default="cpu", choices=("cpu", "cuda"),
                     help="device for the device-aware tests and the speed benchmarks (default: cpu)")
    parser.addoption("--arch", action="append", default=[], metavar="NAME",
                     help="only tests of exactly this architecture (repeatable; -k matches substrings)")
    parser.addoption("--size", action="append", default=[], metavar="BxHxL",
                     help="only benchmark cases of exactly this size, e.g. B32-H32-L110 (repeatable)")
    allocator = BY_NAME["allocator"]
    parser.addoption("--allocator", default=allocator.default, choices=allocator.choices,
                     help=f"the test process's allocator setting, as runs configure it (default: {allocator.default})")


def pytest_configure(config):
    """The test process's memory allocator as a run's process has it (``--allocator``); the speed
    benchmarks time steps under it."""
    configure_allocator(config.getoption("--allocator"))


def pytest_collection_modifyitems(config, items):
    """--arch and --size: keep only the cases whose parameters are exactly those."""
    archs, sizes = config.getoption("--arch"), config.getoption("--size")
    if not archs and not sizes:
        return
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        size = f"B{params['batch']}-H{params['hidden']}-L{params['length']}" if "batch" in params else None
        arch = params.get("arch", params.get("name"))
        ok = (not archs or arch in archs) and (not sizes or size in sizes)
        (kept if ok else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def device(request):
    """The torch device chosen with --device; skips when CUDA is asked for but absent."""
    import torch

    name = request.config.getoption("--device")
    if name == "cuda" and not torch.cuda.is_available():
        pytest.skip("--device cuda, but CUDA is not available")
    return torch.device(name)


@pytest.fixture
def exact_device(device):
    """``device``, with TensorFloat-32 off for the test, so float32 results on CUDA compare at 1e-5."""
    import torch

    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield device
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
