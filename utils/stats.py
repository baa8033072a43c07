"""Record what every layer outputs, and the gradient that flows back into it, with hooks.

:class:`LayerRecorder` is a context manager: on entry it puts a forward hook on each chosen
module (and, during the forward pass, a tensor hook on each output); on exit it removes every
hook handle, even when the body raised. :func:`signal_statistics` wraps the usual recipe:
one forward pass, one backward pass, per-layer activation std and gradient norms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle


class LayerRecorder:
    """Collect the output of chosen modules and the gradient of the loss w.r.t. each output.

    ``names`` picks modules by their ``model.named_modules()`` name; by default every direct
    child (for ``nn.Sequential``: one entry per block). Only the last forward pass is kept.

    >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    >>> with LayerRecorder(model, names=["0", "2"]) as recorder:
    ...     model(torch.ones(5, 3)).sum().backward()
    >>> [tuple(recorder.activations[n].shape) for n in recorder.names]
    [(5, 4), (5, 1)]
    >>> recorder.gradients["2"].tolist() == [[1.0]] * 5, len(model[0]._forward_hooks)
    (True, 0)
    """

    def __init__(self, model: nn.Module, names: Sequence[str] | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module; got {type(model).__name__}")
        available = dict(model.named_modules())
        if names is None:
            names = [name for name, _ in model.named_children()]
        elif isinstance(names, str):
            raise TypeError(f"names must be a sequence of module names, not the string {names!r}")
        names = list(names)
        if not names:
            raise ValueError("nothing to record: the model has no children and no names were given")
        unknown = [name for name in names if name not in available]
        if unknown:
            raise ValueError(
                f"no module named {unknown} in the model; available: {sorted(available)[:12]}"
            )
        self.model = model
        self.names: list[str] = names
        self._modules = {name: available[name] for name in names}
        self._handles: list[RemovableHandle] = []
        self.activations: dict[str, torch.Tensor] = {}
        self.gradients: dict[str, torch.Tensor] = {}

    def _hook_for(self, name: str):
        def store_gradient(grad: torch.Tensor) -> None:
            self.gradients[name] = grad.detach()

        def forward_hook(_module: nn.Module, _inputs: object, output: object) -> None:
            if not isinstance(output, torch.Tensor):
                raise TypeError(
                    f"module {name!r} returned {type(output).__name__}; only tensor outputs "
                    "can be recorded"
                )
            self.activations[name] = output.detach()
            if output.requires_grad:
                self._handles.append(output.register_hook(store_gradient))

        return forward_hook

    def __enter__(self) -> LayerRecorder:
        if self._handles:
            raise RuntimeError("this recorder is already active; use one `with` block at a time")
        try:
            for name, module in self._modules.items():
                self._handles.append(module.register_forward_hook(self._hook_for(name)))
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove every hook this recorder registered (safe to call twice)."""
        try:
            while self._handles:
                self._handles.pop().remove()
        finally:
            self._handles.clear()

    @property
    def active_hooks(self) -> int:
        """How many hook handles are currently registered (0 outside the ``with`` block)."""
        return len(self._handles)

    def _require(self, store: dict[str, torch.Tensor], what: str) -> list[torch.Tensor]:
        missing = [name for name in self.names if name not in store]
        if missing:
            raise ValueError(
                f"no {what} recorded for {missing}: run a forward pass"
                + (" and a backward pass" if what == "gradient" else "")
                + " inside the `with` block"
            )
        return [store[name] for name in self.names]

    def activation_stds(self) -> list[float]:
        """Standard deviation of each recorded output over all its entries (float64 maths).

        See :func:`batch_std` for the sample-to-sample spread, which ignores the bias.
        """
        return [
            float(t.double().std(correction=0))
            for t in self._require(self.activations, "activation")
        ]

    def gradient_norms(self) -> list[float]:
        """Euclidean norm of the loss gradient w.r.t. each recorded output."""
        return [float(t.double().norm()) for t in self._require(self.gradients, "gradient")]


def batch_std(tensor: torch.Tensor) -> float:
    """``sqrt(mean over units of var over dim 0)``: the sample-to-sample spread of an output.

    >>> batch_std(torch.tensor([[1.0, 5.0], [3.0, 5.0]]))  # unit 0 varies by ±1, unit 1 never
    0.7071067811865476
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a tensor; got {type(tensor).__name__}")
    if tensor.ndim == 0 or tensor.shape[0] == 0:
        raise ValueError(f"need a batch of at least one sample; got shape {tuple(tensor.shape)}")
    variance = tensor.detach().double().var(dim=0, correction=0)
    return float(variance.mean().sqrt())


@dataclass(frozen=True)
class SignalStats:
    """Per-layer numbers from one forward and one backward pass (index 0 = first layer)."""

    names: list[str]
    activation_std: list[float]
    gradient_norm: list[float]


def signal_statistics(
    model: nn.Module,
    x: torch.Tensor,
    *,
    upstream: torch.Tensor | None = None,
    names: Sequence[str] | None = None,
) -> SignalStats:
    """Push ``x`` through ``model`` and a gradient back; measure each recorded layer.

    The backward pass starts from ``upstream`` (the gradient a loss would send into the
    output). By default that is a fixed random direction of norm 1, so the last layer's
    gradient norm is 1 and every other number reads as "times what arrived at the top".
    ``model``'s ``.grad`` fields are left untouched (``torch.autograd.grad`` is used).

    >>> model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    >>> stats = signal_statistics(model, torch.randn(8, 4))
    >>> stats.names, round(stats.gradient_norm[-1], 6)
    (['0', '1'], 1.0)
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor; got {type(x).__name__}")
    x = x.detach().requires_grad_(True)
    with LayerRecorder(model, names) as recorder:
        output = model(x)
        if output.numel() == 0:
            raise ValueError(f"the output is empty (shape {tuple(output.shape)}); use a batch ≥ 1")
        if upstream is None:
            noise = torch.randn(output.shape, generator=torch.Generator().manual_seed(0))
            upstream = (noise / noise.norm()).to(output.dtype)
        elif upstream.shape != output.shape:
            raise ValueError(
                f"upstream must match the output shape {tuple(output.shape)}; "
                f"got {tuple(upstream.shape)}"
            )
        torch.autograd.grad(output, x, grad_outputs=upstream)
    return SignalStats(
        names=list(recorder.names),
        activation_std=recorder.activation_stds(),
        gradient_norm=recorder.gradient_norms(),
    )
