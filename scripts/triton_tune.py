"""Time the Triton LSTM's launch settings against cuDNN ``nn.LSTM``, one layer, on one GPU:

    python3 scripts/triton_tune.py --out tune.json            # prints a Markdown table

For each size (B, H, L), cuDNN's forward and forward+backward, then ``fused-lstm``'s Triton kernels
(tf32) with each variant of the settings that ``triton_cells._launch`` takes from module constants:
warps per program, weights held in registers (HOIST) or read from L2 in slices, and the next
step's tiles loaded one step ahead (PREFETCH). Each figure is the median of ``--repeats`` timings
with CUDA events after three warm-up calls, with the largest difference of its outputs from
cuDNN's (TF32 on both); a variant that fails to compile or launch says why.
With ``TRITON_INTERPRET=1 --device cpu --sizes 16x16x5`` it runs on a CPU (the figures mean nothing
there; it checks the script).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import statistics
import time
from collections.abc import Callable, Iterator
from unittest import mock

import torch
from longdep_bench_plugins.fused_lstm import FusedLSTM

from longdep_bench.kernels.triton import cells as triton_cells


def block_of(hidden: int) -> int:
    """The kernels' hidden block (BLOCK_H) at this hidden size, as ``_launch`` chooses it."""
    return triton_cells._launch(triton_cells.BLOCK_B, hidden)[1]["BLOCK_H"]


def launch_settings(block_h: int, warps: int, hoist: bool, prefetch: bool) -> contextlib.AbstractContextManager:
    """Make ``_launch`` use these settings for hidden block ``block_h`` while the context lasts."""
    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.dict(triton_cells.WARPS, {block_h: warps}))
    stack.enter_context(mock.patch.multiple(triton_cells, HOIST_UP_TO=block_h if hoist else 0,
                                            PREFETCH_UP_TO=block_h if prefetch else 0))
    return stack


def median_ms(call: Callable[[], None], device: torch.device, repeats: int) -> float:
    """Median time of ``call`` in milliseconds (CUDA events on a GPU, the wall clock elsewhere)."""
    for _ in range(3):
        call()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            call()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            began = time.perf_counter()
            call()
            times.append(1000 * (time.perf_counter() - began))
    return statistics.median(times)


def layer_timings(layer: torch.nn.Module, reference: torch.nn.Module, x: torch.Tensor, repeats: int
                  ) -> dict[str, float]:
    """Forward alone and forward + backward of one layer on ``x``, and its outputs' largest
    difference from ``reference``'s."""
    with torch.no_grad():
        error = (layer(x)[0] - reference(x)[0]).abs().max().item()

    def forward() -> None:
        with torch.no_grad():
            layer(x)

    def step() -> None:
        layer(x)[0].sum().backward()

    return {"forward_ms": median_ms(forward, x.device, repeats), "step_ms": median_ms(step, x.device, repeats),
            "max_error": error}


def variants(hidden: int) -> Iterator[tuple[int, bool, bool]]:
    """(warps, hoist, prefetch) worth trying at this hidden size."""
    hoists = (True, False) if block_of(hidden) <= triton_cells.HOIST_UP_TO else (False,)
    yield from itertools.product((4, 8, 16), hoists, (True, False))


def _size(text: str) -> tuple[int, int, int]:
    """``BxHxL`` as three positive integers (argparse reports anything else in one line)."""
    parts = text.split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not BxHxL with positive integers, e.g. 16x64x110")
    return int(parts[0]), int(parts[1]), int(parts[2])


def main() -> None:
    """Time every size and variant; print a Markdown table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=_size, default=[(16, 64, 110), (128, 128, 110), (128, 256, 110)],
                        help="BxHxL sizes, e.g. 16x64x110")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", default="triton-tune.json")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.allow_tf32 = True  # PyTorch's default for cuDNN RNNs
    rows = []
    print("| size | kernel | warps | weights | prefetch | forward ms | forward+backward ms | max error vs cuDNN |\n"
          "|---|---|---|---|---|---|---|---|")
    for batch, hidden, length in args.sizes:
        torch.manual_seed(0)
        reference = torch.nn.LSTM(hidden, hidden, batch_first=True).to(device)
        x = torch.randn(batch, length, hidden, device=device)
        results = [("cudnn", None, None, None, reference)]
        layer = FusedLSTM(hidden, hidden, kernel="triton").to(device)
        layer.load_state_dict(reference.state_dict())
        results += [("triton", w, hoist, prefetch, layer) for w, hoist, prefetch in variants(hidden)]
        block_h = block_of(hidden)
        for kernel, warps, hoist, prefetch, module in results:
            row = {"batch": batch, "hidden": hidden, "length": length, "kernel": kernel, "warps": warps,
                   "hoist": hoist, "prefetch": prefetch}
            settings = (launch_settings(block_h, warps, hoist, prefetch) if kernel == "triton"
                        else contextlib.nullcontext())
            try:
                with settings:
                    row.update(layer_timings(module, reference, x, args.repeats))
            except Exception as exc:  # a variant that does not compile or launch is a result too
                row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            rows.append(row)
            weights = "-" if hoist is None else ("registers" if hoist else "L2 slices")
            figures = (f"{row['error']} | |" if "error" in row
                       else f"{row['forward_ms']:.3f} | {row['step_ms']:.3f} | {row['max_error']:.1e}")
            print(f"| B{batch} H{hidden} L{length} | {kernel} | {warps or '-'} | {weights} | "
                  f"{'-' if prefetch is None else prefetch} | {figures} |", flush=True)
    with open(args.out, "w") as stream:
        json.dump({"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "rows": rows},
                  stream, indent=1)


if __name__ == "__main__":
    main()
