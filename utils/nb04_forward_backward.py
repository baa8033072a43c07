"""Notebook 04, forward and backward: data to learn from, optimisers on a loss surface, checks.

The from-scratch layer (``MyLinearFunction``, ``MyLinear``) lives only in the notebook's cells,
and the tests load it from there. Data is seeded through a ``torch.Generator`` (the global RNG
is left alone). The functions a learner calls check their input once; the demo trusts it.

- §4 uses :func:`regression_data` (plots: ``plot.weight_heatmap``, ``plot.loss_curves``)
- §5 uses :func:`run_optimizer`, :func:`two_weight_problem`, :func:`sgd_lr_limit`,
  :func:`learning_rate_run` and :func:`build_demo` (drawn with :func:`trajectory_contour`)
- §7 (exercises) uses :func:`check_weight_grad`, :func:`check_bias_grad` and
  :func:`check_training_loop`
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import matplotlib.colors as mcolors
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator
from torch import nn
from torch.nn import functional as F

from utils import threads
from utils._validate import as_tensor, require_int, require_real, require_shape
from utils.check import NOT_ATTEMPTED, attempt, expect, expect_tensor, passed
from utils.plot import loss_curves
from utils.widgets import SliderDemo, choice_slider, dropdown, int_slider, slider_demo

# --- data and training ------------------------------------------------------------------------


def regression_data(
    A: object, b: object, n_samples: int = 200, *, noise: float = 0.1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples ``x ~ N(0, I)`` and targets ``y = A x + b + ε``, ``ε ~ N(0, noise²)``. Used in §4.

    Rows are samples: ``X`` is ``(n_samples, d_in)``, ``Y`` is ``(n_samples, d_out)``.

    >>> X, Y = regression_data(torch.eye(2), torch.zeros(2), 5, noise=0.0)
    >>> X.shape, torch.equal(X, Y)
    (torch.Size([5, 2]), True)
    """
    A_t = as_tensor(A, name="A")
    require_shape(A_t, (None, None), name="A", meaning="(d_out, d_in)")
    b_t = as_tensor(b, name="b").to(A_t.dtype)
    require_shape(b_t, (A_t.shape[0],), name="b", meaning="(d_out,)")
    n_samples = require_int(n_samples, name="n_samples")
    noise = require_real(noise, low=0.0, name="noise")
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n_samples, A_t.shape[1], generator=generator, dtype=A_t.dtype)
    epsilon = noise * torch.randn(n_samples, A_t.shape[0], generator=generator, dtype=A_t.dtype)
    return X, X @ A_t.T + b_t + epsilon


#: Optimiser names accepted by :func:`run_optimizer` ("momentum" is SGD with momentum).
OPTIMIZERS = {
    "sgd": torch.optim.SGD,
    "momentum": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
}


@dataclass(frozen=True)
class OptimizerRun:
    """What :func:`run_optimizer` returns.

    ``losses[t]`` is the loss at ``trajectory[t]``, the parameters after ``t`` steps, so both
    have the same length: ``steps + 1`` for a full run, fewer when the run diverged.
    """

    losses: torch.Tensor  # (k,), all finite
    trajectory: torch.Tensor  # (k, n_params): every parameter flattened and concatenated
    diverged_at: int | None  # the step whose loss blew up, or None
    model: nn.Module  # the trained copy (the caller's model is left untouched)

    @property
    def diverged(self) -> bool:
        """Whether the run stopped because the loss blew up."""
        return self.diverged_at is not None


