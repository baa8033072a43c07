"""utils.functional (FLOPs, timing, GFLOP/s) and the matrix-product demo's compute function."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from utils import functional
from utils.demos.matrix_product import output_element


@pytest.mark.parametrize(("batch", "d_in", "d_out"), [(1, 1, 1), (32, 784, 256), (3, 7, 5)])
def test_linear_flops_agrees_with_torch_flop_counter(batch, d_in, d_out):
    layer = nn.Linear(d_in, d_out)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        layer(torch.randn(batch, d_in))
    assert functional.linear_flops(batch, d_in, d_out) == counter.get_total_flops()
    assert functional.linear_flops(batch, d_in, d_out) == 2 * batch * d_in * d_out


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: functional.linear_flops(0, 3, 3), ValueError, "batch must be at least 1"),
        (lambda: functional.linear_flops(2, 3.0, 3), TypeError, "in_features must be an int"),
        (lambda: functional.gflops_per_second(1e9, 0.0), ValueError, "seconds must be > 0"),
        (lambda: functional.gflops_per_second(-1.0, 1.0), ValueError, "flops must be >= 0"),
        (lambda: functional.time_call(42), TypeError, "fn must be callable"),
        (lambda: functional.time_call(lambda: None, repeats=0), ValueError, "repeats"),
        (lambda: functional.time_call(lambda: None, warmup=-1), ValueError, "warmup"),
        (lambda: functional.time_call(lambda: None, number=0), ValueError, "number"),
        (lambda: functional.matmul_peak_gflops(0), ValueError, "size must be at least 1"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_gflops_per_second():
    assert functional.gflops_per_second(3e9, 1.5) == pytest.approx(2.0)
    assert functional.gflops_per_second(0, 1.0) == 0.0


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


def test_time_call_with_fixed_number_takes_the_median(monkeypatch):
    clock = FakeClock([0.0, 0.0, 1.0, 1.0, 5.0, 5.0, 2.0, 2.0])  # 2 warm-ups, then pairs
    monkeypatch.setattr(functional.time, "perf_counter", clock.perf_counter)
    seconds = functional.time_call(clock.work, repeats=3, warmup=2, number=2)
    assert clock.calls == 2 + 3 * 2
    assert seconds == 2.0  # per-call means 1, 5, 2 → median 2


def test_time_call_adapts_the_number_of_calls_to_the_minimum_duration(monkeypatch):
    clock = FakeClock([1e-4])
    monkeypatch.setattr(functional.time, "perf_counter", clock.perf_counter)
    seconds = functional.time_call(clock.work, repeats=3, warmup=1, min_repeat_seconds=1e-3)
    assert seconds == pytest.approx(1e-4)
    assert clock.calls == pytest.approx(1 + 3 * 10, abs=3)  # about 10 calls fill 1 ms


def test_time_call_runs_a_slow_call_once_per_repeat(monkeypatch):
    clock = FakeClock([0.5])
    monkeypatch.setattr(functional.time, "perf_counter", clock.perf_counter)
    assert functional.time_call(clock.work, repeats=3, warmup=0) == 0.5
    assert clock.calls == 3


def test_linear_timings_reports_every_variant():
    timings = functional.linear_timings(4, 16, 8, repeats=2, warmup=1)
    assert list(timings) == list(functional.LINEAR_VARIANTS)
    assert all(0 < seconds < 1 for seconds in timings.values())


def test_matmul_peak_is_a_positive_rate():
    assert functional.matmul_peak_gflops(32, repeats=2, warmup=0) > 0


def test_threads_restores_the_count_even_after_an_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="boom"), functional.threads(1):
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="count must be at least 1"), functional.threads(0):
        pass


@pytest.mark.parametrize(("batch", "d_in", "d_out"), [(1, 1, 1), (8, 8, 8), (3, 5, 2)])
def test_output_element_three_ways_agree(batch, d_in, d_out):
    for row in range(batch):
        for col in range(d_out):
            element = output_element(batch, d_in, d_out, row, col)
            Y = element.X @ element.W.T + element.b
            assert element.functional == pytest.approx(float(Y[row, col]), abs=1e-5)
            assert element.module == pytest.approx(element.functional, abs=1e-5)
            assert element.explicit == pytest.approx(element.functional, abs=1e-5)
            assert not element.clamped


def test_output_element_clamps_instead_of_failing():
    element = output_element(2, 3, 4, row=7, col=-3)
    assert (element.row, element.col, element.clamped) == (1, 0, True)
    with pytest.raises(ValueError, match="batch must be at least 1"):
        output_element(0, 3, 4, 0, 0)
