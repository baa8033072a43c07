"""What a linear layer costs: FLOPs, careful wall-clock timing, GFLOP/s (notebook 07).

A linear layer ``Y = X Wᵀ + b`` with ``X`` of shape ``(batch, in)`` and ``W`` of shape
``(out, in)`` does ``batch · out`` dot products of length ``in``: ``in`` multiplies and
``in`` adds each, so ``2 · batch · in · out`` floating-point operations (the bias adds
``batch · out`` more, negligible and not counted, as is the convention).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from utils._validate import require_positive_int

#: The three ways notebook 07 computes a linear layer, in the order they are reported.
LINEAR_VARIANTS = ("nn.Linear", "F.linear", "x @ W.T + b")


def linear_flops(batch: int, in_features: int, out_features: int) -> int:
    """Floating-point operations of one linear layer: ``2 · batch · in · out``.

    >>> linear_flops(32, 1024, 1024)
    67108864
    """
    for value, name in ((batch, "batch"), (in_features, "in_features"), (out_features, "out")):
        require_positive_int(value, name=name)
    return 2 * batch * in_features * out_features


def gflops_per_second(flops: float, seconds: float) -> float:
    """Throughput in GFLOP/s (10⁹ floating-point operations per second).

    >>> gflops_per_second(2e9, 0.5)
    4.0
    """
    if flops < 0:
        raise ValueError(f"flops must be >= 0; got {flops}")
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0; got {seconds}")
    return flops / seconds / 1e9


def time_call(
    fn: Callable[[], object],
    *,
    repeats: int = 7,
    warmup: int = 2,
    number: int | None = None,
    min_repeat_seconds: float = 1e-3,
) -> float:
    """Median seconds per call of ``fn()``, measured with ``time.perf_counter``.

    ``warmup`` untimed calls come first (first calls pay for allocation and dispatch
    caches). Each of the ``repeats`` measurements calls ``fn`` in a loop and divides the
    elapsed time by the number of calls: ``number`` calls if given, otherwise as many as fit
    in ``min_repeat_seconds`` (at least one), which keeps microsecond calls above the clock's
    noise and bounds the total time. The median ignores a repeat slowed down by another process.

    >>> seconds = time_call(lambda: sum(range(100)), repeats=3)
    >>> 0 < seconds < 1
    True
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable with no arguments; got {type(fn).__name__}")
    require_positive_int(repeats, name="repeats")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0; got {warmup!r}")
    if number is not None:
        require_positive_int(number, name="number")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        calls = 0
        start = time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if calls == number or (number is None and elapsed >= min_repeat_seconds):
                break
        samples.append(elapsed / calls)
    return statistics.median(samples)


def linear_timings(
    batch: int,
    in_features: int,
    out_features: int,
    *,
    repeats: int = 5,
    warmup: int = 2,
    seed: int = 0,
) -> dict[str, float]:
    """Median forward seconds of ``nn.Linear``, ``F.linear`` and ``x @ W.T + b`` (same numbers).

    Timed under ``torch.no_grad()``: the forward pass alone, no autograd graph. All three
    compute the same output (checked before timing).

    >>> timings = linear_timings(4, 8, 8, repeats=3)
    >>> list(timings) == list(LINEAR_VARIANTS), all(t > 0 for t in timings.values())
    (True, True)
    """
    linear_flops(batch, in_features, out_features)  # validates the sizes
    generator = torch.Generator().manual_seed(seed)
    layer = nn.Linear(in_features, out_features)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(out_features, in_features, generator=generator))
        layer.bias.copy_(torch.randn(out_features, generator=generator))
    x = torch.randn(batch, in_features, generator=generator)
    weight, bias = layer.weight.detach(), layer.bias.detach()
    calls: dict[str, Callable[[], torch.Tensor]] = {
        "nn.Linear": lambda: layer(x),
        "F.linear": lambda: F.linear(x, weight, bias),
        "x @ W.T + b": lambda: x @ weight.T + bias,
    }
    with torch.no_grad():
        reference = calls["nn.Linear"]()
        for call in calls.values():
            torch.testing.assert_close(call(), reference, rtol=1e-4, atol=1e-4)
        return {
            name: time_call(call, repeats=repeats, warmup=warmup) for name, call in calls.items()
        }


def matmul_peak_gflops(size: int = 1024, *, repeats: int = 5, warmup: int = 1) -> float:
    """Measured float32 GFLOP/s of one large square ``A @ B`` (``2 · size³`` FLOPs), best repeat.

    A large square product is the best case for the CPU's matrix kernels: lots of work per
    byte moved. Its fastest run of ``repeats`` stands in for "the machine's peak" that a
    linear layer can approach (the fastest, not the median: a peak is the best the machine
    does, and slow runs are other processes getting in the way).

    >>> matmul_peak_gflops(64, repeats=2) > 0
    True
    """
    require_positive_int(size, name="size")
    require_positive_int(repeats, name="repeats")
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator)
    b = torch.randn(size, size, generator=generator)
    for _ in range(warmup):
        a @ b
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        samples.append(time.perf_counter() - start)
    return gflops_per_second(2 * size**3, min(samples))


@contextmanager
def threads(count: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(count)``, then restore the previous count.

    Tiny layers gain nothing from several threads: starting and joining them costs more than
    the arithmetic, and on a busy machine a thread may wait for a free core on every op.

    >>> before = torch.get_num_threads()
    >>> with threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    require_positive_int(count, name="count")
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
