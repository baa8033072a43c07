"""utils.nb03_initialization: init schemes vs PyTorch, hooks that never leak, demo, checks."""

from __future__ import annotations

import html
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from scripts.series import definitions_from_notebook
from utils import nb03_initialization as nb
from utils.check import NOT_ATTEMPTED_MARK, PASS_MARK

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "03_initialization.ipynb"


@pytest.fixture
def ax():
    return Figure().add_subplot()


def no_hooks_left(model: nn.Module) -> bool:
    return all(
        not module._forward_hooks and not module._forward_pre_hooks and not module._backward_hooks
        for module in model.modules()
    )


# --- init schemes ------------------------------------------------------------------------------


def test_kaiming_bound_with_a_sqrt5_is_the_notebooks_default_bound():
    default_bound = definitions_from_notebook(NOTEBOOK, "default_bound")["default_bound"]
    for fan_in in (1, 3, 10, 256, 1000):
        bound = nb.kaiming_uniform_bound(fan_in, a=math.sqrt(5))
        assert math.isclose(bound, default_bound(fan_in))
        assert math.isclose(bound, 1 / math.sqrt(fan_in))
    assert nb.kaiming_uniform_bound(6) == pytest.approx(1.0)  # a = 0: sqrt(6 / fan_in)


def test_default_scheme_equals_reset_parameters_bit_for_bit():
    torch.manual_seed(7)
    reference = nn.Linear(12, 5)
    layer = nn.utils.skip_init(nn.Linear, 12, 5)
    nb.init_linear_(layer, "default", generator=torch.Generator().manual_seed(7))
    assert torch.equal(layer.weight, reference.weight)
    assert torch.equal(layer.bias, reference.bias)


@pytest.mark.parametrize("scheme", nb.SCHEMES)
def test_each_scheme_has_the_stated_std(scheme):
    fan_in, fan_out, gain = 300, 200, 1.5
    layer = nn.utils.skip_init(nn.Linear, fan_in, fan_out)
    generator = torch.Generator().manual_seed(0)
    assert nb.init_linear_(layer, scheme, gain=gain, generator=generator) is layer
    weight = layer.weight.detach()
    expected = nb.expected_weight_std(scheme, fan_in, fan_out, gain)
    assert weight.std().item() == pytest.approx(expected, rel=0.02, abs=1e-7)
    if scheme != "default":
        assert torch.count_nonzero(layer.bias) == 0
    if scheme == "constant":
        assert torch.all(weight == gain / fan_in)
    if scheme == "orthogonal":  # rows orthonormal (out ≤ in), times the gain
        torch.testing.assert_close(weight @ weight.T / gain**2, torch.eye(fan_out))


def test_deep_stack_is_seeded_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a = nb.deep_stack(3, 8, "tanh", scheme="xavier_normal", seed=1)
    b = nb.deep_stack(3, 8, "tanh", scheme="xavier_normal", seed=1)
    c = nb.deep_stack(3, 8, "tanh", scheme="xavier_normal", seed=2)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a[0][0].weight, c[0][0].weight)
    assert [type(block[-1]).__name__ for block in a] == ["Tanh"] * 3
    assert all(len(block) == 1 for block in nb.deep_stack(2, 4, "none"))
    assert torch.all(nb.deep_stack(2, 4, scheme="constant", gain=2.0)[1][0].weight == 0.5)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: nb.kaiming_uniform_bound(0), ValueError, "fan_in must be at least 1; got 0"),
        (lambda: nb.expected_weight_std("he", 3, 3), ValueError, "scheme must be one of"),
        (lambda: nb.expected_weight_std("normal", 3, 0), ValueError, "fan_out must be at least 1"),
        (lambda: nb.init_linear_(nn.Conv1d(1, 1, 1), "zeros"), TypeError, "got Conv1d"),
        (lambda: nb.init_linear_(nn.Linear(2, 2), "he"), ValueError, "got 'he'"),
        (lambda: nb.init_linear_(nn.Linear(2, 2), "zeros", gain=-1.0), ValueError, "gain must"),
        (lambda: nb.init_linear_(nn.Linear(2, 2), "zeros", gain="1"), TypeError, "gain must be"),
        (lambda: nb.deep_stack(3, 4, "gelu"), ValueError, "activation must be one of"),
        (lambda: nb.deep_stack(0, 4), ValueError, "depth must be at least 1"),
        (lambda: nb.deep_stack(2, 4, scheme="he"), ValueError, "scheme must be one of"),
        (lambda: nb.deep_stack(2, 4, gain=math.inf), ValueError, "gain must be a finite"),
    ],
)
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- recording signals -------------------------------------------------------------------------


