"""Self-checks for notebook 03 (initialisation)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from utils.check import NOT_ATTEMPTED, attempt, expect, passed

FAN_INS = (1, 3, 10, 256, 784)


def check_default_bound(default_bound: Callable[[int], float]) -> None:
    """Check ``default_bound(fan_in)`` = the half-width of ``nn.Linear``'s default init.

    >>> check_default_bound(lambda fan_in: 1 / math.sqrt(fan_in))
    ✓ default_bound(fan_in) = 1/√fan_in, and real nn.Linear weights respect it
    """
    for fan_in in FAN_INS:
        got = attempt("default_bound", default_bound, fan_in)
        if got is NOT_ATTEMPTED:
            return
        expect(isinstance(got, int | float), f"return a number; got {type(got).__name__}")
        expected = 1 / math.sqrt(fan_in)
        if math.isclose(got, math.sqrt(6 / fan_in)) or math.isclose(got, math.sqrt(3 / fan_in)):
            raise AssertionError(
                f"default_bound({fan_in}) = {got:.4g} is a Kaiming bound for a = 0 or gain 1; "
                "PyTorch passes a = √5, so gain² = 2 / (1 + 5) = 1/3."
            )
        expect(
            math.isclose(got, expected, rel_tol=1e-6),
            f"default_bound({fan_in}): expected {expected:.6g}, got {got:.6g}. "
            "bound = gain · √(3 / fan_in) with gain = √(2 / (1 + a²)) and a = √5.",
        )
    with torch.random.fork_rng(devices=[]):  # leave the learner's random stream alone
        torch.manual_seed(0)
        layer = nn.Linear(256, 64)
    expect(
        layer.weight.detach().abs().max().item() <= default_bound(256),
        "a real nn.Linear(256, 64) has weights beyond your bound",
    )
    passed("default_bound(fan_in) = 1/√fan_in, and real nn.Linear weights respect it")


def relu_stack_std_ratio(init_weight: Callable[[torch.Tensor], object], depth: int = 20) -> float:
    """std of the last ReLU layer's output over the first's, weights set by ``init_weight``.

    >>> ratio = relu_stack_std_ratio(lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"))
    >>> 0.5 < ratio < 2
    True
    """
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        h = torch.randn(256, 128)
        stds = []
        for _ in range(depth):
            weight = torch.empty(128, 128)
            init_weight(weight)
            h = torch.relu(h @ weight.T)
            stds.append(float(h.std()))
    return stds[-1] / stds[0] if stds[0] > 0 else 0.0


def check_relu_init(init_weight: Callable[[torch.Tensor], object]) -> None:
    """Check ``init_weight(weight)`` keeps a 20-layer ReLU stack's std within a factor 2.

    >>> check_relu_init(lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"))
    ✓ through 20 ReLU layers the std changes by ×0.711: the signal neither vanishes nor explodes
    """
    with torch.random.fork_rng(devices=[]):
        probe = attempt("relu_init_", init_weight, torch.empty(4, 4))
    if probe is NOT_ATTEMPTED:
        return
    ratio = relu_stack_std_ratio(init_weight)
    if ratio < 0.5:
        raise AssertionError(
            f"the signal vanishes: std shrinks ×{ratio:.3g} over 20 ReLU layers. ReLU zeroes "
            "half of each input, so the weights need variance 2 / fan_in (nonlinearity='relu')."
        )
    expect(
        ratio <= 2,
        f"the signal explodes: std grows ×{ratio:.3g} over 20 ReLU layers. "
        "Aim for weight variance 2 / fan_in, not more.",
    )
    passed(
        f"through 20 ReLU layers the std changes by ×{ratio:.3g}: "
        "the signal neither vanishes nor explodes"
    )
