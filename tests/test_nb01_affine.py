"""utils.nb01_affine: affine maps vs their definitions, plane plots, the demo, the checks."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from torch import nn

from scripts.series import definitions_from_notebook, run_solution_cells
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


@pytest.fixture(scope="module")
def cells():
    """The notebook's own compose (section 3) and homogeneous (section 5)."""
    return definitions_from_notebook(NOTEBOOK, "compose", "homogeneous")


@settings(max_examples=30, deadline=None)
@given(d0=dims, d1=dims, d2=dims, seed=st.integers(0, 10_000))
def test_compose_equals_applying_in_turn(cells, d0, d1, d2, seed):
    generator = torch.Generator().manual_seed(seed)
    A1, b1 = torch.randn(d1, d0, generator=generator), torch.randn(d1, generator=generator)
    A2, b2 = torch.randn(d2, d1, generator=generator), torch.randn(d2, generator=generator)
    X = torch.randn(4, d0, generator=generator)
    A, b = cells["compose"](A1, b1, A2, b2)
    chained = nb.affine_map(nb.affine_map(X, A1, b1), A2, b2)
    torch.testing.assert_close(nb.affine_map(X, A, b), chained)
    homogeneous = cells["homogeneous"]
    torch.testing.assert_close(homogeneous(A2, b2) @ homogeneous(A1, b1), homogeneous(A, b))


def test_homogeneous_form_reproduces_affine_map(cells):
    X, A, b = torch.randn(6, 3), torch.randn(2, 3), torch.randn(2)
    lifted = torch.cat([X, torch.ones(6, 1)], dim=1) @ cells["homogeneous"](A, b).T
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
        (lambda: nb.signed_area(torch.zeros(4, 3)), ValueError, r"\(n_corners, 2\)"),
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
    arrows, before, after = nb.point_cloud(ax, torch.zeros(3, 2), torch.tensor([[1.0, 2.0]] * 3))
    np.testing.assert_array_equal(after.get_offsets(), [[1, 2]] * 3)
    np.testing.assert_array_equal(before.get_offsets(), np.zeros((3, 2)))
    np.testing.assert_array_equal(arrows.U, [1, 1, 1])  # one arrow per point, from x to A x + b
    np.testing.assert_array_equal(arrows.V, [2, 2, 2])


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
        (
            lambda ax: nb.point_cloud(ax, torch.zeros(3), torch.zeros(3)),
            ValueError,
            r"before must have shape",
        ),
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
    flat = nb.describe_affine(torch.tensor([[1.0, 2.0], [0.5, 1.0]]), torch.zeros(2))
    assert flat.startswith("det A = +0.00: the plane collapses onto a line (A is singular);")


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


def test_stubs_are_not_attempted(capsys):
    nb.check_predicted_batch(...)
    nb.check_apply_layer(stub)
    nb.check_derived_map(..., ...)
    nb.check_derived_map([[0, 1], [1, 0]], ...)
    assert capsys.readouterr().out.count(NOT_ATTEMPTED_MARK) == 4


# Exercise 1.1: X = [[3, 1, 2], [0, 2, 1]], W = [[1, 0, -1], [2, 1, 0]], b = (1, -1).
Y_RIGHT = [[2, 6], [0, 1]]


