"""Notebook 07 (Linear + BatchNorm1d): the running-statistics demo (§4) and the exercise
self-checks (§8). Batch norm by hand, ``NormalizedLinear`` and the fold live in the notebook."""

from __future__ import annotations

import copy
import io
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from matplotlib.ticker import MaxNLocator
from PIL import Image
from torch import nn
from torch.nn.utils.fusion import fuse_linear_bn_weights

from utils import tr
from utils.check import NOT_ATTEMPTED, as_number, attempt, expect, judge, passed
from utils.plot import AFTER_COLOR
from utils.widgets import SliderDemo, float_slider, int_slider, slider_demo

#: Constants holding English templates for :func:`utils.tr` (``scripts/messages.py`` reads them).
MESSAGES = (
    "UNBIASED",
    "LAYER_NORM",
    "PER_TOKEN",
    "EPS_OUTSIDE",
    "EPS_MISSING",
    "EPS_FIXED",
    "REVERSED",
    "BIASED_RUNNING",
    "NO_START",
    "BATCH_STATS",
    "AXIS",
    "RESHAPE",
    "OWN_BN",
    "BUFFERS",
    "COLUMNS",
    "NO_MEAN",
    "NO_BIAS",
    "NO_SCALE",
)

# ---------------------------------------------------------------------------- §4 slider demo

#: One value per feature has no spread: BatchNorm refuses a batch of 1 in training mode.
MIN_BATCH = 2
BATCH_RANGE, SHIFT_RANGE, SCALE_RANGE = (MIN_BATCH, 128), (-5.0, 5.0), (0.1, 4.0)
MOMENTUM_RANGE = (0.01, 1.0)
STEPS, FEATURES, EPS, BINS = 60, 4, 1e-5, 30  # EPS: BatchNorm1d's default
#: The histogram's fixed x range: the widest input the sliders can make.
REACH = max(-SHIFT_RANGE[0], SHIFT_RANGE[1]) + 3 * SCALE_RANGE[1]
HIST_COLORS, STATS_COLORS = ("0.55", AFTER_COLOR), ("tab:orange", "tab:green")


class BatchNormRun(NamedTuple):  # what simulate_batchnorm returns
    before: torch.Tensor  # BatchNorm inputs, shape (steps, batch, features)
    after: torch.Tensor  # training-mode outputs (γ = 1, β = 0), same shape
    running_mean: torch.Tensor  # after each step, shape (steps + 1, features); row 0 is 0
    running_var: torch.Tensor  # after each step, shape (steps + 1, features); row 0 is 1


