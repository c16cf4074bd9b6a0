"""lstm1997: the paper's equations step by step for every layout, the truncated gradient, the networks of
Table 10 (weight counts), presets, initialisation, and the compiled learning rule against autograd."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from longdep_bench_plugins.lstm1997 import LSTM1997, PRESETS, lstm1997_recurrence

from longdep_bench import BenchError, OnlineSetup
from longdep_bench.config.options import SweepOptions
from longdep_bench.discovery.registry import get_registry
from longdep_bench.kernels.numba.lstm1997 import Layout, NumbaRecurrence
from longdep_bench.planning.plan import plan
from longdep_bench.training.objectives import run_objective
from longdep_bench.training.steps import build_model

# (connectivity, block size, output gate, h, g): 0.8's layout, the paper's F, and 2a/2b's B layout
LAYOUTS = [("cells", 2, True, "scaled", "scaled"), ("F", 2, True, "scaled", "scaled"), ("F", 1, True, "scaled", "scaled"),
           ("B", 1, False, "identity", "logistic"), ("F", 3, False, "identity", "scaled")]


def reference_1997(layer: LSTM1997, x: torch.Tensor) -> torch.Tensor:
    """The paper's forward equations (Appendix A.1), one step at a time, in plain eager code."""
    layout = layer.layout
    cells, blocks = layout.cells, layout.blocks
    y = x.new_zeros(x.shape[0], cells)
    gates = x.new_zeros(x.shape[0], layout.units - cells)
    s = x.new_zeros(x.shape[0], cells)
    bias = layer.full_bias() if layer.full_bias() is not None else 0.0
    outputs = []
    for t in range(x.shape[1]):
        fed_back = [x.new_zeros(x.shape[0], 0), y, torch.cat([y, gates], 1)][layout.feedback]
        net = x[:, t] @ layer.weight_in.t() + fed_back @ layer.weight_rec.t() + bias
        net_c, net_gates = net[:, :cells], net[:, cells:]
        gates = torch.sigmoid(net_gates)
        y_in = gates[:, :blocks].repeat_interleave(layout.block_size, 1)  # one gate per block
        g = torch.sigmoid(net_c) if layout.g_logistic else 4 * torch.sigmoid(net_c) - 2
        s = s + y_in * g  # no forget gate: the state accumulates
        h = s if layout.h_identity else 2 * torch.sigmoid(s) - 1
        y = (gates[:, blocks:].repeat_interleave(layout.block_size, 1) if layout.output_gate else 1.0) * h
        outputs.append(y)
    return torch.stack(outputs, 1)


def make_layer(layout, truncated=True, kernel="auto", hidden=6, inputs=5, bias="all"):
    connectivity, block_size, output_gate, h, g = layout
    return LSTM1997(inputs, hidden, block_size, truncated, kernel, connectivity, bias, "-1/-2", "random", 0.3, h, g,
                    output_gate)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda l: "-".join(map(str, l)))
@pytest.mark.parametrize("kernel", ["script", "numba"])
def test_forward_follows_the_1997_equations(layout, kernel):
    torch.manual_seed(0)
    layer = make_layer(layout, kernel=kernel)
    x = torch.randn(3, 13, 5)
    torch.testing.assert_close(layer(x), reference_1997(layer, x), rtol=1e-5, atol=1e-6)


def test_the_paper_layout_feeds_the_gates_back():
    """With F connectivity the previous gate activations reach the net inputs: changing a weight from a
    gate unit changes the outputs (with 0.8's layout there is no such weight)."""
    torch.manual_seed(0)
    layer = make_layer(LAYOUTS[1])
    x = torch.randn(2, 9, 5)
    before = layer(x)
    with torch.no_grad():
        layer.weight_rec[:, layer.layout.cells] += 0.5  # the first input gate's activation, fed back
    assert not torch.allclose(before, layer(x))
    assert layer.weight_rec.shape == (layer.layout.units, layer.layout.units)


def test_truncated_gradient_flows_back_only_through_cell_states():
    torch.manual_seed(0)
    full = make_layer(LAYOUTS[1], truncated=False)
    truncated = make_layer(LAYOUTS[1], truncated=True)
    truncated.load_state_dict(full.state_dict())
    x = torch.randn(2, 9, 5)
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


