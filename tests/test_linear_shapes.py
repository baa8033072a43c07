"""utils.linear_shapes reports the shapes a real nn.Linear produces, and its real error text."""

from __future__ import annotations

import itertools

import pytest
import torch

from utils.linear_shapes import (
    EXTRA_SIZES,
    explore_linear_shapes,
    input_shape_for,
    predicted_error,
)


@pytest.mark.parametrize(
    ("batch", "extra_dims", "n_in", "n_out"),
    list(itertools.product([0, 1, 5], range(len(EXTRA_SIZES) + 1), [1, 7], [1, 4])),
)
def test_every_setting_keeps_leading_dims_or_raises_the_predicted_error(
    batch, extra_dims, n_in, n_out
):
    ok = explore_linear_shapes(batch, extra_dims, n_in, n_out)
    assert ok.ok and ok.error is None
    assert ok.input_shape == (batch, *EXTRA_SIZES[:extra_dims], n_in)
    assert ok.output_shape == (*ok.input_shape[:-1], n_out)
    assert ok.weight_shape == (n_out, n_in) and ok.bias_shape == (n_out,)
    assert ok.rows == torch.Size(ok.input_shape[:-1]).numel()
    assert "kept" in ok.explanation

    bad = explore_linear_shapes(batch, extra_dims, n_in, n_out, mismatch=True)
    assert not bad.ok and bad.output_shape is None
    assert bad.input_shape[-1] == n_in + 1
    assert bad.error == predicted_error(bad.rows, n_in + 1, n_in, n_out)
    assert f"in_features is {n_in}" in bad.explanation


def test_error_is_the_one_a_learner_sees():
    layer = torch.nn.Linear(10, 2)
    with pytest.raises(RuntimeError) as raised:
        layer(torch.randn(3, 7))
    assert str(raised.value) == predicted_error(3, 7, 10, 2)


def test_no_bias_and_global_rng_untouched():
    state = torch.random.get_rng_state()
    shapes = explore_linear_shapes(2, 1, 3, 4, bias=False)
    assert shapes.bias_shape is None and shapes.output_shape == (2, 4, 4)
    assert torch.equal(state, torch.random.get_rng_state())


def test_input_shape_for():
    assert input_shape_for(2, 3, 5) == (2, 4, 3, 2, 5)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"batch": -1}, ValueError, "batch must be at least 0; got -1"),
        ({"extra_dims": 4}, ValueError, "at most 3"),
        ({"in_features": 0}, ValueError, "in_features must be at least 1"),
        ({"out_features": 2.5}, TypeError, "out_features must be an int; got float"),
        ({"batch": True}, TypeError, "batch must be an int; got bool"),
        ({"bias": 1}, TypeError, "bias must be a bool"),
    ],
)
def test_bad_input_says_what_was_expected(kwargs, error, message):
    args = {"batch": 2, "extra_dims": 0, "in_features": 3, "out_features": 2} | kwargs
    with pytest.raises(error, match=message):
        explore_linear_shapes(**args)
