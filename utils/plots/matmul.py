"""Picture for notebook 07: ``Y = X Wᵀ + b`` drawn as coloured blocks, one output traced back.

The four blocks sit side by side, each cell coloured by its value (red positive, blue
negative). For a chosen output element ``Y[row, col]`` the picture outlines the row of ``X``
and the column of ``Wᵀ`` (= row ``col`` of ``W``) whose dot product, plus ``b[col]``, makes it.
"""

from __future__ import annotations

import matplotlib.colors as mcolors
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator

from utils._validate import as_tensor, require_axes, require_shape
from utils.plots.core import DIVERGING_CMAP

#: Horizontal space between blocks, in cells (room for the ·, + and = signs).
GAP = 1.6
HIGHLIGHT = {"fill": False, "edgecolor": "black", "linewidth": 2.5}


def _block(ax: Axes, values, left: float, title: str):
    rows, cols = values.shape
    bound = float(values.abs().max()) or 1.0
    image = ax.imshow(
        values.numpy(),
        cmap=DIVERGING_CMAP,
        norm=mcolors.TwoSlopeNorm(vmin=-bound, vcenter=0.0, vmax=bound),
        extent=(left, left + cols, rows, 0),
        origin="upper",
        interpolation="nearest",
    )
    ax.add_patch(Rectangle((left, 0), cols, rows, fill=False, edgecolor="0.3", linewidth=0.8))
    ax.text(left + cols / 2, -0.35, title, ha="center", va="bottom", fontsize=9)
    return image


def matmul_blocks(
    ax: Axes,
    X: object,
    W: object,
    b: object | None = None,
    *,
    row: int | None = None,
    col: int | None = None,
) -> dict[str, object]:
    """Draw ``X · Wᵀ + b = Y`` as blocks; outline what produces ``Y[row, col]``.

    ``X`` is ``(batch, in)``, ``W`` is ``(out, in)`` like ``nn.Linear.weight``, ``b`` is
    ``(out,)`` or ``None``. Give ``row`` and ``col`` together, or neither. Returns the
    images (``"X"``, ``"WT"``, ``"b"``, ``"Y"``) and, when highlighting, the outlines
    (``"row"``, ``"col"``, ``"bias"``, ``"cell"``).

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> import torch
    >>> fig, ax = plt.subplots()
    >>> artists = matmul_blocks(ax, torch.ones(3, 4), torch.ones(2, 4), torch.zeros(2),
    ...                         row=2, col=1)
    >>> sorted(artists)
    ['WT', 'X', 'Y', 'b', 'bias', 'cell', 'col', 'row']
    >>> plt.close(fig)
    """
    ax = require_axes(ax)
    X_t = as_tensor(X, name="X")
    require_shape(X_t, (None, None), name="X", meaning="(batch, in_features)")
    batch, n_in = X_t.shape
    W_t = as_tensor(W, name="W")
    require_shape(W_t, (None, n_in), name="W", meaning="(out_features, in_features)")
    n_out = W_t.shape[0]
    b_t = None
    if b is not None:
        b_t = as_tensor(b, name="b")
        require_shape(b_t, (n_out,), name="b", meaning="(out_features,)")
    if min(batch, n_in, n_out) < 1:
        raise ValueError(
            f"every size must be at least 1; got batch {batch}, in {n_in}, out {n_out}"
        )
    if (row is None) != (col is None):
        raise ValueError(f"give row and col together (or neither); got row={row}, col={col}")
    if row is not None and not 0 <= row < batch:
        raise ValueError(f"row must be in [0, {batch - 1}] (a row of X); got {row}")
    if col is not None and not 0 <= col < n_out:
        raise ValueError(f"col must be in [0, {n_out - 1}] (an output feature); got {col}")

    Y = X_t @ W_t.T + (b_t if b_t is not None else 0.0)
    artists: dict[str, object] = {}
    left = 0.0
    artists["X"] = _block(ax, X_t, left, f"X ({batch}×{n_in})")
    x_wt = left + n_in + GAP
    ax.text(x_wt - GAP / 2, batch / 2, "·", ha="center", va="center", fontsize=16)
    artists["WT"] = _block(ax, W_t.T, x_wt, f"Wᵀ ({n_in}×{n_out})")
    right = x_wt + n_out + GAP
    if b_t is not None:
        ax.text(right - GAP / 2, batch / 2, "+", ha="center", va="center", fontsize=14)
        artists["b"] = _block(ax, b_t[None, :], right, f"b ({n_out},)")
        x_b = right
        right += n_out + GAP
    ax.text(right - GAP / 2, batch / 2, "=", ha="center", va="center", fontsize=14)
    artists["Y"] = _block(ax, Y, right, f"Y ({batch}×{n_out})")

    if row is not None and col is not None:
        artists["row"] = ax.add_patch(Rectangle((0, row), n_in, 1, **HIGHLIGHT))
        artists["col"] = ax.add_patch(Rectangle((x_wt + col, 0), 1, n_in, **HIGHLIGHT))
        if b_t is not None:
            artists["bias"] = ax.add_patch(Rectangle((x_b + col, 0), 1, 1, **HIGHLIGHT))
        artists["cell"] = ax.add_patch(Rectangle((right + col, row), 1, 1, **HIGHLIGHT))
    ax.set_xlim(-0.3, right + n_out + 0.3)
    ax.set_ylim(max(batch, n_in) + 0.3, -1.4)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return artists


def gflops_curves(
    ax: Axes,
    x: object,
    curves: dict[str, object],
    *,
    peak: float | None = None,
    xlabel: str = "FLOPs per call",
    ticks_at_points: bool = False,
) -> dict[str, object]:
    """Plot achieved GFLOP/s against ``x`` (log-log), one line per variant, plus the peak.

    ``curves`` maps a label (``"F.linear"``) to one GFLOP/s value per ``x``. ``peak`` draws
    the machine's measured matmul rate as a dashed ceiling. ``ticks_at_points`` labels the
    x axis at the given ``x`` values (good for a handful of batch sizes).

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> artists = gflops_curves(ax, [1e3, 1e6], {"F.linear": [0.5, 20.0]}, peak=50.0)
    >>> sorted(artists)
    ['F.linear', 'peak']
    >>> plt.close(fig)
    """
    ax = require_axes(ax)
    xs = as_tensor(x, name="x")
    require_shape(xs, (None,), name="x", meaning="(points,)")
    if not curves:
        raise ValueError("curves is empty: give at least one {label: values}")
    artists: dict[str, object] = {}
    for label, values in curves.items():
        ys = as_tensor(values, name=f"curves[{label!r}]")
        require_shape(ys, (len(xs),), name=f"curves[{label!r}]", meaning="(points,), like x")
        if not bool((ys > 0).all()) or not bool((xs > 0).all()):
            raise ValueError(f"x and curves[{label!r}] must be positive for a log-log plot")
        (artists[label],) = ax.plot(xs, ys, marker="o", ms=4, label=label)
    if peak is not None:
        if not peak > 0:
            raise ValueError(f"peak must be > 0; got {peak}")
        artists["peak"] = ax.axhline(
            peak, color="black", ls="--", lw=1, label=f"measured matmul peak {peak:.0f} GFLOP/s"
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain = FuncFormatter(lambda value, _position: f"{value:g}")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))  # 1, 2, 5, 10, 20, …
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda _value, _position: ""))
    if ticks_at_points:
        ax.set_xticks(xs.tolist(), labels=[f"{value:g}" for value in xs.tolist()])
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda _value, _position: ""))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("achieved GFLOP/s")
    ax.legend(loc="lower right", fontsize=8)
    return artists
