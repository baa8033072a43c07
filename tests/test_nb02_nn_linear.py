"""utils.nb02_nn_linear: real nn.Linear shapes and errors, shape diagram, demo, checks."""

from __future__ import annotations

import html
import itertools
from itertools import pairwise
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from scripts.series import definitions_from_notebook
from utils import nb02_nn_linear as nb
from utils.check import NOT_ATTEMPTED_MARK, PASS_MARK

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "02_nn_linear.ipynb"


# --- compute -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("batch", "extra_dims", "n_in", "n_out"),
    list(itertools.product([0, 1, 5], range(len(nb.EXTRA_SIZES) + 1), [1, 7], [1, 4])),
)
def test_every_setting_keeps_leading_dims_or_raises_the_predicted_error(
    batch, extra_dims, n_in, n_out
):
    ok = nb.explore_linear_shapes(batch, extra_dims, n_in, n_out)
    assert ok.ok and ok.error is None
    assert ok.input_shape == (batch, *nb.EXTRA_SIZES[:extra_dims], n_in)
    assert ok.output_shape == (*ok.input_shape[:-1], n_out)
    assert ok.weight_shape == (n_out, n_in) and ok.bias_shape == (n_out,)
    assert ok.rows == torch.Size(ok.input_shape[:-1]).numel()
    assert "kept" in ok.explanation

    bad = nb.explore_linear_shapes(batch, extra_dims, n_in, n_out, mismatch=True)
    assert not bad.ok and bad.output_shape is None
    assert bad.input_shape[-1] == n_in + 1
    assert bad.error == nb.predicted_error(bad.rows, n_in + 1, n_in, n_out)
    assert f"in_features is {n_in}" in bad.explanation


def test_error_is_the_one_a_learner_sees():
    layer = torch.nn.Linear(10, 2)
    with pytest.raises(RuntimeError) as raised:
        layer(torch.randn(3, 7))
    assert str(raised.value) == nb.predicted_error(3, 7, 10, 2)


def test_all_extra_dims_and_no_bias_leave_the_global_rng_alone():
    state = torch.random.get_rng_state()
    assert nb.explore_linear_shapes(2, 3, 5, 1).input_shape == (2, 4, 3, 2, 5)
    shapes = nb.explore_linear_shapes(2, 1, 3, 4, bias=False)
    assert shapes.bias_shape is None and shapes.output_shape == (2, 4, 4)
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"batch": -1}, ValueError, "batch must be at least 0; got -1"),
        ({"extra_dims": 4}, ValueError, "extra_dims must be at least 0, at most 3; got 4"),
        ({"extra_dims": -1}, ValueError, "extra_dims must be at least 0, at most 3; got -1"),
        ({"in_features": 0}, ValueError, "in_features must be at least 1"),
        ({"out_features": 2.5}, TypeError, "out_features must be an int; got float"),
        ({"batch": True}, TypeError, "batch must be an int; got bool"),
        ({"extra_dims": "1"}, TypeError, "extra_dims must be an int; got str"),
    ],
)
def test_bad_input_says_what_was_expected(kwargs, error, message):
    args = {"batch": 2, "extra_dims": 0, "in_features": 3, "out_features": 2} | kwargs
    with pytest.raises(error, match=message):
        nb.explore_linear_shapes(**args)


# --- plot --------------------------------------------------------------------------------------


def test_shape_diagram_colours_the_inner_sizes():
    ax = Figure().add_subplot()
    artists = nb.linear_shape_diagram(ax, nb.explore_linear_shapes(2, 1, 5, 3))
    assert {line.get_color() for line in artists["inner"]} == {nb.MATCH_COLOR}
    assert len(artists["inner"]) == 2  # x's last dim and Wᵀ's rows
    assert "(2, 4, 5)" in ax.get_title() and "5 = 5" in ax.get_title()
    assert "y viewed as (8, 3)" in [text.get_text() for text in ax.texts]
    edge_colors = [line.get_color() for line in ax.lines]  # out: Wᵀ, b, y; rows: x, y
    assert sorted(edge_colors) == sorted(
        [nb.MATCH_COLOR] * 2 + [nb.OUT_COLOR] * 3 + [nb.ROWS_COLOR] * 2
    )
    assert isinstance(artists["y"], Rectangle)
    bad = Figure().add_subplot()
    artists = nb.linear_shape_diagram(bad, nb.explore_linear_shapes(2, 1, 5, 3, mismatch=True))
    assert {line.get_color() for line in artists["inner"]} == {nb.CLASH_COLOR}
    assert artists["y"].get_text() == "RuntimeError"
    assert "6 ≠ 5" in bad.get_title() and "error" in bad.get_title()
    assert len(bad.lines) == 5  # y, never computed, has no coloured edges
    no_bias = Figure().add_subplot()
    assert "b" not in nb.linear_shape_diagram(
        no_bias, nb.explore_linear_shapes(0, 0, 1, 1, bias=False)
    )


