"""A numba cache directory that can be written, found before numba is imported.

numba caches compiled kernels (``cache=True``) in the ``__pycache__`` next to their source, else in
the user's cache directory (``~/.cache/numba``), and raises at import time when it can write
neither (a read-only installation run by a user without a home). Then the suite caches into a
temporary directory of its own (``NUMBA_CACHE_DIR``), removed when the process that made it exits;
worker processes inherit it. A ``NUMBA_CACHE_DIR`` the user set is always kept.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import sys
import tempfile

PACKAGES = ("longdep_bench", "longdep_bench_plugins", "longdep_bench_tasks")


def _writable(directory: str) -> bool:
    try:
        os.makedirs(directory, exist_ok=True)
        tempfile.TemporaryFile(dir=directory).close()
    except OSError:
        return False
    return True


def _source_directories() -> list[str]:
    """Every directory of the suite's packages that holds kernels (without importing them)."""
    directories = []
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        for root in (spec.submodule_search_locations or []) if spec else []:
            directories += [path for path, _, files in os.walk(root) if any(f.endswith(".py") for f in files)]
    return directories


def _user_cache() -> str:
    """numba's user-wide cache directory on this platform's conventions (XDG on Linux)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "numba")


def ensure_writable_cache() -> str | None:
    """Point numba at a temporary cache directory when it could write none; return it (None: not needed)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    if all(_writable(os.path.join(d, "__pycache__")) for d in _source_directories()) or _writable(_user_cache()):
        return None
    directory = tempfile.mkdtemp(prefix="longdep-bench-numba-")
    os.environ["NUMBA_CACHE_DIR"] = directory
    atexit.register(shutil.rmtree, directory, True)
    if "numba" in sys.modules:
        from numba.core import config

        config.reload_config()
    return directory
