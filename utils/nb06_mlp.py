"""Notebook 06, from one layer to an MLP: 2-D data, small MLPs, decision boundaries, checks.

Data is made with torch only and seeded through a ``torch.Generator`` (the global RNG is left
alone unless a function says so); every training run takes well under a second on a CPU. The
functions a learner calls check their input once; the slider demo calls the unchecked cores
(``_fit``, ``_grid``, ``_draw_boundary``) with tensors it made itself.

- §3 uses :func:`two_moons`, :func:`build_mlp`, :func:`train_classifier`, :func:`decision_grid`
  and :func:`decision_boundary` (which draws the first-layer units with :func:`unit_lines`)
- §4 uses :func:`train_val_curves`; §5 uses :func:`build_demo` (:func:`train_boundary`)
- §6 (exercises) uses :func:`check_parameter_count`, :func:`check_collapse`, :func:`check_dropout`
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from torch import nn
from torch.nn import functional as F

from utils import threads
from utils._validate import as_tensor, require_axes, require_int, require_real, require_shape
from utils.check import NOT_ATTEMPTED, attempt, expect, expect_tensor, passed
from utils.widgets import SliderDemo, choice_slider, dropdown, int_slider, slider_demo

# --- data and models ----------------------------------------------------------------------------


def two_moons(
    n_samples: int = 200, *, noise: float = 0.1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaving half circles in the plane, labelled 0 and 1. Used in §3 and §4.

    Returns ``X`` of shape ``(n, 2)`` (float32) and labels ``y`` of shape ``(n,)`` (int64),
    shuffled; class 0 has ``n // 2`` points, class 1 the rest.

    >>> X, y = two_moons(6, noise=0.0)
    >>> X.shape, y.dtype, int(y.sum())
    (torch.Size([6, 2]), torch.int64, 3)
    """
    n_samples = require_int(n_samples, name="n_samples")
    noise = require_real(noise, low=0.0, name="noise")
    generator = torch.Generator().manual_seed(seed)
    n0 = n_samples // 2
    t0 = torch.rand(n0, generator=generator) * math.pi
    t1 = torch.rand(n_samples - n0, generator=generator) * math.pi
    upper = torch.stack([torch.cos(t0), torch.sin(t0)], dim=1)
    lower = torch.stack([1 - torch.cos(t1), 0.5 - torch.sin(t1)], dim=1)
    X = torch.cat([upper, lower]) + noise * torch.randn(n_samples, 2, generator=generator)
    y = torch.cat([torch.zeros(n0, dtype=torch.long), torch.ones(n_samples - n0, dtype=torch.long)])
    order = torch.randperm(n_samples, generator=generator)
    return X[order], y[order]