def run_optimizer(
    model: nn.Module,
    X: torch.Tensor,
    Y: torch.Tensor,
    *,
    optimizer: str = "sgd",
    lr: float,
    steps: int,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    blow_up: float = 1e4,
) -> OptimizerRun:
    """Train a copy of ``model`` on the MSE between ``model(X)`` and ``Y``; record everything.

    ``optimizer`` is a key of :data:`OPTIMIZERS`, all full-batch. The run stops early, with
    ``diverged_at`` set, as soon as the loss is not finite or exceeds ``blow_up`` times its
    starting value, so the histories never contain ``nan`` or ``inf``. Used in §5.

    >>> X, Y = regression_data(torch.tensor([[1.0, 2.0]]), torch.tensor([0.0]), 50, noise=0.0)
    >>> run = run_optimizer(nn.Linear(2, 1), X, Y, optimizer="adam", lr=0.1, steps=300)
    >>> run.trajectory.shape, run.diverged, bool(run.losses[-1] < 1e-4)
    (torch.Size([301, 3]), False, True)
    >>> run_optimizer(nn.Linear(2, 1), X, Y, lr=5.0, steps=100).diverged
    True
    """
    for name, tensor in (("X", X), ("Y", Y)):
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(tensor).__name__}")
    if len(X) != len(Y):
        raise ValueError(f"X and Y must have one row per sample; got {len(X)} and {len(Y)} rows")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)}; got {optimizer!r}")
    if require_real(lr, name="lr", low=0.0) == 0:
        raise ValueError(f"lr must be > 0; got {lr}")
    steps = require_int(steps, name="steps")
    weight_decay = require_real(weight_decay, low=0.0, name="weight_decay")
    model = copy.deepcopy(model)
    params = [p for p in model.parameters() if p.requires_grad]
    extra = {"momentum": momentum} if optimizer == "momentum" else {}
    opt = OPTIMIZERS[optimizer](params, lr=lr, weight_decay=weight_decay, **extra)

    def flat() -> torch.Tensor:
        return torch.cat([p.detach().flatten() for p in params]).clone()

    losses: list[float] = []
    trajectory = [flat()]
    with torch.no_grad():
        start = float(F.mse_loss(model(X), Y))
    if not math.isfinite(start):
        raise ValueError(f"the starting loss must be finite; got {start}")
    diverged_at = None
    with threads(1):  # tiny models: threads cost more than they save
        for step in range(steps + 1):
            opt.zero_grad()
            loss = F.mse_loss(model(X), Y)
            value = loss.item()
            if not value <= blow_up * max(start, 1e-12):
                diverged_at = step
                if math.isfinite(value):
                    losses.append(value)
                else:  # keep losses and trajectory aligned and finite
                    trajectory.pop()
                break
            losses.append(value)
            if step == steps:
                break
            loss.backward()
            opt.step()
            trajectory.append(flat())
    losses_t = torch.tensor(losses, dtype=torch.float64)
    return OptimizerRun(losses_t, torch.stack(trajectory), diverged_at, model)


