"""utils.nb03_initialization: deep stacks and their signals, diagnostics, demo, exercise checks."""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn
from torch.nn import init

from scripts.series import definitions_from_notebook
from utils import nb03_initialization as nb
from utils.check import NOT_ATTEMPTED_MARK, PASS_MARK

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "03_initialization.ipynb"

# --- deep stacks and their signals -------------------------------------------------------------


def test_deep_stack_is_seeded_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a = nb.deep_stack(3, 8, "tanh", scheme="xavier_normal")
    b = nb.deep_stack(3, 8, "tanh", scheme="xavier_normal")
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a[0][0].weight, a[1][0].weight)  # one stream, fresh draws per layer
    assert [type(block[-1]).__name__ for block in a] == ["Tanh"] * 3
    assert all(len(block) == 1 for block in nb.deep_stack(2, 4, "none"))


@pytest.mark.parametrize(
    ("scheme", "gain", "std"),
    [
        ("default", 1.0, 1 / math.sqrt(3 * 256)),
        ("default", 2.0, 2 / math.sqrt(3 * 256)),
        ("xavier_normal", 5 / 3, 5 / 3 / math.sqrt(256)),
        ("kaiming_normal_relu", 1.0, math.sqrt(2 / 256)),
        ("orthogonal", 1.5, 1.5 / math.sqrt(256)),
        ("normal", 0.5, 0.5),
        ("zeros", 1.0, 0.0),
    ],
)
def test_each_scheme_has_its_std_and_bias(scheme, gain, std):
    layer = nb.deep_stack(1, 256, scheme=scheme, gain=gain)[0][0]
    assert layer.weight.std().item() == pytest.approx(std, rel=0.03, abs=1e-7)
    bias_bound = 1 / math.sqrt(256)
    if scheme == "default":  # exactly reset_parameters: a uniform bias in ±1/√d_in
        assert 0 < layer.bias.abs().max() <= bias_bound
    else:
        assert torch.count_nonzero(layer.bias) == 0


def test_default_scheme_is_reset_parameters_bit_for_bit():
    reference = nn.Linear(12, 12)
    layer = nn.utils.skip_init(nn.Linear, 12, 12)
    generator = torch.Generator().manual_seed(7)
    nb._init_(layer, "default", 1.0, generator)
    torch.manual_seed(7)
    reference.reset_parameters()
    assert torch.equal(layer.weight, reference.weight) and torch.equal(layer.bias, reference.bias)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: nb.deep_stack(3, 4, "gelu"), ValueError, "activation must be one of"),
        (
            lambda: nb.deep_stack(2, 4, scheme="he"),
            ValueError,
            "scheme one of .* got 'none' and 'he'",
        ),
        (lambda: nb.deep_stack(0, 4), ValueError, "depth must be at least 1"),
        (lambda: nb.deep_stack(2, 4, gain=math.inf), ValueError, "gain must be a finite"),
        (lambda: nb.deep_stack(2, 4, gain="1"), TypeError, "gain must be a number"),
        (
            lambda: nb.signal_statistics(nb.deep_stack(1, 2), torch.ones(0, 2)),
            ValueError,
            "non-empty",
        ),
        (lambda: nb.signal_statistics(nb.deep_stack(1, 2), "x"), TypeError, "x must be a tensor"),
        (
            lambda: nb.train_classifier(nb.classifier(), *nb.classification_data(), lr=-1),
            ValueError,
            "lr",
        ),
    ],
)
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_signal_statistics_matches_autograd_and_leaves_grads_alone():
    stack = nb.deep_stack(4, 16, "relu", scheme="kaiming_normal_relu")
    x = torch.randn(32, 16)
    stats = nb.signal_statistics(stack, x)
    assert all(p.grad is None for p in stack.parameters()) and not x.requires_grad
    assert stats.gradient_norm[-1] == pytest.approx(1.0)
    outputs, h = [], x.clone().requires_grad_(True)
    for block in stack:
        h = block(h)
        h.retain_grad()
        outputs.append(h)
    noise = torch.randn(h.shape, generator=torch.Generator().manual_seed(0))
    h.backward(noise / noise.norm())
    for out, std, norm in zip(outputs, stats.activation_std, stats.gradient_norm, strict=True):
        assert std == pytest.approx(out.detach().double().std(correction=0).item())
        assert norm == pytest.approx(out.grad.double().norm().item(), rel=1e-5)