def spirals(
    n_samples: int = 200, *, noise: float = 0.05, turns: float = 1.25, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaved spirals (class 0 and class 1), radius up to 1: the §5 demo's harder data.

    >>> X, y = spirals(8, noise=0.0)
    >>> X.shape, bool(X.norm(dim=1).max() <= 1.0)
    (torch.Size([8, 2]), True)
    """
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(n_samples) % 2
    radius = torch.rand(n_samples, generator=generator).sqrt()  # uniform along the arm's area
    angle = 2 * math.pi * turns * radius + math.pi * y
    X = radius[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    X = X + noise * torch.randn(n_samples, 2, generator=generator)
    order = torch.randperm(n_samples, generator=generator)
    return X[order], y[order]


def build_mlp(
    in_features: int = 2,
    width: int = 16,
    depth: int = 1,
    out_features: int = 2,
    *,
    dropout: float = 0.0,
) -> nn.Sequential:
    """``depth`` hidden blocks of ``Linear → ReLU (→ Dropout)``, then a ``Linear`` output layer.

    Uses the global RNG for the initial weights (seed it first for a reproducible model).
    Used in §3 and §4.

    >>> build_mlp(2, 8, 2, dropout=0.1)
    Sequential(
      (0): Linear(in_features=2, out_features=8, bias=True)
      (1): ReLU()
      (2): Dropout(p=0.1, inplace=False)
      (3): Linear(in_features=8, out_features=8, bias=True)
      (4): ReLU()
      (5): Dropout(p=0.1, inplace=False)
      (6): Linear(in_features=8, out_features=2, bias=True)
    )
    """
    require_int(in_features, name="in_features")
    require_int(width, name="width")
    require_int(depth, name="depth")
    require_int(out_features, name="out_features")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must lie in [0, 1); got {dropout}")
    layers: list[nn.Module] = []
    for size in [in_features] + [width] * (depth - 1):
        layers += [nn.Linear(size, width), nn.ReLU()]
        layers += [nn.Dropout(dropout)] if dropout > 0 else []
    return nn.Sequential(*layers, nn.Linear(width, out_features))


# --- training -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassifierRun:
    """Histories recorded by :func:`train_classifier`, one entry per evaluation."""

    steps: torch.Tensor  # (k,) the step count at each evaluation (0 = before training)
    train_loss: torch.Tensor  # (k,) cross-entropy on the training set, in eval mode
    train_acc: torch.Tensor  # (k,) accuracy on the training set
    val_loss: torch.Tensor | None  # (k,) same on the validation set, if given
    val_acc: torch.Tensor | None
    seconds: float  # wall time of the whole run


def _labels(labels: object, n_rows: int, *, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(labels)
    if tensor.dtype != torch.long:
        raise TypeError(f"{name} must hold int64 class labels (torch.long); got {tensor.dtype}")
    require_shape(tensor, (n_rows,), name=name, meaning="(n_samples,), one label per row")
    return tensor


def train_classifier(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    lr: float = 0.01,
    weight_decay: float = 0.0,
    X_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    eval_every: int = 10,
) -> ClassifierRun:
    """Train ``model`` in place: full-batch AdamW on the cross-entropy, ``steps`` steps.

    ``weight_decay`` is AdamW's decoupled decay (each step multiplies every parameter by
    ``1 − lr · weight_decay``). Losses and accuracies are measured in ``eval()`` mode (dropout
    off) every ``eval_every`` steps and after the last one. Used in §3 and §4.

    >>> X, y = two_moons(100, seed=1)
    >>> _ = torch.manual_seed(0)
    >>> run = train_classifier(build_mlp(width=16), X, y, steps=300, lr=0.02)
    >>> run.steps[-1].item(), run.train_acc[-1].item() > 0.95
    (300, True)
    """
    X = as_tensor(X, name="X")
    require_shape(X, (None, None), name="X", meaning="(n_samples, in_features)")
    y = _labels(y, len(X), name="y")
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    if X_val is not None:
        X_val = as_tensor(X_val, name="X_val")
        require_shape(X_val, (None, X.shape[1]), name="X_val", meaning="(n_val, in_features)")
        y_val = _labels(y_val, len(X_val), name="y_val")
    if require_real(lr, name="lr", low=0.0) == 0:
        raise ValueError(f"lr must be > 0; got {lr}")
    steps = require_int(steps, name="steps")
    weight_decay = require_real(weight_decay, low=0.0, name="weight_decay")
    eval_every = require_int(eval_every, name="eval_every")
    return _fit(model, X, y, X_val, y_val, steps, lr, weight_decay, eval_every)


def _fit(model, X, y, X_val, y_val, steps, lr, weight_decay, eval_every) -> ClassifierRun:
    """:func:`train_classifier` without the input checks (for callers that made the data)."""
    # fused=True: one kernel per step for all parameters, ~1.5× faster for these tiny models
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    sets = [(X, y)] if X_val is None else [(X, y), (X_val, y_val)]
    steps_seen, history = [], []  # history: (loss, accuracy) per data set per evaluation

    def record(step: int) -> None:
        model.eval()  # dropout off
        with torch.no_grad():
            for inputs, labels in sets:
                logits = model(inputs)
                accuracy = (logits.argmax(1) == labels).float().mean()
                history.append((float(F.cross_entropy(logits, labels)), float(accuracy)))
        model.train()
        steps_seen.append(step)

    start = time.perf_counter()
    model.train()
    with threads(1):  # tiny models: threads cost more than they save
        record(0)
        for step in range(1, steps + 1):
            opt.zero_grad()
            F.cross_entropy(model(X), y).backward()
            opt.step()
            if step % eval_every == 0 or step == steps:
                record(step)
    seconds = time.perf_counter() - start
    columns = torch.tensor(history).reshape(len(steps_seen), -1).T  # loss, acc[, val_loss, val_acc]
    val = (columns[2], columns[3]) if X_val is not None else (None, None)
    return ClassifierRun(torch.tensor(steps_seen), columns[0], columns[1], *val, seconds)


def decision_grid(
    model: nn.Module, *, limits: tuple[float, float, float, float], resolution: int = 100
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Probability of class 1 on a grid over ``limits = (x_min, x_max, y_min, y_max)``.

    Returns ``(xs, ys, P)`` with ``P[i, j]`` = softmax probability of class 1 at
    ``(xs[j], ys[i])``, computed in ``eval()`` mode without gradients. Used in §3.

    >>> xs, ys, P = decision_grid(nn.Linear(2, 2), limits=(-1, 1, -1, 1), resolution=5)
    >>> P.shape, bool(((0 <= P) & (P <= 1)).all())
    (torch.Size([5, 5]), True)
    """
    if len(limits) != 4 or not (limits[0] < limits[1] and limits[2] < limits[3]):
        raise ValueError(
            f"limits must be (x_min, x_max, y_min, y_max) with min < max; got {limits}"
        )
    return _grid(model, limits, require_int(resolution, name="resolution"))


