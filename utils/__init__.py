"""Helpers for the torch.nn.Linear notebook series.

Import the module you need, e.g. ``from utils import plots, widgets``. Importing ``utils``
does no work: no seeding, no printing, no style changes, no widgets built.

Modules (one job each), in the order the series introduces them:

- :mod:`utils.affine`: affine maps ``y = A x + b`` as tensors (apply, compose, homogeneous form). 01
- :mod:`utils.shapes`: a tensor's shape explained in words. 01
- :mod:`utils.linear_shapes`: what goes into and comes out of ``nn.Linear``, and its errors. 02
- :mod:`utils.initialization`: the default init bound, named init schemes, deep stacks. 03
- :mod:`utils.stats`: record per-layer activations and gradients with hooks. 03
- :mod:`utils.scratch_linear`: a linear layer with a hand-written backward pass. 04
- :mod:`utils.training`: data, training loops, loss surfaces, small MLPs. 04-05
- :mod:`utils.batchnorm`: batch norm by hand, ``NormalizedLinear``, folding BN into Linear. 06
- :mod:`utils.functional`: FLOPs, timing and GFLOP/s of a linear layer. 07
- :mod:`utils.plots`: draw onto a given ``Axes`` (one sub-module per topic).
- :mod:`utils.widgets`: slider demos that redraw one owned figure in place.
- :mod:`utils.demos`: the series' slider demos, one module per demo.
- :mod:`utils.checks`: exercise self-checks with hints, one module per notebook topic.

"""

__all__ = [
    "affine",
    "batchnorm",
    "checks",
    "demos",
    "functional",
    "initialization",
    "linear_shapes",
    "plots",
    "scratch_linear",
    "series",
    "shapes",
    "stats",
    "training",
    "widgets",
]
