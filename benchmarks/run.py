"""Benchmark the series: install size, kernel floor, notebook run times, demo redraw latency,
and memory per learner (each notebook's kernel peak, JupyterLab's own footprint).

Prints Markdown tables (paste them into the README). Measures, never asserts: tests check
behaviour, this script reports speed.

Usage: python -m benchmarks.run [--repeats N] [--moves N] [--skip-notebooks] [--skip-demos]
                                [--skip-memory]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Kernels inherit this process's environment: let them pick JupyterLab's inline backend, as a
# learner's kernel would, so the notebook times include drawing every plot.
os.environ.pop("MPLBACKEND", None)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

#: What every notebook's setup cell pays before teaching anything: the floor.
FLOOR_SOURCE = """\
from importlib.metadata import version
import matplotlib.pyplot as plt
import torch
from torch import nn
import ipywidgets
from utils import plot, widgets
print({p: version(p) for p in ("torch", "matplotlib", "ipywidgets")})
"""


def folder_size_mb(folder: Path) -> float:
    total = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
    return total / 2**20


def kernel_floor_seconds(repeats: int) -> float:
    """Median time to start a kernel and run the series' imports, via the notebook runner."""
    import nbformat

    from scripts.series import execute_notebook

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FLOOR_SOURCE)])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "floor.ipynb"
        nbformat.write(notebook, path)
        return statistics.median(execute_notebook(path)[1] for _ in range(repeats))


def notebook_seconds(repeats: int) -> dict[str, float]:
    from scripts.series import execute_notebook, series

    return {
        book.path.name: statistics.median(execute_notebook(book.path)[1] for _ in range(repeats))
        for book in series(NOTEBOOKS)
    }


def sweep_values(control, moves: int) -> list[object]:
    """``moves`` values walking the control's range back and forth (options cycle)."""
    if hasattr(control, "options"):
        options = control.options
        values = (
            list(options.values())
            if isinstance(options, dict)
            else [o[1] if isinstance(o, tuple) else o for o in options]
        )
        return [values[i % len(values)] for i in range(1, moves + 1)]
    if hasattr(control, "min"):
        low, high = control.min, control.max
        steps = [low + (high - low) * (i % 8) / 7 for i in range(1, moves + 1)]
        if isinstance(control.value, int) and not isinstance(control.value, bool):
            steps = [round(v) for v in steps]
        return steps
    return [not control.value if i % 2 else control.value for i in range(1, moves + 1)]


def demo_latencies(moves: int) -> dict[str, list[float]]:
    """Seconds per control change (compute + draw + PNG), for every notebook module's demo."""
    from scripts.series import all_demos

    results = {}
    for name, build in all_demos().items():
        demo = build()
        times = []
        for control in demo.controls.values():
            default = control.value
            for value in sweep_values(control, moves):
                if value == control.value:
                    continue
                start = time.perf_counter()
                control.value = value
                times.append(time.perf_counter() - start)
            control.value = default
        results[name] = times
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per notebook (median)")
    parser.add_argument("--moves", type=int, default=12, help="slider moves per control")
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--skip-demos", action="store_true")
    parser.add_argument("--skip-memory", action="store_true", help="no kernel peaks (Linux)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()

    import torch

    figures: dict[str, object] = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    venv = ROOT / ".venv"
    print(
        f"## Environment\n\nPython {figures['python']}, torch {figures['torch']}, "
        f"{figures['cpu_count']} CPUs ({figures['torch_threads']} torch threads)"
    )
    if venv.is_dir():
        figures["venv_mb"] = folder_size_mb(venv)
        print(f"Installed environment (.venv): {figures['venv_mb']:.0f} MB")

    if not args.skip_notebooks:
        floor = kernel_floor_seconds(args.repeats)
        figures["floor_s"] = floor
        print(f"\n## Notebooks (median of {args.repeats} headless runs)\n")
        print(f"Kernel start + imports (the floor): **{floor:.2f} s**\n")
        print("| notebook | seconds | × floor |\n|---|---:|---:|")
        times = notebook_seconds(args.repeats)
        figures["notebooks_s"] = times
        for name, seconds in times.items():
            print(f"| {name} | {seconds:.2f} | {seconds / floor:.1f} |")

    if not args.skip_demos:
        latencies = demo_latencies(args.moves)
        figures["demos_ms"] = {
            name: {
                "median": 1000 * statistics.median(t),
                "p95": 1000 * percentile(t, 0.95),
                "moves": len(t),
            }
            for name, t in latencies.items()
        }
        print("\n## Slider demos (one move = compute + draw + PNG, in the kernel)\n")
        print("| demo | moves | median ms | p95 ms |\n|---|---:|---:|---:|")
        for name, row in figures["demos_ms"].items():
            print(f"| {name} | {row['moves']} | {row['median']:.0f} | {row['p95']:.0f} |")

    if not args.skip_memory and Path("/proc/self/status").exists():
        from benchmarks.memory import print_memory

        figures["memory"] = print_memory()

    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