def test_default_init_vanishes_in_a_relu_stack_and_kaiming_fixes_it():
    default = nb.stack_signals("default", "relu", 20, 128, 1.0)
    kaiming = nb.stack_signals("kaiming_normal_relu", "relu", 20, 128, 1.0)
    ratio = lambda values: values[-1] / values[0]  # noqa: E731
    assert ratio(default.activation_std) < 0.2 and default.gradient_norm[0] < 1e-6
    assert 0.4 < ratio(kaiming.activation_std) < 2.5 and 0.3 < kaiming.gradient_norm[0] < 3
    assert ratio(nb.stack_signals("kaiming_normal_relu", "relu", 20, 128, 2.0).activation_std) > 1e4


# --- diagnostics during training ---------------------------------------------------------------


def test_classifier_and_data_are_seeded_and_leave_global_rng_alone():
    state = torch.random.get_rng_state()
    (X1, y1), (X2, y2) = nb.classification_data(), nb.classification_data()
    model1, model2 = nb.classifier(), nb.classifier()
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(X1, X2) and torch.equal(y1, y2) and X1.shape == (2048, 20)
    assert sorted(y1.unique().tolist()) == list(range(10))  # every class occurs
    assert all(
        torch.equal(p, q) for p, q in zip(model1.parameters(), model2.parameters(), strict=True)
    )
    with torch.no_grad():  # the default init starts near log C
        loss = nn.functional.cross_entropy(model1(X1), y1).item()
    assert loss == pytest.approx(math.log(10), abs=0.05)


def test_update_ratio_is_lr_times_gradient_over_weight_for_sgd():
    X, y = nb.classification_data(64, 4, 3)
    model, twin = nb.classifier(4, 8, 3), nb.classifier(4, 8, 3)
    run = nb.train_classifier(model, X, y, lr=0.5, steps=1)
    index = torch.randint(0, 64, (32,), generator=torch.Generator().manual_seed(0))
    nn.functional.cross_entropy(twin(X[index]), y[index]).backward()
    for name, ratios in run.update_ratios.items():
        weight = twin.get_submodule(name).weight
        expected = math.log10((0.5 * weight.grad).std() / weight.detach().std())
        assert ratios == [pytest.approx(expected, abs=1e-5)]
    assert run.losses[0] == pytest.approx(math.log(3), abs=0.2)


# --- the notebook's own code -------------------------------------------------------------------


def test_the_notebooks_kaiming_relu_survives_bias_false_and_activations():
    kaiming_relu_ = definitions_from_notebook(NOTEBOOK, "kaiming_relu_")["kaiming_relu_"]
    model = nn.Sequential(nn.Linear(300, 200, bias=False), nn.ReLU(), nn.Linear(200, 100))
    model.apply(kaiming_relu_)
    assert model[0].bias is None and torch.count_nonzero(model[2].bias) == 0
    for layer in (model[0], model[2]):
        assert layer.weight.std().item() == pytest.approx(
            math.sqrt(2 / layer.in_features), rel=0.05
        )


def test_the_notebooks_broken_snippets_fail_as_the_notebook_says():
    cells = definitions_from_notebook(
        NOTEBOOK, "xavier_everywhere_", "kaiming_relu_naive_", "xavier_every_parameter_"
    )
    with pytest.raises(AttributeError, match="'ReLU' object has no attribute 'weight'"):
        nn.Sequential(nn.Linear(2, 2), nn.ReLU()).apply(cells["xavier_everywhere_"])
    with pytest.raises(AttributeError, match="'NoneType' object has no attribute"):
        nn.Linear(2, 2, bias=False).apply(cells["kaiming_relu_naive_"])
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed"):
        nn.Linear(2, 2).apply(cells["xavier_every_parameter_"])


# --- slider demo -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values", [("default", "relu", 10, 128, 1.0), ("orthogonal", "none", 4, 32, 1.5)]
)
def test_cached_signals_equal_a_fresh_computation(values):
    cached = nb.stack_signals(*values)
    assert nb.stack_signals(*values) is cached
    fresh = nb.stack_signals.__wrapped__(*values)
    assert fresh.activation_std == cached.activation_std
    assert fresh.gradient_norm == cached.gradient_norm


