"""Notebook 06 demo: feed batches through BatchNorm; watch the output and the running stats.

The BatchNorm input (a linear layer's output, say) is ``shift + scale · ε`` per feature with
``ε ~ N(0, 1)``. Sliders set the batch size, the input's shift and scale, and ``momentum``.
Left: value histograms before and after BatchNorm (training mode, pooled over all steps).
Right: ``running_mean`` and ``running_var`` of every feature, step by step, against the true
``shift`` and ``scale²``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from utils.plots.batchnorm import bn_histograms, running_stats
from utils.widgets import SliderDemo, float_slider, int_slider, slider_demo

#: Smallest batch: one value per feature has no spread, BatchNorm refuses it in training mode.
MIN_BATCH = 2
BATCH_RANGE = (MIN_BATCH, 128)
SHIFT_RANGE = (-5.0, 5.0)
SCALE_RANGE = (0.1, 4.0)
MOMENTUM_RANGE = (0.01, 1.0)
STEPS = 60
#: BatchNorm1d's default epsilon.
EPS = 1e-5
HIST_TICKS = (-15, -10, -5, 0, 5, 10, 15)
FEATURES = 4


class BatchNormRun(NamedTuple):
    """What :func:`simulate_batchnorm` returns."""

    #: BatchNorm inputs, shape (steps, batch, features).
    before: torch.Tensor
    #: Training-mode outputs (γ = 1, β = 0), same shape.
    after: torch.Tensor
    #: Running mean / variance after each step, shape (steps + 1, features); row 0 = (0, 1).
    running_mean: torch.Tensor
    running_var: torch.Tensor


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
    """Run ``steps`` training-mode BatchNorm passes on ``shift + scale · N(0, 1)`` batches.

    Cached: the same settings return the same (read-only) tensors.

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
    if not scale > 0:
        raise ValueError(f"scale must be > 0; got {scale}")
    generator = torch.Generator().manual_seed(seed)
    before = shift + scale * torch.randn(steps, batch_size, features, generator=generator)
    # All steps at once (same numbers as batchnorm_train / running_stats_history, per step;
    # the tests check that): statistics over the batch axis of every step.
    mean = before.mean(dim=1, keepdim=True)
    after = (before - mean) / torch.sqrt(before.var(dim=1, keepdim=True, correction=0) + EPS)
    batch_means, batch_vars = mean[:, 0], before.var(dim=1)  # unbiased for the buffers
    running_mean = [torch.zeros(features)]
    running_var = [torch.ones(features)]
    for batch_mean, batch_var in zip(batch_means, batch_vars, strict=True):
        running_mean.append((1 - momentum) * running_mean[-1] + momentum * batch_mean)
        running_var.append((1 - momentum) * running_var[-1] + momentum * batch_var)
    return BatchNormRun(before, after, torch.stack(running_mean), torch.stack(running_var))


def draw_batchnorm(
    fig: Figure, batch_size: int, shift: float, scale: float, momentum: float
) -> str:
    """Histograms before/after BN and the running statistics; returns the readout."""
    run = simulate_batchnorm(batch_size, round(shift, 4), round(scale, 4), round(momentum, 4))
    ax_hist, ax_stats = fig.subplots(1, 2, width_ratios=[1, 1.2])
    bn_histograms(ax_hist, run.before, run.after, bins=30)
    reach = max(abs(SHIFT_RANGE[0]), SHIFT_RANGE[1]) + 3 * SCALE_RANGE[1]
    ax_hist.set_xlim(-reach, reach)  # fixed view: the input visibly moves and stretches
    ax_hist.set_xticks(HIST_TICKS)  # few, fixed ticks: text is the slowest thing to draw
    ax_hist.set_yticks([])  # densities need no numbers here; the shapes tell the story
    ax_hist.set_title(f"BN input (grey) and output (blue), batch size {batch_size}", fontsize=9)
    running_stats(
        ax_stats,
        run.running_mean,
        run.running_var,
        true_mean=shift,
        true_var=scale**2,
        legend=False,  # the title names the colours: one text instead of a legend box
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
    """Four sliders (batch size, shift, scale, momentum) driving :func:`draw_batchnorm`."""
    controls = {
        "batch_size": int_slider("batch size", batch_size, *BATCH_RANGE),
        "shift": float_slider("input shift", shift, *SHIFT_RANGE, step=0.5),
        "scale": float_slider("input scale", scale, *SCALE_RANGE, step=0.1),
        "momentum": float_slider("momentum", momentum, *MOMENTUM_RANGE, step=0.01),
    }
    return slider_demo(draw_batchnorm, controls, figsize=(10.0, 3.6))
