"""Notebook 07 self-checks: right answers pass, stubs are "not attempted", wrong ones get a hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.func import grad, vmap

from utils.checks import NOT_ATTEMPTED_MARK, PASS_MARK
from utils.checks.functional import (
    check_linear_flops,
    check_linear_forward,
    check_per_sample_grads,
)


def stub(*_args):
    raise NotImplementedError("fill in")


def forward_right(x, weight, bias=None):
    y = x @ weight.T
    return y if bias is None else y + bias


def per_sample_right(weight, X, Y):
    def loss(w, x, y):
        return ((F.linear(x, w) - y) ** 2).sum()

    return vmap(grad(loss), in_dims=(None, 0, 0))(weight, X, Y)


def per_sample_by_formula(weight, X, Y):
    residual = X @ weight.T - Y  # (N, out)
    return 2 * residual[:, :, None] * X[:, None, :]  # 2 (W xᵢ − yᵢ) xᵢᵀ


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (check_linear_forward, forward_right),
        (check_linear_flops, lambda batch, d_in, d_out: 2 * batch * d_in * d_out),
        (check_per_sample_grads, per_sample_right),
        (check_per_sample_grads, per_sample_by_formula),
    ],
)
def test_right_answers_pass_and_stubs_are_not_attempted(check, answer, capsys):
    check(answer)
    assert capsys.readouterr().out.startswith(PASS_MARK)
    check(stub)
    assert NOT_ATTEMPTED_MARK in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (
            lambda x, weight, bias=None: x @ weight.T + (1.0 if bias is None else bias),
            "linear_forward with bias=None: the values are off",
        ),
        (lambda x, weight, bias=None: (x @ weight.T + bias).sum(), "expected shape"),
        (lambda x, weight, bias=None: (x @ weight.T + bias).tolist(), "expected a torch.Tensor"),
    ],
)
def test_linear_forward_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        check_linear_forward(answer)


def test_linear_forward_that_ignores_leading_dims_fails():
    def only_2d(x, weight, bias=None):
        y = torch.mm(x.reshape(-1, x.shape[-1]), weight.T)
        return y if bias is None else y + bias

    with pytest.raises(AssertionError, match="leading dims"):
        check_linear_forward(only_2d)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda batch, d_in, d_out: batch * d_in * d_out, "counts multiply-adds"),
        (lambda batch, d_in, d_out: 2 * batch * d_in * d_out + batch * d_out, "expected 2, got 3"),
        (lambda batch, d_in, d_out: "many", "expected a number"),
    ],
)
def test_linear_flops_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        check_linear_flops(answer)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda weight, X, Y: per_sample_right(weight, X, Y).sum(0), "whole batch's gradient"),
        (lambda weight, X, Y: per_sample_right(weight, X, Y) / 2, "the values are off"),
    ],
)
def test_per_sample_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        check_per_sample_grads(answer)
