"""Drawings shared by two or more notebooks. Each takes an ``Axes``, draws onto it, returns artists.

Nothing here creates figures or touches global style, so the same function serves a static
``plt.subplots()`` cell and a slider demo that owns its ``Figure``. A plot that only one
notebook draws lives in that notebook's module (``utils.nbNN_*``).

- :func:`weight_heatmap`: a weight matrix, rows = outputs, columns = inputs (01, 02, 04)
- :func:`vector_bars`: a bias, one output, one gradient as signed bars (01, 02)
- :func:`per_layer_curves`: a statistic against layer 1…L, e.g. activation std (03, 05)
- :func:`loss_curves`: loss against training step, one line per run (04, 05)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.colors as mcolors
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from utils._validate import as_tensor, require_axes, require_shape

#: Diverging colormap: blue for negative weights, white at zero, red for positive.
DIVERGING_CMAP = "RdBu_r"
BEFORE_COLOR = "0.75"
AFTER_COLOR = "tab:blue"
#: Values are drawn no lower/higher than this on log axes (0 and overflow stay visible).
LOG_FLOOR, LOG_CEILING = 1e-12, 1e30


def _integer_ticks(axis: object, count: int) -> None:
    """Tick every index of a short axis; a few integer ticks on a long one."""
    if count <= 16:
        axis.set_ticks(range(count))
    else:
        axis.set_major_locator(MaxNLocator(integer=True))


def weight_heatmap(
    ax: Axes,
    weight: object,
    *,
    title: str | None = None,
    highlight_row: int | None = None,
    colorbar: bool = True,
    annotate: bool | None = None,
    limit: float | None = None,
) -> AxesImage:
    """Draw a weight matrix: rows are output features, columns are input features.

    The colormap is diverging and centred at 0 so the sign of each weight reads at a glance.
    ``highlight_row`` outlines one output's weight row (the dot product that makes that output).
    ``annotate`` writes the values in the cells (default: only for small matrices).
    ``limit`` fixes the colour range to ``±limit`` (default: the largest ``|w|``).

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> image = weight_heatmap(ax, torch.tensor([[1.0, -2.0, 0.5]]), highlight_row=0)
    >>> ax.get_ylabel(), ax.get_xlabel()
    ('output feature (row of W)', 'input feature (column of W)')
    >>> plt.close(fig)
    """
    ax = require_axes(ax)
    W = as_tensor(weight, name="weight")
    if W.ndim == 1:
        W = W.unsqueeze(0)
    require_shape(W, (None, None), name="weight", meaning="(out_features, in_features)")
    n_out, n_in = W.shape
    if highlight_row is not None and not 0 <= highlight_row < n_out:
        raise ValueError(f"highlight_row must be in [0, {n_out - 1}]; got {highlight_row}")
    bound = limit if limit is not None else float(W.abs().max()) or 1.0
    norm = mcolors.TwoSlopeNorm(vmin=-bound, vcenter=0.0, vmax=bound)
    image = ax.imshow(W.numpy(), cmap=DIVERGING_CMAP, norm=norm, aspect="auto")
    ax.set_xlabel("input feature (column of W)")
    ax.set_ylabel("output feature (row of W)")
    _integer_ticks(ax.xaxis, n_in)
    _integer_ticks(ax.yaxis, n_out)
    ax.set_title(title if title is not None else f"W: shape ({n_out}, {n_in})")
    if annotate if annotate is not None else n_out * n_in <= 36:
        for (row, col), value in zip(
            torch.cartesian_prod(torch.arange(n_out), torch.arange(n_in)).tolist(),
            W.flatten().tolist(),
            strict=True,
        ):
            dark = abs(value) > 0.6 * bound
            ax.text(
                col,
                row,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
    if highlight_row is not None:
        ax.add_patch(
            Rectangle(
                (-0.5, highlight_row - 0.5), n_in, 1, fill=False, edgecolor="black", linewidth=2.5
            )
        )
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="weight value")
    return image


def vector_bars(
    ax: Axes, vector: object, *, name: str = "b", title: str | None = None
) -> BarContainer:
    """Draw a 1-D tensor (a bias, one output, one gradient) as bars, red positive / blue negative.

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> len(vector_bars(ax, torch.tensor([0.5, -1.0, 2.0])))
    3
    >>> plt.close(fig)
    """
    ax = require_axes(ax)
    v = as_tensor(vector, name=name)
    require_shape(v, (None,), name=name, meaning="(n,)")
    colors = ["tab:red" if value >= 0 else "tab:blue" for value in v.tolist()]
    bars = ax.bar(range(len(v)), v.numpy(), color=colors)
    ax.axhline(0.0, color="black", linewidth=0.8)
    _integer_ticks(ax.xaxis, len(v))
    ax.set_xlabel(f"index into {name}")
    ax.set_ylabel("value")
    ax.set_title(title if title is not None else f"{name}: shape ({len(v)},)")
    return bars


def per_layer_curves(
    ax: Axes,
    curves: Mapping[str, Sequence[float]],
    *,
    ylabel: str,
    title: str | None = None,
    log: bool = True,
    reference: float | None = None,
) -> list[Line2D]:
    """One line per curve: a statistic (activation std, gradient norm, ...) against layer 1…L.

    On a log axis, zeros and non-finite values are clipped into ``[LOG_FLOOR, LOG_CEILING]``
    so a dead or overflowing layer still shows. ``reference`` draws a dashed horizontal line.

    >>> from matplotlib.figure import Figure
    >>> ax = Figure().add_subplot()
    >>> lines = per_layer_curves(ax, {"default": [1.0, 0.5, 0.25]}, ylabel="std")
    >>> lines[0].get_xdata().tolist(), ax.get_yscale()
    ([1, 2, 3], 'log')
    """
    ax = require_axes(ax)
    if not curves:
        raise ValueError("curves must map a label to per-layer values; got an empty mapping")
    lines = []
    for label, values in curves.items():
        values = [float(v) for v in values]
        if not values:
            raise ValueError(f"curve {label!r} has no values; expected one per layer")
        if log:
            values = [
                LOG_CEILING if math.isnan(v) or v > LOG_CEILING else max(v, LOG_FLOOR)
                for v in values
            ]
        layers = list(range(1, len(values) + 1))
        lines += ax.plot(layers, values, marker="o", markersize=3, label=label)
    if reference is not None:
        ax.axhline(reference, color="0.4", linestyle="--", linewidth=1)
    if log:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if len(curves) > 1:
        ax.legend(fontsize=8)
    return lines


def _finite_1d(values: object, *, name: str) -> torch.Tensor:
    tensor = as_tensor(values, name=name)
    require_shape(tensor, (None,), name=name, meaning="(n_points,)")
    if not torch.isfinite(tensor).all():
        raise ValueError(
            f"{name} contains nan or inf; stop the run when the loss blows up "
            "(run_optimizer in notebook 05 does) and plot the finite part"
        )
    return tensor


def loss_curves(
    ax: Axes,
    histories: Mapping[str, object],
    *,
    log: bool = True,
    title: str | None = None,
    ylabel: str = "loss",
) -> list[Line2D]:
    """Draw one loss curve per entry of ``histories`` (``label -> 1-D losses``), step on x.

    With ``log=True`` (default) the y axis is logarithmic, where a steady convergence is a
    straight line; the losses must then be positive.

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> lines = loss_curves(ax, {"SGD": [1.0, 0.5, 0.25], "Adam": [1.0, 0.3, 0.1]})
    >>> [line.get_label() for line in lines], ax.get_yscale()
    (['SGD', 'Adam'], 'log')
    >>> plt.close(fig)
    """
    ax = require_axes(ax)
    if not isinstance(histories, Mapping) or not histories:
        raise TypeError(
            "histories must be a non-empty mapping label -> losses, e.g. {'SGD': losses}; "
            f"got {type(histories).__name__}"
        )
    lines = []
    for label, values in histories.items():
        losses = _finite_1d(values, name=f"histories[{label!r}]")
        if log and len(losses) and float(losses.min()) <= 0:
            raise ValueError(
                f"histories[{label!r}] has a loss ≤ 0 ({float(losses.min()):.3g}); a log scale "
                "needs positive values, so pass log=False"
            )
        (line,) = ax.plot(np.arange(len(losses)), losses.numpy(), label=str(label), lw=1.8)
        lines.append(line)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title if title is not None else "loss during training")
    ax.legend(fontsize=8)
    ax.grid(True, which="major", alpha=0.3)
    return lines
