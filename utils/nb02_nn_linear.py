"""Notebook 02, ``nn.Linear``: which shapes go in and come out, and what PyTorch says on a clash.

§6: :func:`explore_linear_shapes` runs a real layer on a real tensor (never touching the global
RNG) and reports the shapes or PyTorch's own error; :func:`linear_shape_diagram` draws the call as
blocks; :func:`build_demo`. §8 (exercises): :data:`SHAPE_QUIZ` and the ``check_*`` functions.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from utils import tr
from utils._validate import require_axes, require_int
from utils.check import NOT_ATTEMPTED, as_number, attempt, expect, expect_tensor, passed
from utils.widgets import SliderDemo, checkbox, int_slider, slider_demo

#: Constants holding English templates for :func:`utils.tr` (``scripts/messages.py`` reads them).
MESSAGES = ("SHAPE_QUIZ", "COUNT_MISTAKES", "CNN_HINTS")

#: Sizes given to the extra leading dimensions, in order (think sequence, heads, ...).
EXTRA_SIZES = (4, 3, 2)

# --- compute -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearShapes:
    """Shapes around ``nn.Linear(d_in, d_out)(x)``, with ``x`` viewed as ``(rows, x.shape[-1])``."""

    input_shape: tuple[int, ...]
    weight_shape: tuple[int, int]
    output_shape: tuple[int, ...] | None
    rows: int
    error: str | None
    explanation: str
    ok: bool  # the layer accepted the input


def _run_linear(n_in: int, n_out: int, shape: tuple[int, ...], bias: bool = True) -> tuple | str:
    """The output shape of a real ``nn.Linear`` on zeros of ``shape``, or PyTorch's error text."""
    # skip_init: no random draw, so exploring shapes never moves the global RNG
    layer = nn.utils.skip_init(nn.Linear, n_in, n_out, bias=bias)
    with torch.no_grad():
        try:
            return tuple(layer(torch.zeros(shape)).shape)
        except RuntimeError as exc:
            return str(exc)


def explore_linear_shapes(
    batch: int, extra_dims: int, in_features: int, out_features: int, *, mismatch: bool = False
) -> LinearShapes:
    """Run a real ``nn.Linear(in_features, out_features)`` on a zero tensor and report shapes.

    The input has shape ``(batch, *EXTRA_SIZES[:extra_dims], in_features)``, or one feature
    more when ``mismatch`` is set, so the layer raises its real ``RuntimeError``. Used in §6.

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
    result = _run_linear(in_features, out_features, shape)
    output_shape, error = (result, None) if isinstance(result, tuple) else (None, result)
    leading, rows = shape[:-1], math.prod(shape[:-1])
    sizes = {"rows": rows, "got": shape[-1], "d_in": in_features, "d_out": out_features}
    if error is None:
        why = tr(
            "{shape} → {out}: the leading dims {leading} are kept ({rows} rows), {d_in} → {d_out}",
            **sizes,
            shape=shape,
            out=output_shape,
            leading=leading,
        )
    else:
        why = tr(
            "mat1 = x as ({rows}, {got}), mat2 = Wᵀ ({d_in}, {d_out}): {got} ≠ in_features {d_in}",
            **sizes,
        )
    weight = (out_features, in_features)
    return LinearShapes(shape, weight, output_shape, rows, error, why, ok=error is None)


# --- plot (§6) ---------------------------------------------------------------------------------

MATCH_COLOR, CLASH_COLOR = "tab:green", "tab:red"
ROWS_COLOR, OUT_COLOR = "tab:orange", "tab:blue"


def linear_shape_diagram(ax: Axes, shapes: LinearShapes) -> dict[str, object]:
    """Draw ``x Wᵀ + b = y`` as blocks sized by their dimensions. Used in §6.

    Inner sizes that must agree: green (match) or red (clash); rows orange, out_features blue.

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
    largest = max(rows, got, n_in, n_out, 1)
    inner = MATCH_COLOR if got == n_in else CLASH_COLOR
    out_edge, rows_edge = ("top", OUT_COLOR, n_out), ("left", ROWS_COLOR, rows)
    y_block = ("y", rows, n_out, f"y viewed as ({rows}, {n_out})", [out_edge, rows_edge])
    blocks = [  # name, height, width, label, coloured edges (side, colour, size): what must agree
        ("x", rows, got, f"x viewed as ({rows}, {got})", [("top", inner, got), rows_edge]),
        ("W.T", n_in, n_out, f"Wᵀ: ({n_in}, {n_out})", [("left", inner, n_in), out_edge]),
        ("b", 1, n_out, f"b: ({n_out},)", [out_edge]),
        y_block if shapes.ok else ("y", rows, n_out, "y: never computed", []),
    ]
    artists: dict[str, object] = {"inner": []}
    left = 0.0
    for name, height_n, width_n, label, edges in blocks:
        if name != "x":
            symbol = {"W.T": "@", "b": "+", "y": "="}[name]
            ax.text(left + 0.1, -1.0, symbol, fontsize=16, ha="center", va="center")
            left += 0.6
        # block sides grow with the size and never vanish (a size 0 is drawn thin)
        height, width = (0.25 + 2.0 * math.sqrt(n / largest) for n in (height_n, width_n))
        if edges:
            box = Rectangle((left, -height), width, height, facecolor="0.92", edgecolor="0.3")
            artists[name] = ax.add_patch(box)
        else:  # the output PyTorch never computed
            centre, style = (left + width / 2, -height / 2), {"ha": "center", "va": "center"}
            artists[name] = ax.text(*centre, "RuntimeError", color=CLASH_COLOR, **style)
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
    title = f"x {shapes.input_shape} → {shapes.output_shape if shapes.ok else 'error'}"
    color = "black" if shapes.ok else CLASH_COLOR
    ax.set_title(f"{title}     inner sizes: {verdict}", color=color, fontsize=10)
    ax.set(xlim=(-0.3, left), ylim=(-2.9, 0.5), aspect="equal")
    ax.axis("off")
    return artists