@pytest.mark.parametrize("scheme", ["zeros", "normal"])
def test_extreme_schemes_draw_without_warnings(scheme):
    text = nb.draw_init_explorer(Figure(), scheme, "none", 20, 256, 2.0)
    assert text.startswith(f"{scheme}, none, 20×256")
    assert ("dead" in text) == (scheme == "zeros")
    assert "e+" in text or scheme == "zeros"  # N(0, 1) with gain 2 grows to ~1e30, still finite


def test_readout_names_the_ratio():
    demo = nb.build_demo()
    assert "ratio" in html.unescape(demo.readout.value) and demo.last_error is None
    demo.controls["depth"].value = 2
    assert "(layer 2)" in html.unescape(demo.readout.value)


# --- exercise checks ---------------------------------------------------------------------------


def stub(*_args):
    raise NotImplementedError


def uniform_relu_(weight, *, fan=1):  # k from weight.shape[fan]; fan=0 is the fan_out mistake
    k = math.sqrt(6 / weight.shape[fan])
    with torch.no_grad():
        weight.uniform_(-k, k)


def uniform_with_bound(bound):
    def fill_(weight):
        with torch.no_grad():
            weight.uniform_(-bound(weight.shape[1]), bound(weight.shape[1]))

    return fill_


def copy_weights_(layer, W, b):
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(W))
        if b is not None:
            layer.bias.copy_(torch.as_tensor(b))


def via_state_dict_(layer, W, b):
    state = {"weight": torch.as_tensor(W)}
    if b is not None:
        state["bias"] = torch.as_tensor(b)
    layer.load_state_dict(state)


RIGHT_RELU_INITS = [
    lambda w: init.kaiming_uniform_(w, nonlinearity="relu"),
    lambda w: init.kaiming_uniform_(w, a=0),  # leaky_relu with slope 0 is ReLU
    lambda w: init.uniform_(w, -math.sqrt(6 / w.shape[1]), math.sqrt(6 / w.shape[1])),
    uniform_relu_,
]
RIGHT_OUTPUT_STDS = [
    lambda depth, relu: math.sqrt((1 / 3) ** depth * 0.5 ** ((depth - 1) * relu)),
    lambda depth, relu: torch.tensor(3.0**-depth / 2 ** ((depth - 1) * relu)).sqrt(),  # 0-d
    lambda depth, relu: (
        np.float64(6.0 ** (-(depth - 1) / 2) if relu else 3.0 ** (-depth / 2))
        / (np.sqrt(3.0) if relu else 1.0)
    ),
]
RIGHT_SET_WEIGHTS = [copy_weights_, via_state_dict_]


def test_right_answers_pass(capsys):
    for answer in RIGHT_RELU_INITS:
        nb.check_relu_init(answer)
    for answer in RIGHT_OUTPUT_STDS:
        nb.check_output_std(answer)
    for answer in RIGHT_SET_WEIGHTS:
        nb.check_set_weights(answer)
    total = len(RIGHT_RELU_INITS) + len(RIGHT_OUTPUT_STDS) + len(RIGHT_SET_WEIGHTS)
    assert capsys.readouterr().out.count(PASS_MARK) == total


def test_the_notebook_solutions_pass_their_checks(capsys):
    cells = definitions_from_notebook(
        NOTEBOOK, "relu_uniform_", "predicted_output_std", "set_weights_"
    )
    nb.check_relu_init(cells["relu_uniform_"])
    nb.check_output_std(cells["predicted_output_std"])
    nb.check_set_weights(cells["set_weights_"])
    assert capsys.readouterr().out.count(PASS_MARK) == 3


def test_stubs_are_not_attempted(capsys):
    nb.check_relu_init(stub)
    nb.check_output_std(stub)
    nb.check_set_weights(stub)
    assert capsys.readouterr().out.count(NOT_ATTEMPTED_MARK) == 3


