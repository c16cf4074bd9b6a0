"""IndRNN, LRU, minGRU and minLSTM: each fast training path equals a step-by-step reference."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from longdep_bench_plugins.indrnn import IndRNNLayer
from longdep_bench_plugins.lru import LRULayer
from longdep_bench_plugins.minrnn import MinLayer

from longdep_bench.config.run_config import RunConfig
from longdep_bench.discovery.registry import get_registry
from longdep_bench.kernels.scans import doubling_scan, linear_scan, log_space_scan, sequential_scan
from longdep_bench.kernels.triton import cells as triton_cells
from longdep_bench.training.loop import train

TOL = dict(rtol=1e-4, atol=1e-5)


def loop(a_of_t, b):
    """h_t = a_t h_{t-1} + b_t, one step at a time."""
    h = torch.zeros_like(b[:, 0])
    out = []
    for t in range(b.shape[1]):
        h = a_of_t(t) * h + b[:, t]
        out.append(h)
    return torch.stack(out, 1)


def linear_scans(device: torch.device) -> list:
    """The linear-space scans that run on ``device``: numba's on the CPU only."""
    return [doubling_scan] + ([sequential_scan] if device.type == "cpu" else [])


@pytest.mark.parametrize("steps", [1, 2, 7, 64, 1100])
def test_linear_scans_equal_loop_for_complex_eigenvalues(steps, exact_device):
    torch.manual_seed(0)
    a = torch.polar(torch.rand(6) * 0.2 + 0.79, torch.rand(6) * 6.28).to(exact_device)
    b = torch.complex(torch.randn(3, steps, 6), torch.randn(3, steps, 6)).to(exact_device)
    for scan in linear_scans(exact_device):
        torch.testing.assert_close(scan(a, b), loop(lambda t: a, b), **TOL)


@pytest.mark.parametrize("steps", [1, 5, 300])
def test_time_varying_scans_equal_loop(steps, exact_device):
    torch.manual_seed(0)
    a, b = (torch.rand(2, steps, 4) * 0.5 + 0.5).to(exact_device), (torch.rand(2, steps, 4) + 0.1).to(exact_device)
    expected = loop(lambda t: a[:, t], b)
    torch.testing.assert_close(log_space_scan(a.log(), b.log()), expected, **TOL)
    for scan in linear_scans(exact_device):
        torch.testing.assert_close(scan(a, b), expected, **TOL)


@pytest.mark.parametrize("invariant", [False, True], ids=["time-varying real", "time-invariant complex"])
def test_the_numba_scan_has_the_exact_gradient(invariant):
    torch.manual_seed(0)
    if invariant:  # the LRU's case: complex eigenvalues, one per channel
        a = torch.polar(torch.rand(3, dtype=torch.float64) * 0.5 + 0.4, torch.rand(3, dtype=torch.float64) * 6.28)
        b = torch.randn(2, 9, 3, dtype=torch.complex128)
    else:
        a, b = torch.rand(2, 9, 3, dtype=torch.float64), torch.randn(2, 9, 3, dtype=torch.float64)
    assert torch.autograd.gradcheck(sequential_scan, (a.requires_grad_(), b.requires_grad_()))


def test_the_numba_scan_and_the_doubling_scan_give_the_same_gradients():
    torch.manual_seed(0)
    a, b, weight = torch.rand(4, 150, 8), torch.randn(4, 150, 8), torch.randn(4, 150, 8)
    gradients = []
    for scan in (doubling_scan, sequential_scan):
        a_, b_ = a.clone().requires_grad_(), b.clone().requires_grad_()
        (scan(a_, b_) * weight).sum().backward()
        gradients.append((a_.grad, b_.grad))
    torch.testing.assert_close(gradients[0], gradients[1], **TOL)


def test_the_scan_kernel_runs_where_it_can(device):
    a, b = torch.rand(1, 3, 2, device=device), torch.rand(1, 3, 2, device=device)
    assert linear_scan(a, b, "auto")[1] == ("numba" if device.type == "cpu" else "torch")
    assert linear_scan(a, b, "torch")[1] == "torch"
    if device.type != "cpu":
        with pytest.raises(ValueError, match="kernel=numba runs on the CPU only"):
            linear_scan(a, b, "numba")
    with pytest.raises(ValueError, match="kernel=numba runs the linear-space scan"):
        MinLayer(2, 3, "gru", scan="log", kernel="numba")


@pytest.mark.parametrize("arch", ["mingru", "lru"])
def test_without_triton_the_scan_kernel_is_unavailable_with_the_reason(arch, monkeypatch, cli, tmp_path):
    monkeypatch.setattr(triton_cells, "UNAVAILABLE", "Triton is not importable (No module named 'triton')")
    result = cli("run", "-a", f"{arch}:kernel=triton", "--seeds", "1", "-o", str(tmp_path / "r.jsonl"))
    assert result.code == 2 and "kernel=triton is unavailable here: Triton is not importable" in result.err
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize("arch", ["mingru", "lru"])
def test_a_run_records_which_scan_kernel_ran(arch, device):
    options = {p.name: p.default for p in get_registry().architecture(arch).options if not p.runtime}
    config = RunConfig(arch=arch, task="task6a", arch_options=options, params={"gap": 11}, seed=0, master_seed=0,
                       hidden=8, batch_size=8, threshold=0.99, max_sequences=16, test_size=16, check_every=16,
                       device=device.type)
    record = train(config)
    assert record.status.value == "ok", record.error
    assert record.runtime["kernel"] == ("numba" if device.type == "cpu" else "torch")


