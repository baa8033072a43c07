"""Training drawings: loss curves, optimiser paths on a loss surface, decision boundaries."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.colors as mcolors
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from utils._validate import as_tensor, require_axes, require_shape

#: One colour per class in the 2-D classification plots (class 0, class 1).
CLASS_COLORS = ("tab:blue", "tab:red")


def _finite_1d(values: object, *, name: str) -> torch.Tensor:
    tensor = as_tensor(values, name=name)
    require_shape(tensor, (None,), name=name, meaning="(n_points,)")
    if not torch.isfinite(tensor).all():
        raise ValueError(
            f"{name} contains nan or inf; stop the run when the loss blows up "
            "(e.g. utils.training.run_optimizer does) and plot the finite part"
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


def trajectory_contour(
    ax: Axes,
    w1s: object,
    w2s: object,
    surface: object,
    paths: Mapping[str, object],
    *,
    target: object | None = None,
    levels: int = 15,
    title: str | None = None,
) -> dict[str, object]:
    """Draw a loss surface as contours and each optimiser's path ``(steps, 2)`` on top of it.

    ``surface[i, j]`` is the loss at ``(w1s[j], w2s[i])`` (see
    :func:`utils.training.loss_surface`). Contour levels are spaced logarithmically, so the
    flat valley floor shows as well as the steep walls. The view stays on the grid: a path
    that leaves it (a diverging run) is cut at the border instead of rescaling the plot.
    ``target`` marks the minimum with a star.

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> w = torch.linspace(-1, 1, 5)
    >>> artists = trajectory_contour(ax, w, w, w[None, :] ** 2 + w[:, None] ** 2 + 0.1,
    ...                              {"GD": [[1.0, 1.0], [0.5, 0.5], [0.0, 0.0]]}, target=[0, 0])
    >>> sorted(artists), [float(limit) for limit in ax.get_xlim()]
    (['contours', 'paths', 'target'], [-1.0, 1.0])
    >>> plt.close(fig)
    """
    ax = require_axes(ax)
    x = _finite_1d(w1s, name="w1s")
    y = _finite_1d(w2s, name="w2s")
    Z = as_tensor(surface, name="surface")
    require_shape(Z, (len(y), len(x)), name="surface", meaning="(len(w2s), len(w1s))")
    if not torch.isfinite(Z).all():
        raise ValueError("surface contains nan or inf")
    if not isinstance(paths, Mapping):
        raise TypeError(f"paths must be a mapping label -> (steps, 2) tensor; got {type(paths)}")
    positive = Z[Z > 0]
    high = float(Z.max())
    low = float(positive.min()) if len(positive) else high
    if high <= low * (1 + 1e-9):
        contours = ax.contourf(x.numpy(), y.numpy(), Z.numpy(), cmap="viridis")
    else:
        bounds = np.geomspace(low, high, levels)
        contours = ax.contour(
            x.numpy(),
            y.numpy(),
            Z.numpy(),
            levels=bounds,
            cmap="viridis",
            norm=mcolors.LogNorm(low, high),
            linewidths=0.8,
        )
    drawn = []
    for label, values in paths.items():
        path = as_tensor(values, name=f"paths[{label!r}]")
        require_shape(path, (None, 2), name=f"paths[{label!r}]", meaning="(steps, 2)")
        if not torch.isfinite(path).all():
            raise ValueError(f"paths[{label!r}] contains nan or inf; plot the finite part")
        (line,) = ax.plot(path[:, 0], path[:, 1], marker=".", ms=4, lw=1.2, label=str(label))
        ax.plot(path[:1, 0], path[:1, 1], "o", color=line.get_color(), mfc="white", ms=7)
        drawn.append(line)
    artists: dict[str, object] = {"contours": contours, "paths": drawn}
    if target is not None:
        t = as_tensor(target, name="target")
        require_shape(t, (2,), name="target", meaning="(2,)")
        (artists["target"],) = ax.plot(
            [float(t[0])], [float(t[1])], "*", color="black", ms=14, label="minimum"
        )
    ax.set_xlim(float(x[0]), float(x[-1]))
    ax.set_ylim(float(y[0]), float(y[-1]))
    ax.set_xlabel("w₁")
    ax.set_ylabel("w₂")
    ax.set_title(title if title is not None else "loss surface and optimiser paths")
    if drawn or target is not None:
        ax.legend(fontsize=8, loc="upper right")
    return artists


def unit_lines(
    ax: Axes,
    weight: object,
    bias: object,
    *,
    limits: tuple[float, float, float, float] | None = None,
    color: str = "0.25",
) -> list[Line2D]:
    """Draw each first-layer unit ``w_j · x + b_j = 0`` as a dashed line across the view.

    Unit ``j`` (row ``j`` of ``weight``, shape ``(width, 2)``) is positive on one side of its
    line and, after the ReLU, exactly zero on the other. Units with ``w_j ≈ 0`` have no line.

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> lines = unit_lines(ax, [[1.0, 0.0], [1.0, 1.0]], [-1.0, 0.0], limits=(-2, 2, -2, 2))
    >>> len(lines), lines[0].get_xdata().tolist()  # x₁ = 1 is a vertical line
    (2, [1.0, 1.0])
    >>> plt.close(fig)
    """
    ax = require_axes(ax)
    W = as_tensor(weight, name="weight")
    require_shape(W, (None, 2), name="weight", meaning="(width, 2)")
    b = as_tensor(bias, name="bias")
    require_shape(b, (len(W),), name="bias", meaning="(width,)")
    x_min, x_max, y_min, y_max = limits if limits is not None else (*ax.get_xlim(), *ax.get_ylim())
    lines = []
    for (w1, w2), b_j in zip(W.tolist(), b.tolist(), strict=True):
        if max(abs(w1), abs(w2)) < 1e-8:
            continue
        if abs(w2) >= abs(w1):  # solve for x₂ along the x₁ range
            xs = np.array([x_min, x_max])
            ys = -(b_j + w1 * xs) / w2
        else:  # steep line: solve for x₁ along the x₂ range
            ys = np.array([y_min, y_max])
            xs = -(b_j + w2 * ys) / w1
        (line,) = ax.plot(xs, ys, ls="--", lw=0.9, color=color, alpha=0.8)
        lines.append(line)
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    return lines


def decision_boundary(
    ax: Axes,
    xs: object,
    ys: object,
    probs: object,
    X: object,
    y: object,
    *,
    unit_weight: object | None = None,
    unit_bias: object | None = None,
    title: str | None = None,
) -> dict[str, object]:
    """Shade ``P(class 1)`` over the plane, draw the 0.5 boundary, the points, the unit lines.

    ``probs[i, j]`` is the probability at ``(xs[j], ys[i])`` (see
    :func:`utils.training.decision_grid`); ``X`` is ``(n, 2)`` with labels ``y`` in {0, 1}.
    Give ``unit_weight`` ``(width, 2)`` and ``unit_bias`` ``(width,)`` to overlay the
    first-layer units as dashed lines (:func:`unit_lines`).

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> g = torch.linspace(-1, 1, 20)
    >>> P = torch.sigmoid(4 * g)[None, :].expand(20, 20)  # class 1 on the right
    >>> artists = decision_boundary(ax, g, g, P, [[-0.5, 0.0], [0.5, 0.0]], [0, 1],
    ...                             unit_weight=[[1.0, 0.0]], unit_bias=[0.0])
    >>> sorted(artists), len(artists["units"])
    (['boundary', 'points', 'shading', 'units'], 1)
    >>> plt.close(fig)
    """
    ax = require_axes(ax)
    gx = _finite_1d(xs, name="xs")
    gy = _finite_1d(ys, name="ys")
    P = as_tensor(probs, name="probs")
    require_shape(P, (len(gy), len(gx)), name="probs", meaning="(len(ys), len(xs))")
    if not torch.isfinite(P).all() or float(P.min()) < 0 or float(P.max()) > 1:
        raise ValueError("probs must be probabilities in [0, 1]")
    points = as_tensor(X, name="X")
    require_shape(points, (None, 2), name="X", meaning="(n_points, 2)")
    labels = torch.as_tensor(y).reshape(-1)
    if len(labels) != len(points) or not bool(((labels == 0) | (labels == 1)).all()):
        raise ValueError(f"y must hold one label 0 or 1 per row of X ({len(points)} rows)")
    shading = ax.contourf(
        gx.numpy(), gy.numpy(), P.numpy(), levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.45
    )
    boundary = None
    if float(P.min()) < 0.5 < float(P.max()):
        boundary = ax.contour(
            gx.numpy(), gy.numpy(), P.numpy(), levels=[0.5], colors="black", linewidths=1.6
        )
    scatters = []
    for label, color in enumerate(CLASS_COLORS):
        chosen = points[labels == label]
        scatters.append(
            ax.scatter(
                chosen[:, 0],
                chosen[:, 1],
                s=14,
                color=color,
                edgecolor="white",
                lw=0.4,
                label=f"class {label}",
            )
        )
    artists: dict[str, object] = {"shading": shading, "boundary": boundary, "points": scatters}
    limits = (float(gx[0]), float(gx[-1]), float(gy[0]), float(gy[-1]))
    if (unit_weight is None) != (unit_bias is None):
        raise ValueError("give both unit_weight and unit_bias, or neither")
    if unit_weight is not None:
        artists["units"] = unit_lines(ax, unit_weight, unit_bias, limits=limits)
    ax.set_xlim(limits[0], limits[1])
    ax.set_ylim(limits[2], limits[3])
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.set_title(title if title is not None else "decision boundary (P = 0.5)")
    ax.legend(fontsize=8, loc="upper right")
    return artists


def train_val_curves(
    ax: Axes,
    steps: object,
    train: object,
    val: object,
    *,
    label: str = "",
    color: str | None = None,
    ylabel: str = "loss",
) -> list[Line2D]:
    """Draw a training curve (solid) and its validation curve (dashed) in one colour.

    Call it once per setting (``label="weight decay"`` …) to compare settings on one axes;
    the space between a pair of curves is the generalisation gap.

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> train, val = train_val_curves(ax, [0, 10, 20], [1.0, 0.5, 0.1], [1.0, 0.7, 0.9])
    >>> train.get_color() == val.get_color(), val.get_linestyle()
    (True, '--')
    >>> plt.close(fig)
    """
    ax = require_axes(ax)
    x = _finite_1d(steps, name="steps")
    t = _finite_1d(train, name="train")
    v = _finite_1d(val, name="val")
    if not len(x) == len(t) == len(v):
        raise ValueError(
            f"steps, train and val must have the same length; got {len(x)}, {len(t)}, {len(v)}"
        )
    prefix = f"{label}: " if label else ""
    (train_line,) = ax.plot(x.numpy(), t.numpy(), color=color, lw=1.8, label=f"{prefix}train")
    (val_line,) = ax.plot(
        x.numpy(), v.numpy(), color=train_line.get_color(), lw=1.8, ls="--", label=f"{prefix}val"
    )
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    return [train_line, val_line]
