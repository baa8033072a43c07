"""Notebook 03 demo: pick an init scheme, an activation, depth, width and gain; watch the signal.

One panel, two curves: the standard deviation of each layer's output on a fixed batch
(forward), and the norm of the gradient flowing back into each layer (backward). Flat curves
mean the signal survives the depth; slopes mean it vanishes or explodes.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from utils.initialization import ACTIVATIONS, SCHEMES, deep_stack
from utils.plots.layers import per_layer_curves
from utils.stats import SignalStats, signal_statistics
from utils.widgets import SliderDemo, dropdown, float_slider, int_slider, slider_demo

BATCH = 64
DEPTH_RANGE = (2, 20)
WIDTH_RANGE = (16, 256)
GAIN_RANGE = (0.25, 2.0)
#: Fixed y-range of both panels, so moving a slider moves the curves, not the axes.
Y_RANGE = (1e-12, 1e12)
Y_TICKS = (1e-12, 1e-6, 1.0, 1e6, 1e12)


@lru_cache(maxsize=64)
def stack_signals(
    scheme: str, activation: str, depth: int, width: int, gain: float, seed: int = 0
) -> SignalStats:
    """Per-layer activation std and gradient norm of a seeded deep stack on a seeded batch.

    >>> stats = stack_signals("kaiming_normal_relu", "relu", 4, 64, 1.0)
    >>> len(stats.activation_std), round(stats.gradient_norm[-1], 6)
    (4, 1.0)
    """
    stack = deep_stack(depth, width, activation, scheme=scheme, gain=gain, seed=seed)
    x = torch.randn(BATCH, width, generator=torch.Generator().manual_seed(seed + 1))
    with torch.enable_grad():  # the widget may be driven from a no_grad context
        return signal_statistics(stack, x)


def _ratio(values: list[float]) -> str:
    first, last = values[0], values[-1]
    if not (math.isfinite(first) and math.isfinite(last)):
        return "overflow"
    if first == 0:
        return "dead (0)"
    return f"{last / first:.3g}×"


def draw_init_explorer(
    fig: Figure, scheme: str, activation: str, depth: int, width: int, gain: float
) -> str:
    """Draw per-layer activation std and gradient norm on ``fig``; return the readout."""
    stats = stack_signals(scheme, activation, depth, width, round(float(gain), 4))
    fig.set_layout_engine("none")  # one fixed layout: constrained layout would triple the cost
    ax = fig.add_axes((0.1, 0.16, 0.87, 0.74))
    curves = {
        "forward: std of layer output": stats.activation_std,
        "backward: ‖gradient into layer‖": stats.gradient_norm,
    }
    for label, values in curves.items():  # one call per curve: no legend built twice
        per_layer_curves(ax, {label: values}, ylabel="per-layer value (log scale)")
    ax.axhline(1.0, color="0.4", linestyle="--", linewidth=1)
    ax.set_title(f"{scheme} init, {activation}, {depth} layers × {width}, gain {gain:.2f}")
    # fixed, plain tick labels: cheap to render, and the axes never jump between redraws
    ax.set_ylim(*Y_RANGE)
    ax.set_yticks(Y_TICKS, labels=[f"1e{round(math.log10(t))}" for t in Y_TICKS])
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlim(0.5, DEPTH_RANGE[1] + 0.5)
    ax.set_xticks((1, 5, 10, 15, 20))
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    act = stats.activation_std
    return (
        f"{scheme}, {activation}, {depth}×{width}, gain {gain:.2f}: activation std "
        f"{act[0]:.3g} (layer 1) → {act[-1]:.3g} (layer {depth}), ratio {_ratio(act)}; "
        f"gradient norm layer 1 / layer {depth}: {_ratio(stats.gradient_norm[::-1])}"
    )


def build_demo(
    scheme: str = "default",
    activation: str = "relu",
    depth: int = 10,
    width: int = 128,
    gain: float = 1.0,
) -> SliderDemo:
    """Two dropdowns and three sliders driving :func:`draw_init_explorer`."""
    controls = {
        "scheme": dropdown("init", SCHEMES, scheme),
        "activation": dropdown("activation", ACTIVATIONS, activation),
        "depth": int_slider("depth", depth, *DEPTH_RANGE),
        "width": int_slider("width", width, *WIDTH_RANGE, step=16),
        "gain": float_slider("gain", gain, *GAIN_RANGE, step=0.05),
    }
    return slider_demo(draw_init_explorer, controls, figsize=(8.0, 3.2))
