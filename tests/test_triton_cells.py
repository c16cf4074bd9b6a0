"""The Triton kernels of triton_cells against torch.nn: the LSTM of fused-lstm, the RNN and GRU of
``rnn:kernel=triton`` and ``gru:kernel=triton``, and a cell defined outside the module (as a
third-party plugin would): outputs, final states and every gradient.

Without a GPU the kernels run in Triton's interpreter (set up in conftest.py) at small sizes;
``--device cuda`` runs them compiled, at the benchmark sizes too, in every precision.
"""

from __future__ import annotations

import pytest
import torch
from compile_helpers import run_compiled

triton = pytest.importorskip("triton")
import triton.language as tl  # noqa: E402
from longdep_bench_plugins.fused_lstm import FusedLSTM  # noqa: E402

from longdep_bench.config.run_config import RunConfig  # noqa: E402
from longdep_bench.discovery import contracts  # noqa: E402
from longdep_bench.discovery.registry import get_registry  # noqa: E402
from longdep_bench.kernels.triton import cells as triton_cells  # noqa: E402
from longdep_bench.kernels.triton.cells import TritonCell, cell_states  # noqa: E402
from longdep_bench.training.loop import train  # noqa: E402

# Exact modes: the suite's 1e-5 tolerance. TF32 multiplies with 10-bit mantissas: the documented
# tolerance of the default precision (README).
TOLERANCE = {"ieee": dict(rtol=1e-5, atol=1e-5), "tf32x3": dict(rtol=1e-5, atol=1e-5),
             "tf32": dict(rtol=5e-3, atol=5e-3)}
# (B, H, T): one and two tiles of 16 sequences, padded hidden sizes; weights in registers (H <= 64),
# and read in 64-, 32- and 16-row slices with the state read back from memory (H 100 with inputs
# loaded a step ahead; 130, 200 and 300 without)
CPU_SIZES = [(5, 16, 7), (20, 24, 5), (17, 100, 4), (18, 130, 3), (3, 200, 3), (2, 300, 3)]
CUDA_SIZES = CPU_SIZES + [(16, 64, 110), (128, 128, 110), (128, 128, 1100), (64, 256, 110), (32, 512, 50)]


def _sizes(device):
    return CUDA_SIZES if device.type == "cuda" else CPU_SIZES


def _pair(input_size, hidden, precision, device, launch="sequence"):
    torch.manual_seed(0)
    reference = torch.nn.LSTM(input_size, hidden, batch_first=True).to(device)
    triton_lstm = FusedLSTM(input_size, hidden, kernel="triton", precision=precision, launch=launch).to(device)
    triton_lstm.load_state_dict(reference.state_dict())
    return reference, triton_lstm


@pytest.mark.parametrize("launch", ["sequence", "step"])
@pytest.mark.parametrize("precision", triton_cells.PRECISIONS)
def test_outputs_states_and_gradients_equal_nn_lstm(exact_device, precision, launch):
    """Both launch schedules: the whole sequence per launch, and one launch per step (triton_steps)."""
    if exact_device.type != "cuda" and precision != "ieee":
        pytest.skip("the interpreter computes every precision exactly: one is enough on the CPU")
    for batch, hidden, steps in _sizes(exact_device):
        reference, triton_lstm = _pair(9, hidden, precision, exact_device, launch)
        x = torch.randn(batch, steps, 9, device=exact_device)
        lengths = torch.randint(1, steps + 1, (batch,), device=exact_device)
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out_ref, (h_ref, c_ref) = reference(packed)
        out_ref, _ = torch.nn.utils.rnn.pad_packed_sequence(out_ref, batch_first=True, total_length=steps)
        out, (h, c) = triton_lstm(x, lengths)
        assert triton_lstm.runtime_info() == {"kernel": f"triton ({precision}{', per step' * (launch == 'step')})"}
        valid = (torch.arange(steps, device=exact_device)[None, :] < lengths[:, None])[..., None]
        tolerance = TOLERANCE[precision]
        torch.testing.assert_close(out * valid, out_ref * valid, **tolerance)
        torch.testing.assert_close((h, c), (h_ref, c_ref), **tolerance)
        upstream = torch.randn_like(out) * valid
        loss_ref = (out_ref * upstream).sum() + h_ref.sum() + 0.5 * c_ref.sum()
        loss = (out * upstream).sum() + h.sum() + 0.5 * c.sum()
        expected = torch.autograd.grad(loss_ref, list(reference.parameters()))
        got = torch.autograd.grad(loss, list(triton_lstm.parameters()))
        for name, a, b in zip([n for n, _ in reference.named_parameters()], got, expected):
            scale = float(b.abs().max())
            torch.testing.assert_close(a, b, rtol=tolerance["rtol"], atol=tolerance["atol"] * max(1.0, scale),
                                       msg=lambda m: f"{name} (B{batch} H{hidden} T{steps}): {m}")



