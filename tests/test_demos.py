"""Every slider demo survives its whole slider range, redraws in place and never leaks figures."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest

from scripts.series import all_demos

DEMOS = all_demos()


def sweep_values(control: widgets.ValueWidget, points: int = 7) -> list[object]:
    """Both ends and an even grid of a slider; every option of a choice widget."""
    if isinstance(control, widgets.Checkbox | widgets.ToggleButton):
        return [not control.value, control.value]
    if hasattr(control, "options"):
        return [value for _label, value in _option_pairs(control)]
    low, high = control.min, control.max
    if isinstance(control, widgets.IntSlider):
        step = max(1, (high - low) // (points - 1))
        return sorted({low, high, *range(low, high + 1, step)})
    return [low + (high - low) * k / (points - 1) for k in range(points)]


def _option_pairs(control) -> list[tuple[str, object]]:
    options = control.options
    if isinstance(options, dict):
        return list(options.items())
    return [option if isinstance(option, tuple) else (str(option), option) for option in options]


def test_demos_are_discovered():
    assert "nb01_affine" in DEMOS


@pytest.mark.parametrize("name", DEMOS)
def test_demo_sweeps_every_control(name):
    figures_before = len(plt.get_fignums())
    demo = DEMOS[name]()
    assert demo.last_error is None, demo.last_error
    assert bytes(demo.image.value).startswith(b"\x89PNG")
    defaults = demo.values()
    for key, control in demo.controls.items():
        images = {bytes(demo.image.value)}
        for value in sweep_values(control):
            control.value = value
            assert demo.last_error is None, f"{name}: {key}={value!r} failed: {demo.last_error}"
            assert demo.readout.value, f"{name}: empty readout at {key}={value!r}"
            images.add(bytes(demo.image.value))
        assert len(images) > 1, f"{name}: moving {key} never changed the picture"
        control.value = defaults[key]
    assert len(plt.get_fignums()) == figures_before, f"{name} leaked pyplot figures"
    assert len(demo.figure.axes) >= 1, "the demo draws into its own figure"


@pytest.mark.parametrize("name", DEMOS)
def test_demo_reuses_one_figure(name):
    demo = DEMOS[name]()
    figure = demo.figure
    control = next(iter(demo.controls.values()))
    for value in sweep_values(control, points=3):
        control.value = value
    assert demo.figure is figure
    assert len(demo.widget.children) == len(demo.controls) + 2  # controls, readout, one image
