"""utils.plots draws what it says, onto the axes it is given, and rejects bad input."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from utils import plots


@pytest.fixture
def ax():
    return Figure().add_subplot()


def test_heatmap_rows_are_outputs_and_colours_centre_at_zero(ax):
    W = torch.tensor([[1.0, -3.0, 0.0], [2.0, 0.5, -1.0]])
    image = plots.weight_heatmap(ax, W, highlight_row=1)
    np.testing.assert_allclose(image.get_array(), W.numpy())  # row i of the picture = row i of W
    assert image.norm.vmin == -3.0 and image.norm.vmax == 3.0 and image.norm.vcenter == 0.0
    assert image.get_cmap().name == plots.DIVERGING_CMAP
    assert len(ax.texts) == 6  # small matrix: values annotated
    assert len(ax.patches) == 1  # the highlighted row
    assert len(ax.figure.axes) == 2  # the colour bar


def test_heatmap_of_zeros_and_big_matrix(ax):
    plots.weight_heatmap(ax, torch.zeros(2, 2), colorbar=False)
    big = Figure().add_subplot()
    plots.weight_heatmap(big, torch.randn(40, 30), colorbar=False)
    assert len(big.texts) == 0  # too big to annotate


def test_vector_bars_colour_by_sign(ax):
    bars = plots.vector_bars(ax, torch.tensor([1.0, -2.0]), name="bias")
    assert [b.get_height() for b in bars] == [1.0, -2.0]
    assert bars[0].get_facecolor() != bars[1].get_facecolor()
    assert ax.get_xlabel() == "index into bias"


def test_affine_grid_moves_the_square_to_the_columns(ax):
    A = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    artists = plots.affine_grid(ax, A, torch.tensor([1.0, 0.0]))
    corners = artists["after_square"].get_xy()[:4]
    np.testing.assert_allclose(corners, [[1, 0], [3, 1], [3, 2], [1, 1]])
    assert (
        len(artists["after_grid"].get_segments())
        == len(artists["before_grid"].get_segments())
        == 18
    )


def test_point_cloud_before_and_after(ax):
    artists = plots.point_cloud(ax, torch.zeros(3, 2), torch.ones(3, 2))
    assert len(artists) == 2


def test_helpers_never_create_pyplot_figures(ax):
    before = plt.get_fignums()
    plots.weight_heatmap(ax, torch.ones(2, 2))
    plots.affine_grid(Figure().add_subplot(), torch.eye(2), torch.zeros(2))
    assert plt.get_fignums() == before


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda ax: plots.weight_heatmap("ax", torch.ones(2, 2)), TypeError, "matplotlib Axes"),
        (
            lambda ax: plots.weight_heatmap(ax, torch.ones(2, 2, 2)),
            ValueError,
            r"\(out_features, in_features\) = \(any, any\); got shape \(2, 2, 2\)",
        ),
        (
            lambda ax: plots.weight_heatmap(ax, torch.ones(2, 2), highlight_row=2),
            ValueError,
            r"highlight_row must be in \[0, 1\]; got 2",
        ),
        (lambda ax: plots.vector_bars(ax, torch.ones(2, 2)), ValueError, r"got shape \(2, 2\)"),
        (
            lambda ax: plots.affine_grid(ax, torch.eye(3), torch.zeros(3)),
            ValueError,
            r"A must have shape \(2, 2\)",
        ),
        (
            lambda ax: plots.point_cloud(ax, torch.zeros(3, 2), torch.zeros(4, 2)),
            ValueError,
            r"after must have shape",
        ),
    ],
)
def test_bad_input(ax, call, error, message):
    with pytest.raises(error, match=message):
        call(ax)
