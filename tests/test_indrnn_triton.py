"""The Triton kernels of IndRNN's recurrence (``indrnn:kernel=triton``): values and gradients equal
the step-by-step loop's; under Triton's interpreter on the CPU, compiled for sm_90 without a GPU,
and on CUDA where there is one."""

from __future__ import annotations

import pytest
import torch
from compile_helpers import run_compiled

pytest.importorskip("triton")

from longdep_bench_plugins.indrnn import IndRNNLayer, indrnn_recurrence  # noqa: E402

from longdep_bench.kernels.triton import cells as triton_cells  # noqa: E402
from longdep_bench.kernels.triton import indrnn as indrnn_triton  # noqa: E402

if triton_cells.UNAVAILABLE:
    pytest.skip(triton_cells.UNAVAILABLE, allow_module_level=True)


@pytest.mark.parametrize("steps,batch,hidden", [(1, 1, 1), (7, 3, 5), (40, 2, 130), (110, 16, 64)])
def test_values_and_gradients_equal_the_loop(steps, batch, hidden, exact_device):
    """Units that cross program boundaries (130 x 2 > BLOCK), one step, units whose pre-activation
    goes negative (the ReLU's zero gradient) and u above 1 (growing states)."""
    torch.manual_seed(0)
    projected = torch.randn(steps, batch, hidden, device=exact_device, requires_grad=True)
    u = (torch.rand(hidden, device=exact_device) * 1.2).requires_grad_()
    grad = torch.randn(steps, batch, hidden, device=exact_device)
    expected = indrnn_recurrence(projected, u)
    expected_grads = torch.autograd.grad(expected, (projected, u), grad)
    got = indrnn_triton.triton_recurrence(projected, u)
    got_grads = torch.autograd.grad(got, (projected, u), grad)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    for a, b in zip(got_grads, expected_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_the_layer_runs_it_and_says_so(device):
    torch.manual_seed(1)
    reference = IndRNNLayer(6, 20, 30, last=True, kernel="script").to(device)
    layer = IndRNNLayer(6, 20, 30, last=True, kernel="triton").to(device)
    layer.load_state_dict(reference.state_dict())
    x = torch.randn(3, 30, 6, device=device)
    torch.testing.assert_close(layer(x), reference(x), rtol=1e-5, atol=1e-5)
    assert layer.runtime_info() == {"kernel": "triton"}
    with pytest.raises(ValueError, match="kernel=triton: the Triton IndRNN loop computes in float32"):
        layer.double()(x.double())


def test_without_triton_the_option_is_refused_with_the_reason(monkeypatch, cli, tmp_path):
    monkeypatch.setattr("longdep_bench.kernels.triton.cells.UNAVAILABLE", "Triton is not importable (test)")
    result = cli("run", "-a", "indrnn:kernel=triton", "--seeds", "1", "-o", str(tmp_path / "r.jsonl"))
    assert result.code == 2 and "kernel=triton is unavailable here: Triton is not importable" in result.err


COMPILE_FOR_H100 = """
import inspect, json
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from longdep_bench.kernels.triton import indrnn as indrnn_triton
compiled = []
for kernel in (indrnn_triton._forward, indrnn_triton._backward):
    names = inspect.signature(kernel.fn).parameters
    signature = {n: "constexpr" if n.isupper() else "i32" if n in ("steps", "units", "hidden") else "*fp32"
                 for n in names}
    source = ASTSource(fn=kernel, signature=signature, constexprs={"BLOCK": indrnn_triton.BLOCK})
    triton.compile(source, target=GPUTarget("cuda", 90, 32), options={"num_warps": indrnn_triton.WARPS})
    compiled.append(kernel.fn.__name__)
print(json.dumps(compiled))
"""


def test_the_kernels_compile_for_an_h100():
    """Compiled for sm_90 here, without a GPU (in a process without the interpreter)."""
    assert run_compiled(COMPILE_FOR_H100) == ["_forward", "_backward"]
