"""Self-checks of notebook 03: pass right answers, nudge on stubs, reject wrong ones."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from utils.checks import NOT_ATTEMPTED_MARK, PASS_MARK
from utils.checks.initialization import (
    check_default_bound,
    check_relu_init,
    relu_stack_std_ratio,
)


def stub(*_args):
    raise NotImplementedError


def test_right_answers_pass(capsys):
    check_default_bound(lambda fan_in: 1 / math.sqrt(fan_in))
    check_relu_init(lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"))
    check_relu_init(lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"))
    assert capsys.readouterr().out.count(PASS_MARK) == 3


def test_stubs_are_not_attempted(capsys):
    check_default_bound(stub)
    check_relu_init(stub)
    assert capsys.readouterr().out.count(NOT_ATTEMPTED_MARK) == 2


def test_checks_leave_the_global_rng_alone():
    state = torch.random.get_rng_state()
    check_default_bound(lambda fan_in: 1 / math.sqrt(fan_in))
    check_relu_init(lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"))
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda fan_in: math.sqrt(6 / fan_in), "a = √5"),
        (lambda fan_in: 1 / fan_in, "expected 0.57735, got 0.333333"),
        (lambda fan_in: "0.1", "return a number"),
    ],
)
def test_wrong_bounds_get_a_hint(answer, message):
    with pytest.raises(AssertionError, match=message):
        check_default_bound(answer)


@pytest.mark.parametrize(
    ("init_weight", "message"),
    [
        (lambda w: nn.init.kaiming_uniform_(w, a=math.sqrt(5)), "vanishes"),  # PyTorch's default
        (lambda w: nn.init.xavier_normal_(w), "vanishes"),
        (lambda w: nn.init.normal_(w), "explodes"),
        (lambda w: nn.init.zeros_(w), "vanishes"),
    ],
)
def test_unstable_relu_inits_are_rejected(init_weight, message):
    with pytest.raises(AssertionError, match=message):
        check_relu_init(init_weight)


def test_ratio_reflects_the_gain():
    ratio = relu_stack_std_ratio(lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"))
    assert 0.5 < ratio < 2
