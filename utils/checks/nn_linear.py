"""Self-checks for notebook 02 (nn.Linear and its shapes)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import torch
from torch import nn

from utils.check import NOT_ATTEMPTED, attempt, expect, passed

#: The shape quiz: key → (in_features, out_features, input shape). Answer a tuple or "error".
SHAPE_QUIZ: dict[str, tuple[int, int, tuple[int, ...]]] = {
    "a": (10, 2, (3, 10)),
    "b": (10, 2, (10,)),
    "c": (8, 4, (2, 5, 8)),
    "d": (784, 10, (16, 1, 28, 28)),
    "e": (28, 10, (16, 1, 28, 28)),
    "f": (6, 3, (0, 6)),
    "g": (6, 3, (6, 4)),
}


def true_output_shape(in_features: int, out_features: int, shape: tuple[int, ...]) -> object:
    """What ``nn.Linear(in_features, out_features)(torch.zeros(shape))`` gives: a shape or "error".

    >>> true_output_shape(10, 2, (3, 10)), true_output_shape(10, 2, (3, 7))
    ((3, 2), 'error')
    """
    layer = nn.utils.skip_init(nn.Linear, in_features, out_features)  # no random draw
    with torch.no_grad():
        try:
            return tuple(layer(torch.zeros(shape)).shape)
        except RuntimeError:
            return "error"


def check_predicted_shapes(predicted: object) -> None:
    """Check a dict of predicted output shapes (or ``"error"``) for every :data:`SHAPE_QUIZ` key.

    >>> check_predicted_shapes({k: true_output_shape(*case) for k, case in SHAPE_QUIZ.items()})
    ✓ all 7 predictions right: only the last dimension has to match in_features
    """
    answer = attempt("predicted", predicted)
    if answer is NOT_ATTEMPTED:
        return
    expect(
        isinstance(answer, dict),
        f"predicted must be a dict like {{'a': (3, 2), ...}}; got {type(answer).__name__}",
    )
    missing = sorted(set(SHAPE_QUIZ) - set(answer))
    expect(not missing, f"predicted is missing the keys {missing}")
    for key, (n_in, n_out, shape) in SHAPE_QUIZ.items():
        truth = true_output_shape(n_in, n_out, shape)
        got = answer[key]
        got = tuple(got) if isinstance(got, list | torch.Size) else got
        if got == truth:
            continue
        if truth == "error":
            hint = f"the last dim is {shape[-1]}, but in_features is {n_in}: the layer raises"
        else:
            hint = (
                f"the last dim {shape[-1]} matches in_features = {n_in}, so every leading dim "
                f"{shape[:-1]} is kept and the last becomes {n_out}"
            )
        raise AssertionError(
            f"({key}) nn.Linear({n_in}, {n_out}) on {shape}: expected {truth}, got {got!r}; {hint}"
        )
    passed(
        f"all {len(SHAPE_QUIZ)} predictions right: only the last dimension has to match in_features"
    )


#: Stacks the parameter-count check tries: (sizes, bias).
COUNT_CASES = (([784, 128, 64, 10], True), ([10, 2], True), ([10, 2], False), ([3, 5, 5, 1], False))


def check_count_linear_parameters(count: Callable[..., int]) -> None:
    """Check ``count(sizes, bias)`` = parameters of ``Linear(sizes[0], sizes[1]), Linear(...)...``.

    >>> def count(sizes, bias=True):
    ...     return sum(i * o + (o if bias else 0) for i, o in pairwise(sizes))
    >>> check_count_linear_parameters(count)
    ✓ count matches sum(p.numel() for p in model.parameters()) on 4 stacks
    """
    for sizes, bias in COUNT_CASES:
        got = attempt("count_linear_parameters", count, list(sizes), bias)
        if got is NOT_ATTEMPTED:
            return
        model = nn.Sequential(
            *(
                nn.utils.skip_init(nn.Linear, n_in, n_out, bias=bias)
                for n_in, n_out in pairwise(sizes)
            )
        )
        truth = sum(p.numel() for p in model.parameters())
        expect(
            isinstance(got, int) and not isinstance(got, bool),
            f"return an int; got {type(got).__name__}",
        )
        weights_only = sum(i * o for i, o in pairwise(sizes))
        if bias and got == weights_only:
            raise AssertionError(
                f"sizes={sizes}: you counted only the weights ({got}); each layer adds "
                "out_features biases"
            )
        if not bias and got == weights_only + sum(sizes[1:]):
            raise AssertionError(
                f"sizes={sizes}, bias=False: expected {truth}, got {got}; you counted the "
                "biases, but with bias=False the layers have none"
            )
        expect(
            got == truth,
            f"sizes={sizes}, bias={bias}: expected {truth}, got {got}. Each layer has "
            "in·out weights plus out biases (when bias=True).",
        )
    passed(f"count matches sum(p.numel() for p in model.parameters()) on {len(COUNT_CASES)} stacks")
