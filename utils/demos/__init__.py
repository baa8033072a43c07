"""The series' slider demos, one module each.

Each module defines ``build_demo() -> SliderDemo`` (all arguments optional) on top of a
pure compute function and a ``draw_*(fig, **values)`` function. :func:`all_demos` finds
them, so tests and benchmarks sweep every demo's sliders without a hand-kept list.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from utils.widgets import SliderDemo


def all_demos() -> dict[str, Callable[[], SliderDemo]]:
    """Map each demo module's name to its ``build_demo`` function.

    >>> "affine_grid" in all_demos()
    True
    """
    found: dict[str, Callable[[], SliderDemo]] = {}
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        build = getattr(module, "build_demo", None)
        if callable(build):
            found[module_info.name] = build
    return dict(sorted(found.items()))