def two_weight_problem(
    n_samples: int = 100, *, correlation: float = 0.8, noise: float = 0.1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A 2-weight regression ``y = w₁x₁ + w₂x₂ + ε`` with correlated inputs. Used in §5.

    Correlated inputs make the loss surface a long, tilted valley: the setting where the
    learning rate and the optimiser matter. Returns ``(X, Y, w_true)`` with ``X`` of shape
    ``(n, 2)``, ``Y`` of shape ``(n, 1)`` and ``w_true = (1.5, -0.5)``.

    >>> X, Y, w_true = two_weight_problem(10)
    >>> X.shape, Y.shape, w_true.tolist()
    (torch.Size([10, 2]), torch.Size([10, 1]), [1.5, -0.5])
    """
    n_samples = require_int(n_samples, name="n_samples")
    if not -1 < correlation < 1:
        raise ValueError(f"correlation must lie strictly between -1 and 1; got {correlation}")
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.linalg.cholesky(torch.tensor([[1.0, correlation], [correlation, 1.0]]))
    X = torch.randn(n_samples, 2, generator=generator) @ mixing.T
    w_true = torch.tensor([1.5, -0.5])
    Y = X @ w_true[:, None] + noise * torch.randn(n_samples, 1, generator=generator)
    return X, Y, w_true


def sgd_lr_limit(X: object, *, bias: bool = False, n_outputs: int = 1) -> float:
    """Largest learning rate for which full-batch SGD on the MSE of a linear model converges.

    The MSE over ``n · n_outputs`` entries is quadratic with Hessian ``H = 2 X̃ᵀX̃ / (n ·
    n_outputs)`` (``X̃ = [X, 1]`` with a bias), and gradient descent on a quadratic converges
    exactly when ``lr < 2 / λ_max(H)``. Used in §5.

    >>> sgd_lr_limit(torch.eye(2))  # H = 2 I / 2 = I, so lr < 2
    2.0
    """
    X_t = as_tensor(X, name="X").to(torch.float64)
    require_shape(X_t, (None, None), name="X", meaning="(n_samples, d_in)")
    n_outputs = require_int(n_outputs, name="n_outputs")
    if bias:
        X_t = torch.cat([X_t, torch.ones(len(X_t), 1, dtype=X_t.dtype)], dim=1)
    hessian = 2 * X_t.T @ X_t / (len(X_t) * n_outputs)
    return 2.0 / float(torch.linalg.eigvalsh(hessian).max())


def loss_surface(
    X: torch.Tensor,
    Y: torch.Tensor,
    *,
    w1_range: tuple[float, float],
    w2_range: tuple[float, float],
    resolution: int = 60,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The MSE of ``y ≈ w₁x₁ + w₂x₂`` on a grid of ``(w₁, w₂)``, ready for ``ax.contour``.

    Returns ``(w1s, w2s, L)`` with ``L[i, j]`` the loss at ``(w1s[j], w2s[i])`` (rows follow
    ``w₂``, matplotlib's convention). One batched matrix product, no loop.

    >>> X = torch.tensor([[1.0, 0.0], [0.0, 1.0]]); Y = torch.tensor([[1.0], [2.0]])
    >>> w1s, w2s, L = loss_surface(X, Y, w1_range=(0, 2), w2_range=(0, 4), resolution=3)
    >>> L.shape, float(L[1, 1])  # w = (1, 2) fits exactly
    (torch.Size([3, 3]), 0.0)
    """
    w1s = torch.linspace(*w1_range, resolution, dtype=X.dtype)
    w2s = torch.linspace(*w2_range, resolution, dtype=X.dtype)
    grid_w2, grid_w1 = torch.meshgrid(w2s, w1s, indexing="ij")
    weights = torch.stack([grid_w1.flatten(), grid_w2.flatten()], dim=1)  # (r², 2)
    losses = (X @ weights.T - Y).square().mean(0)  # (n, r²): one column per grid point
    return w1s, w2s, losses.reshape(resolution, resolution)


# --- plot ---------------------------------------------------------------------------------------


def trajectory_contour(
    ax: Axes,
    w1s: torch.Tensor,
    w2s: torch.Tensor,
    surface: torch.Tensor,
    paths: Mapping[str, torch.Tensor],
    *,
    target: torch.Tensor | None = None,
    levels: int = 15,
    title: str | None = None,
) -> dict[str, object]:
    """Draw a loss surface as contours and each optimiser's path ``(steps, 2)`` on top of it.

    ``surface[i, j]`` is the loss at ``(w1s[j], w2s[i])`` (see :func:`loss_surface`). Contour
    levels are spaced logarithmically, so the flat valley floor shows as well as the steep
    walls. The view stays on the grid: a path that leaves it (a diverging run) is cut at the
    border. ``target`` marks the minimum with a star. Drawn by the §5 demo.

    >>> from matplotlib.figure import Figure
    >>> ax = Figure().add_subplot()
    >>> w = torch.linspace(-1, 1, 5)
    >>> path = torch.tensor([[1.0, 1.0], [0.5, 0.5], [0.0, 0.0]])
    >>> artists = trajectory_contour(ax, w, w, w[None, :] ** 2 + w[:, None] ** 2 + 0.1,
    ...                              {"GD": path}, target=torch.zeros(2))
    >>> sorted(artists), [float(limit) for limit in ax.get_xlim()]
    (['contours', 'paths', 'target'], [-1.0, 1.0])
    """
    x, y, Z = w1s.numpy(), w2s.numpy(), surface.numpy()
    low, high = float(Z[Z > 0].min()), float(Z.max())  # an MSE surface: positive, not flat
    norm = mcolors.LogNorm(low, high)
    levels_at = np.geomspace(low, high, levels)
    contours = ax.contour(x, y, Z, levels=levels_at, cmap="viridis", norm=norm, linewidths=0.8)
    drawn = []
    for label, path in paths.items():
        (line,) = ax.plot(path[:, 0], path[:, 1], marker=".", ms=4, lw=1.2, label=str(label))
        ax.plot(path[:1, 0], path[:1, 1], "o", color=line.get_color(), mfc="white", ms=7)
        drawn.append(line)
    artists: dict[str, object] = {"contours": contours, "paths": drawn}
    if target is not None:
        (artists["target"],) = ax.plot(
            [float(target[0])], [float(target[1])], "*", color="black", ms=14, label="minimum"
        )
    ax.set(xlim=(x[0], x[-1]), ylim=(y[0], y[-1]), xlabel="w₁", ylabel="w₂")
    ax.set_title(title if title is not None else "loss surface and optimiser paths")
    return artists  # no legend: the labels are there for a caller who wants one


# --- the §5 demo: learning rate × steps × optimiser on the two-weight valley ---------------------

#: Learning rates on the slider, roughly log-spaced (1-2-5 steps) from 0.001 to 2.
LEARNING_RATES = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0)
#: Optimiser label on the dropdown -> key of :data:`OPTIMIZERS`.
OPTIMIZER_CHOICES = {"SGD": "sgd", "SGD + momentum 0.9": "momentum", "Adam": "adam"}
MOMENTUM = 0.9
MAX_STEPS = 300
#: Where every run starts, and the part of the (w₁, w₂) plane the contour shows.
START = (-1.0, -2.0)
W1_RANGE = (-2.0, 3.0)
W2_RANGE = (-2.5, 2.5)


