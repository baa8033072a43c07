"""Notebook 07 (Linear + BatchNorm1d): the bias-free ``NormalizedLinear``, folding BatchNorm
into the Linear for inference, the running-statistics demo and the exercise self-checks.

Batch norm by hand (batch mean, biased variance, the running-buffer update) is written in the
notebook's own cells and exercises; this module holds only what the cells call.

- §4 uses :func:`build_demo` and its compute function :func:`simulate_batchnorm`.
- §5 and §7 use :class:`NormalizedLinear`; §7 uses :func:`fold_batchnorm`.
- §6 uses :func:`seed_loss_curves` (and ``utils.threads``).
- §9 uses :func:`check_batchnorm_forward`, :func:`check_running_update`, :func:`check_fold`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon
from matplotlib.ticker import MaxNLocator
from torch import nn

from utils._validate import as_tensor, require_axes, require_int, require_shape
from utils.check import NOT_ATTEMPTED, attempt, expect, expect_tensor, passed
from utils.plot import AFTER_COLOR
from utils.widgets import SliderDemo, float_slider, int_slider, slider_demo

BEFORE_BN_COLOR = "0.55"
MEAN_COLOR = "tab:orange"
VAR_COLOR = "tab:green"


class NormalizedLinear(nn.Module):
    """The article's ``NormalizedLinear`` done right: ``Linear(bias=False)`` → ``BatchNorm1d``.

    In training mode BatchNorm subtracts each feature's batch mean, which contains the Linear
    bias, so that bias cancels exactly: it changes nothing and gets a zero gradient. BatchNorm's
    shift β plays the bias's role. Used in notebook 07, sections 5 and 7.

    >>> layer = NormalizedLinear(10, 2)
    >>> layer.linear.bias is None, sum(p.numel() for p in layer.parameters())
    (True, 24)
    >>> layer(torch.randn(8, 10)).shape
    torch.Size([8, 2])
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        require_int(in_features, name="in_features")
        require_int(out_features, name="out_features")
        self.linear = nn.Linear(in_features, out_features, bias=False)
        self.bn = nn.BatchNorm1d(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.linear(x))


def fold_batchnorm(linear: nn.Linear, bn: nn.BatchNorm1d) -> nn.Linear:
    """A new ``nn.Linear`` equal to ``bn(linear(x))`` for an ``eval()``-mode ``bn``.

    With ``σ = sqrt(running_var + eps)``: ``W' = (γ/σ) · W`` row by row and
    ``b' = γ (b − μ) / σ + β``, where ``b = 0`` without a Linear bias and ``γ = 1, β = 0``
    for ``affine=False``. The inputs are left untouched. Used in notebook 07, section 7.

    >>> linear, bn = nn.Linear(3, 2), nn.BatchNorm1d(2).eval()
    >>> x = torch.randn(4, 3)
    >>> torch.allclose(fold_batchnorm(linear, bn)(x), bn(linear(x)), atol=1e-6)
    True
    """
    if not (isinstance(linear, nn.Linear) and isinstance(bn, nn.BatchNorm1d)):
        raise TypeError(
            "fold_batchnorm takes (nn.Linear, nn.BatchNorm1d); "
            f"got ({type(linear).__name__}, {type(bn).__name__})"
        )
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(
            "bn has no running statistics (track_running_stats=False), so it always "
            "normalises with batch statistics: there is no fixed affine map to fold"
        )
    if bn.training:
        raise ValueError(
            "bn is in training mode, where it normalises with batch statistics; "
            "call bn.eval() so it uses running_mean/running_var, then fold"
        )
    if bn.num_features != linear.out_features:
        raise ValueError(
            f"bn.num_features must equal linear.out_features; got {bn.num_features} "
            f"and {linear.out_features}"
        )
    with torch.no_grad():
        sigma = torch.sqrt(bn.running_var + bn.eps)
        gamma = bn.weight if bn.weight is not None else torch.ones_like(sigma)
        beta = bn.bias if bn.bias is not None else torch.zeros_like(sigma)
        b = linear.bias if linear.bias is not None else torch.zeros_like(sigma)
        scale = gamma / sigma
        weight = linear.weight
        folded = nn.Linear(
            linear.in_features, linear.out_features, device=weight.device, dtype=weight.dtype
        )
        folded.weight.copy_(scale[:, None] * weight)
        folded.bias.copy_(scale * (b - bn.running_mean) + beta)
    return folded.train(linear.training)