@pytest.mark.parametrize("truncated", [True, False])
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda l: "-".join(map(str, l)))
@pytest.mark.parametrize("steps,batch,cells", [(110, 1, 6), (37, 5, 6)])
def test_numba_kernel_equals_the_torchscript_loop(truncated, layout, steps, batch, cells):
    connectivity, block_size, output_gate, h, g = layout
    shape = Layout(cells, block_size, {"B": 0, "cells": 1, "F": 2}[connectivity], output_gate, h == "identity",
                   g == "logistic")
    torch.manual_seed(3)
    projected = (0.5 * torch.randn(steps, batch, shape.units)).requires_grad_()
    weight = torch.empty(shape.units, shape.recurrent).uniform_(-0.1, 0.1).requires_grad_()
    reference = lstm1997_recurrence(projected, weight, cells, block_size, shape.feedback, output_gate,
                                    shape.h_identity, shape.g_logistic, truncated)
    kernel = NumbaRecurrence.apply(projected, weight, shape, truncated)
    # float32 rounding accumulates in the state, which the identity h leaves unbounded: tolerances scale with it
    torch.testing.assert_close(kernel, reference, rtol=1e-5, atol=1e-6 * max(1.0, float(reference.detach().abs().max())))
    upstream = torch.randn_like(reference)
    inputs = (projected, weight) if weight.numel() else (projected,)
    expected = torch.autograd.grad(reference, inputs, upstream, allow_unused=True)
    got = torch.autograd.grad(kernel, inputs, upstream, allow_unused=True)
    for a, b in zip(got, expected):
        b = torch.zeros_like(a) if b is None else b
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * max(1.0, float(b.abs().max())))


def test_default_gate_biases_negative_by_block_and_weights_small():
    torch.manual_seed(0)
    layer = LSTM1997(9, 8, 2, truncated=True)
    gates = layer.bias[8:]
    assert gates.tolist() == [-2.0, -4.0, -6.0, -8.0] * 2
    assert layer.weight_in.abs().max() <= 0.1 and layer.weight_rec.abs().max() <= 0.1


def test_hidden_must_be_whole_blocks():
    with pytest.raises(BenchError, match="not a multiple of block_size=3"):
        plan(SweepOptions(archs=("lstm1997:block_size=3",), hidden=64), get_registry())


def _model(arch: str, task: str, **settings):
    registry = get_registry()
    config = plan(SweepOptions(archs=(arch,), tasks=(task,), seeds=1, **settings), registry)[0]
    spec = registry.task(config.task)
    params = config.task_params(spec)
    io = spec.model_io(params, spec.width(params))
    return config, spec, params, build_model(registry.architecture("lstm1997"), io, config, 0, torch.device("cpu"))


# Table 10's rows with the task each is about, and the paper's number of weights [read]
TABLE_10 = [("reber-4x1", "reber", 264), ("reber-3x2", "reber", 276), ("2a", "task2a", 10_504),
            ("2b", "task2b", 10_504), ("3a", "task3a", 102), ("3b", "task3b", 102), ("3c", "task3c", 102),
            ("adding", "adding", 93), ("adding", "adding:T=1000", 93), ("multiplication", "multiplication", 93),
            ("6a", "task6a", 156), ("6b", "task6b", 308)]
TABLE_3 = [(50, 50, 364), (100, 100, 664), (200, 200, 1264), (500, 500, 3064), (1000, 1000, 6064), (1000, 500, 3064),
           (1000, 200, 1264), (1000, 100, 664), (1000, 50, 364)]


@pytest.mark.parametrize("preset,task,weights", TABLE_10, ids=lambda v: str(v))
def test_each_preset_has_the_papers_number_of_weights(preset, task, weights):
    config, _, _, model = _model(f"lstm1997:preset={preset}", task)
    assert sum(p.numel() for p in model.parameters()) == weights == PRESETS[preset].weights
    assert config.hidden == PRESETS[preset].cells


@pytest.mark.parametrize("q,p,weights", TABLE_3)
def test_2c_has_the_papers_number_of_weights_at_every_size(q, p, weights):
    _, _, _, model = _model("lstm1997:preset=2c", f"long-lag:q={q},p={p},tail=geometric")
    assert sum(p.numel() for p in model.parameters()) == weights


