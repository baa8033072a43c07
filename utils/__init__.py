"""Helpers for the torch.nn.Linear notebook series.

Import the module you need, e.g. ``from utils import plots, widgets``. Importing ``utils``
does no work: no seeding, no printing, no style changes, no widgets built.

Modules (one job each):

- :mod:`utils.affine`: affine maps ``y = A x + b`` as tensors (apply, compose, homogeneous form).
- :mod:`utils.shapes`: a tensor's shape explained in words.
- :mod:`utils.plots`: draw weights, vectors and warped planes onto a given ``Axes``.
- :mod:`utils.widgets`: slider demos that redraw one owned figure in place.
- :mod:`utils.demos`: the series' slider demos, one module per demo.
- :mod:`utils.checks`: exercise self-checks with hints.
- :mod:`utils.series`: the notebook list, titles and navigation cells.
"""

__all__ = ["affine", "checks", "demos", "plots", "series", "shapes", "widgets"]
