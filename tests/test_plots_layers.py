"""utils.plots.layers draws per-layer curves, init histograms and the shape diagram."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from utils import plots
from utils.linear_shapes import explore_linear_shapes
from utils.plots.layers import CLASH_COLOR, LOG_CEILING, LOG_FLOOR, MATCH_COLOR


@pytest.fixture
def ax():
    return Figure().add_subplot()


def test_per_layer_curves_clip_zero_and_overflow_on_log_axes(ax):
    lines = plots.per_layer_curves(
        ax, {"a": [1.0, 0.0, math.inf], "b": [2.0, math.nan, 1.0]}, ylabel="std", reference=1.0
    )
    np.testing.assert_array_equal(lines[0].get_ydata(), [1.0, LOG_FLOOR, LOG_CEILING])
    np.testing.assert_array_equal(lines[1].get_ydata(), [2.0, LOG_CEILING, 1.0])
    assert ax.get_yscale() == "log" and ax.get_legend() is not None
    assert len(ax.lines) == 3  # two curves and the reference line


def test_per_layer_curves_linear_axis_keeps_values(ax):
    (line,) = plots.per_layer_curves(ax, {"a": [0.0, -1.0]}, ylabel="v", log=False, title="t")
    np.testing.assert_array_equal(line.get_ydata(), [0.0, -1.0])
    assert ax.get_yscale() == "linear" and ax.get_title() == "t"


def test_init_histogram_density_matches_the_uniform(ax):
    values = torch.linspace(-0.5, 0.5, 10_001)
    artists = plots.init_histogram(ax, values, bound=0.5, bins=10)
    heights = [bar.get_height() for bar in artists["bars"]]
    np.testing.assert_allclose(heights, 1.0, rtol=3e-3)  # density of U(-0.5, 0.5) is 1
    assert [line.get_xdata()[0] for line in artists["bounds"]] == [-0.5, 0.5]
    np.testing.assert_allclose(artists["density"].get_ydata(), [1.0, 1.0])


def test_shape_diagram_colours_the_inner_sizes(ax):
    artists = plots.linear_shape_diagram(ax, explore_linear_shapes(2, 1, 5, 3))
    assert {line.get_color() for line in artists["inner"]} == {MATCH_COLOR}
    assert "(2, 4, 5)" in ax.get_title() and "5 = 5" in ax.get_title()
    bad = Figure().add_subplot()
    artists = plots.linear_shape_diagram(bad, explore_linear_shapes(2, 1, 5, 3, mismatch=True))
    assert {line.get_color() for line in artists["inner"]} == {CLASH_COLOR}
    assert artists["y"].get_text() == "RuntimeError"
    assert "6 ≠ 5" in bad.get_title()
    no_bias = Figure().add_subplot()
    assert "b" not in plots.linear_shape_diagram(
        no_bias, explore_linear_shapes(0, 0, 1, 1, bias=False)
    )


def test_bad_input_and_no_pyplot_figures(ax):
    before = plt.get_fignums()
    with pytest.raises(ValueError, match="empty mapping"):
        plots.per_layer_curves(ax, {}, ylabel="std")
    with pytest.raises(ValueError, match="curve 'a' has no values"):
        plots.per_layer_curves(ax, {"a": []}, ylabel="std")
    with pytest.raises(ValueError, match="values is empty"):
        plots.init_histogram(ax, torch.empty(0))
    with pytest.raises(ValueError, match="bound must be > 0"):
        plots.init_histogram(ax, torch.ones(3), bound=0.0)
    with pytest.raises(ValueError, match="bins must be a positive int"):
        plots.init_histogram(ax, torch.ones(3), bins=0)
    with pytest.raises(TypeError, match="shapes must be a LinearShapes; got tuple"):
        plots.linear_shape_diagram(ax, (3, 4))
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        plots.per_layer_curves(None, {"a": [1.0]}, ylabel="std")
    assert plt.get_fignums() == before
