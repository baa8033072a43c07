"""Notebook 08 (F.linear and the functional view): the matrix-product demo (§3), what a linear
layer costs (§8, and the optional timing in §10, which ``benchmarks/matmul.py`` shares) and the
exercise self-checks (§9).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import matplotlib.colors as mcolors
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from utils import tr
from utils._validate import require_int
from utils.check import (
    NOT_ATTEMPTED,
    as_number,
    attempt,
    expect,
    judge,
    passed,
    without,
)
from utils.plot import DIVERGING_CMAP
from utils.widgets import SliderDemo, int_slider, slider_demo

#: Constants holding English templates for :func:`utils.tr` (``scripts/messages.py`` reads them).
MESSAGES = (
    "TRANSPOSED",
    "NO_BIAS",
    "MACS",
    "LEADING",
    "FORWARD_ONLY",
    "INPUT_GRAD",
    "HIDDEN_GRAD",
    "BIAS_FLOPS",
    "BATCH_NORM",
    "NO_BIAS_GRAD",
    "SQUARED",
    "NORMS_ADD",
)

#: The three ways notebook 08 computes a linear layer, in the order they are reported.
LINEAR_VARIANTS = ("nn.Linear", "F.linear", "x @ W.T + b")


def linear_flops(batch: int, in_features: int, out_features: int) -> int:
    """Floating-point operations of one linear layer's forward pass: ``2 · batch · in · out``.

    >>> linear_flops(32, 1024, 1024)
    67108864
    """
    for value, name in ((batch, "batch"), (in_features, "in_features"), (out_features, "out")):
        require_int(value, name=name)
    return 2 * batch * in_features * out_features


def gflops_per_second(flops: float, seconds: float) -> float:
    """Throughput in GFLOP/s (10⁹ floating-point operations per second).

    >>> gflops_per_second(2e9, 0.5)
    4.0
    """
    return flops / seconds / 1e9


def time_call(
    fn: Callable[[], object], *, repeats: int = 7, warmup: int = 2, min_repeat_seconds: float = 1e-3
) -> float:
    """Median seconds per call of ``fn()``: after ``warmup`` calls, each of ``repeats`` repeats
    calls ``fn`` as often as fits in ``min_repeat_seconds`` (microsecond calls stay above the
    clock's noise); the median ignores a repeat that another process slowed down.

    >>> 0 < time_call(lambda: sum(range(100)), repeats=3) < 1
    True
    """
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_repeat_seconds:
                break
        samples.append(elapsed / calls)
    return statistics.median(samples)


def linear_timings(
    batch: int, in_features: int, out_features: int, *, repeats: int = 5, warmup: int = 2
) -> dict[str, float]:
    """Median forward seconds (``no_grad``) of each of :data:`LINEAR_VARIANTS` (checked equal).

    >>> timings = linear_timings(4, 8, 8, repeats=3)
    >>> list(timings) == list(LINEAR_VARIANTS), all(t > 0 for t in timings.values())
    (True, True)
    """
    linear_flops(batch, in_features, out_features)  # validates the sizes
    generator = torch.Generator().manual_seed(0)
    layer = nn.Linear(in_features, out_features).requires_grad_(False)
    x = torch.randn(batch, in_features, generator=generator)
    weight, bias = layer.weight, layer.bias
    calls = {
        "nn.Linear": lambda: layer(x),
        "F.linear": lambda: F.linear(x, weight, bias),
        "x @ W.T + b": lambda: x @ weight.T + bias,
    }
    with torch.no_grad():
        for call in calls.values():
            torch.testing.assert_close(call(), layer(x), rtol=1e-4, atol=1e-4)
        return {name: time_call(f, repeats=repeats, warmup=warmup) for name, f in calls.items()}


def matmul_peak_gflops(size: int = 1024, *, repeats: int = 5, warmup: int = 1) -> float:
    """Float32 GFLOP/s of a square ``A @ B`` (``2 · size³`` FLOPs), fastest of ``repeats``: the
    best case for the CPU's matrix kernels, so the peak a linear layer can approach.

    >>> matmul_peak_gflops(64, repeats=2) > 0
    True
    """
    require_int(size, name="size")
    require_int(repeats, name="repeats")
    a, b = torch.randn(2, size, size, generator=torch.Generator().manual_seed(0))
    for _ in range(warmup):
        a @ b
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        samples.append(time.perf_counter() - start)
    return gflops_per_second(2 * size**3, min(samples))


# ---------------------------------------------------------------------------- §3 slider demo

SIZE_RANGE, INDEX_RANGE = (1, 8), (0, 7)
#: Horizontal space between blocks, in cells (room for the ·, + and = signs).
GAP = 1.6
HIGHLIGHT = {"fill": False, "edgecolor": "black", "linewidth": 2.5}


class OutputElement(NamedTuple):
    """One output element ``Y[row, col]`` of a linear layer and the numbers that produce it."""

    X: torch.Tensor
    W: torch.Tensor
    b: torch.Tensor
    row: int
    col: int
    functional: float  # F.linear(X, W, b)[row, col]
    module: float  # an nn.Linear holding W and b, applied to X, at [row, col]
    explicit: float  # Σ_j X[row, j] · W[col, j] + b[col], one product at a time
    clamped: bool  # the requested row or column was outside the output and got clamped


def output_element(
    batch: int, in_features: int, out_features: int, row: int, col: int, *, seed: int = 0
) -> OutputElement:
    """``Y[row, col]`` of ``Y = X Wᵀ + b`` computed three ways (random ``X, W, b`` from ``seed``);
    ``row`` and ``col`` are clamped to the output, so every slider position has a picture.

    >>> element = output_element(3, 4, 2, row=9, col=1)
    >>> element.row, element.col, element.clamped, abs(element.functional - element.explicit) < 1e-5
    (2, 1, True, True)
    """
    for value, name in ((batch, "batch"), (in_features, "in_features"), (out_features, "out")):
        require_int(value, name=name)
    r, c = min(max(int(row), 0), batch - 1), min(max(int(col), 0), out_features - 1)
    generator = torch.Generator().manual_seed(seed)
    shapes = ((batch, in_features), (out_features, in_features), (out_features,))
    X, W, b = (torch.randn(shape, generator=generator).round(decimals=1) for shape in shapes)
    layer = nn.Linear(in_features, out_features).requires_grad_(False)
    layer.weight.copy_(W)
    layer.bias.copy_(b)
    explicit = sum(float(X[r, j]) * float(W[c, j]) for j in range(in_features)) + float(b[c])
    functional, module = float(F.linear(X, W, b)[r, c]), float(layer(X)[r, c])
    return OutputElement(X, W, b, r, c, functional, module, explicit, (r, c) != (row, col))


def _block(ax: Axes, values: torch.Tensor, left: float, title: str) -> AxesImage:
    """One matrix as coloured cells (red positive, blue negative), its top-left at ``left``."""
    rows, cols = values.shape
    bound = float(values.abs().max()) or 1.0
    norm = mcolors.TwoSlopeNorm(vmin=-bound, vcenter=0.0, vmax=bound)
    extent = (left, left + cols, rows, 0)
    image = ax.imshow(
        values.numpy(), cmap=DIVERGING_CMAP, norm=norm, extent=extent, interpolation="nearest"
    )
    ax.add_patch(Rectangle((left, 0), cols, rows, fill=False, edgecolor="0.3", linewidth=0.8))
    ax.text(left + cols / 2, -0.35, title, ha="center", va="bottom", fontsize=9)
    return image


def matmul_blocks(
    ax: Axes, X: torch.Tensor, W: torch.Tensor, b: torch.Tensor, row: int, col: int
) -> dict[str, object]:
    """Draw ``X · Wᵀ + b = Y`` as blocks (``W`` as in ``nn.Linear``) and outline the row of
    ``X``, the column of ``Wᵀ`` and the bias entry that make ``Y[row, col]``. Returns the images
    and the outlines by name (``"X"``, ``"WT"``, ``"b"``, ``"Y"``, ``"row"``, …, ``"cell"``)."""
    (batch, n_in), n_out = X.shape, W.shape[0]
    lefts = {"X": 0.0, "WT": n_in + GAP, "b": n_in + n_out + 2 * GAP}
    lefts["Y"] = lefts["b"] + n_out + GAP
    blocks, signs = (
        {"X": X, "WT": W.T, "b": b[None, :], "Y": X @ W.T + b},
        dict(WT="·", b="+", Y="="),
    )
    artists: dict[str, object] = {}
    for key, values in blocks.items():
        rows, cols = values.shape
        title = f"{key.replace('WT', 'Wᵀ')} ({rows}×{cols})" if key != "b" else f"b ({cols},)"
        artists[key] = _block(ax, values, lefts[key], title)
        if key in signs:
            ax.text(lefts[key] - GAP / 2, batch / 2, signs[key], ha="center", va="center", size=14)
    outlines = {"row": (0, row, n_in, 1), "col": (lefts["WT"] + col, 0, 1, n_in)}
    outlines |= {"bias": (lefts["b"] + col, 0, 1, 1), "cell": (lefts["Y"] + col, row, 1, 1)}
    for key, (x, y, width, height) in outlines.items():
        artists[key] = ax.add_patch(Rectangle((x, y), width, height, **HIGHLIGHT))
    ax.set(xlim=(-0.3, lefts["Y"] + n_out + 0.3), ylim=(max(batch, n_in) + 0.3, -1.4))
    ax.set_aspect("equal")
    ax.set_axis_off()
    return artists


def draw_matrix_product(
    fig: Figure, batch: int, in_features: int, out_features: int, row: int, col: int
) -> str:
    """Draw the blocks with ``Y[row, col]`` traced back; return the three computations."""
    e = output_element(batch, in_features, out_features, row, col)
    r, c = e.row, e.col
    matmul_blocks(ax := fig.add_subplot(), e.X, e.W, e.b, r, c)
    terms = [f"({float(e.X[r, j]):.1f})({float(e.W[c, j]):.1f})" for j in range(in_features)]
    shown = " + ".join(terms[:3]) + (" + …" if in_features > 3 else "")
    title = f"Y[{r}, {c}] = Σⱼ X[{r}, j]·W[{c}, j] + b[{c}] = {shown} + ({float(e.b[c]):.1f})"
    ax.set_title(title, fontsize=9)
    note = ""
    if e.clamped:
        note = tr(
            " (row/col clamped from ({row}, {col}) to fit the {n}×{d} output)",
            row=row,
            col=col,
            n=batch,
            d=out_features,
        )
    return tr(
        "Y[{r}, {c}]: F.linear {f:+.4f} · nn.Linear {m:+.4f} · explicit sum {e:+.4f}{note}",
        r=r,
        c=c,
        f=e.functional,
        m=e.module,
        e=e.explicit,
        note=note,
    )


def build_demo(batch=4, in_features=5, out_features=3, row=1, col=2) -> SliderDemo:
    """Sliders for the sizes and the traced ``Y[row, col]``, driving :func:`draw_matrix_product`.
    A row or column past the current size is clamped (the readout says so). Notebook 08, §3."""
    controls = {
        "batch": int_slider(tr("batch"), batch, *SIZE_RANGE),
        "in_features": int_slider("in_features", in_features, *SIZE_RANGE),
        "out_features": int_slider("out_features", out_features, *SIZE_RANGE),
        "row": int_slider(tr("row of Y (sample)"), row, *INDEX_RANGE),
        "col": int_slider(tr("column of Y (output feature)"), col, *INDEX_RANGE),
    }
    return slider_demo(draw_matrix_product, controls, figsize=(8.0, 3.4))


# ---------------------------------------------------------------------------- §9 self-checks

# The hints that name each typical mistake (the tests match them).
TRANSPOSED = "weight has shape (d_out, d_in): multiply by weight.T, not weight."
NO_BIAS = "the bias is missing: add it when it is not None."
MACS = "that counts multiply-adds; each multiply-add is two floating-point operations."
LEADING = "every leading dimension multiplies the work: (4, 5, 100) is n = 4 · 5 = 20 rows."
FORWARD_ONLY = "that is the forward pass only; the backward pass needs products too."
INPUT_GRAD = "x does not require grad, so autograd skips ∂L/∂x in the first layer."
HIDDEN_GRAD = "the second layer also computes ∂L/∂h for its input h, to pass the gradient down."
BIAS_FLOPS = "FlopCounterMode counts the matrix products only; leave out the bias additions."
BATCH_NORM = "one number is the norm of the whole batch's gradient: vmap over the samples."
NO_BIAS_GRAD = "the bias gradient is missing: the norm covers all parameters, W and b."
SQUARED = "those are squared norms: take the square root."
NORMS_ADD = "norms do not add: sqrt(‖∇W‖² + ‖∇b‖²), not ‖∇W‖ + ‖∇b‖."
F32, F64 = torch.float32, torch.float64


def _call(answer: Callable, args: tuple, name: str, what: str, hint: str) -> object:
    """``attempt`` the learner's function; an error it raises becomes a hint naming the case."""
    try:
        return attempt(name, answer, *args)
    except (RuntimeError, TypeError, ValueError, IndexError, AttributeError) as error:
        kind = type(error).__name__
        message = tr(
            "{what} raised {kind}: {error} — {hint}", what=what, kind=kind, error=error, hint=hint
        )
        raise AssertionError(message) from error


#: (x shape, d_out, bias?, dtype): 1-D to 4-D, an empty batch, square and not, float64.
FORWARD_CASES = (((5, 4), 3, True, F32), ((4,), 2, True, F32), ((2, 6, 3), 3, True, F32))
FORWARD_CASES += (((2, 3, 2, 5), 4, False, F64), ((0, 4), 3, True, F32), ((3, 2), 5, False, F32))


def check_linear_forward(linear_forward: Callable[..., torch.Tensor]) -> None:
    """Check ``linear_forward(x, weight, bias=None)`` equals ``F.linear`` without calling it, on
    1-D to 4-D inputs, an empty batch, square and non-square weights, ``bias=None``, float64.

    >>> def linear_forward(x, weight, bias=None):
    ...     y = x @ weight.T
    ...     return y if bias is None else y + bias
    >>> check_linear_forward(linear_forward)
    ✓ linear_forward equals F.linear for 1-D to 4-D inputs, an empty batch and bias=None
    """
    generator = torch.Generator().manual_seed(12)
    hint = tr("weight is (d_out, d_in): x @ weight.T works for any leading dims; bias may be None.")
    rule = tr("write the formula yourself, with @ (or torch.matmul) and +.")
    for x_shape, d_out, has_bias, dtype in FORWARD_CASES:
        w_shape = (d_out, x_shape[-1])
        x, weight = (torch.randn(s, generator=generator, dtype=dtype) for s in (x_shape, w_shape))
        bias = torch.randn(w_shape[0], generator=generator, dtype=dtype) if has_bias else None
        b_text = "bias" if has_bias else "bias=None"
        what = tr("linear_forward(x of shape {x}, weight {w}, {b})", x=x_shape, w=w_shape, b=b_text)
        args = (linear_forward, x, weight, bias)
        got = _call(partial(without, (F.linear,), hint=rule), args, "linear_forward", what, hint)
        if got is NOT_ATTEMPTED:
            return
        square, b = w_shape[0] == w_shape[1], 0 if bias is None else bias
        wrong = [(tr(TRANSPOSED), x @ weight + b if square else None), (tr(NO_BIAS), x @ weight.T)]
        judge(got, F.linear(x, weight, bias), wrong, what=what, hint=hint)
    passed(tr("linear_forward equals F.linear for 1-D to 4-D inputs, an empty batch and bias=None"))


#: Exercise 8.2: Linear(100, 50) → ReLU → Linear(50, 10) on x of shape (4, 5, 100), no grad on x.
MLP_SIZES, MLP_INPUT = (100, 50, 10), (4, 5, 100)


def check_flops_prediction(answer: object) -> None:
    """Check exercise 8.2's predicted FLOPs (any number form) against ``FlopCounterMode``.

    >>> check_flops_prediction(460_000)
    ✓ 460000 = 2 · 200000 (layer 1: forward, ∂L/∂W) + 3 · 20000 (layer 2: also ∂L/∂h)
    """
    got = attempt("answer", answer)
    if got is NOT_ATTEMPTED:
        return
    got = as_number(got.detach() if isinstance(got, torch.Tensor) else got, what="answer")
    (d_in, hidden, d_out), rows = MLP_SIZES, MLP_INPUT[0] * MLP_INPUT[1]
    first, second = linear_flops(rows, d_in, hidden), linear_flops(rows, hidden, d_out)
    model = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))
    with FlopCounterMode(display=False) as counter:  # PyTorch's own count is the answer
        model(torch.zeros(MLP_INPUT)).sum().backward()
    want = counter.get_total_flops()
    wrong = [
        (tr(MACS), want / 2),
        (tr(LEADING), want / 5),
        (tr(LEADING), want / 4),
        (tr(FORWARD_ONLY), first + second),
        (tr(INPUT_GRAD), 3 * (first + second)),
        (tr(HIDDEN_GRAD), 2 * (first + second)),
        (tr(BIAS_FLOPS), want + rows * (hidden + d_out)),
    ]
    for mistake, value in wrong:
        expect(got != value, tr("answer = {a:.10g}: {hint}", a=got, hint=mistake))
    hint = tr("count the forward products, then those the backward pass needs, layer by layer.")
    expect(got == want, tr("answer = {a:.10g} is off: {hint}", a=got, hint=hint))
    passed(
        tr(
            "{a} = 2 · {f} (layer 1: forward, ∂L/∂W) + 3 · {s} (layer 2: also ∂L/∂h)",
            a=want,
            f=first,
            s=second,
        )
    )