def _check_gradients(loss, reference_loss, ours, reference, tolerance, label):
    """Every gradient of ``loss`` w.r.t. ``ours`` equals that of ``reference_loss`` w.r.t. the
    named parameters ``reference``, within ``tolerance`` scaled by the gradient's size."""
    got = torch.autograd.grad(loss, ours)
    expected = torch.autograd.grad(reference_loss, [p for _, p in reference])
    for (name, _), a, b in zip(reference, got, expected):
        scale = float(b.abs().max())
        torch.testing.assert_close(a, b, rtol=tolerance["rtol"], atol=tolerance["atol"] * max(1.0, scale),
                                   msg=lambda m: f"{name} ({label}): {m}")


@pytest.mark.parametrize("launch", ["sequence", "step"])
@pytest.mark.parametrize("kind", ["rnn", "gru"])
@pytest.mark.parametrize("precision", triton_cells.PRECISIONS)
def test_rnn_and_gru_kernels_equal_torch_nn(exact_device, kind, precision, launch):
    """The cells through ``cell_states`` with b_hh kept apart (the GRU's candidate needs it inside r),
    with both launch schedules."""
    if exact_device.type != "cuda" and precision != "ieee":
        pytest.skip("the interpreter computes every precision exactly: one is enough on the CPU")
    module_class = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU}[kind]
    for batch, hidden, steps in _sizes(exact_device):
        torch.manual_seed(0)
        module = module_class(7, hidden).to(exact_device)
        x = torch.randn(steps, batch, 7, device=exact_device)
        projected = torch.addmm(module.bias_ih_l0, x.reshape(-1, 7), module.weight_ih_l0.t()).view(steps, batch, -1)
        hs, cs = cell_states(triton_cells.CELLS[kind], projected, module.weight_hh_l0, module.bias_hh_l0, precision,
                             launch)
        expected, _ = module(x)
        tolerance = TOLERANCE[precision]
        assert cs is None
        torch.testing.assert_close(hs, expected, **tolerance)
        weights = torch.randn_like(hs)
        _check_gradients((hs * weights).sum() + hs[-1].sum(), (expected * weights).sum() + expected[-1].sum(),
                         list(module.parameters()), list(module.named_parameters()), tolerance,
                         f"{kind} B{batch} H{hidden} T{steps}")


@pytest.mark.parametrize("name", ["rnn", "gru"])
def test_rnn_and_gru_architectures_run_the_triton_kernel(exact_device, name):
    """``kernel=triton`` behind the architectures (symbol inputs by lookup, padding, the readout)
    computes what ``kernel=torch`` does, and says that it ran (TF32 off: cuDNN's RNNs use it by default)."""
    device = exact_device
    registry = get_registry()
    spec, task = registry.architecture(name), registry.task("task6a")
    io = task.model_io({"gap": 11}, 81)
    batch = task.generate({"gap": 11}, 6, seed=1, start=0).to_torch(device)
    outputs, models = {}, {}
    for kernel in ("torch", "triton"):
        torch.manual_seed(0)
        options = {p.name: p.default for p in spec.options} | {"kernel": kernel, "precision": "ieee"}
        models[kernel] = spec.build(io, 16, options).to(device)
        outputs[kernel] = models[kernel](batch.inputs, batch.lengths)
        outputs[kernel].square().sum().backward()
    torch.testing.assert_close(outputs["triton"], outputs["torch"], rtol=1e-5, atol=1e-5)
    for (label, want), got in zip(models["torch"].named_parameters(), models["triton"].parameters()):
        if want.grad is not None:
            torch.testing.assert_close(got.grad, want.grad, rtol=1e-4, atol=1e-5, msg=label)
    assert models["triton"].core.runtime_info()["kernel"] == "triton (ieee)"


