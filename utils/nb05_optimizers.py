"""Notebook 05, optimisers: §1's data, :func:`run_optimizer` (§3-§4), the §4 valley and its
learning-rate demo (:func:`build_demo`), the §6 checks. Data comes from a seeded Generator."""

from __future__ import annotations

import copy
import functools
import html
import io
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import ipywidgets as widgets
import matplotlib.colors as mcolors
import numpy as np
import PIL.Image
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor, nn
from torch.nn import functional as F

from utils import threads, tr
from utils.check import NOT_ATTEMPTED, as_number, attempt, expect, passed
from utils.widgets import SliderDemo, choice_slider, dropdown, int_slider

#: Constants holding English templates for :func:`utils.tr` (``scripts/messages.py`` reads them).
MESSAGES = ("OPTIMIZER_LABELS",)

#: The map §1 learns back: y = A x + b.
A_TRUE, B_TRUE = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.5, -2.0]]), torch.tensor([0.3, -0.7])


def regression_data(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """§1's data: ``X (n, 3)`` and ``Y = X A_TRUEᵀ + B_TRUE + ε``, ``ε ~ N(0, 0.1²)``."""
    X = torch.randn(n, 3, generator=(generator := torch.Generator().manual_seed(seed)))
    return X, X @ A_TRUE.T + B_TRUE + 0.1 * torch.randn(n, 2, generator=generator)


OPTIMIZERS = {"sgd": torch.optim.SGD, "momentum": torch.optim.SGD, "adam": torch.optim.Adam}
MOMENTUM = 0.9


class OptimizerRun(NamedTuple):
    """``losses[t]``: the loss at ``trajectory[t]``, the (flattened) parameters after t steps."""

    losses: torch.Tensor
    trajectory: torch.Tensor
    diverged_at: int | None  # the step whose loss blew up, or None


def run_optimizer(
    model: nn.Linear, X: Tensor, Y: Tensor, *, optimizer: str = "sgd", lr: float, steps: int
) -> OptimizerRun:
    """Full-batch training of a copy of ``model`` on the MSE; record losses and parameters.

    Gradients by notebook 04's ``dW = Gᵀ X``, ``db = Σ G`` (2-3× faster than autograd for tiny
    layers, equal up to rounding); ``torch.optim`` (momentum 0.9) updates. The run stops
    (``diverged_at``) when the loss is not finite or exceeds 10⁴ × its start.

    >>> run_optimizer(nn.Linear(2, 1), torch.eye(2), torch.ones(2, 1), lr=0.1, steps=5).losses.shape
    torch.Size([6])
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)}; got {optimizer!r}")
    model = copy.deepcopy(model)
    params = [p for p in (model.weight, model.bias) if p is not None]
    extra = {"momentum": MOMENTUM} if optimizer == "momentum" else {}
    opt = OPTIMIZERS[optimizer](params, lr=lr, **extra)
    flat = lambda: torch.cat([p.detach().flatten() for p in params])  # noqa: E731
    trajectory, losses = [flat()], []
    with torch.no_grad(), threads(1):  # tiny layers: threads cost more than they save
        for step in range(steps + 1):
            residual = model(X) - Y
            losses.append(float(residual.square().mean()))
            blown_up = not losses[-1] <= 1e4 * max(losses[0], 1e-12)  # (nan counts too)
            if blown_up or step == steps:
                break
            G = 2 * residual / Y.numel()  # ∂L/∂Ŷ of the mean squared error
            model.weight.grad = G.T @ X
            if model.bias is not None:
                model.bias.grad = G.sum(0)
            opt.step()
            trajectory.append(flat())
    keep = len(losses) - (not math.isfinite(losses[-1]))  # histories stay aligned and finite
    losses_t = torch.tensor(losses[:keep], dtype=torch.float64)
    return OptimizerRun(losses_t, torch.stack(trajectory[:keep]), step if blown_up else None)


def two_weight_problem(n_samples: int = 100, *, correlation: float = 0.8, seed: int = 0) -> tuple:
    """``y = 1.5 x₁ - 0.5 x₂ + ε`` (ε ~ N(0, 0.1²)) with correlated inputs: a long, tilted
    valley. Returns ``X (n, 2)``, ``Y (n, 1)``, ``w_true``. Used in §4."""
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.linalg.cholesky(torch.tensor([[1.0, correlation], [correlation, 1.0]]))
    X = torch.randn(n_samples, 2, generator=generator) @ mixing.T
    w_true = torch.tensor([1.5, -0.5])
    return X, X @ w_true[:, None] + 0.1 * torch.randn(n_samples, 1, generator=generator), w_true


# --- the §4 demo: learning rate × steps × optimiser on the two-weight valley ---------------------

LEARNING_RATES = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0)
OPTIMIZER_CHOICES = {"SGD": "sgd", "SGD + momentum 0.9": "momentum", "Adam": "adam"}
#: What the dropdown and the readout call each choice (English templates for ``tr``).
OPTIMIZER_LABELS = {"SGD": "SGD", "SGD + momentum 0.9": "SGD + momentum 0.9", "Adam": "Adam"}
MAX_STEPS, START, W1_RANGE, W2_RANGE = 300, (-1.0, -2.0), (-2.0, 3.0), (-2.5, 2.5)


@functools.cache
def _valley() -> tuple[torch.Tensor, ...]:
    """``(X, Y, w_true)`` of the demo's problem and its loss on a 60×60 grid ``(w1s, w2s, L)``."""
    X, Y, w_true = two_weight_problem()
    w1s, w2s = torch.linspace(*W1_RANGE, 60), torch.linspace(*W2_RANGE, 60)
    weights = torch.cartesian_prod(w2s, w1s).flip(1).T  # (2, 3600); rows follow w₂, as in contour
    surface = (X @ weights - Y).square().mean(0).reshape(60, 60)
    return X, Y, w_true, w1s, w2s, surface


@functools.lru_cache(maxsize=64)
def learning_rate_run(optimizer: str, lr: float) -> OptimizerRun:
    """``optimizer`` at ``lr`` for :data:`MAX_STEPS` steps from :data:`START`, run once (cached):
    the steps slider scrubs through it. §4 asserts the demo's claims on these runs.

    >>> learning_rate_run("sgd", 0.1).trajectory.shape, learning_rate_run("sgd", 2.0).diverged_at
    (torch.Size([301, 2]), 3)
    """
    X, Y, *_ = _valley()
    model = nn.utils.skip_init(nn.Linear, 2, 1, bias=False)  # no draw from the global RNG
    with torch.no_grad():
        model.weight.copy_(torch.tensor([START]))
    return run_optimizer(model, X, Y, optimizer=optimizer, lr=lr, steps=MAX_STEPS)


@functools.cache
def stability_limit(optimizer: str) -> float | None:
    """The largest stable learning rate on the demo's problem: ``2/λ_max`` of the MSE's Hessian
    ``H = 2XᵀX/n`` for SGD, ``2(1 + β)/λ_max`` with momentum ``β``; Adam has no such bound.

    >>> round(stability_limit("sgd"), 2), round(stability_limit("momentum"), 2)
    (0.6, 1.14)
    """
    X = _valley()[0].double()
    limit = 2 / float(torch.linalg.eigvalsh(2 * X.T @ X / len(X)).max())
    return {"sgd": limit, "momentum": (1 + MOMENTUM) * limit}.get(optimizer)


class LearningRateView:
    """The loss (one fixed scale for every run) and the weight path over the loss contours. The
    static picture is rendered once; a frame draws only the moving artists over it (blitting)."""

    def __init__(self, fig: Figure) -> None:
        *_, w_true, w1s, w2s, surface = _valley()
        self.ax_loss, ax_path = fig.subplots(1, 2, width_ratios=[1, 1.2])
        Z = surface.numpy()
        norm, levels = mcolors.LogNorm(Z.min(), Z.max()), np.geomspace(Z.min(), Z.max(), 15)
        ax_path.contour(w1s, w2s, Z, levels=levels, cmap="viridis", norm=norm, linewidths=0.8)
        ax_path.plot(*w_true.tolist(), "*", color="black", ms=14)
        ax_path.plot(*START, "o", color="black", mfc="white", ms=7)
        (self.path,) = ax_path.plot([], [], marker=".", ms=4, lw=1.2)
        ax_path.set(xlim=W1_RANGE, ylim=W2_RANGE, xlabel="w₁", ylabel="w₂")
        ax_path.set_title("path of (w₁, w₂); ★ = minimum")
        ax = self.ax_loss
        (self.loss,), (self.now,) = ax.plot([], [], lw=1.8), ax.plot([], [], "o", ms=6)
        (self.blow_up,) = ax.plot([], [], "x", color="tab:red", ms=12, mew=3)
        ax.set(yscale="log", xlim=(0, MAX_STEPS), ylim=(5e-3, 2e6), xlabel="step", ylabel="loss")
        ax.set_yticks([1e-2, 1, 1e2, 1e4, 1e6], ["10⁻²", "1", "10²", "10⁴", "10⁶"])
        ax.set_yticks([], minor=True)
        ax.set_title(" ")
        self.moving = [self.path, self.loss, self.now, self.blow_up, ax.title]
        for artist in self.moving:
            artist.set_animated(True)  # left out of the static picture
        self.canvas, self.background = FigureCanvasAgg(fig), None

    def update(self, lr: float, steps: int, optimizer: str) -> str:
        """Show the cached run of ``optimizer`` at ``lr`` up to ``steps``; return the readout."""
        run = learning_rate_run(OPTIMIZER_CHOICES[optimizer], lr)
        shown = min(steps, len(run.losses) - 1) + 1  # the finite part, up to the chosen step
        color = f"C{list(OPTIMIZER_CHOICES).index(optimizer)}"
        losses, path = np.minimum(run.losses.numpy(), 1.5e6), run.trajectory.numpy()
        self.loss.set(data=(np.arange(shown), losses[:shown]), color=color)
        self.now.set(data=([shown - 1], [losses[shown - 1]]), color=color)
        self.path.set(data=(path[:shown, 0], path[:shown, 1]), color=color)
        diverged = run.diverged_at is not None and run.diverged_at <= steps
        self.blow_up.set_data(([shown - 1], [losses[shown - 1]]) if diverged else ([], []))
        title = f"diverged at step {run.diverged_at}" if diverged else f"loss, lr = {lr:g}"
        self.ax_loss.set_title(title, color="tab:red" if diverged else "black")
        limit = stability_limit(OPTIMIZER_CHOICES[optimizer])
        bound = tr("; stability limit here: lr < {limit}", limit=f"{limit:.2f}") if limit else ""
        name = tr(OPTIMIZER_LABELS[optimizer])
        values = {"name": name, "lr": f"{lr:g}", "steps": steps, "bound": bound}
        if diverged:
            return tr(
                "{name} with lr = {lr} diverged at step {step} (loss > 10⁴× its start){bound}",
                **values,
                step=run.diverged_at,
            )
        (w1, w2), start, end = path[steps].tolist(), losses[0], losses[steps]
        values |= {"start": f"{start:.3g}", "end": f"{end:.3g}", "w": f"({w1:.2f}, {w2:.2f})"}
        return tr(
            "{name}, lr = {lr}: loss {start} → {end} after {steps} steps, w = {w}{bound}", **values
        )

    def png(self) -> bytes:
        """The current frame as PNG: the cached static picture plus the moving artists."""
        if self.background is None:  # first frame: render the static picture once
            self.canvas.draw()
            self.background = self.canvas.copy_from_bbox(self.canvas.figure.bbox)
        self.canvas.restore_region(self.background)
        for artist in self.moving:
            artist.axes.draw_artist(artist)
        frame = PIL.Image.fromarray(np.asarray(self.canvas.buffer_rgba()))
        frame.save(buffer := io.BytesIO(), "png", compress_level=1)  # fast zlib level
        return buffer.getvalue()


def build_demo(lr: float = 0.1, steps: int = 60, optimizer: str = "SGD") -> SliderDemo:
    """Learning rate (log-spaced), steps and optimiser; every move redraws only what moves."""
    controls = {
        "lr": choice_slider(tr("learning rate"), LEARNING_RATES, lr),
        "steps": int_slider(tr("steps"), steps, 5, MAX_STEPS, step=5),
        "optimizer": dropdown(
            tr("optimiser"),
            [(tr(OPTIMIZER_LABELS[name]), name) for name in OPTIMIZER_CHOICES],
            optimizer,
        ),
    }
    fig = Figure(figsize=(9.0, 3.8), dpi=80, layout="constrained")
    view = LearningRateView(fig)
    fig.get_layout_engine().execute(fig)  # lay out once; every frame keeps these positions
    fig.set_layout_engine("none")
    size = widgets.Layout(width="720px", max_width="100%", height="auto")  # the PNG's own size
    image, readout = widgets.Image(format="png", layout=size), widgets.HTML()

    def redraw(_change: object = None) -> None:
        text = view.update(**{name: control.value for name, control in controls.items()})
        image.value = view.png()
        readout.value = f"<code>{html.escape(text)}</code>"

    redraw()
    for control in controls.values():
        control.observe(redraw, names="value")
    box = widgets.VBox([*controls.values(), readout, image])
    return SliderDemo(box, fig, image, readout, controls, redraw)


# --- §6 exercise checks -------------------------------------------------------------------------


_close = functools.partial(math.isclose, rel_tol=1e-3, abs_tol=1e-4)


def check_two_steps(w_with: object, w_without: object) -> None:
    """Check the predicted weights after two SGD steps with and without ``zero_grad``, and
    verify them with ``torch.optim.SGD`` on ``Linear(1, 1, bias=False)``.

    >>> check_two_steps(0.67, 0.37)
    ✓ after two steps: w = 0.67 with zero_grad, 0.37 without (torch.optim.SGD agrees)
    """
    pending = ... if w_with is ... or w_without is ... else None  # one note for the pair
    if attempt(tr("w_with and w_without"), pending) is NOT_ATTEMPTED:
        return
    got = (as_number(w_with, what="w_with"), as_number(w_without, what="w_without"))
    unit = nn.utils.skip_init(nn.Linear, 1, 1, bias=False)  # no draw from the global RNG
    x, y, _ = torch.tensor([[3.0]]), torch.tensor([[2.0]]), nn.init.ones_(unit.weight)
    want = [float(_sgd(unit, x, y, 0.05, 2, zero)[1].weight.detach()) for zero in (True, False)]
    no_two = (0.7675, 0.6175)  # from dL/dw = 3(3w - 2): w = 0.85, then 0.85 - 0.05·1.65 (or ·4.65)
    wrong = [  # typical predictions -> the mistake they reveal
        ((want[1], want[0]), tr("swapped: without zero_grad the second step is the larger one.")),
        (
            (want[0], want[0]),
            tr("without zero_grad, .grad still holds step 1's gradient: 6 + 0.6."),
        ),
        ((0.7, 0.7), tr("0.7 is the weight after one step; predict it after two.")),
        (no_two, tr("dL/dw = 2x(wx - y): you left out the 2 that comes down from the square.")),
    ]
    if not (_close(got[0], want[0]) and _close(got[1], want[1])):
        for (a, b), hint in wrong:
            expect(not (_close(got[0], a) and _close(got[1], b)), hint)
        expect(False, tr("not yet: dL/dw = 2x(wx - y), w ← w - lr·grad, and .grad adds up."))
    passed(
        tr(
            "after two steps: w = {a} with zero_grad, {b} without (torch.optim.SGD agrees)",
            a=f"{want[0]:.4g}",
            b=f"{want[1]:.4g}",
        )
    )


def _sgd(model: nn.Module, X, Y, lr: float, steps: int, zero=True) -> tuple:
    """Losses and trained copy of a correct SGD loop (``zero=False``: one that never clears)."""
    model = copy.deepcopy(model)
    opt, losses = torch.optim.SGD(model.parameters(), lr=lr), []
    for _ in range(steps):
        if zero:
            opt.zero_grad()
        loss = F.mse_loss(model(X), Y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return torch.tensor(losses, dtype=torch.float64), model


def check_training_loop(train: Callable[..., Sequence[float]]) -> None:
    """Check ``train(model, X, Y, lr=..., steps=...)`` on two models, two ``lr``, two ``steps``.

    >>> check_training_loop(lambda model, X, Y, *, lr, steps: _sgd(model, X, Y, lr, steps)[0])
    ✓ train matches a correct SGD loop step for step (lr = 0.05 and 0.2, 20 and 7 steps)
    """
    cases = [(3, 1, 0.05, 20, 0.2), (4, 2, 0.2, 7, 0.05)]  # d_in, d_out, lr, steps, the other lr
    for seed, (d_in, d_out, lr, steps, other_lr) in enumerate(cases):
        generator = torch.Generator().manual_seed(seed)
        X = torch.randn(32, d_in, generator=generator)
        Y = X @ torch.randn(d_out, d_in, generator=generator).T + 0.3
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            start = nn.Linear(d_in, d_out)
        model = copy.deepcopy(start)
        answer = attempt("train", functools.partial(train, lr=lr, steps=steps), model, X, Y)
        if answer is NOT_ATTEMPTED:
            return
        got = torch.tensor(
            [as_number(v, what=tr("each loss")) for v in answer], dtype=torch.float64
        )
        expect(len(got) == steps, tr("asked for steps = {s}, got {n} losses.", s=steps, n=len(got)))
        good, no_zero = _sgd(start, X, Y, lr, steps)[0], _sgd(start, X, Y, lr, steps, False)[0]
        other = _sgd(start, X, Y, other_lr, steps)[0]
        other_hint = tr(
            "your losses match lr = {other}, but this call asked for lr = {lr}.",
            other=other_lr,
            lr=lr,
        )
        wrong = [
            (no_zero, tr("your losses match a loop without opt.zero_grad(): .grad adds up.")),
            (
                good[:1].expand_as(good),
                tr("the loss never changes: zero_grad goes before backward()."),
            ),
            (
                torch.cat([good[1:], got[-1:]]),
                tr("one step ahead: record the loss before opt.step()."),
            ),
            (other, other_hint),
        ]
        if not torch.allclose(got, good, rtol=1e-4):
            for losses, hint in wrong:
                expect(not torch.allclose(got, losses, rtol=1e-4), hint)
            trained = not torch.equal(model.weight, start.weight)
            expect(trained, tr("train the model you are given, not a new one."))
            first = {"want": [round(v, 4) for v in good[:3].tolist()], "got": got[:3].tolist()}
            expect(False, tr("not a correct SGD loop: first losses {want}, got {got}.", **first))
    passed(tr("train matches a correct SGD loop step for step (lr = 0.05 and 0.2, 20 and 7 steps)"))


def check_stable_lr(largest_stable_lr: Callable[..., object]) -> None:
    """Check ``largest_stable_lr(X, momentum)`` on three inputs and three momenta.

    >>> def largest_stable_lr(X, momentum):
    ...     X1 = torch.cat([X, torch.ones(len(X), 1)], dim=1)
    ...     return 2 * (1 + momentum) / torch.linalg.eigvalsh(2 * X1.T @ X1).max()
    >>> check_stable_lr(largest_stable_lr)
    ✓ largest_stable_lr = 2(1 + β)/λ_max(2 X̃ᵀX̃) for 3 inputs and momentum 0, 0.9, 0.5
    """
    cases = [(40, (1.0, 1.0), 0.0), (100, (1.0, 3.0, 0.5), 0.9), (7, (2.0,), 0.5)]
    for seed, (n, scales, beta) in enumerate(cases):
        generator = torch.Generator().manual_seed(seed)
        X = torch.randn(n, len(scales), generator=generator) * torch.tensor(scales) + 0.5
        answer = attempt("largest_stable_lr", largest_stable_lr, X.clone(), beta)
        if answer is NOT_ATTEMPTED:
            return
        got = as_number(answer, what=tr("largest_stable_lr(X, momentum={m})", m=beta))
        X = X.double()
        X1 = torch.cat([X, torch.ones(n, 1, dtype=X.dtype)], dim=1)  # the bias as a weight on 1
        top = float(torch.linalg.eigvalsh(2 * X1.T @ X1).max())  # λ_max of the summed error's H
        right = 2 * (1 + beta) / top
        no_bias = 2 * (1 + beta) / float(torch.linalg.eigvalsh(2 * X.T @ X).max())
        wrong = [
            (n * right, tr("with reduction='sum' the curvature grows with n: H = 2 X̃ᵀX̃, no / n.")),
            (no_bias, tr("include the bias: the parameters are [W, b], so X̃ = [X, 1].")),
            (2 * right, tr("H = 2 X̃ᵀX̃: the square's derivative brings down a 2; keep it.")),
            (2 / top, tr("momentum β stretches the limit to 2(1 + β)/λ_max; you left β out.")),
        ]
        if not _close(got, right):
            for value, hint in wrong:
                expect(not _close(got, value), hint)
            values = {"shape": tuple(X.shape), "m": beta, "want": f"{right:.4g}", "got": got}
            expect(False, tr("X {shape}, momentum {m}: expected {want}, got {got}.", **values))
    passed(tr("largest_stable_lr = 2(1 + β)/λ_max(2 X̃ᵀX̃) for 3 inputs and momentum 0, 0.9, 0.5"))
