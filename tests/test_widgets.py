"""utils.widgets: one owned figure, redrawn in place, errors shown instead of raised."""

from __future__ import annotations

import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import PIL.Image
import pytest
from matplotlib.figure import Figure

from utils.widgets import (
    CONTROL_STYLE,
    CONTROL_WIDTH,
    blit_png,
    checkbox,
    choice_slider,
    dropdown,
    figure_png,
    float_slider,
    int_slider,
    slider_demo,
)


def draw_line(fig, slope: float) -> str:
    if slope == 0:
        raise ValueError("slope 0 is not allowed here")
    fig.add_subplot().plot([0, 1], [0, slope])
    return f"slope {slope}"


def test_each_move_redraws_the_same_figure():
    demo = slider_demo(draw_line, {"slope": float_slider("slope", 1.0, -2.0, 2.0)})
    figure, first_image = demo.figure, bytes(demo.image.value)
    demo.controls["slope"].value = 2.0
    assert demo.figure is figure
    assert len(figure.axes) == 1  # cleared before each draw, never stacked
    assert bytes(demo.image.value) != first_image
    assert demo.readout.value == "<code>slope 2.0</code>"
    assert demo.values() == {"slope": 2.0}


def test_value_error_is_shown_not_raised():
    demo = slider_demo(draw_line, {"slope": float_slider("slope", 1.0, -2.0, 2.0)})
    demo.controls["slope"].value = 0.0
    assert demo.last_error == "slope 0 is not allowed here"
    assert "⚠ slope 0 is not allowed here" in demo.readout.value
    demo.controls["slope"].value = 1.0
    assert demo.last_error is None


def test_image_is_shown_at_its_pixel_size():
    demo = slider_demo(
        draw_line, {"slope": float_slider("slope", 1.0, -2.0, 2.0)}, figsize=(5.0, 3.0), dpi=80
    )
    assert demo.image.layout.width == "400px"  # 5 in × 80 dpi, not stretched to the cell
    assert demo.image.layout.max_width == "100%"


def test_no_pyplot_figures_are_created():
    before = plt.get_fignums()
    demo = slider_demo(draw_line, {"slope": float_slider("slope", 1.0, -2.0, 2.0)})
    for value in (-2.0, -1.0, 0.5, 2.0):
        demo.controls["slope"].value = value
    assert plt.get_fignums() == before


def test_display_delegates_to_the_widget_tree():
    demo = slider_demo(draw_line, {"slope": float_slider("slope", 1.0, -2.0, 2.0)})
    bundle = demo._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == demo.widget.model_id


def test_figure_png_and_slider_helpers_reject_bad_input():
    with pytest.raises(TypeError, match="must be a matplotlib Figure; got int"):
        figure_png(3)
    with pytest.raises(TypeError, match="draw must be callable"):
        slider_demo(42, {"slope": float_slider("slope", 1.0, -2.0, 2.0)})
    with pytest.raises(ValueError, match="at least one control"):
        slider_demo(draw_line, {})
    with pytest.raises(TypeError, match="control 'slope' must be an ipywidgets value widget"):
        slider_demo(draw_line, {"slope": widgets.Button()})
    with pytest.raises(ValueError, match=r"value 5.0 must lie in \[-1.0, 1.0\]"):
        float_slider("x", 5.0, -1.0, 1.0)
    with pytest.raises(ValueError, match=r"value 0 must lie in \[1, 3\]"):
        int_slider("n", 0, 1, 3)


def draw_panels(fig, panels: int) -> str:
    for ax in fig.subplots(1, panels, squeeze=False)[0]:
        ax.plot([0, 1], [0, panels])
        ax.set_title(f"{panels} panels")
    return f"{panels} panels"


def test_layout_is_reused_while_axes_stay_and_redone_when_they_change():
    demo = slider_demo(draw_panels, {"panels": int_slider("panels", 2, 1, 4)})
    first = [ax.get_position().bounds for ax in demo.figure.axes]
    demo.controls["panels"].value = 3
    assert len(demo.figure.axes) == 3
    lefts = [ax.get_position().x0 for ax in demo.figure.axes]
    assert lefts == sorted(lefts) and len(set(lefts)) == 3  # laid out side by side, not stacked
    demo.controls["panels"].value = 2
    assert [ax.get_position().bounds for ax in demo.figure.axes] == first


