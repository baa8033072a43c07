"""The init explorer's numbers: vanishing, exploding and the fixes, measured."""

from __future__ import annotations

import html

import pytest
from matplotlib.figure import Figure

from utils.demos.init_explorer import build_demo, draw_init_explorer, stack_signals


def ratio(values):
    return values[-1] / values[0]


def test_default_init_vanishes_in_a_relu_stack_and_kaiming_fixes_it():
    default = stack_signals("default", "relu", 20, 128, 1.0)
    kaiming = stack_signals("kaiming_normal_relu", "relu", 20, 128, 1.0)
    assert ratio(default.activation_std) < 0.2  # down to the bias' own spread
    assert 0.4 < ratio(kaiming.activation_std) < 2.5
    assert default.gradient_norm[0] < 1e-6  # the gradient reaching layer 1
    assert 0.3 < kaiming.gradient_norm[0] < 3


def test_gain_above_one_explodes():
    stats = stack_signals("kaiming_normal_relu", "relu", 20, 128, 2.0)
    assert ratio(stats.activation_std) > 1e4


@pytest.mark.parametrize("scheme", ["zeros", "normal"])
def test_extreme_schemes_draw_without_warnings(scheme):
    fig = Figure()
    text = draw_init_explorer(fig, scheme, "none", 20, 256, 2.0)
    assert text.startswith(f"{scheme}, none, 20×256")
    assert ("dead" in text) == (scheme == "zeros")


def test_readout_names_the_ratio():
    demo = build_demo()
    assert "ratio" in html.unescape(demo.readout.value) and demo.last_error is None
