"""Notebook 07: its batch norm by hand (the notebook's own cells) against nn.BatchNorm1d, the
demo's cached compute and in-place picture, and the self-checks against right and wrong answers."""

from __future__ import annotations

import io
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from PIL import Image
from torch import nn
from torch.nn.utils import fusion

from scripts.series import cell_text, definitions_from_notebook
from utils import nb07_batchnorm as nb
from utils.check import NOT_ATTEMPTED_MARK, PASS_MARK
from utils.widgets import figure_png

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "07_linear_batchnorm.ipynb"
#: The notebook's own definitions (its solutions): the one copy learners read.
SOLUTIONS = definitions_from_notebook(
    NOTEBOOK, "batchnorm_forward", "bn_tokens", "fold", "NormalizedLinear"
)


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
@given(
    batch=st.integers(2, 6),
    features=st.integers(1, 4),
    length=st.sampled_from([None, 1, 3]),
    seed=st.integers(0, 10_000),
)
def test_notebook_forward_equals_module_values_and_gradients(batch, features, length, seed):
    bn = random_bn(features, seed=seed)
    shape = (batch, features) if length is None else (batch, features, length)
    x = (1 + 2 * torch.randn(shape, generator=torch.Generator().manual_seed(seed))).requires_grad_()
    expected = bn(x)
    got = SOLUTIONS["batchnorm_forward"](x, bn.weight, bn.bias, bn.eps)
    torch.testing.assert_close(got, expected)
    upstream = torch.randn(shape)
    grads_expected = torch.autograd.grad(expected, (x, bn.weight, bn.bias), upstream)
    grads_got = torch.autograd.grad(got, (x, bn.weight, bn.bias), upstream)
    for g_got, g_expected in zip(grads_got, grads_expected, strict=True):
        torch.testing.assert_close(g_got, g_expected, rtol=1e-4, atol=1e-5)


def test_notebook_forward_normalises_with_the_biased_variance():
    y = SOLUTIONS["batchnorm_forward"](
        torch.tensor([[0.0], [2.0]]), torch.ones(1), torch.zeros(1), 0
    )
    torch.testing.assert_close(y, torch.tensor([[-1.0], [1.0]]))  # biased var = 1, not 2


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 4), length=st.integers(1, 5), d=st.integers(1, 5), train=st.booleans())
def test_notebook_bn_tokens_equals_batchnorm_on_the_feature_axis(n, length, d, train):
    h = torch.randn(n, length, d)
    bn, reference = random_bn(d).train(train), random_bn(d).train(train)
    got = SOLUTIONS["bn_tokens"](h, bn)
    torch.testing.assert_close(got, reference(h.transpose(1, 2)).transpose(1, 2))
    torch.testing.assert_close(bn.running_mean, reference.running_mean)


def test_normalized_linear_has_no_linear_bias_and_matches_the_pair():
    layer = SOLUTIONS["NormalizedLinear"](10, 2)
    assert layer.linear.bias is None
    assert sum(p.numel() for p in layer.parameters()) == 10 * 2 + 2 * 2
    x = torch.randn(8, 10)
    torch.testing.assert_close(layer(x), layer.bn(layer.linear(x)))


@pytest.mark.parametrize(("bias", "affine"), [(True, True), (False, True), (True, False)])
def test_notebook_fold_equals_the_eval_pair_and_torch_fusion(bias, affine):
    torch.manual_seed(0)
    linear, bn = nn.Linear(5, 3, bias=bias), random_bn(3, affine=affine)
    with torch.no_grad():
        for _ in range(10):
            bn(linear(1 + 2 * torch.randn(16, 5)))
        bn.eval().running_var.mul_(1e-4)  # tiny variances: a fold without eps is visibly off
        gamma = bn.weight if affine else torch.ones(3)
        beta = bn.bias if affine else torch.zeros(3)
        W, b = SOLUTIONS["fold"](
            linear.weight, linear.bias, gamma, beta, bn.running_mean, bn.running_var, bn.eps
        )
        x = torch.randn(7, 5)
        torch.testing.assert_close(x @ W.T + b, bn(linear(x)))
        if affine:  # PyTorch's fusion needs γ and β
            torch.testing.assert_close(W, fusion.fuse_linear_bn_eval(linear.eval(), bn).weight)


# ------------------------------------------------------------------- the demo and its picture


