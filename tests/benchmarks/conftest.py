"""Machine information for pytest-benchmark's JSON: library versions, device and threads."""

from __future__ import annotations

import numba
import torch

from longdep_bench import __version__
from longdep_bench.system.environment import device_name


def pytest_benchmark_update_machine_info(config, machine_info):
    """Extend pytest-benchmark's machine_info with what a training step's speed depends on."""
    device = torch.device(config.getoption("--device"))
    machine_info["longdep_bench"] = {
        "version": __version__,
        "torch": torch.__version__,
        "numba": numba.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "device": device.type,
        "device_name": device_name(device) if device.type == "cpu" or torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(),
        "numba_threads": numba.get_num_threads(),
        "allocator": config.getoption("--allocator"),
    }
