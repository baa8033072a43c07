"""Notebook 07: its batch norm by hand (the notebook's own cells) and utils.nb07_batchnorm,
both against nn.BatchNorm1d itself; the demo's compute and plots; the self-checks' hints."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from torch import nn
from torch.nn.utils import fusion

from scripts.series import definitions_from_notebook
from utils import nb07_batchnorm as nb
from utils.check import NOT_ATTEMPTED_MARK, PASS_MARK

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "07_linear_batchnorm.ipynb"
#: The notebook's solutions: the one copy of batch norm by hand that learners read.
SOLUTIONS = definitions_from_notebook(NOTEBOOK, "batchnorm_forward", "running_update", "fold")


def random_bn(num_features: int, seed: int = 0, **kwargs) -> nn.BatchNorm1d:
    generator = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm1d(num_features, **kwargs)
    if bn.affine:
        with torch.no_grad():
            bn.weight.copy_(1 + torch.randn(num_features, generator=generator))
            bn.bias.copy_(torch.randn(num_features, generator=generator))
    return bn


# ------------------------------------------------------- the notebook's batch norm by hand


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(2, 9), features=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_notebook_forward_equals_module_values_and_gradients(batch, features, seed):
    bn = random_bn(features, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    x = (1 + 2 * torch.randn(batch, features, generator=generator)).requires_grad_()
    expected = bn(x)
    got = SOLUTIONS["batchnorm_forward"](x, bn.weight, bn.bias, bn.eps)
    torch.testing.assert_close(got, expected)
    upstream = torch.randn(batch, features, generator=generator)
    grads_expected = torch.autograd.grad(expected, (x, bn.weight, bn.bias), upstream)
    grads_got = torch.autograd.grad(got, (x, bn.weight, bn.bias), upstream)
    for g_got, g_expected in zip(grads_got, grads_expected, strict=True):
        torch.testing.assert_close(g_got, g_expected, rtol=1e-4, atol=1e-5)


def test_notebook_forward_normalises_with_the_biased_variance():
    y = SOLUTIONS["batchnorm_forward"](torch.tensor([[0.0], [2.0]]), 1.0, 0.0, 0.0)
    torch.testing.assert_close(y, torch.tensor([[-1.0], [1.0]]))  # biased var = 1, not 2


@settings(max_examples=25, deadline=None)
@given(
    steps=st.integers(1, 8),
    batch=st.integers(2, 9),
    momentum=st.floats(0.0, 1.0),
    seed=st.integers(0, 10_000),
)
def test_notebook_running_update_matches_module_after_every_step(steps, batch, momentum, seed):
    generator = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm1d(2, momentum=momentum)
    mean, var = torch.zeros(2), torch.ones(2)
    for _ in range(steps):
        x = 3 * torch.randn(batch, 2, generator=generator) - 1
        old_mean, old_var = mean.clone(), var.clone()
        with torch.no_grad():
            bn(x)
        new_mean, new_var = SOLUTIONS["running_update"](mean, var, x, momentum)
        torch.testing.assert_close(new_mean, bn.running_mean)
        torch.testing.assert_close(new_var, bn.running_var)
        torch.testing.assert_close((mean, var), (old_mean, old_var))  # not updated in place
        mean, var = new_mean, new_var


# ------------------------------------------------------------ NormalizedLinear and folding


def test_normalized_linear_has_no_linear_bias_and_matches_the_pair():
    layer = nb.NormalizedLinear(10, 2)
    assert layer.linear.bias is None
    assert sum(p.numel() for p in layer.parameters()) == 10 * 2 + 2 * 2
    x = torch.randn(8, 10)
    torch.testing.assert_close(layer(x), layer.bn(layer.linear(x)))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"out_features": 0}, ValueError, "out_features must be at least 1"),
        ({"in_features": 2.0}, TypeError, "in_features must be an int"),
    ],
)
def test_normalized_linear_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        nb.NormalizedLinear(**{"in_features": 3, "out_features": 2, **kwargs})


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
    with torch.no_grad():
        bn.running_var.mul_(1e-4)  # tiny variances: a fold without eps would be visibly off
    weight_before = linear.weight.detach().clone()
    folded = nb.fold_batchnorm(linear, bn)
    x = torch.randn(7, 5)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), bn(linear(x)))
        sigma = torch.sqrt(bn.running_var + bn.eps)
        gamma = bn.weight if affine else torch.ones(3)
        beta = bn.bias if affine else torch.zeros(3)
        b = linear.bias if bias else torch.zeros(3)
        torch.testing.assert_close(folded.weight, (gamma / sigma)[:, None] * linear.weight)
        torch.testing.assert_close(folded.bias, gamma * (b - bn.running_mean) / sigma + beta)
        W_fold, b_fold = SOLUTIONS["fold"](
            linear.weight, b, gamma, beta, bn.running_mean, bn.running_var, bn.eps
        )
        torch.testing.assert_close(x @ W_fold.T + b_fold, bn(linear(x)))  # the notebook's too
    torch.testing.assert_close(linear.weight.detach(), weight_before)  # inputs untouched
    assert folded is not linear and folded.bias is not None


@pytest.mark.parametrize("bias", [True, False])
def test_fold_agrees_with_torch_fusion(bias):
    linear, bn = trained_pair(bias, seed=3)
    linear.eval()
    ours = nb.fold_batchnorm(linear, bn)
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
        (
            lambda: (nn.Conv1d(5, 3, 1), nn.BatchNorm1d(3).eval()),
            TypeError,
            r"takes \(nn.Linear, nn.BatchNorm1d\); got \(Conv1d, BatchNorm1d\)",
        ),
        (lambda: (nn.Linear(5, 3), nn.LayerNorm(3)), TypeError, r"got \(Linear, LayerNorm\)"),
    ],
)
def test_fold_bad_input(make, error, message):
    linear, bn = make()
    with pytest.raises(error, match=message):
        nb.fold_batchnorm(linear, bn)


# ------------------------------------------------------------------- the demo and its plots


def test_demo_simulation_equals_the_module_step_by_step():
    run = nb.simulate_batchnorm(5, 1.5, 2.0, 0.3, steps=7, features=3, seed=4)
    assert run.before.shape == run.after.shape == (7, 5, 3)
    bn = nn.BatchNorm1d(3, momentum=0.3, affine=False)
    torch.testing.assert_close(run.running_mean[0], bn.running_mean)
    torch.testing.assert_close(run.running_var[0], bn.running_var)
    for step, x in enumerate(run.before, start=1):
        torch.testing.assert_close(run.after[step - 1], bn(x))
        torch.testing.assert_close(run.running_mean[step], bn.running_mean)
        torch.testing.assert_close(run.running_var[step], bn.running_var)


def test_demo_simulation_at_the_smallest_batch_and_below():
    run = nb.simulate_batchnorm(nb.MIN_BATCH, 0.0, 1.0, 0.1)
    # two samples a, b: each output is ±1, shrunk only by eps: 1 / sqrt(1 + eps / σ²)
    var = run.before.var(dim=1, keepdim=True, correction=0)
    torch.testing.assert_close(run.after.abs(), (1 / torch.sqrt(1 + 1e-5 / var)).expand(-1, 2, -1))
    assert bool((run.after.abs() <= 1).all())
    with pytest.raises(ValueError, match="batch_size must be at least 2"):
        nb.simulate_batchnorm(1, 0.0, 1.0, 0.1)


def test_demo_readout_and_panels():
    fig = Figure()
    text = nb.draw_batchnorm(fig, 2, 3.0, 2.0, 1.0)
    assert "(with 2 samples every output is ≈ ±1)" in text
    assert "running_var ≈" in text and "true 4.00" in text
    ax_hist, ax_stats = fig.axes
    assert ax_hist.get_xlim() == (-17.0, 17.0)  # fixed view, whatever the shift
    assert len(ax_stats.get_lines()) == 2 * nb.FEATURES + 2  # mean, var per feature; 2 targets


@pytest.fixture
def ax():
    return Figure().add_subplot()


def test_histograms_before_and_after_with_stats_in_the_legend(ax):
    artists = nb.bn_histograms(ax, 3 + 2 * torch.randn(500, 4), torch.randn(500, 4))
    assert set(artists) == {"before", "after"}
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels[0].startswith("before BN: mean +3.") and labels[1].startswith("after BN")
    for patch in artists.values():  # density-normalised: the area under each outline is 1
        xy = patch.get_xy()
        assert abs(np.trapezoid(xy[:, 1], xy[:, 0])) == pytest.approx(1.0, rel=1e-6)
    assert ax.get_xlabel() == "activation value"


def test_running_stats_one_line_per_feature_and_targets(ax):
    means = torch.arange(18.0).reshape(6, 3)
    lines = nb.running_stats_curves(ax, means, torch.ones(6, 3), true_mean=0.5, true_var=2.0)
    assert len(lines["mean"]) == len(lines["var"]) == 3
    assert [line.get_ydata()[0] for line in lines["targets"]] == [0.5, 2.0]
    np.testing.assert_allclose(lines["mean"][0].get_xdata(), np.arange(6))
    np.testing.assert_allclose(lines["mean"][2].get_ydata(), means[:, 2].numpy())


def test_seed_loss_curves_log_scale_and_mean(ax):
    lines = nb.seed_loss_curves(ax, torch.tensor([[1.0, 0.5, 0.25], [3.0, 1.5, 0.75]]), label="run")
    assert len(lines["seeds"]) == 2
    np.testing.assert_allclose(lines["mean"][0].get_ydata(), [2.0, 1.0, 0.5])
    assert ax.get_yscale() == "log"
    assert "mean of 2" in lines["mean"][0].get_label()


def test_plots_never_create_pyplot_figures(ax):
    before = plt.get_fignums()
    nb.build_demo()
    nb.seed_loss_curves(ax, torch.ones(2, 3))
    assert plt.get_fignums() == before


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda ax: nb.seed_loss_curves("ax", torch.ones(2, 2)), TypeError, "matplotlib Axes"),
        (lambda ax: nb.seed_loss_curves(ax, torch.tensor([[1.0, 0.0]])), ValueError, "positive"),
        (lambda ax: nb.seed_loss_curves(ax, torch.ones(2, 2, 2)), ValueError, r"\(seeds, steps\)"),
    ],
)
def test_seed_loss_curves_bad_input(ax, call, error, message):
    with pytest.raises(error, match=message):
        call(ax)


# ------------------------------------------------------------------------------ self-checks


def stub(*_args):
    raise NotImplementedError("fill in")


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (nb.check_batchnorm_forward, "batchnorm_forward"),
        (nb.check_running_update, "running_update"),
        (nb.check_fold, "fold"),
    ],
)
def test_notebook_solutions_pass_and_stubs_are_not_attempted(check, answer, capsys):
    check(SOLUTIONS[answer])
    assert capsys.readouterr().out.startswith(PASS_MARK)
    check(stub)
    assert NOT_ATTEMPTED_MARK in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (
            lambda x, g, b, eps: g * (x - x.mean(0)) / torch.sqrt(x.var(0) + eps) + b,
            "unbiased variance",
        ),
        (
            lambda x, g, b, eps: (
                g
                * (x - x.mean(1, keepdim=True))
                / torch.sqrt(x.var(1, keepdim=True, correction=0) + eps)
                + b
            ),
            "that is LayerNorm",
        ),
        (lambda x, g, b, eps: (x - x.mean(0)) / torch.sqrt(x.var(0, correction=0) + eps), "off"),
        (lambda x, g, b, eps: x[:2], r"expected shape \(5, 4\)"),
        (lambda x, g, b, eps: x.tolist(), "expected a tensor"),
    ],
)
def test_forward_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_batchnorm_forward(answer)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (
            lambda rm, rv, x, m: (m * rm + (1 - m) * x.mean(0), m * rv + (1 - m) * x.var(0)),
            "momentum is reversed",
        ),
        (
            lambda rm, rv, x, m: (
                (1 - m) * rm + m * x.mean(0),
                (1 - m) * rv + m * x.var(0, correction=0),
            ),
            "UNBIASED",
        ),
        (lambda rm, rv, x, m: x.mean(0), "return a pair"),
        (lambda rm, rv, x, m: (x.mean(0), x.var(0)), "new running_mean"),
        (lambda rm, rv, x, m: ([0.0], [1.0]), "new running_mean: expected a torch.Tensor"),
    ],
)
def test_running_update_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_running_update(answer)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (
            lambda W, b, g, beta, mean, var, eps: (
                (g / torch.sqrt(var))[:, None] * W,
                g / torch.sqrt(var) * (b - mean) + beta,
            ),
            "eps is missing",
        ),
        (
            lambda W, b, g, beta, mean, var, eps: (
                (g / torch.sqrt(var + eps))[:, None] * W,
                g / torch.sqrt(var + eps) * b + beta,
            ),
            "running mean μ is missing",
        ),
        (lambda W, b, g, beta, mean, var, eps: (W, b), "W_folded"),
        (lambda W, b, g, beta, mean, var, eps: W, "return a pair"),
        (lambda W, b, g, beta, mean, var, eps: (W[:2], b), r"W_folded: expected shape \(3, 5\)"),
    ],
)
def test_fold_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_fold(answer)