def test_demo_simulation_equals_the_module_step_by_step():
    run = nb.simulate_batchnorm(5, 1.5, 2.0, 0.3, steps=7, seed=4)
    assert run.before.shape == run.after.shape == (7, 5, nb.FEATURES)
    bn = nn.BatchNorm1d(nb.FEATURES, momentum=0.3, affine=False)
    torch.testing.assert_close(run.running_mean[0], bn.running_mean)
    torch.testing.assert_close(run.running_var[0], bn.running_var)
    for step, x in enumerate(run.before, start=1):
        torch.testing.assert_close(run.after[step - 1], bn(x))
        torch.testing.assert_close(run.running_mean[step], bn.running_mean)
        torch.testing.assert_close(run.running_var[step], bn.running_var)


@pytest.mark.parametrize(
    "values", [(16, 3.0, 2.0, 0.1), (2, -4.5, 0.3, 1.0), (128, 0.0, 4.0, 0.01)]
)
def test_cached_simulation_equals_a_fresh_computation(values):
    cached = nb.simulate_batchnorm(*values)
    assert nb.simulate_batchnorm(*values) is cached  # a slider moved back costs nothing
    fresh = nb.simulate_batchnorm.__wrapped__(*values)
    for got, expected in zip(cached, fresh, strict=True):
        torch.testing.assert_close(got, expected)


def test_demo_simulation_at_the_smallest_batch_and_below():
    run = nb.simulate_batchnorm(nb.MIN_BATCH, 0.0, 1.0, 0.1)
    # two samples u, v: each output is ±1, shrunk only by eps: 1 / sqrt(1 + eps / σ²)
    var = run.before.var(dim=1, keepdim=True, correction=0)
    torch.testing.assert_close(run.after.abs(), (1 / torch.sqrt(1 + 1e-5 / var)).expand(-1, 2, -1))
    with pytest.raises(ValueError, match="batch_size must be at least 2"):
        nb.simulate_batchnorm(1, 0.0, 1.0, 0.1)


def test_histogram_outline_is_a_density():
    outline = nb.histogram_outline(3 + 2 * torch.randn(500))
    assert outline.shape == (2 * nb.BINS + 2, 2)
    assert abs(np.trapezoid(outline[:, 1], outline[:, 0])) == pytest.approx(1.0, rel=1e-6)


def test_readout_and_panels():
    fig = Figure()
    text = nb.draw_batchnorm(fig, 2, 3.0, 2.0, 1.0)
    assert "(with 2 samples every output is ≈ ±1)" in text and "(true 4.00)" in text
    ax_hist, ax_stats = fig.axes
    assert ax_hist.get_xlim() == (-nb.REACH, nb.REACH)  # fixed view, whatever the shift
    assert len(ax_stats.get_lines()) == 2 * nb.FEATURES + 2  # mean, var per feature; 2 targets
    assert [t.get_text() for t in ax_hist.get_legend().get_texts()] == ["input", "output"]
    assert "output std 1.00" in text


def artists_data(fig: Figure) -> list[np.ndarray]:
    ax_hist, ax_stats = fig.axes
    data = [patch.get_xy() for patch in ax_hist.patches]
    data += [np.asarray(line.get_ydata()) for line in ax_stats.get_lines()]
    return [*data, np.array([*ax_hist.get_ylim(), *ax_stats.get_ylim()])]


def test_demo_updates_its_artists_in_place_and_matches_a_fresh_picture():
    demo = nb.build_demo()
    axes, first_lines = list(demo.figure.axes), list(demo.figure.axes[1].get_lines())
    image = demo.image.value
    for name, value in (("batch_size", 40), ("shift", -2.5), ("scale", 0.7), ("momentum", 0.5)):
        demo.controls[name].value = value
    assert demo.figure.axes == axes and demo.figure.axes[1].get_lines() == first_lines
    assert demo.image.value != image and "true -2.50" in demo.readout.value
    fresh = Figure()
    nb.draw_batchnorm(fresh, 40, -2.5, 0.7, 0.5)
    for got, expected in zip(artists_data(demo.figure), artists_data(fresh), strict=True):
        np.testing.assert_allclose(got, expected)


