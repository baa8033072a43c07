"""utils.batchnorm against nn.BatchNorm1d itself, plus the demo's compute function and bad input."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils import fusion

from utils import batchnorm
from utils.demos.batchnorm import MIN_BATCH, simulate_batchnorm


def random_bn(num_features: int, seed: int = 0, **kwargs) -> nn.BatchNorm1d:
    generator = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm1d(num_features, **kwargs)
    if bn.affine:
        with torch.no_grad():
            bn.weight.copy_(1 + torch.randn(num_features, generator=generator))
            bn.bias.copy_(torch.randn(num_features, generator=generator))
    return bn


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 1)])
def test_batch_stats_match_torch(shape):
    x = 2 + 3 * torch.randn(shape)
    axes = (0,) if len(shape) == 2 else (0, 2)
    stats = batchnorm.batch_stats(x)
    torch.testing.assert_close(stats.mean, x.mean(dim=axes))
    torch.testing.assert_close(stats.var, x.var(dim=axes, correction=0))
    torch.testing.assert_close(stats.var_unbiased, x.var(dim=axes))
    assert stats.count == x.numel() // 3


@pytest.mark.parametrize("shape", [(8, 4), (3, 4, 6), (1, 4, 3)])
def test_batchnorm_train_equals_module_values_and_gradients(shape):
    bn = random_bn(4, seed=1)
    x = (1 + 2 * torch.randn(shape)).requires_grad_()
    expected = bn(x)
    got = batchnorm.batchnorm_train(x, bn.weight, bn.bias, eps=bn.eps)
    torch.testing.assert_close(got, expected)
    upstream = torch.randn(shape)
    grads_expected = torch.autograd.grad(expected, (x, bn.weight, bn.bias), upstream)
    grads_got = torch.autograd.grad(got, (x, bn.weight, bn.bias), upstream)
    for g_got, g_expected in zip(grads_got, grads_expected, strict=True):
        torch.testing.assert_close(g_got, g_expected, rtol=1e-4, atol=1e-5)


def test_batchnorm_train_without_affine_and_with_lists():
    x = [[1.0, 2.0], [3.0, 6.0]]
    expected = nn.BatchNorm1d(2, affine=False)(torch.tensor(x))
    torch.testing.assert_close(batchnorm.batchnorm_train(x), expected)


def test_biased_variance_normalises_not_unbiased():
    x = torch.tensor([[0.0], [2.0]])
    y = batchnorm.batchnorm_train(x, eps=0.0)
    torch.testing.assert_close(y, torch.tensor([[-1.0], [1.0]]))  # biased var = 1, not 2


def test_one_value_per_feature_is_refused_like_torch():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(torch.randn(1, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        batchnorm.batchnorm_train(torch.randn(1, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        batchnorm.batchnorm_train(torch.randn(1, 3, 1))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: batchnorm.batch_stats(torch.ones(4)), ValueError, r"\(N, C\) or \(N, C, L\)"),
        (
            lambda: batchnorm.batch_stats(torch.ones(2, 3, 4, 5)),
            ValueError,
            r"got shape \(2, 3, 4, 5\)",
        ),
        (lambda: batchnorm.batch_stats(torch.ones(0, 3)), ValueError, "no values per feature"),
        (lambda: batchnorm.batch_stats("x"), TypeError, "x must be a tensor"),
        (
            lambda: batchnorm.batchnorm_train(torch.ones(4, 3), torch.ones(2)),
            ValueError,
            r"weight \(γ\) must have shape \(C,\) = \(3,\); got shape \(2,\)",
        ),
        (
            lambda: batchnorm.batchnorm_train(torch.ones(4, 3), None, torch.ones(3, 1)),
            ValueError,
            r"bias \(β\) must have shape",
        ),
        (lambda: batchnorm.batchnorm_train(torch.ones(4, 3), eps=-1.0), ValueError, "eps"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4)])
def test_update_running_stats_matches_one_module_step(shape):
    bn = random_bn(3, momentum=0.3)
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([1.0, -1.0, 0.5]))
        bn.running_var.copy_(torch.tensor([2.0, 0.5, 1.0]))
    start_mean, start_var = bn.running_mean.clone(), bn.running_var.clone()
    x = 3 + 2 * torch.randn(shape)
    with torch.no_grad():
        bn(x)
    mean, var = batchnorm.update_running_stats(start_mean, start_var, x, momentum=0.3)
    torch.testing.assert_close(mean, bn.running_mean)
    torch.testing.assert_close(var, bn.running_var)
    torch.testing.assert_close(start_mean, torch.tensor([1.0, -1.0, 0.5]))  # not in place


@settings(max_examples=25, deadline=None)
@given(
    steps=st.integers(1, 8),
    batch=st.integers(2, 9),
    momentum=st.floats(0.0, 1.0),
    seed=st.integers(0, 10_000),
)
def test_running_stats_history_matches_module_after_every_step(steps, batch, momentum, seed):
    generator = torch.Generator().manual_seed(seed)
    batches = [3 * torch.randn(batch, 2, generator=generator) - 1 for _ in range(steps)]
    bn = nn.BatchNorm1d(2, momentum=momentum)
    means, variances = batchnorm.running_stats_history(batches, momentum=momentum)
    assert means.shape == variances.shape == (steps + 1, 2)
    torch.testing.assert_close(means[0], torch.zeros(2))
    torch.testing.assert_close(variances[0], torch.ones(2))
    for step, x in enumerate(batches, start=1):
        with torch.no_grad():
            bn(x)
        torch.testing.assert_close(means[step], bn.running_mean)
        torch.testing.assert_close(variances[step], bn.running_var)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: batchnorm.update_running_stats(
                torch.zeros(2), torch.ones(2), torch.ones(3, 2), momentum=1.5
            ),
            ValueError,
            r"momentum must be in \[0, 1\]; got 1.5",
        ),
        (
            lambda: batchnorm.update_running_stats(
                torch.zeros(2), torch.ones(2), torch.ones(3, 2), momentum=True
            ),
            TypeError,
            "momentum must be a number",
        ),
        (
            lambda: batchnorm.update_running_stats(torch.zeros(3), torch.ones(2), torch.ones(3, 2)),
            ValueError,
            r"running_mean must have shape \(C,\) = \(2,\); got shape \(3,\)",
        ),
        (
            lambda: batchnorm.update_running_stats(torch.zeros(2), torch.ones(2), torch.ones(1, 2)),
            ValueError,
            "at least 2 values per feature",
        ),
        (lambda: batchnorm.running_stats_history([]), ValueError, "batches is empty"),
    ],
)
def test_running_stats_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_normalized_linear_has_no_linear_bias_and_matches_the_pair():
    layer = batchnorm.NormalizedLinear(10, 2, momentum=0.2)
    assert layer.linear.bias is None
    assert layer.bn.momentum == 0.2
    assert sum(p.numel() for p in layer.parameters()) == 10 * 2 + 2 * 2
    x = torch.randn(8, 10)
    torch.testing.assert_close(layer(x), layer.bn(layer.linear(x)))
    with pytest.raises(ValueError, match="out_features must be at least 1"):
        batchnorm.NormalizedLinear(3, 0)


def trained_pair(bias: bool, affine: bool = True, seed: int = 0):
    torch.manual_seed(seed)
    linear = nn.Linear(5, 3, bias=bias)
    bn = random_bn(3, seed=seed, affine=affine)
    with torch.no_grad():
        for _ in range(10):
            bn(linear(1 + 2 * torch.randn(16, 5)))
    return linear, bn.eval()


@pytest.mark.parametrize(("bias", "affine"), [(True, True), (False, True), (True, False)])
def test_fold_equals_eval_pair_and_formula(bias, affine):
    linear, bn = trained_pair(bias, affine)
    weight_before = linear.weight.detach().clone()
    folded = batchnorm.fold_batchnorm(linear, bn)
    x = torch.randn(7, 5)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), bn(linear(x)))
        sigma = torch.sqrt(bn.running_var + bn.eps)
        gamma = bn.weight if affine else torch.ones(3)
        beta = bn.bias if affine else torch.zeros(3)
        b = linear.bias if bias else torch.zeros(3)
        torch.testing.assert_close(folded.weight, (gamma / sigma)[:, None] * linear.weight)
        torch.testing.assert_close(folded.bias, gamma * (b - bn.running_mean) / sigma + beta)
    torch.testing.assert_close(linear.weight.detach(), weight_before)  # inputs untouched
    assert folded is not linear and folded.bias is not None


@pytest.mark.parametrize("bias", [True, False])
def test_fold_agrees_with_torch_fusion(bias):
    linear, bn = trained_pair(bias, seed=3)
    linear.eval()
    ours = batchnorm.fold_batchnorm(linear, bn)
    theirs = fusion.fuse_linear_bn_eval(linear, bn)
    torch.testing.assert_close(ours.weight.detach(), theirs.weight.detach())
    torch.testing.assert_close(ours.bias.detach(), theirs.bias.detach())


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: (nn.Linear(5, 3), nn.BatchNorm1d(3)), ValueError, r"call bn\.eval\(\)"),
        (
            lambda: (nn.Linear(5, 3), nn.BatchNorm1d(3, track_running_stats=False).eval()),
            ValueError,
            "no running statistics",
        ),
        (
            lambda: (nn.Linear(5, 3), nn.BatchNorm1d(4).eval()),
            ValueError,
            "bn.num_features must equal linear.out_features; got 4 and 3",
        ),
        (lambda: (nn.Conv1d(5, 3, 1), nn.BatchNorm1d(3).eval()), TypeError, "nn.Linear"),
        (lambda: (nn.Linear(5, 3), nn.LayerNorm(3)), TypeError, "nn.BatchNorm1d"),
    ],
)
def test_fold_bad_input(make, error, message):
    linear, bn = make()
    with pytest.raises(error, match=message):
        batchnorm.fold_batchnorm(linear, bn)


def test_demo_simulation_equals_the_step_by_step_functions():
    run = simulate_batchnorm(5, 1.5, 2.0, 0.3, steps=7, features=3, seed=4)
    assert run.before.shape == run.after.shape == (7, 5, 3)
    torch.testing.assert_close(
        run.after, torch.stack([batchnorm.batchnorm_train(b) for b in run.before])
    )
    means, variances = batchnorm.running_stats_history(run.before, momentum=0.3)
    torch.testing.assert_close(run.running_mean, means)
    torch.testing.assert_close(run.running_var, variances)


def test_demo_simulation_at_the_smallest_batch_and_its_limits():
    run = simulate_batchnorm(MIN_BATCH, 0.0, 1.0, 0.1)
    # two samples a, b: each output is ±1, shrunk only by eps: 1 / sqrt(1 + eps / σ²)
    var = run.before.var(dim=1, keepdim=True, correction=0)
    torch.testing.assert_close(run.after.abs(), (1 / torch.sqrt(1 + 1e-5 / var)).expand(-1, 2, -1))
    assert bool((run.after.abs() <= 1).all())
    with pytest.raises(ValueError, match="batch_size must be at least 2"):
        simulate_batchnorm(1, 0.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="scale must be > 0"):
        simulate_batchnorm(4, 0.0, 0.0, 0.1)
