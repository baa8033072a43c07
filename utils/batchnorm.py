"""Batch normalisation after a linear layer, written out by hand (notebook 06).

``nn.BatchNorm1d`` in training mode normalises each feature (channel) ``c`` with the
statistics of the current batch,

    y = γ · (x − μ_B) / sqrt(σ²_B + eps) + β,    σ²_B = biased batch variance (divide by n),

and, as a side effect, updates its running estimates with the **unbiased** variance
(divide by ``n − 1``):

    running ← (1 − momentum) · running + momentum · batch_statistic.

In ``eval()`` mode it uses the running estimates instead, which makes it a fixed per-feature
affine map that can be folded into the preceding ``nn.Linear`` (:func:`fold_batchnorm`).
Inputs are ``(N, C)`` or ``(N, C, L)``; statistics are taken over every axis except ``C``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import torch
from torch import nn

from utils._validate import as_tensor, require_positive_int, require_real, require_shape


class BatchStats(NamedTuple):
    """Per-feature statistics of one batch, as ``nn.BatchNorm1d`` computes them."""

    mean: torch.Tensor
    #: Biased variance (divide by n): used to normalise the batch.
    var: torch.Tensor
    #: Unbiased variance (divide by n − 1): fed into ``running_var``.
    var_unbiased: torch.Tensor
    #: How many values each feature's statistics are computed from (``N`` or ``N·L``).
    count: int


def _float_tensor(value: object, *, name: str) -> torch.Tensor:
    """Keep a float tensor as it is (autograd intact); convert anything else."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value
    return as_tensor(value, name=name)


def _feature_axes(x: torch.Tensor, *, name: str) -> tuple[int, ...]:
    if x.ndim == 2:
        return (0,)
    if x.ndim == 3:
        return (0, 2)
    raise ValueError(
        f"{name} must have shape (N, C) or (N, C, L) like nn.BatchNorm1d expects; "
        f"got shape {tuple(x.shape)}"
    )


