"""What shapes go into and come out of ``nn.Linear``, and what PyTorch says when they clash.

:func:`explore_linear_shapes` builds a real layer, feeds it a real tensor and reports the
shapes (or the exact ``RuntimeError`` text) with a one-line explanation. It drives the shape
explorer demo of notebook 02, and it never touches the global random number generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from utils._validate import require_positive_int

#: Sizes given to the extra leading dimensions, in order (think sequence, heads, ...).
EXTRA_SIZES = (4, 3, 2)


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


def _require_count(value: object, *, name: str, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    if value < 0 or (high is not None and value > high):
        upper = "" if high is None else f", at most {high}"
        raise ValueError(f"{name} must be at least 0{upper}; got {value}")
    return value


def input_shape_for(
    batch: int, extra_dims: int, in_features: int, *, mismatch: bool = False
) -> tuple[int, ...]:
    """The input shape ``(batch, *extra, features)``; one feature too many on a mismatch.

    >>> input_shape_for(8, 2, 5)
    (8, 4, 3, 5)
    >>> input_shape_for(8, 0, 5, mismatch=True)
    (8, 6)
    """
    _require_count(batch, name="batch")
    _require_count(extra_dims, name="extra_dims", high=len(EXTRA_SIZES))
    require_positive_int(in_features, name="in_features")
    features = in_features + 1 if mismatch else in_features
    return (batch, *EXTRA_SIZES[:extra_dims], features)


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
    more when ``mismatch`` is set, so the layer raises its real ``RuntimeError``.

    >>> shapes = explore_linear_shapes(2, 1, 5, 3)
    >>> shapes.input_shape, shapes.output_shape
    ((2, 4, 5), (2, 4, 3))
    >>> explore_linear_shapes(2, 1, 5, 3, mismatch=True).error
    'mat1 and mat2 shapes cannot be multiplied (8x6 and 5x3)'
    """
    shape = input_shape_for(batch, extra_dims, in_features, mismatch=mismatch)
    require_positive_int(out_features, name="out_features")
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be a bool; got {type(bias).__name__}")
    # skip_init: no random draw, so exploring shapes never moves the global RNG
    layer = nn.utils.skip_init(nn.Linear, in_features, out_features, bias=bias)
    rows = math.prod(shape[:-1])
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.zero_()
        try:
            output_shape: tuple[int, ...] | None = tuple(layer(torch.zeros(shape)).shape)
            error = None
        except RuntimeError as exc:
            output_shape, error = None, str(exc)
    weight_shape = (out_features, in_features)
    bias_shape = (out_features,) if bias else None
    leading = shape[:-1]
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
        weight_shape=weight_shape,
        bias_shape=bias_shape,
        output_shape=output_shape,
        rows=rows,
        error=error,
        explanation=explanation,
    )