@lru_cache(maxsize=128)
def simulate_batchnorm(
    batch_size: int, shift: float, scale: float, momentum: float, *, steps: int = STEPS, seed=0
) -> BatchNormRun:
    """``steps`` training-mode BatchNorm passes on batches of ``shift + scale · N(0, 1)``: the
    numbers ``nn.BatchNorm1d(FEATURES, momentum=momentum)`` gives when fed them one by one.
    Cached per setting (the tensors are shared: do not modify them). Notebook 07, §4.

    >>> run = simulate_batchnorm(64, 3.0, 2.0, 0.1)
    >>> run.after.shape, run.running_mean.shape
    (torch.Size([60, 64, 4]), torch.Size([61, 4]))
    """
    if batch_size < MIN_BATCH:
        raise ValueError(f"batch_size must be at least {MIN_BATCH}; got {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    before = shift + scale * torch.randn(steps, batch_size, FEATURES, generator=generator)
    mean = before.mean(dim=1, keepdim=True)
    after = (before - mean) / torch.sqrt(before.var(dim=1, keepdim=True, correction=0) + EPS)
    running_mean, running_var = [torch.zeros(FEATURES)], [torch.ones(FEATURES)]
    for batch_mean, batch_var in zip(mean[:, 0], before.var(dim=1), strict=True):  # unbiased var
        running_mean.append((1 - momentum) * running_mean[-1] + momentum * batch_mean)
        running_var.append((1 - momentum) * running_var[-1] + momentum * batch_var)
    return BatchNormRun(before, after, torch.stack(running_mean), torch.stack(running_var))


def histogram_outline(values: torch.Tensor, bins: int = BINS) -> np.ndarray:
    """The ``(x, y)`` step outline of a density histogram of ``values``.

    >>> histogram_outline(torch.tensor([0.0, 1.0]), bins=2).tolist()
    [[0.0, 0.0], [0.0, 1.0], [0.5, 1.0], [0.5, 1.0], [1.0, 1.0], [1.0, 0.0]]
    """
    density, edges = np.histogram(values.numpy().ravel(), bins=bins, density=True)
    return np.column_stack([np.repeat(edges, 2), np.concatenate([[0], np.repeat(density, 2), [0]])])


class BatchNormPanels:
    """The demo's picture, made once on ``fig``; :meth:`update` moves its artists in place.

    Left: density histograms of BatchNorm's input and output, all steps pooled. Right:
    ``running_mean`` and ``running_var`` of every feature per step, the true values dashed.
    """

    def __init__(self, fig: Figure) -> None:
        self.fig, (self.ax_hist, self.ax_stats) = fig, fig.subplots(1, 2, width_ratios=[1, 1.2])
        self.hist = [self.ax_hist.add_patch(Polygon([[0, 0]], color=c)) for c in HIST_COLORS]
        for patch in self.hist:
            patch.set_alpha(0.55)
        self.ax_hist.legend(self.hist, ["input", "output"], loc="upper left", fontsize=8)
        self.ax_hist.set(xlim=(-REACH, REACH), xticks=range(-15, 16, 5), yticks=[])
        self.ax_hist.set(xlabel="activation value", ylabel="density")
        self.ax_hist.set_title("BatchNorm input and output, all steps", fontsize=9)
        steps, zeros = range(STEPS + 1), np.zeros((STEPS + 1, FEATURES))
        self.lines = [self.ax_stats.plot(steps, zeros, color=c, lw=0.9) for c in STATS_COLORS]
        self.targets = [self.ax_stats.axhline(0, color=c, ls="--", lw=1) for c in STATS_COLORS]
        self.ax_stats.set(xlim=(0, STEPS), xticks=range(0, STEPS + 1, 20), ylabel="estimate")
        self.ax_stats.set(xlabel="training step (batches seen)")
        self.ax_stats.set_title("running_mean, running_var; dashed: true values", fontsize=9)
        self.ax_stats.yaxis.set_major_locator(MaxNLocator(5))
        self.moving = [*self.hist, *self.lines[0], *self.lines[1], *self.targets]
        self.moving.append(self.ax_stats.yaxis)  # its ticks follow the y limits
        self.background = None

    def update(self, batch_size: int, shift: float, scale: float, momentum: float) -> str:
        """Show the run for these settings; return the readout."""
        run = simulate_batchnorm(batch_size, round(shift, 4), round(scale, 4), round(momentum, 4))
        outlines = [histogram_outline(values) for values in (run.before, run.after)]
        for patch, outline in zip(self.hist, outlines, strict=True):
            patch.set_xy(outline)
        peaks = [outline[:, 1].max() for outline in outlines]  # batch size 2: output spikes
        self.ax_hist.set_ylim(0, 1.08 * max(peaks[0], min(peaks[1], 1.0)))  # run off the top
        for lines, data in zip(self.lines, (run.running_mean, run.running_var), strict=True):
            for curve, column in zip(lines, data.T.numpy(), strict=True):
                curve.set_ydata(column)
        for line, target in zip(self.targets, (shift, scale**2), strict=True):
            line.set_ydata([target, target])
        both = [*torch.cat([run.running_mean, run.running_var]).flatten().tolist(), shift, scale**2]
        low, high = min(both), max(both)
        self.ax_stats.set_ylim(low - 0.05 * (high - low) - 0.1, high + 0.05 * (high - low) + 0.1)
        mean, var = float(run.running_mean[-1].mean()), float(run.running_var[-1].mean())
        note = tr(" (with 2 samples every output is ≈ ±1)") if batch_size == 2 else ""
        std = float(run.after.std(correction=0))
        return tr(
            "after {steps} steps: running_mean ≈ {m:+.2f} (true {s:+.2f}), running_var ≈ "
            "{v:.2f} (true {s2:.2f}); output std {std:.2f}{note}",
            steps=STEPS,
            m=mean,
            s=shift,
            v=var,
            s2=scale**2,
            std=std,
            note=note,
        )

    def png(self) -> bytes:
        """The current picture as PNG. The first call draws the still parts (frames, titles,
        labels, most ticks: most of the text, which is the slow part) once and keeps them;
        every call then redraws only the moving artists on top (blitting)."""
        canvas = self.fig.canvas
        if self.background is None:
            canvas = FigureCanvasAgg(self.fig)
            for artist in self.moving:
                artist.set_animated(True)
            canvas.draw()
            self.background = canvas.copy_from_bbox(self.fig.bbox)
        canvas.restore_region(self.background)
        for artist in self.moving:
            artist.axes.draw_artist(artist)
        buffer = io.BytesIO()
        Image.fromarray(np.asarray(canvas.buffer_rgba())).save(buffer, "png", compress_level=1)
        return buffer.getvalue()


def draw_batchnorm(
    fig: Figure, batch_size: int, shift: float, scale: float, momentum: float
) -> str:
    """Draw the demo's picture for these settings on ``fig``; return the readout."""
    return BatchNormPanels(fig).update(batch_size, shift, scale, momentum)


def build_demo(batch_size=16, shift=3.0, scale=2.0, momentum=0.1) -> SliderDemo:
    """Sliders for batch size, input shift and scale, and momentum. Notebook 07, §4.

    ``slider_demo`` draws and lays out the first picture; a slider move then only updates the
    artists of that :class:`BatchNormPanels` and redraws those alone (no new axes, no layout).
    """
    controls = {
        "batch_size": int_slider(tr("batch size"), batch_size, *BATCH_RANGE),
        "shift": float_slider(tr("input shift"), shift, *SHIFT_RANGE, step=0.5),
        "scale": float_slider(tr("input scale"), scale, *SCALE_RANGE, step=0.1),
        "momentum": float_slider(tr("momentum"), momentum, *MOMENTUM_RANGE, step=0.01),
    }
    panels: list[BatchNormPanels] = []

    def first_draw(fig: Figure, **values: float) -> str:
        panels[:] = [BatchNormPanels(fig)]
        return panels[0].update(**values)

    def update(_fig: Figure, **values: float) -> tuple[str, bytes]:
        text = panels[0].update(**values)
        return text, panels[0].png()

    return slider_demo(first_draw, controls, figsize=(10.0, 3.6), update=update)


# ---------------------------------------------------------------------------- §8 self-checks

# The hints that name each typical mistake (the tests match them).
UNBIASED = "you normalised with the unbiased variance (divide by n − 1); BatchNorm divides by n."
LAYER_NORM = "you normalised each sample over its features: that is LayerNorm, not BatchNorm."
PER_TOKEN = "for (n, C, L) each feature's statistics run over n AND L: dims (0, 2), not 0 alone."
EPS_OUTSIDE = "eps belongs inside the square root: sqrt(var + eps), not sqrt(var) + eps."
EPS_MISSING = "eps is missing: divide by sqrt(var + eps)."
EPS_FIXED = "you ignored the eps argument (hard-coded 1e-5?): use the eps you are given."
REVERSED = "momentum is reversed: PyTorch weights the NEW batch, (1 − m) · running + m · batch."
BIASED_RUNNING = "running_var uses the UNBIASED batch variance (divide by n − 1)."
NO_START = "the buffers start at running_mean = 0, running_var = 1, not at the first batch."
BATCH_STATS = "in eval mode BatchNorm uses the running buffers, not a batch's statistics."
AXIS = "bn(h) reads axis 1 (the L positions) as the features: move the features to axis 1."
RESHAPE = "reshape keeps the memory order and mixes positions with features: use transpose(1, 2)."
OWN_BN = "use the bn you are given: its gamma, beta and (in eval mode) its running statistics."
BUFFERS = "bn's running statistics did not change as BatchNorm1d's do: call bn once on all tokens."
COLUMNS = "you scaled the columns of W: row i (output feature i) is scaled by gamma[i] / sigma[i]."
NO_MEAN = "the running mean is missing: b' = gamma (b − mean) / sigma + beta."
NO_BIAS = "the Linear bias b is missing: it passes through BatchNorm, gamma (b − mean) / sigma."
NO_SCALE = "b must be scaled by gamma / sigma too: b' = gamma (b − mean) / sigma + beta."
F32, F64 = torch.float32, torch.float64
FORWARD_CASES = (((6, 4), 1e-5, F32), ((3, 4, 5), 0.1, F32), ((5, 3, 3), 1e-3, F64))
TOKEN_CASES = (((3, 5, 4), True, F32), ((2, 4, 4), True, F32), ((4, 6, 3), False, F64))
FOLD_CASES = (((3, 5), 1e-5, F32), ((4, 4), 1e-2, F64), ((2, 6), 1e-3, F64))  # square: no bias


def _call(answer: Callable, args: tuple, what: str, hint: str) -> object:
    """``attempt`` the learner's function; an error it raises becomes a hint naming the case."""
    try:
        return attempt(getattr(answer, "__name__", "the function"), answer, *args)
    except (RuntimeError, TypeError, ValueError, IndexError, AttributeError) as error:
        kind = type(error).__name__
        message = tr(
            "{what} raised {kind}: {error} — {hint}", what=what, kind=kind, error=error, hint=hint
        )
        raise AssertionError(message) from error


def _normalise(x: torch.Tensor, dims: tuple, eps: float, correction=0, outside=False):
    mean, var = x.mean(dims, keepdim=True), x.var(dims, keepdim=True, correction=correction)
    return (x - mean) / (var.sqrt() + eps if outside else torch.sqrt(var + eps))


def check_batchnorm_forward(batchnorm_forward: Callable[..., torch.Tensor]) -> None:
    """Check ``batchnorm_forward(x, gamma, beta, eps)`` against training-mode BatchNorm: ``x`` of
    shape ``(n, C)`` and ``(n, C, L)``, float32 and float64, three ``eps``; feature 0 has a tiny
    variance, so where ``eps`` goes shows.

    >>> def batchnorm_forward(x, gamma, beta, eps):
    ...     dims, shape = ((0,), (-1,)) if x.ndim == 2 else ((0, 2), (-1, 1))
    ...     mean, var = x.mean(dims, keepdim=True), x.var(dims, keepdim=True, correction=0)
    ...     return gamma.reshape(shape) * (x - mean) / torch.sqrt(var + eps) + beta.reshape(shape)
    >>> check_batchnorm_forward(batchnorm_forward)
    ✓ batchnorm_forward matches nn.BatchNorm1d in training mode for (n, C) and (n, C, L)
    """
    generator = torch.Generator().manual_seed(6)
    for shape, eps, dtype in FORWARD_CASES:
        x = 3 + 2 * torch.randn(shape, generator=generator, dtype=dtype)
        x[:, 0] = 3 + 1e-3 * torch.randn(x[:, 0].shape, generator=generator, dtype=dtype)
        gamma, beta = 1 + torch.rand(2, shape[1], generator=generator, dtype=dtype)
        what = tr("batchnorm_forward(x of shape {s}, {t}, eps={e:g})", s=shape, t=dtype, e=eps)
        hint = tr("For (n, C, L) input reshape gamma and beta to (C, 1), to line up with axis 1.")
        got = _call(batchnorm_forward, (x.clone(), gamma, beta, eps), what, hint)
        if got is NOT_ATTEMPTED:
            return
        dims, column = ((0,), (-1,)) if x.ndim == 2 else ((0, 2), (-1, 1))
        g, b = gamma.reshape(column), beta.reshape(column)
        wrong = [
            (tr(UNBIASED), g * _normalise(x, dims, eps, correction=1) + b),
            (tr(LAYER_NORM), g * _normalise(x, tuple(range(1, x.ndim)), eps) + b),
            (tr(PER_TOKEN), g * _normalise(x, (0,), eps) + b if x.ndim == 3 else None),
            (tr(EPS_OUTSIDE), g * _normalise(x, dims, eps, outside=True) + b),
            (tr(EPS_MISSING), g * _normalise(x, dims, 0.0) + b),
            (tr(EPS_FIXED), g * _normalise(x, dims, EPS) + b),
        ]
        judge(
            got, F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps), wrong, what=what
        )
    passed(tr("batchnorm_forward matches nn.BatchNorm1d in training mode for (n, C) and (n, C, L)"))