def test_controls_share_one_label_column():
    controls = [
        float_slider("x", 0.0, -1.0, 1.0),
        int_slider("n", 1, 1, 3),
        choice_slider("lr", (0.1, 1.0), 0.1),
        dropdown("optimiser", ["SGD", "Adam"], "SGD"),
        checkbox("a rather long label that must not be cut", True),
    ]
    assert {c.style.description_width for c in controls} == {CONTROL_STYLE["description_width"]}
    assert {c.layout.width for c in controls} == {CONTROL_WIDTH}


def test_choice_controls_reject_values_outside_their_options():
    with pytest.raises(ValueError, match=r"lr must be one of \(0.1, 1.0\); got 0.5"):
        choice_slider("lr", (0.1, 1.0), 0.5)
    with pytest.raises(ValueError, match=r"optimiser must be one of \('SGD',\); got 'Adam'"):
        dropdown("optimiser", ["SGD"], "Adam")


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(PIL.Image.open(io.BytesIO(bytes(png))))


def test_update_hook_changes_the_first_pictures_artists_in_place():
    calls = {"draw": 0, "update": 0}

    def draw(fig, slope: float) -> str:
        calls["draw"] += 1
        fig.add_subplot().plot([0, 1], [0, slope])
        return f"drawn {slope}"

    def update(fig, slope: float) -> tuple[str, bytes]:
        calls["update"] += 1
        if slope == 0:
            raise ValueError("slope 0 is not allowed here")
        (line,) = fig.axes[0].get_lines()
        line.set_ydata([0, slope])
        return f"updated {slope}", blit_png(fig, [[line]])

    demo = slider_demo(draw, {"slope": float_slider("slope", 1.0, -2.0, 2.0)}, update=update)
    axes, position = demo.figure.axes[0], demo.figure.axes[0].get_position().bounds
    assert calls == {"draw": 1, "update": 0} and demo.readout.value == "<code>drawn 1.0</code>"
    assert demo.figure.get_layout_engine() is None  # the first picture's layout is kept
    image = bytes(demo.image.value)
    demo.controls["slope"].value = -2.0
    assert calls == {"draw": 1, "update": 1} and demo.readout.value == "<code>updated -2.0</code>"
    assert demo.figure.axes == [axes] and axes.get_position().bounds == position
    assert bytes(demo.image.value) != image
    image = bytes(demo.image.value)
    demo.controls["slope"].value = 0.0  # a failing update: said in the readout, picture kept
    assert demo.last_error == "slope 0 is not allowed here" and "⚠" in demo.readout.value
    assert bytes(demo.image.value) == image
    demo.controls["slope"].value = 1.5
    assert demo.last_error is None and calls == {"draw": 1, "update": 3}
    demo.redraw()
    assert calls == {"draw": 1, "update": 4}


def test_blit_png_reuses_kept_stages_with_the_pixels_of_a_full_draw():
    fig = Figure(figsize=(3, 2), dpi=50)
    ax = fig.add_subplot()
    (slow,) = ax.plot([0, 1], [0, 1], lw=3)  # layer 1: changes now and then
    (fast,) = ax.plot([0, 1], [1, 0.5], "o")  # layer 2: changes on every frame
    ax.set(xlim=(0, 1), ylim=(0, 1))
    blit_png(fig, [[slow], [fast]], redo=0)
    assert slow.get_animated() and fast.get_animated()
    for redo, (slow_y, fast_y) in ((2, (0, 1)), (2, (0.2, 0.3)), (1, (0.5, 0.3)), (2, (0.9, 0.1))):
        if redo == 1:
            slow.set_ydata([slow_y, 1 - slow_y])
        fast.set_ydata([fast_y, 1 - fast_y])
        kept = pixels(blit_png(fig, [[slow], [fast]], redo=redo))
        np.testing.assert_array_equal(kept, pixels(blit_png(fig, [[slow], [fast]], redo=0)))


def test_blit_png_drops_the_alpha_channel_only_of_an_opaque_figure():
    for facecolor, mode in (("white", "RGB"), ("none", "RGBA")):
        fig = Figure(figsize=(2, 1), dpi=50, facecolor=facecolor)
        (line,) = fig.add_subplot().plot([0, 1], [0, 1])
        assert PIL.Image.open(io.BytesIO(blit_png(fig, [[line]], redo=0))).mode == mode