def test_records_outputs_and_gradients_of_each_child():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = torch.randn(5, 3)
    with nb.LayerRecorder(model) as recorder:
        assert recorder.active_hooks == 3
        y = model(x)
        assert recorder.active_hooks == 6  # plus one tensor hook per recorded output
        y.pow(2).sum().backward()
    assert recorder.active_hooks == 0 and no_hooks_left(model)
    assert recorder.names == ["0", "1", "2"]
    torch.testing.assert_close(recorder.activations["2"], y.detach())
    torch.testing.assert_close(recorder.activations["1"], torch.tanh(model[0](x)).detach())
    torch.testing.assert_close(recorder.gradients["2"], 2 * y.detach())  # d(Σy²)/dy
    # chain rule by hand: the gradient into the tanh output is (2y) W₂
    torch.testing.assert_close(recorder.gradients["1"], 2 * y.detach() @ model[2].weight.detach())
    stds = recorder.activation_stds()
    assert stds[2] == pytest.approx(y.detach().double().std(correction=0).item())
    assert recorder.gradient_norms()[2] == pytest.approx(2 * y.detach().double().norm().item())


def test_hooks_are_removed_even_when_the_body_raises():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    recorder = nb.LayerRecorder(model)
    with pytest.raises(RuntimeError, match="cannot be multiplied"), recorder:
        model(torch.randn(2, 5))
    assert recorder.active_hooks == 0 and no_hooks_left(model)


def test_tensor_hooks_are_removed_too():
    model = nn.Sequential(nn.Linear(3, 3))
    with nb.LayerRecorder(model):
        y = model(torch.randn(2, 3))
        assert y._backward_hooks  # the gradient hook sits on the output tensor
    assert not y._backward_hooks


def test_recorder_is_reusable_and_keeps_the_last_pass():
    model = nn.Sequential(nn.Linear(2, 2))
    recorder = nb.LayerRecorder(model)
    for value in (1.0, 2.0):
        with recorder:
            model(torch.full((1, 2), value))
        assert no_hooks_left(model) and recorder.active_hooks == 0
    torch.testing.assert_close(recorder.activations["0"], model(torch.full((1, 2), 2.0)).detach())


def test_signal_statistics_leaves_grads_alone_and_matches_the_recorder():
    stack = nb.deep_stack(4, 16, "relu", scheme="kaiming_normal_relu")
    x = torch.randn(32, 16)
    stats = nb.signal_statistics(stack, x)
    assert all(p.grad is None for p in stack.parameters())
    assert no_hooks_left(stack) and not x.requires_grad
    assert stats.names == ["0", "1", "2", "3"]
    assert stats.gradient_norm[-1] == pytest.approx(1.0)
    h = x
    for block, std in zip(stack, stats.activation_std, strict=True):
        h = block(h)
        assert std == pytest.approx(h.detach().double().std(correction=0).item())


def test_statistics_before_a_pass_and_bad_input_are_explained():
    model = nn.Sequential(nn.Linear(2, 2))
    recorder = nb.LayerRecorder(model)
    with pytest.raises(ValueError, match="run a forward pass inside"):
        recorder.activation_stds()
    with recorder:
        model(torch.ones(1, 2))  # no grad requested, so no gradient is recorded
    with pytest.raises(ValueError, match="and a backward pass"):
        recorder.gradient_norms()
    with pytest.raises(TypeError, match="got Tensor"):
        nb.LayerRecorder(torch.ones(2))
    with pytest.raises(ValueError, match="nothing to record"):
        nb.LayerRecorder(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="output is empty"):
        nb.signal_statistics(model, torch.ones(0, 2))
    with pytest.raises(TypeError, match="x must be a tensor"):
        nb.signal_statistics(model, "x")
    assert no_hooks_left(model)


def test_non_tensor_output_is_refused_and_hooks_still_go():
    class Pair(nn.Module):
        def forward(self, x):
            return x, x

    model = nn.Sequential()
    model.add_module("pair", Pair())
    with pytest.raises(TypeError, match="only tensor outputs"), nb.LayerRecorder(model):
        model(torch.ones(1))
    assert no_hooks_left(model)


def test_batch_std_ignores_constant_offsets():
    x = torch.randn(64, 8, dtype=torch.float64)
    assert nb.batch_std(x + 100.0) == pytest.approx(nb.batch_std(x))
    assert nb.batch_std(torch.ones(1, 3)) == 0.0
    assert nb.batch_std([[1.0], [3.0]]) == pytest.approx(1.0)  # a list works too
    with pytest.raises(ValueError, match="at least one sample"):
        nb.batch_std(torch.ones(0, 3))
    with pytest.raises(TypeError, match=r"tensor must be a tensor .* got str"):
        nb.batch_std("x")


# --- plot --------------------------------------------------------------------------------------


def test_init_histogram_density_matches_the_uniform(ax):
    values = torch.linspace(-0.5, 0.5, 10_001)
    artists = nb.init_histogram(ax, values, bound=0.5, bins=10, title="t")
    heights = [bar.get_height() for bar in artists["bars"]]
    np.testing.assert_allclose(heights, 1.0, rtol=3e-3)  # density of U(-0.5, 0.5) is 1
    assert [line.get_xdata()[0] for line in artists["bounds"]] == [-0.5, 0.5]
    np.testing.assert_allclose(artists["density"].get_ydata(), [1.0, 1.0])
    assert ax.get_title() == "t" and ax.get_legend() is not None
    assert sorted(nb.init_histogram(Figure().add_subplot(), values)) == ["bars"]


