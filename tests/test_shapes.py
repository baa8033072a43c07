"""utils.shapes explains shapes in words and refuses mismatched names."""

from __future__ import annotations

import pytest
import torch

from utils.shapes import describe_shape, describe_shapes


def test_names_and_count():
    text = describe_shape(torch.zeros(3, 10), names=("batch", "in_features"))
    assert text == "(3, 10): 2-D, 3 batch × 10 in_features = 30 numbers"


def test_empty_batch_and_scalar():
    assert describe_shape(torch.zeros(0, 4)).endswith("= 0 numbers")
    assert describe_shape(torch.tensor(2.0)) == "(): 0-D scalar, 1 number"


def test_several_tensors_are_aligned():
    lines = describe_shapes(x=torch.zeros(2), weight=torch.zeros(3, 2)).splitlines()
    assert lines[0].startswith("x:      (2,)")
    assert lines[1].startswith("weight: (3, 2)")


def test_bad_input():
    with pytest.raises(TypeError, match=r"must be a torch\.Tensor; got list"):
        describe_shape([1, 2])
    with pytest.raises(ValueError, match=r"got 1 axis names \('batch',\) for a 2-D tensor"):
        describe_shape(torch.zeros(2, 3), names=("batch",))
    with pytest.raises(ValueError, match="at least one tensor"):
        describe_shapes()
