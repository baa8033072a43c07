"""Self-checks for notebook 01 (affine maps). Each prints ✓, a not-attempted note, or a hint."""

from __future__ import annotations

from collections.abc import Callable

import torch

from utils.check import NOT_ATTEMPTED, attempt, expect, expect_tensor, passed


def check_batch_affine(batch_affine: Callable[..., torch.Tensor]) -> None:
    """Check ``batch_affine(X, A, b)`` returns ``X Aᵀ + b`` (rows of ``X`` are samples).

    >>> check_batch_affine(lambda X, A, b: X @ A.T + b)
    ✓ batch_affine maps every row x to A x + b, for a non-square A too
    """
    generator = torch.Generator().manual_seed(1)
    X = torch.randn(5, 3, generator=generator)
    A = torch.randn(2, 3, generator=generator)
    b = torch.randn(2, generator=generator)
    Y = attempt("batch_affine", batch_affine, X, A, b)
    if Y is NOT_ATTEMPTED:
        return
    expected = torch.stack([A @ x + b for x in X])
    expect(isinstance(Y, torch.Tensor), f"expected a tensor, got {type(Y).__name__}")
    expect(
        tuple(Y.shape) == (5, 2),
        f"expected shape (5, 2) = (n_samples, d_out), got {tuple(Y.shape)}. "
        "Rows of X are samples, so each row of the result is one A x + b.",
    )
    if torch.allclose(Y, X @ A.T):
        raise AssertionError("you got X Aᵀ: the shift b is missing.")
    expect_tensor(
        Y,
        expected,
        what="batch_affine(X, A, b)",
        hint="Each row x of X needs A x, and stacking the rows (A x)ᵀ = xᵀ Aᵀ gives X Aᵀ.",
    )
    passed("batch_affine maps every row x to A x + b, for a non-square A too")


def check_compose(
    compose: Callable[..., tuple[torch.Tensor, torch.Tensor]],
) -> None:
    """Check ``compose(A1, b1, A2, b2)`` returns ``(A2 A1, A2 b1 + b2)``.

    >>> check_compose(lambda A1, b1, A2, b2: (A2 @ A1, A2 @ b1 + b2))
    ✓ compose gives the one affine map equal to "first (A1, b1), then (A2, b2)"
    """
    generator = torch.Generator().manual_seed(2)
    A1, A2 = torch.randn(3, 2, generator=generator), torch.randn(4, 3, generator=generator)
    b1, b2 = torch.randn(3, generator=generator), torch.randn(4, generator=generator)
    answer = attempt("compose", compose, A1, b1, A2, b2)
    if answer is NOT_ATTEMPTED:
        return
    expect(
        isinstance(answer, tuple) and len(answer) == 2,
        f"return a pair (A, b); got {type(answer).__name__}",
    )
    A, b = answer
    expect_tensor(
        A,
        A2 @ A1,
        what="composed A",
        hint="The first map acts first, so it sits on the right: A2 A1.",
    )
    if isinstance(b, torch.Tensor) and b.shape == b2.shape and torch.allclose(b, b2):
        raise AssertionError("composed b equals b2: b1 must pass through the second map too.")
    expect_tensor(
        b,
        A2 @ b1 + b2,
        what="composed b",
        hint="Expand A2 (A1 x + b1) + b2: the shift b1 is multiplied by A2.",
    )
    passed('compose gives the one affine map equal to "first (A1, b1), then (A2, b2)"')


def check_rotation_90(A: torch.Tensor) -> None:
    """Check ``A`` rotates the plane by 90° counter-clockwise (``e₁ → e₂``, ``e₂ → −e₁``).

    >>> check_rotation_90(torch.tensor([[0.0, -1.0], [1.0, 0.0]]))
    ✓ A sends e₁ to e₂ and e₂ to −e₁: a quarter turn counter-clockwise (det A = 1)
    """
    answer = attempt("A_rotate", A)
    if answer is NOT_ATTEMPTED:
        return
    answer = torch.as_tensor(answer, dtype=torch.float32)
    expect(tuple(answer.shape) == (2, 2), f"expected a 2×2 matrix, got shape {tuple(answer.shape)}")
    quarter_turn = torch.tensor([[0.0, -1.0], [1.0, 0.0]])
    if torch.allclose(answer, quarter_turn.T):
        raise AssertionError("that turns clockwise: A e₁ should be e₂ = (0, 1), not (0, −1).")
    expect_tensor(
        answer,
        quarter_turn,
        what="A_rotate",
        hint="The columns of A are where e₁ and e₂ land: column 1 = (0, 1), column 2 = (−1, 0).",
    )
    passed("A sends e₁ to e₂ and e₂ to −e₁: a quarter turn counter-clockwise (det A = 1)")
