"""utils.widgets: one owned figure, redrawn in place, errors shown instead of raised."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest

from utils.widgets import (
    CONTROL_STYLE,
    CONTROL_WIDTH,
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
