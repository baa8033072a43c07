"""Notebook 01 demo: drag the four entries of a 2×2 ``A`` and the two of ``b``; watch the plane."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

from utils.affine import affine_map, signed_area, unit_square
from utils.plots import affine_grid
from utils.widgets import SliderDemo, float_slider, slider_demo

ENTRY_RANGE = (-2.0, 2.0)
SHIFT_RANGE = (-1.5, 1.5)
#: Fixed view so the axes do not jump while a slider moves.
VIEW = 4.0
TICKS = (-4, -2, 0, 2, 4)


def describe_affine(A: torch.Tensor, b: torch.Tensor) -> str:
    """One line on what ``x ↦ A x + b`` does to the unit square.

    >>> describe_affine(torch.tensor([[0.0, -1.0], [1.0, 0.0]]), torch.zeros(2))
    'det A = +1.00: the unit square keeps area 1.00, orientation kept; origin moves to (0.00, 0.00)'
    >>> describe_affine(torch.tensor([[1.0, 2.0], [0.5, 1.0]]), torch.ones(2))[:52]
    'det A = +0.00: the plane collapses onto a line (A is'
    """
    det = float(torch.linalg.det(A))
    area = signed_area(affine_map(unit_square(), A, b))
    origin = f"origin moves to ({float(b[0]):.2f}, {float(b[1]):.2f})"
    if abs(det) < 1e-6:
        return f"det A = +0.00: the plane collapses onto a line (A is singular); {origin}"
    orientation = "orientation kept" if det > 0 else "orientation flipped (mirror image)"
    return (
        f"det A = {det:+.2f}: the unit square keeps area {abs(area):.2f}, {orientation}; {origin}"
    )


def draw_affine_grid(
    fig: Figure, a11: float, a12: float, a21: float, a22: float, b1: float, b2: float
) -> str:
    """Draw the plane before and after ``x ↦ A x + b`` on ``fig``; return the readout."""
    A = torch.tensor([[a11, a12], [a21, a22]], dtype=torch.float32)
    b = torch.tensor([b1, b2], dtype=torch.float32)
    ax = fig.add_subplot()
    affine_grid(ax, A, b, view=VIEW)
    ax.set_xticks(TICKS)
    ax.set_yticks(TICKS)
    ax.set_title(f"A = [[{a11:.1f}, {a12:.1f}], [{a21:.1f}, {a22:.1f}]],  b = ({b1:.1f}, {b2:.1f})")
    return describe_affine(A, b)


def build_demo(
    A: tuple[tuple[float, float], tuple[float, float]] = ((1.0, 0.5), (0.0, 1.0)),
    b: tuple[float, float] = (0.5, 0.0),
) -> SliderDemo:
    """Six sliders (``a11 … a22``, ``b1``, ``b2``) driving :func:`draw_affine_grid`."""
    (a11, a12), (a21, a22) = A
    entries = {
        name: float_slider(name, value, *ENTRY_RANGE)
        for name, value in (("a11", a11), ("a12", a12), ("a21", a21), ("a22", a22))
    }
    shifts = {
        name: float_slider(name, value, *SHIFT_RANGE)
        for name, value in (("b1", b[0]), ("b2", b[1]))
    }
    return slider_demo(draw_affine_grid, {**entries, **shifts}, figsize=(5.5, 5.5))