def _grid(model: nn.Module, limits: Sequence[float], resolution: int) -> tuple:
    dtype = next(model.parameters(), torch.empty(0)).dtype  # a float64 model gets a float64 grid
    xs = torch.linspace(limits[0], limits[1], resolution, dtype=dtype)
    ys = torch.linspace(limits[2], limits[3], resolution, dtype=dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([grid_x.flatten(), grid_y.flatten()], dim=1)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        probs = torch.softmax(model(points), dim=1)[:, 1]
    model.train(was_training)
    return xs, ys, probs.reshape(resolution, resolution)


# --- plots ----------------------------------------------------------------------------------------

#: One colour per class in the 2-D classification plots (class 0, class 1).
CLASS_COLORS = ("tab:blue", "tab:red")


def unit_lines(
    ax: Axes, weight: torch.Tensor, bias: torch.Tensor, *, limits: Sequence[float]
) -> list[Line2D]:
    """Draw each first-layer unit ``w_j · x + b_j = 0`` as a dashed line across ``limits``.

    Unit ``j`` (row ``j`` of ``weight``, shape ``(width, 2)``) is positive on one side of its
    line and, after the ReLU, exactly zero on the other. Units with ``w_j ≈ 0`` have no line.
    :func:`decision_boundary` draws these.

    >>> ax = Figure().add_subplot()
    >>> W, b = torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([-1.0, 0.0])
    >>> lines = unit_lines(ax, W, b, limits=(-2, 2, -2, 2))
    >>> len(lines), lines[0].get_xdata().tolist()  # x₁ = 1 is a vertical line
    (2, [1.0, 1.0])
    """
    x_min, x_max, y_min, y_max = limits
    lines = []
    for (w1, w2), b_j in zip(weight.tolist(), bias.tolist(), strict=True):
        if max(abs(w1), abs(w2)) < 1e-8:
            continue
        if abs(w2) >= abs(w1):  # solve for x₂ along the x₁ range
            xs = np.array([x_min, x_max])
            ys = -(b_j + w1 * xs) / w2
        else:  # steep line: solve for x₁ along the x₂ range
            ys = np.array([y_min, y_max])
            xs = -(b_j + w2 * ys) / w1
        lines += ax.plot(xs, ys, ls="--", lw=0.9, color="0.25", alpha=0.8)
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

    ``probs[i, j]`` is the probability at ``(xs[j], ys[i])`` (see :func:`decision_grid`);
    ``X`` is ``(n, 2)`` with labels ``y`` in {0, 1}. Give ``unit_weight`` ``(width, 2)`` and
    ``unit_bias`` ``(width,)`` to overlay the first-layer units as dashed lines. Used in §3.

    >>> ax = Figure().add_subplot()
    >>> g = torch.linspace(-1, 1, 20)
    >>> P = torch.sigmoid(4 * g)[None, :].expand(20, 20)  # class 1 on the right
    >>> artists = decision_boundary(ax, g, g, P, [[-0.5, 0.0], [0.5, 0.0]], [0, 1],
    ...                             unit_weight=[[1.0, 0.0]], unit_bias=[0.0])
    >>> sorted(artists), len(artists["units"])
    (['boundary', 'points', 'shading', 'units'], 1)
    """
    ax = require_axes(ax)
    gx, gy, P = as_tensor(xs, name="xs"), as_tensor(ys, name="ys"), as_tensor(probs, name="probs")
    points = as_tensor(X, name="X")
    require_shape(P, (len(gy), len(gx)), name="probs", meaning="(len(ys), len(xs))")
    if not (P.min() >= 0 and P.max() <= 1):  # also catches nan
        raise ValueError("probs must be probabilities in [0, 1]")
    require_shape(points, (None, 2), name="X", meaning="(n_points, 2)")
    labels = torch.as_tensor(y).reshape(-1)
    if len(labels) != len(points) or not bool(((labels == 0) | (labels == 1)).all()):
        raise ValueError(f"y must hold one label 0 or 1 per row of X ({len(points)} rows)")
    units = None
    if unit_weight is not None or unit_bias is not None:
        units = as_tensor(unit_weight, name="unit_weight"), as_tensor(unit_bias, name="unit_bias")
        require_shape(units[0], (None, 2), name="unit_weight", meaning="(width, 2)")
        require_shape(units[1], (len(units[0]),), name="unit_bias", meaning="(width,)")
    return _draw_boundary(ax, gx, gy, P, points, labels, units, title)


def _draw_boundary(ax, xs, ys, P, X, y, units, title) -> dict[str, object]:
    """:func:`decision_boundary` without the input checks (for callers that made the tensors)."""
    gx, gy, Z = xs.numpy(), ys.numpy(), P.numpy()
    shading = ax.contourf(gx, gy, Z, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.45)
    boundary = None
    if Z.min() < 0.5 < Z.max():
        boundary = ax.contour(gx, gy, Z, levels=[0.5], colors="black", linewidths=1.6)
    points = [
        ax.scatter(
            *X[y == label].T, s=14, color=color, edgecolor="white", lw=0.4, label=f"class {label}"
        )
        for label, color in enumerate(CLASS_COLORS)
    ]
    artists: dict[str, object] = {"shading": shading, "boundary": boundary, "points": points}
    limits = (float(gx[0]), float(gx[-1]), float(gy[0]), float(gy[-1]))
    if units is not None:
        artists["units"] = unit_lines(ax, *units, limits=limits)
    ax.set(xlim=limits[:2], ylim=limits[2:], xlabel="x₁", ylabel="x₂")
    ax.set_title(title if title is not None else "decision boundary (P = 0.5)")
    ax.legend(fontsize=8, loc="upper right")
    return artists


def train_val_curves(
    ax: Axes,
    steps: Sequence[float],
    train: Sequence[float],
    val: Sequence[float],
    *,
    label: str = "",
    ylabel: str = "loss",
) -> list[Line2D]:
    """Draw a training curve (solid) and its validation curve (dashed) in one colour.

    Call it once per setting (``label="weight decay"`` …) to compare settings on one axes;
    the space between a pair of curves is the generalisation gap. Used in §4 and the demo.

    >>> ax = Figure().add_subplot()
    >>> train, val = train_val_curves(ax, [0, 10, 20], [1.0, 0.5, 0.1], [1.0, 0.7, 0.9])
    >>> train.get_color() == val.get_color(), val.get_linestyle()
    (True, '--')
    """
    ax = require_axes(ax)
    if not len(steps) == len(train) == len(val):
        raise ValueError(
            f"steps, train and val must have the same length; got {len(steps)}, {len(train)}, "
            f"{len(val)}"
        )
    prefix = f"{label}: " if label else ""
    (train_line,) = ax.plot(steps, train, lw=1.8, label=f"{prefix}train")
    color = train_line.get_color()
    (val_line,) = ax.plot(steps, val, color=color, lw=1.8, ls="--", label=f"{prefix}val")
    ax.set(xlabel="step", ylabel=ylabel)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    return [train_line, val_line]


# --- the §5 demo: width, depth, weight decay, dropout and steps against the boundary -------------


@dataclass(frozen=True)
class BoundaryResult:
    """What :func:`train_boundary` returns (cached: treat the tensors as read-only)."""

    X_train: torch.Tensor
    y_train: torch.Tensor
    xs: torch.Tensor  # grid columns
    ys: torch.Tensor  # grid rows
    probs: torch.Tensor  # (len(ys), len(xs)) probability of class 1
    first_weight: torch.Tensor  # (width, 2): each row is one first-layer unit's normal vector
    first_bias: torch.Tensor  # (width,)
    run: ClassifierRun  # with validation histories


#: The plane region the boundary demo shows, for each data set.
BOUNDARY_LIMITS = {"moons": (-1.6, 2.6, -1.3, 1.8), "spirals": (-1.4, 1.4, -1.4, 1.4)}
WIDTHS = (2, 4, 8, 16, 32, 64)
WEIGHT_DECAYS = (0.0, 0.001, 0.01, 0.1, 0.3, 1.0)
DROPOUTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
#: Draw the first-layer unit lines only up to this width (more lines hide the picture).
MAX_UNIT_LINES = 16


@functools.lru_cache(maxsize=512)
def train_boundary(
    width: int,
    depth: int,
    weight_decay: float = 0.0,
    dropout: float = 0.0,
    steps: int = 300,
    dataset: str = "moons",
    seed: int = 0,
) -> BoundaryResult:
    """Train an MLP on 80 points of ``dataset`` and grid its decision boundary; cached.

    The data (80 training and 400 validation points) and the initial weights are fixed by
    ``seed``, so equal arguments give equal results and a repeated call returns the cached
    result instantly. The global RNG is left untouched.

    >>> result = train_boundary(16, 1, steps=300)
    >>> result.probs.shape, result.first_weight.shape, result.run.val_acc[-1].item() > 0.85
    (torch.Size([80, 80]), torch.Size([16, 2]), True)
    >>> train_boundary(16, 1, steps=300) is result
    True
    """
    if dataset == "moons":
        X, y = two_moons(480, noise=0.25, seed=seed)
    else:
        X, y = spirals(480, noise=0.05, seed=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_mlp(2, width, depth, 2, dropout=dropout)
        every = max(1, steps // 20)
        run = _fit(model, X[:80], y[:80], X[80:], y[80:], steps, 0.02, weight_decay, every)
    with threads(1):  # tiny models: threads cost more than they save
        xs, ys, probs = _grid(model, BOUNDARY_LIMITS[dataset], 80)
    first = model[0]
    W, b = first.weight.detach().clone(), first.bias.detach().clone()
    return BoundaryResult(X[:80], y[:80], xs, ys, probs, W, b, run)


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
    hits_before = train_boundary.cache_info().hits
    result = train_boundary(width, depth, weight_decay, dropout, steps, dataset)
    cached = train_boundary.cache_info().hits > hits_before
    ax_plane, ax_curves = fig.subplots(1, 2, width_ratios=[1.25, 1])
    show_units = width <= MAX_UNIT_LINES
    title = f"{dataset}: width {width}, depth {depth}"
    title += " (dashed: first-layer units)" if show_units else ""
    units = (result.first_weight, result.first_bias) if show_units else None
    _draw_boundary(
        ax_plane, result.xs, result.ys, result.probs, result.X_train, result.y_train, units, title
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
    """Sliders for width, depth, weight decay, dropout and steps; a data-set dropdown. §5.

    Left: ``P(class 1)``, the 0.5 boundary and (narrow networks) the first-layer units. Right:
    training and validation loss, whose gap is the overfitting.
    """
    controls = {
        "width": choice_slider("hidden width", WIDTHS, width),
        "depth": int_slider("hidden layers", depth, 1, 3),
        "weight_decay": choice_slider("weight decay (AdamW)", WEIGHT_DECAYS, weight_decay),
        "dropout": choice_slider("dropout p", DROPOUTS, dropout),
        "steps": int_slider("training steps", steps, 25, 500, step=25),
        "dataset": dropdown("data", list(BOUNDARY_LIMITS), dataset),
    }
    return slider_demo(draw_decision_boundary, controls, figsize=(9.0, 4.0))


# --- §6 exercise checks -------------------------------------------------------------------------

#: Layer sizes the parameter-count check tries, the article's 10 → 50 → 2 MLP first.
SIZES = ([10, 50, 2], [2, 8, 8, 1], [784, 256, 128, 10], [3, 1])


def check_parameter_count(count_parameters: Callable[[Sequence[int]], int]) -> None:
    """Check ``count_parameters(sizes)`` counts the weights and biases of a Linear stack.

    >>> check_parameter_count(lambda s: sum(a * b + b for a, b in zip(s[:-1], s[1:])))
    ✓ count_parameters is right for all 4 stacks, e.g. 10 → 50 → 2 has 652 parameters
    """
    if attempt("count_parameters", count_parameters, list(SIZES[0])) is NOT_ATTEMPTED:
        return
    for sizes in SIZES:
        got = count_parameters(list(sizes))
        pairs = list(itertools.pairwise(sizes))
        layers = [nn.Linear(a, b, device="meta") for a, b in pairs]  # shapes only, no init
        expected = sum(p.numel() for layer in layers for p in layer.parameters())
        expect(
            got != sum(a * b for a, b in pairs),
            f"for sizes {list(sizes)} you counted only the weights ({got}); each "
            "Linear(d_in, d_out) also owns d_out biases.",
        )
        expect(
            got == expected,
            f"for sizes {list(sizes)} expected {expected} parameters, got {got}. Layer i maps "
            "sizes[i] → sizes[i + 1]: sizes[i]·sizes[i + 1] weights + sizes[i + 1] biases.",
        )
    passed("count_parameters is right for all 4 stacks, e.g. 10 → 50 → 2 has 652 parameters")


def check_collapse(collapse: Callable[[nn.Linear, nn.Linear], nn.Linear]) -> None:
    """Check ``collapse(layer1, layer2)`` returns one ``nn.Linear`` equal to ``layer2 ∘ layer1``.

    >>> def collapse(layer1, layer2):
    ...     merged = nn.Linear(layer1.in_features, layer2.out_features)
    ...     with torch.no_grad():
    ...         merged.weight.copy_(layer2.weight @ layer1.weight)
    ...         merged.bias.copy_(layer2.weight @ layer1.bias + layer2.bias)
    ...     return merged
    >>> check_collapse(collapse)
    ✓ collapse builds one Linear(3, 2) with W = W2 W1, b = W2 b1 + b2: same outputs as the pair
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(15)
        layer1, layer2 = nn.Linear(3, 5), nn.Linear(5, 2)
        X = torch.randn(7, 3)
    try:
        merged = attempt("collapse", collapse, layer1, layer2)
    except RuntimeError as exc:
        raise AssertionError(
            f"collapse failed: {exc}. Check the shapes: W2 is (2, 5) and W1 is (5, 3), so "
            "W = W2 @ W1 is (2, 3) like the merged layer's weight, and b = W2 @ b1 + b2 is (2,)."
        ) from exc
    if merged is NOT_ATTEMPTED:
        return
    expect(isinstance(merged, nn.Linear), f"return an nn.Linear, got {type(merged).__name__}")
    expect(
        (merged.in_features, merged.out_features) == (3, 2),
        f"expected Linear(3, 2) (layer1's inputs, layer2's outputs), got "
        f"Linear({merged.in_features}, {merged.out_features})",
    )
    with torch.no_grad():
        expected, got = layer2(layer1(X)), merged(X)
        right_weight = torch.allclose(merged.weight, layer2.weight @ layer1.weight)
        bias_is_b2 = merged.bias is not None and torch.allclose(merged.bias, layer2.bias)
    expect(
        not (right_weight and bias_is_b2),
        "the weight is right but b = b2 forgets layer1's bias: it passes through layer2 "
        "too, so b = W2 b1 + b2.",
    )
    expect_tensor(
        got,
        expected,
        what="merged(X)",
        hint="Expand W2 (W1 x + b1) + b2: the first layer acts first, so W = W2 W1.",
    )
    passed(
        "collapse builds one Linear(3, 2) with W = W2 W1, b = W2 b1 + b2: same outputs as the pair"
    )


def check_dropout(
    dropout_forward: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor],
) -> None:
    """Check ``dropout_forward(x, keep, p)`` is inverted dropout: ``x · keep / (1 − p)``.

    ``keep`` is a boolean mask (True = the unit survives). Given the mask ``nn.Dropout`` drew,
    a right answer reproduces ``nn.Dropout`` exactly.

    >>> check_dropout(lambda x, keep, p: x * keep / (1 - p))
    ✓ dropout_forward reproduces nn.Dropout(p=0.25) in training mode, given its mask
    """
    p = 0.25
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(16)
        x = torch.randn(6, 8)
        expected = F.dropout(x, p=p, training=True)
    keep = expected != 0
    got = attempt("dropout_forward", dropout_forward, x, keep, p)
    if got is NOT_ATTEMPTED:
        return
    expect(isinstance(got, torch.Tensor), f"expected a tensor, got {type(got).__name__}")
    same_shape = got.shape == x.shape
    expect(
        not (same_shape and torch.allclose(got, x * keep)),
        "you zeroed the dropped units but did not rescale the survivors: divide by "
        "1 − p so that the expected value of each unit stays x.",
    )
    expect(
        not (same_shape and torch.allclose(got, x * keep * (1 - p))),
        "multiply by 1 / (1 − p), not by (1 − p): survivors are scaled up.",
    )
    expect_tensor(
        got,
        expected,
        what="dropout_forward(x, keep, p)",
        hint="Keep x where keep is True, zero elsewhere, and divide everything by (1 − p).",
    )
    passed(f"dropout_forward reproduces nn.Dropout(p={p}) in training mode, given its mask")
