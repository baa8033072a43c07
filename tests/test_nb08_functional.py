"""Notebook 08: utils.nb08_functional (FLOPs, timing, GFLOP/s, the matrix-product demo and its
blocks) against PyTorch, and the self-checks against right and typical wrong answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from scripts.series import definitions_from_notebook
from utils import nb08_functional as nb
from utils.check import NOT_ATTEMPTED_MARK, PASS_MARK

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "08_functional_linear.ipynb"
SOLUTIONS = definitions_from_notebook(
    NOTEBOOK, "linear_forward", "linear_flops", "per_sample_grads"
)

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
        (lambda: nb.gflops_per_second(1e9, 0.0), ValueError, "seconds must be > 0"),
        (lambda: nb.gflops_per_second(-1.0, 1.0), ValueError, "flops must be >= 0"),
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


@pytest.fixture
def ax():
    return Figure().add_subplot()


def test_gflops_curves_log_log_with_peak(ax):
    artists = nb.gflops_curves(
        ax, [1, 4, 16], {"F.linear": [1.0, 3.0, 9.0], "nn.Linear": [0.5, 2.0, 8.0]}, peak=20.0
    )
    assert set(artists) == {"F.linear", "nn.Linear", "peak"}
    np.testing.assert_allclose(artists["F.linear"].get_ydata(), [1.0, 3.0, 9.0])
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert artists["peak"].get_ydata()[0] == 20.0
    assert "20 GFLOP/s" in artists["peak"].get_label()


def test_gflops_curves_ticks_at_points(ax):
    nb.gflops_curves(ax, [1, 4, 16], {"a": [1.0, 2.0, 3.0]}, ticks_at_points=True)
    np.testing.assert_allclose(ax.get_xticks(), [1, 4, 16])
    assert [label.get_text() for label in ax.get_xticklabels()] == ["1", "4", "16"]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda ax: nb.gflops_curves(None, [1, 2], {"a": [1.0, 2.0]}), TypeError, "Axes"),
        (lambda ax: nb.gflops_curves(ax, [1, 2], {}), ValueError, "curves is empty"),
        (
            lambda ax: nb.gflops_curves(ax, [1, 2], {"a": [1.0]}),
            ValueError,
            r"curves\['a'\] must have shape",
        ),
        (lambda ax: nb.gflops_curves(ax, [1, 2], {"a": [1.0, 0.0]}), ValueError, "positive"),
        (
            lambda ax: nb.gflops_curves(ax, [1, 2], {"a": [1.0, 2.0]}, peak=0.0),
            ValueError,
            "peak must be > 0",
        ),
    ],
)
def test_gflops_curves_bad_input(ax, call, error, message):
    with pytest.raises(error, match=message):
        call(ax)


# ------------------------------------------------------------ the matrix-product demo (§8)


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


def test_blocks_hold_the_four_matrices(ax):
    X, W, b = torch.randn(3, 4), torch.randn(2, 4), torch.randn(2)
    artists = nb.matmul_blocks(ax, X, W, b)
    np.testing.assert_allclose(artists["X"].get_array(), X.numpy())
    np.testing.assert_allclose(artists["WT"].get_array(), W.T.numpy())
    np.testing.assert_allclose(artists["b"].get_array(), b[None, :].numpy())
    np.testing.assert_allclose(artists["Y"].get_array(), (X @ W.T + b).numpy(), rtol=1e-6)
    assert "row" not in artists  # nothing highlighted unless asked
    # blocks sit left to right without overlapping: X, then Wᵀ, then b, then Y
    lefts = [artists[key].get_extent()[0] for key in ("X", "WT", "b", "Y")]
    rights = [artists[key].get_extent()[1] for key in ("X", "WT", "b", "Y")]
    assert all(r < next_left for r, next_left in zip(rights, lefts[1:], strict=False))
    assert artists["X"].get_extent() == pytest.approx((0.0, 4.0, 3.0, 0.0))  # row 0 on top


def test_highlights_sit_on_the_row_the_column_and_the_output(ax):
    X, W, b = torch.randn(3, 4), torch.randn(2, 4), torch.randn(2)
    artists = nb.matmul_blocks(ax, X, W, b, row=2, col=1)
    assert artists["row"].get_xy() == (0, 2) and artists["row"].get_width() == 4
    wt_left = artists["WT"].get_extent()[0]
    assert artists["col"].get_xy() == (wt_left + 1, 0) and artists["col"].get_height() == 4
    b_left = artists["b"].get_extent()[0]
    assert artists["bias"].get_xy() == (b_left + 1, 0)
    y_left = artists["Y"].get_extent()[0]
    assert artists["cell"].get_xy() == (y_left + 1, 2)
    assert not ax.axison


def test_blocks_without_bias(ax):
    artists = nb.matmul_blocks(ax, torch.ones(2, 2), torch.ones(3, 2), row=0, col=2)
    assert "b" not in artists and "bias" not in artists
    np.testing.assert_allclose(artists["Y"].get_array(), np.full((2, 3), 2.0))


def test_demo_readout_names_the_clamp_and_the_three_values():
    fig = Figure()
    text = nb.draw_matrix_product(fig, 2, 5, 3, row=7, col=1)
    element = nb.output_element(2, 5, 3, 7, 1)
    assert text.startswith("Y[1, 1]: F.linear")
    assert f"{element.explicit:+.4f}" in text
    assert "clamped from (7, 1) to fit the 2×3 output" in text
    assert " + …" in fig.axes[0].get_title()  # 5 products: the title shows 3 and "…"
    assert "clamped" not in nb.draw_matrix_product(Figure(), 2, 2, 3, row=1, col=1)


# ------------------------------------------------------------------------------ self-checks


def stub(*_args):
    raise NotImplementedError("fill in")


def per_sample_by_formula(weight, X, Y):
    residual = X @ weight.T - Y  # (N, out)
    return 2 * residual[:, :, None] * X[:, None, :]  # 2 (W xᵢ − yᵢ) xᵢᵀ


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (nb.check_linear_forward, SOLUTIONS["linear_forward"]),
        (nb.check_linear_flops, SOLUTIONS["linear_flops"]),
        (nb.check_linear_flops, lambda batch, d_in, d_out: float(2 * batch * d_in * d_out)),
        (nb.check_linear_flops, lambda batch, d_in, d_out: torch.tensor(2 * batch * d_in * d_out)),
        (nb.check_linear_flops, lambda batch, d_in, d_out: np.int64(2 * batch * d_in * d_out)),
        (nb.check_per_sample_grads, SOLUTIONS["per_sample_grads"]),
        (nb.check_per_sample_grads, per_sample_by_formula),
    ],
)
def test_right_answers_pass_and_stubs_are_not_attempted(check, answer, capsys):
    check(answer)
    assert capsys.readouterr().out.startswith(PASS_MARK)
    check(stub)
    assert NOT_ATTEMPTED_MARK in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (
            lambda x, weight, bias=None: x @ weight.T + (1.0 if bias is None else bias),
            "linear_forward with bias=None: the values are off",
        ),
        (lambda x, weight, bias=None: (x @ weight.T + bias).sum(), "expected shape"),
        (lambda x, weight, bias=None: (x @ weight.T + bias).tolist(), "expected a torch.Tensor"),
    ],
)
def test_linear_forward_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_linear_forward(answer)


def test_linear_forward_that_ignores_leading_dims_fails():
    def only_2d(x, weight, bias=None):
        y = torch.mm(x.reshape(-1, x.shape[-1]), weight.T)
        return y if bias is None else y + bias

    with pytest.raises(AssertionError, match="leading dims"):
        nb.check_linear_forward(only_2d)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda batch, d_in, d_out: batch * d_in * d_out, "counts multiply-adds"),
        (
            lambda batch, d_in, d_out: 2 * batch * d_in * d_out + batch * d_out,
            r"expected 2, got 3\.",
        ),
        (lambda batch, d_in, d_out: torch.tensor([2 * batch * d_in * d_out]), r"shape \(1,\)"),
        (lambda batch, d_in, d_out: "many", "expected a number"),
        (lambda batch, d_in, d_out: True, "expected a number, got bool"),
    ],
)
def test_linear_flops_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_linear_flops(answer)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda weight, X, Y: per_sample_by_formula(weight, X, Y).sum(0), "whole batch's gradient"),
        (lambda weight, X, Y: per_sample_by_formula(weight, X, Y) / 2, "the values are off"),
    ],
)
def test_per_sample_hints(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_per_sample_grads(answer)


def test_notebook_linear_forward_equals_f_linear_with_leading_dims():
    x, weight, bias = torch.randn(2, 5, 3, 10), torch.randn(4, 10), torch.randn(4)
    forward = SOLUTIONS["linear_forward"]
    torch.testing.assert_close(forward(x, weight, bias), F.linear(x, weight, bias))
    torch.testing.assert_close(forward(x, weight), F.linear(x, weight))
