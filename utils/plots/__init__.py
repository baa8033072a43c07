"""Drawing helpers. Each takes an ``Axes``, draws onto it and returns the artists it made.

Nothing here creates figures or touches global style, so the same function serves a static
``plt.subplots()`` cell and a slider demo that owns its ``Figure``. One module per topic;
everything is re-exported here, so notebooks write ``plots.weight_heatmap(ax, W)``.
"""

from utils.plots.core import (
    AFTER_COLOR,
    BEFORE_COLOR,
    DIVERGING_CMAP,
    affine_grid,
    point_cloud,
    vector_bars,
    weight_heatmap,
)

__all__ = [
    "AFTER_COLOR",
    "BEFORE_COLOR",
    "DIVERGING_CMAP",
    "affine_grid",
    "point_cloud",
    "vector_bars",
    "weight_heatmap",
]
