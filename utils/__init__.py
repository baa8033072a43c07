"""Helpers for the torch.nn.Linear notebook series, one module per notebook.

A notebook imports its own module, e.g. ``from utils import nb03_initialization as nb``, so a
reader knows where to look. Importing ``utils`` does no work: no seeding, no printing, no style
changes, no widgets built.

One module per notebook (its compute helpers, one-off plots, slider demo, exercise checks):

- :mod:`utils.nb01_affine`: affine maps ``y = A x + b``, the plane-warping demo. 01
- :mod:`utils.nb02_nn_linear`: what goes into and comes out of ``nn.Linear``, its errors. 02
- :mod:`utils.nb03_initialization`: init schemes, signals through deep stacks, diagnostics. 03
- :mod:`utils.nb04_gradients`: the gradients of a linear layer by hand. 04
- :mod:`utils.nb05_optimizers`: optimisers and learning rates on a loss surface. 05
- :mod:`utils.nb06_mlp`: small MLPs, two-moons data, decision boundaries. 06
- :mod:`utils.nb07_batchnorm`: the running-statistics demo, BatchNorm self-checks. 07
- :mod:`utils.nb08_functional`: ``F.linear``, FLOPs, timing and GFLOP/s. 08
- :mod:`utils.nb09_modern_models`: LoRA, quantisation, tensor parallelism helpers. 09

Shared by two or more notebooks:

- :mod:`utils.plot`: Axes-first drawings (weight heatmap, vector bars, per-layer and loss curves).
- :mod:`utils.widgets`: slider demos that redraw one owned figure in place.
- :mod:`utils.check`: the rules every exercise self-check follows.
- :mod:`utils._validate`: input checks that name what arrived and what was expected.
- :func:`threads`, below: run a block on a given number of CPU threads.
- :func:`set_language` and :func:`tr`, below: what the helpers print (self-check hints, demo
  readouts) follows the edition's language, from one catalogue (``utils/messages.zh.json``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import torch

LANGUAGES = ("en", "zh")
_language = "en"


def set_language(code: str) -> None:
    """Print self-check hints and demo readouts in ``"en"`` (default) or ``"zh"``.

    Each edition's setup cell calls it once, e.g. ``utils.set_language("zh")``.
    """
    global _language
    if code not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}; got {code!r}")
    _language = code


@cache
def _catalogue(code: str) -> dict[str, str]:
    path = Path(__file__).with_name(f"messages.{code}.json")
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def tr(template: str, /, **values: object) -> str:
    """``template`` (written in English, with ``{name}`` fields) in the current language.

    The English text is the key into the catalogue; a message missing there stays English.

    >>> tr("expected shape {shape}", shape=(2, 3))
    'expected shape (2, 3)'
    """
    text = template if _language == "en" else _catalogue(_language).get(template, template)
    return text.format(**values) if values else text


@contextmanager
def threads(count: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(count)``, then restore the previous count.

    Tiny layers gain nothing from several threads: starting and joining them costs more than
    the arithmetic, and on a busy machine a thread may wait for a free core on every op.
    Used in notebooks 06–08 and by their demos.

    >>> before = torch.get_num_threads()
    >>> with threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive int; got {count!r}")
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