# --- slider demo (§6) --------------------------------------------------------------------------


def draw_shape_explorer(
    fig: Figure, batch: int, extra_dims: int, in_features: int, out_features: int, mismatch: bool
) -> str:
    """Draw the block diagram for these settings on ``fig``; return the shapes or the error."""
    shapes = explore_linear_shapes(batch, extra_dims, in_features, out_features, mismatch=mismatch)
    fig.set_layout_engine("none")  # a fixed layout: constrained layout would double the cost
    linear_shape_diagram(fig.add_axes((0.01, 0.01, 0.98, 0.88)), shapes)
    why, sizes = shapes.explanation, (shapes.input_shape, shapes.weight_shape, (out_features,))
    head = tr("x {x} · weight {w} · bias {b}", **dict(zip("xwb", sizes, strict=True)))
    if shapes.ok:
        return tr("{head} → y {y}. {why}", head=head, y=shapes.output_shape, why=why)
    return tr("{head} → RuntimeError: {error}. Why: {why}", head=head, error=shapes.error, why=why)


def build_demo() -> SliderDemo:
    """Four sliders and a checkbox driving :func:`draw_shape_explorer`. Used in §6."""
    controls = {
        "batch": int_slider(tr("batch"), 3, 0, 8),
        "extra_dims": int_slider(tr("extra leading dims"), 1, 0, len(EXTRA_SIZES)),
        "in_features": int_slider("in_features", 5, 1, 12),
        "out_features": int_slider("out_features", 3, 1, 12),
        "mismatch": checkbox(tr("mismatched input (+1 feature)"), False),
    }
    return slider_demo(draw_shape_explorer, controls, figsize=(8.0, 3.4))


# --- exercise checks (§8) ----------------------------------------------------------------------

#: Exercise 2.1: key → (in_features, out_features, bias, input shape, the rule the case teaches).
SHAPE_QUIZ: dict[str, tuple[int, int, bool, tuple[int, ...], str]] = {
    "a": (5, 3, False, (2, 7, 4, 5), "bias=False removes b, not an axis: shapes are as with b."),
    "b": (6, 4, True, (0, 3, 6), "an empty batch is fine: every leading axis is kept, the 0 too."),
    "c": (8, 1, True, (8,), "a 1-D input gives a 1-D output (out_features,): mind the comma."),
    "d": (
        12,
        2,
        True,
        (2, 3, 4),
        "nn.Linear never flattens: only the last axis meets in_features.",
    ),
    "e": (3, 3, True, (3, 5), "nn.Linear never transposes: the last axis must be in_features."),
    "f": (1, 4, True, (6, 1), "a last axis of size 1 matches in_features = 1."),
    "g": (10, 2, True, (1, 1, 10), "axes of size 1 are leading axes like any other: all kept."),
}


