"""Notebook 08 (F.linear and the functional view): what a linear layer costs (FLOPs, careful
timing, GFLOP/s against the machine's matmul peak), the matrix-product demo, the self-checks.

- §7 uses :func:`linear_flops`, :func:`linear_timings` (built on :func:`time_call`),
  :func:`matmul_peak_gflops`, :func:`gflops_per_second`, :data:`LINEAR_VARIANTS`,
  :func:`gflops_curves` (and ``utils.threads``); ``benchmarks/matmul.py`` uses them too.
- §8 uses :func:`build_demo` and its compute function :func:`output_element`.
- §9 uses :func:`check_linear_forward`, :func:`check_linear_flops`, :func:`check_per_sample_grads`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import NamedTuple

import matplotlib.colors as mcolors
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator
from torch import nn

from utils._validate import as_tensor, require_axes, require_int, require_shape
from utils.check import NOT_ATTEMPTED, as_number, attempt, expect, expect_tensor, passed
from utils.plot import DIVERGING_CMAP
from utils.widgets import SliderDemo, int_slider, slider_demo

#: The three ways notebook 08 computes a linear layer, in the order they are reported.
LINEAR_VARIANTS = ("nn.Linear", "F.linear", "x @ W.T + b")


def linear_flops(batch: int, in_features: int, out_features: int) -> int:
    """Floating-point operations of one linear layer: ``2 · batch · in · out``.

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
    if flops < 0:
        raise ValueError(f"flops must be >= 0; got {flops}")
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0; got {seconds}")
    return flops / seconds / 1e9


def time_call(
    fn: Callable[[], object], *, repeats: int = 7, warmup: int = 2, min_repeat_seconds: float = 1e-3
) -> float:
    """Median seconds per call of ``fn()``, measured with ``time.perf_counter``.

    After ``warmup`` untimed calls, each of the ``repeats`` measurements calls ``fn`` as often
    as fits in ``min_repeat_seconds`` (at least once), so microsecond calls stay above the
    clock's noise. The median ignores a repeat that another process slowed down.

    >>> 0 < time_call(lambda: sum(range(100)), repeats=3) < 1
    True
    """
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        calls = 0
        start = time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_repeat_seconds:
                break
        samples.append(elapsed / calls)
    return statistics.median(samples)


def linear_timings(
    batch: int,
    in_features: int,
    out_features: int,
    *,
    repeats: int = 5,
    warmup: int = 2,
) -> dict[str, float]:
    """Median forward seconds of ``nn.Linear``, ``F.linear`` and ``x @ W.T + b`` (same numbers).

    Timed under ``torch.no_grad()``: the forward pass alone. All three compute the same output
    (checked before timing).

    >>> timings = linear_timings(4, 8, 8, repeats=3)
    >>> list(timings) == list(LINEAR_VARIANTS), all(t > 0 for t in timings.values())
    (True, True)
    """
    linear_flops(batch, in_features, out_features)  # validates the sizes
    generator = torch.Generator().manual_seed(0)
    layer = nn.Linear(in_features, out_features)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(out_features, in_features, generator=generator))
        layer.bias.copy_(torch.randn(out_features, generator=generator))
    x = torch.randn(batch, in_features, generator=generator)
    weight, bias = layer.weight.detach(), layer.bias.detach()
    calls: dict[str, Callable[[], torch.Tensor]] = {
        "nn.Linear": lambda: layer(x),
        "F.linear": lambda: F.linear(x, weight, bias),
        "x @ W.T + b": lambda: x @ weight.T + bias,
    }
    with torch.no_grad():
        reference = calls["nn.Linear"]()
        for call in calls.values():
            torch.testing.assert_close(call(), reference, rtol=1e-4, atol=1e-4)
        return {
            name: time_call(call, repeats=repeats, warmup=warmup) for name, call in calls.items()
        }


