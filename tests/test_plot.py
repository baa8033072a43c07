"""utils.plot (shared drawings) draws what it says, onto the axes it is given, rejects bad input."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from utils import plot


@pytest.fixture
def ax():
    return Figure().add_subplot()


def test_heatmap_rows_are_outputs_and_colours_centre_at_zero(ax):
    W = torch.tensor([[1.0, -3.0, 0.0], [2.0, 0.5, -1.0]])
    image = plot.weight_heatmap(ax, W, highlight_row=1)
    np.testing.assert_allclose(image.get_array(), W.numpy())  # row i of the picture = row i of W
    assert image.norm.vmin == -3.0 and image.norm.vmax == 3.0 and image.norm.vcenter == 0.0
    assert image.get_cmap().name == plot.DIVERGING_CMAP
    assert len(ax.texts) == 6  # small matrix: values annotated
    assert len(ax.patches) == 1  # the highlighted row
    assert len(ax.figure.axes) == 2  # the colour bar


def test_heatmap_of_zeros_and_big_matrix(ax):
    plot.weight_heatmap(ax, torch.zeros(2, 2), colorbar=False)
    big = Figure().add_subplot()
    plot.weight_heatmap(big, torch.randn(40, 30), colorbar=False)
    assert len(big.texts) == 0  # too big to annotate


def test_vector_bars_colour_by_sign(ax):
    bars = plot.vector_bars(ax, torch.tensor([1.0, -2.0]), name="bias")
    assert [b.get_height() for b in bars] == [1.0, -2.0]
    assert bars[0].get_facecolor() != bars[1].get_facecolor()
    assert ax.get_xlabel() == "index into bias"


def test_per_layer_curves_clip_zero_and_overflow_on_log_axes(ax):
    lines = plot.per_layer_curves(
        ax, {"a": [1.0, 0.0, math.inf], "b": [2.0, math.nan, 1.0]}, ylabel="std", reference=1.0
    )
    np.testing.assert_array_equal(lines[0].get_ydata(), [1.0, plot.LOG_FLOOR, plot.LOG_CEILING])
    np.testing.assert_array_equal(lines[1].get_ydata(), [2.0, plot.LOG_CEILING, 1.0])
    assert ax.get_yscale() == "log" and ax.get_legend() is not None
    assert len(ax.lines) == 3  # two curves and the reference line


def test_per_layer_curves_linear_axis_keeps_values(ax):
    (line,) = plot.per_layer_curves(ax, {"a": [0.0, -1.0]}, ylabel="v", log=False, title="t")
    np.testing.assert_array_equal(line.get_ydata(), [0.0, -1.0])
    assert ax.get_yscale() == "linear" and ax.get_title() == "t"


def test_loss_curves_one_line_per_history_on_a_log_axis(ax):
    lines = plot.loss_curves(ax, {"SGD": [4.0, 2.0, 1.0], "Adam": torch.tensor([4.0, 1.0])})
    assert [line.get_label() for line in lines] == ["SGD", "Adam"]
    np.testing.assert_allclose(lines[0].get_ydata(), [4.0, 2.0, 1.0])
    np.testing.assert_allclose(lines[1].get_xdata(), [0, 1])
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "step"
    linear = Figure().add_subplot()
    plot.loss_curves(linear, {"x": [0.0, 1.0]}, log=False)
    assert linear.get_yscale() == "linear"


def test_helpers_never_create_pyplot_figures(ax):
    before = plt.get_fignums()
    plot.weight_heatmap(ax, torch.ones(2, 2))
    plot.vector_bars(Figure().add_subplot(), torch.ones(3))
    plot.per_layer_curves(Figure().add_subplot(), {"a": [1.0, 0.5]}, ylabel="std")
    plot.loss_curves(Figure().add_subplot(), {"a": [1.0, 0.5]})
    assert plt.get_fignums() == before


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda ax: plot.weight_heatmap("ax", torch.ones(2, 2)), TypeError, "matplotlib Axes"),
        (
            lambda ax: plot.weight_heatmap(ax, torch.ones(2, 2, 2)),
            ValueError,
            r"\(out_features, in_features\) = \(any, any\); got shape \(2, 2, 2\)",
        ),
        (
            lambda ax: plot.weight_heatmap(ax, torch.ones(2, 2), highlight_row=2),
            ValueError,
            r"highlight_row must be in \[0, 1\]; got 2",
        ),
        (lambda ax: plot.vector_bars(ax, torch.ones(2, 2)), ValueError, r"got shape \(2, 2\)"),
        (lambda ax: plot.per_layer_curves(ax, {}, ylabel="std"), ValueError, "empty mapping"),
        (
            lambda ax: plot.per_layer_curves(ax, {"a": []}, ylabel="std"),
            ValueError,
            "curve 'a' has no values",
        ),
        (lambda ax: plot.loss_curves("ax", {"a": [1.0]}), TypeError, "matplotlib Axes"),
        (lambda ax: plot.loss_curves(ax, [1.0, 2.0]), TypeError, "non-empty mapping"),
        (
            lambda ax: plot.loss_curves(ax, {"a": [1.0, float("nan")]}),
            ValueError,
            "contains nan or inf",
        ),
        (lambda ax: plot.loss_curves(ax, {"a": [1.0, 0.0]}), ValueError, "pass log=False"),
    ],
)
def test_bad_input(ax, call, error, message):
    with pytest.raises(error, match=message):
        call(ax)
