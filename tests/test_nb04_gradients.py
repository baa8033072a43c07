"""Notebook 04: its from-scratch layer and its solutions, loaded from the notebook's cells, and
the exercise checks of utils.nb04_gradients against right and typical wrong answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

from scripts.series import definitions_from_notebook
from utils import nb04_gradients as nb
from utils.check import NOT_ATTEMPTED_MARK, PASS_MARK

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks/04_gradients.ipynb"
CELLS = definitions_from_notebook(
    NOTEBOOK,
    "as_rows",
    "MyLinearFunction",
    "MyLinear",
    "bias_grad",
    "total_loss",
    "scaled_linear_grads",
)
MyLinearFunction, MyLinear = CELLS["MyLinearFunction"], CELLS["MyLinear"]


# --- §5: the notebook's MyLinearFunction / MyLinear against nn.Linear ---------------------------


def twin_layers(in_features, out_features, *, bias=True, dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    ours = MyLinear(in_features, out_features, bias=bias, dtype=dtype)
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
    X, G = torch.empty(0, 3), torch.empty(0, 2)
    got, expected = forward_backward(ours, X, G), forward_backward(theirs, X, G)
    assert got["output"].shape == (0, 2) and got["input"].shape == (0, 3)
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


def test_repr_state_dict_and_reset_follow_nn_linear():
    ours, theirs = twin_layers(10, 5, bias=False)
    assert repr(ours) == repr(theirs).replace("Linear", "MyLinear", 1)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    ours, theirs = twin_layers(16, 8, seed=3)
    torch.manual_seed(5)
    ours.reset_parameters()
    torch.manual_seed(5)
    theirs.reset_parameters()
    assert torch.equal(ours.weight, theirs.weight) and torch.equal(ours.bias, theirs.bias)
    assert ours.weight.abs().max() <= 1 / 16**0.5 and ours.bias.abs().max() <= 1 / 16**0.5


def test_backward_skips_gradients_nobody_needs():
    ours, _ = twin_layers(3, 2)
    ours.weight.requires_grad_(False)
    ours(torch.randn(4, 3)).sum().backward()  # no grad wanted for the input either
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
    assert torch.autograd.gradcheck(MyLinearFunction.apply, (X, W, b))
    assert torch.autograd.gradgradcheck(MyLinearFunction.apply, (X, W, b))


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda cls: cls(3, 2)(torch.randn(4, 5)), RuntimeError),  # wrong input size
        (lambda cls: cls(3, 2)(torch.tensor(1.0)), RuntimeError),  # 0-d input
        (lambda cls: cls(3, 2)([1.0, 2.0, 3.0]), TypeError),  # not a tensor
        (lambda cls: cls(-1, 2), RuntimeError),  # negative size
        (lambda cls: cls(3, 2.5), TypeError),  # non-integer size
    ],
)
def test_bad_input_fails_like_nn_linear(make, error):
    with pytest.raises(error):
        make(nn.Linear)
    with pytest.raises(error):
        make(MyLinear)


# --- §6: the notebook's own solutions pass -------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "name"),
    [
        (nb.check_bias_grad, "bias_grad"),
        (nb.check_total_loss, "total_loss"),
        (nb.check_scaled_grads, "scaled_linear_grads"),
    ],
)
def test_notebook_solutions_pass(check, name, capsys):
    check(CELLS[name])
    assert capsys.readouterr().out.startswith(PASS_MARK)


# --- the checks: stubs, right answers in every form, typical wrong answers ------------------------


def stub(*_args, **_kwargs):
    raise NotImplementedError("fill in")


@pytest.mark.parametrize("check", [nb.check_bias_grad, nb.check_total_loss, nb.check_scaled_grads])
def test_stubs_are_not_attempted(check, capsys):
    check(stub)
    assert NOT_ATTEMPTED_MARK in capsys.readouterr().out


def rows(t):
    return t.reshape(-1, t.shape[-1])


def scaled(dX=None, dW=None, ds=None):
    """A scaled_linear_grads answer: the right formulas, except the ones given as lambdas."""
    right = {
        "dX": lambda X, W, s, G: s * G @ W,
        "dW": lambda X, W, s, G: s * rows(G).T @ rows(X),
        "ds": lambda X, W, s, G: (G * (X @ W.T)).sum(),
    }
    parts = [given or right[name] for name, given in zip(right, (dX, dW, ds), strict=True)]
    return lambda X, W, s, G: tuple(part(X, W, s, G) for part in parts)


def train_like_autograd(X, W, s, G):
    leaves = [t.clone().requires_grad_() for t in (X, W, s)]
    (leaves[2] * leaves[0] @ leaves[1].T).backward(G)
    return tuple(t.grad for t in leaves)


RIGHT = [
    (nb.check_bias_grad, lambda G: G.reshape(-1, G.shape[-1]).sum(0)),
    (nb.check_bias_grad, lambda G: torch.einsum("...i->i", G)),
    (nb.check_bias_grad, lambda G: G.sum(dim=tuple(range(G.ndim - 1))) if G.ndim > 1 else G),
    (nb.check_total_loss, lambda model, batches: sum(F.mse_loss(model(X), Y) for X, Y in batches)),
    (
        nb.check_total_loss,
        lambda model, batches: torch.stack([F.mse_loss(model(X), Y) for X, Y in batches]).sum(),
    ),
    (nb.check_scaled_grads, scaled()),
    (nb.check_scaled_grads, scaled(dW=lambda X, W, s, G: s * torch.einsum("...i,...j->ij", G, X))),
    (
        nb.check_scaled_grads,
        scaled(ds=lambda X, W, s, G: float((G * (X @ W.T)).sum())),
    ),  # a Python number
    (
        nb.check_scaled_grads,
        scaled(ds=lambda X, W, s, G: np.float64((G * (X @ W.T)).sum())),
    ),  # a NumPy scalar
]


@pytest.mark.parametrize(("check", "answer"), RIGHT)
def test_right_answers_pass(check, answer, capsys):
    check(answer)
    assert capsys.readouterr().out.startswith(PASS_MARK)


def items_then_tensor(model, batches):
    return torch.tensor([F.mse_loss(model(X), Y).item() for X, Y in batches]).sum()


def new_leaf(model, batches):
    losses = [F.mse_loss(model(X), Y).item() for X, Y in batches]
    return torch.tensor(losses, requires_grad=True).sum()


WRONG = [
    # bias_grad: G of shapes (2, 5, 4), (2, 3, 2, 5) float64, (6, 3), (5,), (0, 4)
    (nb.check_bias_grad, lambda G: G.sum(dim=(0, 1)), "summed only some leading dims"),
    (nb.check_bias_grad, lambda G: G.sum(0), "summed only some leading dims"),
    (nb.check_bias_grad, lambda G: G, "returned G as it is"),
    (nb.check_bias_grad, lambda G: G.sum(-1), r"over the features \(the last dim\) instead"),
    (nb.check_bias_grad, lambda G: G.mean(dim=tuple(range(G.ndim - 1))), "mean over the rows"),
    (nb.check_bias_grad, lambda G: G.sum(dim=tuple(range(G.ndim - 1))), "G is one sample"),
    (
        nb.check_bias_grad,
        lambda G: torch.zeros(G.shape[-1]).add_(rows(G).sum(0)),
        r"keep G's dtype, torch\.float64",
    ),
    (nb.check_bias_grad, lambda G: rows(G).sum(0).tolist(), "expected a tensor"),
    (nb.check_bias_grad, lambda G: 2 * rows(G).sum(0), "values are off"),
    # total_loss
    (nb.check_total_loss, items_then_tensor, "no grad_fn"),
    (nb.check_total_loss, new_leaf, "new leaf, not connected to the model"),
    (
        nb.check_total_loss,
        lambda model, batches: torch.stack([F.mse_loss(model(X), Y) for X, Y in batches]).mean(),
        "mean over the batches",
    ),
    (
        nb.check_total_loss,
        lambda model, batches: F.mse_loss(model(batches[-1][0]), batches[-1][1]),
        "only the last batch",
    ),
    (
        nb.check_total_loss,
        lambda model, batches: sum(F.mse_loss(model(X), Y).item() for X, Y in batches),
        "expected a tensor to call backward",
    ),
    (
        nb.check_total_loss,
        lambda model, batches: torch.stack([F.mse_loss(model(X), Y) for X, Y in batches]),
        "0-d tensor",
    ),
    # scaled_linear_grads: Y = s · X Wᵀ
    (
        nb.check_scaled_grads,
        scaled(dW=lambda X, W, s, G: s * rows(X).T @ rows(G)),
        "dW is transposed",
    ),
    (
        nb.check_scaled_grads,
        scaled(dW=lambda X, W, s, G: rows(G).T @ rows(X)),
        "a factor s is missing",
    ),
    (nb.check_scaled_grads, scaled(dX=lambda X, W, s, G: G @ W), "a factor s is missing"),
    (
        nb.check_scaled_grads,
        scaled(dW=lambda X, W, s, G: s * torch.einsum("...i,...j->...ij", G, X)),
        "summed over every leading dimension",
    ),
    (nb.check_scaled_grads, scaled(dW=lambda X, W, s, G: s * G.transpose(0, -1) @ X), "s·outer"),
    (nb.check_scaled_grads, scaled(ds=lambda X, W, s, G: G.sum()), "not Σ G"),
    (
        nb.check_scaled_grads,
        scaled(ds=lambda X, W, s, G: (G * (s * X @ W.T)).sum()),
        "s once too often",
    ),
    (
        nb.check_scaled_grads,
        scaled(ds=lambda X, W, s, G: (G * (X @ W.T)).sum(-1)),
        "ds is one number",
    ),
    (nb.check_scaled_grads, train_like_autograd, "derive the three gradients by hand"),
    (nb.check_scaled_grads, lambda X, W, s, G: (s * G @ W, s * rows(G).T @ rows(X)), "return"),
]


@pytest.mark.parametrize(("check", "answer", "hint"), WRONG)
def test_wrong_answers_get_a_hint_naming_the_mistake(check, answer, hint):
    with pytest.raises(AssertionError, match=hint):
        check(answer)


def test_each_check_names_at_least_three_mistakes():
    for check in (nb.check_bias_grad, nb.check_total_loss, nb.check_scaled_grads):
        assert len({hint for c, _, hint in WRONG if c is check}) >= 3


def test_checks_leave_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    nb.check_bias_grad(CELLS["bias_grad"])
    nb.check_total_loss(CELLS["total_loss"])
    nb.check_scaled_grads(CELLS["scaled_linear_grads"])
    assert torch.equal(torch.rand(3), expected)
