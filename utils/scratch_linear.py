"""A linear layer written from scratch: our own forward *and* backward, checked against nn.Linear.

For ``Y = X Wᵀ + b`` with upstream gradient ``G = ∂L/∂Y`` (same shape as ``Y``), the chain
rule gives

* ``dX = G W`` (shape of ``X``),
* ``dW = Gᵀ X``, summed over every leading (batch) dimension (shape of ``W``),
* ``db = G`` summed over every leading dimension (shape of ``b``).

:class:`LinearFunction` is a ``torch.autograd.Function`` that computes exactly these three
products; :class:`ScratchLinear` wraps it in an ``nn.Module`` with the parameter shapes, the
default initialisation and the ``repr`` of ``nn.Linear`` (notebook 04 explains every line).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import init


def _as_rows(tensor: torch.Tensor) -> torch.Tensor:
    """View ``(*, features)`` as a 2-D ``(rows, features)`` matrix; a 1-D vector becomes one row."""
    return tensor.unsqueeze(0) if tensor.ndim == 1 else tensor.flatten(0, -2)


class LinearFunction(torch.autograd.Function):
    """``Y = X Wᵀ + b`` with a hand-written backward pass.

    Call it through ``apply`` (``bias`` may be ``None``):

    >>> X = torch.randn(4, 3, requires_grad=True)
    >>> W = torch.randn(2, 3, requires_grad=True)
    >>> b = torch.randn(2, requires_grad=True)
    >>> Y = LinearFunction.apply(X, W, b)
    >>> Y.shape
    torch.Size([4, 2])
    >>> Y.backward(torch.ones_like(Y))  # G = all ones
    >>> torch.equal(b.grad, torch.full((2,), 4.0))  # db = G summed over the 4 rows
    True
    """

    @staticmethod
    def forward(
        ctx: Any, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        ctx.save_for_backward(input, weight)  # the backward pass needs X (for dW) and W (for dX)
        ctx.has_bias = bias is not None
        output = input @ weight.T  # (*, in) @ (in, out) -> (*, out)
        if bias is not None:
            output = output + bias  # broadcast over every leading dimension
        return output

    @staticmethod
    def backward(
        ctx: Any, grad_output: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        input, weight = ctx.saved_tensors
        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_input = grad_output @ weight  # dX = G W: (*, out) @ (out, in) -> (*, in)
        if ctx.needs_input_grad[1]:
            grad_weight = _as_rows(grad_output).T @ _as_rows(input)  # dW = Gᵀ X over all rows
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = _as_rows(grad_output).sum(0)  # db = G summed over all rows
        return grad_input, grad_weight, grad_bias


class ScratchLinear(nn.Module):
    """A drop-in ``nn.Linear`` whose backward pass is :class:`LinearFunction`.

    Same parameters (``weight``: ``(out_features, in_features)``, ``bias``: ``(out_features,)``
    or ``None``), same default initialisation (so the same seed gives bit-identical weights),
    same ``repr``. Accepts inputs of shape ``(*, in_features)``, an empty batch included.
    One difference on purpose: a wrong input size raises a ``ValueError`` that names both
    sizes, where ``nn.Linear`` raises matmul's ``RuntimeError``.

    >>> _ = torch.manual_seed(0); ours = ScratchLinear(3, 2)
    >>> _ = torch.manual_seed(0); theirs = nn.Linear(3, 2)
    >>> torch.equal(ours.weight, theirs.weight) and torch.equal(ours.bias, theirs.bias)
    True
    >>> ours
    ScratchLinear(in_features=3, out_features=2, bias=True)
    >>> ours(torch.randn(5, 7, 3)).shape
    torch.Size([5, 7, 2])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int; got {value!r}")
        factory = {"device": device, "dtype": dtype}
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(torch.empty((out_features, in_features), **factory))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw ``W`` and ``b`` from ``U(-1/√in_features, 1/√in_features)``, as nn.Linear does.

        ``kaiming_uniform_`` with ``a = √5`` is that uniform distribution for ``W`` (see
        pytorch/pytorch#57109); the calls and their order match ``nn.Linear.reset_parameters``
        so both consume the random stream identically.
        """
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features  # = weight.size(1), what nn.Linear computes as fan-in
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not isinstance(input, torch.Tensor):
            raise TypeError(f"input must be a torch.Tensor; got {type(input).__name__}")
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise ValueError(
                f"input must have shape (*, in_features) = (*, {self.in_features}); "
                f"got shape {tuple(input.shape)}"
            )
        return LinearFunction.apply(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
