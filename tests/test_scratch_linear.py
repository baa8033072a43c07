"""ScratchLinear / LinearFunction against nn.Linear: same init, same outputs, same gradients."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from utils.scratch_linear import LinearFunction, ScratchLinear


def twin_layers(
    in_features: int, out_features: int, *, bias: bool = True, dtype=torch.float32, seed: int = 0
) -> tuple[ScratchLinear, nn.Linear]:
    torch.manual_seed(seed)
    ours = ScratchLinear(in_features, out_features, bias=bias, dtype=dtype)
    torch.manual_seed(seed)
    theirs = nn.Linear(in_features, out_features, bias=bias, dtype=dtype)
    return ours, theirs


def forward_backward(layer: nn.Module, X: torch.Tensor, G: torch.Tensor) -> dict:
    X = X.detach().clone().requires_grad_()
    Y = layer(X)
    Y.backward(G)
    grads = {"input": X.grad, "weight": layer.weight.grad}
    if layer.bias is not None:
        grads["bias"] = layer.bias.grad
    return {"output": Y.detach(), **grads}


@settings(max_examples=60, deadline=None)
@given(
    leading=st.lists(st.integers(min_value=0, max_value=4), min_size=0, max_size=3),
    in_features=st.integers(min_value=1, max_value=6),
    out_features=st.integers(min_value=1, max_value=6),
    bias=st.booleans(),
    double=st.booleans(),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_matches_nn_linear_outputs_and_all_gradients(
    leading, in_features, out_features, bias, double, seed
):
    dtype = torch.float64 if double else torch.float32
    ours, theirs = twin_layers(in_features, out_features, bias=bias, dtype=dtype, seed=seed)
    assert torch.equal(ours.weight, theirs.weight)  # same seed, same init, bit for bit
    if bias:
        assert torch.equal(ours.bias, theirs.bias)
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(*leading, in_features, generator=generator, dtype=dtype)
    G = torch.randn(*leading, out_features, generator=generator, dtype=dtype)
    got, expected = forward_backward(ours, X, G), forward_backward(theirs, X, G)
    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name].dtype == dtype, name
        torch.testing.assert_close(got[name], expected[name], msg=lambda m, n=name: f"{n}: {m}")


def test_empty_batch_gives_empty_output_and_zero_parameter_gradients():
    ours, theirs = twin_layers(3, 2)
    X = torch.empty(0, 3)
    got, expected = (
        forward_backward(ours, X, torch.empty(0, 2)),
        forward_backward(theirs, X, torch.empty(0, 2)),
    )
    assert got["output"].shape == (0, 2)
    assert got["input"].shape == (0, 3)
    torch.testing.assert_close(got["weight"], torch.zeros(2, 3))
    torch.testing.assert_close(got["bias"], torch.zeros(2))
    for name in expected:
        torch.testing.assert_close(got[name], expected[name])


def test_bias_false_registers_no_bias_and_matches():
    ours, theirs = twin_layers(4, 3, bias=False)
    assert ours.bias is None
    assert [name for name, _ in ours.named_parameters()] == ["weight"]
    X = torch.randn(5, 4)
    torch.testing.assert_close(ours(X), theirs(X))
    torch.testing.assert_close(ours(X), X @ ours.weight.T)


def test_float64_end_to_end():
    ours, theirs = twin_layers(3, 2, dtype=torch.float64)
    assert ours.weight.dtype == ours.bias.dtype == torch.float64
    X = torch.randn(2, 7, 3, dtype=torch.float64)
    assert ours(X).dtype == torch.float64
    torch.testing.assert_close(ours(X), theirs(X), rtol=0, atol=1e-12)


def test_repr_and_state_dict_match_nn_linear():
    ours, theirs = twin_layers(10, 5, bias=False)
    assert repr(ours) == repr(theirs).replace("Linear", "ScratchLinear", 1)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    ours_with_bias, theirs_with_bias = twin_layers(3, 2)
    ours_with_bias.load_state_dict(theirs_with_bias.state_dict())  # interchangeable checkpoints


def test_reset_parameters_follows_nn_linear_and_the_bound():
    ours, theirs = twin_layers(16, 8, seed=3)
    torch.manual_seed(5)
    ours.reset_parameters()
    torch.manual_seed(5)
    theirs.reset_parameters()
    assert torch.equal(ours.weight, theirs.weight) and torch.equal(ours.bias, theirs.bias)
    bound = 1 / 16**0.5
    assert ours.weight.abs().max() <= bound and ours.bias.abs().max() <= bound


def test_backward_skips_gradients_nobody_needs():
    ours, _ = twin_layers(3, 2)
    ours.weight.requires_grad_(False)
    X = torch.randn(4, 3)  # no grad wanted for the input either
    ours(X).sum().backward()
    assert ours.weight.grad is None
    torch.testing.assert_close(ours.bias.grad, torch.full((2,), 4.0))


@pytest.mark.parametrize("leading", [(), (5,), (2, 3), (2, 0, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_in_float64(leading, bias):
    generator = torch.Generator().manual_seed(7)

    def leaf(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64).requires_grad_()

    X, W = leaf(*leading, 4), leaf(3, 4)
    b = leaf(3) if bias else None
    assert torch.autograd.gradcheck(LinearFunction.apply, (X, W, b))
    assert torch.autograd.gradgradcheck(LinearFunction.apply, (X, W, b))


def test_hand_written_formulas_are_what_backward_returns():
    X = torch.randn(2, 5, 3, requires_grad=True)
    W = torch.randn(4, 3, requires_grad=True)
    b = torch.randn(4, requires_grad=True)
    G = torch.randn(2, 5, 4)
    LinearFunction.apply(X, W, b).backward(G)
    torch.testing.assert_close(X.grad, G @ W)
    torch.testing.assert_close(W.grad, G.reshape(-1, 4).T @ X.detach().reshape(-1, 3))
    torch.testing.assert_close(b.grad, G.sum(dim=(0, 1)))


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: ScratchLinear(3, 2)(torch.randn(4, 5)),
            ValueError,
            r"\(\*, 3\); got shape \(4, 5\)",
        ),
        (lambda: ScratchLinear(3, 2)(torch.tensor(1.0)), ValueError, r"got shape \(\)"),
        (
            lambda: ScratchLinear(3, 2)([1.0, 2.0, 3.0]),
            TypeError,
            "must be a torch.Tensor; got list",
        ),
        (
            lambda: ScratchLinear(-1, 2),
            ValueError,
            "in_features must be a non-negative int; got -1",
        ),
        (lambda: ScratchLinear(3, 2.5), ValueError, "out_features must be a non-negative int"),
    ],
)
def test_bad_input_is_named(make, error, message):
    with pytest.raises(error, match=message):
        make()
