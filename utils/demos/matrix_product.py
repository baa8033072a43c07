"""Notebook 07 demo: ``Y = X Wᵀ + b`` as blocks; pick one output and compute it three ways.

Sliders set the batch size, ``in_features`` and ``out_features``, and which output element
``Y[row, col]`` to trace. A row or column past the current size is clamped to the last one
(the readout says so), so every slider position draws a picture.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from utils._validate import require_positive_int
from utils.plots.matmul import matmul_blocks
from utils.widgets import SliderDemo, int_slider, slider_demo

SIZE_RANGE = (1, 8)
INDEX_RANGE = (0, SIZE_RANGE[1] - 1)


class OutputElement(NamedTuple):
    """One output element of a linear layer and the numbers that produce it."""

    X: torch.Tensor
    W: torch.Tensor
    b: torch.Tensor
    row: int
    col: int
    #: ``F.linear(X, W, b)[row, col]``
    functional: float
    #: ``nn.Linear`` holding ``W`` and ``b``, applied to ``X``, at ``[row, col]``
    module: float
    #: ``Σ_k X[row, k] · W[col, k] + b[col]``, one product at a time
    explicit: float
    #: ``True`` when the requested row or column was outside the matrix and got clamped
    clamped: bool


def output_element(
    batch: int, in_features: int, out_features: int, row: int, col: int, *, seed: int = 0
) -> OutputElement:
    """Compute ``Y[row, col]`` of ``Y = X Wᵀ + b`` three ways (random ``X, W, b`` from ``seed``).

    ``row`` is clamped to ``[0, batch − 1]`` and ``col`` to ``[0, out_features − 1]``.

    >>> element = output_element(3, 4, 2, row=9, col=1)
    >>> element.row, element.col, element.clamped
    (2, 1, True)
    >>> abs(element.functional - element.explicit) < 1e-5
    True
    """
    for value, name in ((batch, "batch"), (in_features, "in_features"), (out_features, "out")):
        require_positive_int(value, name=name)
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
        X=X,
        W=W,
        b=b,
        row=r,
        col=c,
        functional=float(F.linear(X, W, b)[r, c]),
        module=via_module,
        explicit=explicit,
        clamped=(r, c) != (row, col),
    )


def draw_matrix_product(
    fig: Figure, batch: int, in_features: int, out_features: int, row: int, col: int
) -> str:
    """Draw the blocks with ``Y[row, col]`` traced back; return the three computations."""
    element = output_element(batch, in_features, out_features, row, col)
    ax = fig.add_subplot()
    matmul_blocks(ax, element.X, element.W, element.b, row=element.row, col=element.col)
    r, c = element.row, element.col
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
    """Five sliders (batch, in, out, row, col) driving :func:`draw_matrix_product`."""
    controls = {
        "batch": int_slider("batch", batch, *SIZE_RANGE),
        "in_features": int_slider("in_features", in_features, *SIZE_RANGE),
        "out_features": int_slider("out_features", out_features, *SIZE_RANGE),
        "row": int_slider("row of Y (sample)", row, *INDEX_RANGE),
        "col": int_slider("column of Y (output feature)", col, *INDEX_RANGE),
    }
    return slider_demo(draw_matrix_product, controls, figsize=(8.0, 3.4))