def test_init_histogram_bad_input_and_no_pyplot_figures(ax):
    before = plt.get_fignums()
    with pytest.raises(ValueError, match="values is empty"):
        nb.init_histogram(ax, torch.empty(0))
    with pytest.raises(ValueError, match="bound must be > 0"):
        nb.init_histogram(ax, torch.ones(3), bound=0.0)
    with pytest.raises(ValueError, match="bins"):  # matplotlib's own message names it
        nb.init_histogram(ax, torch.ones(3), bins=0)
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        nb.init_histogram(None, torch.ones(3))
    assert plt.get_fignums() == before


# --- slider demo -------------------------------------------------------------------------------


def ratio(values):
    return values[-1] / values[0]


def test_default_init_vanishes_in_a_relu_stack_and_kaiming_fixes_it():
    default = nb.stack_signals("default", "relu", 20, 128, 1.0)
    kaiming = nb.stack_signals("kaiming_normal_relu", "relu", 20, 128, 1.0)
    assert ratio(default.activation_std) < 0.2  # down to the bias' own spread
    assert 0.4 < ratio(kaiming.activation_std) < 2.5
    assert default.gradient_norm[0] < 1e-6  # the gradient reaching layer 1
    assert 0.3 < kaiming.gradient_norm[0] < 3


def test_gain_above_one_explodes():
    stats = nb.stack_signals("kaiming_normal_relu", "relu", 20, 128, 2.0)
    assert ratio(stats.activation_std) > 1e4


@pytest.mark.parametrize("scheme", ["zeros", "normal"])
def test_extreme_schemes_draw_without_warnings(scheme):
    fig = Figure()
    text = nb.draw_init_explorer(fig, scheme, "none", 20, 256, 2.0)
    assert text.startswith(f"{scheme}, none, 20×256")
    assert ("dead" in text) == (scheme == "zeros")


def test_readout_names_the_ratio():
    demo = nb.build_demo()
    assert "ratio" in html.unescape(demo.readout.value) and demo.last_error is None
    demo.controls["depth"].value = 2
    assert "(layer 2)" in html.unescape(demo.readout.value)


# --- exercise checks ---------------------------------------------------------------------------


def stub(*_args):
    raise NotImplementedError


def test_right_answers_pass(capsys):
    nb.check_default_bound(lambda fan_in: 1 / math.sqrt(fan_in))
    nb.check_default_bound(lambda fan_in: math.sqrt(1 / 3) * math.sqrt(3 / fan_in))
    nb.check_default_bound(lambda fan_in: np.float64(1 / np.sqrt(fan_in)))  # a NumPy scalar
    nb.check_relu_init(lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"))
    nb.check_relu_init(lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"))
    assert capsys.readouterr().out.count(PASS_MARK) == 5


def test_stubs_are_not_attempted(capsys):
    nb.check_default_bound(stub)
    nb.check_relu_init(stub)
    assert capsys.readouterr().out.count(NOT_ATTEMPTED_MARK) == 2


def test_checks_leave_the_global_rng_alone():
    state = torch.random.get_rng_state()
    nb.check_default_bound(lambda fan_in: 1 / math.sqrt(fan_in))
    nb.check_relu_init(lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"))
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda fan_in: math.sqrt(6 / fan_in), "a = √5"),  # kaiming_uniform_ with a = 0
        (lambda fan_in: math.sqrt(3 / fan_in), "a = √5"),  # gain 1
        (lambda fan_in: 1 / fan_in, "expected 0.57735, got 0.333333"),
        (lambda fan_in: "0.1", "return a number"),
    ],
)
def test_wrong_bounds_get_a_hint(answer, message):
    with pytest.raises(AssertionError, match=message):
        nb.check_default_bound(answer)


@pytest.mark.parametrize(
    ("init_weight", "message"),
    [
        (lambda w: nn.init.kaiming_uniform_(w, a=math.sqrt(5)), "vanishes"),  # PyTorch's default
        (lambda w: nn.init.xavier_normal_(w), "vanishes"),
        (lambda w: nn.init.normal_(w), "explodes"),
        (lambda w: nn.init.normal_(w, std=1e6), "explodes"),  # overflows to inf: a nan ratio
        (lambda w: nn.init.zeros_(w), "vanishes"),
    ],
)
def test_unstable_relu_inits_are_rejected(init_weight, message):
    with pytest.raises(AssertionError, match=message):
        nb.check_relu_init(init_weight)


def test_the_notebook_solutions_pass_their_checks(capsys):
    cells = definitions_from_notebook(NOTEBOOK, "default_bound", "relu_init_")
    nb.check_default_bound(cells["default_bound"])
    nb.check_relu_init(cells["relu_init_"])
    assert capsys.readouterr().out.count(PASS_MARK) == 2
