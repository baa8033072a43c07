"""utils.affine against the definitions it implements, plus bad input."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from utils import affine

dims = st.integers(min_value=1, max_value=5)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(min_value=0, max_value=6), d_in=dims, d_out=dims, seed=st.integers(0, 10_000))
def test_affine_map_equals_per_sample_loop(n, d_in, d_out, seed):
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d_in, generator=generator)
    A = torch.randn(d_out, d_in, generator=generator)
    b = torch.randn(d_out, generator=generator)
    expected = torch.stack([A @ x + b for x in X]) if n else torch.empty(0, d_out)
    torch.testing.assert_close(affine.affine_map(X, A, b), expected)


@settings(max_examples=30, deadline=None)
@given(d0=dims, d1=dims, d2=dims, seed=st.integers(0, 10_000))
def test_compose_equals_applying_in_turn(d0, d1, d2, seed):
    generator = torch.Generator().manual_seed(seed)
    A1, b1 = torch.randn(d1, d0, generator=generator), torch.randn(d1, generator=generator)
    A2, b2 = torch.randn(d2, d1, generator=generator), torch.randn(d2, generator=generator)
    X = torch.randn(4, d0, generator=generator)
    A, b = affine.compose_affine(A1, b1, A2, b2)
    chained = affine.affine_map(affine.affine_map(X, A1, b1), A2, b2)
    torch.testing.assert_close(affine.affine_map(X, A, b), chained)
    M1, M2 = affine.homogeneous_matrix(A1, b1), affine.homogeneous_matrix(A2, b2)
    torch.testing.assert_close(M2 @ M1, affine.homogeneous_matrix(A, b))


def test_homogeneous_form_reproduces_affine_map():
    X, A, b = torch.randn(6, 3), torch.randn(2, 3), torch.randn(2)
    lifted = affine.to_homogeneous(X) @ affine.homogeneous_matrix(A, b).T
    torch.testing.assert_close(lifted[:, :2], affine.affine_map(X, A, b))
    torch.testing.assert_close(lifted[:, 2], torch.ones(6))


def test_signed_area_is_determinant_and_flips_sign():
    A = torch.tensor([[2.0, 1.0], [0.5, 3.0]])
    moved = affine.affine_map(affine.unit_square(), A, torch.tensor([5.0, -2.0]))
    assert affine.signed_area(moved) == pytest.approx(float(torch.linalg.det(A)))
    mirror = torch.tensor([[-1.0, 0.0], [0.0, 1.0]])
    assert affine.signed_area(affine.affine_map(affine.unit_square(), mirror, torch.zeros(2))) < 0


def test_grid_lines_cover_the_extent():
    lines = affine.grid_lines(extent=3.0, n_lines=5, n_points=11)
    stacked = torch.cat(lines)
    assert len(lines) == 10
    assert stacked.min() == -3.0 and stacked.max() == 3.0


def test_lists_and_ints_are_accepted():
    Y = affine.affine_map([[1, 2]], [[1, 0], [0, 1]], [0, 0])
    assert Y.dtype == torch.float32
    torch.testing.assert_close(Y, torch.tensor([[1.0, 2.0]]))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: affine.affine_map(torch.zeros(4, 3), torch.zeros(2, 2), torch.zeros(2)),
            ValueError,
            r"X must have shape \(n_samples, d_in\) = \(any, 2\); got shape \(4, 3\)",
        ),
        (
            lambda: affine.affine_map(torch.zeros(4, 2), torch.zeros(2, 2), torch.zeros(3)),
            ValueError,
            r"b must have shape \(d_out,\) = \(2,\); got shape \(3,\)",
        ),
        (
            lambda: affine.affine_map(torch.zeros(2), torch.zeros(2, 2), torch.zeros(2)),
            ValueError,
            r"got shape \(2,\)",
        ),
        (
            lambda: affine.affine_map("x", torch.eye(2), torch.zeros(2)),
            TypeError,
            r"X must be a tensor .* got str",
        ),
        (
            lambda: affine.affine_map(
                torch.zeros(1, 2, dtype=torch.bool), torch.eye(2), torch.zeros(2)
            ),
            TypeError,
            r"real numbers; got dtype torch.bool",
        ),
        (
            lambda: affine.compose_affine(
                torch.zeros(3, 2), torch.zeros(3), torch.zeros(2, 2), torch.zeros(2)
            ),
            ValueError,
            r"first map outputs 3 numbers but the second expects 2",
        ),
        (lambda: affine.grid_lines(extent=0), ValueError, r"extent must be positive"),
        (lambda: affine.signed_area(torch.zeros(4, 3)), ValueError, r"\(n_corners, 2\)"),
    ],
)
def test_bad_input_says_what_was_expected(call, error, message):
    with pytest.raises(error, match=message):
        call()
