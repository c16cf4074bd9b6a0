"""lstm1997: the 1997 equations step by step, the truncated gradient, blocks and initialisation."""

from __future__ import annotations

import pytest
import torch

from longdep_bench import BenchError
from longdep_bench.registry import get_registry
from longdep_bench.settings import SweepOptions
from longdep_bench.sweep import plan
from longdep_bench_plugins.lstm1997 import LSTM1997


def reference_1997(layer: LSTM1997, x: torch.Tensor) -> torch.Tensor:
    """The paper's forward equations, one step at a time, in plain eager code."""
    hidden = layer.weight_rec.shape[1]
    blocks = hidden // layer.block_size
    y = x.new_zeros(x.shape[0], hidden)
    s = x.new_zeros(x.shape[0], hidden)
    outputs = []
    for t in range(x.shape[1]):
        net = x[:, t] @ layer.weight_in.t() + y @ layer.weight_rec.t() + layer.bias
        net_c, net_in, net_out = net[:, :hidden], net[:, hidden:hidden + blocks], net[:, hidden + blocks:]
        y_in = torch.sigmoid(net_in).repeat_interleave(layer.block_size, 1)  # one gate per block
        y_out = torch.sigmoid(net_out).repeat_interleave(layer.block_size, 1)
        s = s + y_in * (4 * torch.sigmoid(net_c) - 2)  # no forget gate: the state accumulates
        y = y_out * (2 * torch.sigmoid(s) - 1)
        outputs.append(y)
    return torch.stack(outputs, 1)


@pytest.mark.parametrize("block_size", [1, 2, 4])
def test_forward_follows_the_1997_equations(block_size, exact_device):
    torch.manual_seed(0)
    layer = LSTM1997(input_size=5, hidden=8, block_size=block_size, truncated=True).to(exact_device)
    x = torch.randn(3, 13, 5).to(exact_device)
    torch.testing.assert_close(layer(x), reference_1997(layer, x), rtol=1e-5, atol=1e-6)


def test_truncated_gradient_flows_back_only_through_cell_states():
    torch.manual_seed(0)
    full = LSTM1997(4, 6, 2, truncated=False)
    truncated = LSTM1997(4, 6, 2, truncated=True)
    truncated.load_state_dict(full.state_dict())
    x = torch.randn(2, 9, 4)
    torch.testing.assert_close(full(x), truncated(x))
    gradients = []
    for layer in (full, truncated):
        xs = x.clone().requires_grad_(True)
        layer(xs)[:, -1].sum().backward()
        gradients.append(xs.grad)
    assert not torch.allclose(gradients[0], gradients[1])
    # With truncation the only path from step 0 to the last output is the cell state, whose
    # derivative with respect to its predecessor is 1 (no forget gate): it does not vanish.
    assert gradients[1][:, 0].abs().sum() > 0


def test_gate_biases_negative_by_block_and_weights_small():
    torch.manual_seed(0)
    layer = LSTM1997(9, 8, 2, truncated=True)
    gates = layer.bias[8:]
    assert gates.tolist() == [-2.0, -4.0, -6.0, -8.0] * 2
    assert layer.weight_in.abs().max() <= 0.1 and layer.weight_rec.abs().max() <= 0.1


def test_hidden_must_be_whole_blocks():
    with pytest.raises(BenchError, match="not a multiple of block_size=3"):
        plan(SweepOptions(archs=("lstm1997:block_size=3",), hidden=64), get_registry())


@pytest.mark.parametrize("truncated", [True, False])
@pytest.mark.parametrize("steps,batch,hidden,block_size", [(110, 1, 4, 2), (37, 5, 6, 3), (60, 8, 32, 2)])
def test_numba_kernel_equals_the_torchscript_loop(truncated, steps, batch, hidden, block_size):
    from longdep_bench_plugins.lstm1997 import lstm1997_recurrence
    from longdep_bench.kernels.numba.lstm1997 import NumbaRecurrence

    torch.manual_seed(3)
    width = hidden + 2 * (hidden // block_size)
    projected = torch.randn(steps, batch, width, requires_grad=True)
    weight = torch.empty(width, hidden).uniform_(-0.1, 0.1).requires_grad_()
    reference = lstm1997_recurrence(projected, weight, block_size, truncated)
    kernel = NumbaRecurrence.apply(projected, weight, block_size, truncated)
    torch.testing.assert_close(kernel, reference, rtol=1e-5, atol=1e-6)
    upstream = torch.randn_like(reference)
    expected = torch.autograd.grad(reference, (projected, weight), upstream)
    got = torch.autograd.grad(kernel, (projected, weight), upstream)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * float(b.abs().max()))


def test_the_plateau_diagnostic_reports_each_checkpoint():
    """scripts/lstm1997_plateau.py (the README's account of adding at T = 500) runs and prints its
    figures; its initial gate biases are the ones asked for (sigmoid(-3) = 0.047 at every step)."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parent.parent / "scripts" / "lstm1997_plateau.py"
    result = subprocess.run([sys.executable, str(script), "--T", "22", "--sequences", "1024",
                             "--gate-bias=-3,-9,0,0"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    header, line = result.stdout.strip().splitlines()
    assert header == "lstm1997, adding T=22, lr 0.5, seed 0, gate biases -3,-9,0,0"
    assert line.startswith("    1,024 seqs  accuracy ") and "output ~ " in line
    gates = [float(g) for g in re.findall(r"\[([\d. ]+)\]", line.split("input gates")[1])[1].split()]
    assert gates[0] == pytest.approx(0.047, abs=0.01) and gates[1] < 0.001  # sigmoid(-3), sigmoid(-9)
