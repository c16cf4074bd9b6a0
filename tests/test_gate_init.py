"""Gate-bias initialisation schemes of lstm, gru and fused-lstm."""

from __future__ import annotations

import math

import pytest
import torch

from longdep_bench import BenchError
from longdep_bench.config.options import SweepOptions
from longdep_bench.discovery.registry import get_registry
from longdep_bench.planning.plan import plan

HIDDEN = 32


def _recurrent(name, **options):
    spec = get_registry().architecture(name)
    resolved = {p.name: p.default for p in spec.options} | options
    torch.manual_seed(0)
    model = spec.build(get_registry().task("task6a").model_io({"gap": 40}, 110), HIDDEN, resolved)
    return model.core.rnn


def _gate(module, gate):
    return (module.bias_ih_l0 + module.bias_hh_l0)[gate * HIDDEN:(gate + 1) * HIDDEN]


@pytest.mark.parametrize("name,memory,input_gate", [("lstm", 1, 0), ("fused-lstm", 1, 0), ("gru", 1, None)])
def test_chrono_initialisation(name, memory, input_gate):
    module = _recurrent(name, init="chrono", chrono_tmax=1000)
    forget = _gate(module, memory)
    assert forget.min() >= 0 and forget.max() <= math.log(999)
    assert forget.std() > 0.5  # spread over time scales, not a constant
    if input_gate is not None:
        torch.testing.assert_close(_gate(module, input_gate), -forget)
    default_tmax = _gate(_recurrent(name, init="chrono"), memory)
    assert default_tmax.max() <= math.log(109)  # the task's maximum length (110) when chrono_tmax=0


@pytest.mark.parametrize("name", ["lstm", "fused-lstm", "gru"])
def test_constant_and_default(name):
    torch.testing.assert_close(_gate(_recurrent(name, init="constant", gate_bias=2.5), 1), torch.full((HIDDEN,), 2.5))
    assert _gate(_recurrent(name, init="default"), 1).abs().max() < 2 / math.sqrt(HIDDEN)


def test_unknown_scheme_is_rejected():
    with pytest.raises(BenchError, match="expected one of default, constant, chrono"):
        plan(SweepOptions(archs=("gru:init=orthogonal",)), get_registry())
