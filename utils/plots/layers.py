"""Layer-level drawings: per-layer statistics, weight histograms, the shape of ``x Wᵀ + b``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from utils._validate import as_tensor, require_axes
from utils.linear_shapes import LinearShapes

#: Values are drawn no lower/higher than this on log axes (0 and overflow stay visible).
LOG_FLOOR, LOG_CEILING = 1e-12, 1e30
MATCH_COLOR, CLASH_COLOR = "tab:green", "tab:red"
ROWS_COLOR, OUT_COLOR = "tab:orange", "tab:blue"


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


def init_histogram(
    ax: Axes,
    values: object,
    *,
    bound: float | None = None,
    bins: int = 40,
    title: str | None = None,
) -> dict[str, object]:
    """Histogram of initial weights (as a density), with dashed lines at ``±bound``.

    With a ``bound``, the flat density ``1 / (2·bound)`` of ``U(-bound, bound)`` is drawn
    too, so a default-initialised layer can be compared with its formula at a glance.

    >>> from matplotlib.figure import Figure
    >>> import torch
    >>> artists = init_histogram(Figure().add_subplot(), torch.rand(100) - 0.5, bound=0.5)
    >>> sorted(artists)
    ['bars', 'bounds', 'density']
    """
    ax = require_axes(ax)
    flat = as_tensor(values, name="values").flatten()
    if flat.numel() == 0:
        raise ValueError("values is empty; expected at least one weight")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive int; got {bins!r}")
    _, _, bars = ax.hist(flat.numpy(), bins=bins, density=True, color="0.6", edgecolor="white")
    artists: dict[str, object] = {"bars": bars}
    if bound is not None:
        if not bound > 0:
            raise ValueError(f"bound must be > 0; got {bound}")
        artists["bounds"] = [
            ax.axvline(edge, color=CLASH_COLOR, linestyle="--", linewidth=1.5)
            for edge in (-bound, bound)
        ]
        (artists["density"],) = ax.plot(
            [-bound, bound],
            [1 / (2 * bound)] * 2,
            color=OUT_COLOR,
            linewidth=2,
            label=f"U(−{bound:.3g}, {bound:.3g}) density",
        )
        ax.legend(fontsize=8, loc="lower center")
    ax.set_xlabel("weight value")
    ax.set_ylabel("density")
    if title is not None:
        ax.set_title(title)
    return artists


def _length(size: int, largest: int) -> float:
    """Block side for a dimension: grows with the size, never vanishes (size 0 is drawn thin)."""
    return 0.25 + 2.0 * math.sqrt(size / max(largest, 1))


def _edge(
    ax: Axes, box: tuple[float, float, float, float], top_side: bool, color: str, size: int
) -> list[Line2D]:
    """Draw a thick coloured top (or left) edge of ``box = (left, top, width, height)``."""
    left, top, width, height = box
    if top_side:
        ax.text(
            left + width / 2,
            top + 0.08,
            str(size),
            ha="center",
            va="bottom",
            fontsize=8,
            color=color,
        )
        return ax.plot([left, left + width], [top, top], color=color, lw=5)
    ax.text(
        left - 0.08, top - height / 2, str(size), ha="right", va="center", fontsize=8, color=color
    )
    return ax.plot([left, left], [top, top - height], color=color, lw=5)


def linear_shape_diagram(ax: Axes, shapes: LinearShapes) -> dict[str, object]:
    """Draw ``x Wᵀ + b = y`` as blocks sized by their dimensions, for one :class:`LinearShapes`.

    The two inner sizes that must agree (``x``'s last dim and ``Wᵀ``'s rows) are outlined green
    when they match and red when they clash; rows (orange) and ``out_features`` (blue) are
    colour-matched across the blocks. On a clash ``y`` is replaced by the error.

    >>> from matplotlib.figure import Figure
    >>> from utils.linear_shapes import explore_linear_shapes
    >>> ax = Figure().add_subplot()
    >>> sorted(linear_shape_diagram(ax, explore_linear_shapes(3, 0, 4, 2)))
    ['W.T', 'b', 'inner', 'x', 'y']
    """
    ax = require_axes(ax)
    if not isinstance(shapes, LinearShapes):
        raise TypeError(f"shapes must be a LinearShapes; got {type(shapes).__name__}")
    rows, got = shapes.rows, shapes.input_shape[-1]
    n_out, n_in = shapes.weight_shape
    largest = max(rows, got, n_in, n_out)
    inner_color = MATCH_COLOR if got == n_in else CLASH_COLOR
    blocks = [  # name, height, width, label, colour of left/top edges
        ("x", rows, got, f"x viewed as ({rows}, {got})"),
        ("W.T", n_in, n_out, f"Wᵀ: ({n_in}, {n_out})"),
    ]
    if shapes.bias_shape is not None:
        blocks.append(("b", 1, n_out, f"b: ({n_out},)"))
    blocks.append(("y", rows, n_out, f"y viewed as ({rows}, {n_out})"))
    artists: dict[str, object] = {"inner": []}
    left, top = 0.0, 0.0
    symbols = {"W.T": "@", "b": "+", "y": "="}
    for name, height_n, width_n, label in blocks:
        if name in symbols:
            ax.text(left + 0.1, top - 1.0, symbols[name], fontsize=16, ha="center", va="center")
            left += 0.6
        height, width = _length(height_n, largest), _length(width_n, largest)
        if name == "y" and not shapes.ok:
            artists["y"] = ax.text(
                left + width / 2,
                top - height / 2,
                "RuntimeError",
                color=CLASH_COLOR,
                fontsize=11,
                ha="center",
                va="center",
                fontweight="bold",
            )
        else:
            artists[name] = ax.add_patch(
                Rectangle((left, top - height), width, height, facecolor="0.92", edgecolor="0.3")
            )
        if name == "y" and not shapes.ok:
            label = "y: never computed"
        ax.text(left + width / 2, top - height - 0.2, label, ha="center", va="top", fontsize=8)

        box = (left, top, width, height)
        # colour-coded edges: which sizes must agree
        if name == "x":
            artists["inner"] += _edge(ax, box, True, inner_color, got)
            _edge(ax, box, False, ROWS_COLOR, rows)
        elif name == "W.T":
            artists["inner"] += _edge(ax, box, False, inner_color, n_in)
            _edge(ax, box, True, OUT_COLOR, n_out)
        elif name == "b" or (name == "y" and shapes.ok):
            _edge(ax, box, True, OUT_COLOR, n_out)
            if name == "y":
                _edge(ax, box, False, ROWS_COLOR, rows)
        left += width + 0.5
    verdict = f"{got} = {n_in} ✓" if got == n_in else f"{got} ≠ {n_in} ✗"
    ax.set_title(
        f"x {shapes.input_shape} → "
        f"{shapes.output_shape if shapes.ok else 'error'}     inner sizes: {verdict}",
        color="black" if shapes.ok else CLASH_COLOR,
        fontsize=10,
    )
    ax.set_xlim(-0.3, left)
    ax.set_ylim(-2.9, 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return artists
