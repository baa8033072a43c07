"""The shape explorer shows PyTorch's real error in its readout, never as a widget failure."""

from __future__ import annotations

import html

from matplotlib.figure import Figure

from utils.demos.shape_explorer import build_demo, draw_shape_explorer


def test_mismatch_is_normal_output_with_the_real_error():
    demo = build_demo()
    demo.controls["mismatch"].value = True
    assert demo.last_error is None
    text = html.unescape(demo.readout.value)
    assert "RuntimeError: mat1 and mat2 shapes cannot be multiplied (12x6 and 5x3)" in text
    assert "in_features is 5" in text
    demo.controls["mismatch"].value = False
    assert "→ y (3, 4, 3)" in html.unescape(demo.readout.value)


def test_empty_batch_draws():
    fig = Figure()
    text = draw_shape_explorer(fig, 0, 2, 4, 2, False)
    assert "→ y (0, 4, 3, 2)" in text and len(fig.axes) == 1
