"""Self-checks for notebook 06 (Linear + BatchNorm1d): each prints ✓, "not attempted" or a hint."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from utils.check import NOT_ATTEMPTED, attempt, expect, expect_tensor, passed


def _reference_bn(num_features: int, seed: int) -> nn.BatchNorm1d:
    """A BatchNorm1d with non-trivial γ, β and running statistics."""
    generator = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm1d(num_features)
    with torch.no_grad():
        bn.weight.copy_(1 + 0.5 * torch.randn(num_features, generator=generator))
        bn.bias.copy_(torch.randn(num_features, generator=generator))
        bn.running_mean.copy_(torch.randn(num_features, generator=generator))
        bn.running_var.copy_(0.5 + torch.rand(num_features, generator=generator))
    return bn


def check_batchnorm_forward(batchnorm_forward: Callable[..., torch.Tensor]) -> None:
    """Check ``batchnorm_forward(x, gamma, beta, eps)`` equals ``nn.BatchNorm1d`` in train mode.

    >>> def batchnorm_forward(x, gamma, beta, eps):
    ...     mean, var = x.mean(dim=0), x.var(dim=0, correction=0)
    ...     return gamma * (x - mean) / torch.sqrt(var + eps) + beta
    >>> check_batchnorm_forward(batchnorm_forward)
    ✓ batchnorm_forward matches nn.BatchNorm1d in training mode (biased batch variance)
    """
    generator = torch.Generator().manual_seed(6)
    x = 3 + 2 * torch.randn(5, 4, generator=generator)
    bn = _reference_bn(4, seed=7).train()
    gamma, beta, eps = bn.weight.detach(), bn.bias.detach(), bn.eps
    y = attempt("batchnorm_forward", batchnorm_forward, x, gamma, beta, eps)
    if y is NOT_ATTEMPTED:
        return
    with torch.no_grad():
        expected = bn(x)
    expect(isinstance(y, torch.Tensor), f"expected a tensor, got {type(y).__name__}")
    expect(
        tuple(y.shape) == (5, 4),
        f"expected shape (5, 4) = (N, C), the same as x; got {tuple(y.shape)}",
    )
    y = y.detach()
    unbiased = gamma * (x - x.mean(0)) / torch.sqrt(x.var(0) + eps) + beta
    if torch.allclose(y, unbiased, atol=1e-5):
        raise AssertionError(
            "you normalised with the unbiased variance (divide by N − 1): BatchNorm divides "
            "by N when normalising, e.g. x.var(dim=0, correction=0)."
        )
    per_sample = (x - x.mean(1, keepdim=True)) / torch.sqrt(
        x.var(1, keepdim=True, correction=0) + eps
    )
    if torch.allclose(y, gamma * per_sample + beta, atol=1e-5):
        raise AssertionError(
            "you normalised each sample over its features (that is LayerNorm): BatchNorm takes "
            "the statistics of each feature over the batch, dim=0."
        )
    expect_tensor(
        y,
        expected,
        what="batchnorm_forward(x, gamma, beta, eps)",
        hint="Per feature: subtract the batch mean, divide by sqrt(biased var + eps), "
        "then multiply by gamma and add beta.",
    )
    passed("batchnorm_forward matches nn.BatchNorm1d in training mode (biased batch variance)")


def check_running_update(
    running_update: Callable[..., tuple[torch.Tensor, torch.Tensor]],
) -> None:
    """Check ``running_update(running_mean, running_var, x, momentum)`` matches BatchNorm1d.

    >>> def running_update(running_mean, running_var, x, momentum):
    ...     mean, var = x.mean(dim=0), x.var(dim=0)
    ...     return ((1 - momentum) * running_mean + momentum * mean,
    ...             (1 - momentum) * running_var + momentum * var)
    >>> check_running_update(running_update)
    ✓ running_update matches BatchNorm1d's buffers: new batch weighted by momentum, unbiased var
    """
    generator = torch.Generator().manual_seed(8)
    x = -1 + 3 * torch.randn(6, 3, generator=generator)
    bn = _reference_bn(3, seed=9)
    bn.momentum = 0.3
    start_mean, start_var = bn.running_mean.clone(), bn.running_var.clone()
    answer = attempt(
        "running_update", running_update, start_mean.clone(), start_var.clone(), x, 0.3
    )
    if answer is NOT_ATTEMPTED:
        return
    expect(
        isinstance(answer, tuple) and len(answer) == 2,
        f"return a pair (new_mean, new_var); got {type(answer).__name__}",
    )
    new_mean, new_var = (a.detach() if isinstance(a, torch.Tensor) else a for a in answer)
    with torch.no_grad():
        bn.train()(x)
    reversed_mean = 0.3 * start_mean + 0.7 * x.mean(0)
    if isinstance(new_mean, torch.Tensor) and torch.allclose(new_mean, reversed_mean, atol=1e-5):
        raise AssertionError(
            "momentum is reversed: in PyTorch it weights the NEW batch, "
            "running = (1 − momentum) · running + momentum · batch."
        )
    expect_tensor(new_mean, bn.running_mean, what="new running_mean")
    biased = 0.7 * start_var + 0.3 * x.var(0, correction=0)
    if isinstance(new_var, torch.Tensor) and torch.allclose(new_var, biased, atol=1e-5):
        raise AssertionError(
            "running_var uses the UNBIASED batch variance (divide by N − 1), x.var(dim=0); "
            "only the normalisation itself uses the biased one."
        )
    expect_tensor(new_var, bn.running_var, what="new running_var")
    passed(
        "running_update matches BatchNorm1d's buffers: new batch weighted by momentum, unbiased var"
    )


def check_fold(fold: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Check ``fold(W, b, gamma, beta, mean, var, eps)`` returns the folded ``(W', b')``.

    >>> def fold(W, b, gamma, beta, mean, var, eps):
    ...     scale = gamma / torch.sqrt(var + eps)
    ...     return scale[:, None] * W, scale * (b - mean) + beta
    >>> check_fold(fold)
    ✓ fold gives one Linear equal to Linear → BatchNorm1d in eval mode
    """
    generator = torch.Generator().manual_seed(10)
    linear = nn.Linear(5, 3)
    bn = _reference_bn(3, seed=11).eval()
    with torch.no_grad():
        bn.running_var.mul_(1e-4)  # tiny variances: forgetting eps becomes visible
    args = (
        linear.weight.detach(),
        linear.bias.detach(),
        bn.weight.detach(),
        bn.bias.detach(),
        bn.running_mean.clone(),
        bn.running_var.clone(),
        bn.eps,
    )
    answer = attempt("fold", fold, *args)
    if answer is NOT_ATTEMPTED:
        return
    expect(
        isinstance(answer, tuple) and len(answer) == 2,
        f"return a pair (W_folded, b_folded); got {type(answer).__name__}",
    )
    W_folded, b_folded = (a.detach() if isinstance(a, torch.Tensor) else a for a in answer)
    W, b, gamma, beta, mean, var, eps = args
    scale = gamma / torch.sqrt(var + eps)
    no_eps = gamma / torch.sqrt(var)
    if isinstance(W_folded, torch.Tensor) and W_folded.shape == W.shape:
        expect(
            not torch.allclose(W_folded, no_eps[:, None] * W, rtol=1e-6),
            "W_folded: eps is missing, σ = sqrt(running_var + eps).",
        )
    expect_tensor(
        W_folded,
        scale[:, None] * W,
        what="W_folded",
        hint="Row i of W (output feature i) is multiplied by gamma[i] / sqrt(var[i] + eps).",
    )
    if isinstance(b_folded, torch.Tensor) and b_folded.shape == b.shape:
        expect(
            not torch.allclose(b_folded, scale * b + beta, rtol=1e-6),
            "b_folded: the running mean μ is missing; BatchNorm subtracts it: γ (b − μ) / σ + β.",
        )
    expect_tensor(
        b_folded,
        scale * (b - mean) + beta,
        what="b_folded",
        hint="BatchNorm sees linear(x) = W x + b, so the shift is γ (b − μ) / σ + β.",
    )
    x = torch.randn(4, 5, generator=generator)
    with torch.no_grad():
        expected = bn(linear(x))
    expect_tensor(x @ W_folded.T + b_folded, expected, what="folded layer output")
    passed("fold gives one Linear equal to Linear → BatchNorm1d in eval mode")