def matmul_peak_gflops(size: int = 1024, *, repeats: int = 5, warmup: int = 1) -> float:
    """Measured float32 GFLOP/s of one large square ``A @ B`` (``2 · size³`` FLOPs), best repeat.

    A large square product is the best case for the CPU's matrix kernels (lots of work per byte
    moved), so its fastest run stands in for the peak a linear layer can approach. The fastest,
    not the median: slow runs are other processes getting in the way.

    >>> matmul_peak_gflops(64, repeats=2) > 0
    True
    """
    require_int(size, name="size")
    require_int(repeats, name="repeats")
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator)
    b = torch.randn(size, size, generator=generator)
    for _ in range(warmup):
        a @ b
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        samples.append(time.perf_counter() - start)
    return gflops_per_second(2 * size**3, min(samples))


def gflops_curves(
    ax: Axes,
    x: object,
    curves: dict[str, object],
    *,
    peak: float | None = None,
    xlabel: str = "FLOPs per call",
    ticks_at_points: bool = False,
) -> dict[str, object]:
    """Plot achieved GFLOP/s against ``x`` (log-log), one line per variant, plus the peak.

    ``curves`` maps a label (``"F.linear"``) to one GFLOP/s value per ``x``. ``peak`` draws the
    measured matmul rate as a dashed ceiling. ``ticks_at_points`` labels the x axis at the
    given ``x`` values (good for a handful of batch sizes). Used in notebook 08, section 7.

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> sorted(gflops_curves(ax, [1e3, 1e6], {"F.linear": [0.5, 20.0]}, peak=50.0))
    ['F.linear', 'peak']
    >>> plt.close(fig)
    """
    ax = require_axes(ax)
    xs = as_tensor(x, name="x")
    require_shape(xs, (None,), name="x", meaning="(points,)")
    if not curves:
        raise ValueError("curves is empty: give at least one {label: values}")
    artists: dict[str, object] = {}
    for label, values in curves.items():
        ys = as_tensor(values, name=f"curves[{label!r}]")
        require_shape(ys, (len(xs),), name=f"curves[{label!r}]", meaning="(points,), like x")
        if not bool((ys > 0).all()) or not bool((xs > 0).all()):
            raise ValueError(f"x and curves[{label!r}] must be positive for a log-log plot")
        (artists[label],) = ax.plot(xs, ys, marker="o", ms=4, label=label)
    if peak is not None:
        if not peak > 0:
            raise ValueError(f"peak must be > 0; got {peak}")
        artists["peak"] = ax.axhline(
            peak, color="black", ls="--", lw=1, label=f"measured matmul peak {peak:.0f} GFLOP/s"
        )
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="achieved GFLOP/s")
    no_label = FuncFormatter(lambda _value, _position: "")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))  # 1, 2, 5, 10, 20, …
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:g}"))
    ax.yaxis.set_minor_formatter(no_label)
    if ticks_at_points:
        ax.set_xticks(xs.tolist(), labels=[f"{value:g}" for value in xs.tolist()])
        ax.xaxis.set_minor_formatter(no_label)
    ax.legend(loc="lower right", fontsize=8)
    return artists


# ---------------------------------------------------------------------------- §8 slider demo

SIZE_RANGE = (1, 8)
INDEX_RANGE = (0, SIZE_RANGE[1] - 1)
#: Horizontal space between blocks, in cells (room for the ·, + and = signs).
GAP = 1.6
HIGHLIGHT = {"fill": False, "edgecolor": "black", "linewidth": 2.5}


class OutputElement(NamedTuple):
    """One output element of a linear layer and the numbers that produce it."""

    X: torch.Tensor
    W: torch.Tensor
    b: torch.Tensor
    row: int
    col: int
    functional: float  # ``F.linear(X, W, b)[row, col]``
    module: float  #: an ``nn.Linear`` holding ``W``, ``b``, applied to ``X``, at ``[row, col]``
    explicit: float  # ``Σ_k X[row, k] · W[col, k] + b[col]``, one product at a time
    clamped: bool  # the requested row or column was outside the output and got clamped


