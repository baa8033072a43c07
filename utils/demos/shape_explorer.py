"""Notebook 02 demo: batch size, extra leading dims, in/out features and a mismatch toggle.

The picture is ``x Wᵀ + b = y`` as blocks; the readout gives every shape, or, for a
mismatched input, PyTorch's own error message and what it means.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from utils.linear_shapes import EXTRA_SIZES, explore_linear_shapes
from utils.plots.layers import linear_shape_diagram
from utils.widgets import SliderDemo, checkbox, int_slider, slider_demo

BATCH_RANGE = (0, 8)
FEATURE_RANGE = (1, 12)


def draw_shape_explorer(
    fig: Figure,
    batch: int,
    extra_dims: int,
    in_features: int,
    out_features: int,
    mismatch: bool,
) -> str:
    """Draw the block diagram for these settings on ``fig``; return the shapes or the error."""
    shapes = explore_linear_shapes(batch, extra_dims, in_features, out_features, mismatch=mismatch)
    fig.set_layout_engine("none")  # a fixed layout: constrained layout would double the cost
    linear_shape_diagram(fig.add_axes((0.01, 0.01, 0.98, 0.88)), shapes)
    head = f"x {shapes.input_shape} · weight {shapes.weight_shape} · bias {shapes.bias_shape}"
    if shapes.ok:
        return f"{head} → y {shapes.output_shape}. {shapes.explanation}"
    return f"{head} → RuntimeError: {shapes.error}. Why: {shapes.explanation}"


def build_demo(
    batch: int = 3,
    extra_dims: int = 1,
    in_features: int = 5,
    out_features: int = 3,
    mismatch: bool = False,
) -> SliderDemo:
    """Four sliders and a checkbox driving :func:`draw_shape_explorer`."""
    controls = {
        "batch": int_slider("batch", batch, *BATCH_RANGE),
        "extra_dims": int_slider("extra leading dims", extra_dims, 0, len(EXTRA_SIZES)),
        "in_features": int_slider("in_features", in_features, *FEATURE_RANGE),
        "out_features": int_slider("out_features", out_features, *FEATURE_RANGE),
        "mismatch": checkbox("mismatched input (+1 feature)", mismatch),
    }
    return slider_demo(draw_shape_explorer, controls, figsize=(8.0, 3.4))
