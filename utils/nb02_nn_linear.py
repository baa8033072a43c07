"""Notebook 02, ``nn.Linear``: which shapes go in and come out, and what PyTorch says on a clash.

:func:`explore_linear_shapes` builds a real layer, feeds it a real tensor and reports the shapes
(or the exact ``RuntimeError`` text) with a one-line explanation; it never touches the global
random number generator. :func:`linear_shape_diagram` draws the same call as blocks.

- §4.1 and §5 use :func:`predicted_error`
- §5 uses :func:`explore_linear_shapes`, :func:`linear_shape_diagram` and :func:`build_demo`
- §7 (exercises) uses :data:`SHAPE_QUIZ`, :func:`check_predicted_shapes` and
  :func:`check_count_linear_parameters`
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from utils._validate import require_axes, require_int
from utils.check import NOT_ATTEMPTED, attempt, expect, passed
from utils.widgets import SliderDemo, checkbox, int_slider, slider_demo

#: Sizes given to the extra leading dimensions, in order (think sequence, heads, ...).
EXTRA_SIZES = (4, 3, 2)

# --- compute -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearShapes:
    """Shapes around one call ``nn.Linear(in_features, out_features)(x)``.

    ``rows`` is the product of ``x``'s leading dimensions: PyTorch views ``x`` as a
    ``(rows, x.shape[-1])`` matrix ("mat1") and multiplies it by ``Wᵀ`` ("mat2").
    On a mismatch ``output_shape`` is ``None`` and ``error`` holds PyTorch's message.
    """

    input_shape: tuple[int, ...]
    weight_shape: tuple[int, int]
    bias_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None
    rows: int
    error: str | None
    explanation: str

    @property
    def ok(self) -> bool:
        """``True`` when the layer accepted the input."""
        return self.error is None


def _run_linear(
    in_features: int, out_features: int, shape: tuple[int, ...], *, bias: bool = True
) -> tuple[int, ...] | str:
    """The output shape of a real ``nn.Linear`` on zeros of ``shape``, or PyTorch's error text."""
    # skip_init: no random draw, so exploring shapes never moves the global RNG
    layer = nn.utils.skip_init(nn.Linear, in_features, out_features, bias=bias)
    with torch.no_grad():
        try:
            return tuple(layer(torch.zeros(shape)).shape)
        except RuntimeError as exc:
            return str(exc)


def predicted_error(rows: int, got_features: int, in_features: int, out_features: int) -> str:
    """The message PyTorch 2.x gives when the last dimension does not match ``in_features``.

    >>> predicted_error(3, 7, 10, 2)
    'mat1 and mat2 shapes cannot be multiplied (3x7 and 10x2)'
    """
    return (
        f"mat1 and mat2 shapes cannot be multiplied "
        f"({rows}x{got_features} and {in_features}x{out_features})"
    )


def explore_linear_shapes(
    batch: int,
    extra_dims: int,
    in_features: int,
    out_features: int,
    *,
    mismatch: bool = False,
    bias: bool = True,
) -> LinearShapes:
    """Run a real ``nn.Linear(in_features, out_features)`` on a zero tensor and report shapes.

    The input has shape ``(batch, *EXTRA_SIZES[:extra_dims], in_features)``, or one feature
    more when ``mismatch`` is set, so the layer raises its real ``RuntimeError``. Used in §5.

    >>> shapes = explore_linear_shapes(2, 1, 5, 3)
    >>> shapes.input_shape, shapes.output_shape
    ((2, 4, 5), (2, 4, 3))
    >>> explore_linear_shapes(2, 1, 5, 3, mismatch=True).error
    'mat1 and mat2 shapes cannot be multiplied (8x6 and 5x3)'
    """
    require_int(batch, name="batch", low=0)
    require_int(extra_dims, name="extra_dims", low=0, high=len(EXTRA_SIZES))
    require_int(in_features, name="in_features")
    require_int(out_features, name="out_features")
    shape = (batch, *EXTRA_SIZES[:extra_dims], in_features + 1 if mismatch else in_features)
    result = _run_linear(in_features, out_features, shape, bias=bias)
    output_shape, error = (result, None) if isinstance(result, tuple) else (None, result)
    leading, rows = shape[:-1], math.prod(shape[:-1])
    if error is None:
        explanation = (
            f"{shape} → {output_shape}: the {len(leading)} leading dim(s) {leading} are kept "
            f"({rows} rows) and only the last one changes, {in_features} → {out_features}"
        )
    else:
        explanation = (
            f"mat1 is x viewed as ({rows}, {shape[-1]}), mat2 is Wᵀ ({in_features}, "
            f"{out_features}): x's last dim is {shape[-1]} but in_features is {in_features}"
        )
    return LinearShapes(
        input_shape=shape,
        weight_shape=(out_features, in_features),
        bias_shape=(out_features,) if bias else None,
        output_shape=output_shape,
        rows=rows,
        error=error,
        explanation=explanation,
    )


# --- plot (§5) ---------------------------------------------------------------------------------

MATCH_COLOR, CLASH_COLOR = "tab:green", "tab:red"
ROWS_COLOR, OUT_COLOR = "tab:orange", "tab:blue"