def test_presets_set_the_papers_initial_biases():
    torch.manual_seed(0)
    _, _, _, model = _model("lstm1997:preset=3a", "task3a")
    cells = model.core.layout.cells
    assert model.core.bias[cells:].tolist() == [-1.0, -3.0, -5.0, -2.0, -4.0, -6.0]  # input, then output gates
    assert model.head.bias is None  # "b1": hidden units only
    _, _, _, model = _model("lstm1997:preset=6a", "task6a")
    gates = model.core.bias[4:]
    assert gates[:2].tolist() == [-2.0, -4.0] and gates[2:].abs().max() <= 0.1  # output gates random
    _, _, _, model = _model("lstm1997:preset=2c", "long-lag")
    assert model.core.bias is None and model.head.bias is None  # no bias weights
    assert model.core.weight_in.abs().max() <= 0.2 and model.core.weight_in.abs().max() > 0.1  # [-0.2, 0.2]


def test_options_given_with_a_preset_override_it():
    config, _, _, model = _model("lstm1997:preset=6a,in_bias=-1/-1,init=0.05", "task6a")
    assert config.arch_options["in_bias"] == "-1/-1" and config.arch_options["connectivity"] == "F"
    assert model.core.bias[4:6].tolist() == [-1.0, -1.0] and model.core.weight_in.abs().max() <= 0.05


def test_a_hidden_size_that_contradicts_the_preset_is_an_error():
    with pytest.raises(BenchError, match="preset=6a has hidden size 4; hidden size 8 contradicts it"):
        plan(SweepOptions(archs=("lstm1997:preset=6a",), hidden=8), get_registry())
    assert plan(SweepOptions(archs=("lstm1997:preset=6a",), hidden=4), get_registry())[0].hidden == 4
    with pytest.raises(BenchError, match="--match-params contradicts it"):
        plan(SweepOptions(archs=("lstm1997:preset=6a",), match_params=200), get_registry())


def test_the_default_network_keeps_its_run_ids():
    """Options added with the presets are left out of run ids at their defaults: 0.8's runs keep theirs."""
    config = plan(SweepOptions(archs=("lstm1997",), seeds=1), get_registry())[0]
    assert config.arch_options == {"block_size": 2, "gradient": "truncated"}


PAPER = dict(optimizer="sgd", batch_size=1, clip=0.0, output_units="sigmoid", lr=0.5)


def _train_both(arch: str, task: str, n: int, double: bool, **settings):
    """The same network trained on the same n sequences by autograd + SGD and by the compiled rule."""
    config, spec, params, model = _model(arch, task, **{**PAPER, **settings})
    autograd, compiled = copy.deepcopy(model), model
    if double:
        autograd = autograd.double()
        autograd.core.kernel = "script"  # the numba kernels are float32
    objective = run_objective(spec, config)
    optimizer = torch.optim.SGD(autograd.parameters(), lr=config.lr)
    data = spec.generate(params, n, 11, 0)
    for i in range(n):
        batch = spec.generate(params, 1, 11, i).to_torch()
        if double and batch.inputs.is_floating_point():
            batch = type(batch)(batch.inputs.double(), batch.lengths, batch.targets.double(), batch.extras)
        optimizer.zero_grad()
        objective.loss(autograd(batch.inputs, batch.lengths), batch).backward()
        optimizer.step()
    learner = compiled.online_learner(OnlineSetup(config.lr, "sgd", 1, 0.0, "sigmoid", config.step_loss, "cpu",
                                                  spec.output))
    learner.train(data)
    core = autograd.core
    pairs = [(core.weight_in, learner.w_in), (core.weight_rec, learner.w_rec), (autograd.head.weight, learner.w_out)]
    pairs += [(core.full_bias(), learner.bias)] if core.bias is not None else []
    pairs += [(autograd.head.bias, learner.out_bias)] if autograd.head.bias is not None else []
    pairs += [(autograd.skip.weight, learner.w_skip)] if autograd.skip is not None else []
    return [(a.detach().double().numpy(), b) for a, b in pairs]


@pytest.mark.parametrize("arch,task,settings", [
    ("lstm1997:preset=6a", "task6a", {}), ("lstm1997:preset=adding", "adding", {}),
    ("lstm1997:preset=2c", "long-lag:q=20,p=20,tail=geometric", {}), ("lstm1997:preset=3c", "task3c:T=30", {}),
    ("lstm1997:preset=reber-3x2", "reber:training_set=256", {"step_loss": "sum"}),
    ("lstm1997:preset=reber-4x1", "reber", {}), ("lstm1997:preset=2b", "task2b:p=12", {"step_loss": "sum"}),
    ("lstm1997:connectivity=cells,learning=auto", "task6a", {"hidden": 4})], ids=lambda v: str(v))
