"""fused-lstm equals nn.LSTM: outputs, final states and every gradient, including variable lengths."""

from __future__ import annotations

import warnings

import pytest
import torch
from longdep_bench_plugins.fused_lstm import FusedLSTM
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from longdep_bench.discovery.registry import get_registry

TOL = dict(rtol=1e-5, atol=1e-5)


def _pair(input_size, hidden, seed=0, kernel="script"):
    torch.manual_seed(seed)
    reference = torch.nn.LSTM(input_size, hidden, batch_first=True)
    fused = FusedLSTM(input_size, hidden, kernel=kernel)
    fused.load_state_dict(reference.state_dict())
    return reference, fused


@pytest.mark.parametrize("kernel", ["script", "numba"])
@pytest.mark.parametrize("batch,steps,input_size,hidden",
                         [(1, 1, 3, 4), (5, 17, 9, 8), (16, 110, 9, 64), (3, 40, 1, 128)])
def test_outputs_states_and_gradients_equal_nn_lstm(batch, steps, input_size, hidden, kernel, exact_device):
    device = exact_device
    if kernel == "numba" and device.type != "cpu":
        pytest.skip("the numba kernels run on the CPU")
    reference, fused = _pair(input_size, hidden, kernel=kernel)
    reference, fused = reference.to(device), fused.to(device)
    torch.manual_seed(1)
    x = torch.randn(batch, steps, input_size, device=device)
    lengths = torch.randint(1, steps + 1, (batch,))
    lengths[0] = steps
    mask = (torch.arange(steps)[None, :] < lengths[:, None]).unsqueeze(-1).to(device)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    ref_out, (ref_h, ref_c) = reference(packed)
    ref_out, _ = pad_packed_sequence(ref_out, batch_first=True, total_length=steps)
    x_fused = x.clone().requires_grad_(True)
    out, (h, c) = fused(x_fused, lengths.to(device))
    assert fused.runtime_info() == {"kernel": kernel}
    torch.testing.assert_close(out * mask, ref_out, **TOL)
    torch.testing.assert_close(h, ref_h, **TOL)
    torch.testing.assert_close(c, ref_c, **TOL)
    weights = torch.randn_like(ref_out)
    ((ref_out * weights).sum() + ref_h.sum() + 2 * ref_c.sum()).backward()
    ((out * mask * weights).sum() + h.sum() + 2 * c.sum()).backward()
    for name, parameter in reference.named_parameters():
        torch.testing.assert_close(dict(fused.named_parameters())[name].grad, parameter.grad, **TOL, msg=name)


def test_weights_copy_back_to_nn_lstm():
    reference, fused = _pair(5, 6)
    with torch.no_grad():
        for parameter in fused.parameters():
            parameter.add_(0.5)
    copy = torch.nn.LSTM(5, 6, batch_first=True)
    copy.load_state_dict(fused.state_dict())
    x = torch.randn(2, 7, 5)
    torch.testing.assert_close(copy(x)[0], fused(x)[0], **TOL)


@pytest.mark.parametrize("kernel", ["script", "numba"])
def test_token_ids_are_an_embedding_lookup_of_one_hot_inputs(kernel):
    _, fused = _pair(9, 8, kernel=kernel)
    tokens = torch.randint(0, 10, (4, 20), dtype=torch.int8)  # id 9 is padding
    one_hot = (tokens.unsqueeze(-1) == torch.arange(9, dtype=torch.int8)).float()
    torch.testing.assert_close(fused(tokens)[0], fused(one_hot)[0], **TOL)


def test_built_model_matches_lstm_architecture_with_same_seed():
    registry = get_registry()
    task = registry.task("task6a")
    options = {p.name: p.default for name in ("lstm", "fused-lstm") for p in registry.architecture(name).options}
    torch.manual_seed(3)
    plain = registry.architecture("lstm").build(task.model_io({"gap": 40}, 110), 16, options)
    torch.manual_seed(3)
    fused = registry.architecture("fused-lstm").build(task.model_io({"gap": 40}, 110), 16, options)
    batch = task.generate({"gap": 40}, 8, seed=0, start=0).to_torch()
    torch.testing.assert_close(fused(batch.inputs, batch.lengths), plain(batch.inputs, batch.lengths), **TOL)


def test_scripting_does_not_leak_the_deprecation_warning():
    from longdep_bench import script

    def double(x: torch.Tensor) -> torch.Tensor:
        return x * 2

    scripted = script(double)
    assert scripted._compiled is None  # nothing compiles before the first call
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert scripted(torch.ones(1)).item() == 2.0
    assert isinstance(scripted._compiled, torch.jit.ScriptFunction)


def test_unscriptable_function_reports_reason_at_first_call():
    from longdep_bench import script

    def untyped(x):
        return x.no_such_method()

    scripted = script(untyped)  # no error at import time
    with pytest.raises(RuntimeError, match="torch.jit.script failed for untyped"):
        scripted(torch.ones(1))


def test_eager_loop_is_the_same_computation():
    _, scripted = _pair(9, 8)
    eager = FusedLSTM(9, 8, scripted=False)
    eager.load_state_dict(scripted.state_dict())
    x = torch.randn(3, 11, 9)
    torch.testing.assert_close(eager(x)[0], scripted(x)[0], **TOL)