def _per_feature(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reshape a ``(C,)`` vector so it broadcasts against ``x`` of shape (N, C) or (N, C, L)."""
    return v.reshape(1, -1) if x.ndim == 2 else v.reshape(1, -1, 1)


def batch_stats(x: object) -> BatchStats:
    """Mean, biased and unbiased variance of each feature over the batch (and length) axes.

    >>> stats = batch_stats(torch.tensor([[1.0, 10.0], [3.0, 10.0]]))
    >>> stats.mean, stats.var, stats.var_unbiased, stats.count
    (tensor([ 2., 10.]), tensor([1., 0.]), tensor([2., 0.]), 2)
    """
    x_t = _float_tensor(x, name="x")
    axes = _feature_axes(x_t, name="x")
    count = x_t.numel() // x_t.shape[1] if x_t.shape[1] else 0
    if count < 1:
        raise ValueError(f"x holds no values per feature; got shape {tuple(x_t.shape)}")
    mean = x_t.mean(dim=axes)
    var = x_t.var(dim=axes, correction=0)
    var_unbiased = var * count / (count - 1) if count > 1 else torch.full_like(var, float("nan"))
    return BatchStats(mean, var, var_unbiased, count)


def batchnorm_train(
    x: object,
    weight: object | None = None,
    bias: object | None = None,
    *,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Training-mode batch norm: ``γ (x − μ_B) / sqrt(σ²_B + eps) + β`` with the biased ``σ²_B``.

    ``weight`` (γ) and ``bias`` (β) have shape ``(C,)``; ``None`` means γ = 1, β = 0.
    Autograd flows through, so this is a drop-in for ``nn.BatchNorm1d`` in ``train()`` mode
    (without the running-statistics side effect, see :func:`update_running_stats`).

    >>> batchnorm_train(torch.tensor([[1.0], [3.0]]), eps=0.0)
    tensor([[-1.],
            [ 1.]])
    """
    x_t = _float_tensor(x, name="x")
    stats = batch_stats(x_t)
    if stats.count < 2:
        raise ValueError(
            "Expected more than 1 value per channel when training, "
            f"got input size {tuple(x_t.shape)}: one value has no spread to normalise by"
        )
    if eps < 0:
        raise ValueError(f"eps must be >= 0; got {eps}")
    y = (x_t - _per_feature(stats.mean, x_t)) / torch.sqrt(_per_feature(stats.var, x_t) + eps)
    n_features = x_t.shape[1]
    if weight is not None:
        gamma = _float_tensor(weight, name="weight")
        require_shape(gamma, (n_features,), name="weight (γ)", meaning="(C,)")
        y = y * _per_feature(gamma, x_t)
    if bias is not None:
        beta = _float_tensor(bias, name="bias")
        require_shape(beta, (n_features,), name="bias (β)", meaning="(C,)")
        y = y + _per_feature(beta, x_t)
    return y


def _check_momentum(momentum: object) -> float:
    return require_real(momentum, name="momentum", low=0.0, high=1.0)


def update_running_stats(
    running_mean: object, running_var: object, x: object, *, momentum: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """One training step's update: ``(1 − m) · running + m · batch``, with the UNBIASED variance.

    Note PyTorch's convention: ``momentum`` is the weight of the **new** batch (0.1 by
    default), the opposite of an optimiser's momentum. Returns new tensors; nothing in place.

    >>> update_running_stats(torch.zeros(1), torch.ones(1), torch.tensor([[1.0], [3.0]]),
    ...                      momentum=0.5)
    (tensor([1.]), tensor([1.5000]))
    """
    m = _check_momentum(momentum)
    mean = as_tensor(running_mean, name="running_mean")
    var = as_tensor(running_var, name="running_var")
    stats = batch_stats(as_tensor(x, name="x"))
    n_features = stats.mean.shape[0]
    require_shape(mean, (n_features,), name="running_mean", meaning="(C,)")
    require_shape(var, (n_features,), name="running_var", meaning="(C,)")
    if stats.count < 2:
        raise ValueError(
            f"x needs at least 2 values per feature for an unbiased variance; got {stats.count}"
        )
    return (1 - m) * mean + m * stats.mean, (1 - m) * var + m * stats.var_unbiased


def running_stats_history(
    batches: Iterable[object], *, momentum: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Running mean and variance after each batch, starting from PyTorch's (0, 1).

    Returns two tensors of shape ``(steps + 1, C)``; row 0 is the initial state and row
    ``k`` the state after ``k`` training-mode forward passes.

    >>> means, variances = running_stats_history([torch.tensor([[1.0], [3.0]])] * 2, momentum=0.5)
    >>> means[:, 0], variances[:, 0]
    (tensor([0.0000, 1.0000, 1.5000]), tensor([1.0000, 1.5000, 1.7500]))
    """
    _check_momentum(momentum)
    means: list[torch.Tensor] = []
    variances: list[torch.Tensor] = []
    for batch in batches:
        x = as_tensor(batch, name="batch")
        if not means:
            n_features = batch_stats(x).mean.shape[0]
            means.append(torch.zeros(n_features, dtype=x.dtype))
            variances.append(torch.ones(n_features, dtype=x.dtype))
        mean, var = update_running_stats(means[-1], variances[-1], x, momentum=momentum)
        means.append(mean)
        variances.append(var)
    if not means:
        raise ValueError("batches is empty: give at least one batch of shape (N, C)")
    return torch.stack(means), torch.stack(variances)


class NormalizedLinear(nn.Module):
    """The article's ``NormalizedLinear`` done right: ``Linear(bias=False)`` → ``BatchNorm1d``.

    The article builds ``nn.Linear(in_features, out_features)`` with its default bias. In
    training mode BatchNorm subtracts the batch mean of every feature, and that mean contains
    the bias, so the bias cancels exactly: it changes nothing, receives a zero gradient, and
    costs ``out_features`` parameters. BatchNorm's own shift β plays the bias's role.

    >>> layer = NormalizedLinear(10, 2)
    >>> layer.linear.bias is None, sum(p.numel() for p in layer.parameters())
    (True, 24)
    >>> layer(torch.randn(8, 10)).shape
    torch.Size([8, 2])
    """

    def __init__(
        self, in_features: int, out_features: int, *, eps: float = 1e-5, momentum: float = 0.1
    ) -> None:
        super().__init__()
        require_positive_int(in_features, name="in_features")
        require_positive_int(out_features, name="out_features")
        self.linear = nn.Linear(in_features, out_features, bias=False)
        self.bn = nn.BatchNorm1d(out_features, eps=eps, momentum=_check_momentum(momentum))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.linear(x))


def fold_batchnorm(linear: nn.Linear, bn: nn.BatchNorm1d) -> nn.Linear:
    """A new ``nn.Linear`` equal to ``bn(linear(x))`` for an ``eval()``-mode ``bn``.

    With ``σ = sqrt(running_var + eps)``: ``W' = (γ/σ) · W`` (row-wise) and
    ``b' = γ (b − μ) / σ + β``, where ``b = 0`` when ``linear.bias`` is ``None`` and
    ``γ = 1, β = 0`` when ``bn`` has ``affine=False``. The inputs are left untouched.

    >>> linear, bn = nn.Linear(3, 2), nn.BatchNorm1d(2).eval()
    >>> x = torch.randn(4, 3)
    >>> torch.allclose(fold_batchnorm(linear, bn)(x), bn(linear(x)), atol=1e-6)
    True
    """
    if not isinstance(linear, nn.Linear):
        raise TypeError(f"linear must be an nn.Linear; got {type(linear).__name__}")
    if not isinstance(bn, nn.BatchNorm1d):
        raise TypeError(f"bn must be an nn.BatchNorm1d; got {type(bn).__name__}")
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(
            "bn has no running statistics (track_running_stats=False), so it always "
            "normalises with batch statistics: there is no fixed affine map to fold"
        )
    if bn.training:
        raise ValueError(
            "bn is in training mode, where it normalises with batch statistics; "
            "call bn.eval() so it uses running_mean/running_var, then fold"
        )
    if bn.num_features != linear.out_features:
        raise ValueError(
            f"bn.num_features must equal linear.out_features; got {bn.num_features} "
            f"and {linear.out_features}"
        )
    with torch.no_grad():
        sigma = torch.sqrt(bn.running_var + bn.eps)
        gamma = bn.weight if bn.weight is not None else torch.ones_like(sigma)
        beta = bn.bias if bn.bias is not None else torch.zeros_like(sigma)
        b = linear.bias if linear.bias is not None else torch.zeros_like(sigma)
        scale = gamma / sigma
        folded = nn.Linear(
            linear.in_features,
            linear.out_features,
            bias=True,
            device=linear.weight.device,
            dtype=linear.weight.dtype,
        )
        folded.weight.copy_(scale[:, None] * linear.weight)
        folded.bias.copy_(scale * (b - bn.running_mean) + beta)
    return folded.train(linear.training)