def test_checks_leave_the_global_rng_alone():
    state = torch.random.get_rng_state()
    nb.check_relu_init(RIGHT_RELU_INITS[0])
    nb.check_output_std(RIGHT_OUTPUT_STDS[0])
    nb.check_set_weights(copy_weights_)
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda w: init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"), "fan_out"),
        (lambda w: uniform_relu_(w, fan=0), r"fan_out = d_out .*not fan_in"),  # shape[0]
        (init.xavier_uniform_, "Xavier/Glorot"),
        (uniform_with_bound(lambda d_in: math.sqrt(3 / d_in)), r"gain √2 .* missing"),
        (lambda w: init.kaiming_uniform_(w, a=math.sqrt(5)), "nn.Linear's default"),
        (uniform_with_bound(lambda d_in: math.sqrt(2 / d_in)), r"std √\(2/fan_in\) as the bound"),
        (lambda w: init.normal_(w, std=math.sqrt(6 / w.shape[1])), "bound k of the uniform"),
        (uniform_with_bound(lambda d_in: math.sqrt(6) / d_in), "scales like 1/fan_in"),
        (lambda w: init.kaiming_normal_(w, nonlinearity="relu"), r"not U\(−k, k\).*normal"),
        (lambda w: w.uniform_(-math.sqrt(6 / w.shape[1]), math.sqrt(6 / w.shape[1])), "no_grad"),
        (lambda w: torch.empty_like(w).uniform_(-0.1, 0.1), "in place"),
        (init.zeros_, r"expected std √\(2/768\)"),
    ],
)
def test_wrong_relu_inits_get_the_hint_naming_the_mistake(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_relu_init(answer)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda d, r: (1 / 3) ** d * 0.5 ** ((d - 1) * r), "variance"),
        (lambda d, r: math.sqrt(3.0**-d), r"halves E\[h²\]"),
        (lambda d, r: math.sqrt(6.0**-d) if r else math.sqrt(3.0**-d), "depth − 1 ReLUs"),
        (lambda d, r: 3 ** (-d / 2) / 2 ** ((d - 1) * r), r"by 1/√2, not by 1/2"),
        (lambda d, r: 1.0, "does not keep the variance"),
        (lambda d, r: 0.5, r"predicted_output_std\(1, False\): expected 0.5774, got 0.5"),
        (lambda d, r: torch.tensor([3.0**-d]).sqrt(), "expected one number, got a tensor"),
        (lambda d, r: "0.1", "expected a number, got str"),
    ],
)
def test_wrong_output_stds_get_the_hint_naming_the_mistake(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_output_std(answer)


def rebind_(layer, W, b):
    layer.weight = nn.Parameter(torch.as_tensor(W))
    if b is not None:
        layer.bias = nn.Parameter(torch.as_tensor(b))


def without_no_grad_(layer, W, b):
    layer.weight.copy_(torch.as_tensor(W))


def no_bias_guard_(layer, W, b):
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(W))
        layer.bias.copy_(torch.as_tensor(b))


def transposed_(layer, W, b):
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(W).T)
        if b is not None:
            layer.bias.copy_(torch.as_tensor(b))


def data_alias_(layer, W, b):
    layer.weight.data = torch.as_tensor(W)
    if b is not None:
        layer.bias.data = torch.as_tensor(b)


def data_copy_(layer, W, b):  # no aliasing, but the dtype comes along
    layer.weight.data = torch.as_tensor(W).clone()
    if b is not None:
        layer.bias.data = torch.as_tensor(b).clone()


def numpy_copy_(layer, W, b):
    with torch.no_grad():
        layer.weight.copy_(W)  # a NumPy W is not a tensor
        if b is not None:
            layer.bias.copy_(torch.as_tensor(b))


def plain_tensor_(layer, W, b):
    layer.weight = torch.as_tensor(W)


def bias_forgotten_(layer, W, b):
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(W))


def frozen_(layer, W, b):
    copy_weights_(layer, W, b)
    layer.requires_grad_(False)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (rebind_, "optimizer built before still holds the old Parameter"),
        (
            definitions_from_notebook(NOTEBOOK, "set_weights_broken")["set_weights_broken"],
            "old Parameter",
        ),
        (without_no_grad_, r"leaf Variable.*\n.*torch.no_grad"),
        (no_bias_guard_, r"'NoneType' object has no attribute.*\n.*bias=False"),
        (transposed_, r"must match the size.*\n.*no transpose"),
        (data_alias_, "shares memory with W"),
        (data_copy_, "converts W to the layer's dtype"),
        (numpy_copy_, r"must be Tensor.*\n.*torch.as_tensor"),
        (plain_tensor_, r"cannot assign.*\n.*existing Parameter"),
        (bias_forgotten_, "layer.bias does not hold b"),
        (frozen_, "no longer requires grad"),
    ],
)
def test_wrong_set_weights_get_the_hint_naming_the_mistake(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_set_weights(answer)
