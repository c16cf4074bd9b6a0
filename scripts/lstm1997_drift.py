"""How far the 1997 LSTM's cell states drift over a long sequence, at initialisation and while it trains.

The cells of the paper's network have no forget gate: a cell state only adds up its gated inputs,
s_t = s_{t-1} + y_in g(net_c). With the paper's full connectivity (``connectivity=F``) every gate and
cell also receives the previous activations of every gate, which start near 0.5, so over hundreds of
distractor steps the states drift away from 0 and h(s) saturates at +-1, which hides what the first
symbol stored. This trains ``lstm1997`` as ``configs/paper.toml`` does (plain gradient descent on one
sequence at a time, sigmoid outputs on the squared error, ABS(0.2)) and prints, at 0, 1k, 2k, 4k, ...
sequences, on 512 test sequences: the share right by ABS(0.2) and by the largest output, each cell's mean
|s| at each sequence's last step, and the share of cells there with |h(s)| > 0.9.
For example, the paper's 2c network and the same network with only the cell outputs fed back:

    python scripts/lstm1997_drift.py --task long-lag:q=100,p=100,tail=geometric --sequences 40000
    python scripts/lstm1997_drift.py --task long-lag:q=100,p=100,tail=geometric --sequences 40000 \
        --arch lstm1997:preset=2c,connectivity=cells
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch

from longdep_bench.config.options import SweepOptions
from longdep_bench.system.environment import configure_threads
from longdep_bench.training.loop import evaluate
from longdep_bench.training.objectives import run_objective
from longdep_bench.training.probe import probe_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="long-lag:q=100,p=100,tail=geometric", help="the task with its parameters")
    parser.add_argument("--arch", default="lstm1997:preset=2c", help="the architecture with its options")
    parser.add_argument("--lr", type=float, default=0.01, help="learning rate (the paper's for 2c: 0.01)")
    parser.add_argument("--sequences", type=int, default=40_000, help="training sequences")
    parser.add_argument("--seed", type=int, default=0, help="run seed (the sweep's seed index)")
    args = parser.parse_args()
    configure_threads(1)
    options = SweepOptions(archs=(args.arch,), tasks=(args.task,), optimizer="sgd", batch_size=1, lr=args.lr,
                           clip=0.0, output_units="sigmoid", abs_error=0.2, seeds=args.seed + 1,
                           max_sequences=args.sequences, device="cpu")
    probe = probe_run(options, args.seed, 512)
    config, task, test, step = probe.config, probe.task, probe.test, probe.step
    by_abs, by_argmax = run_objective(task, config), run_objective(task, dataclasses.replace(config, abs_error=0.0))
    test = test.to_torch(torch.device("cpu"))
    last = (test.lengths - 1).numpy()
    print(f"{args.arch} on {args.task}, lr {args.lr}, seed {args.seed}: {config.hidden} cells")
    seen, checkpoint = 0, 0
    while True:
        if seen >= checkpoint or seen >= args.sequences:
            with torch.no_grad():
                _, states = step.model.core.trace(test.inputs)
            final = np.abs(states[last, np.arange(len(last))])
            squashed = np.abs(2.0 / (1.0 + np.exp(-final)) - 1.0)
            print(f"{seen:>9,} seqs  right by ABS(0.2) {evaluate(step.model, by_abs, test).accuracy:6.1%}  "
                  f"by the largest output {evaluate(step.model, by_argmax, test).accuracy:6.1%}  "
                  f"mean |s| per cell at the end {np.array2string(final.mean(0), precision=2)}  "
                  f"|h(s)| > 0.9 in {(squashed > 0.9).mean():6.1%} of cells",
                  flush=True)
            checkpoint = max(1024, 2 * checkpoint)
        if seen >= args.sequences:
            break
        n = min(checkpoint, args.sequences) - seen if step.online else 1  # an online learner takes many at once
        step(seen, n)
        seen += n
        step.take_window()


if __name__ == "__main__":
    main()