def test_the_compiled_rule_equals_autograd_in_double_precision(arch, task, settings):
    """Backpropagation through the network with the fed-back activations detached, plus SGD, is the
    paper's truncated online rule: the forward recursion of Appendix A.1 computes the same weights."""
    for a, b in _train_both(arch, task, 60, True, **settings):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("arch,task", [("lstm1997:preset=6a", "task6a"), ("lstm1997:preset=adding", "adding")])
def test_the_compiled_rule_equals_the_float32_autograd_path_after_1000_sequences(arch, task):
    worst = max(float(np.abs(a - b).max()) for a, b in _train_both(arch, task, 1000, False))
    assert worst < 1e-5


def test_a_preset_run_trains_with_the_compiled_rule_and_any_chunking_trains_the_same(monkeypatch):
    from longdep_bench.training import steps
    from longdep_bench.training.loop import train

    config = plan(SweepOptions(archs=("lstm1997:preset=6a",), seeds=1, max_sequences=600, check_every=300,
                               test_size=64, **PAPER), get_registry())[0]
    first = train(config)
    assert first.runtime["learning"] == "compiled" and first.status == "ok"
    monkeypatch.setattr(steps, "ONLINE_CHUNK", 7)
    monkeypatch.setattr("longdep_bench.training.loop.ONLINE_CHUNK", 7)
    again = train(config)
    assert (again.test_accuracy, again.test_loss, again.curve) == (first.test_accuracy, first.test_loss, first.curve)


def test_learning_compiled_outside_the_papers_protocol_is_one_line():
    from longdep_bench.training.loop import train

    config = plan(SweepOptions(archs=("lstm1997:preset=6a,learning=compiled",), seeds=1, max_sequences=64,
                               test_size=16), get_registry())[0]
    record = train(config)
    assert record.status == "error" and "learning=compiled needs the paper's protocol" in record.error
    assert "optimizer adam" in record.error


