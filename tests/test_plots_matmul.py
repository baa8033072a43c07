"""utils.plots.matmul: the blocks show X, Wᵀ, b and Y, the outlines sit on the right cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from utils import plots
from utils.plots import matmul


@pytest.fixture
def ax():
    return Figure().add_subplot()


def test_blocks_hold_the_four_matrices(ax):
    X, W, b = torch.randn(3, 4), torch.randn(2, 4), torch.randn(2)
    artists = plots.matmul_blocks(ax, X, W, b)
    np.testing.assert_allclose(artists["X"].get_array(), X.numpy())
    np.testing.assert_allclose(artists["WT"].get_array(), W.T.numpy())
    np.testing.assert_allclose(artists["b"].get_array(), b[None, :].numpy())
    np.testing.assert_allclose(artists["Y"].get_array(), (X @ W.T + b).numpy(), rtol=1e-6)
    assert "row" not in artists  # nothing highlighted unless asked
    # blocks sit left to right without overlapping: X, then Wᵀ, then b, then Y
    lefts = [artists[key].get_extent()[0] for key in ("X", "WT", "b", "Y")]
    rights = [artists[key].get_extent()[1] for key in ("X", "WT", "b", "Y")]
    assert all(r < next_left for r, next_left in zip(rights, lefts[1:], strict=False))
    assert artists["X"].get_extent() == pytest.approx((0.0, 4.0, 3.0, 0.0))  # row 0 on top


def test_highlights_sit_on_the_row_the_column_and_the_output(ax):
    X, W, b = torch.randn(3, 4), torch.randn(2, 4), torch.randn(2)
    artists = plots.matmul_blocks(ax, X, W, b, row=2, col=1)
    assert artists["row"].get_xy() == (0, 2) and artists["row"].get_width() == 4
    wt_left = artists["WT"].get_extent()[0]
    assert artists["col"].get_xy() == (wt_left + 1, 0) and artists["col"].get_height() == 4
    b_left = artists["b"].get_extent()[0]
    assert artists["bias"].get_xy() == (b_left + 1, 0)
    y_left = artists["Y"].get_extent()[0]
    assert artists["cell"].get_xy() == (y_left + 1, 2)
    assert not ax.axison


def test_without_bias(ax):
    artists = plots.matmul_blocks(ax, torch.ones(2, 2), torch.ones(3, 2), row=0, col=2)
    assert "b" not in artists and "bias" not in artists
    np.testing.assert_allclose(artists["Y"].get_array(), np.full((2, 3), 2.0))


def test_gflops_curves_log_log_with_peak(ax):
    artists = plots.gflops_curves(
        ax, [1, 4, 16], {"F.linear": [1.0, 3.0, 9.0], "nn.Linear": [0.5, 2.0, 8.0]}, peak=20.0
    )
    assert set(artists) == {"F.linear", "nn.Linear", "peak"}
    np.testing.assert_allclose(artists["F.linear"].get_ydata(), [1.0, 3.0, 9.0])
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert artists["peak"].get_ydata()[0] == 20.0
    assert "20 GFLOP/s" in artists["peak"].get_label()


def test_gflops_curves_ticks_at_points(ax):
    plots.gflops_curves(ax, [1, 4, 16], {"a": [1.0, 2.0, 3.0]}, ticks_at_points=True)
    np.testing.assert_allclose(ax.get_xticks(), [1, 4, 16])
    assert [label.get_text() for label in ax.get_xticklabels()] == ["1", "4", "16"]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda ax: matmul.matmul_blocks(None, torch.ones(2, 2), torch.ones(2, 2)),
            TypeError,
            "Axes",
        ),
        (
            lambda ax: matmul.matmul_blocks(ax, torch.ones(2, 3), torch.ones(2, 2)),
            ValueError,
            r"W must have shape \(out_features, in_features\) = \(any, 3\); got shape \(2, 2\)",
        ),
        (
            lambda ax: matmul.matmul_blocks(ax, torch.ones(2, 2), torch.ones(3, 2), torch.ones(2)),
            ValueError,
            r"b must have shape \(out_features,\) = \(3,\)",
        ),
        (
            lambda ax: matmul.matmul_blocks(ax, torch.ones(2, 2), torch.ones(2, 2), row=1),
            ValueError,
            "give row and col together",
        ),
        (
            lambda ax: matmul.matmul_blocks(ax, torch.ones(2, 2), torch.ones(2, 2), row=2, col=0),
            ValueError,
            r"row must be in \[0, 1\]",
        ),
        (
            lambda ax: matmul.matmul_blocks(ax, torch.ones(2, 2), torch.ones(2, 2), row=0, col=5),
            ValueError,
            r"col must be in \[0, 1\]",
        ),
        (
            lambda ax: matmul.matmul_blocks(ax, torch.ones(0, 2), torch.ones(2, 2)),
            ValueError,
            "at least 1",
        ),
        (lambda ax: matmul.gflops_curves(ax, [1, 2], {}), ValueError, "curves is empty"),
        (
            lambda ax: matmul.gflops_curves(ax, [1, 2], {"a": [1.0]}),
            ValueError,
            r"curves\['a'\] must have shape",
        ),
        (
            lambda ax: matmul.gflops_curves(ax, [1, 2], {"a": [1.0, 0.0]}),
            ValueError,
            "positive",
        ),
        (
            lambda ax: matmul.gflops_curves(ax, [1, 2], {"a": [1.0, 2.0]}, peak=0.0),
            ValueError,
            "peak must be > 0",
        ),
    ],
)
def test_bad_input(ax, call, error, message):
    with pytest.raises(error, match=message):
        call(ax)