#: Exercise 7.2: a fresh BatchNorm1d(1, momentum=0.25) sees two batches, then predicts 6.0.
PREDICT_MOMENTUM, PREDICT_BATCHES, PREDICT_INPUT = 0.25, ((1.0, 3.0), (4.0, 8.0)), 6.0


def _predicted(momentum: float, correction: int = 1, from_first: bool = False) -> float:
    mean, var = 0.0, 1.0
    for step, batch in enumerate(torch.tensor(PREDICT_BATCHES, dtype=F64)):
        m = 1.0 if from_first and step == 0 else momentum
        mean = (1 - m) * mean + m * float(batch.mean())
        var = (1 - m) * var + m * float(batch.var(correction=correction))
    return (PREDICT_INPUT - mean) / (var + EPS) ** 0.5


def check_eval_prediction(answer: object) -> None:
    """Check exercise 7.2's predicted eval-mode output (any number form, to 3 decimals).

    >>> bn = nn.BatchNorm1d(1, momentum=PREDICT_MOMENTUM)
    >>> for batch in PREDICT_BATCHES:
    ...     _ = bn(torch.tensor(batch)[:, None])
    >>> check_eval_prediction(bn.eval()(torch.tensor([[PREDICT_INPUT]]))[0, 0])
    ✓ 2.407 = (6 − 1.875) / sqrt(2.9375 + eps): the buffers after two batches
    """
    got = attempt("answer", answer)
    if got is NOT_ATTEMPTED:
        return
    got = as_number(got.detach() if isinstance(got, torch.Tensor) else got, what="answer")
    m = PREDICT_MOMENTUM
    wrong = [
        (tr(REVERSED), _predicted(1 - m)),
        (tr(BIASED_RUNNING), _predicted(m, correction=0)),
        (tr(NO_START), _predicted(m, from_first=True)),
        (tr(BATCH_STATS), 0),
    ]
    for mistake, value in wrong:
        expect(abs(got - value) > 5e-3, tr("answer = {a:.4g}: {hint}", a=got, hint=mistake))
    want, hint = _predicted(m), tr("update both buffers once per batch, then normalise with them.")
    expect(abs(got - want) < 5e-3, tr("answer = {a:.4g} is off: {hint}", a=got, hint=hint))
    passed(tr("{a:.3f} = (6 − 1.875) / sqrt(2.9375 + eps): the buffers after two batches", a=want))


