"""Thread settings and a description of the software and hardware a run used."""

from __future__ import annotations

import platform
from typing import Any

import numba
import numpy as np
import torch


def configure_threads(threads: int) -> None:
    """Set torch's and numba's thread counts (numba's is capped at its pool size)."""
    torch.set_num_threads(threads)
    # numba's config sets its attributes at import (invisible to a type checker)
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]


# glibc's mallopt parameters: blocks up to MMAP_THRESHOLD come from the heap rather than their own
# mapping, and the heap is given back to the system only above TRIM_THRESHOLD of free memory at its top.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEPT_BLOCKS = 1 << 30
KEPT_FREE = 1 << 31


def configure_allocator(allocator: str) -> bool:
    """``keep``: make glibc's malloc serve blocks up to 1 GiB from its heap and keep up to 2 GiB of
    freed memory, so that the large arrays of a training step (gate states, gradients: hundreds of MB
    at batch 128 and 1,100 steps) reuse the memory freed by the step before instead of new mappings
    whose pages fault in at every step. ``system``: leave the C library's defaults (a process that
    already kept its memory keeps doing so). Returns whether the allocator was changed: False
    without glibc."""
    if allocator != "keep" or platform.libc_ver()[0] != "glibc":
        return False
    import ctypes

    libc = ctypes.CDLL(None)
    return bool(libc.mallopt(M_MMAP_THRESHOLD, KEPT_BLOCKS) and libc.mallopt(M_TRIM_THRESHOLD, KEPT_FREE))


def resolve_device(name: str) -> str:
    """'auto' -> 'cuda' when CUDA is available, else 'cpu'; 'cuda' without CUDA is an error."""
    from longdep_bench.system.errors import BenchError

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise BenchError("--device cuda: this torch has no usable CUDA device (torch "
                         f"{torch.__version__}); use --device cpu or install a CUDA build of torch")
    return name


def device_name(device: torch.device) -> str:
    """A human-readable name of the device (the GPU's name, or the CPU's model)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return _cpu_model() or platform.processor() or platform.machine()


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def environment(device: torch.device, threads: int) -> dict[str, Any]:
    """Versions (this package's too), device and threads, as stored in every result record."""
    from longdep_bench.system.version import __version__

    info: dict[str, Any] = {
        "longdep_bench": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numba": numba.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "device": device.type,
        "device_name": device_name(device),
        "threads": threads,
    }
    if device.type == "cuda":
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
        info["cuda_device_index"] = torch.cuda.current_device()
    return info