def test_the_blitted_frame_equals_a_full_render():
    demo = nb.build_demo()
    demo.controls["shift"].value, demo.controls["scale"].value = -2.0, 0.7
    blitted, full = (
        np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        for png in (bytes(demo.image.value), figure_png(demo.figure))
    )
    assert blitted.shape == full.shape
    assert (np.abs(blitted - full).sum(axis=-1) > 30).mean() < 1e-3  # a few edge pixels at most


def test_demo_makes_no_pyplot_figures():
    before = plt.get_fignums()
    nb.build_demo().controls["shift"].value = 1.0
    assert plt.get_fignums() == before


# ------------------------------------------------------------------------------ self-checks


def stub(*_args):
    raise NotImplementedError("fill in")


def solution_cell(check_name: str) -> str:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    tagged = [cell_text(c) for c in cells if "solution" in c["metadata"].get("tags", [])]
    return next(source for source in tagged if check_name in source)


def test_the_notebooks_prediction_solution_passes(capsys):
    exec(solution_cell("check_eval_prediction"), {"nb": nb, "nn": nn, "torch": torch})
    assert PASS_MARK in capsys.readouterr().out


def bn_general(x, gamma, beta, eps):
    dims = [0, *range(2, x.ndim)]
    shape = (-1,) + (1,) * (x.ndim - 2)
    mean, var = x.mean(dims, keepdim=True), x.var(dims, keepdim=True, correction=0)
    return gamma.reshape(shape) * (x - mean) / torch.sqrt(var + eps) + beta.reshape(shape)


def fold_zeros(W, b, gamma, beta, mean, var, eps):
    scale = gamma / torch.sqrt(var + eps)
    return scale[:, None] * W, scale * ((0 if b is None else b) - mean) + beta


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (nb.check_batchnorm_forward, SOLUTIONS["batchnorm_forward"]),
        (nb.check_batchnorm_forward, bn_general),
        (
            nb.check_batchnorm_forward,
            lambda x, g, b, eps: F.batch_norm(x, None, None, g, b, True, 0.1, eps),
        ),
        (nb.check_eval_prediction, 2.4068),
        (nb.check_eval_prediction, torch.tensor(2.407)),
        (nb.check_eval_prediction, np.float32(2.4068)),
        (nb.check_eval_prediction, torch.tensor(2.4068, requires_grad=True) * 1),
        (nb.check_bn_tokens, SOLUTIONS["bn_tokens"]),
        (nb.check_bn_tokens, lambda h, bn: bn(h.reshape(-1, h.shape[-1])).reshape(h.shape)),
        (nb.check_bn_tokens, lambda h, bn: bn(h.permute(0, 2, 1)).permute(0, 2, 1)),
        (nb.check_fold, SOLUTIONS["fold"]),
        (nb.check_fold, fold_zeros),
    ],
)
def test_right_answers_pass(check, answer, capsys):
    check(answer)
    assert capsys.readouterr().out.startswith(PASS_MARK)


@pytest.mark.parametrize(
    ("check", "untouched"),
    [
        (nb.check_batchnorm_forward, stub),
        (nb.check_eval_prediction, ...),
        (nb.check_bn_tokens, stub),
        (nb.check_fold, stub),
    ],
)
def test_untouched_stubs_are_not_attempted(check, untouched, capsys):
    check(untouched)
    assert NOT_ATTEMPTED_MARK in capsys.readouterr().out


