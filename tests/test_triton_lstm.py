"""The Triton LSTM of fused-lstm against nn.LSTM: outputs, final states and every gradient.

Without a GPU the kernels run in Triton's interpreter (set up in conftest.py) at small sizes;
``--device cuda`` runs them compiled, at the benchmark sizes too, in every precision.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

pytest.importorskip("triton")

from longdep_bench import contracts  # noqa: E402
from longdep_bench.config import RunConfig  # noqa: E402
from longdep_bench.registry import get_registry  # noqa: E402
from longdep_bench.training import train  # noqa: E402
from longdep_bench_plugins import lstm_triton  # noqa: E402
from longdep_bench_plugins.fused_lstm import FusedLSTM  # noqa: E402

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


def _pair(input_size, hidden, precision, device):
    torch.manual_seed(0)
    reference = torch.nn.LSTM(input_size, hidden, batch_first=True).to(device)
    triton_lstm = FusedLSTM(input_size, hidden, kernel="triton", precision=precision).to(device)
    triton_lstm.load_state_dict(reference.state_dict())
    return reference, triton_lstm


@pytest.mark.parametrize("precision", lstm_triton.PRECISIONS)
def test_outputs_states_and_gradients_equal_nn_lstm(exact_device, precision):
    if exact_device.type != "cuda" and precision != "ieee":
        pytest.skip("the interpreter computes every precision exactly: one is enough on the CPU")
    for batch, hidden, steps in _sizes(exact_device):
        reference, triton_lstm = _pair(9, hidden, precision, exact_device)
        x = torch.randn(batch, steps, 9, device=exact_device)
        lengths = torch.randint(1, steps + 1, (batch,), device=exact_device)
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out_ref, (h_ref, c_ref) = reference(packed)
        out_ref, _ = torch.nn.utils.rnn.pad_packed_sequence(out_ref, batch_first=True, total_length=steps)
        out, (h, c) = triton_lstm(x, lengths)
        assert triton_lstm.runtime_info() == {"kernel": f"triton ({precision})"}
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


def test_without_gradients_the_forward_gives_the_same_outputs(device, monkeypatch):
    """Evaluation (no gradients) skips storing the gates for the backward pass; nothing else changes."""
    stored = []
    apply = lstm_triton.TritonLSTMFunction.apply
    monkeypatch.setattr(lstm_triton.TritonLSTMFunction, "apply", lambda *args: stored.append(args[3]) or apply(*args))
    for batch, hidden, steps in _sizes(device)[:3]:
        _, triton_lstm = _pair(9, hidden, "ieee", device)
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


def test_without_triton_the_kernel_is_unavailable_with_the_reason(monkeypatch, cli, tmp_path):
    monkeypatch.setattr(lstm_triton, "UNAVAILABLE", "Triton is not importable (No module named 'triton')")
    with pytest.raises(ValueError, match="kernel=triton is unavailable here: Triton is not importable"):
        FusedLSTM(8, 16, kernel="triton")
    result = cli("run", "-a", "fused-lstm:kernel=triton", "--seeds", "1", "-o", str(tmp_path / "r.jsonl"))
    assert result.code == 2 and "kernel=triton is unavailable here" in result.err
    assert FusedLSTM(8, 16, kernel="auto")(torch.randn(2, 5, 8))[0].shape == (2, 5, 16)  # the loop instead


def test_a_task6a_run_solves_with_the_triton_kernel(device):
    if device.type != "cuda":
        pytest.skip("a training run to success under the interpreter takes too long; on CUDA it is checked")
    options = {p.name: p.default for p in get_registry().architecture("fused-lstm").options if not p.runtime}
    config = RunConfig(arch="fused-lstm", task="task6a", arch_options=options, arch_runtime={"kernel": "triton"},
                       params={"gap": 40}, seed=0, master_seed=0, hidden=64, batch_size=16, threshold=0.99,
                       max_sequences=100_000, device="cuda")
    record = train(config)
    assert record.solved, (record.test_accuracy, record.error)


def test_hidden_sizes_beyond_the_kernels_are_refused_or_run_the_loop(cli, tmp_path):
    big = lstm_triton.MAX_HIDDEN + 1
    result = cli("run", "-a", "fused-lstm:kernel=triton", "--hidden", str(big), "--seeds", "1",
                 "-o", str(tmp_path / "r.jsonl"))
    assert result.code == 2 and f"supports hidden sizes up to {lstm_triton.MAX_HIDDEN}" in result.err
    layer = FusedLSTM(3, big, kernel="auto")
    layer(torch.randn(2, 3, 3))
    assert layer.runtime_info() == {"kernel": "numba"}  # auto's choice on the CPU (on CUDA: the TorchScript loop)


COMPILE_FOR_H100 = """
import inspect, json, sys
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from longdep_bench_plugins import lstm_triton
shared = {}
for hidden in json.loads(sys.argv[1]):
    _, settings = lstm_triton._launch(128, hidden)
    options = {"num_warps": settings.pop("num_warps"), "num_stages": settings.pop("num_stages")}
    for kernel, flags in ((lstm_triton._forward, {"SAVE_GATES": True}), (lstm_triton._forward, {"SAVE_GATES": False}),
                          (lstm_triton._backward, {})):
        names = inspect.signature(kernel.fn).parameters
        signature = {n: "i32" if n in ("steps", "batch", "hidden") else "constexpr" if n.isupper() else "*fp32"
                     for n in names}
        source = ASTSource(fn=kernel, signature=signature, constexprs=dict(settings, PRECISION="tf32", **flags))
        compiled = triton.compile(source, target=GPUTarget("cuda", 90, 32), options=options)
        shared[f"{kernel.fn.__name__} {flags} H{hidden}"] = compiled.metadata.shared
print(json.dumps(shared))
"""


def test_the_kernels_fit_on_an_h100():
    """Compiled for sm_90 here, without a GPU (in a process without the interpreter): the shared
    memory each program asks for fits in an H100's 227 KB per block (at H128 it once asked for 270
    KB, and the launch failed there)."""
    pytest.importorskip("triton")
    if lstm_triton.UNAVAILABLE:
        pytest.skip(lstm_triton.UNAVAILABLE)
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    done = subprocess.run([sys.executable, "-c", COMPILE_FOR_H100, "[64, 128, 512]"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    shared = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(shared) == 9 and all(0 < size <= 232_448 for size in shared.values()), shared
