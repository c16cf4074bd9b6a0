"""The Triton kernels of the linear recurrence (``kernel=triton`` of mingru, minlstm and lru): values
and gradients equal the doubling scan's, real and complex, time-varying and time-invariant; under
Triton's interpreter on the CPU, compiled for sm_90 without a GPU, and on CUDA where there is one."""

from __future__ import annotations

import pytest
import torch
from compile_helpers import run_compiled

pytest.importorskip("triton")

from longdep_bench_plugins.lru import LRULayer  # noqa: E402
from longdep_bench_plugins.minrnn import MinLayer  # noqa: E402

from longdep_bench.kernels.scans import linear_scan  # noqa: E402
from longdep_bench.kernels.triton import cells as triton_cells  # noqa: E402

if triton_cells.UNAVAILABLE:
    pytest.skip(triton_cells.UNAVAILABLE, allow_module_level=True)

TOL = dict(rtol=1e-4, atol=1e-5)
CASES = [(False, True), (False, False), (True, True), (True, False)]


def _coefficients(complex_: bool, varying: bool, steps: int, width: int, device):
    torch.manual_seed(0)
    shape = (3, steps, width) if varying else (width,)
    if complex_:
        a = torch.polar(torch.rand(shape) * 0.5 + 0.45, torch.rand(shape) * 6.28)
        b = torch.randn(3, steps, width, dtype=torch.complex64)
    else:
        a, b = torch.rand(shape), torch.randn(3, steps, width)
    return a.to(device), b.to(device)


@pytest.mark.slow
@pytest.mark.parametrize("complex_,varying", CASES, ids=["real", "real invariant", "complex", "complex invariant"])
@pytest.mark.parametrize("steps,width", [(1, 5), (37, 40), (100, 33)])
def test_values_and_gradients_equal_the_doubling_scan(complex_, varying, steps, width, exact_device):
    a, b = _coefficients(complex_, varying, steps, width, exact_device)
    weight = torch.randn(b.shape, dtype=b.dtype, device=exact_device)
    results = []
    for kernel in ("torch", "triton"):
        a_, b_ = a.clone().requires_grad_(), b.clone().requires_grad_()
        h, ran = linear_scan(a_, b_, kernel)
        assert ran == kernel
        (h * weight).sum().real.backward()
        results.append((h.detach(), a_.grad, b_.grad))
    for got, expected, name in zip(results[1], results[0], ("h", "grad a", "grad b")):
        expected = torch.zeros_like(got) if expected is None else expected  # one step: a is never used
        scale = max(1.0, float(expected.abs().max()))
        torch.testing.assert_close(got, expected, rtol=TOL["rtol"], atol=TOL["atol"] * scale, msg=name)


def test_the_layers_run_it(exact_device):
    torch.manual_seed(0)
    x = torch.randn(2, 30, 8, device=exact_device)
    for make in (lambda kernel: MinLayer(8, 8, "gru", "doubling", kernel),
                 lambda kernel: LRULayer(8, 0.9, 0.999, 6.28, kernel)):
        torch.manual_seed(1)
        reference = make("torch").to(exact_device)
        torch.manual_seed(1)
        layer = make("triton").to(exact_device)
        torch.testing.assert_close(layer(x), reference(x), **TOL)
        assert layer.runtime_info() == {"kernel": "triton"}


def test_auto_runs_the_triton_kernels_on_cuda_and_numba_on_the_cpu(device):
    torch.manual_seed(1)
    layer = MinLayer(8, 8, "gru", "doubling", "auto").to(device)
    layer(torch.randn(2, 30, 8, device=device))
    assert layer.runtime_info() == {"kernel": "triton" if device.type == "cuda" else "numba"}


def test_unsupported_tensors_are_refused_in_one_line(device):
    a, b = (torch.rand(2, 3, 4, dtype=torch.float64, device=device) for _ in range(2))
    with pytest.raises(ValueError, match="kernel=triton: the Triton scan computes in float32 and complex64"):
        linear_scan(a, b, "triton")
    with pytest.raises(ValueError, match="runs the linear-space scan"):
        MinLayer(2, 3, "gru", scan="log", kernel="triton")


COMPILE_FOR_H100 = """
import inspect, json
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from longdep_bench.kernels.triton import scan as scan_triton
compiled = []
for kernel, flags in ((scan_triton._forward, [{}]),
                      (scan_triton._backward, [{"VARYING": True}, {"VARYING": False}])):
    names = inspect.signature(kernel.fn).parameters
    signature = {n: "constexpr" if n.isupper() else "i32" if n in ("steps", "width", "a_seq", "a_step") else "*fp32"
                 for n in names}
    for complex_ in (False, True):
        for more in flags:
            constexprs = dict(BLOCK=scan_triton.BLOCK, CHUNK=scan_triton.CHUNK, COMPLEX=complex_, **more)
            source = ASTSource(fn=kernel, signature=signature, constexprs=constexprs)
            triton.compile(source, target=GPUTarget("cuda", 90, 32), options={"num_warps": scan_triton.WARPS})
            compiled.append(f"{kernel.fn.__name__} complex={complex_} {more}")
print(json.dumps(compiled))
"""


def test_the_kernels_compile_for_an_h100():
    """Compiled for sm_90 here, without a GPU (in a process without the interpreter)."""
    assert len(run_compiled(COMPILE_FOR_H100)) == 6