@triton.jit
def _coupled_step(x0, x1, x2, x3, r0, r1, r2, r3, h, c):
    """A cell that is none of the built-ins: h = z h + (1 - z) tanh(x_n + h W_n^T), z = sigmoid(...)."""
    z = 1.0 / (1.0 + tl.exp(-(x0 + r0)))
    n = 2.0 / (1.0 + tl.exp(-2.0 * (x1 + r1))) - 1.0
    return z * h + (1.0 - z) * n, c, z, n, z, n


@triton.jit
def _coupled_step_grad(z, n, s2, s3, c, c_prev, h_prev, dh, dc):
    d_z = dh * (h_prev - n) * z * (1.0 - z)
    d_n = dh * (1.0 - z) * (1.0 - n * n)
    zero = tl.zeros_like(dh)
    return d_z, d_n, zero, zero, d_z, d_n, zero, zero, dh * z, zero


COUPLED = TritonCell("coupled", gates=2, saved=2, carries_c=False, reads_h_prev=True, split=False,
                     step=_coupled_step, step_grad=_coupled_step_grad)


@pytest.mark.parametrize("launch", ["sequence", "step"])
def test_a_cell_defined_outside_the_module_runs_through_the_same_kernels(exact_device, launch):
    """What a plugin author would write: two @triton.jit functions and a TritonCell; checked against
    the same cell's loop in PyTorch, with both launch schedules."""
    for batch, hidden, steps in _sizes(exact_device)[:4]:
        torch.manual_seed(0)
        projected = torch.randn(steps, batch, 2 * hidden, device=exact_device, requires_grad=True)
        weight = (torch.randn(2 * hidden, hidden, device=exact_device) / hidden ** 0.5).requires_grad_()
        bias = torch.randn(2 * hidden, device=exact_device, requires_grad=True)
        hs, _ = cell_states(COUPLED, projected, weight, bias, "ieee", launch)
        h, expected = projected.new_zeros(batch, hidden), []
        for step in projected.unbind(0):
            x_z, x_n = step.chunk(2, 1)
            r_z, r_n = (h @ weight.t() + bias).chunk(2, 1)
            z = torch.sigmoid(x_z + r_z)
            h = z * h + (1 - z) * torch.tanh(x_n + r_n)
            expected.append(h)
        expected = torch.stack(expected)
        torch.testing.assert_close(hs, expected, rtol=1e-5, atol=1e-5)
        weights = torch.randn_like(hs)
        _check_gradients((hs * weights).sum(), (expected * weights).sum(), [projected, weight, bias],
                         [("projected", projected), ("weight", weight), ("bias", bias)], TOLERANCE["ieee"],
                         f"B{batch} H{hidden} T{steps}")


def test_a_cell_with_more_than_four_gates_is_refused():
    with pytest.raises(ValueError, match="1 to 4 gate blocks"):
        TritonCell("wide", gates=5, saved=1, carries_c=False, reads_h_prev=False, split=False,
                   step=_coupled_step, step_grad=_coupled_step_grad)


@pytest.mark.parametrize("launch", ["sequence", "step"])
def test_without_gradients_the_forward_gives_the_same_outputs(device, monkeypatch, launch):
    """Evaluation (no gradients) skips storing the gates for the backward pass; nothing else changes."""
    stored = []
    apply = triton_cells.TritonCellFunction.apply
    monkeypatch.setattr(triton_cells.TritonCellFunction, "apply", lambda *args: stored.append(args[5]) or apply(*args))
    for batch, hidden, steps in _sizes(device)[:3]:
        _, triton_lstm = _pair(9, hidden, "ieee", device, launch)
        x = torch.randn(batch, steps, 9, device=device)
        lengths = torch.randint(1, steps + 1, (batch,), device=device)
        out, (h, c) = triton_lstm(x, lengths)
        with torch.no_grad():
            out_eval, (h_eval, c_eval) = triton_lstm(x, lengths)
        assert torch.equal(out.detach(), out_eval) and torch.equal(h.detach(), h_eval)
        assert torch.equal(c.detach(), c_eval) and stored[-2:] == [True, False]


