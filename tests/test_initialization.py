"""utils.initialization matches PyTorch's own init and the formulas it states."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from utils.initialization import (
    ACTIVATIONS,
    SCHEMES,
    deep_stack,
    default_bound,
    expected_weight_std,
    fan_in_fan_out,
    init_linear_,
    kaiming_uniform_bound,
    leaky_relu_gain,
    uniform_variance,
)


def test_default_bound_is_kaiming_with_a_sqrt5():
    for fan_in in (1, 3, 10, 256, 1000):
        assert math.isclose(kaiming_uniform_bound(fan_in, a=math.sqrt(5)), default_bound(fan_in))
    assert math.isclose(leaky_relu_gain(math.sqrt(5)), math.sqrt(1 / 3))
    assert leaky_relu_gain(math.sqrt(5)) == nn.init.calculate_gain("leaky_relu", math.sqrt(5))
    assert uniform_variance(0.3) == pytest.approx(0.03)


def test_default_scheme_equals_reset_parameters_bit_for_bit():
    torch.manual_seed(7)
    reference = nn.Linear(12, 5)
    layer = nn.utils.skip_init(nn.Linear, 12, 5)
    init_linear_(layer, "default", generator=torch.Generator().manual_seed(7))
    assert torch.equal(layer.weight, reference.weight)
    assert torch.equal(layer.bias, reference.bias)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_each_scheme_has_the_stated_std(scheme):
    fan_in, fan_out, gain = 300, 200, 1.5
    layer = nn.utils.skip_init(nn.Linear, fan_in, fan_out)
    init_linear_(layer, scheme, gain=gain, generator=torch.Generator().manual_seed(0))
    weight = layer.weight.detach()
    expected = expected_weight_std(scheme, fan_in, fan_out, gain)
    assert weight.std().item() == pytest.approx(expected, rel=0.02, abs=1e-7)
    if scheme != "default":
        assert torch.count_nonzero(layer.bias) == 0
    if scheme == "constant":
        assert torch.all(weight == gain / fan_in)
    if scheme == "orthogonal":  # rows orthonormal (out ≤ in), times the gain
        torch.testing.assert_close(weight @ weight.T / gain**2, torch.eye(fan_out))


def test_fan_in_fan_out_agrees_with_pytorch():
    weight = torch.empty(7, 3)
    assert fan_in_fan_out(weight) == nn.init._calculate_fan_in_and_fan_out(weight)
    assert fan_in_fan_out(nn.Linear(3, 7)) == (3, 7)


def test_deep_stack_is_seeded_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a = deep_stack(3, 8, "tanh", scheme="xavier_normal", seed=1)
    b = deep_stack(3, 8, "tanh", scheme="xavier_normal", seed=1)
    c = deep_stack(3, 8, "tanh", scheme="xavier_normal", seed=2)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a[0][0].weight, c[0][0].weight)
    assert [type(block[-1]).__name__ for block in a] == ["Tanh"] * 3
    assert all(len(block) == 1 for block in deep_stack(2, 4, "none"))
    assert set(ACTIVATIONS) == {"none", "tanh", "relu"}


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: default_bound(0), ValueError, "fan_in must be at least 1; got 0"),
        (lambda: uniform_variance(-1.0), ValueError, "bound must be ≥ 0"),
        (lambda: fan_in_fan_out(torch.empty(3)), ValueError, r"got shape \(3,\)"),
        (lambda: fan_in_fan_out([1, 2]), TypeError, "got list"),
        (lambda: expected_weight_std("he", 3, 3), ValueError, "scheme must be one of"),
        (lambda: init_linear_(nn.Conv1d(1, 1, 1), "zeros"), TypeError, "got Conv1d"),
        (lambda: init_linear_(nn.Linear(2, 2), "zeros", gain=-1.0), ValueError, "gain must be"),
        (lambda: init_linear_(nn.Linear(2, 2), "zeros", gain="1"), TypeError, "gain must be"),
        (lambda: deep_stack(3, 4, "gelu"), ValueError, "activation must be one of"),
        (lambda: deep_stack(0, 4), ValueError, "depth must be at least 1"),
    ],
)
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()
