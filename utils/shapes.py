"""Say a tensor's shape in words, the way you would explain it to a colleague."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def describe_shape(tensor: torch.Tensor, names: Sequence[str] | None = None) -> str:
    """Explain ``tensor.shape`` in one line, optionally naming each axis.

    >>> describe_shape(torch.zeros(3, 10), names=("batch", "in_features"))
    '(3, 10): 2-D, 3 batch × 10 in_features = 30 numbers'
    >>> describe_shape(torch.tensor(1.5))
    '(): 0-D scalar, 1 number'
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a torch.Tensor; got {type(tensor).__name__}")
    shape = tuple(tensor.shape)
    if names is not None and len(names) != len(shape):
        raise ValueError(
            f"got {len(names)} axis names {tuple(names)} for a {len(shape)}-D tensor "
            f"of shape {shape}; give one name per axis"
        )
    if not shape:
        return "(): 0-D scalar, 1 number"
    labels = names if names is not None else [f"dim{i}" for i in range(len(shape))]
    parts = " × ".join(f"{size} {label}" for size, label in zip(shape, labels, strict=True))
    count = math.prod(shape)
    noun = "number" if count == 1 else "numbers"
    return f"{shape}: {len(shape)}-D, {parts} = {count} {noun}"


def describe_shapes(**tensors: torch.Tensor) -> str:
    """One ``describe_shape`` line per keyword, aligned, for a quick look at several tensors.

    >>> print(describe_shapes(X=torch.zeros(4, 2), b=torch.zeros(3)))
    X: (4, 2): 2-D, 4 dim0 × 2 dim1 = 8 numbers
    b: (3,): 1-D, 3 dim0 = 3 numbers
    """
    if not tensors:
        raise ValueError("describe_shapes needs at least one tensor, e.g. describe_shapes(X=X)")
    width = max(len(name) for name in tensors)
    return "\n".join(
        f"{name + ':':<{width + 1}} {describe_shape(t)}" for name, t in tensors.items()
    )