def check_per_sample_grad_norms(per_sample_grad_norms: Callable[..., torch.Tensor]) -> None:
    """Check ``per_sample_grad_norms(weight, bias, X, labels)``: per sample ``k``, the norm of the
    gradient of ``cross_entropy(F.linear(x_k, W, b), label_k)`` wrt ``W`` and ``b`` together,
    against one backward pass per sample, for three layer and batch sizes (one in float64).

    >>> from torch.func import grad, vmap
    >>> def per_sample_grad_norms(weight, bias, X, labels):
    ...     def loss(w, b, x, label):
    ...         return F.cross_entropy(F.linear(x, w, b), label)
    ...     per_sample = vmap(grad(loss, argnums=(0, 1)), in_dims=(None, None, 0, 0))
    ...     g_w, g_b = per_sample(weight, bias, X, labels)
    ...     return (g_w.square().sum(dim=(1, 2)) + g_b.square().sum(dim=1)).sqrt()
    >>> check_per_sample_grad_norms(per_sample_grad_norms)
    ✓ per_sample_grad_norms matches one backward pass per sample, for W and b together
    """
    generator = torch.Generator().manual_seed(13)
    hint = tr("vmap(grad(loss, argnums=(0, 1)), in_dims=(None, None, 0, 0)) maps over samples.")
    for (n, d_out, d_in), dtype in (((6, 3, 4), F32), ((1, 5, 2), F64), ((4, 2, 7), F32)):
        shapes = ((d_out, d_in), (d_out,), (n, d_in))
        weight, bias, X = (torch.randn(s, generator=generator, dtype=dtype) for s in shapes)
        labels = torch.randint(d_out, (n,), generator=generator)
        what = tr("per_sample_grad_norms(weight {w}, X {x})", w=(d_out, d_in), x=(n, d_in))
        args = (weight, bias, X, labels)
        got = _call(per_sample_grad_norms, args, "per_sample_grad_norms", what, hint)
        if got is NOT_ATTEMPTED:
            return
        expect(not (isinstance(got, torch.Tensor) and got.ndim == 0 and n > 1), tr(BATCH_NORM))
        squares = []  # ‖∇_W ℓ_k‖² and ‖∇_b ℓ_k‖², one backward pass per sample
        for x, label in zip(X, labels, strict=True):
            w, b = weight.clone().requires_grad_(), bias.clone().requires_grad_()
            grads = torch.autograd.grad(F.cross_entropy(F.linear(x, w, b), label), (w, b))
            squares.append([g.square().sum() for g in grads])
        square_w, square_b = torch.tensor(squares, dtype=dtype).T
        wrong = [
            (tr(NO_BIAS_GRAD), square_w.sqrt()),
            (tr(SQUARED), square_w + square_b),
            (tr(NORMS_ADD), square_w.sqrt() + square_b.sqrt()),
        ]
        judge(got, (square_w + square_b).sqrt(), wrong, what=what, hint=hint)
    passed(tr("per_sample_grad_norms matches one backward pass per sample, for W and b together"))