def output_element(
    batch: int, in_features: int, out_features: int, row: int, col: int, *, seed: int = 0
) -> OutputElement:
    """Compute ``Y[row, col]`` of ``Y = X Wᵀ + b`` three ways (random ``X, W, b`` from ``seed``).

    ``row`` is clamped to ``[0, batch − 1]`` and ``col`` to ``[0, out_features − 1]``, so every
    slider position has a picture. Used in notebook 08, section 8.

    >>> element = output_element(3, 4, 2, row=9, col=1)
    >>> element.row, element.col, element.clamped
    (2, 1, True)
    >>> abs(element.functional - element.explicit) < 1e-5
    True
    """
    for value, name in ((batch, "batch"), (in_features, "in_features"), (out_features, "out")):
        require_int(value, name=name)
    r = min(max(int(row), 0), batch - 1)
    c = min(max(int(col), 0), out_features - 1)
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(batch, in_features, generator=generator).round(decimals=1)
    W = torch.randn(out_features, in_features, generator=generator).round(decimals=1)
    b = torch.randn(out_features, generator=generator).round(decimals=1)
    layer = nn.Linear(in_features, out_features)
    with torch.no_grad():
        layer.weight.copy_(W)
        layer.bias.copy_(b)
        via_module = float(layer(X)[r, c])
    explicit = sum(float(X[r, k]) * float(W[c, k]) for k in range(in_features)) + float(b[c])
    return OutputElement(
        X, W, b, r, c, float(F.linear(X, W, b)[r, c]), via_module, explicit, (r, c) != (row, col)
    )


def _block(ax: Axes, values: torch.Tensor, left: float, title: str) -> AxesImage:
    """One matrix as coloured cells (red positive, blue negative), its top-left at ``left``."""
    rows, cols = values.shape
    bound = float(values.abs().max()) or 1.0
    image = ax.imshow(
        values.numpy(),
        cmap=DIVERGING_CMAP,
        norm=mcolors.TwoSlopeNorm(vmin=-bound, vcenter=0.0, vmax=bound),
        extent=(left, left + cols, rows, 0),
        origin="upper",
        interpolation="nearest",
    )
    ax.add_patch(Rectangle((left, 0), cols, rows, fill=False, edgecolor="0.3", linewidth=0.8))
    ax.text(left + cols / 2, -0.35, title, ha="center", va="bottom", fontsize=9)
    return image


def matmul_blocks(
    ax: Axes,
    X: torch.Tensor,
    W: torch.Tensor,
    b: torch.Tensor | None = None,
    *,
    row: int | None = None,
    col: int | None = None,
) -> dict[str, object]:
    """Draw ``X · Wᵀ + b = Y`` as blocks (``W`` as in ``nn.Linear``, ``b`` may be ``None``).

    With ``row`` and ``col``, outline the row of ``X``, column of ``Wᵀ`` and bias entry that make
    ``Y[row, col]``. Returns the images and the outlines by name (``"X"``, ``"WT"``, ``"cell"``…).
    """
    (batch, n_in), n_out = X.shape, W.shape[0]
    artists: dict[str, object] = {"X": _block(ax, X, 0.0, f"X ({batch}×{n_in})")}
    x_wt = n_in + GAP
    ax.text(x_wt - GAP / 2, batch / 2, "·", ha="center", va="center", fontsize=16)
    artists["WT"] = _block(ax, W.T, x_wt, f"Wᵀ ({n_in}×{n_out})")
    right = x_wt + n_out + GAP
    if b is not None:
        ax.text(right - GAP / 2, batch / 2, "+", ha="center", va="center", fontsize=14)
        artists["b"] = _block(ax, b[None, :], right, f"b ({n_out},)")
        x_b, right = right, right + n_out + GAP
    ax.text(right - GAP / 2, batch / 2, "=", ha="center", va="center", fontsize=14)
    Y = X @ W.T + (b if b is not None else 0.0)
    artists["Y"] = _block(ax, Y, right, f"Y ({batch}×{n_out})")
    if row is not None and col is not None:
        artists["row"] = ax.add_patch(Rectangle((0, row), n_in, 1, **HIGHLIGHT))
        artists["col"] = ax.add_patch(Rectangle((x_wt + col, 0), 1, n_in, **HIGHLIGHT))
        if b is not None:
            artists["bias"] = ax.add_patch(Rectangle((x_b + col, 0), 1, 1, **HIGHLIGHT))
        artists["cell"] = ax.add_patch(Rectangle((right + col, row), 1, 1, **HIGHLIGHT))
    ax.set_xlim(-0.3, right + n_out + 0.3)
    ax.set_ylim(max(batch, n_in) + 0.3, -1.4)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return artists


