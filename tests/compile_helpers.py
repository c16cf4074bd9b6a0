"""Compiling Triton kernels for a GPU on a machine without one, for the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any


def run_compiled(code: str, *args: str) -> Any:
    """Run ``code`` (which compiles kernels with ``triton.compile`` for a GPU target and prints JSON
    last) in a fresh Python without Triton's interpreter, which is decided at import; return that
    JSON. Fails the test with the end of stderr if the process fails."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
