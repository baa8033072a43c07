"""Input checks shared by every helper: say what arrived and what was expected.

The messages are English templates passed through :func:`utils.tr`, like every hint.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from matplotlib.axes import Axes

from utils import tr


def as_tensor(value: object, *, name: str) -> torch.Tensor:
    """Return ``value`` as a floating-point tensor, or raise a ``TypeError`` naming it.

    Lists and NumPy arrays are accepted, so learners can pass what they have at hand.
    Integer tensors are promoted to float32; float64 stays float64.
    """
    if isinstance(value, torch.Tensor):
        tensor = value
    else:
        try:
            tensor = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(
                tr(
                    "{name} must be a tensor (or a list/array of numbers); got {kind}",
                    name=name,
                    kind=type(value).__name__,
                )
            ) from exc
    if tensor.dtype == torch.bool or tensor.is_complex():
        message = tr(
            "{name} must hold real numbers; got dtype {dtype}", name=name, dtype=tensor.dtype
        )
        raise TypeError(message)
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.float32)
    return tensor.detach()


def require_shape(
    tensor: torch.Tensor, expected: Sequence[int | None], *, name: str, meaning: str
) -> None:
    """Raise ``ValueError`` unless ``tensor.shape`` matches ``expected`` (``None`` = any size).

    ``meaning`` spells the axes out, e.g. ``"(out_features, in_features)"``.
    """
    shape = tuple(tensor.shape)
    ok = len(shape) == len(expected) and all(
        want is None or got == want for got, want in zip(shape, expected, strict=True)
    )
    if not ok:
        sizes = ["any" if e is None else str(e) for e in expected]
        pretty = f"({sizes[0]},)" if len(sizes) == 1 else "(" + ", ".join(sizes) + ")"
        raise ValueError(
            tr(
                "{name} must have shape {meaning} = {pretty}; got shape {shape}",
                name=name,
                meaning=meaning,
                pretty=pretty,
                shape=shape,
            )
        )


def require_int(value: object, *, name: str, low: int = 1, high: int | None = None) -> int:
    """Return ``value`` if it is an ``int`` in ``[low, high]`` (``bool`` is not), else raise.

    >>> require_int(3, name="batch", low=0)
    3
    >>> require_int(4, name="extra_dims", low=0, high=3)
    Traceback (most recent call last):
    ...
    ValueError: extra_dims must be at least 0, at most 3; got 4
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            tr("{name} must be an int; got {kind}", name=name, kind=type(value).__name__)
        )
    values = {"name": name, "low": low, "high": high, "value": value}
    if high is not None and not low <= value <= high:
        raise ValueError(tr("{name} must be at least {low}, at most {high}; got {value}", **values))
    if value < low:
        raise ValueError(tr("{name} must be at least {low}; got {value}", **values))
    return value


def require_real(
    value: object, *, name: str, low: float | None = None, high: float | None = None
) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number in ``[low, high]``.

    >>> require_real(0.1, name="momentum", low=0.0, high=1.0)
    0.1
    >>> require_real(-1, name="gain", low=0.0)
    Traceback (most recent call last):
    ...
    ValueError: gain must be a finite number ≥ 0; got -1
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            tr("{name} must be a number; got {kind}", name=name, kind=type(value).__name__)
        )
    in_range = (low is None or value >= low) and (high is None or value <= high)
    if not (math.isfinite(value) and in_range):
        values = {"name": name, "low": low, "high": high, "value": value}
        if low is not None and high is not None:
            message = tr("{name} must be in [{low:g}, {high:g}]; got {value}", **values)
        elif low is not None:
            message = tr("{name} must be a finite number ≥ {low:g}; got {value}", **values)
        elif high is not None:
            message = tr("{name} must be a finite number ≤ {high:g}; got {value}", **values)
        else:
            message = tr("{name} must be a finite number; got {value}", **values)
        raise ValueError(message)
    return float(value)


def require_axes(ax: object) -> Axes:
    """Return ``ax`` if it is a matplotlib ``Axes``, else raise a ``TypeError`` naming what came."""
    if not isinstance(ax, Axes):
        raise TypeError(
            tr(
                "ax must be a matplotlib Axes (e.g. from plt.subplots()); got {kind}",
                kind=type(ax).__name__,
            )
        )
    return ax