def check_predicted_shapes(predicted: object) -> None:
    """Check a dict of predicted output shapes (or ``"error"``) for every :data:`SHAPE_QUIZ` key.

    >>> check_predicted_shapes({"a": (2, 7, 4, 3), "b": (0, 3, 4), "c": (1,), "d": "error",
    ...                         "e": "error", "f": (6, 4), "g": (1, 1, 2)})
    ✓ all 7 right: only the last axis meets in_features, every other axis is kept
    """
    if (answer := attempt("predicted", predicted)) is NOT_ATTEMPTED:
        return
    kind = type(answer).__name__
    hint = tr("predicted must be a dict like {{'a': (2, 7, 4, 3), ...}}; got {got}", got=kind)
    expect(isinstance(answer, dict), hint)
    missing = sorted(set(SHAPE_QUIZ) - set(answer))
    expect(not missing, tr("predicted is missing the keys {keys}", keys=missing))
    for key, (n_in, n_out, bias, shape, _rule) in SHAPE_QUIZ.items():
        result = _run_linear(n_in, n_out, shape, bias=bias)  # what the real layer does
        truth = result if isinstance(result, tuple) else "error"
        got = tuple(answer[key]) if isinstance(answer[key], list | torch.Size) else answer[key]
        got = got.strip().lower() if isinstance(got, str) else got
        layer = f"nn.Linear({n_in}, {n_out}{'' if bias else ', bias=False'})"
        if got != truth:
            values = {"key": key, "layer": layer, "shape": shape, "got": got}
            rule = tr(SHAPE_QUIZ[key][-1])
            hint = tr(
                "({key}) {layer} on an input of shape {shape}: {got!r} is wrong; {rule}",
                **values,
                rule=rule,
            )
            expect(False, hint)
    passed(tr("all 7 right: only the last axis meets in_features, every other axis is kept"))


#: Exercise 2.2: the right counts (tests rebuild the models), and typical wrong ones with hints.
COUNT_TRUTH = {"n_head": 784 * 10 + 10, "n_stack": 784 * 256 + 256 + 256 * 64 + 64 * 10 + 10}
COUNT_TRUTH["n_seq"] = 512 * 2048 + 2048
COUNT_MISTAKES = {
    "n_head": {
        28 * 28 * 10: "n_head counts the weights only; each of the 10 outputs also has a bias.",
        28 * 10 + 10: "n_head uses in_features = 28; a flattened 28×28 image has 28·28 features.",
        28 * 28 * 10 + 28 * 28: "n_head: one bias per output (10), not one per input.",
        28 * 28 + 10: "n_head: the weight is a (10, 784) matrix, 784·10 numbers, not 784 + 10.",
    },
    "n_stack": {
        784 * 256 + 256 * 64 + 64 * 10: "n_stack: the biases are missing (256 + 10 of them).",
        784 * 256 + 256 * 64 + 64 * 10 + 330: "n_stack: the middle layer has bias=False: no b.",
    },
    "n_seq": {512 * 2048: "n_seq: 512·2048 weights, plus one bias per output."},
}


def check_count_linear_parameters(n_head: object, n_stack: object, n_seq: object) -> None:
    """Check three predicted parameter counts; any number form (int, NumPy, 0-d tensor) counts.

    >>> import numpy as np
    >>> check_count_linear_parameters(7850, np.int64(217994), torch.tensor(1050624))
    ✓ all three right: in·out + out per Linear (no + out with bias=False), any input
    """
    answers = {}
    for name, value in (("n_head", n_head), ("n_stack", n_stack), ("n_seq", n_seq)):
        if (answer := attempt(name, value)) is NOT_ATTEMPTED:
            return
        number = as_number(answer, what=name)  # any number form; 7850.0 reads as 7850
        answers[name] = int(number) if number.is_integer() else number
    for name, truth in COUNT_TRUTH.items():
        got = answers[name]
        if got in COUNT_MISTAKES[name]:
            expect(False, tr(COUNT_MISTAKES[name][got]))
        per_position = name == "n_seq" and got > truth and got % truth == 0
        hint = tr(
            "n_seq grows with the batch or the sequence; one W and b serve all 32·50 positions."
        )
        expect(not per_position, hint)
        hint = tr(
            "{name} = {got} is off: add in·out + out per Linear (no + out when bias=False).",
            name=name,
            got=got,
        )
        expect(got == truth, hint)
    passed(tr("all three right: in·out + out per Linear (no + out with bias=False), any input"))