@functools.cache
def _valley() -> tuple[torch.Tensor, ...]:
    """The demo's problem ``(X, Y, w_true)`` and its loss surface ``(w1s, w2s, L)``, made once."""
    X, Y, w_true = two_weight_problem()
    return X, Y, w_true, *loss_surface(X, Y, w1_range=W1_RANGE, w2_range=W2_RANGE)


@functools.lru_cache(maxsize=64)
def learning_rate_run(optimizer: str, lr: float) -> OptimizerRun:
    """Run ``optimizer`` at ``lr`` for :data:`MAX_STEPS` steps from :data:`START` (cached).

    Shorter runs are prefixes of this one, so moving the steps slider never retrains. §5
    asserts the demo's claims on these runs.

    >>> run = learning_rate_run("sgd", 0.1)
    >>> run.trajectory.shape, run.diverged
    (torch.Size([301, 2]), False)
    >>> learning_rate_run("sgd", 2.0).diverged_at
    3
    """
    X, Y, *_ = _valley()
    model = nn.utils.skip_init(nn.Linear, 2, 1, bias=False)  # no draw from the global RNG
    with torch.no_grad():
        model.weight.copy_(torch.tensor([START]))
    return run_optimizer(
        model, X, Y, optimizer=optimizer, lr=lr, steps=MAX_STEPS, momentum=MOMENTUM
    )


@functools.cache
def stability_limit(optimizer: str) -> float | None:
    """The largest stable learning rate on the demo's problem, where theory gives one.

    Plain SGD converges iff ``lr < 2/λ_max`` (λ_max: the largest curvature of the loss);
    heavy-ball momentum ``β`` stretches that to ``2(1 + β)/λ_max``. Adam has no such bound.

    >>> round(stability_limit("sgd"), 2), round(stability_limit("momentum"), 2)
    (0.6, 1.14)
    >>> stability_limit("adam") is None
    True
    """
    limit = sgd_lr_limit(_valley()[0])
    return {"sgd": limit, "momentum": (1 + MOMENTUM) * limit}.get(optimizer)


def describe_run(run: OptimizerRun, optimizer_label: str, lr: float, steps: int) -> str:
    """One line on how the run went: converged, still going, or diverged (and why).

    >>> describe_run(learning_rate_run("sgd", 2.0), "SGD", 2.0, 100)[:36]
    '⚠ SGD with lr = 2 diverged at step 3'
    """
    limit = stability_limit(OPTIMIZER_CHOICES[optimizer_label])
    limit_text = (
        f"the stability limit for {optimizer_label} here is lr < {limit:.2f}" if limit else ""
    )
    if run.diverged_at is not None and run.diverged_at <= steps:
        return (
            f"⚠ {optimizer_label} with lr = {lr:g} diverged at step {run.diverged_at}: the loss "
            "grew past 10⁴× its start, so the run was stopped there. Lower the learning rate"
            + (f": {limit_text}." if limit else ".")
        )
    w1, w2 = run.trajectory[steps].tolist()
    start, end = float(run.losses[0]), float(run.losses[steps])
    return (
        f"{optimizer_label}, lr = {lr:g}: loss {start:.3g} → {end:.3g} after {steps} steps, "
        f"w = ({w1:.2f}, {w2:.2f})" + (f"; {limit_text}" if limit else "")
    )


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _decade(value: float, _position: object = None) -> str:
    """Label a power of ten compactly: the layout is fixed after the first frame, so labels
    must not grow wider when a diverging run reaches 10⁵.

    >>> [_decade(v) for v in (0.01, 1.0, 10.0, 1e5)]
    ['10⁻²', '1', '10', '10⁵']
    """
    exponent = round(math.log10(value))
    return f"{10**exponent}" if exponent in (0, 1) else "10" + str(exponent).translate(_SUPERSCRIPT)


