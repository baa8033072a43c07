"""Notebook 05 demo: train a small MLP on two moons or spirals and watch its decision boundary.

Five sliders set the network (hidden width, depth), the regularisation (weight decay,
dropout) and the training length; a dropdown picks the data set. Each setting trains a fresh,
seeded model in well under a second (:func:`utils.training.train_boundary`, cached, so going
back to a setting is instant). The left panel shades ``P(class 1)`` with the 0.5 boundary and,
for narrow networks, the first-layer units as dashed lines; the right panel shows the training
and validation loss, whose gap is the overfitting.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from utils.plots.training import decision_boundary, train_val_curves
from utils.training import BOUNDARY_LIMITS, train_boundary
from utils.widgets import SliderDemo, choice_slider, dropdown, int_slider, slider_demo

WIDTHS = (2, 4, 8, 16, 32, 64)
WEIGHT_DECAYS = (0.0, 0.001, 0.01, 0.1, 0.3, 1.0)
DROPOUTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
DEPTH_RANGE = (1, 3)
STEPS_RANGE = (25, 500)
#: Draw the first-layer unit lines only up to this width (more lines hide the picture).
MAX_UNIT_LINES = 16


def draw_decision_boundary(
    fig: Figure,
    width: int,
    depth: int,
    weight_decay: float,
    dropout: float,
    steps: int,
    dataset: str = "moons",
) -> str:
    """Train (or fetch from the cache) one setting, draw it on ``fig``, return the readout."""
    if dataset not in BOUNDARY_LIMITS:
        raise ValueError(f"dataset must be one of {tuple(BOUNDARY_LIMITS)}; got {dataset!r}")
    hits_before = train_boundary.cache_info().hits
    result = train_boundary(
        int(width), int(depth), float(weight_decay), float(dropout), int(steps), dataset=dataset
    )
    cached = train_boundary.cache_info().hits > hits_before
    ax_plane, ax_curves = fig.subplots(1, 2, width_ratios=[1.25, 1])
    show_units = width <= MAX_UNIT_LINES
    decision_boundary(
        ax_plane,
        result.xs,
        result.ys,
        result.probs,
        result.X_train,
        result.y_train,
        unit_weight=result.first_weight if show_units else None,
        unit_bias=result.first_bias if show_units else None,
        title=f"{dataset}: width {width}, depth {depth}"
        + (" (dashed: first-layer units)" if show_units else ""),
    )
    run = result.run
    train_val_curves(ax_curves, run.steps, run.train_loss, run.val_loss, ylabel="cross-entropy")
    ax_curves.set_title(f"weight decay {weight_decay:g}, dropout {dropout:g}")
    train_acc, val_acc = float(run.train_acc[-1]), float(run.val_acc[-1])
    timing = f"training took {run.seconds:.2f} s" + (", shown from the cache" if cached else "")
    return (
        f"train accuracy {train_acc:.0%}, validation accuracy {val_acc:.0%} "
        f"(gap {train_acc - val_acc:+.0%}) after {steps} steps; {timing}"
    )


def build_demo(
    width: int = 16,
    depth: int = 1,
    weight_decay: float = 0.0,
    dropout: float = 0.0,
    steps: int = 300,
    dataset: str = "moons",
) -> SliderDemo:
    """Sliders for width, depth, weight decay, dropout and steps; a data-set dropdown."""

    controls = {
        "width": choice_slider("hidden width", WIDTHS, width),
        "depth": int_slider("hidden layers", depth, *DEPTH_RANGE),
        "weight_decay": choice_slider("weight decay (AdamW)", WEIGHT_DECAYS, weight_decay),
        "dropout": choice_slider("dropout p", DROPOUTS, dropout),
        "steps": int_slider("training steps", steps, *STEPS_RANGE, step=25),
        "dataset": dropdown("data", list(BOUNDARY_LIMITS), dataset),
    }
    return slider_demo(draw_decision_boundary, controls, figsize=(9.0, 4.0))