def _side(size: int, largest: int) -> float:
    """Block side for a dimension: grows with the size, never vanishes (size 0 is drawn thin)."""
    return 0.25 + 2.0 * math.sqrt(size / max(largest, 1))


def linear_shape_diagram(ax: Axes, shapes: LinearShapes) -> dict[str, object]:
    """Draw ``x Wᵀ + b = y`` as blocks sized by their dimensions, for one :class:`LinearShapes`.

    The two inner sizes that must agree (``x``'s last dim and ``Wᵀ``'s rows) are outlined green
    when they match and red when they clash; rows (orange) and ``out_features`` (blue) are
    colour-matched across the blocks. On a clash ``y`` is replaced by the error. Used in §5.

    >>> from matplotlib.figure import Figure
    >>> ax = Figure().add_subplot()
    >>> sorted(linear_shape_diagram(ax, explore_linear_shapes(3, 0, 4, 2)))
    ['W.T', 'b', 'inner', 'x', 'y']
    """
    ax = require_axes(ax)
    if not isinstance(shapes, LinearShapes):
        raise TypeError(f"shapes must be a LinearShapes; got {type(shapes).__name__}")
    rows, got = shapes.rows, shapes.input_shape[-1]
    n_out, n_in = shapes.weight_shape
    largest = max(rows, got, n_in, n_out)
    inner = MATCH_COLOR if got == n_in else CLASH_COLOR
    out_edge, rows_edge = ("top", OUT_COLOR, n_out), ("left", ROWS_COLOR, rows)
    blocks = [  # name, height, width, label, coloured edges (side, colour, size): what must agree
        ("x", rows, got, f"x viewed as ({rows}, {got})", [("top", inner, got), rows_edge]),
        ("W.T", n_in, n_out, f"Wᵀ: ({n_in}, {n_out})", [("left", inner, n_in), out_edge]),
    ]
    if shapes.bias_shape is not None:
        blocks.append(("b", 1, n_out, f"b: ({n_out},)", [out_edge]))
    if shapes.ok:
        blocks.append(("y", rows, n_out, f"y viewed as ({rows}, {n_out})", [out_edge, rows_edge]))
    else:
        blocks.append(("y", rows, n_out, "y: never computed", []))
    artists: dict[str, object] = {"inner": []}
    left = 0.0
    for name, height_n, width_n, label, edges in blocks:
        if name != "x":
            symbol = {"W.T": "@", "b": "+", "y": "="}[name]
            ax.text(left + 0.1, -1.0, symbol, fontsize=16, ha="center", va="center")
            left += 0.6
        height, width = _side(height_n, largest), _side(width_n, largest)
        if edges:
            box = Rectangle((left, -height), width, height, facecolor="0.92", edgecolor="0.3")
            artists[name] = ax.add_patch(box)
        else:  # the output PyTorch never computed
            artists[name] = ax.text(
                left + width / 2,
                -height / 2,
                "RuntimeError",
                fontsize=11,
                color=CLASH_COLOR,
                ha="center",
                va="center",
                weight="bold",
            )
        ax.text(left + width / 2, -height - 0.2, label, ha="center", va="top", fontsize=8)
        for side, color, size in edges:  # the size next to the edge, then the thick edge
            top = side == "top"
            xy = (left + width / 2, 0.08) if top else (left - 0.08, -height / 2)
            ha, va = ("center", "bottom") if top else ("right", "center")
            ax.text(*xy, str(size), ha=ha, va=va, fontsize=8, color=color)
            ends = ([left, left + width], [0, 0]) if top else ([left, left], [0, -height])
            line = ax.plot(*ends, color=color, lw=5)
            if color == inner:
                artists["inner"] += line
        left += width + 0.5
    verdict = f"{got} = {n_in} ✓" if got == n_in else f"{got} ≠ {n_in} ✗"
    ax.set_title(
        f"x {shapes.input_shape} → "
        f"{shapes.output_shape if shapes.ok else 'error'}     inner sizes: {verdict}",
        color="black" if shapes.ok else CLASH_COLOR,
        fontsize=10,
    )
    ax.set_xlim(-0.3, left)
    ax.set_ylim(-2.9, 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return artists


# --- slider demo (§5) --------------------------------------------------------------------------

BATCH_RANGE = (0, 8)
FEATURE_RANGE = (1, 12)


def draw_shape_explorer(
    fig: Figure, batch: int, extra_dims: int, in_features: int, out_features: int, mismatch: bool
) -> str:
    """Draw the block diagram for these settings on ``fig``; return the shapes or the error."""
    shapes = explore_linear_shapes(batch, extra_dims, in_features, out_features, mismatch=mismatch)
    fig.set_layout_engine("none")  # a fixed layout: constrained layout would double the cost
    linear_shape_diagram(fig.add_axes((0.01, 0.01, 0.98, 0.88)), shapes)
    head = f"x {shapes.input_shape} · weight {shapes.weight_shape} · bias {shapes.bias_shape}"
    if shapes.ok:
        return f"{head} → y {shapes.output_shape}. {shapes.explanation}"
    return f"{head} → RuntimeError: {shapes.error}. Why: {shapes.explanation}"


def build_demo(
    batch: int = 3,
    extra_dims: int = 1,
    in_features: int = 5,
    out_features: int = 3,
    mismatch: bool = False,
) -> SliderDemo:
    """Four sliders and a checkbox driving :func:`draw_shape_explorer`. Used in §5."""
    controls = {
        "batch": int_slider("batch", batch, *BATCH_RANGE),
        "extra_dims": int_slider("extra leading dims", extra_dims, 0, len(EXTRA_SIZES)),
        "in_features": int_slider("in_features", in_features, *FEATURE_RANGE),
        "out_features": int_slider("out_features", out_features, *FEATURE_RANGE),
        "mismatch": checkbox("mismatched input (+1 feature)", mismatch),
    }
    return slider_demo(draw_shape_explorer, controls, figsize=(8.0, 3.4))


# --- exercise checks (§7) ----------------------------------------------------------------------

#: The shape quiz: key → (in_features, out_features, input shape). Answer a tuple or "error".
SHAPE_QUIZ: dict[str, tuple[int, int, tuple[int, ...]]] = {
    "a": (10, 2, (3, 10)),
    "b": (10, 2, (10,)),
    "c": (8, 4, (2, 5, 8)),
    "d": (784, 10, (16, 1, 28, 28)),
    "e": (28, 10, (16, 1, 28, 28)),
    "f": (6, 3, (0, 6)),
    "g": (6, 3, (6, 4)),
}


def check_predicted_shapes(predicted: object) -> None:
    """Check a dict of predicted output shapes (or ``"error"``) for every :data:`SHAPE_QUIZ` key.

    >>> check_predicted_shapes({"a": (3, 2), "b": (2,), "c": (2, 5, 4), "d": "error",
    ...                         "e": (16, 1, 28, 10), "f": (0, 3), "g": "error"})
    ✓ all 7 predictions right: only the last dimension has to match in_features
    """
    answer = attempt("predicted", predicted)
    if answer is NOT_ATTEMPTED:
        return
    expect(
        isinstance(answer, dict),
        f"predicted must be a dict like {{'a': (3, 2), ...}}; got {type(answer).__name__}",
    )
    missing = sorted(set(SHAPE_QUIZ) - set(answer))
    expect(not missing, f"predicted is missing the keys {missing}")
    for key, (n_in, n_out, shape) in SHAPE_QUIZ.items():
        result = _run_linear(n_in, n_out, shape)  # what the real layer does
        truth = result if isinstance(result, tuple) else "error"
        got = answer[key]
        got = tuple(got) if isinstance(got, list | torch.Size) else got
        if truth == "error":
            hint = f"the last dim is {shape[-1]}, but in_features is {n_in}: the layer raises"
        else:
            hint = (
                f"the last dim {shape[-1]} matches in_features = {n_in}, so every leading dim "
                f"{shape[:-1]} is kept and the last becomes {n_out}"
            )
        expect(
            got == truth,
            f"({key}) nn.Linear({n_in}, {n_out}) on {shape}: expected {truth}, got {got!r}; {hint}",
        )
    passed(
        f"all {len(SHAPE_QUIZ)} predictions right: only the last dimension has to match in_features"
    )


#: Stacks the parameter-count check tries: (sizes, bias).
COUNT_CASES = (([784, 128, 64, 10], True), ([10, 2], True), ([10, 2], False), ([3, 5, 5, 1], False))


def check_count_linear_parameters(count: Callable[..., int]) -> None:
    """Check ``count(sizes, bias)`` = parameters of ``Linear(sizes[0], sizes[1]), Linear(...)...``.

    >>> def count(sizes, bias=True):
    ...     return sum(i * o + (o if bias else 0) for i, o in pairwise(sizes))
    >>> check_count_linear_parameters(count)
    ✓ count matches sum(p.numel() for p in model.parameters()) on 4 stacks
    """
    for sizes, bias in COUNT_CASES:
        got = attempt("count_linear_parameters", count, list(sizes), bias)
        if got is NOT_ATTEMPTED:
            return
        model = nn.Sequential(
            *(nn.utils.skip_init(nn.Linear, i, o, bias=bias) for i, o in pairwise(sizes))
        )
        truth = sum(p.numel() for p in model.parameters())
        expect(
            isinstance(got, int) and not isinstance(got, bool),
            f"return an int; got {type(got).__name__}",
        )
        weights_only = sum(i * o for i, o in pairwise(sizes))
        expect(
            not (bias and got == weights_only),
            f"sizes={sizes}: you counted only the weights ({got}); each layer adds "
            "out_features biases",
        )
        expect(
            bias or got != weights_only + sum(sizes[1:]),
            f"sizes={sizes}, bias=False: expected {truth}, got {got}; you counted the "
            "biases, but with bias=False the layers have none",
        )
        expect(
            got == truth,
            f"sizes={sizes}, bias={bias}: expected {truth}, got {got}. Each layer has "
            "in·out weights plus out biases (when bias=True).",
        )
    passed(f"count matches sum(p.numel() for p in model.parameters()) on {len(COUNT_CASES)} stacks")