#: Exercise 2.3: (channels, n_classes, batch) for each model the check builds and runs.
CNN_CASES = ((16, 10, 2), (6, 3, 5), (4, 7, 1))
CNN_HINTS = {
    "not flat": "the head got unflattened features, {rows} rows of 5 pixels: use x.flatten(1).",
    "batch flat": "flatten() also flattened the batch axis; flatten(1) (or nn.Flatten()) keeps it.",
    "in_features": "flattening is right; now in_features must be C·H·W = {c}·5·5 = {n} here.",
    "batch": "the head saw {rows} rows for a batch of {batch}: never hard-code the batch size.",
    "view": "a view with a hard-coded size breaks for other batches or channels: use flatten(1).",
    "last axis": "the head acted on the last axis (5 pixels) and gave {shape}; flatten first.",
}


def _cnn_error_hint(error: Exception, batch: int, channels: int) -> str:
    """Name the mistake behind an error raised by a learner's TinyCNN."""
    text = str(error)
    if match := re.search(r"cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)", text):
        rows, cols = int(match[1]), int(match[2])
        if cols == 5 and rows == batch * channels * 5:
            return tr(CNN_HINTS["not flat"], rows=rows)
        if rows == 1 and cols == batch * channels * 25:
            return tr(CNN_HINTS["batch flat"])
        if rows == batch and cols == channels * 25:
            return tr(CNN_HINTS["in_features"], c=channels, n=channels * 25)
        if rows != batch:
            return tr(CNN_HINTS["batch"], rows=rows, batch=batch)
    if "is invalid for input of size" in text:
        return tr(CNN_HINTS["view"])
    return tr("it raised {kind}: {error}", kind=type(error).__name__, error=text)


def check_tiny_cnn(TinyCNN: type) -> None:
    """Check ``TinyCNN(channels, n_classes)`` maps ``(N, 1, 14, 14)`` images to ``(N, n_classes)``.

    ``features`` (conv 5×5, ReLU, max-pool 2) give ``(N, channels, 5, 5)``; ``head`` maps their
    ``channels·5·5`` values. Right and wrong models: ``tests/test_nb02_nn_linear.py``.
    """
    generator = torch.Generator().manual_seed(2)
    for channels, n_classes, batch in CNN_CASES:
        x = torch.randn(batch, 1, 14, 14, generator=generator)
        where = tr("TinyCNN({c}, {k}) on x of shape {x}", c=channels, k=n_classes, x=tuple(x.shape))
        try:
            model = attempt("TinyCNN", TinyCNN, channels, n_classes)
            with torch.no_grad():
                y = model if model is NOT_ATTEMPTED else attempt("TinyCNN.forward", model, x)
        except Exception as error:  # the learner's model failed: say why, in the check's words
            hint = _cnn_error_hint(error, batch, channels)
            raise AssertionError(tr("{where}: {hint}", where=where, hint=hint)) from None
        if y is NOT_ATTEMPTED:
            return
        head, features = getattr(model, "head", None), getattr(model, "features", None)
        parts = isinstance(features, nn.Module) and isinstance(head, nn.Linear)
        expect(parts, tr("{where}: keep the two parts, self.features and self.head.", where=where))
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else ()
        key = "last axis" if len(shape) == 4 else "batch flat" if shape == (n_classes,) else ""
        hint = tr(CNN_HINTS[key], shape=shape) if key else ""
        expect(not key, tr("{where}: {hint}", where=where, hint=hint))
        with torch.no_grad():
            expected = model.head(model.features(x).flatten(1))
        expect_tensor(y, expected, what=where, hint=tr("One row of scores per image."))
    passed(tr("TinyCNN flattens C·5·5 features per image for every batch size and channel count"))
