"""Notebook 04 demo: choose a learning rate, steps and an optimiser; watch two weights learn.

The problem is :func:`utils.training.two_weight_problem`: ``y = w₁x₁ + w₂x₂ + ε`` with
correlated inputs, so the loss surface is a long tilted valley. The left panel is the loss
curve, the right panel the path of ``(w₁, w₂)`` over the contours of the loss. A learning
rate above the stability limit makes the run diverge: the run is stopped when the loss has
grown 10⁴-fold, the plots show the finite part, and the readout says what happened.
"""

from __future__ import annotations

import functools
import math

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator
from torch import nn

from utils.plots.training import loss_curves, trajectory_contour
from utils.training import (
    OptimizerRun,
    loss_surface,
    run_optimizer,
    sgd_lr_limit,
    two_weight_problem,
)
from utils.widgets import SliderDemo, choice_slider, dropdown, int_slider, slider_demo

#: Learning rates on the slider, roughly log-spaced (1-2-5 steps) from 0.001 to 2.
LEARNING_RATES = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0)
#: Optimiser label on the dropdown -> name understood by :func:`utils.training.run_optimizer`.
OPTIMIZER_CHOICES = {"SGD": "sgd", "SGD + momentum 0.9": "momentum", "Adam": "adam"}
MOMENTUM = 0.9
MAX_STEPS = 300
#: Where every run starts, and the part of the (w₁, w₂) plane the contour shows.
START = (-1.0, -2.0)
W1_RANGE = (-2.0, 3.0)
W2_RANGE = (-2.5, 2.5)


@functools.lru_cache(maxsize=1)
def _problem() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return two_weight_problem()


@functools.lru_cache(maxsize=1)
def _surface() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    X, Y, _ = _problem()
    return loss_surface(X, Y, w1_range=W1_RANGE, w2_range=W2_RANGE, resolution=60)


@functools.lru_cache(maxsize=64)
def learning_rate_run(optimizer: str, lr: float) -> OptimizerRun:
    """Run ``optimizer`` at ``lr`` for :data:`MAX_STEPS` steps from :data:`START` (cached).

    Shorter runs are prefixes of this one, so moving the steps slider never retrains.

    >>> run = learning_rate_run("sgd", 0.1)
    >>> run.trajectory.shape, run.diverged
    (torch.Size([301, 2]), False)
    >>> learning_rate_run("sgd", 2.0).diverged_at
    3
    """
    X, Y, _ = _problem()
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([START]))
    return run_optimizer(
        model, X, Y, optimizer=optimizer, lr=lr, steps=MAX_STEPS, momentum=MOMENTUM
    )


@functools.lru_cache(maxsize=8)
def stability_limit(optimizer: str) -> float | None:
    """The largest stable learning rate on this problem, where theory gives one.

    Plain SGD converges iff ``lr < 2/λ_max`` (λ_max: the largest curvature of the loss);
    heavy-ball momentum ``β`` stretches that to ``2(1 + β)/λ_max``. Adam has no such bound.

    >>> round(stability_limit("sgd"), 2), round(stability_limit("momentum"), 2)
    (0.6, 1.14)
    >>> stability_limit("adam") is None
    True
    """
    X, _, _ = _problem()
    limit = sgd_lr_limit(X)
    if optimizer == "sgd":
        return limit
    if optimizer == "momentum":
        return (1 + MOMENTUM) * limit
    return None


