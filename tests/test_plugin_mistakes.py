"""The mistakes a plugin author made, one at a time (issue 25): each is one clear line naming the
plugin and what is wrong, a correct refusal, or a warning, never a silently wrong result."""

from __future__ import annotations

import pytest

BASE_TASK = """
    import math
    import numpy as np
    from longdep_bench import Batch, OutputKind, TaskSpec, hookimpl

    def generate(params, n, seed, start=0):
        width = 8
        rows = [np.random.default_rng([seed, start + i]).integers(0, 8, size=width) for i in range(n)]
        inputs = np.array(rows, dtype=np.int64).reshape(n, width)
        targets = inputs[:, 0].copy()
        {extra}
        return Batch(inputs=inputs, lengths=np.full(n, width), targets=targets)

    @hookimpl
    def register_tasks(register):
        register(TaskSpec(name="first-symbol", description="recall the first of 8 symbols",
                          output=OutputKind.CLASS_AT_END, generate=generate, symbols=tuple("abcdefgh"),
                          classes={classes}, chance={chance}, baseline_loss=lambda params: {loss},
                          success_threshold={threshold}))
"""
BASE_ARCH = """
    import torch
    from longdep_bench import ArchitectureSpec, SequenceModel, hookimpl

    class Core(torch.nn.Module):
        def __init__(self, size):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(size))
            {extra}
        def forward(self, x):
            {forward}

    @hookimpl
    def register_architectures(register):
        register(ArchitectureSpec(name="mine", description="an author's model",
                                  build=lambda io, hidden, options: SequenceModel(Core(io.input_size), io,
                                                                                  io.input_size)))
"""
FORWARD = "return x * self.weight"
RUN = ["run", "-a", "mine", "-t", "first-symbol", "--seeds", "1", "--max-sequences", "64", "--test-size", "16",
       "-j", "1", "-q"]


def task(extra="", classes='tuple("abcdefgh")', chance="1 / 8", loss="math.log(8)", threshold="0.99"):
    return BASE_TASK.format(extra=extra, classes=classes, chance=chance, loss=loss, threshold=threshold)


def arch(extra="pass", forward=FORWARD):
    return BASE_ARCH.format(extra=extra, forward=forward)


def line_of(result) -> str:
    [line] = [line for line in result.err.splitlines() if "error" in line]
    assert "Traceback" not in result.err
    return line


@pytest.mark.parametrize("declared,field", [({"threshold": "1.5"}, "success_threshold 1.5 is not in (0, 1]"),
                                            ({"chance": "0.9"}, "chance 0.9 is above the share of the most frequent"),
                                            ({"loss": "99"}, "baseline_loss 99 is above the loss of the best constant")])
def test_wrong_declarations_make_the_task_unusable(plugin_dist, cli, tmp_path, declared, field):
    plugin_dist("fake-tasks", {"tasks": task(**declared)})
    plugin_dist("fake-archs", {"archs": arch()})
    result = cli(*RUN, "-o", str(tmp_path / "r.jsonl"))
    assert result.code == 1
    line = line_of(result)
    assert "task 'first-symbol' (plugin tasks from fake-tasks) is unusable" in line and field in line
    plugins = cli("plugins")
    assert plugins.code == 1 and field in plugins.out


def test_classes_may_depend_on_the_parameters(plugin_dist, cli, tmp_path):
    plugin_dist("fake-tasks", {"tasks": task(classes="lambda params: tuple('abcdefgh')")})
    plugin_dist("fake-archs", {"archs": arch()})
    assert cli(*RUN, "-o", str(tmp_path / "r.jsonl")).code == 0
    assert cli("check", "first-symbol").code == 0


def test_a_tensor_outside_parameters_and_buffers_is_named(plugin_dist, cli, tmp_path):
    plugin_dist("fake-tasks", {"tasks": task()})
    plugin_dist("fake-archs", {"archs": arch(extra="self.extra = torch.zeros(64, 64)")})
    result = cli(*RUN, "-o", str(tmp_path / "r.jsonl"))
    assert result.code == 1 and "the attribute 'core.extra'" in result.err
    assert "a run failed: architecture 'mine' (plugin archs from fake-archs) broke its contract" in result.err
    check = cli("check", "mine", "-t", "first-symbol")
    assert check.code == 1 and "FAIL architecture mine on first-symbol: every tensor it keeps" in check.out


def test_a_forward_that_swaps_time_and_batch_is_caught_even_when_they_are_equal(plugin_dist, cli, tmp_path):
    """Batch size 8 and 8 steps: the training batch cannot show it; the probe batch (7 sequences) does."""
    plugin_dist("fake-tasks", {"tasks": task()})
    plugin_dist("fake-archs", {"archs": arch(forward="return (x.transpose(0, 1) * self.weight).transpose(0, 1)"
                                                       ".flip(0)")})
    result = cli(*RUN, "--batch-size", "8", "--check-every", "8", "-o", str(tmp_path / "r.jsonl"))
    assert result.code == 1 and "architecture 'mine' (plugin archs from fake-archs) broke its contract" in result.err


def test_a_generator_on_numpys_global_state_is_refused_by_generate(plugin_dist, cli, tmp_path):
    plugin_dist("fake-tasks", {"tasks": task(extra="targets = np.random.randint(0, 8, size=n)")})
    result = cli("generate", "first-symbol", "-n", "20", "--seed", "1", "-o", str(tmp_path / "d.npz"))
    assert result.code == 1 and "generate is not pure" in line_of(result)
    assert not (tmp_path / "d.npz").exists()


def test_a_target_out_of_range_in_one_row_of_thousands_names_the_task(plugin_dist, cli, tmp_path):
    plugin_dist("fake-tasks", {"tasks": task(extra="targets[(np.arange(n) + start) == 2500] = 8")})
    plugin_dist("fake-archs", {"archs": arch()})
    result = cli(*[a if a != "64" else "3000" for a in RUN], "-o", str(tmp_path / "r.jsonl"))
    assert result.code == 1
    assert "task 'first-symbol' (plugin tasks from fake-tasks) broke its contract: class ids span [0, 8]" in result.err


RETURNS_INSTEAD = """
    import torch
    from longdep_bench import ArchitectureSpec, SequenceModel, hookimpl

    @hookimpl
    def register_architectures(register):
        return ArchitectureSpec(name="cornn", description="returned, not registered",
                                build=lambda io, hidden, options: None)
"""
MISSPELT = """
    from longdep_bench import hookimpl

    @hookimpl
    def register_tasks(register):
        pass

    def register_architecturez(register):
        pass
"""


def test_hooks_that_register_nothing_or_are_misspelt_are_warned(plugin_dist, cli, tmp_path):
    plugin_dist("fake-hooks", {"returns": RETURNS_INSTEAD, "misspelt": MISSPELT})
    plugins = cli("plugins")
    assert "hook register_architectures registered nothing; it returned a ArchitectureSpec: call register(spec)" \
        in plugins.out
    assert "register_architecturez looks like register_architectures but is not a hook" in plugins.out
    listing = cli("list")
    assert "warning: plugin returns (fake-hooks): hook register_architectures registered nothing" in listing.err


BROKEN = """
    import not_a_module_anywhere
"""


def test_plugins_exits_1_when_a_plugin_failed(plugin_dist, cli):
    plugin_dist("fake-broken", {"broken": BROKEN})
    result = cli("plugins")
    assert result.code == 1 and "ModuleNotFoundError" in result.out