def draw_learning_rate(fig: Figure, lr: float, steps: int, optimizer: str) -> str:
    """Draw the loss curve and the weight path for one setting; return the readout."""
    run = learning_rate_run(OPTIMIZER_CHOICES[optimizer], lr)
    shown = min(steps, len(run.losses) - 1) + 1  # the finite part, up to the chosen step
    ax_loss, ax_path = fig.subplots(1, 2, width_ratios=[1, 1.2])
    loss_curves(ax_loss, {optimizer: run.losses[:shown]}, title=f"{optimizer}: loss, lr = {lr:g}")
    ax_loss.set_xlim(0, steps)
    if run.diverged_at is not None and run.diverged_at <= steps:
        last = float(run.losses[shown - 1])
        ax_loss.plot([shown - 1], [last], "x", color="tab:red", ms=12, mew=3)
        ax_loss.set_title(f"lr = {lr:g}: diverged at step {run.diverged_at}", color="tab:red")
    *_, w_true, w1s, w2s, surface = _valley()
    paths = {optimizer: run.trajectory[:shown]}
    title = "path of (w₁, w₂); ★ = minimum"
    trajectory_contour(ax_path, w1s, w2s, surface, paths, target=w_true, title=title)
    # Fewer ticks, plain labels, no legend: every tick and text costs time in each redraw.
    ax_loss.xaxis.set_major_locator(MaxNLocator(5, integer=True))
    ax_loss.yaxis.set_major_locator(LogLocator(numticks=5))
    ax_loss.yaxis.set_minor_locator(NullLocator())
    ax_loss.yaxis.set_major_formatter(FuncFormatter(_decade))
    ax_loss.get_legend().remove()  # one curve: the title says what it is
    return describe_run(run, optimizer, lr, steps)


def build_demo(lr: float = 0.1, steps: int = 60, optimizer: str = "SGD") -> SliderDemo:
    """Sliders for the learning rate (log-spaced) and the steps, a dropdown for the optimiser. §5"""
    controls = {
        "lr": choice_slider("learning rate", LEARNING_RATES, lr),
        "steps": int_slider("steps", steps, 5, MAX_STEPS, step=5),
        "optimizer": dropdown("optimiser", list(OPTIMIZER_CHOICES), optimizer),
    }
    return slider_demo(draw_learning_rate, controls, figsize=(9.0, 3.8))


# --- §7 exercise checks: autograd is the reference answer ---------------------------------------


def _case(seed: int, leading: Sequence[int], d_in: int = 3, d_out: int = 4) -> tuple:
    """Random ``X, W, b, G`` in float64, and autograd's ``(dX, dW, db)`` for them."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(*leading, d_in, generator=generator, dtype=torch.float64)
    W = torch.randn(d_out, d_in, generator=generator, dtype=torch.float64)
    b = torch.randn(d_out, generator=generator, dtype=torch.float64)
    G = torch.randn(*leading, d_out, generator=generator, dtype=torch.float64)
    leaves = [t.clone().requires_grad_() for t in (X, W, b)]
    F.linear(*leaves).backward(G)
    return X, G, [t.grad for t in leaves]


def check_weight_grad(weight_grad: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Check ``weight_grad(X, G)`` returns ``dW = Gᵀ X`` summed over all leading dimensions.

    >>> check_weight_grad(lambda X, G: G.reshape(-1, G.shape[-1]).T @ X.reshape(-1, X.shape[-1]))
    ✓ weight_grad gives dW = Gᵀ X, for a batch (5, 3) and for leading dimensions (2, 5, 3)
    """
    X, G, (_, dW_expected, _) = _case(11, (5,))
    dW = attempt("weight_grad", weight_grad, X, G)
    if dW is NOT_ATTEMPTED:
        return
    expect(isinstance(dW, torch.Tensor), f"expected a tensor, got {type(dW).__name__}")
    expect(
        tuple(dW.shape) != (3, 4),
        "dW has shape (in_features, out_features) = (3, 4); it must match W, which is "
        "(out_features, in_features) = (4, 3). Compute Gᵀ X, not Xᵀ G.",
    )
    expect_tensor(
        dW,
        dW_expected,
        what="weight_grad(X, G) for X of shape (5, 3)",
        hint="Entry (i, j) of dW is Σ_k G[k, i] X[k, j]: one matrix product, Gᵀ X.",
    )
    X, G, (_, dW_expected, _) = _case(12, (2, 5))
    try:
        dW = weight_grad(X, G)
    except RuntimeError as exc:
        raise AssertionError(
            f"weight_grad failed for X of shape (2, 5, 3): {exc}. With extra leading "
            "dimensions every row still contributes: flatten them first, "
            "G.reshape(-1, out_features).T @ X.reshape(-1, in_features)."
        ) from exc
    expect_tensor(
        dW,
        dW_expected,
        what="weight_grad(X, G) for X of shape (2, 5, 3)",
        hint="Sum over every leading dimension: flatten them into one batch of 10 rows.",
    )
    passed("weight_grad gives dW = Gᵀ X, for a batch (5, 3) and for leading dimensions (2, 5, 3)")


