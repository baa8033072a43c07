"""Notebook 04 self-checks: right answers pass, stubs are 'not attempted', wrong ones get hints."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from utils.checks import NOT_ATTEMPTED_MARK, PASS_MARK
from utils.checks.forward_backward import check_bias_grad, check_training_loop, check_weight_grad


def stub(*_args, **_kwargs):
    raise NotImplementedError("fill in")


def flat_weight_grad(X, G):
    return G.reshape(-1, G.shape[-1]).T @ X.reshape(-1, X.shape[-1])


def train_loop(*, zero_grad: bool, log_before_step: bool = True, zero_before_step: bool = False):
    def train(model, X, Y, *, lr, steps):
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        losses = []
        for _ in range(steps):
            if zero_grad:
                opt.zero_grad()
            loss = F.mse_loss(model(X), Y)
            loss.backward()
            if zero_before_step:
                opt.zero_grad()
            opt.step()
            losses.append((loss if log_before_step else F.mse_loss(model(X), Y)).item())
        return losses

    return train


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (check_weight_grad, flat_weight_grad),
        (check_weight_grad, lambda X, G: torch.einsum("...i,...j->ij", G, X)),
        (check_bias_grad, lambda G: G.sum(dim=tuple(range(G.ndim - 1)))),
        (check_training_loop, train_loop(zero_grad=True)),
    ],
)
def test_right_answers_pass(check, answer, capsys):
    check(answer)
    assert capsys.readouterr().out.startswith(PASS_MARK)


@pytest.mark.parametrize("check", [check_weight_grad, check_bias_grad, check_training_loop])
def test_stubs_are_not_attempted(check, capsys):
    check(stub)
    assert NOT_ATTEMPTED_MARK in capsys.readouterr().out


@pytest.mark.parametrize(
    ("check", "answer", "hint"),
    [
        (check_weight_grad, lambda X, G: X.T @ G, r"Gᵀ X, not Xᵀ G"),
        (check_weight_grad, lambda X, G: torch.mm(G.transpose(0, -1), X), "flatten them first"),
        (check_weight_grad, lambda X, G: G.mT @ X, r"got shape \(2, 4, 3\)\. Sum over every"),
        (check_weight_grad, lambda X, G: 2 * flat_weight_grad(X, G), "values are off"),
        (check_bias_grad, lambda G: G.sum(0), "summed over dim 0 only"),
        (check_bias_grad, lambda G: G.mean(dim=(0, 1)), "sum them"),
        (check_training_loop, train_loop(zero_grad=False), r"call opt.zero_grad\(\)"),
        (
            check_training_loop,
            train_loop(zero_grad=False, zero_before_step=True),
            "not between backward and step",
        ),
        (
            check_training_loop,
            train_loop(zero_grad=True, log_before_step=False),
            "one step ahead",
        ),
        (check_training_loop, lambda model, X, Y, *, lr, steps: [1.0] * steps, "differ from"),
        (check_training_loop, lambda model, X, Y, *, lr, steps: [1.0], "expected 20 values"),
    ],
)
def test_wrong_answers_get_a_hint(check, answer, hint):
    with pytest.raises(AssertionError, match=hint):
        check(answer)
