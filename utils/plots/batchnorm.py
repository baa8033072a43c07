"""Pictures for notebook 06: activations before/after BatchNorm, running statistics over time."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from utils._validate import as_tensor, require_axes
from utils.plots.core import AFTER_COLOR

BEFORE_BN_COLOR = "0.55"
MEAN_COLOR = "tab:orange"
VAR_COLOR = "tab:green"


def bn_histograms(
    ax: Axes,
    before: object,
    after: object,
    *,
    bins: int = 30,
    labels: tuple[str, str] = ("before BN", "after BN"),
    legend: bool = True,
) -> dict[str, object]:
    """Overlay the value histograms of a BatchNorm input and output (any shapes, flattened).

    Both are density-normalised, each with its own bins, so a narrow spike and a wide bump
    are comparable. The legend gives each one's mean and standard deviation (``legend=False``
    leaves it out). Returns ``{"before": patch, "after": patch}``.

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> import torch
    >>> fig, ax = plt.subplots()
    >>> sorted(bn_histograms(ax, 3 + 2 * torch.randn(100, 4), torch.randn(100, 4)))
    ['after', 'before']
    >>> plt.close(fig)
    """
    ax = require_axes(ax)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive int; got {bins!r}")
    artists: dict[str, object] = {}
    for key, values, label, color in (
        ("before", before, labels[0], BEFORE_BN_COLOR),
        ("after", after, labels[1], AFTER_COLOR),
    ):
        flat = as_tensor(values, name=key).flatten()
        if flat.numel() == 0:
            raise ValueError(f"{key} holds no values; got shape {tuple(flat.shape)}")
        if not bool(flat.isfinite().all()):
            raise ValueError(f"{key} contains NaN or inf values")
        _, _, patches = ax.hist(
            flat.numpy(),
            bins=bins,
            density=True,
            histtype="stepfilled",
            alpha=0.55,
            color=color,
            label=f"{label}: mean {round(float(flat.mean()), 2) + 0.0:+.2f}, "  # no "-0.00"
            f"std {flat.std(correction=0):.2f}",
        )
        artists[key] = patches[0]  # stepfilled: one Polygon outlining the whole histogram
    ax.set_xlabel("activation value")
    ax.set_ylabel("density")
    if legend:
        ax.legend(loc="upper left", fontsize=8)
    return artists


def running_stats(
    ax: Axes,
    means: object,
    variances: object,
    *,
    true_mean: float | None = None,
    true_var: float | None = None,
    legend: bool = True,
) -> dict[str, list[Line2D]]:
    """Draw running mean and running variance against the training step.

    ``means`` and ``variances`` have shape ``(steps,)`` or ``(steps, C)`` (one thin line per
    feature). ``true_mean`` / ``true_var`` draw dashed targets the estimates should approach.
    ``legend=False`` leaves the legend out (a slider demo saves the drawing time).

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> import torch
    >>> fig, ax = plt.subplots()
    >>> lines = running_stats(ax, torch.zeros(5, 3), torch.ones(5, 3), true_mean=0.0)
    >>> len(lines["mean"]), len(lines["var"]), len(lines["targets"])
    (3, 3, 1)
    >>> plt.close(fig)
    """
    ax = require_axes(ax)
    m = as_tensor(means, name="means")
    v = as_tensor(variances, name="variances")
    if m.ndim == 1:
        m = m[:, None]
    if v.ndim == 1:
        v = v[:, None]
    if m.ndim != 2 or m.shape[0] == 0:
        raise ValueError(f"means must have shape (steps,) or (steps, C); got {tuple(m.shape)}")
    if tuple(v.shape) != tuple(m.shape):
        raise ValueError(
            f"variances must have the same shape as means {tuple(m.shape)}; got {tuple(v.shape)}"
        )
    steps = range(m.shape[0])
    width = 1.5 if m.shape[1] == 1 else 0.9
    lines: dict[str, list[Line2D]] = {"mean": [], "var": [], "targets": []}
    for column in range(m.shape[1]):
        label_mean = "running_mean" if column == 0 else None
        label_var = "running_var" if column == 0 else None
        lines["mean"] += ax.plot(steps, m[:, column], color=MEAN_COLOR, lw=width, label=label_mean)
        lines["var"] += ax.plot(steps, v[:, column], color=VAR_COLOR, lw=width, label=label_var)
    for target, color, name in (
        (true_mean, MEAN_COLOR, "true mean"),
        (true_var, VAR_COLOR, "true var"),
    ):
        if target is not None:
            lines["targets"].append(ax.axhline(target, color=color, ls="--", lw=1, label=name))
    ax.set_xlabel("training step (batches seen)")
    ax.set_ylabel("estimate")
    if legend:
        ax.legend(loc="best", fontsize=8)
    return lines


def seed_loss_curves(
    ax: Axes, losses: object, *, label: str = "loss", color: str = AFTER_COLOR
) -> dict[str, list[Line2D]]:
    """Draw one thin loss curve per seed and their mean, thick (log-scale y).

    ``losses`` has shape ``(seeds, steps)``. Seeing every seed shows how much of a gap
    between two set-ups is just run-to-run noise.

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> import torch
    >>> fig, ax = plt.subplots()
    >>> lines = seed_loss_curves(ax, torch.rand(3, 10) + 0.1, label="BN before ReLU")
    >>> len(lines["seeds"]), len(lines["mean"])
    (3, 1)
    >>> plt.close(fig)
    """
    ax = require_axes(ax)
    curves = as_tensor(losses, name="losses")
    if curves.ndim == 1:
        curves = curves[None, :]
    if curves.ndim != 2 or curves.shape[1] == 0:
        raise ValueError(f"losses must have shape (seeds, steps); got {tuple(curves.shape)}")
    if not bool((curves > 0).all()):
        raise ValueError("losses must be positive to draw on a log scale")
    steps = range(curves.shape[1])
    lines: dict[str, list[Line2D]] = {"seeds": [], "mean": []}
    for curve in curves:
        lines["seeds"] += ax.plot(steps, curve, color=color, lw=0.7, alpha=0.45)
    lines["mean"] += ax.plot(
        steps, curves.mean(dim=0), color=color, lw=2, label=f"{label} (mean of {len(curves)})"
    )
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss (log scale)")
    ax.legend(loc="upper right", fontsize=8)
    return lines