def check_bias_grad(bias_grad: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Check ``bias_grad(G)`` returns ``db = G`` summed over every leading dimension.

    >>> check_bias_grad(lambda G: G.reshape(-1, G.shape[-1]).sum(0))
    ✓ bias_grad sums G over every leading dimension: db has the bias's shape (4,)
    """
    _, G, (_, _, db_expected) = _case(13, (2, 5))
    db = attempt("bias_grad", bias_grad, G)
    if db is NOT_ATTEMPTED:
        return
    expect(isinstance(db, torch.Tensor), f"expected a tensor, got {type(db).__name__}")
    expect(
        tuple(db.shape) != (5, 4),
        "db has shape (5, 4): you summed over dim 0 only. G here has shape (2, 5, 4); "
        "the bias was added to all 2 × 5 rows, so sum over every dimension but the last.",
    )
    expect_tensor(
        db,
        db_expected,
        what="bias_grad(G) for G of shape (2, 5, 4)",
        hint="b is added to every row, so each row's upstream gradient flows into it: sum them.",
    )
    passed("bias_grad sums G over every leading dimension: db has the bias's shape (4,)")


def _sgd_losses(model: nn.Module, X: torch.Tensor, Y: torch.Tensor, *, zero: bool) -> torch.Tensor:
    """20 losses of a correct SGD loop, or (``zero=False``) of one that never clears ``.grad``."""
    model = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(20):
        if zero:
            opt.zero_grad()
        loss = F.mse_loss(model(X), Y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return torch.tensor(losses, dtype=torch.float64)


def check_training_loop(train: Callable[..., Sequence[float]]) -> None:
    """Check ``train(model, X, Y, lr=..., steps=...)`` is a correct SGD loop returning its losses.

    >>> def train(model, X, Y, *, lr, steps):
    ...     opt = torch.optim.SGD(model.parameters(), lr=lr)
    ...     losses = []
    ...     for _ in range(steps):
    ...         opt.zero_grad()
    ...         loss = F.mse_loss(model(X), Y)
    ...         loss.backward()
    ...         opt.step()
    ...         losses.append(loss.item())
    ...     return losses
    >>> check_training_loop(train)
    ✓ train matches a correct SGD loop step for step (20 losses)
    """
    generator = torch.Generator().manual_seed(14)
    X = torch.randn(32, 3, generator=generator)
    Y = X @ torch.tensor([[1.0, -2.0, 0.5]]).T + 0.3
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = nn.Linear(3, 1)
    answer = attempt("train", lambda: train(copy.deepcopy(model), X, Y, lr=0.05, steps=20))
    if answer is NOT_ATTEMPTED:
        return
    got = torch.as_tensor([float(v) for v in answer], dtype=torch.float64)
    expect(len(got) == 20, f"return one loss per step: expected 20 values, got {len(got)}")
    good = _sgd_losses(model, X, Y, zero=True)
    right = torch.allclose(got, good, rtol=1e-4)
    expect(
        right or not torch.allclose(got, _sgd_losses(model, X, Y, zero=False), rtol=1e-4),
        "your losses match a loop that never clears the gradients: .backward() adds to "
        ".grad, so call opt.zero_grad() once per step, before loss.backward().",
    )
    expect(
        right or not torch.allclose(got, good[:1].expand_as(got), rtol=1e-6),  # stuck
        f"your loss never changes ({got[0].item():.4f} at every step), so opt.step() saw no "
        "gradients: call opt.zero_grad() before loss.backward(), not between backward and step.",
    )
    expect(
        right or not torch.allclose(got[:-1], good[1:], rtol=1e-4),
        "your losses are one step ahead of a correct loop: record the loss you called "
        "backward() on, measured before opt.step(), not a loss recomputed after the step.",
    )
    expect(
        right,
        "the losses differ from a correct loop (zero_grad → forward → loss → backward → step); "
        f"first losses expected {[round(v, 4) for v in good[:3].tolist()]}, "
        f"got {[round(v, 4) for v in got[:3].tolist()]}",
    )
    passed("train matches a correct SGD loop step for step (20 losses)")