def test_the_plateau_diagnostic_reports_each_checkpoint():
    """scripts/lstm1997_plateau.py (the README's account of adding at T = 500) runs and prints its
    figures; its initial gate biases are the ones asked for (sigmoid(-3) = 0.047 at every step)."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parent.parent / "scripts" / "lstm1997_plateau.py"
    result = subprocess.run([sys.executable, str(script), "--T", "22", "--sequences", "1024",
                             "--arch", "lstm1997:preset=adding,in_bias=-3/-9"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    header, line = result.stdout.strip().splitlines()
    assert header == "lstm1997:preset=adding,in_bias=-3/-9, adding T=22, lr 0.5, seed 0"
    assert line.startswith("    1,024 seqs  accuracy ") and "output ~ " in line
    gates = [float(g) for g in re.findall(r"\[([\d. ]+)\]", line.split("input gates")[1])[1].split()]
    assert gates[0] == pytest.approx(0.047, abs=0.01) and gates[1] < 0.001  # sigmoid(-3), sigmoid(-9)


def _realtime_reference(model, params_batch, lr: float) -> list[np.ndarray]:
    """The paper's real-time learning by autograd, in float64: at every step with a target, the
    gradient of that step's squared error through the truncated graph (cell states carried, fed-back
    activations detached), every weight's uses at earlier steps of the sequence summed (the
    approximation RTRL makes), then the update. A test oracle: O(T^2) per sequence."""
    core, layout = model.core, model.core.layout
    cells, blocks = layout.cells, layout.blocks
    names = ["in", "rec", "bias", "out", "out_bias", "skip"]
    weights = {"in": core.weight_in, "rec": core.weight_rec, "bias": core.full_bias(), "out": model.head.weight,
               "out_bias": model.head.bias, "skip": model.skip.weight if model.skip is not None else None}
    weights = {k: v.detach().double().clone() for k, v in weights.items() if v is not None}
    mask = torch.from_numpy(core.bias_mask())
    for i in range(len(params_batch)):
        tokens, length = params_batch.inputs[i], int(params_batch.lengths[i])
        targets = params_batch.targets[i]
        s = torch.zeros(cells, dtype=torch.float64)
        previous = torch.zeros(layout.recurrent, dtype=torch.float64)
        uses = []
        for t in range(length):
            leaves = {k: v.clone().requires_grad_() for k, v in weights.items()}
            uses.append(leaves)
            x = torch.nn.functional.one_hot(torch.tensor(int(tokens[t])), leaves["in"].shape[1]).double()
            net = leaves["in"] @ x + leaves["rec"] @ previous + (leaves["bias"] * mask if "bias" in leaves else 0.0)
            gates = torch.sigmoid(net[cells:])
            y_in = gates[:blocks].repeat_interleave(layout.block_size)
            g = torch.sigmoid(net[:cells]) if layout.g_logistic else 4 * torch.sigmoid(net[:cells]) - 2
            s = s + y_in * g
            h = s if layout.h_identity else 2 * torch.sigmoid(s) - 1
            y = gates[blocks:].repeat_interleave(layout.block_size) * h if layout.output_gate else h
            if int(targets[t]) >= 0:
                out = leaves["out"] @ y + (leaves["out_bias"] if "out_bias" in leaves else 0.0)
                out = out + (leaves["skip"] @ x if "skip" in leaves else 0.0)
                target = torch.nn.functional.one_hot(targets[t].long(), out.shape[0]).double()
                error = 0.5 * ((torch.sigmoid(out) - target) ** 2).sum()
                keys = list(weights)
                grads = torch.autograd.grad(error, [use[k] for use in uses for k in keys], allow_unused=True,
                                            retain_graph=True)
                for j, k in enumerate(keys):
                    total = sum(g for g in grads[j::len(keys)] if g is not None)
                    weights[k] = weights[k] - lr * total
            fed = [torch.zeros(0, dtype=torch.float64), y, torch.cat([y, gates])][layout.feedback]
            previous = fed.detach()
    return [weights[k].numpy() for k in names if k in weights]


@pytest.mark.parametrize("arch,task", [("lstm1997:preset=reber-4x1", "reber:max_length=12"),
                                       ("lstm1997:preset=2b", "task2b:p=6")])
def test_real_time_learning_equals_autograd_step_by_step(arch, task):
    """update=step: the compiled rule changes the weights after every step with a target, exactly as
    the autograd oracle does (to 1e-10 after 12 sequences)."""
    config, spec, params, model = _model(arch, task, **PAPER, step_loss="sum", update="step")
    data = spec.generate(params, 12, 5, 0)
    expected = _realtime_reference(copy.deepcopy(model), data.to_torch(), config.lr)
    learner = model.online_learner(OnlineSetup(config.lr, "sgd", 1, 0.0, "sigmoid", "sum", "cpu", spec.output,
                                               "step"))
    learner.train(data)
    got = [learner.w_in, learner.w_rec] + ([learner.bias] if model.core.bias is not None else []) + [learner.w_out]
    got += [learner.out_bias] if model.head.bias is not None else []
    got += [learner.w_skip] if model.skip is not None else []
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


def test_real_time_and_per_sequence_updates_are_the_same_with_a_target_at_the_end_only():
    _, spec, params, model = _model("lstm1997:preset=6a", "task6a", **PAPER)
    data = spec.generate(params, 50, 5, 0)
    learners = [copy.deepcopy(model).online_learner(OnlineSetup(0.5, "sgd", 1, 0.0, "sigmoid", "mean", "cpu",
                                                                spec.output, update)) for update in ("step", "sequence")]
    outputs = [learner.train(data) for learner in learners]
    assert torch.equal(*outputs) and np.array_equal(learners[0].w_in, learners[1].w_in)


def test_update_step_needs_an_online_learner():
    from longdep_bench.training.loop import train

    config = plan(SweepOptions(archs=("gru",), tasks=("reber",), seeds=1, max_sequences=32, test_size=16,
                               update="step", hidden=8), get_registry())[0]
    record = train(config)
    assert record.status == "error" and "update=step needs an architecture that learns online" in record.error


def test_a_probe_sets_up_the_planned_run_for_the_diagnostic_scripts():
    """``probe_run`` (used by scripts/lstm1997_*.py) gives the sweep's own configuration, the test set of
    the run's test seed and the compiled learner the sweep would train with."""
    from longdep_bench.training.probe import probe_run

    options = SweepOptions(archs=("lstm1997:preset=6a",), tasks=("task6a",), optimizer="sgd", batch_size=1, lr=0.5,
                           clip=0.0, output_units="sigmoid", seeds=3, max_sequences=1000, device="cpu")
    probe = probe_run(options, 2, 64)
    assert probe.config == plan(options, get_registry())[2]
    assert len(probe.test) == 64 and probe.step.online
    assert probe.step(0, 300) == 300 and sum(p.numel() for p in probe.step.model.parameters()) == 156
