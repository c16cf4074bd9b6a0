"""Where the 1997 LSTM stands while it trains on the adding problem under the paper's protocol.

Trains ``lstm1997`` (by default the paper's adding network, ``preset=adding``: 2 blocks of 2
cells, 93 weights; plain gradient descent on one sequence at a time, a sigmoid output on the
squared error, as in ``configs/paper.toml``) and prints at 1k, 2k, 4k, ... sequences: the test
accuracy, the least-squares fit of the output on X1 and X2 (a network that ignores the inputs has
both coefficients 0; the target is 0.5 + X1/4 + X2/4), the output layer's weights, and each
block's mean input-gate activation at the two marked steps and at the others (a network that
stores the marked values opens its gate at them). For example:

    python scripts/lstm1997_plateau.py --T 500 --sequences 262144
    python scripts/lstm1997_plateau.py --T 100 --sequences 65536
    python scripts/lstm1997_plateau.py --T 500 --lr 0.1 --arch lstm1997:preset=adding,in_bias=-3/-9
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from longdep_bench_plugins.lstm1997 import LSTM1997

from longdep_bench.config.options import SweepOptions
from longdep_bench.system.environment import configure_allocator, configure_threads
from longdep_bench.training.loop import evaluate
from longdep_bench.training.objectives import run_objective
from longdep_bench.training.probe import probe_run


def gate_activations(layer: LSTM1997, inputs: torch.Tensor) -> torch.Tensor:
    """Input-gate activations (B, T, blocks) of ``layer`` on ``inputs`` (B, T, features)."""
    net, _ = layer.trace(inputs)
    cells, blocks = layer.layout.cells, layer.layout.blocks
    return torch.sigmoid(torch.from_numpy(net[..., cells:cells + blocks])).transpose(0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--T", type=int, default=500, help="the adding problem's T")
    parser.add_argument("--sequences", type=int, default=262_144, help="training sequences")
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate (the paper's block: 0.5)")
    parser.add_argument("--seed", type=int, default=0, help="run seed (the sweep's seed index)")
    parser.add_argument("--arch", default="lstm1997:preset=adding", help="the architecture with its options")
    args = parser.parse_args()
    configure_threads(1)
    configure_allocator("keep")
    options = SweepOptions(archs=(args.arch,), tasks=("adding",), gaps=(args.T,), optimizer="sgd",
                           batch_size=1, lr=args.lr, clip=0.0, output_units="sigmoid", seeds=args.seed + 1,
                           max_sequences=args.sequences, device="cpu")
    probe = probe_run(options, args.seed, 1024)
    config, task, test, step = probe.config, probe.task, probe.test, probe.step
    layer = step.model.core
    objective = run_objective(task, config)
    test = test.to_torch(torch.device("cpu"))
    markers = test.inputs[:, :, 1]
    marked = markers == 1
    values = torch.where(marked, test.inputs[:, :, 0], torch.zeros_like(markers))
    x1 = values.gather(1, marked.float().argmax(1, keepdim=True)).squeeze(1)
    x2 = values.sum(1) - x1
    design = torch.stack([x1, x2, torch.ones_like(x1)], 1).double()
    seen, checkpoint = 0, 1024
    print(f"{args.arch}, adding T={args.T}, lr {args.lr}, seed {args.seed}")
    while seen < args.sequences:
        n = min(checkpoint, args.sequences) - seen if step.online else 1  # an online learner takes many at once
        step(seen, n)
        seen += n
        if seen < checkpoint and seen < args.sequences:
            continue
        checkpoint *= 2
        step.take_window()
        with torch.no_grad():
            output = torch.sigmoid(step.model(test.inputs, test.lengths)).squeeze(-1).double()
            gates = gate_activations(layer, test.inputs)
        fit = torch.linalg.lstsq(design, output.unsqueeze(1)).solution.squeeze(1)
        accuracy = evaluate(step.model, objective, test).accuracy
        head = step.model.head.weight.detach().numpy().ravel()
        print(f"{seen:>9,} seqs  accuracy {accuracy:6.1%}  output ~ {fit[0]:+.3f} X1 {fit[1]:+.3f} X2 "
              f"{fit[2]:+.3f}  output weights {np.array2string(head, precision=3)}  input gates at marked / "
              f"other steps {np.array2string(gates[marked].mean(0).numpy(), precision=3)} / "
              f"{np.array2string(gates[markers == 0].mean(0).numpy(), precision=3)}", flush=True)


if __name__ == "__main__":
    main()