def draw_matrix_product(
    fig: Figure, batch: int, in_features: int, out_features: int, row: int, col: int
) -> str:
    """Draw the blocks with ``Y[row, col]`` traced back; return the three computations."""
    element = output_element(batch, in_features, out_features, row, col)
    r, c = element.row, element.col
    ax = fig.add_subplot()
    matmul_blocks(ax, element.X, element.W, element.b, row=r, col=c)
    terms = " + ".join(
        f"({float(element.X[r, k]):.1f})({float(element.W[c, k]):.1f})"
        for k in range(min(in_features, 3))
    )
    more = " + …" if in_features > 3 else ""
    bias = f"({float(element.b[c]):.1f})"
    ax.set_title(
        f"Y[{r}, {c}] = Σₖ X[{r}, k]·W[{c}, k] + b[{c}] = {terms}{more} + {bias}", fontsize=9
    )
    clamp_note = (
        f" (row/col clamped from ({row}, {col}) to fit the {batch}×{out_features} output)"
        if element.clamped
        else ""
    )
    return (
        f"Y[{r}, {c}]: F.linear {element.functional:+.4f} · nn.Linear {element.module:+.4f} · "
        f"explicit sum {element.explicit:+.4f}{clamp_note}"
    )


def build_demo(
    batch: int = 4, in_features: int = 5, out_features: int = 3, row: int = 1, col: int = 2
) -> SliderDemo:
    """Sliders for the sizes and the traced ``Y[row, col]``, driving :func:`draw_matrix_product`.

    A row or column past the current size is clamped (the readout says so). Notebook 08, §8.
    """
    controls = {
        "batch": int_slider("batch", batch, *SIZE_RANGE),
        "in_features": int_slider("in_features", in_features, *SIZE_RANGE),
        "out_features": int_slider("out_features", out_features, *SIZE_RANGE),
        "row": int_slider("row of Y (sample)", row, *INDEX_RANGE),
        "col": int_slider("column of Y (output feature)", col, *INDEX_RANGE),
    }
    return slider_demo(draw_matrix_product, controls, figsize=(8.0, 3.4))


# ---------------------------------------------------------------------------- §9 self-checks


def check_linear_forward(linear_forward: Callable[..., torch.Tensor]) -> None:
    """Check ``linear_forward(x, weight, bias=None)`` equals ``F.linear`` on 2-D and 3-D input.

    >>> def linear_forward(x, weight, bias=None):
    ...     y = x @ weight.T
    ...     return y if bias is None else y + bias
    >>> check_linear_forward(linear_forward)
    ✓ linear_forward equals F.linear for (N, in), (N, L, in) and bias=None
    """
    generator = torch.Generator().manual_seed(12)
    weight = torch.randn(3, 4, generator=generator)
    bias = torch.randn(3, generator=generator)
    cases = {
        "x of shape (5, 4)": (torch.randn(5, 4, generator=generator), bias),
        "x of shape (2, 6, 4) (leading dims)": (torch.randn(2, 6, 4, generator=generator), bias),
        "bias=None": (torch.randn(5, 4, generator=generator), None),
    }
    for what, (x, b) in cases.items():
        y = attempt("linear_forward", linear_forward, x, weight, b)
        if y is NOT_ATTEMPTED:
            return
        expect_tensor(
            y,
            F.linear(x, weight, b),
            what=f"linear_forward with {what}",
            hint="x @ weight.T works for any number of leading dims; add bias only if it "
            "is not None.",
        )
    passed("linear_forward equals F.linear for (N, in), (N, L, in) and bias=None")