def check_bn_tokens(bn_tokens: Callable[[torch.Tensor, nn.BatchNorm1d], torch.Tensor]) -> None:
    """Check ``bn_tokens(h, bn)`` applies ``bn`` to ``h`` of shape ``(n, L, d)``: each feature over
    all ``n · L`` tokens, shape kept, ``bn``'s buffers updated as ``nn.BatchNorm1d`` does. Cases:
    L ≠ d, L = d (where the mistakes run silently), and eval mode in float64.

    >>> check_bn_tokens(lambda h, bn: bn(h.transpose(1, 2)).transpose(1, 2))
    ✓ bn_tokens normalises every feature over all n · L tokens, in train and eval mode
    """
    generator = torch.Generator().manual_seed(21)
    for (n, L, d), training, dtype in TOKEN_CASES:
        bn = nn.BatchNorm1d(d, dtype=dtype).train(training)
        with torch.no_grad():
            for tensor in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
                tensor.copy_(0.5 + torch.rand(d, generator=generator, dtype=dtype))
        h = 2 + 3 * torch.randn(n, L, d, generator=generator, dtype=dtype)
        what = tr("bn_tokens(h of shape {s}, bn.training={t})", s=(n, L, d), t=bn.training)
        hint = tr("BatchNorm1d(d) reads axis 1 as the features: it wants (n, d, L).")
        mine, reference, copied = copy.deepcopy(bn), copy.deepcopy(bn), copy.deepcopy(bn)
        got = _call(bn_tokens, (h.clone(), mine), what, hint)
        if got is NOT_ATTEMPTED:
            return
        with torch.no_grad():
            wrong = [
                (tr(AXIS), copy.deepcopy(bn)(h) if d == L else None),
                (tr(RESHAPE), copied(h.reshape(n, d, L)).reshape(n, L, d)),
                (tr(LAYER_NORM), F.layer_norm(h, (d,), bn.weight, bn.bias, bn.eps)),
                (tr(OWN_BN), nn.BatchNorm1d(d, dtype=dtype)(h.transpose(1, 2)).transpose(1, 2)),
            ]
            judge(got, reference(h.transpose(1, 2)).transpose(1, 2), wrong, what=what)
        same = [
            torch.allclose(a, b) for a, b in zip(mine.buffers(), reference.buffers(), strict=True)
        ]
        expect(all(same), tr("{what}: {hint}", what=what, hint=tr(BUFFERS)))
    passed(tr("bn_tokens normalises every feature over all n · L tokens, in train and eval mode"))