@pytest.mark.parametrize(
    "answer",
    [
        Y_RIGHT,
        ((2, 6), (0, 1)),
        torch.tensor(Y_RIGHT),  # integers
        torch.tensor(Y_RIGHT, dtype=torch.float64),
        np.array(Y_RIGHT, dtype=np.float32),
    ],
    ids=["list", "tuples", "int tensor", "float64", "numpy"],
)
def test_predicted_batch_accepts_every_form(answer, capsys):
    nb.check_predicted_batch(answer)
    assert PASS_MARK in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ([[2, 0], [6, 1]], r"you wrote Yᵀ, one row per output"),
        ([[2, -2], [8, 1]], r"that is W Xᵀ \+ b"),
        ([[1, 7], [-1, 2]], r"the bias is missing"),
        ([[2, 8], [-2, 1]], r"b was added per sample"),
        ([2, 6], r"expected shape \(2, 2\).*got \(2,\)"),
        ([[2, 6, 0, 1]], r"expected shape \(2, 2\)"),
        ([[2, 6], [0, 2]], r"Y\[1, 1\] off: Y\[k, i\] = Σ_j X\[k, j\]·W\[i, j\] \+ b\[i\]"),
        ("[[2, 6], [0, 1]]", r"expected a tensor or a nested list of numbers, got str"),
    ],
    ids=["Y transposed", "W X^T", "bias forgotten", "bias per sample", "1-D", "one row",
         "slip", "string"],
)  # fmt: skip
def test_wrong_predicted_batch_gets_a_hint(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_predicted_batch(answer)


# Exercise 1.2: apply_layer, what nn.Linear computes, without F.linear.
@pytest.mark.parametrize(
    "answer",
    [
        lambda X, W, b: X @ W.T + b,
        lambda X, W, b: torch.matmul(X, W.transpose(0, 1)) + b,
        lambda X, W, b: X @ W.mT + b,
        lambda X, W, b: (X.unsqueeze(-2) * W).sum(-1) + b,
        lambda X, W, b: torch.einsum("...j,ij->...i", X, W) + b,
    ],
    ids=["@ .T", "matmul transpose", "mT", "broadcast sum", "einsum with ellipsis"],
)
def test_apply_layer_accepts_every_correct_form(answer, capsys):
    nb.check_apply_layer(answer)
    assert PASS_MARK in capsys.readouterr().out


def _square_only_slip(X, W, b):  # right for non-square W, the colleague's bug for square W
    return X @ W + b if W.shape[0] == W.shape[1] else X @ W.T + b


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda X, W, b: X @ W + b, r"raised RuntimeError.*the inner sizes clash.*X @ Wᵀ"),
        (_square_only_slip, r"X W \+ b runs for a square W but uses W transposed"),
        (lambda X, W, b: X @ W.T, r"the bias is missing"),
        (
            lambda X, W, b: X @ W.reshape(W.shape[1], W.shape[0]) + b,
            r"W\.reshape\(d_in, d_out\) refills rows in memory order; it is not Wᵀ",
        ),
        (lambda X, W, b: F.linear(X, W, b), r"you called linear, which this exercise rules out"),
        (lambda X, W, b: nn.functional.linear(X, W, b), r"you called linear"),
        (
            lambda X, W, b: torch.einsum("kj,ij->ki", X, W) + b,  # 2-D only
            r"raised RuntimeError.*every X of shape \(\*, d_in\)",
        ),
        (
            lambda X, W, b: torch.addmm(b, X, W.T),  # 2-D only
            r"X \(3,\), W \(2, 3\).*every X of shape \(\*, d_in\)",
        ),
        (lambda X, W, b: (X @ W.T + b).float(), r"a torch\.float64 input must give a torch\.f"),
        (lambda X, W, b: (X @ W.T + b).tolist(), r"expected a torch\.Tensor, got list"),
        (
            lambda X, W, b: (X @ W.T + b).reshape(-1, W.shape[0]),  # flattens leading dims
            r"X \(3,\), W \(2, 3\): expected shape \(2,\), got shape \(1, 2\)",
        ),
        (
            lambda X, W, b: X @ W.T + b if X.numel() else torch.zeros(0),
            r"an empty batch \(0, d_in\) must give shape \(0, d_out\), got \(0,\)",
        ),
    ],
    ids=["X @ W (the bug)", "square W transposed", "bias forgotten", "reshape for transpose",
         "F.linear", "nn.functional.linear", "einsum 2-D only", "addmm 2-D only",
         "float64 lost", "list", "leading dims flattened", "empty batch"],
)  # fmt: skip
def test_wrong_apply_layer_gets_a_hint(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_apply_layer(answer)


def test_apply_layer_cases_cover_every_dimension_that_matters():
    shapes = [shape for shape, _ in nb.LAYER_CASES]
    assert {len(shape) for shape in shapes} == {1, 2, 3, 4}
    assert any(shape[0] == 0 for shape in shapes)  # an empty batch
    assert any(shape[-1] == d_out for shape, d_out in nb.LAYER_CASES)  # a square W
    assert any(shape[-1] != d_out for shape, d_out in nb.LAYER_CASES)  # non-square W


# Exercise 1.3: the mirror in x₂ = x₁, then the shift (3, -1).
@pytest.mark.parametrize(
    ("A", "b"),
    [
        ([[0, 1], [1, 0]], [3, -1]),
        (torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([3.0, -1.0])),
        (np.array([[0, 1], [1, 0]]), (3, -1)),
        (torch.tensor([[0, 1], [1, 0]], dtype=torch.float64), torch.tensor([[3.0], [-1.0]])),
    ],
    ids=["lists", "tensors", "numpy and tuple", "float64 and a column b"],
)
def test_derived_map_accepts_every_form(A, b, capsys):
    nb.check_derived_map(A, b)
    assert PASS_MARK in capsys.readouterr().out


@pytest.mark.parametrize(
    ("A", "b", "hint"),
    [
        ([[4, 6], [1, 0]], [3, -1], r"the columns of A are images of e₁, e₂: use differences"),
        ([[0, 2], [1, 0]], [3, -1], r"2·e₂.*twice column 2 of A: halve it"),
        ([[0, 1], [2, 0]], [3, -1], r"twice column 2 of A: halve it"),
        ([[1, 0], [0, 1]], [3, -1], r"misses a point; solve g\(p\) − g\(p₁\) = A\(p − p₁\)"),
        ([[0, 1], [1, 0]], [4, 0], r"b is where the origin goes, g\(0\) = b, not g\(p₁\)"),
        ([[0, 1], [1, 0]], [-3, 1], r"b has the wrong sign"),
        ([[0, 1], [1, 0]], [3, 1], r"b_derived = \(3\.0, 1\.0\) misses a point: b = g\(p₁\)"),
        (torch.eye(3), [3, -1], r"A_derived: expected a 2×2 matrix, got \(3, 3\)"),
        ([[0, 1], [1, 0]], [3, -1, 0], r"b_derived: expected 2 numbers"),
    ],
    ids=["images as columns", "2e2 not halved", "not halved, rows", "identity", "b = g(p1)",
         "b sign", "b slip", "3x3", "3 numbers"],
)  # fmt: skip
def test_wrong_derived_map_gets_a_hint(A, b, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_derived_map(A, b)


def test_derived_map_data_is_a_mirror_then_a_shift():
    mirror, shift = torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([3.0, -1.0])
    images = nb.affine_map(torch.tensor(nb.DERIVE_POINTS), mirror, shift)
    torch.testing.assert_close(images, torch.tensor(nb.DERIVE_IMAGES))


# --- the notebook's own solution cells ----------------------------------------------------------


def test_the_notebook_solutions_pass_their_checks():
    printed = run_solution_cells(NOTEBOOK)
    assert printed.count(PASS_MARK) == 3, printed
    assert NOT_ATTEMPTED_MARK not in printed


def test_the_notebook_apply_layer_is_nn_linear():
    apply_layer = definitions_from_notebook(NOTEBOOK, "apply_layer")["apply_layer"]
    layer, x = nn.Linear(4, 3), torch.randn(2, 5, 4)
    with torch.no_grad():
        torch.testing.assert_close(apply_layer(x, layer.weight, layer.bias), layer(x))