def bn_with(dims=None, correction=0, eps=None, outside=False):
    """batchnorm_forward with one typical mistake."""

    def forward(x, gamma, beta, given_eps):
        e = given_eps if eps is None else eps
        d = [0, *range(2, x.ndim)] if dims is None else dims(x)
        shape = (-1,) + (1,) * (x.ndim - 2)
        mean, var = x.mean(d, keepdim=True), x.var(d, keepdim=True, correction=correction)
        scale = var.sqrt() + e if outside else torch.sqrt(var + e)
        return gamma.reshape(shape) * (x - mean) / scale + beta.reshape(shape)

    return forward


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (bn_with(correction=1), "unbiased variance"),
        (bn_with(dims=lambda x: list(range(1, x.ndim))), "that is LayerNorm"),
        (bn_with(dims=lambda x: [0]), r"over n AND L: dims \(0, 2\)"),
        (bn_with(outside=True), "eps belongs inside the square root"),
        (bn_with(eps=0.0), "eps is missing"),
        (bn_with(eps=1e-5), "you ignored the eps argument"),
        (
            lambda x, g, b, eps: g * (x - x.mean(0)) / torch.sqrt(x.var(0, correction=0) + eps) + b,
            r"raised RuntimeError: .* reshape gamma and beta to \(C, 1\)",
        ),
        (
            lambda x, g, b, eps: bn_general(x.float(), g.float(), b.float(), eps),
            "expected torch.float64",
        ),
        (lambda x, g, b, eps: x[:2], "expected shape"),
    ],
)
def test_forward_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_batchnorm_forward(answer)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (0.4434, "momentum is reversed"),  # 0.75 on the new batch
        (3.118, "UNBIASED batch variance"),  # biased variances 1 and 4 in the buffer
        (1.6036, "start at running_mean = 0, running_var = 1"),  # buffers = first batch
        (0.0, "uses the running buffers, not a batch's statistics"),  # training-mode output
        (2.5, "is off"),
        ([2.4], "expected a number"),
    ],
)
def test_eval_prediction_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_eval_prediction(answer)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda h, bn: bn(h), r"raised RuntimeError: running_mean should contain .* axis 1"),
        (
            lambda h, bn: bn(h.reshape(h.shape[0], h.shape[2], h.shape[1])).reshape(h.shape),
            r"reshape keeps the memory order .* transpose\(1, 2\)",
        ),
        (lambda h, bn: F.layer_norm(h, h.shape[-1:], bn.weight, bn.bias), "that is LayerNorm"),
        (
            lambda h, bn: nn.BatchNorm1d(h.shape[-1], dtype=h.dtype)(h.transpose(1, 2)).transpose(
                1, 2
            ),
            "use the bn you are given",
        ),
        (
            lambda h, bn: F.batch_norm(
                h.transpose(1, 2), None, None, bn.weight, bn.bias, True
            ).transpose(1, 2),
            "running statistics did not change",
        ),
        (lambda h, bn: bn(h.transpose(1, 2)), r"expected shape \(3, 5, 4\), got shape \(3, 4, 5\)"),
    ],
)
def test_bn_tokens_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_bn_tokens(answer)


def fold_with(scale=None, shift=None):
    """fold with one typical mistake in the weight or in the bias."""

    def fold(W, b, gamma, beta, mean, var, eps):
        b = torch.zeros_like(mean) if b is None else b
        s = gamma / torch.sqrt(var + eps)
        weight = s[:, None] * W if scale is None else scale(W, gamma, var, eps)
        return weight, s * (b - mean) + beta if shift is None else shift(b, s, beta, mean)

    return fold


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (fold_with(scale=lambda W, g, var, eps: (g / var.sqrt())[:, None] * W), "eps is missing"),
        (
            fold_with(scale=lambda W, g, var, eps: (g / (var.sqrt() + eps))[:, None] * W),
            "eps belongs inside",
        ),
        (
            fold_with(scale=lambda W, g, var, eps: (g / torch.sqrt(var + 1e-5))[:, None] * W),
            "ignored the eps argument",
        ),
        (
            fold_with(scale=lambda W, g, var, eps: W * (g / torch.sqrt(var + eps))),
            r"(?i)raised RuntimeError: .*row i of W gets gamma / sigma",
        ),
        (fold_with(shift=lambda b, s, beta, mean: s * b + beta), "running mean is missing"),
        (fold_with(shift=lambda b, s, beta, mean: beta - s * mean), "Linear bias b is missing"),
        (fold_with(shift=lambda b, s, beta, mean: b + beta - s * mean), "must be scaled by gamma"),
        (
            lambda W, b, gamma, beta, mean, var, eps: (
                (gamma / torch.sqrt(var + eps))[:, None] * W,
                gamma / torch.sqrt(var + eps) * (b - mean) + beta,
            ),
            r"raised TypeError: .* b is None for a Linear\(bias=False\)",
        ),
        (lambda W, b, gamma, beta, mean, var, eps: W, "return a pair"),
    ],
)
def test_fold_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_fold(answer)


def test_fold_columns_hint_on_the_square_case():
    def columns(W, b, gamma, beta, mean, var, eps):  # right on non-square layers only by luck
        s = gamma / torch.sqrt(var + eps)
        scaled = W * s if W.shape[0] == W.shape[1] else s[:, None] * W
        return scaled, s * ((0 if b is None else b) - mean) + beta

    with pytest.raises(AssertionError, match="you scaled the columns of W"):
        nb.check_fold(columns)
