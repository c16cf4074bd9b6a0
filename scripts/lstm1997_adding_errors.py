"""Which test sequences the paper's adding network gets wrong, after a given number of training sequences.

Trains ``lstm1997`` (the paper's adding preset by default) as ``configs/paper.toml`` does (plain online
gradient descent on one sequence at a time, sigmoid output unit on the squared error, lr 0.5), then
prints, on 2,560 test sequences: how many are wrong by ABS(0.04), the targets and outputs of the wrong
ones, the range of the outputs, and the share of test targets within 0.04 of 0 or 1 (where the sigmoid
output must come within 0.04 of its bound). For example:

    python scripts/lstm1997_adding_errors.py --T 100 --sequences 130000
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from longdep_bench.config.options import SweepOptions
from longdep_bench.system.environment import configure_threads
from longdep_bench.training.probe import probe_run

TOLERANCE = 0.04  # the paper's ABS(0.04)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--T", type=int, default=100, help="the adding problem's minimal length")
    parser.add_argument("--arch", default="lstm1997:preset=adding", help="the architecture with its options")
    parser.add_argument("--sequences", type=int, default=130_000, help="training sequences")
    parser.add_argument("--seed", type=int, default=0, help="run seed (the sweep's seed index)")
    args = parser.parse_args()
    configure_threads(1)
    options = SweepOptions(archs=(args.arch,), tasks=(f"adding:T={args.T}",), optimizer="sgd", batch_size=1, lr=0.5,
                           clip=0.0, output_units="sigmoid", seeds=args.seed + 1, max_sequences=args.sequences,
                           device="cpu")
    probe = probe_run(options, args.seed, 2560)
    test, step = probe.test, probe.step
    seen = 0
    while seen < args.sequences:
        seen += step(seen, min(4096, args.sequences - seen))
        step.take_window()
    batch = test.to_torch(torch.device("cpu"))
    with torch.no_grad():
        outputs = torch.sigmoid(step.model(batch.inputs, batch.lengths)).reshape(-1).double().numpy()
    targets = test.targets.astype(np.float64)
    wrong = np.abs(outputs - targets) >= TOLERANCE
    extreme = (targets < TOLERANCE) | (targets > 1 - TOLERANCE)
    order = np.argsort(targets[wrong])
    print(f"{args.arch} on adding T={args.T}, seed {args.seed}, after {seen:,} sequences: "
          f"{wrong.sum()} of {len(targets)} test sequences wrong by ABS({TOLERANCE})")
    print(f"  their targets: {np.array2string(targets[wrong][order], precision=2)}")
    print(f"  their outputs: {np.array2string(outputs[wrong][order], precision=2)}")
    print(f"  outputs range from {outputs.min():.3f} to {outputs.max():.3f}; {extreme.mean():.2%} of the targets are "
          f"within {TOLERANCE} of 0 or 1, and {wrong[extreme].sum()} of those {extreme.sum()} are wrong; "
          f"{wrong[~extreme].sum()} of the other {(~extreme).sum()}")


if __name__ == "__main__":
    main()
