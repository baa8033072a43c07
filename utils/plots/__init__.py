"""Drawing helpers. Each takes an ``Axes``, draws onto it and returns the artists it made.

Nothing here creates figures or touches global style, so the same function serves a static
``plt.subplots()`` cell and a slider demo that owns its ``Figure``. One module per topic;
everything is re-exported here, so notebooks write ``plots.weight_heatmap(ax, W)``.
"""

from utils.plots.batchnorm import bn_histograms, running_stats, seed_loss_curves
from utils.plots.core import (
    AFTER_COLOR,
    BEFORE_COLOR,
    DIVERGING_CMAP,
    affine_grid,
    point_cloud,
    vector_bars,
    weight_heatmap,
)
from utils.plots.layers import init_histogram, linear_shape_diagram, per_layer_curves
from utils.plots.matmul import gflops_curves, matmul_blocks
from utils.plots.training import (
    decision_boundary,
    loss_curves,
    train_val_curves,
    trajectory_contour,
    unit_lines,
)

__all__ = [
    "AFTER_COLOR",
    "BEFORE_COLOR",
    "DIVERGING_CMAP",
    "affine_grid",
    "bn_histograms",
    "decision_boundary",
    "gflops_curves",
    "init_histogram",
    "linear_shape_diagram",
    "loss_curves",
    "matmul_blocks",
    "per_layer_curves",
    "point_cloud",
    "running_stats",
    "seed_loss_curves",
    "train_val_curves",
    "trajectory_contour",
    "unit_lines",
    "vector_bars",
    "weight_heatmap",
]