def test_shape_diagram_bad_input_and_no_pyplot_figures():
    before = plt.get_fignums()
    with pytest.raises(TypeError, match="shapes must be a LinearShapes; got tuple"):
        nb.linear_shape_diagram(Figure().add_subplot(), (3, 4))
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        nb.linear_shape_diagram(None, nb.explore_linear_shapes(1, 0, 1, 1))
    nb.linear_shape_diagram(Figure().add_subplot(), nb.explore_linear_shapes(1, 0, 1, 1))
    assert plt.get_fignums() == before


# --- slider demo -------------------------------------------------------------------------------


def test_mismatch_is_normal_output_with_the_real_error():
    demo = nb.build_demo()
    demo.controls["mismatch"].value = True
    assert demo.last_error is None
    text = html.unescape(demo.readout.value)
    assert "RuntimeError: mat1 and mat2 shapes cannot be multiplied (12x6 and 5x3)" in text
    assert "in_features is 5" in text
    demo.controls["mismatch"].value = False
    assert "→ y (3, 4, 3)" in html.unescape(demo.readout.value)


def test_empty_batch_draws():
    fig = Figure()
    text = nb.draw_shape_explorer(fig, 0, 2, 4, 2, False)
    assert "→ y (0, 4, 3, 2)" in text and len(fig.axes) == 1


# --- exercise checks ---------------------------------------------------------------------------

RIGHT = {  # what the notebook's solution cell answers
    "a": (3, 2),
    "b": (2,),
    "c": (2, 5, 4),
    "d": "error",
    "e": (16, 1, 28, 10),
    "f": (0, 3),
    "g": "error",
}


def count(sizes, bias=True):
    return sum(i * o + (o if bias else 0) for i, o in pairwise(sizes))


def test_quiz_truth_is_what_a_real_layer_does():
    for key, (n_in, n_out, shape) in nb.SHAPE_QUIZ.items():
        layer = torch.nn.Linear(n_in, n_out)
        if RIGHT[key] == "error":
            with pytest.raises(RuntimeError, match="cannot be multiplied"):
                layer(torch.zeros(shape))
        else:
            assert layer(torch.zeros(shape)).shape == RIGHT[key]


def test_right_answers_pass(capsys):
    nb.check_predicted_shapes(RIGHT)
    nb.check_predicted_shapes({k: list(v) if isinstance(v, tuple) else v for k, v in RIGHT.items()})
    nb.check_predicted_shapes({k: torch.Size(v) if v != "error" else v for k, v in RIGHT.items()})
    nb.check_count_linear_parameters(count)
    assert capsys.readouterr().out.count(PASS_MARK) == 4


def test_stubs_are_not_attempted(capsys):
    nb.check_predicted_shapes(...)

    def stub(sizes, bias=True):
        raise NotImplementedError

    nb.check_count_linear_parameters(stub)
    assert capsys.readouterr().out.count(NOT_ATTEMPTED_MARK) == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"d": (16, 1, 28, 10)}, r"\(d\).*expected error.*the layer raises"),
        ({"e": "error"}, r"\(e\).*expected \(16, 1, 28, 10\).*leading dim"),
        ({"b": (1, 2)}, r"\(b\).*expected \(2,\)"),
        ({"g": (6, 3)}, r"\(g\).*the last dim is 4, but in_features is 6"),
    ],
)
def test_wrong_predictions_get_a_hint(change, message):
    with pytest.raises(AssertionError, match=message):
        nb.check_predicted_shapes(RIGHT | change)


def test_incomplete_or_wrong_type_predictions():
    with pytest.raises(AssertionError, match=r"missing the keys \['g'\]"):
        nb.check_predicted_shapes({k: v for k, v in RIGHT.items() if k != "g"})
    with pytest.raises(AssertionError, match="must be a dict"):
        nb.check_predicted_shapes([(3, 2)])


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda sizes, bias=True: count(sizes, bias=False), "counted only the weights"),
        (
            lambda sizes, bias=True: count(sizes),  # ignores bias
            "bias=False: expected 20, got 22; you counted the biases",
        ),
        (lambda sizes, bias=True: float(count(sizes, bias)), "return an int; got float"),
        (lambda sizes, bias=True: count(sizes, bias) + 1, r"expected 109386, got 109387"),
    ],
    ids=["biases forgotten", "bias flag ignored", "float", "off by one"],
)
def test_wrong_counts_get_a_hint(answer, message):
    with pytest.raises(AssertionError, match=message):
        nb.check_count_linear_parameters(answer)


def test_the_notebook_solution_passes_its_check(capsys):
    cells = definitions_from_notebook(NOTEBOOK, "count_linear_parameters", "n_parameters")
    nb.check_count_linear_parameters(cells["count_linear_parameters"])
    assert PASS_MARK in capsys.readouterr().out
    stack = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.Linear(128, 10))
    assert cells["n_parameters"](stack) == cells["count_linear_parameters"]([784, 128, 10])
