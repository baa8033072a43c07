"""Self-checks of notebook 02: pass right answers, nudge on untouched stubs, reject wrong ones."""

from __future__ import annotations

from itertools import pairwise

import pytest

from utils.checks import NOT_ATTEMPTED_MARK, PASS_MARK
from utils.checks.nn_linear import (
    SHAPE_QUIZ,
    check_count_linear_parameters,
    check_predicted_shapes,
    true_output_shape,
)

RIGHT = {key: true_output_shape(*case) for key, case in SHAPE_QUIZ.items()}


def count(sizes, bias=True):
    return sum(i * o + (o if bias else 0) for i, o in pairwise(sizes))


def test_quiz_truth_is_what_the_notebook_teaches():
    assert RIGHT == {
        "a": (3, 2),
        "b": (2,),
        "c": (2, 5, 4),
        "d": "error",
        "e": (16, 1, 28, 10),
        "f": (0, 3),
        "g": "error",
    }


def test_right_answers_pass(capsys):
    check_predicted_shapes({k: list(v) if isinstance(v, tuple) else v for k, v in RIGHT.items()})
    check_count_linear_parameters(count)
    assert capsys.readouterr().out.count(PASS_MARK) == 2


def test_stubs_are_not_attempted(capsys):
    check_predicted_shapes(...)

    def stub(sizes, bias=True):
        raise NotImplementedError

    check_count_linear_parameters(stub)
    assert capsys.readouterr().out.count(NOT_ATTEMPTED_MARK) == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"d": (16, 1, 28, 10)}, r"\(d\).*expected error.*the layer raises"),
        ({"e": "error"}, r"\(e\).*expected \(16, 1, 28, 10\).*leading dim"),
        ({"b": (1, 2)}, r"\(b\).*expected \(2,\)"),
    ],
)
def test_wrong_predictions_get_a_hint(change, message):
    with pytest.raises(AssertionError, match=message):
        check_predicted_shapes(RIGHT | change)


def test_incomplete_or_wrong_type_predictions():
    with pytest.raises(AssertionError, match=r"missing the keys \['g'\]"):
        check_predicted_shapes({k: v for k, v in RIGHT.items() if k != "g"})
    with pytest.raises(AssertionError, match="must be a dict"):
        check_predicted_shapes([(3, 2)])


def test_wrong_counts_get_a_hint():
    with pytest.raises(AssertionError, match="counted only the weights"):
        check_count_linear_parameters(lambda sizes, bias=True: count(sizes, bias=False))
    with pytest.raises(
        AssertionError,
        match="bias=False: expected 20, got 22; you counted the biases",
    ):
        check_count_linear_parameters(lambda sizes, bias=True: count(sizes))  # ignores bias
    with pytest.raises(AssertionError, match="return an int"):
        check_count_linear_parameters(lambda sizes, bias=True: float(count(sizes, bias)))
