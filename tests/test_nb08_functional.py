"""Notebook 08: utils.nb08_functional (FLOPs, timing, the matrix-product demo and its blocks)
against PyTorch, and the self-checks against right and typical wrong answers."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from torch import nn
from torch.func import grad, vmap
from torch.utils.flop_counter import FlopCounterMode

from scripts.series import cell_text, definitions_from_notebook
from utils import nb08_functional as nb
from utils.check import NOT_ATTEMPTED_MARK, PASS_MARK

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "08_functional_linear.ipynb"
SOLUTIONS = definitions_from_notebook(NOTEBOOK, "linear_forward", "per_sample_grad_norms")

# ------------------------------------------------------------------ FLOPs, timing, GFLOP/s


@pytest.mark.parametrize(("batch", "d_in", "d_out"), [(1, 1, 1), (32, 784, 256), (3, 7, 5)])
def test_linear_flops_agrees_with_torch_flop_counter(batch, d_in, d_out):
    layer = nn.Linear(d_in, d_out)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        layer(torch.randn(batch, d_in))
    assert nb.linear_flops(batch, d_in, d_out) == counter.get_total_flops()
    assert nb.linear_flops(batch, d_in, d_out) == 2 * batch * d_in * d_out


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: nb.linear_flops(0, 3, 3), ValueError, "batch must be at least 1"),
        (lambda: nb.linear_flops(2, 3.0, 3), TypeError, "in_features must be an int"),
        (lambda: nb.linear_timings(4, 0, 4), ValueError, "in_features must be at least 1"),
        (lambda: nb.matmul_peak_gflops(0), ValueError, "size must be at least 1"),
        (lambda: nb.matmul_peak_gflops(8, repeats=0), ValueError, "repeats must be at least 1"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_gflops_per_second():
    assert nb.gflops_per_second(3e9, 1.5) == pytest.approx(2.0)
    assert nb.gflops_per_second(0, 1.0) == 0.0


class FakeClock:
    """A perf_counter stand-in: each call of the timed function costs a scripted duration."""

    def __init__(self, durations: list[float]) -> None:
        self.now = 0.0
        self.durations = durations
        self.calls = 0

    def perf_counter(self) -> float:
        return self.now

    def work(self) -> None:
        self.now += self.durations[self.calls % len(self.durations)]
        self.calls += 1


def test_time_call_takes_the_median_after_the_warmup(monkeypatch):
    clock = FakeClock([9.0, 9.0, 1.0, 1.0, 5.0, 2.0])  # 2 warm-ups, then 3 repeats
    monkeypatch.setattr(nb.time, "perf_counter", clock.perf_counter)
    seconds = nb.time_call(clock.work, repeats=3, warmup=2, min_repeat_seconds=1.5)
    assert clock.calls == 2 + 2 + 1 + 1  # 1 s calls: two fill a 1.5 s repeat; 5 s, 2 s: one
    assert seconds == 2.0  # per-call means 1, 5, 2 → median 2 (the slow warm-ups not counted)


def test_time_call_adapts_the_number_of_calls_to_the_minimum_duration(monkeypatch):
    clock = FakeClock([1e-4])
    monkeypatch.setattr(nb.time, "perf_counter", clock.perf_counter)
    seconds = nb.time_call(clock.work, repeats=3, warmup=1, min_repeat_seconds=1e-3)
    assert seconds == pytest.approx(1e-4)
    assert clock.calls == pytest.approx(1 + 3 * 10, abs=3)  # about 10 calls fill 1 ms


def test_time_call_runs_a_slow_call_once_per_repeat(monkeypatch):
    clock = FakeClock([0.5])
    monkeypatch.setattr(nb.time, "perf_counter", clock.perf_counter)
    assert nb.time_call(clock.work, repeats=3, warmup=0) == 0.5
    assert clock.calls == 3


def test_linear_timings_reports_every_variant():
    timings = nb.linear_timings(4, 16, 8, repeats=2, warmup=1)
    assert list(timings) == list(nb.LINEAR_VARIANTS)
    assert all(0 < seconds < 1 for seconds in timings.values())


def test_matmul_peak_is_a_positive_rate():
    assert nb.matmul_peak_gflops(32, repeats=2, warmup=0) > 0


# ------------------------------------------------------------ the matrix-product demo (§3)


@settings(max_examples=30, deadline=None)
@given(
    batch=st.integers(1, 8),
    d_in=st.integers(1, 8),
    d_out=st.integers(1, 8),
    row=st.integers(-2, 10),
    col=st.integers(-2, 10),
)
def test_output_element_three_ways_agree_and_clamps(batch, d_in, d_out, row, col):
    element = nb.output_element(batch, d_in, d_out, row, col)
    assert (element.row, element.col) == (min(max(row, 0), batch - 1), min(max(col, 0), d_out - 1))
    assert element.clamped == ((element.row, element.col) != (row, col))
    Y = element.X @ element.W.T + element.b
    assert element.functional == pytest.approx(float(Y[element.row, element.col]), abs=1e-5)
    assert element.module == pytest.approx(element.functional, abs=1e-5)
    assert element.explicit == pytest.approx(element.functional, abs=1e-5)


def test_output_element_bad_size():
    with pytest.raises(ValueError, match="batch must be at least 1"):
        nb.output_element(0, 3, 4, 0, 0)


@pytest.fixture
def ax():
    return Figure().add_subplot()


def test_blocks_hold_the_four_matrices_and_the_outlines(ax):
    X, W, b = torch.randn(3, 4), torch.randn(2, 4), torch.randn(2)
    artists = nb.matmul_blocks(ax, X, W, b, row=2, col=1)
    np.testing.assert_allclose(artists["X"].get_array(), X.numpy())
    np.testing.assert_allclose(artists["WT"].get_array(), W.T.numpy())
    np.testing.assert_allclose(artists["b"].get_array(), b[None, :].numpy())
    np.testing.assert_allclose(artists["Y"].get_array(), (X @ W.T + b).numpy(), rtol=1e-6)
    # blocks sit left to right without overlapping: X, then Wᵀ, then b, then Y
    extents = [artists[key].get_extent() for key in ("X", "WT", "b", "Y")]
    assert all(left[1] < right[0] for left, right in itertools.pairwise(extents))
    assert artists["X"].get_extent() == pytest.approx((0.0, 4.0, 3.0, 0.0))  # row 0 on top
    assert artists["row"].get_xy() == (0, 2) and artists["row"].get_width() == 4
    wt_left, b_left, y_left = (artists[key].get_extent()[0] for key in ("WT", "b", "Y"))
    assert artists["col"].get_xy() == (wt_left + 1, 0) and artists["col"].get_height() == 4
    assert artists["bias"].get_xy() == (b_left + 1, 0)
    assert artists["cell"].get_xy() == (y_left + 1, 2)
    assert not ax.axison


def test_demo_readout_names_the_clamp_and_the_three_values():
    fig = Figure()
    text = nb.draw_matrix_product(fig, 2, 5, 3, row=7, col=1)
    element = nb.output_element(2, 5, 3, 7, 1)
    assert text.startswith("Y[1, 1]: F.linear")
    assert f"{element.explicit:+.4f}" in text
    assert "clamped from (7, 1) to fit the 2×3 output" in text
    assert "Σⱼ X[1, j]·W[1, j] + b[1]" in fig.axes[0].get_title()
    assert " + …" in fig.axes[0].get_title()  # 5 products: the title shows 3 and "…"
    assert "clamped" not in nb.draw_matrix_product(Figure(), 2, 2, 3, row=1, col=1)


# ------------------------------------------------------------------------------ self-checks


def stub(*_args):
    raise NotImplementedError("fill in")


def solution_cell(check_name: str) -> str:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    tagged = [cell_text(c) for c in cells if "solution" in c["metadata"].get("tags", [])]
    return next(source for source in tagged if check_name in source)


def test_the_notebooks_prediction_solution_passes(capsys):
    namespace = {"nb": nb, "nn": nn, "torch": torch, "FlopCounterMode": FlopCounterMode}
    exec(solution_cell("check_flops_prediction"), namespace)
    assert PASS_MARK in capsys.readouterr().out


def norms_by_formula(weight, bias, X, labels):
    """Closed form: ∇_b ℓ = softmax(z) − one_hot(y), ∇_W ℓ = ∇_b ℓ xᵀ."""
    residual = torch.softmax(F.linear(X, weight, bias), dim=-1) - F.one_hot(labels, len(bias))
    return residual.norm(dim=1) * (X.square().sum(dim=1) + 1).sqrt()


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (nb.check_linear_forward, SOLUTIONS["linear_forward"]),
        (
            nb.check_linear_forward,
            lambda x, w, b=None: torch.matmul(x, w.t()) + (0 if b is None else b),
        ),
        (
            nb.check_linear_forward,
            lambda x, w, b=None: torch.einsum("...j,ij->...i", x, w) + (0 if b is None else b),
        ),
        (nb.check_flops_prediction, 460_000),
        (nb.check_flops_prediction, 460_000.0),
        (nb.check_flops_prediction, torch.tensor(460_000)),
        (nb.check_flops_prediction, np.int64(460_000)),
        (nb.check_per_sample_grad_norms, SOLUTIONS["per_sample_grad_norms"]),
        (nb.check_per_sample_grad_norms, norms_by_formula),
    ],
)
def test_right_answers_pass(check, answer, capsys):
    check(answer)
    assert capsys.readouterr().out.startswith(PASS_MARK)


@pytest.mark.parametrize(
    ("check", "untouched"),
    [
        (nb.check_linear_forward, stub),
        (nb.check_flops_prediction, ...),
        (nb.check_per_sample_grad_norms, stub),
    ],
)
def test_untouched_stubs_are_not_attempted(check, untouched, capsys):
    check(untouched)
    assert NOT_ATTEMPTED_MARK in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (
            lambda x, w, b=None: F.linear(x, w, b),
            "you called linear, which this exercise rules out",
        ),
        (
            lambda x, w, b=None: nn.functional.linear(x, w, b),
            "rules out: write the formula yourself",
        ),
        (
            lambda x, w, b=None: x @ w + (0 if b is None else b),
            r"raised RuntimeError: mat1 and mat2 .* weight is \(d_out, d_in\)",
        ),
        (lambda x, w, b=None: x @ w.T, "the bias is missing"),
        (lambda x, w, b=None: x @ w.T + b, r"bias=None\) raised TypeError"),
        (
            lambda x, w, b=None: torch.mm(x, w.T) + (0 if b is None else b),
            r"x of shape \(4,\).* raised RuntimeError",
        ),
        (
            lambda x, w, b=None: (x @ w.T + (0 if b is None else b)).float(),
            "expected torch.float64, got torch.float32",
        ),
        (
            lambda x, w, b=None: x.reshape(-1, x.shape[-1]) @ w.T + (0 if b is None else b),
            r"expected shape \(2,\), got shape \(1, 2\)",
        ),
    ],
)
def test_linear_forward_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_linear_forward(answer)


def test_linear_forward_transposed_weight_on_a_square_layer():
    def transposed_when_square(x, w, b=None):  # right on non-square layers, wrong on square ones
        y = x @ w if w.shape[0] == w.shape[1] else x @ w.T
        return y if b is None else y + b

    with pytest.raises(AssertionError, match=r"multiply by weight\.T, not weight"):
        nb.check_linear_forward(transposed_when_square)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (230_000, "counts multiply-adds"),
        (92_000, "every leading dimension multiplies the work"),
        (115_000, "every leading dimension multiplies the work"),
        (220_000, "forward pass only"),
        (660_000, "autograd skips ∂L/∂x in the first layer"),
        (440_000, "also computes ∂L/∂h"),
        (461_200, "leave out the bias additions"),
        (500_000, "is off"),
        ("many", "expected a number"),
    ],
)
def test_flops_prediction_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_flops_prediction(answer)


def per_sample_parts(weight, bias, X, labels):
    def loss(w, b, x, label):
        return F.cross_entropy(F.linear(x, w, b), label)

    g_w, g_b = vmap(grad(loss, argnums=(0, 1)), in_dims=(None, None, 0, 0))(weight, bias, X, labels)
    return g_w.square().sum(dim=(1, 2)), g_b.square().sum(dim=1)


def batch_gradient_norm(weight, bias, X, labels):
    w, b = weight.clone().requires_grad_(), bias.clone().requires_grad_()
    g_w, g_b = torch.autograd.grad(F.cross_entropy(F.linear(X, w, b), labels), (w, b))
    return (g_w.square().sum() + g_b.square().sum()).sqrt()


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda *args: per_sample_parts(*args)[0].sqrt(), "the bias gradient is missing"),
        (lambda *args: sum(per_sample_parts(*args)), "squared norms"),
        (lambda *args: sum(part.sqrt() for part in per_sample_parts(*args)), "norms do not add"),
        (batch_gradient_norm, "norm of the whole batch's gradient"),
        (
            lambda w, b, X, y: vmap(
                grad(lambda w, x, t: F.cross_entropy(F.linear(x, w, b), t)), in_dims=(0, 0, 0)
            )(w, X, y),
            r"raised ValueError: vmap.* maps over samples",
        ),
        (lambda *args: norms_by_formula(*args) * 2, "the values are off"),
    ],
)
def test_per_sample_grad_norms_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_per_sample_grad_norms(answer)


@settings(max_examples=20, deadline=None)
@given(
    shape=st.lists(st.integers(0, 3), min_size=0, max_size=3),
    d_in=st.integers(1, 4),
    bias=st.booleans(),
)
def test_notebook_linear_forward_equals_f_linear(shape, d_in, bias):
    x, weight = torch.randn(*shape, d_in), torch.randn(3, d_in)
    b = torch.randn(3) if bias else None
    torch.testing.assert_close(SOLUTIONS["linear_forward"](x, weight, b), F.linear(x, weight, b))
