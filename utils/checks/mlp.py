"""Self-checks for notebook 05 (from one layer to an MLP). Each prints ✓, a note, or a hint."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from utils.check import NOT_ATTEMPTED, attempt, expect, expect_tensor, passed

#: Layer sizes the parameter-count check tries, the article's 10 → 50 → 2 MLP first.
SIZES = ([10, 50, 2], [2, 8, 8, 1], [784, 256, 128, 10], [3, 1])


def _reference_count(sizes: Sequence[int]) -> int:
    layers = [nn.Linear(a, b) for a, b in itertools.pairwise(sizes)]
    return sum(p.numel() for layer in layers for p in layer.parameters())


def check_parameter_count(count_parameters: Callable[[Sequence[int]], int]) -> None:
    """Check ``count_parameters(sizes)`` counts the weights and biases of a Linear stack.

    >>> check_parameter_count(lambda s: sum(a * b + b for a, b in zip(s[:-1], s[1:])))
    ✓ count_parameters is right for all 4 stacks, e.g. 10 → 50 → 2 has 652 parameters
    """
    first = attempt("count_parameters", count_parameters, list(SIZES[0]))
    if first is NOT_ATTEMPTED:
        return
    for sizes in SIZES:
        got = count_parameters(list(sizes))
        expected = _reference_count(sizes)
        no_bias = sum(a * b for a, b in itertools.pairwise(sizes))
        if got == no_bias:
            raise AssertionError(
                f"for sizes {list(sizes)} you counted only the weights ({got}); each "
                "Linear(d_in, d_out) also owns d_out biases."
            )
        expect(
            got == expected,
            f"for sizes {list(sizes)} expected {expected} parameters, got {got}. Layer i maps "
            "sizes[i] → sizes[i + 1]: sizes[i]·sizes[i + 1] weights + sizes[i + 1] biases.",
        )
    passed("count_parameters is right for all 4 stacks, e.g. 10 → 50 → 2 has 652 parameters")


def check_collapse(collapse: Callable[[nn.Linear, nn.Linear], nn.Linear]) -> None:
    """Check ``collapse(layer1, layer2)`` returns one ``nn.Linear`` equal to ``layer2 ∘ layer1``.

    >>> def collapse(layer1, layer2):
    ...     merged = nn.Linear(layer1.in_features, layer2.out_features)
    ...     with torch.no_grad():
    ...         merged.weight.copy_(layer2.weight @ layer1.weight)
    ...         merged.bias.copy_(layer2.weight @ layer1.bias + layer2.bias)
    ...     return merged
    >>> check_collapse(collapse)
    ✓ collapse builds one Linear(3, 2) with W = W2 W1, b = W2 b1 + b2: same outputs as the pair
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(15)
        layer1, layer2 = nn.Linear(3, 5), nn.Linear(5, 2)
        X = torch.randn(7, 3)
    try:
        merged = attempt("collapse", collapse, layer1, layer2)
    except RuntimeError as exc:
        raise AssertionError(
            f"collapse failed: {exc}. Check the shapes: W2 is (2, 5) and W1 is (5, 3), so "
            "W = W2 @ W1 is (2, 3) like the merged layer's weight, and b = W2 @ b1 + b2 is (2,)."
        ) from exc
    if merged is NOT_ATTEMPTED:
        return
    expect(
        isinstance(merged, nn.Linear),
        f"return an nn.Linear, got {type(merged).__name__}",
    )
    expect(
        (merged.in_features, merged.out_features) == (3, 2),
        f"expected Linear(3, 2) (layer1's inputs, layer2's outputs), got "
        f"Linear({merged.in_features}, {merged.out_features})",
    )
    with torch.no_grad():
        expected, got = layer2(layer1(X)), merged(X)
        right_weight = torch.allclose(merged.weight, layer2.weight @ layer1.weight)
        bias_is_b2 = merged.bias is not None and torch.allclose(merged.bias, layer2.bias)
    if right_weight and bias_is_b2:
        raise AssertionError(
            "the weight is right but b = b2 forgets layer1's bias: it passes through layer2 "
            "too, so b = W2 b1 + b2."
        )
    expect_tensor(
        got,
        expected,
        what="merged(X)",
        hint="Expand W2 (W1 x + b1) + b2: the first layer acts first, so W = W2 W1.",
    )
    passed(
        "collapse builds one Linear(3, 2) with W = W2 W1, b = W2 b1 + b2: same outputs as the pair"
    )


def check_dropout(
    dropout_forward: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor],
) -> None:
    """Check ``dropout_forward(x, keep, p)`` is inverted dropout: ``x · keep / (1 − p)``.

    ``keep`` is a boolean mask (True = the unit survives). Given the mask ``nn.Dropout`` drew,
    a right answer reproduces ``nn.Dropout`` exactly.

    >>> check_dropout(lambda x, keep, p: x * keep / (1 - p))
    ✓ dropout_forward reproduces nn.Dropout(p=0.25) in training mode, given its mask
    """
    p = 0.25
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(16)
        x = torch.randn(6, 8)
        expected = F.dropout(x, p=p, training=True)
    keep = expected != 0
    got = attempt("dropout_forward", dropout_forward, x, keep, p)
    if got is NOT_ATTEMPTED:
        return
    expect(isinstance(got, torch.Tensor), f"expected a tensor, got {type(got).__name__}")
    if got.shape == x.shape and torch.allclose(got, x * keep):
        raise AssertionError(
            "you zeroed the dropped units but did not rescale the survivors: divide by "
            "1 − p so that the expected value of each unit stays x."
        )
    if got.shape == x.shape and torch.allclose(got, x * keep * (1 - p)):
        raise AssertionError("multiply by 1 / (1 − p), not by (1 − p): survivors are scaled up.")
    expect_tensor(
        got,
        expected,
        what="dropout_forward(x, keep, p)",
        hint="Keep x where keep is True, zero elsewhere, and divide everything by (1 − p).",
    )
    passed(f"dropout_forward reproduces nn.Dropout(p={p}) in training mode, given its mask")
