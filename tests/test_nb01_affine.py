"""utils.nb01_affine: affine maps vs their definitions, plane plots, the demo, the checks."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from scripts.series import definitions_from_notebook
from utils import nb01_affine as nb
from utils.check import NOT_ATTEMPTED_MARK, PASS_MARK

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "01_affine_maps.ipynb"
dims = st.integers(min_value=1, max_value=5)


@pytest.fixture
def ax():
    return Figure().add_subplot()


# --- compute -----------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(n=st.integers(min_value=0, max_value=6), d_in=dims, d_out=dims, seed=st.integers(0, 10_000))
def test_affine_map_equals_per_sample_loop(n, d_in, d_out, seed):
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d_in, generator=generator)
    A = torch.randn(d_out, d_in, generator=generator)
    b = torch.randn(d_out, generator=generator)
    expected = torch.stack([A @ x + b for x in X]) if n else torch.empty(0, d_out)
    torch.testing.assert_close(nb.affine_map(X, A, b), expected)


@settings(max_examples=30, deadline=None)
@given(d0=dims, d1=dims, d2=dims, seed=st.integers(0, 10_000))
def test_compose_equals_applying_in_turn(d0, d1, d2, seed):
    generator = torch.Generator().manual_seed(seed)
    A1, b1 = torch.randn(d1, d0, generator=generator), torch.randn(d1, generator=generator)
    A2, b2 = torch.randn(d2, d1, generator=generator), torch.randn(d2, generator=generator)
    X = torch.randn(4, d0, generator=generator)
    A, b = nb.compose_affine(A1, b1, A2, b2)
    chained = nb.affine_map(nb.affine_map(X, A1, b1), A2, b2)
    torch.testing.assert_close(nb.affine_map(X, A, b), chained)
    M1, M2 = nb.homogeneous_matrix(A1, b1), nb.homogeneous_matrix(A2, b2)
    torch.testing.assert_close(M2 @ M1, nb.homogeneous_matrix(A, b))


def test_homogeneous_form_reproduces_affine_map():
    X, A, b = torch.randn(6, 3), torch.randn(2, 3), torch.randn(2)
    lifted = nb.to_homogeneous(X) @ nb.homogeneous_matrix(A, b).T
    torch.testing.assert_close(lifted[:, :2], nb.affine_map(X, A, b))
    torch.testing.assert_close(lifted[:, 2], torch.ones(6))


def test_signed_area_is_determinant_and_flips_sign():
    A = torch.tensor([[2.0, 1.0], [0.5, 3.0]])
    moved = nb.affine_map(nb.unit_square(), A, torch.tensor([5.0, -2.0]))
    assert nb.signed_area(moved) == pytest.approx(float(torch.linalg.det(A)))
    mirror = torch.tensor([[-1.0, 0.0], [0.0, 1.0]])
    assert nb.signed_area(nb.affine_map(nb.unit_square(), mirror, torch.zeros(2))) < 0


def test_lists_and_ints_are_accepted():
    Y = nb.affine_map([[1, 2]], [[1, 0], [0, 1]], [0, 0])
    assert Y.dtype == torch.float32
    torch.testing.assert_close(Y, torch.tensor([[1.0, 2.0]]))


def test_describe_shape_names_counts_and_scalars():
    text = nb.describe_shape(torch.zeros(3, 10), names=("batch", "in_features"))
    assert text == "(3, 10): 2-D, 3 batch × 10 in_features = 30 numbers"
    assert nb.describe_shape(torch.zeros(0, 4)) == "(0, 4): 2-D, 0 dim0 × 4 dim1 = 0 numbers"
    assert nb.describe_shape(torch.zeros(1)) == "(1,): 1-D, 1 dim0 = 1 number"
    assert nb.describe_shape(torch.tensor(2.0)) == "(): 0-D scalar, 1 number"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: nb.affine_map(torch.zeros(4, 3), torch.zeros(2, 2), torch.zeros(2)),
            ValueError,
            r"X must have shape \(n_samples, d_in\) = \(any, 2\); got shape \(4, 3\)",
        ),
        (
            lambda: nb.affine_map(torch.zeros(4, 2), torch.zeros(2, 2), torch.zeros(3)),
            ValueError,
            r"b must have shape \(d_out,\) = \(2,\); got shape \(3,\)",
        ),
        (
            lambda: nb.affine_map(torch.zeros(2), torch.zeros(2, 2), torch.zeros(2)),
            ValueError,
            r"X must have shape .*; got shape \(2,\)",
        ),
        (
            lambda: nb.affine_map("x", torch.eye(2), torch.zeros(2)),
            TypeError,
            r"X must be a tensor .* got str",
        ),
        (
            lambda: nb.affine_map(
                torch.zeros(1, 2, dtype=torch.bool), torch.eye(2), torch.zeros(2)
            ),
            TypeError,
            r"real numbers; got dtype torch.bool",
        ),
        (
            lambda: nb.compose_affine(
                torch.zeros(3, 2), torch.zeros(3), torch.zeros(2, 2), torch.zeros(2)
            ),
            ValueError,
            r"first map outputs 3 numbers but the second expects 2",
        ),
        (
            lambda: nb.homogeneous_matrix(torch.zeros(2, 2), torch.zeros(3)),
            ValueError,
            r"b must have shape \(d_out,\) = \(2,\); got shape \(3,\)",
        ),
        (
            lambda: nb.to_homogeneous(torch.zeros(3)),
            ValueError,
            r"X must have shape \(n_samples, d\)",
        ),
        (lambda: nb.signed_area(torch.zeros(4, 3)), ValueError, r"\(n_corners, 2\)"),
        (lambda: nb.describe_shape([1, 2]), TypeError, r"must be a torch\.Tensor; got list"),
        (
            lambda: nb.describe_shape(torch.zeros(2, 3), names=("batch",)),
            ValueError,
            r"got 1 axis names \('batch',\) for a 2-D tensor",
        ),
    ],
)
def test_bad_input_says_what_was_expected(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- plots -------------------------------------------------------------------------------------


def test_affine_grid_moves_the_square_to_the_columns(ax):
    A = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    artists = nb.affine_grid(ax, A, torch.tensor([1.0, 0.0]))
    corners = artists["after_square"].get_xy()[:4]
    np.testing.assert_allclose(corners, [[1, 0], [3, 1], [3, 2], [1, 1]])
    before = artists["before_grid"].get_segments()
    assert len(artists["after_grid"].get_segments()) == len(before) == 18
    stacked = np.concatenate(before)
    assert stacked.min() == -nb.EXTENT and stacked.max() == nb.EXTENT  # the grid covers the view
    assert ax.get_xlim() == (-5.0, 5.0)  # reach: the farthest moved corner, A (2, 2) + b = (5, 4)


def test_affine_grid_fixed_view_and_no_legend(ax):
    nb.affine_grid(ax, torch.eye(2), torch.zeros(2), view=3.0, legend=False)
    assert ax.get_xlim() == ax.get_ylim() == (-3.0, 3.0)
    assert ax.get_legend() is None


def test_point_cloud_before_and_after(ax):
    artists = nb.point_cloud(ax, torch.zeros(3, 2), torch.ones(3, 2))
    assert len(artists) == 2
    np.testing.assert_array_equal(artists[1].get_offsets(), np.ones((3, 2)))
    assert len(ax.texts) == 3  # one arrow per point
    assert len(nb.point_cloud(Figure().add_subplot(), torch.zeros(3, 2))) == 1


def test_plots_never_create_pyplot_figures(ax):
    before = plt.get_fignums()
    nb.affine_grid(ax, torch.eye(2), torch.zeros(2))
    nb.point_cloud(Figure().add_subplot(), torch.zeros(2, 2), torch.ones(2, 2))
    assert plt.get_fignums() == before


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda ax: nb.affine_grid(ax, torch.eye(3), torch.zeros(3)),
            ValueError,
            r"A must have shape \(2, 2\)",
        ),
        (lambda ax: nb.affine_grid("ax", torch.eye(2), torch.zeros(2)), TypeError, "Axes"),
        (
            lambda ax: nb.point_cloud(ax, torch.zeros(3, 2), torch.zeros(4, 2)),
            ValueError,
            r"after must have shape",
        ),
        (lambda ax: nb.point_cloud(ax, torch.zeros(3)), ValueError, r"before must have shape"),
    ],
)
def test_plots_reject_bad_input(ax, call, error, message):
    with pytest.raises(error, match=message):
        call(ax)


# --- slider demo -------------------------------------------------------------------------------


def test_describe_affine_reads_det_area_and_orientation():
    mirror = nb.describe_affine(torch.tensor([[-2.0, 0.0], [0.0, 1.0]]), torch.tensor([1.0, 0.5]))
    assert mirror == (
        "det A = -2.00: the unit square keeps area 2.00, orientation flipped (mirror image); "
        "origin moves to (1.00, 0.50)"
    )


def test_demo_readout_follows_the_sliders():
    demo = nb.build_demo()
    assert html.unescape(demo.readout.value).startswith("<code>det A = +1.00")
    demo.controls["a11"].value = 2.0
    assert "det A = +2.00" in html.unescape(demo.readout.value)
    demo.controls["a22"].value = 0.0  # [[2, 0.5], [0, 0]]: singular
    assert "collapses onto a line" in html.unescape(demo.readout.value)
    assert demo.last_error is None


# --- exercise checks ---------------------------------------------------------------------------


def stub(*_args):
    raise NotImplementedError


def test_right_answers_pass(capsys):
    nb.check_batch_affine(lambda X, A, b: X @ A.T + b)
    nb.check_batch_affine(lambda X, A, b: torch.stack([A @ x + b for x in X]))
    nb.check_compose(lambda A1, b1, A2, b2: (A2 @ A1, A2 @ b1 + b2))
    quarter_turn = [[0.0, -1.0], [1.0, 0.0]]
    for form in (
        torch.tensor(quarter_turn),
        quarter_turn,  # a nested list
        np.array(quarter_turn),
        torch.tensor([[0, -1], [1, 0]]),  # integers
        torch.tensor(quarter_turn, dtype=torch.float64),
    ):
        nb.check_rotation_90(form)
    assert capsys.readouterr().out.count(PASS_MARK) == 8


def test_stubs_are_not_attempted(capsys):
    nb.check_batch_affine(stub)
    nb.check_compose(stub)
    nb.check_rotation_90(...)
    assert capsys.readouterr().out.count(NOT_ATTEMPTED_MARK) == 3


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda X, A, b: X @ A.T, "the shift b is missing"),
        (lambda X, A, b: A @ X.T + b[:, None], r"expected shape \(5, 2\).*Rows of X are samples"),
        (lambda X, A, b: [A @ x + b for x in X], "expected a tensor, got list"),
        (lambda X, A, b: X @ A.T - b, r"values are off.*gives X Aᵀ"),
        (lambda X, A, b: (X @ A.T + b).numpy(), "expected a tensor, got ndarray"),
    ],
    ids=["bias forgotten", "transposed result", "rows not stacked", "bias subtracted", "numpy"],
)
def test_wrong_batch_affine_gets_a_hint(answer, message):
    with pytest.raises(AssertionError, match=message):
        nb.check_batch_affine(answer)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda A1, b1, A2, b2: (A2 @ A1, b2), "b1 must pass through the second map"),
        (lambda A1, b1, A2, b2: (A2 @ A1, A2 @ b1), r"composed b: the values are off.*A2"),
        (
            lambda A1, b1, A2, b2: (A1.T @ A2.T, A2 @ b1 + b2),
            r"composed A: expected shape \(4, 2\), got shape \(2, 4\).*sits on the right",
        ),
        (lambda A1, b1, A2, b2: A2 @ A1, r"return a pair \(A, b\); got Tensor"),
        (lambda A1, b1, A2, b2: [A2 @ A1, A2 @ b1 + b2, None], "return a pair"),
    ],
    ids=["b2 only", "b2 forgotten", "transposed A", "A only", "three values"],
)
def test_wrong_compose_gets_a_hint(answer, message):
    with pytest.raises(AssertionError, match=message):
        nb.check_compose(answer)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (torch.tensor([[0.0, 1.0], [-1.0, 0.0]]), "that turns clockwise"),
        (torch.eye(2), "The columns of A are where e₁ and e₂ land"),
        (torch.tensor([[0.0, 1.0], [1.0, 0.0]]), "The columns of A are where e₁ and e₂ land"),
        (torch.eye(3), r"expected a 2×2 matrix, got shape \(3, 3\)"),
    ],
    ids=["clockwise", "identity", "swap (a mirror)", "3×3"],
)
def test_wrong_rotation_gets_a_hint(answer, message):
    with pytest.raises(AssertionError, match=message):
        nb.check_rotation_90(answer)


def test_the_notebook_solutions_are_the_helpers_and_pass():
    cells = definitions_from_notebook(NOTEBOOK, "batch_affine", "compose")
    X, A, b = torch.randn(4, 3), torch.randn(2, 3), torch.randn(2)
    torch.testing.assert_close(cells["batch_affine"](X, A, b), nb.affine_map(X, A, b))
    A2, b2 = torch.randn(5, 2), torch.randn(5)
    for got, want in zip(
        cells["compose"](A, b, A2, b2), nb.compose_affine(A, b, A2, b2), strict=True
    ):
        torch.testing.assert_close(got, want)
