"""Self-checks for notebook 07 (F.linear and the functional view)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from utils.check import NOT_ATTEMPTED, attempt, expect, expect_tensor, passed


def check_linear_forward(linear_forward: Callable[..., torch.Tensor]) -> None:
    """Check ``linear_forward(x, weight, bias=None)`` equals ``F.linear`` on 2-D and 3-D input.

    >>> def linear_forward(x, weight, bias=None):
    ...     y = x @ weight.T
    ...     return y if bias is None else y + bias
    >>> check_linear_forward(linear_forward)
    ✓ linear_forward equals F.linear for (N, in), (N, L, in) and bias=None
    """
    generator = torch.Generator().manual_seed(12)
    weight = torch.randn(3, 4, generator=generator)
    bias = torch.randn(3, generator=generator)
    cases = {
        "x of shape (5, 4)": (torch.randn(5, 4, generator=generator), bias),
        "x of shape (2, 6, 4) (leading dims)": (torch.randn(2, 6, 4, generator=generator), bias),
        "bias=None": (torch.randn(5, 4, generator=generator), None),
    }
    for what, (x, b) in cases.items():
        y = attempt("linear_forward", linear_forward, x, weight, b)
        if y is NOT_ATTEMPTED:
            return
        expected = F.linear(x, weight, b)
        expect_tensor(
            y,
            expected,
            what=f"linear_forward with {what}",
            hint="x @ weight.T works for any number of leading dims; add bias only if it "
            "is not None.",
        )
    passed("linear_forward equals F.linear for (N, in), (N, L, in) and bias=None")


def check_linear_flops(linear_flops: Callable[[int, int, int], int]) -> None:
    """Check ``linear_flops(batch, in_features, out_features)`` returns ``2 · batch · in · out``.

    >>> check_linear_flops(lambda batch, d_in, d_out: 2 * batch * d_in * d_out)
    ✓ linear_flops counts one multiply and one add per weight per sample: 2 · batch · in · out
    """
    cases = ((1, 1, 1), (32, 784, 256), (7, 3, 5))
    for batch, d_in, d_out in cases:
        got = attempt("linear_flops", linear_flops, batch, d_in, d_out)
        if got is NOT_ATTEMPTED:
            return
        expected = 2 * batch * d_in * d_out
        expect(
            isinstance(got, int | float) and not isinstance(got, bool),
            f"linear_flops({batch}, {d_in}, {d_out}): expected a number, got {type(got).__name__}",
        )
        if got == batch * d_in * d_out and got != expected:
            raise AssertionError(
                f"linear_flops({batch}, {d_in}, {d_out}) = {got}: that counts multiply-adds; "
                "a multiply-add is two floating-point operations."
            )
        expect(
            got == expected,
            f"linear_flops({batch}, {d_in}, {d_out}): expected {expected}, got {got}. Each of the "
            "batch · out outputs is a dot product of length in: in multiplies and in adds.",
        )
    passed(
        "linear_flops counts one multiply and one add per weight per sample: 2 · batch · in · out"
    )


def _loss(weight: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((F.linear(x, weight) - y) ** 2).sum()


def check_per_sample_grads(per_sample_grads: Callable[..., torch.Tensor]) -> None:
    """Check ``per_sample_grads(weight, X, Y)``: one gradient of ``‖W x − y‖²`` per sample.

    >>> from torch.func import grad, vmap
    >>> def per_sample_grads(weight, X, Y):
    ...     def loss(w, x, y):
    ...         return ((F.linear(x, w) - y) ** 2).sum()
    ...     return vmap(grad(loss), in_dims=(None, 0, 0))(weight, X, Y)
    >>> check_per_sample_grads(per_sample_grads)
    ✓ per_sample_grads matches a loop of 6 backward passes, one gradient per sample
    """
    generator = torch.Generator().manual_seed(13)
    weight = torch.randn(2, 3, generator=generator)
    X = torch.randn(6, 3, generator=generator)
    Y = torch.randn(6, 2, generator=generator)
    got = attempt("per_sample_grads", per_sample_grads, weight, X, Y)
    if got is NOT_ATTEMPTED:
        return
    expected = []
    for x, y in zip(X, Y, strict=True):
        w = weight.clone().requires_grad_()
        _loss(w, x, y).backward()
        expected.append(w.grad)
    expected = torch.stack(expected)
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (2, 3):
        raise AssertionError(
            "got one (2, 3) gradient: that is the whole batch's gradient. vmap over the "
            "samples (in_dims=(None, 0, 0)) to get shape (6, 2, 3)."
        )
    expect_tensor(
        got.detach() if isinstance(got, torch.Tensor) else got,
        expected,
        what="per_sample_grads(weight, X, Y)",
        hint="For loss ‖W x − y‖² the gradient of sample i is 2 (W xᵢ − yᵢ) xᵢᵀ.",
    )
    passed("per_sample_grads matches a loop of 6 backward passes, one gradient per sample")