def check_linear_flops(linear_flops: Callable[[int, int, int], int]) -> None:
    """Check ``linear_flops(batch, in_features, out_features)`` returns ``2 · batch · in · out``.

    Any form of a number passes (``int``, ``float``, a 0-d tensor, a NumPy scalar).

    >>> check_linear_flops(lambda batch, d_in, d_out: 2 * batch * d_in * d_out)
    ✓ linear_flops counts one multiply and one add per weight per sample: 2 · batch · in · out
    """
    for batch, d_in, d_out in ((1, 1, 1), (32, 784, 256), (7, 3, 5)):
        got = attempt("linear_flops", linear_flops, batch, d_in, d_out)
        if got is NOT_ATTEMPTED:
            return
        call, expected = f"linear_flops({batch}, {d_in}, {d_out})", 2 * batch * d_in * d_out
        got = as_number(got, what=call)
        expect(
            got != batch * d_in * d_out or got == expected,
            f"{call} = {got:.10g}: that counts multiply-adds; a multiply-add is two "
            "floating-point operations.",
        )
        expect(
            got == expected,
            f"{call}: expected {expected}, got {got:.10g}. Each of the batch · out outputs is a "
            "dot product of length in: in multiplies and in adds.",
        )
    passed(
        "linear_flops counts one multiply and one add per weight per sample: 2 · batch · in · out"
    )


def check_per_sample_grads(per_sample_grads: Callable[..., torch.Tensor]) -> None:
    """Check ``per_sample_grads(weight, X, Y)``: one gradient of ``‖W x − y‖²`` per sample.

    >>> from torch.func import grad, vmap
    >>> def per_sample_grads(weight, X, Y):
    ...     def loss(w, x, y):
    ...         return ((F.linear(x, w) - y) ** 2).sum()
    ...     return vmap(grad(loss), in_dims=(None, 0, 0))(weight, X, Y)
    >>> check_per_sample_grads(per_sample_grads)
    ✓ per_sample_grads matches a loop of 6 backward passes, one gradient per sample
    """
    generator = torch.Generator().manual_seed(13)
    weight = torch.randn(2, 3, generator=generator)
    X = torch.randn(6, 3, generator=generator)
    Y = torch.randn(6, 2, generator=generator)
    got = attempt("per_sample_grads", per_sample_grads, weight, X, Y)
    if got is NOT_ATTEMPTED:
        return
    expected = []
    for x, y in zip(X, Y, strict=True):
        w = weight.clone().requires_grad_()
        ((F.linear(x, w) - y) ** 2).sum().backward()
        expected.append(w.grad)
    expect(
        not (isinstance(got, torch.Tensor) and tuple(got.shape) == (2, 3)),
        "got one (2, 3) gradient: that is the whole batch's gradient. vmap over the "
        "samples (in_dims=(None, 0, 0)) to get shape (6, 2, 3).",
    )
    expect_tensor(
        got.detach() if isinstance(got, torch.Tensor) else got,
        torch.stack(expected),
        what="per_sample_grads(weight, X, Y)",
        hint="For loss ‖W x − y‖² the gradient of sample i is 2 (W xᵢ − yᵢ) xᵢᵀ.",
    )
    passed("per_sample_grads matches a loop of 6 backward passes, one gradient per sample")