@pytest.mark.parametrize("kernel", ["auto", "torch"])
def test_lru_layer_equals_its_recurrence_step_by_step(kernel, exact_device):
    torch.manual_seed(0)
    layer = LRULayer(8, r_min=0.9, r_max=0.999, max_phase=2 * math.pi, kernel=kernel).to(exact_device)
    u = torch.randn(2, 50, 8).to(exact_device)
    lam = layer.eigenvalues()
    assert torch.all(lam.abs() < 1) and lam.abs().min() >= 0.9 - 1e-6  # the ring
    driven = layer.driven(u)
    x = driven.new_zeros(2, 8)
    outputs = []
    for t in range(50):
        x = lam * x + driven[:, t]
        outputs.append(layer.read(x, u[:, t]))
    torch.testing.assert_close(layer(u), torch.stack(outputs, 1), **TOL)
    gamma = torch.exp(layer.gamma_log)
    torch.testing.assert_close(gamma, torch.sqrt(1 - lam.abs() ** 2), **TOL)  # normalised at init


@pytest.mark.parametrize("scan,kernel", [("doubling", "auto"), ("doubling", "torch"), ("log", "auto")])
@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_min_layers_equal_their_recurrence_step_by_step(kind, scan, kernel, exact_device):
    torch.manual_seed(0)
    layer = MinLayer(5, 6, kind, scan, kernel).to(exact_device)
    x = torch.randn(3, 40, 5).to(exact_device)
    g = lambda v: torch.where(v >= 0, v + 0.5, torch.sigmoid(v))  # noqa: E731
    if kind == "gru":
        k, h = layer.gates(x).chunk(2, -1)
        z = torch.sigmoid(k)
        expected = loop(lambda t: 1 - z[:, t], z * g(h))
    else:
        f, i, h = layer.gates(x).chunk(3, -1)
        f, i = torch.sigmoid(f), torch.sigmoid(i)
        expected = loop(lambda t: (f / (f + i))[:, t], i / (f + i) * g(h))
    torch.testing.assert_close(layer(x), expected, **TOL)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_the_fused_numba_min_layer_gives_the_doubling_scans_values_and_gradients(kind):
    torch.manual_seed(0)
    fused, reference = MinLayer(5, 6, kind, "doubling", "numba"), MinLayer(5, 6, kind, "doubling", "torch")
    reference.load_state_dict(fused.state_dict())
    x = (3 * torch.randn(3, 300, 5)).requires_grad_()  # pre-activations of both signs, some saturated
    x_reference = x.detach().clone().requires_grad_()
    weights = torch.randn(3, 300, 6)
    out, expected = fused(x), reference(x_reference)
    assert fused.runtime_info() == {"kernel": "numba"} and reference.runtime_info() == {"kernel": "torch"}
    torch.testing.assert_close(out, expected, **TOL)
    (out * weights).sum().backward()
    (expected * weights).sum().backward()
    torch.testing.assert_close(x.grad, x_reference.grad, rtol=1e-4, atol=1e-5)
    for (name, parameter), (_, want) in zip(fused.named_parameters(), reference.named_parameters()):
        torch.testing.assert_close(parameter.grad, want.grad, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("kernel", ["script", "numba"])
def test_indrnn_layer_equals_eager_recurrence_and_respects_the_bound(kernel, exact_device):
    if kernel == "numba" and exact_device.type != "cpu":
        pytest.skip("the numba kernels run on the CPU")
    torch.manual_seed(0)
    layer = IndRNNLayer(5, 7, max_length=100, last=True, kernel=kernel).to(exact_device)
    assert layer.u_max == pytest.approx(2 ** (1 / 100))
    assert layer.u.min() >= 2 ** (-10 / 100) - 1e-6  # the last layer starts out keeping information
    with torch.no_grad():
        layer.u[0] = 5.0  # beyond the bound: acts as the bound
        layer.u[1] = -0.5  # a negative weight: its unit's sign alternates, and ReLU cuts
    x = torch.randn(2, 30, 5).to(exact_device)
    u = layer.u.clamp(-layer.u_max, layer.u_max)
    projected = layer.input(x)
    h = x.new_zeros(2, 7)
    outputs = []
    for t in range(30):
        h = F.relu(projected[:, t] + u * h)
        outputs.append(h)
    expected = torch.stack(outputs, 1)
    got = layer(x)
    assert layer.runtime_info() == {"kernel": kernel}
    torch.testing.assert_close(got, expected, **TOL)
    weights = torch.randn_like(expected)
    want = torch.autograd.grad((expected * weights).sum(), list(layer.parameters()))
    have = torch.autograd.grad((got * weights).sum(), list(layer.parameters()))
    for (name, _), a, b in zip(layer.named_parameters(), have, want):
        torch.testing.assert_close(a, b, **TOL, msg=name)
