"""Notebook 05 self-checks: right answers pass, stubs are 'not attempted', wrong ones get hints."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from utils.checks import NOT_ATTEMPTED_MARK, PASS_MARK
from utils.checks.mlp import check_collapse, check_dropout, check_parameter_count


def stub(*_args):
    raise NotImplementedError("fill in")


def merge(layer1, layer2, *, bias_fn=None):
    merged = nn.Linear(layer1.in_features, layer2.out_features)
    with torch.no_grad():
        merged.weight.copy_(layer2.weight @ layer1.weight)
        bias = layer2.weight @ layer1.bias + layer2.bias
        merged.bias.copy_(bias if bias_fn is None else bias_fn(layer1, layer2))
    return merged


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (check_parameter_count, lambda s: sum(a * b + b for a, b in itertools.pairwise(s))),
        (
            check_parameter_count,
            lambda s: sum(
                p.numel()
                for a, b in itertools.pairwise(s)
                for p in nn.Linear(a, b, device="meta").parameters()
            ),
        ),
        (check_collapse, merge),
        (check_dropout, lambda x, keep, p: x * keep / (1 - p)),
        (check_dropout, lambda x, keep, p: torch.where(keep, x / (1 - p), torch.zeros_like(x))),
    ],
)
def test_right_answers_pass(check, answer, capsys):
    check(answer)
    assert capsys.readouterr().out.startswith(PASS_MARK)


@pytest.mark.parametrize("check", [check_parameter_count, check_collapse, check_dropout])
def test_stubs_are_not_attempted(check, capsys):
    check(stub)
    assert NOT_ATTEMPTED_MARK in capsys.readouterr().out


@pytest.mark.parametrize(
    ("check", "answer", "hint"),
    [
        (
            check_parameter_count,
            lambda s: sum(a * b for a, b in itertools.pairwise(s)),
            "only the weights",
        ),
        (check_parameter_count, lambda s: sum(s), "expected 652 parameters"),
        (check_collapse, lambda l1, l2: l2, r"expected Linear\(3, 2\)"),
        (check_collapse, lambda l1, l2: "layer", "return an nn.Linear"),
        (check_collapse, lambda l1, l2: merge(l1, l2, bias_fn=lambda a, b: b.bias), "W2 b1 \\+ b2"),
        (
            check_collapse,
            lambda l1, l2: merge(l1, l2, bias_fn=lambda a, b: a.bias.sum() + b.bias),
            "values are off",
        ),
        (check_collapse, lambda l1, l2: l1.weight @ l2.weight, "W2 @ W1"),  # shape error
        (check_dropout, lambda x, keep, p: x * keep, "did not rescale"),
        (check_dropout, lambda x, keep, p: x * keep * (1 - p), r"not by \(1 − p\)"),
        (check_dropout, lambda x, keep, p: x / (1 - p), "values are off"),
    ],
)
def test_wrong_answers_get_a_hint(check, answer, hint):
    with pytest.raises(AssertionError, match=hint):
        check(answer)