def seed_loss_curves(
    ax: Axes, losses: object, *, label: str = "loss", color: str = AFTER_COLOR
) -> dict[str, list[Line2D]]:
    """Draw one thin loss curve per seed and their mean, thick, on a log-scale y axis.

    ``losses`` has shape ``(seeds, steps)``. Seeing every seed shows how much of a gap between
    two set-ups is run-to-run noise. Used in notebook 07, section 6.

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> lines = seed_loss_curves(ax, torch.rand(3, 10) + 0.1, label="BN before ReLU")
    >>> len(lines["seeds"]), len(lines["mean"])
    (3, 1)
    >>> plt.close(fig)
    """
    ax = require_axes(ax)
    curves = as_tensor(losses, name="losses")
    require_shape(curves, (None, None), name="losses", meaning="(seeds, steps)")
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
    ax.set(xlabel="training step", ylabel="training loss (log scale)")
    ax.legend(loc="upper right", fontsize=8)
    return lines


# ---------------------------------------------------------------------------- §4 slider demo

#: One value per feature has no spread: BatchNorm refuses a batch of 1 in training mode.
MIN_BATCH = 2
BATCH_RANGE = (MIN_BATCH, 128)
SHIFT_RANGE = (-5.0, 5.0)
SCALE_RANGE = (0.1, 4.0)
MOMENTUM_RANGE = (0.01, 1.0)
STEPS = 60
FEATURES = 4
#: BatchNorm1d's default epsilon.
EPS = 1e-5
HIST_TICKS = (-15, -10, -5, 0, 5, 10, 15)


class BatchNormRun(NamedTuple):
    """What :func:`simulate_batchnorm` returns."""

    before: torch.Tensor  # BatchNorm inputs, shape (steps, batch, features)
    after: torch.Tensor  # training-mode outputs (γ = 1, β = 0), same shape
    running_mean: torch.Tensor  # after each step, shape (steps + 1, features); row 0 is 0
    running_var: torch.Tensor  # after each step, shape (steps + 1, features); row 0 is 1


@lru_cache(maxsize=64)
def simulate_batchnorm(
    batch_size: int,
    shift: float,
    scale: float,
    momentum: float,
    *,
    steps: int = STEPS,
    features: int = FEATURES,
    seed: int = 0,
) -> BatchNormRun:
    """Run ``steps`` training-mode BatchNorm passes on batches of ``shift + scale · N(0, 1)``.

    The same numbers as ``nn.BatchNorm1d(features, momentum=momentum)`` fed the batches one by
    one, all steps at once. Cached: the same settings return the same (read-only) tensors.
    Used in notebook 07, section 4.

    >>> run = simulate_batchnorm(64, 3.0, 2.0, 0.1)
    >>> run.after.shape, run.running_mean.shape
    (torch.Size([60, 64, 4]), torch.Size([61, 4]))
    >>> round(float(run.after[0].mean()), 4) == 0.0
    True
    """
    if batch_size < MIN_BATCH:
        raise ValueError(
            f"batch_size must be at least {MIN_BATCH} in training mode; got {batch_size}"
        )
    generator = torch.Generator().manual_seed(seed)
    before = shift + scale * torch.randn(steps, batch_size, features, generator=generator)
    mean = before.mean(dim=1, keepdim=True)
    after = (before - mean) / torch.sqrt(before.var(dim=1, keepdim=True, correction=0) + EPS)
    batch_means, batch_vars = mean[:, 0], before.var(dim=1)  # unbiased for the buffers
    running_mean, running_var = [torch.zeros(features)], [torch.ones(features)]
    for batch_mean, batch_var in zip(batch_means, batch_vars, strict=True):
        running_mean.append((1 - momentum) * running_mean[-1] + momentum * batch_mean)
        running_var.append((1 - momentum) * running_var[-1] + momentum * batch_var)
    return BatchNormRun(before, after, torch.stack(running_mean), torch.stack(running_var))