def test_padding_does_not_change_the_outputs(device):
    registry = get_registry()
    entry, task = registry.entry("architecture", "fused-lstm"), registry.task("task6a")
    options = {p.name: p.default for p in entry.spec.options} | {"kernel": "triton", "precision": "ieee"}
    io = task.model_io({"gap": 11}, 81)
    torch.manual_seed(0)
    model = entry.spec.build(io, 16, options).to(device)
    batch = task.generate({"gap": 11}, 6, seed=1, start=0).to_torch(device)
    contracts.check_padding(entry, model, batch, io)


def test_a_run_records_that_the_triton_kernel_ran(device):
    options = {p.name: p.default for p in get_registry().architecture("fused-lstm").options if not p.runtime}
    config = RunConfig(arch="fused-lstm", task="task6a", arch_options=options,
                       arch_runtime={"kernel": "triton", "precision": "tf32"}, params={"gap": 11}, seed=0,
                       master_seed=0, hidden=16, batch_size=16, threshold=0.99, max_sequences=32, test_size=32,
                       check_every=32, device=device.type)
    record = train(config)
    assert record.status.value == "ok", record.error
    assert record.runtime["kernel"] == "triton (tf32)" and record.runtime["arch_runtime"]["kernel"] == "triton"


def test_auto_runs_triton_up_to_its_hidden_size_and_the_loop_above(device):
    for hidden, on_cuda in ((triton_cells.AUTO_UP_TO, "triton (tf32)"), (2 * triton_cells.AUTO_UP_TO, "script")):
        layer = FusedLSTM(8, hidden, kernel="auto").to(device)
        layer(torch.randn(2, 5, 8, device=device))
        assert layer.runtime_info()["kernel"] == (on_cuda if device.type == "cuda" else "numba")


def test_without_triton_the_kernel_is_unavailable_with_the_reason(monkeypatch, cli, tmp_path, device):
    monkeypatch.setattr(triton_cells, "UNAVAILABLE", "Triton is not importable (No module named 'triton')")
    with pytest.raises(ValueError, match="kernel=triton is unavailable here: Triton is not importable"):
        FusedLSTM(8, 16, kernel="triton").to(device)(torch.randn(2, 5, 8, device=device))
    for arch in ("fused-lstm", "gru", "rnn"):
        result = cli("run", "-a", f"{arch}:kernel=triton", "--seeds", "1", "-o", str(tmp_path / "r.jsonl"))
        assert result.code == 2 and "kernel=triton is unavailable here" in result.err
    assert FusedLSTM(8, 16, kernel="auto")(torch.randn(2, 5, 8))[0].shape == (2, 5, 16)  # the loop instead


@pytest.mark.parametrize("arch", ["fused-lstm", "gru"])
def test_a_task6a_run_solves_with_the_triton_kernel(device, arch):
    if device.type != "cuda":
        pytest.skip("a training run to success under the interpreter takes too long; on CUDA it is checked")
    options = {p.name: p.default for p in get_registry().architecture(arch).options if not p.runtime}
    config = RunConfig(arch=arch, task="task6a", arch_options=options, arch_runtime={"kernel": "triton"},
                       params={"gap": 40}, seed=0, master_seed=0, hidden=64, batch_size=16, threshold=0.99,
                       max_sequences=100_000, device="cuda")
    record = train(config)
    assert record.solved, (record.test_accuracy, record.error)


