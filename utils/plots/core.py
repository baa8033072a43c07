"""Core drawings: weight matrices, vectors, and the plane before and after an affine map."""

from __future__ import annotations

import matplotlib.colors as mcolors
import torch
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.container import BarContainer
from matplotlib.image import AxesImage
from matplotlib.patches import FancyArrow, Polygon, Rectangle
from matplotlib.ticker import MaxNLocator

from utils._validate import as_tensor, require_axes, require_shape
from utils.affine import affine_map, grid_lines, unit_square

#: Diverging colormap: blue for negative weights, white at zero, red for positive.
DIVERGING_CMAP = "RdBu_r"
BEFORE_COLOR = "0.75"
AFTER_COLOR = "tab:blue"


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


def affine_grid(
    ax: Axes,
    A: object,
    b: object,
    *,
    extent: float = 2.0,
    view: float | None = None,
    legend: bool = True,
) -> dict[str, object]:
    """Draw how ``x ↦ A x + b`` warps the plane: grid, unit square and basis vectors.

    Grey shows the plane before the map, blue after it. The images of the basis vectors
    ``e₁, e₂`` are the columns of ``A``, drawn from the new origin ``b``; the unit square
    becomes a parallelogram of signed area ``det A``. Returns the artists by name.

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> sorted(affine_grid(ax, torch.eye(2), torch.zeros(2)))
    ['after_grid', 'after_square', 'before_grid', 'before_square', 'e1', 'e2']
    >>> plt.close(fig)
    """
    ax = require_axes(ax)
    A_t = as_tensor(A, name="A")
    b_t = as_tensor(b, name="b")
    require_shape(A_t, (2, 2), name="A", meaning="(2, 2)")
    require_shape(b_t, (2,), name="b", meaning="(2,)")
    lines = grid_lines(extent=extent)
    moved = affine_map(torch.cat(lines), A_t, b_t).split([len(line) for line in lines])
    # One LineCollection per grid instead of one Line2D per grid line: far cheaper to redraw.
    artists: dict[str, object] = {
        "before_grid": ax.add_collection(
            LineCollection([line.numpy() for line in lines], colors=BEFORE_COLOR, linewidths=0.6)
        ),
        "after_grid": ax.add_collection(
            LineCollection([line.numpy() for line in moved], colors=AFTER_COLOR, linewidths=0.8)
        ),
    }
    square = unit_square()
    artists["before_square"] = ax.add_patch(
        Polygon(square.numpy(), closed=True, facecolor="0.85", edgecolor="0.5", alpha=0.6)
    )
    artists["after_square"] = ax.add_patch(
        Polygon(
            affine_map(square, A_t, b_t).numpy(),
            closed=True,
            facecolor="tab:orange",
            edgecolor="tab:orange",
            alpha=0.35,
        )
    )
    for name, column, color in (("e1", 0, "tab:red"), ("e2", 1, "tab:green")):
        dx, dy = A_t[:, column].tolist()
        artists[name] = ax.add_patch(
            FancyArrow(
                float(b_t[0]),
                float(b_t[1]),
                dx,
                dy,
                width=0.03,
                length_includes_head=True,
                color=color,
                label=f"A e{column + 1} (column {column + 1} of A)",
            )
        )
    reach = (
        view
        if view is not None
        else max(
            extent,
            float(
                affine_map(torch.tensor([[extent, extent], [extent, -extent]]), A_t, b_t)
                .abs()
                .max()
            ),
        )
    )
    ax.set_xlim(-reach, reach)
    ax.set_ylim(-reach, reach)
    ax.set_aspect("equal")
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    if legend:
        ax.legend(loc="upper left", fontsize=8)
    return artists


def point_cloud(
    ax: Axes,
    before: object,
    after: object | None = None,
    *,
    labels: tuple[str, str] = ("x", "A x + b"),
) -> list[object]:
    """Scatter 2-D points, and optionally where a map sent them, with faint arrows between.

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> len(point_cloud(ax, torch.zeros(5, 2), torch.ones(5, 2)))
    2
    >>> plt.close(fig)
    """
    ax = require_axes(ax)
    P = as_tensor(before, name="before")
    require_shape(P, (None, 2), name="before", meaning="(n_points, 2)")
    artists = [ax.scatter(P[:, 0], P[:, 1], s=12, color=BEFORE_COLOR, label=labels[0])]
    if after is not None:
        Q = as_tensor(after, name="after")
        require_shape(Q, tuple(P.shape), name="after", meaning="(n_points, 2), like before")
        for p, q in zip(P.tolist(), Q.tolist(), strict=True):
            ax.annotate(
                "", xy=q, xytext=p, arrowprops={"arrowstyle": "->", "color": "0.8", "lw": 0.5}
            )
        artists.append(ax.scatter(Q[:, 0], Q[:, 1], s=12, color=AFTER_COLOR, label=labels[1]))
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="best", fontsize=8)
    return artists