def bn_histograms(ax: Axes, before: torch.Tensor, after: torch.Tensor) -> dict[str, Polygon]:
    """Overlay density histograms of a BatchNorm input and output; the legend gives mean, std."""
    artists = {}
    for key, values, color in (("before", before, BEFORE_BN_COLOR), ("after", after, AFTER_COLOR)):
        flat = values.flatten()
        _, _, patches = ax.hist(
            flat.numpy(),
            bins=30,
            density=True,
            histtype="stepfilled",
            alpha=0.55,
            color=color,
            label=f"{key} BN: mean {round(float(flat.mean()), 2) + 0.0:+.2f}, "  # no "-0.00"
            f"std {flat.std(correction=0):.2f}",
        )
        artists[key] = patches[0]  # stepfilled: one Polygon outlines the whole histogram
    ax.set(xlabel="activation value", ylabel="density")
    ax.legend(loc="upper left", fontsize=8)
    return artists


def running_stats_curves(
    ax: Axes,
    means: torch.Tensor,
    variances: torch.Tensor,
    *,
    true_mean: float,
    true_var: float,
) -> dict[str, list[Line2D]]:
    """Running mean and variance of each feature (columns) against the step, dashed targets."""
    steps = range(len(means))
    lines = {
        "mean": ax.plot(steps, means.numpy(), color=MEAN_COLOR, lw=0.9),
        "var": ax.plot(steps, variances.numpy(), color=VAR_COLOR, lw=0.9),
        "targets": [
            ax.axhline(target, color=color, ls="--", lw=1)
            for target, color in ((true_mean, MEAN_COLOR), (true_var, VAR_COLOR))
        ],
    }
    ax.set(xlabel="training step (batches seen)", ylabel="estimate")
    return lines


def draw_batchnorm(
    fig: Figure, batch_size: int, shift: float, scale: float, momentum: float
) -> str:
    """Histograms before/after BN and the running statistics; returns the readout."""
    run = simulate_batchnorm(batch_size, round(shift, 4), round(scale, 4), round(momentum, 4))
    ax_hist, ax_stats = fig.subplots(1, 2, width_ratios=[1, 1.2])
    bn_histograms(ax_hist, run.before, run.after)
    reach = max(abs(SHIFT_RANGE[0]), SHIFT_RANGE[1]) + 3 * SCALE_RANGE[1]
    ax_hist.set_xlim(-reach, reach)  # fixed view: the input visibly moves and stretches
    ax_hist.set_xticks(HIST_TICKS)  # few, fixed ticks: text is the slowest thing to draw
    ax_hist.set_yticks([])  # densities need no numbers here; the shapes tell the story
    ax_hist.set_title(f"BN input (grey) and output (blue), batch size {batch_size}", fontsize=9)
    running_stats_curves(
        ax_stats, run.running_mean, run.running_var, true_mean=shift, true_var=scale**2
    )
    ax_stats.set_xticks(range(0, STEPS + 1, 20))
    ax_stats.yaxis.set_major_locator(MaxNLocator(5))
    ax_stats.set_title(
        f"running_mean (orange), running_var (green), true (dashed); momentum {momentum:.2f}",
        fontsize=9,
    )
    final_mean = float(run.running_mean[-1].mean())
    final_var = float(run.running_var[-1].mean())
    note = " (with 2 samples every output is ≈ ±1)" if batch_size == 2 else ""
    return (
        f"after {STEPS} steps: running_mean ≈ {final_mean:+.2f} (true {shift:+.2f}), "
        f"running_var ≈ {final_var:.2f} (true {scale**2:.2f}); "
        f"each output batch has mean 0, std {float(run.after[-1].std(correction=0)):.2f}{note}"
    )


def build_demo(
    batch_size: int = 16, shift: float = 3.0, scale: float = 2.0, momentum: float = 0.1
) -> SliderDemo:
    """Sliders for batch size, input shift and scale, and momentum, driving :func:`draw_batchnorm`.

    Left: value histograms before and after a training-mode BatchNorm (all 60 steps pooled).
    Right: ``running_mean`` and ``running_var`` of every feature, step by step, against the
    true ``shift`` and ``scale²``. Used in notebook 07, section 4.
    """
    controls = {
        "batch_size": int_slider("batch size", batch_size, *BATCH_RANGE),
        "shift": float_slider("input shift", shift, *SHIFT_RANGE, step=0.5),
        "scale": float_slider("input scale", scale, *SCALE_RANGE, step=0.1),
        "momentum": float_slider("momentum", momentum, *MOMENTUM_RANGE, step=0.01),
    }
    return slider_demo(draw_batchnorm, controls, figsize=(10.0, 3.6))