@pytest.mark.parametrize("launch", ["sequence", "step"])
def test_cell_states_refuses_hidden_sizes_beyond_the_kernels_before_launching(launch):
    hidden = triton_cells.MAX_HIDDEN + 1
    projected = torch.zeros(2, 1, 4 * hidden)
    with pytest.raises(ValueError, match=f"support hidden sizes up to {triton_cells.MAX_HIDDEN}, not {hidden}"):
        cell_states(triton_cells.LSTM_CELL, projected, torch.zeros(4 * hidden, hidden), None, "ieee", launch)


def test_hidden_sizes_beyond_the_kernels_are_refused_or_run_the_loop(cli, tmp_path):
    big = triton_cells.MAX_HIDDEN + 1
    result = cli("run", "-a", "fused-lstm:kernel=triton", "--hidden", str(big), "--seeds", "1",
                 "-o", str(tmp_path / "r.jsonl"))
    assert result.code == 2 and f"supports hidden sizes up to {triton_cells.MAX_HIDDEN}" in result.err
    layer = FusedLSTM(3, big, kernel="auto")
    layer(torch.randn(2, 3, 3))
    assert layer.runtime_info() == {"kernel": "numba"}  # auto's choice on the CPU (on CUDA: the TorchScript loop)


COMPILE_FOR_H100 = """
import inspect, json, sys
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from longdep_bench.kernels.triton import cells as triton_cells
from longdep_bench.kernels.triton import steps as triton_steps
shared = {}
SCHEDULES = ((triton_cells, triton_cells._forward, triton_cells._backward),
             (triton_steps, triton_steps._forward_step, triton_steps._backward_step))
for name, cell in triton_cells.CELLS.items():
    for hidden in json.loads(sys.argv[1]):
        for module, forward_kernel, backward_kernel in SCHEDULES:
            _, settings = module._launch(128, hidden)
            options = {"num_warps": settings.pop("num_warps"), "num_stages": settings.pop("num_stages")}
            forward = {"HAS_BIAS": name != "lstm", "PRECISION": "tf32"}
            for kernel, flags in ((forward_kernel, dict(forward, SAVE=True)),
                                  (forward_kernel, dict(forward, SAVE=False)),
                                  (backward_kernel, {"PRECISION": "tf32"})):
                names = inspect.signature(kernel.fn).parameters
                signature = {n: "i32" if n in ("t", "steps", "batch", "hidden") else "constexpr" if n.isupper()
                             else "*fp32" for n in names}
                source = ASTSource(fn=kernel, signature=signature,
                                   constexprs=dict(settings, **cell.constants(), **flags))
                compiled = triton.compile(source, target=GPUTarget("cuda", 90, 32), options=options)
                shared[f"{name} {kernel.fn.__name__} {flags} H{hidden}"] = compiled.metadata.shared
print(json.dumps(shared))
"""


@pytest.mark.slow
def test_the_kernels_fit_on_an_h100():
    """Every cell's kernels, per sequence and per step, compiled for sm_90 here, without a GPU (in a
    process without the interpreter): the shared memory each program asks for fits in an H100's 227
    KB per block (at H128 the LSTM's once asked for 270 KB, and the launch failed there)."""
    pytest.importorskip("triton")
    if triton_cells.UNAVAILABLE:
        pytest.skip(triton_cells.UNAVAILABLE)
    shared = run_compiled(COMPILE_FOR_H100, "[64, 128, 512]")
    assert len(shared) == 3 * 3 * 3 * 2 and all(0 < size <= 232_448 for size in shared.values()), shared


def test_kernel_triton_on_the_cpu_is_refused_before_training(monkeypatch, cli, tmp_path):
    """Without the interpreter, kernel=triton cannot run on CPU tensors: one line, exit 2, no records."""
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    for arch in ("gru", "rnn", "fused-lstm", "mingru"):
        output = tmp_path / f"{arch}.jsonl"
        result = cli("run", "-a", f"{arch}:kernel=triton", "--seeds", "1", "--device", "cpu", "-o", str(output))
        assert result.code == 2 and f"architecture '{arch}' on cpu: kernel=triton runs on CUDA" in result.err
        assert len(result.err.strip().splitlines()) == 1 and not output.exists()
