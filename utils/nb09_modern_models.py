"""Notebook 09 (``nn.Linear`` in today's models): helpers, one-off plots, the demo, self-checks.

Everything notebook 09 needs but does not show, by section:

- §3 parametrizations: :func:`singular_values`, :func:`plot_singular_values`.
- §4 LoRA: :func:`make_lora_task`, :func:`lora_parameter_count`, :func:`rank_floor`,
  :func:`fit_lora`, and the slider demo :func:`build_demo` (rank × α; every setting fitted at
  once by :func:`fit_lora_grid` and kept by :func:`demo_fits`, drawn by :class:`LoraView`).
- §5 low-bit weights: :func:`fake_quantize`, :func:`relative_output_error`,
  :func:`plot_error_vs_bits`.
- §6 bfloat16: :func:`median_seconds`.
- §7 tensor parallelism: :data:`TENSOR_PARALLEL_SCRIPT` (run with ``torchrun``).
- §8 exercises: :func:`check_merge_lora`, :func:`check_quantize_per_channel`,
  :func:`check_megatron_bytes`.

Importing this module does no work: no seeding, no training, no widgets, no figures.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter
from torch import nn

from utils import threads, tr
from utils._validate import (
    as_tensor,
    require_axes,
    require_int,
    require_real,
    require_shape,
)
from utils.check import NOT_ATTEMPTED, attempt, expect, expect_tensor, passed
from utils.widgets import SliderDemo, blit_png, choice_slider, slider_demo

#: Constants holding English templates for :func:`utils.tr` (``scripts/messages.py`` reads them).
MESSAGES = ("QUANTIZE_MISTAKES", "MEGATRON_HINTS")

__all__ = [
    "ALPHA_CHOICES",
    "RANK_CHOICES",
    "TENSOR_PARALLEL_SCRIPT",
    "LoraFit",
    "LoraTask",
    "LoraView",
    "build_demo",
    "check_megatron_bytes",
    "check_merge_lora",
    "check_quantize_per_channel",
    "demo_fits",
    "draw_lora",
    "fake_quantize",
    "fit_lora",
    "fit_lora_grid",
    "lora_parameter_count",
    "make_lora_task",
    "median_seconds",
    "plot_error_vs_bits",
    "plot_singular_values",
    "rank_floor",
    "relative_output_error",
    "singular_values",
    "threads",
]

#: The torchrun script of §7 (in the repository's ``scripts/``; ``pip install -e .`` keeps it
#: next to ``utils/``).
TENSOR_PARALLEL_SCRIPT = (
    Path(__file__).resolve().parent.parent / "scripts" / ("tensor_parallel_linear.py")
)


# --- §3 parametrizations -------------------------------------------------------------------


def singular_values(weight: object) -> torch.Tensor:
    """The singular values of a weight matrix, largest first (used in notebook 09, §3).

    >>> singular_values(torch.diag(torch.tensor([1.0, 3.0, 2.0])))
    tensor([3., 2., 1.])
    """
    W = as_tensor(weight, name="weight")
    require_shape(W, (None, None), name="weight", meaning="(out_features, in_features)")
    return torch.linalg.svdvals(W)


def plot_singular_values(ax: Axes, spectra: Mapping[str, object]) -> list[Line2D]:
    """One line of singular values per labelled weight, with σ = 1 dotted (notebook 09, §3).

    >>> fig = Figure()
    >>> lines = plot_singular_values(fig.add_subplot(), {"I": torch.eye(3)})
    >>> lines[0].get_ydata().tolist()
    [1.0, 1.0, 1.0]
    """
    ax = require_axes(ax)
    if not spectra:
        raise ValueError("spectra must map at least one label to a weight matrix")
    lines = []
    # Hollow markers shrinking line by line: spectra that coincide stay visible.
    for index, (label, weight) in enumerate(spectra.items()):
        sigma = singular_values(weight)
        (line,) = ax.plot(
            range(1, len(sigma) + 1),
            sigma.numpy(),
            marker="osD^v<>"[index % 7],
            markersize=max(3, 10 - 2 * index),
            markerfacecolor="none",
            label=label,
        )
        lines.append(line)
    ax.axhline(1.0, color="0.5", ls=":", lw=1)
    ax.set(xlabel="index i (largest first)", ylabel="singular value σᵢ of W")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    return lines


# --- §4 LoRA ---------------------------------------------------------------------------------

#: Rank and α values the demo offers.
RANK_CHOICES = (1, 2, 3, 4, 8, 16)
ALPHA_CHOICES = (1, 2, 4, 8, 16, 32)
#: The shift the demo's adapter learns has these singular values (rank 4).
SHIFT_SPECTRUM = (1.0, 0.5, 0.25, 0.125)
LORA_STEPS = 150
LORA_LR = 0.02


class LoraTask(NamedTuple):
    """A frozen layer ``(W, b)``, a low-rank shift ``Δ`` and data ``y = x (W + Δ)ᵀ + b``."""

    weight: torch.Tensor
    bias: torch.Tensor
    shift: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor


def make_lora_task(
    d_in: int = 64,
    d_out: int = 48,
    spectrum: Sequence[float] = SHIFT_SPECTRUM,
    *,
    samples: int = 128,
    seed: int = 0,
) -> LoraTask:
    """A "pre-trained" layer and the data of a task it must be adapted to (notebook 09, §4).

    ``W`` and ``b`` come from ``nn.Linear``'s default init; the shift ``Δ = U diag(spectrum) Vᵀ``
    has orthonormal ``U``, ``V``, so its singular values are exactly ``spectrum``.

    >>> task = make_lora_task()
    >>> tuple(task.weight.shape), tuple(task.x.shape), tuple(task.y.shape)
    ((48, 64), (128, 64), (128, 48))
    >>> [round(s, 4) for s in singular_values(task.shift)[:5].tolist()]
    [1.0, 0.5, 0.25, 0.125, 0.0]
    """
    for value, name in ((d_in, "d_in"), (d_out, "d_out"), (samples, "samples")):
        require_int(value, name=name)
    sigma = torch.tensor([float(s) for s in spectrum])
    if len(sigma) > min(d_in, d_out) or not bool((sigma > 0).all()):
        raise ValueError(
            f"spectrum must hold at most min(d_in, d_out) = {min(d_in, d_out)} positive values; "
            f"got {list(spectrum)}"
        )
    generator = torch.Generator().manual_seed(seed)
    bound = 1 / math.sqrt(d_in)  # nn.Linear's default init bound (notebook 03)
    weight = (2 * torch.rand(d_out, d_in, generator=generator) - 1) * bound
    bias = (2 * torch.rand(d_out, generator=generator) - 1) * bound
    U = torch.linalg.qr(torch.randn(d_out, len(sigma), generator=generator)).Q
    V = torch.linalg.qr(torch.randn(d_in, len(sigma), generator=generator)).Q
    shift = U @ torch.diag(sigma) @ V.T
    x = torch.randn(samples, d_in, generator=generator)
    return LoraTask(weight, bias, shift, x, F.linear(x, weight + shift, bias))


def lora_parameter_count(d_in: int, d_out: int, rank: int) -> int:
    """Trainable numbers of a rank-``r`` adapter: ``A`` is ``(r, d_in)``, ``B`` is ``(d_out, r)``.

    >>> lora_parameter_count(4096, 4096, 8)  # against 16,777,216 weights in the layer
    65536
    """
    for value, name in ((d_in, "d_in"), (d_out, "d_out"), (rank, "rank")):
        require_int(value, name=name)
    return rank * (d_in + d_out)


def rank_floor(shift: object, rank: int) -> float:
    """Smallest relative error ``‖Δ̂ − Δ‖_F / ‖Δ‖_F`` any rank-``r`` ``Δ̂`` can reach.

    By the Eckart–Young theorem the best rank-``r`` approximation keeps the ``r`` largest
    singular values, so the floor is ``sqrt(Σ_{i>r} σᵢ²) / sqrt(Σ σᵢ²)`` (notebook 09, §4).

    >>> round(rank_floor(torch.diag(torch.tensor([3.0, 4.0])), 1), 6)
    0.6
    """
    sigma = singular_values(shift)
    require_int(rank, name="rank")
    return float(sigma[rank:].norm() / sigma.norm())


class LoraFit(NamedTuple):
    """What :func:`fit_lora` returns."""

    #: Relative error of the learned update ``‖(α/r) B A − Δ‖_F / ‖Δ‖_F`` after each step.
    errors: torch.Tensor
    A: torch.Tensor
    B: torch.Tensor
    scale: float


def fit_lora(
    task: LoraTask,
    rank: int,
    alpha: float,
    *,
    steps: int = LORA_STEPS,
    lr: float = LORA_LR,
    seed: int = 1,
) -> LoraFit:
    """Train a rank-``r`` adapter on ``task`` with Adam; ``W`` and ``b`` stay frozen.

    The same computation as notebook 09's ``LoRALinear`` (§4 checks they agree):
    ``h = x Wᵀ + b + (α/r) (x Aᵀ) Bᵀ``, ``A`` drawn like ``nn.Linear``'s weight from ``seed``,
    ``B = 0``, mean-squared error to ``task.y``. Used by the demo.

    >>> fit = fit_lora(make_lora_task(), rank=4, alpha=4.0, steps=3)
    >>> fit.errors.shape, fit.errors[0] < 1.0 + 1e-6
    (torch.Size([3]), tensor(True))
    """
    if not isinstance(task, LoraTask):
        raise TypeError(f"task must be a LoraTask from make_lora_task(); got {type(task).__name__}")
    d_out, d_in = task.weight.shape
    require_int(rank, name="rank")
    require_int(steps, name="steps")
    alpha = require_real(alpha, name="alpha", low=0.0)
    lr = require_real(lr, name="lr", low=0.0)
    generator = torch.Generator().manual_seed(seed)
    A = nn.init.kaiming_uniform_(torch.empty(rank, d_in), a=math.sqrt(5), generator=generator)
    A.requires_grad_()
    B = torch.zeros(d_out, rank, requires_grad=True)
    scale = alpha / rank
    optimizer = torch.optim.Adam([A, B], lr=lr)
    errors = torch.empty(steps)
    shift_norm = task.shift.norm()
    with threads(1):  # tiny matrices: a second thread costs more than it saves
        for step in range(steps):
            frozen = F.linear(task.x, task.weight, task.bias)
            h = frozen + scale * F.linear(F.linear(task.x, A), B)
            loss = F.mse_loss(h, task.y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                errors[step] = (scale * B @ A - task.shift).norm() / shift_norm
    return LoraFit(errors, A.detach(), B.detach(), scale)


def fit_lora_grid(
    task: LoraTask,
    ranks: Sequence[int],
    alphas: Sequence[float],
    *,
    steps: int = LORA_STEPS,
    lr: float = LORA_LR,
    seed: int = 1,
) -> dict[tuple[int, float], LoraFit]:
    """:func:`fit_lora` for every ``(rank, α)`` of ``ranks × alphas``, all trained at once.

    Each setting is its own adapter, stacked into one batch: a rank-``r`` adapter is padded to
    the largest rank with zero rows of ``A`` and zero columns of ``B``. Those get zero gradients,
    so Adam never moves them (its step is ``m̂ / (√v̂ + ε)``, and ``m`` stays 0), and ``A``'s
    first ``r`` rows are the ``A`` that ``fit_lora`` draws from ``seed``: every fit equals
    ``fit_lora(task, r, α)`` up to float rounding (tested). One batched step costs far less than
    one step per setting. Used by the demo.

    >>> fits = fit_lora_grid(make_lora_task(), ranks=(1, 4), alphas=(2.0, 8.0), steps=3)
    >>> sorted(fits), fits[1, 8.0].A.shape, fits[1, 8.0].scale
    ([(1, 2.0), (1, 8.0), (4, 2.0), (4, 8.0)], torch.Size([1, 64]), 8.0)
    """
    if not isinstance(task, LoraTask):
        raise TypeError(f"task must be a LoraTask from make_lora_task(); got {type(task).__name__}")
    settings = [
        (require_int(rank, name="rank"), require_real(alpha, name="alpha", low=0.0))
        for rank in ranks
        for alpha in alphas
    ]
    require_int(steps, name="steps")
    lr = require_real(lr, name="lr", low=0.0)
    (d_out, d_in), top = task.weight.shape, max(rank for rank, _ in settings)
    generator = torch.Generator().manual_seed(seed)
    A0 = nn.init.kaiming_uniform_(torch.empty(top, d_in), a=math.sqrt(5), generator=generator)
    keep = torch.stack([torch.arange(top) < rank for rank, _ in settings]).float()  # (k, top)
    A = (keep[:, :, None] * A0).requires_grad_()  # (k, top, d_in): rows ≥ r are 0
    B = torch.zeros(len(settings), d_out, top, requires_grad=True)
    scale = torch.tensor([alpha / rank for rank, alpha in settings])[:, None, None]
    optimizer = torch.optim.Adam([A, B], lr=lr)
    errors = torch.empty(steps, len(settings))
    frozen, shift_norm = F.linear(task.x, task.weight, task.bias), task.shift.norm()
    with threads(1):  # small matrices: a second thread costs more than it saves
        for step in range(steps):
            h = frozen + scale * (task.x @ A.transpose(1, 2) @ B.transpose(1, 2))  # (k, n, d_out)
            loss = ((h - task.y) ** 2).mean(dim=(1, 2)).sum()  # each setting's own MSE
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                errors[step] = torch.linalg.matrix_norm(scale * B @ A - task.shift) / shift_norm
    A, B = A.detach(), B.detach()
    return {
        (rank, alpha): LoraFit(
            errors[:, k].clone(), A[k, :rank].clone(), B[k, :, :rank].clone(), alpha / rank
        )
        for k, (rank, alpha) in enumerate(settings)
    }


@lru_cache(maxsize=1)
def _demo_task() -> LoraTask:
    return make_lora_task()


@lru_cache(maxsize=1)
def demo_fits() -> dict[tuple[int, float], LoraFit]:
    """Every ``(rank, α)`` the demo offers, fitted at once (:func:`fit_lora_grid`) when the demo
    is first built, then kept: what the demo shows (notebook 09, §4)."""
    return fit_lora_grid(_demo_task(), RANK_CHOICES, [float(a) for a in ALPHA_CHOICES])


#: How many singular values the demo's right panel shows.
SHOWN_SINGULAR_VALUES = 8


class LoraView:
    """The demo's two panels: the error of the learned update per Adam step with the rank's
    floor, and its singular values against the target's. Made once; :meth:`update` changes the
    moving artists in place and :meth:`png` redraws only those over the kept still parts."""

    def __init__(self, fig: Figure) -> None:
        task = _demo_task()
        ax_err, ax_sv = fig.subplots(1, 2, width_ratios=[1.3, 1])
        steps = range(1, LORA_STEPS + 1)
        (self.curve,) = ax_err.semilogy(steps, [1.0] * LORA_STEPS, color="tab:blue", label=" ")
        self.floor = ax_err.axhline(1.0, color="tab:red", ls="--", lw=1, label=" ")
        ax_err.set_ylim(1e-3, 2.0)
        ax_err.set_yticks([1e-3, 1e-2, 1e-1, 1.0], ["0.001", "0.01", "0.1", "1"])  # few fixed
        ax_err.yaxis.set_minor_formatter(NullFormatter())  # ticks: text is the slowest to draw
        ax_err.set_xticks(range(0, LORA_STEPS + 1, 50))
        ax_err.set(
            xlabel="Adam step", ylabel="‖(α/r)BA − Δ‖ / ‖Δ‖", title="error of the learned update"
        )
        self.legend = ax_err.legend(loc="lower left", fontsize=8)
        shown = range(1, SHOWN_SINGULAR_VALUES + 1)
        target = singular_values(task.shift)[:SHOWN_SINGULAR_VALUES]
        ax_sv.bar(shown, target.numpy(), color="0.8", label="target shift Δ")
        (self.learned,) = ax_sv.plot(
            shown, [0.0] * len(shown), "o", color="tab:blue", label="learned (α/r)BA"
        )
        ax_sv.set_ylim(0, 1.1)
        ax_sv.set_xticks(shown)
        ax_sv.set_yticks([0, 0.25, 0.5, 1.0])
        ax_sv.set(xlabel="index i", ylabel="σᵢ", title="singular values")
        ax_sv.legend(fontsize=8)
        self.fig, self.moving = fig, [self.curve, self.floor, self.learned, self.legend]

    def update(self, rank: int, alpha: float) -> str:
        """Show the fit for ``(rank, alpha)``; return the readout."""
        task, fit = _demo_task(), demo_fits()[int(rank), float(alpha)]
        floor = rank_floor(task.shift, rank)
        self.curve.set_ydata(fit.errors.numpy())
        # The shift has rank 4: from r = 4 on nothing stops the error from reaching 0, no line.
        self.floor.set(ydata=[floor, floor], visible=floor > 0)
        self.legend.legend_handles[1].set_visible(floor > 0)
        floor_label = f"best rank-{rank}: {floor:.3f}" if floor > 0 else f"best rank-{rank}: 0"
        for text, label in zip(
            self.legend.get_texts(), [f"rank {rank}, α {alpha:g}", floor_label], strict=True
        ):
            text.set_text(label)
        learned = singular_values(fit.scale * fit.B @ fit.A)[:SHOWN_SINGULAR_VALUES]
        self.learned.set_ydata(learned.numpy())
        d_out, d_in = task.weight.shape
        count, full = lora_parameter_count(d_in, d_out, rank), d_in * d_out
        return tr(
            "rank {rank}, α {alpha:g} (scale α/r = {scale:.2f}): error after {steps} steps "
            "{error:.3f} (rank-{rank} floor {floor:.3f}); trainable {count:,} numbers vs {full:,} "
            "weights ({share:.0f} %)",
            rank=rank,
            alpha=alpha,
            scale=alpha / rank,
            steps=len(fit.errors),
            error=float(fit.errors[-1]),
            floor=floor,
            count=count,
            full=full,
            share=100 * count / full,
        )

    def png(self) -> bytes:
        """The current picture: the kept still parts, the moving artists drawn over them."""
        return blit_png(self.fig, [self.moving])


def draw_lora(fig: Figure, rank: int, alpha: float) -> str:
    """Error curve and learned singular values for one (rank, α); returns the readout."""
    fig.nb09_view = LoraView(fig)
    return fig.nb09_view.update(rank, alpha)


def build_demo(rank: int = 2, alpha: float = 4) -> SliderDemo:
    """Two sliders (LoRA rank r, α) driving :func:`draw_lora` (notebook 09, §4): the first
    picture is drawn and laid out once, a move updates its artists and redraws only those."""
    controls = {
        "rank": choice_slider(tr("rank r"), RANK_CHOICES, rank),
        "alpha": choice_slider(tr("alpha α"), ALPHA_CHOICES, alpha),
    }

    def update(fig: Figure, rank: int, alpha: float) -> tuple[str, bytes]:
        text = fig.nb09_view.update(rank, alpha)
        return text, fig.nb09_view.png()

    return slider_demo(draw_lora, controls, figsize=(10.0, 3.6), update=update)


# --- §5 low-bit weights ---------------------------------------------------------------------


def _require_bits(bits: object) -> int:
    require_int(bits, name="bits")
    if not 2 <= bits <= 16:
        raise ValueError(f"bits must be between 2 and 16 for signed symmetric codes; got {bits}")
    return bits


def fake_quantize(weight: object, bits: int, *, per_channel: bool) -> torch.Tensor:
    """Symmetric ``bits``-bit quantisation of ``weight``, returned dequantised (``s · q``).

    ``q = clamp(round(W / s), −qmax, qmax)`` with ``qmax = 2^(bits−1) − 1`` and
    ``s = max|W| / qmax``: one ``s`` for the whole tensor, or one per output channel (row)
    when ``per_channel`` (notebook 09, §5).

    >>> W = torch.tensor([[0.6, -1.0], [0.02, 0.01]])
    >>> fake_quantize(W, 2, per_channel=False)  # qmax 1: three levels −1, 0, 1 times s = 1
    tensor([[ 1., -1.],
            [ 0.,  0.]])
    >>> fake_quantize(W, 2, per_channel=True)  # the small row keeps its own scale
    tensor([[ 1.0000, -1.0000],
            [ 0.0200,  0.0000]])
    """
    W = as_tensor(weight, name="weight")
    require_shape(W, (None, None), name="weight", meaning="(out_features, in_features)")
    qmax = 2 ** (_require_bits(bits) - 1) - 1
    largest = W.abs().amax(dim=1, keepdim=True) if per_channel else W.abs().max()
    scale = largest / qmax
    return torch.clamp(torch.round(W / scale), -qmax, qmax) * scale


def relative_output_error(x: object, weight: object, approx: object) -> float:
    """``‖x Ŵᵀ − x Wᵀ‖ / ‖x Wᵀ‖``: how far the approximate weight moves the layer's output.

    >>> round(relative_output_error(torch.eye(2), torch.eye(2), 1.1 * torch.eye(2)), 4)
    0.1
    """
    x, W, W_hat = (
        as_tensor(v, name=n) for v, n in ((x, "x"), (weight, "weight"), (approx, "approx"))
    )
    require_shape(W, (None, None), name="weight", meaning="(out_features, in_features)")
    require_shape(W_hat, tuple(W.shape), name="approx", meaning="the shape of weight")
    exact = x @ W.T
    return float((x @ W_hat.T - exact).norm() / exact.norm())


def plot_error_vs_bits(
    ax: Axes, bits: Sequence[int], errors: Mapping[str, Sequence[float]]
) -> list[Line2D]:
    """Relative output error against bits, one line per scheme, log scale (notebook 09, §5).

    >>> fig = Figure()
    >>> lines = plot_error_vs_bits(fig.add_subplot(), [2, 4], {"per tensor": [0.5, 0.1]})
    >>> fig.axes[0].get_yscale(), lines[0].get_label()
    ('log', 'per tensor')
    """
    ax = require_axes(ax)
    bits = list(bits)
    lines = []
    styles = (("o", "-"), ("s", "--"), ("o", ":"), ("s", "-."))
    for index, (label, values) in enumerate(errors.items()):
        if len(values) != len(bits):
            raise ValueError(
                f"{label!r}: expected {len(bits)} errors (one per bits), got {len(values)}"
            )
        marker, linestyle = styles[index % len(styles)]
        (line,) = ax.semilogy(
            bits,
            [float(v) for v in values],
            marker=marker,
            linestyle=linestyle,
            markersize=8 if marker == "o" else 4,
            markerfacecolor="none" if marker == "o" else None,
            label=label,
        )
        lines.append(line)
    ax.set(xlabel="bits per weight", ylabel="relative output error ‖XŴᵀ − XWᵀ‖ / ‖XWᵀ‖")
    ax.set_xticks(bits)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    return lines


# --- §6 bfloat16 --------------------------------------------------------------------------------


def median_seconds(fn: Callable[[], object], *, repeats: int = 5, number: int = 10) -> float:
    """Median over ``repeats`` of the mean time of ``number`` calls of ``fn()`` (one warm-up).

    A measurement, never a test: shared machines are noisy (notebook 09, §6).

    >>> 0 < median_seconds(lambda: sum(range(10)), repeats=3, number=2) < 1
    True
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable with no arguments; got {type(fn).__name__}")
    require_int(repeats, name="repeats")
    require_int(number, name="number")
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return sorted(samples)[len(samples) // 2]


# --- §8 exercises ---------------------------------------------------------------------------


def _number(value: object) -> float | None:
    """A Python number, NumPy scalar or 0-d tensor as ``float``; ``None`` for anything else."""
    if isinstance(value, torch.Tensor):
        return float(value) if value.ndim == 0 and not value.dtype.is_complex else None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def _attempt_case(
    exercise: str, answer: object, case: str, args: tuple, hints: Sequence[tuple[str, str]]
) -> object:
    """:func:`attempt`, but a ``RuntimeError`` from the answer names the case and the mistake.

    ``hints`` pairs a piece of PyTorch's error message with the mistake that causes it (the
    hint already in the learner's language, ``tr(...)``).
    """
    try:
        return attempt(exercise, answer, *args)
    except RuntimeError as error:
        message = str(error).splitlines()[0]
        for fragment, hint in hints:
            if fragment in message:
                raise AssertionError(
                    tr(
                        "{case}: {exercise} raised RuntimeError: {message}. {hint}",
                        case=case,
                        exercise=exercise,
                        message=message,
                        hint=hint,
                    )
                ) from error
        raise


def _merge_cases() -> list[tuple[int, int, int, float, bool, torch.dtype]]:
    # (d_in, d_out, r, alpha, bias, dtype): non-square and square, r and α varied,
    # bias=False and float64 included.
    return [
        (5, 3, 2, 8.0, True, torch.float32),
        (4, 7, 1, 1.0, False, torch.float32),
        (6, 6, 3, 16.0, True, torch.float64),
        (8, 2, 4, 0.5, True, torch.float32),
    ]


def check_merge_lora(merge_lora: Callable[..., nn.Linear]) -> None:
    """Check ``merge_lora(base, A, B, alpha)`` returns one ``nn.Linear`` equal to the adapter.

    The merged layer computes ``x (W + (α/r) B A)ᵀ + b`` with ``r = A.shape[0]``, keeps the
    base's bias (or its absence) and dtype, and leaves ``base`` untouched (notebook 09, §8).

    >>> def merge_lora(base, A, B, alpha):
    ...     merged = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None,
    ...                        dtype=base.weight.dtype)
    ...     with torch.no_grad():
    ...         merged.weight.copy_(base.weight + (alpha / A.shape[0]) * B @ A)
    ...         if base.bias is not None:
    ...             merged.bias.copy_(base.bias)
    ...     return merged
    >>> check_merge_lora(merge_lora)
    ✓ merge_lora: one nn.Linear equal to W x + b + (α/r) B A x, base untouched (4 cases)
    """
    generator = torch.Generator().manual_seed(8)
    for d_in, d_out, r, alpha, bias, dtype in _merge_cases():
        case = f"(d_in={d_in}, d_out={d_out}, r={r}, α={alpha:g}, bias={bias}, {dtype})"
        base = nn.Linear(d_in, d_out, bias=bias, dtype=dtype).requires_grad_(False)
        with torch.no_grad():
            base.weight.copy_(torch.randn(d_out, d_in, generator=generator))
            if bias:
                base.bias.copy_(torch.randn(d_out, generator=generator))
        A = torch.randn(r, d_in, generator=generator, dtype=dtype)
        B = torch.randn(d_out, r, generator=generator, dtype=dtype)  # after fine-tuning: ≠ 0
        W, b = base.weight.clone(), None if base.bias is None else base.bias.clone()
        hints = [
            (
                "cannot be multiplied",
                tr(
                    "B is (d_out, r) and A is (r, d_in): the update is B @ A, of shape "
                    "(d_out, d_in) like W."
                ),
            ),
            (
                "must match the size",
                tr(
                    "The update must have W's shape (d_out, d_in): B @ A, not A.T @ B.T "
                    "(transposed) or A @ B."
                ),
            ),
        ]
        merged = _attempt_case("merge_lora", merge_lora, case, (base, A, B, alpha), hints)
        if merged is NOT_ATTEMPTED:
            return
        moved = float((base.weight - W).abs().max())
        expect(
            moved == 0 and (b is None or torch.equal(base.bias, b)),
            tr(
                "{case}: merge_lora changed the base layer in place (its weight moved by up to "
                "{moved:.3g}). Build a new nn.Linear and leave the base untouched, so the adapter "
                "can still be removed or swapped (and merging twice does not add it twice).",
                case=case,
                moved=moved,
            ),
        )
        expect(
            isinstance(merged, nn.Linear),
            tr(
                "{case}: expected an nn.Linear, got {kind}.",
                case=case,
                kind=type(merged).__name__,
            ),
        )
        shape, want = tuple(merged.weight.shape), (d_out, d_in)
        expect(
            shape != (d_in, d_out) or d_in == d_out,
            tr(
                "{case}: the merged weight has shape {shape}, transposed: W and B A are "
                "(d_out, d_in) = {want}.",
                case=case,
                shape=shape,
                want=want,
            ),
        )
        expect(
            shape == want,
            tr(
                "{case}: expected weight shape {want}, got {shape}.",
                case=case,
                want=want,
                shape=shape,
            ),
        )
        expect(
            merged.weight.dtype == dtype,
            tr(
                "{case}: expected dtype {dtype} like the base layer, got {got}. "
                "nn.Linear(...) makes float32 unless you pass dtype=base.weight.dtype.",
                case=case,
                dtype=dtype,
                got=merged.weight.dtype,
            ),
        )
        if b is None:
            expect(
                merged.bias is None,
                tr(
                    "{case}: the base layer has no bias (bias=False), but the merged one has one "
                    "(nn.Linear adds a random bias by default): pass bias=base.bias is not None.",
                    case=case,
                ),
            )
        else:
            expect(
                merged.bias is not None,
                tr("{case}: the merged layer dropped the base's bias.", case=case),
            )
            expect(
                torch.allclose(merged.bias.detach(), b),
                tr(
                    "{case}: the bias differs from the base's: copy it unchanged "
                    "(LoRA leaves b alone).",
                    case=case,
                ),
            )
        _diagnose_merged_weight(merged.weight.detach(), W, A, B, alpha, r, case)
    passed(tr("merge_lora: one nn.Linear equal to W x + b + (α/r) B A x, base untouched (4 cases)"))


def _diagnose_merged_weight(got, W, A, B, alpha, r, case) -> None:
    update, expected = B @ A, W + (alpha / r) * (B @ A)
    if torch.allclose(got, expected, rtol=1e-4, atol=1e-5):
        return
    delta = got - W
    if delta.shape == update.T.shape and torch.allclose(
        delta, (alpha / r) * update.T, rtol=1e-4, atol=1e-5
    ):
        raise AssertionError(
            tr(
                "{case}: the update is transposed: add (α/r) · B @ A, not A.T @ B.T.",
                case=case,
            )
        )
    implied = float((delta * update).sum() / (update * update).sum())  # least-squares factor
    values = {"case": case, "factor": implied, "scale": alpha / r, "r": r}
    if torch.allclose(delta, implied * update, rtol=1e-4, atol=1e-5):
        named = [
            (1.0, tr("no scale at all")),
            (alpha, tr("α alone")),
            (r / alpha, tr("r/α, upside down")),
            (alpha / 4, tr("α/4: a hard-coded rank")),
        ]
        for value, what in named:
            if math.isclose(implied, value, rel_tol=1e-4):
                raise AssertionError(
                    tr(
                        "{case}: your update is {factor:.4g} · B A ({what}); LoRA scales it by "
                        "α/r = {scale:.4g}, with the rank r = A.shape[0] = {r}.",
                        **values,
                        what=what,
                    )
                )
        raise AssertionError(
            tr(
                "{case}: your update is {factor:.4g} · B A; expected α/r = {scale:.4g} "
                "(r = A.shape[0] = {r}).",
                **values,
            )
        )
    expect_tensor(
        got,
        expected,
        what=tr("{case}: merged weight", case=case),
        hint=tr("W' = W + (α/r) B A."),
    )


def _quantize_cases() -> list[tuple[torch.Tensor, int]]:
    """Weights whose rows differ in size by orders of magnitude; some rows' largest |w| < 0."""
    generator = torch.Generator().manual_seed(5)
    cases = []
    for (d_out, d_in), bits, dtype in (
        ((4, 6), 8, torch.float32),
        ((6, 4), 4, torch.float32),
        ((5, 5), 3, torch.float64),
        ((3, 8), 2, torch.float32),
    ):
        row_size = (
            10.0
            ** torch.linspace(-2, 1, d_out, dtype=dtype)[torch.randperm(d_out, generator=generator)]
        )
        W = torch.randn(d_out, d_in, generator=generator, dtype=dtype) * row_size[:, None]
        top = W.abs().argmax(dim=1)
        rows = torch.arange(0, d_out, 2)  # every other row: its largest weight is negative
        W[rows, top[rows]] = -1.5 * W[rows, top[rows]].abs()
        cases.append((W, bits))
    return cases


def _dequantize(W: torch.Tensor, scale: torch.Tensor, qmax: float, rounding=torch.round):
    return torch.clamp(rounding(W / scale), -qmax, qmax) * scale


#: The typical mistakes of Exercise 9.2, in the order they are tried, and the hint naming each.
QUANTIZE_MISTAKES = {
    "per tensor": "one scale for the whole tensor (per tensor): per channel means one scale per "
    "output row, W.abs().amax(dim=1, keepdim=True)",
    "columns": "one scale per input column (dim=0): an output channel is a row of W, "
    "reduce over dim=1",
    "broadcast": "the scales have shape (d_out,) and broadcast along the last dim, so column j is "
    "divided by row j's scale: keep the reduced dim, amax(dim=1, keepdim=True)",
    "signed": "rows whose largest-magnitude weight is negative get clipped: the scale must come "
    "from the largest |w|, W.abs().amax(...), not W.amax(...)",
    "unsigned": "signed symmetric {bits}-bit codes run from −qmax to qmax with qmax = "
    "2^(bits−1) − 1 = {qmax}; you used 2^bits − 1",
    "qmax": "qmax = 2^(bits−1) − 1 = {qmax}, not 2^(bits−1) = {qmax_plus_one}: the codes are "
    "symmetric, −qmax … qmax",
    "trunc": "round to the nearest level (torch.round), not down (floor) or towards zero "
    "(trunc, int conversion)",
    "floor": "round to the nearest level (torch.round), not down (floor)",
}


def check_quantize_per_channel(quantize_per_channel: Callable[..., torch.Tensor]) -> None:
    """Check ``quantize_per_channel(W, bits)``: symmetric, one scale per output row, dequantised.

    Weights of several shapes (square too) and bits 2, 3, 4 and 8 (notebook 09, §8).

    >>> def quantize_per_channel(W, bits):
    ...     qmax = 2 ** (bits - 1) - 1
    ...     scale = W.abs().amax(dim=1, keepdim=True) / qmax
    ...     return torch.clamp(torch.round(W / scale), -qmax, qmax) * scale
    >>> check_quantize_per_channel(quantize_per_channel)
    ✓ quantize_per_channel: one scale max|row|/qmax per output row, codes in ±(2^(b−1) − 1)
    """
    for W, bits in _quantize_cases():
        case = tr(
            "W of shape {shape}, {dtype}, bits={bits}",
            shape=tuple(W.shape),
            dtype=W.dtype,
            bits=bits,
        )
        hint = tr(
            "The scales have shape (d_out,) and broadcast along the LAST dim of W "
            "(its columns): keep the reduced dim, amax(dim=1, keepdim=True), so they "
            "have shape (d_out, 1) and scale the rows."
        )
        args = (W.clone(), bits)
        got = _attempt_case(
            "quantize_per_channel",
            quantize_per_channel,
            case,
            args,
            [("must match the size", hint)],
        )
        if got is NOT_ATTEMPTED:
            return
        expect(
            isinstance(got, torch.Tensor),
            tr("{case}: expected a tensor, got {kind}.", case=case, kind=type(got).__name__),
        )
        got = got.detach()
        expect(
            tuple(got.shape) == tuple(W.shape),
            tr(
                "{case}: expected shape {want} (one value per weight), got {got}.",
                case=case,
                want=tuple(W.shape),
                got=tuple(got.shape),
            ),
        )
        qmax = 2 ** (bits - 1) - 1
        row_scale = W.abs().amax(dim=1, keepdim=True) / qmax
        expected = _dequantize(W, row_scale, qmax)
        if not got.is_floating_point() or torch.equal(got.to(W.dtype), torch.round(W / row_scale)):
            raise AssertionError(
                tr(
                    "{case}: you returned the integer codes q; return the dequantised "
                    "weights q · scale.",
                    case=case,
                )
            )
        expect(
            got.dtype == W.dtype,
            tr(
                "{case}: expected dtype {want} like W, got {got}.",
                case=case,
                want=W.dtype,
                got=got.dtype,
            ),
        )
        if torch.allclose(got, expected, rtol=1e-5, atol=0):
            continue
        largest = W.abs().amax(dim=1, keepdim=True)
        mistakes = {  # the keys of QUANTIZE_MISTAKES, in the same order
            "per tensor": _dequantize(W, W.abs().max() / qmax, qmax),
            "columns": _dequantize(W, W.abs().amax(dim=0, keepdim=True) / qmax, qmax),
            "broadcast": _dequantize(W, row_scale.T, qmax) if W.shape[0] == W.shape[1] else None,
            "signed": _dequantize(W, W.amax(dim=1, keepdim=True) / qmax, qmax),
            "unsigned": _dequantize(W, largest / (2**bits - 1), 2**bits - 1),
            "qmax": _dequantize(W, largest / (qmax + 1), qmax + 1),
            "trunc": _dequantize(W, row_scale, qmax, torch.trunc),
            "floor": _dequantize(W, row_scale, qmax, torch.floor),
        }
        for key, wrong in mistakes.items():
            if wrong is not None and torch.allclose(got, wrong, rtol=1e-5, atol=0):
                values = {"bits": bits, "qmax": qmax, "qmax_plus_one": qmax + 1}
                hint = tr(QUANTIZE_MISTAKES[key], **values)
                raise AssertionError(tr("{case}: {hint}.", case=case, hint=hint))
        expect_tensor(
            got,
            expected,
            what=tr("{case}: quantize_per_channel(W, bits)", case=case),
            hint=tr(
                "s = max|row| / qmax per row, q = clamp(round(W / s), −qmax, qmax), return q · s."
            ),
        )
    passed(
        tr("quantize_per_channel: one scale max|row|/qmax per output row, codes in ±(2^(b−1) − 1)")
    )


def _megatron_cases() -> list[tuple[int, int, int, int, int, int]]:
    # (batch, d_in, d_hidden, d_out, world_size, element_size); every size differs from the
    # others, so each mistake gives a different number; world sizes 2, 3, 4, 8.
    return [
        (8, 512, 2048, 384, 4, 4),
        (64, 96, 256, 64, 2, 4),
        (5, 7, 16, 9, 3, 8),
        (3, 10, 40, 6, 8, 2),
    ]


def check_megatron_bytes(megatron_bytes: Callable[..., tuple]) -> None:
    """Check ``megatron_bytes(batch, d_in, d_hidden, d_out, world_size, element_size)``.

    It returns the bytes one process sends in the forward and in the backward pass of a
    Megatron MLP (column-parallel Linear → GELU → row-parallel Linear) whose all-reduces are
    ring all-reduces: ``2 (P−1)/P · batch · d_out`` elements forward, the same of
    ``batch · d_in`` backward (notebook 09, §8).

    >>> def megatron_bytes(batch, d_in, d_hidden, d_out, world_size, element_size):
    ...     ring = 2 * (world_size - 1) / world_size
    ...     return (ring * batch * d_out * element_size, ring * batch * d_in * element_size)
    >>> check_megatron_bytes(megatron_bytes)
    ✓ megatron_bytes: forward all-reduces Y (batch × d_out), backward ∂L/∂X (batch × d_in)
    """
    for batch, d_in, d_hidden, d_out, P, size in _megatron_cases():
        args = (batch, d_in, d_hidden, d_out, P, size)
        case = (
            f"megatron_bytes(batch={batch}, d_in={d_in}, d_hidden={d_hidden}, d_out={d_out}, "
            f"world_size={P}, element_size={size})"
        )
        got = attempt("megatron_bytes", megatron_bytes, *args)
        if got is NOT_ATTEMPTED:
            return
        expect(
            isinstance(got, tuple | list) and len(got) == 2,
            tr(
                "{case}: return a pair (forward_bytes, backward_bytes); got {kind}.",
                case=case,
                kind=type(got).__name__,
            ),
        )
        forward, backward = (_number(v) for v in got)
        expect(
            forward is not None and backward is not None,
            tr(
                "{case}: expected two numbers, got {first} and {second}.",
                case=case,
                first=type(got[0]).__name__,
                second=type(got[1]).__name__,
            ),
        )
        ring = 2 * (P - 1) / P
        expected = (ring * batch * d_out * size, ring * batch * d_in * size)
        for what, value, want in (
            ("forward", forward, expected[0]),
            ("backward", backward, expected[1]),
        ):
            if abs(value - want) <= 1:  # a byte of slack for integer division
                continue
            hint = _megatron_hint(what, value, args)
            raise AssertionError(
                tr(
                    "{case}: {what} bytes: expected {want:g}, got {value:g}. {hint}",
                    case=case,
                    what=_direction(what),
                    want=want,
                    value=value,
                    hint=hint,
                )
            )
    passed(
        tr("megatron_bytes: forward all-reduces Y (batch × d_out), backward ∂L/∂X (batch × d_in)")
    )


#: The typical wrong byte counts of Exercise 9.3, in the order they are tried, and their hints.
MEGATRON_HINTS = {
    "silent forward": "The forward pass needs one all-reduce: each process holds only part of Y.",
    "silent backward": "The backward pass communicates too: the column-parallel layer's input "
    "gradient ∂L/∂X = Σ_r ∂L/∂H_r W_r is a sum over processes, one all-reduce of (batch, d_in).",
    "hidden": "The hidden activations (and their gradients) never leave their process: the "
    "{what} all-reduce is of {tensor}, shape {shape}.",
    "wrong tensor": "That is the size of the wrong tensor: the {what} all-reduce is of {tensor}, "
    "shape {shape}.",
    "whole": "That is the whole tensor, right for P = 2 only: a ring all-reduce sends "
    "2(P−1)/P of it (here P = {P}).",
    "half": "A ring all-reduce has two phases, reduce-scatter then all-gather, each sending "
    "(P−1)/P of the tensor: 2(P−1)/P in all.",
    "naive": "Sending the whole tensor to each of the P − 1 others is (P−1)·n; a ring "
    "all-reduce sends only 2(P−1)/P · n per process.",
    "elements": "That counts elements: multiply by element_size for bytes.",
    "bits": "That counts bits: the question asks for bytes.",
    "other": "Ring all-reduce: 2(P−1)/P · (number of elements of {tensor}) · element_size.",
}


def _direction(what: str) -> str:
    """``"forward"`` or ``"backward"`` in the learner's language."""
    return tr("forward") if what == "forward" else tr("backward")


def _megatron_hint(what: str, value: float, args: tuple[int, ...]) -> str:
    batch, d_in, d_hidden, d_out, P, size = args
    ring = 2 * (P - 1) / P
    if what == "forward":
        width, other, tensor, shape = d_out, d_in, tr("the output Y"), "(batch, d_out)"
    else:
        width, other, tensor, shape = d_in, d_out, tr("the input gradient ∂L/∂X"), "(batch, d_in)"
    candidates = [
        (0.0, f"silent {what}"),
        (ring * batch * d_hidden * size, "hidden"),
        (ring * batch * other * size, "wrong tensor"),
        (batch * width * size, "whole"),
        ((P - 1) / P * batch * width * size, "half"),
        ((P - 1) * batch * width * size, "naive"),
        (ring * batch * width, "elements"),
        (8 * ring * batch * width * size, "bits"),
    ]
    key = next((key for wrong, key in candidates if abs(value - wrong) <= 1), "other")
    values = {"what": _direction(what), "tensor": tensor, "shape": shape, "P": P}
    return tr(MEGATRON_HINTS[key], **values)