# ---------------------------------------------------------------------------- §9 self-checks


def _reference_bn(num_features: int, seed: int) -> nn.BatchNorm1d:
    """A BatchNorm1d with non-trivial γ, β and running statistics."""
    generator = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm1d(num_features)
    with torch.no_grad():
        bn.weight.copy_(1 + 0.5 * torch.randn(num_features, generator=generator))
        bn.bias.copy_(torch.randn(num_features, generator=generator))
        bn.running_mean.copy_(torch.randn(num_features, generator=generator))
        bn.running_var.copy_(0.5 + torch.rand(num_features, generator=generator))
    return bn


def _pair(answer: object, what: str) -> tuple[object, object]:
    """The learner's ``(a, b)`` answer, detached; a hint if it is not a pair."""
    expect(
        isinstance(answer, tuple) and len(answer) == 2,
        f"return a pair {what}; got {type(answer).__name__}",
    )
    return tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in answer)


def _close(got: object, expected: torch.Tensor, **tolerance: float) -> bool:
    """``got`` is a tensor of ``expected``'s shape and values (so a wrong-answer hint applies)."""
    return (
        isinstance(got, torch.Tensor)
        and got.shape == expected.shape
        and torch.allclose(got, expected, **tolerance)
    )


def check_batchnorm_forward(batchnorm_forward: Callable[..., torch.Tensor]) -> None:
    """Check ``batchnorm_forward(x, gamma, beta, eps)`` equals ``nn.BatchNorm1d`` in train mode.

    >>> def batchnorm_forward(x, gamma, beta, eps):
    ...     mean, var = x.mean(dim=0), x.var(dim=0, correction=0)
    ...     return gamma * (x - mean) / torch.sqrt(var + eps) + beta
    >>> check_batchnorm_forward(batchnorm_forward)
    ✓ batchnorm_forward matches nn.BatchNorm1d in training mode (biased batch variance)
    """
    x = 3 + 2 * torch.randn(5, 4, generator=torch.Generator().manual_seed(6))
    bn = _reference_bn(4, seed=7).train()
    gamma, beta, eps = bn.weight.detach(), bn.bias.detach(), bn.eps
    y = attempt("batchnorm_forward", batchnorm_forward, x, gamma, beta, eps)
    if y is NOT_ATTEMPTED:
        return
    expect(isinstance(y, torch.Tensor), f"expected a tensor, got {type(y).__name__}")
    expect(
        tuple(y.shape) == (5, 4),
        f"expected shape (5, 4) = (N, C), the same as x; got {tuple(y.shape)}",
    )
    y = y.detach()
    unbiased = gamma * (x - x.mean(0)) / torch.sqrt(x.var(0) + eps) + beta
    expect(
        not torch.allclose(y, unbiased, atol=1e-5),
        "you normalised with the unbiased variance (divide by N − 1): BatchNorm divides "
        "by N when normalising, e.g. x.var(dim=0, correction=0).",
    )
    per_sample = (x - x.mean(1, keepdim=True)) / torch.sqrt(
        x.var(1, keepdim=True, correction=0) + eps
    )
    expect(
        not torch.allclose(y, gamma * per_sample + beta, atol=1e-5),
        "you normalised each sample over its features (that is LayerNorm): BatchNorm takes "
        "the statistics of each feature over the batch, dim=0.",
    )
    with torch.no_grad():
        expected = bn(x)
    expect_tensor(
        y,
        expected,
        what="batchnorm_forward(x, gamma, beta, eps)",
        hint="Per feature: subtract the batch mean, divide by sqrt(biased var + eps), "
        "then multiply by gamma and add beta.",
    )
    passed("batchnorm_forward matches nn.BatchNorm1d in training mode (biased batch variance)")


