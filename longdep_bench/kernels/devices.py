"""Which devices the compiled kernels that architectures offer through their ``kernel`` option run on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from longdep_bench.kernels.triton.cells import runs_on


def check_kernel_device(device: str, options: Mapping[str, Any]) -> None:
    """An architecture's ``check_device``: ``kernel=numba`` runs on the CPU only, ``kernel=triton``
    on CUDA (or on the CPU under Triton's interpreter, ``TRITON_INTERPRET=1``)."""
    kernel = options.get("kernel")
    if kernel == "numba" and device != "cpu":
        raise ValueError(f"kernel=numba runs on the CPU only, not on {device} (kernel=auto picks a kernel that does)")
    if kernel == "triton" and not runs_on(device):
        raise ValueError(f"kernel=triton runs on CUDA, not on {device} (or on the CPU with TRITON_INTERPRET=1, "
                         "slowly; kernel=auto picks a kernel that does)")


def use_numba(kernel: str, x: Tensor) -> bool:
    """Whether a ``kernel`` option's value runs the numba kernels on ``x``: ``numba`` always (an error
    off the CPU, as :func:`check_kernel_device` says before a run), ``auto`` on the CPU, anything else
    never."""
    check_kernel_device(x.device.type, {"kernel": kernel})
    return kernel == "numba" or (kernel == "auto" and x.device.type == "cpu")