def describe_run(run: OptimizerRun, optimizer_label: str, lr: float, steps: int) -> str:
    """One line on how the run went: converged, still going, or diverged (and why).

    >>> describe_run(learning_rate_run("sgd", 2.0), "SGD", 2.0, 100)[:36]
    '⚠ SGD with lr = 2 diverged at step 3'
    """
    name = OPTIMIZER_CHOICES[optimizer_label]
    limit = stability_limit(name)
    limit_text = (
        f"the stability limit for {optimizer_label} here is lr < {limit:.2f}" if limit else ""
    )
    if run.diverged_at is not None and run.diverged_at <= steps:
        return (
            f"⚠ {optimizer_label} with lr = {lr:g} diverged at step {run.diverged_at}: the loss "
            f"grew past 10⁴× its start, so the run was stopped there. "
            + (f"Lower the learning rate: {limit_text}." if limit else "Lower the learning rate.")
        )
    w1, w2 = run.trajectory[steps].tolist()
    start, end = float(run.losses[0]), float(run.losses[steps])
    text = (
        f"{optimizer_label}, lr = {lr:g}: loss {start:.3g} → {end:.3g} after {steps} steps, "
        f"w = ({w1:.2f}, {w2:.2f})"
    )
    return text + (f"; {limit_text}" if limit else "")


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _decade(value: float, _position: object = None) -> str:
    """Label a power of ten compactly (``10⁻²``, ``1``, ``10⁵``): the layout is fixed after the
    first frame, so labels must not grow wider when a diverging run reaches 10⁵.

    >>> [_decade(v) for v in (0.01, 1.0, 10.0, 1e5)]
    ['10⁻²', '1', '10', '10⁵']
    """
    exponent = round(math.log10(value))
    if exponent in (0, 1):
        return f"{10**exponent}"
    return "10" + str(exponent).translate(_SUPERSCRIPT)


def _lighten(ax_loss: Axes, ax_path: Axes) -> None:
    """Fewer ticks, plain labels, no legends: every tick and text costs time in each redraw."""
    ax_loss.xaxis.set_major_locator(MaxNLocator(5, integer=True))
    ax_loss.yaxis.set_major_locator(LogLocator(numticks=5))
    ax_loss.yaxis.set_minor_locator(NullLocator())
    ax_loss.yaxis.set_major_formatter(FuncFormatter(_decade))
    for ax in (ax_loss, ax_path):
        ax.get_legend().remove()  # one curve, one path: the titles say what they are


def draw_learning_rate(fig: Figure, lr: float, steps: int, optimizer: str) -> str:
    """Draw the loss curve and the weight path for one setting; return the readout."""
    if optimizer not in OPTIMIZER_CHOICES:
        raise ValueError(f"optimizer must be one of {list(OPTIMIZER_CHOICES)}; got {optimizer!r}")
    if not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must lie in [1, {MAX_STEPS}]; got {steps}")
    run = learning_rate_run(OPTIMIZER_CHOICES[optimizer], float(lr))
    shown = min(steps, len(run.losses) - 1) + 1  # the finite part, up to the chosen step
    ax_loss, ax_path = fig.subplots(1, 2, width_ratios=[1, 1.2])
    loss_curves(ax_loss, {optimizer: run.losses[:shown]}, title=f"{optimizer}: loss, lr = {lr:g}")
    ax_loss.set_xlim(0, steps)
    if run.diverged_at is not None and run.diverged_at <= steps:
        ax_loss.plot(
            [shown - 1], [float(run.losses[shown - 1])], "x", color="tab:red", ms=12, mew=3
        )
        ax_loss.set_title(f"lr = {lr:g}: diverged at step {run.diverged_at}", color="tab:red")
    w1s, w2s, surface = _surface()
    trajectory_contour(
        ax_path,
        w1s,
        w2s,
        surface,
        {optimizer: run.trajectory[:shown]},
        target=_problem()[2],
        title="path of (w₁, w₂); ★ = minimum",
    )
    _lighten(ax_loss, ax_path)
    return describe_run(run, optimizer, float(lr), steps)


def build_demo(lr: float = 0.1, steps: int = 60, optimizer: str = "SGD") -> SliderDemo:
    """Sliders for the learning rate (log-spaced) and the steps, a dropdown for the optimiser."""
    if lr not in LEARNING_RATES:
        raise ValueError(f"lr must be one of {LEARNING_RATES}; got {lr}")
    controls = {
        "lr": choice_slider("learning rate", LEARNING_RATES, lr),
        "steps": int_slider("steps", steps, 5, MAX_STEPS, step=5),
        "optimizer": dropdown("optimiser", list(OPTIMIZER_CHOICES), optimizer),
    }
    return slider_demo(draw_learning_rate, controls, figsize=(9.0, 3.8))