def check_running_update(
    running_update: Callable[..., tuple[torch.Tensor, torch.Tensor]],
) -> None:
    """Check ``running_update(running_mean, running_var, x, momentum)`` matches BatchNorm1d.

    >>> def running_update(running_mean, running_var, x, momentum):
    ...     mean, var = x.mean(dim=0), x.var(dim=0)
    ...     return ((1 - momentum) * running_mean + momentum * mean,
    ...             (1 - momentum) * running_var + momentum * var)
    >>> check_running_update(running_update)
    ✓ running_update matches BatchNorm1d's buffers: new batch weighted by momentum, unbiased var
    """
    x = -1 + 3 * torch.randn(6, 3, generator=torch.Generator().manual_seed(8))
    bn = _reference_bn(3, seed=9)
    bn.momentum = 0.3
    start_mean, start_var = bn.running_mean.clone(), bn.running_var.clone()
    answer = attempt(
        "running_update", running_update, start_mean.clone(), start_var.clone(), x, 0.3
    )
    if answer is NOT_ATTEMPTED:
        return
    new_mean, new_var = _pair(answer, "(new_mean, new_var)")
    with torch.no_grad():
        bn.train()(x)
    expect(
        not _close(new_mean, 0.3 * start_mean + 0.7 * x.mean(0), atol=1e-5),
        "momentum is reversed: in PyTorch it weights the NEW batch, "
        "running = (1 − momentum) · running + momentum · batch.",
    )
    expect_tensor(new_mean, bn.running_mean, what="new running_mean")
    expect(
        not _close(new_var, 0.7 * start_var + 0.3 * x.var(0, correction=0), atol=1e-5),
        "running_var uses the UNBIASED batch variance (divide by N − 1), x.var(dim=0); "
        "only the normalisation itself uses the biased one.",
    )
    expect_tensor(new_var, bn.running_var, what="new running_var")
    passed(
        "running_update matches BatchNorm1d's buffers: new batch weighted by momentum, unbiased var"
    )


def check_fold(fold: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Check ``fold(W, b, gamma, beta, mean, var, eps)`` returns the folded ``(W', b')``.

    >>> def fold(W, b, gamma, beta, mean, var, eps):
    ...     scale = gamma / torch.sqrt(var + eps)
    ...     return scale[:, None] * W, scale * (b - mean) + beta
    >>> check_fold(fold)
    ✓ fold gives one Linear equal to Linear → BatchNorm1d in eval mode
    """
    linear = nn.Linear(5, 3)
    bn = _reference_bn(3, seed=11).eval()
    with torch.no_grad():
        bn.running_var.mul_(1e-4)  # tiny variances: forgetting eps becomes visible
    W, b = linear.weight.detach(), linear.bias.detach()
    gamma, beta, eps = bn.weight.detach(), bn.bias.detach(), bn.eps
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    answer = attempt("fold", fold, W, b, gamma, beta, mean, var, eps)
    if answer is NOT_ATTEMPTED:
        return
    W_folded, b_folded = _pair(answer, "(W_folded, b_folded)")
    scale = gamma / torch.sqrt(var + eps)
    expect(
        not _close(W_folded, (gamma / torch.sqrt(var))[:, None] * W, rtol=1e-6),
        "W_folded: eps is missing, σ = sqrt(running_var + eps).",
    )
    expect_tensor(
        W_folded,
        scale[:, None] * W,
        what="W_folded",
        hint="Row i of W (output feature i) is multiplied by gamma[i] / sqrt(var[i] + eps).",
    )
    expect(
        not _close(b_folded, scale * b + beta, rtol=1e-6),
        "b_folded: the running mean μ is missing; BatchNorm subtracts it: γ (b − μ) / σ + β.",
    )
    expect_tensor(
        b_folded,
        scale * (b - mean) + beta,
        what="b_folded",
        hint="BatchNorm sees linear(x) = W x + b, so the shift is γ (b − μ) / σ + β.",
    )
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(10))
    with torch.no_grad():
        expected = bn(linear(x))
    expect_tensor(x @ W_folded.T + b_folded, expected, what="folded layer output")
    passed("fold gives one Linear equal to Linear → BatchNorm1d in eval mode")
