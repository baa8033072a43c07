"""How fast is a linear layer on this machine? nn.Linear vs F.linear vs x @ W.T + b.

Run from the repository root:  .venv/bin/python -m benchmarks.matmul

Prints a table: for growing layer sizes (tiny to 4096 wide) the median forward time of
each variant, the layer's FLOPs (2 · batch · in · out) and the achieved GFLOP/s, next to the
machine's measured float32 matmul peak (a large square product). The table is printed once
with all of torch's threads and once with one thread. Prints only, asserts nothing; finishes
in well under a minute. Notebook 08 shows a small, quick version of it with a plot.
"""

from __future__ import annotations

import platform
import time

import torch

from utils import threads
from utils.nb08_functional import (
    LINEAR_VARIANTS,
    gflops_per_second,
    linear_flops,
    linear_timings,
    matmul_peak_gflops,
)

#: (batch, in_features, out_features), from overhead-bound to compute-bound.
SIZES = (
    (1, 8, 8),
    (64, 8, 8),
    (64, 64, 64),
    (1, 1024, 1024),
    (64, 256, 256),
    (64, 1024, 1024),
    (256, 1024, 1024),
    (1, 4096, 4096),
    (256, 4096, 4096),
)
PEAK_SIZE = 2048
REPEATS = 3
PEAK_REPEATS = 5


def table_row(batch: int, d_in: int, d_out: int) -> tuple[dict[str, float], int]:
    """Median seconds of each variant and the layer's FLOPs."""
    timings = linear_timings(batch, d_in, d_out, repeats=REPEATS, warmup=1)
    return timings, linear_flops(batch, d_in, d_out)


def table(thread_count: int) -> None:
    """Measure the peak and every size with ``thread_count`` threads; print the table."""
    with threads(thread_count):
        peak_before = matmul_peak_gflops(PEAK_SIZE, repeats=PEAK_REPEATS)
        rows = [table_row(batch, d_in, d_out) for batch, d_in, d_out in SIZES]
        peak_after = matmul_peak_gflops(PEAK_SIZE, repeats=PEAK_REPEATS)
    peak = max(peak_before, peak_after)  # a busy moment on a shared machine must not set it
    print(
        f"\n== {thread_count} thread(s): measured float32 matmul peak "
        f"({PEAK_SIZE}×{PEAK_SIZE} @ {PEAK_SIZE}×{PEAK_SIZE}, fastest of {2 * PEAK_REPEATS} runs) "
        f"= {peak:.1f} GFLOP/s"
    )
    times = " ".join(f"{v + ' µs':>12}" for v in LINEAR_VARIANTS)
    rates = " ".join(f"{name:>9}" for name in ("GF/s nn", "GF/s F", "GF/s @"))
    print(f"{'batch':>6} {'in':>6} {'out':>6} {'FLOPs':>14} {times}  {rates} {'of peak':>8}")
    for (batch, d_in, d_out), (timings, flops) in zip(SIZES, rows, strict=True):
        times = " ".join(f"{timings[v] * 1e6:12.1f}" for v in LINEAR_VARIANTS)
        rates = [gflops_per_second(flops, timings[v]) for v in LINEAR_VARIANTS]
        rate_text = " ".join(f"{rate:9.2f}" for rate in rates)
        share = max(rates) / peak
        print(f"{batch:>6} {d_in:>6} {d_out:>6} {flops:>14,} {times}  {rate_text} {share:8.0%}")


def main() -> None:
    start = time.perf_counter()
    all_threads = torch.get_num_threads()
    print(f"torch {torch.__version__} on {platform.machine()}")
    print(f"torch.get_num_threads() = {all_threads}")
    print(f"forward only (no_grad); each time is the median of {REPEATS} repeats after a warm-up")
    for thread_count in sorted({all_threads, 1}, reverse=True):
        table(thread_count)
    print(
        "\n'of peak' = the best of the three variants / the peak measured with the same threads;"
        "\nit can pass 100 %: mid-size products that fit in cache beat the large square one,"
        "\nand timings on a shared machine are noisy."
        "\nTiny layers are overhead-bound (microseconds per call whatever the FLOPs); batch 1 is"
        "\nmemory-bound (every weight is read for one use); large batches approach the peak."
        "\nOn a busy machine, extra threads that wait for a free core can make things slower."
    )
    print(f"total time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
