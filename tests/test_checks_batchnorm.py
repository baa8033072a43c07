"""Notebook 06 self-checks: right answers pass, stubs are "not attempted", wrong ones get a hint."""

from __future__ import annotations

import pytest
import torch

from utils.checks import NOT_ATTEMPTED_MARK, PASS_MARK
from utils.checks.batchnorm import check_batchnorm_forward, check_fold, check_running_update


def stub(*_args):
    raise NotImplementedError("fill in")


def forward_right(x, gamma, beta, eps):
    return gamma * (x - x.mean(0)) / torch.sqrt(x.var(0, correction=0) + eps) + beta


def running_right(running_mean, running_var, x, momentum):
    return (
        (1 - momentum) * running_mean + momentum * x.mean(0),
        (1 - momentum) * running_var + momentum * x.var(0),
    )


def fold_right(W, b, gamma, beta, mean, var, eps):
    scale = gamma / torch.sqrt(var + eps)
    return scale[:, None] * W, scale * (b - mean) + beta


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (check_batchnorm_forward, forward_right),
        (check_running_update, running_right),
        (check_fold, fold_right),
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
            lambda x, g, b, eps: g * (x - x.mean(0)) / torch.sqrt(x.var(0) + eps) + b,
            "unbiased variance",
        ),
        (
            lambda x, g, b, eps: (
                g
                * (x - x.mean(1, keepdim=True))
                / torch.sqrt(x.var(1, keepdim=True, correction=0) + eps)
                + b
            ),
            "that is LayerNorm",
        ),
        (lambda x, g, b, eps: (x - x.mean(0)) / torch.sqrt(x.var(0, correction=0) + eps), "off"),
        (lambda x, g, b, eps: x[:2], r"expected shape \(5, 4\)"),
        (lambda x, g, b, eps: x.tolist(), "expected a tensor"),
    ],
)
def test_forward_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        check_batchnorm_forward(answer)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (
            lambda rm, rv, x, m: (m * rm + (1 - m) * x.mean(0), m * rv + (1 - m) * x.var(0)),
            "momentum is reversed",
        ),
        (
            lambda rm, rv, x, m: (
                (1 - m) * rm + m * x.mean(0),
                (1 - m) * rv + m * x.var(0, correction=0),
            ),
            "UNBIASED",
        ),
        (lambda rm, rv, x, m: x.mean(0), "return a pair"),
        (lambda rm, rv, x, m: (x.mean(0), x.var(0)), "new running_mean"),
    ],
)
def test_running_update_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        check_running_update(answer)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (
            lambda W, b, g, beta, mean, var, eps: (
                (g / torch.sqrt(var))[:, None] * W,
                g / torch.sqrt(var) * (b - mean) + beta,
            ),
            "eps is missing",
        ),
        (
            lambda W, b, g, beta, mean, var, eps: (
                (g / torch.sqrt(var + eps))[:, None] * W,
                g / torch.sqrt(var + eps) * b + beta,
            ),
            "running mean μ is missing",
        ),
        (lambda W, b, g, beta, mean, var, eps: (W, b), "W_folded"),
        (lambda W, b, g, beta, mean, var, eps: W, "return a pair"),
    ],
)
def test_fold_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        check_fold(answer)