def check_fold(fold: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Check ``fold(W, b, gamma, beta, mean, var, eps)`` returns ``(W', b')`` with ``x @ W'.T + b'
    == bn(linear(x))`` for an eval-mode ``bn``. Cases: non-square with a bias; square (where
    scaling the columns runs) with ``b = None``; float64; three ``eps``; tiny variances.

    >>> def fold(W, b, gamma, beta, mean, var, eps):
    ...     scale = gamma / torch.sqrt(var + eps)
    ...     b = torch.zeros_like(mean) if b is None else b
    ...     return scale[:, None] * W, scale * (b - mean) + beta
    >>> check_fold(fold)
    ✓ fold gives one Linear equal to Linear → BatchNorm1d (eval), bias or not
    """
    generator = torch.Generator().manual_seed(11)
    for (d_out, d_in), eps, dtype in FOLD_CASES:
        W = torch.randn(d_out, d_in, generator=generator, dtype=dtype)
        b0, beta, mean = torch.randn(3, d_out, generator=generator, dtype=dtype)
        gamma, var = 0.5 + torch.rand(2, d_out, generator=generator, dtype=dtype)
        var, b = 1e-4 * var, None if d_out == d_in else b0  # the square case has no bias
        b0 = 0 * b0 if b is None else b0
        b_text = "b" if b is not None else "b=None"
        what = tr("fold(W of shape {s}, {b}, eps={e:g})", s=(d_out, d_in), b=b_text, e=eps)
        hint = tr("b is None for a Linear(bias=False): use zeros. Row i of W gets gamma / sigma.")
        answer = _call(fold, (W, b, gamma, beta, mean, var, eps), what, hint)
        if answer is NOT_ATTEMPTED:
            return
        pair = isinstance(answer, tuple) and len(answer) == 2
        expect(pair, tr("return a pair (W_folded, b_folded); got {t}", t=type(answer).__name__))
        W_want, b_want = fuse_linear_bn_weights(W, b, mean, var, eps, gamma, beta)
        scale = gamma / torch.sqrt(var + eps)
        wrong = [
            (tr(EPS_MISSING), (gamma / var.sqrt())[:, None] * W),
            (tr(EPS_OUTSIDE), (gamma / (var.sqrt() + eps))[:, None] * W),
            (tr(EPS_FIXED), (gamma / torch.sqrt(var + EPS))[:, None] * W),
            (tr(COLUMNS), W * scale if d_out == d_in else None),
        ]
        judge(answer[0], W_want.detach(), wrong, what=tr("W_folded of {what}", what=what))
        wrong = [
            (tr(NO_MEAN), scale * b0 + beta),
            (tr(NO_BIAS), beta - scale * mean if b is not None else None),
            (tr(NO_SCALE), b0 + beta - scale * mean if b is not None else None),
        ]
        judge(answer[1], b_want.detach(), wrong, what=tr("b_folded of {what}", what=what))
    passed(tr("fold gives one Linear equal to Linear → BatchNorm1d (eval), bias or not"))
