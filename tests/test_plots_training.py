"""utils.plots.training draws what it says, onto the axes it is given, and rejects bad input."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from utils import plots
from utils.training import decision_grid, loss_surface, two_weight_problem


@pytest.fixture
def ax():
    return Figure().add_subplot()


def test_loss_curves_one_line_per_history_on_a_log_axis(ax):
    lines = plots.loss_curves(ax, {"SGD": [4.0, 2.0, 1.0], "Adam": torch.tensor([4.0, 1.0])})
    assert [line.get_label() for line in lines] == ["SGD", "Adam"]
    np.testing.assert_allclose(lines[0].get_ydata(), [4.0, 2.0, 1.0])
    np.testing.assert_allclose(lines[1].get_xdata(), [0, 1])
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "step"
    linear = Figure().add_subplot()
    plots.loss_curves(linear, {"x": [0.0, 1.0]}, log=False)
    assert linear.get_yscale() == "linear"


def test_trajectory_contour_draws_paths_inside_a_fixed_view(ax):
    X, Y, w_true = two_weight_problem(40)
    w1s, w2s, L = loss_surface(X, Y, w1_range=(-2, 3), w2_range=(-2, 2), resolution=20)
    far_away = torch.tensor([[0.0, 0.0], [50.0, -80.0]])  # a diverging path leaves the view
    artists = plots.trajectory_contour(
        ax, w1s, w2s, L, {"SGD": far_away, "Adam": [[0.0, 0.0], [1.0, -0.5]]}, target=w_true
    )
    assert [line.get_label() for line in artists["paths"]] == ["SGD", "Adam"]
    np.testing.assert_allclose(artists["paths"][0].get_xydata(), far_away.numpy())
    assert ax.get_xlim() == (-2.0, 3.0) and ax.get_ylim() == (-2.0, 2.0)  # view not rescaled
    levels = artists["contours"].levels
    np.testing.assert_allclose(np.diff(np.log(levels)), np.log(levels[1] / levels[0]))  # log


def test_trajectory_contour_of_a_flat_surface(ax):
    flat = torch.ones(3, 3)
    artists = plots.trajectory_contour(ax, torch.arange(3.0), torch.arange(3.0), flat, {})
    assert "target" not in artists and artists["paths"] == []


def test_unit_lines_lie_on_w_dot_x_plus_b_equals_zero(ax):
    W = torch.tensor([[1.0, 2.0], [3.0, -0.5], [0.0, 0.0]])
    b = torch.tensor([0.5, -1.0, 2.0])
    lines = plots.unit_lines(ax, W, b, limits=(-3, 3, -2, 2))
    assert len(lines) == 2  # the zero unit has no line
    for line, w, b_j in zip(lines, W[:2], b[:2], strict=True):
        points = torch.tensor(line.get_xydata())
        torch.testing.assert_close(points @ w.double() + b_j, torch.zeros(2, dtype=torch.float64))


def test_decision_boundary_with_a_real_model(ax):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    xs, ys, P = decision_grid(model, limits=(-2, 2, -2, 2), resolution=25)
    X = torch.randn(10, 2)
    y = torch.arange(10) % 2
    first = model[0]
    artists = plots.decision_boundary(
        ax, xs, ys, P, X, y, unit_weight=first.weight.detach(), unit_bias=first.bias.detach()
    )
    assert len(artists["points"]) == 2
    assert len(artists["units"]) == 3
    assert ax.get_xlim() == (-2.0, 2.0)


def test_decision_boundary_without_a_crossing_has_no_boundary_line(ax):
    grid = torch.linspace(0, 1, 5)
    artists = plots.decision_boundary(ax, grid, grid, torch.full((5, 5), 0.9), [[0.5, 0.5]], [1])
    assert artists["boundary"] is None and "units" not in artists


def test_train_val_curves_pair_up(ax):
    train, val = plots.train_val_curves(
        ax, [0, 5, 10], [1.0, 0.5, 0.2], [1.0, 0.6, 0.7], label="L2"
    )
    assert train.get_label() == "L2: train" and val.get_label() == "L2: val"
    assert train.get_color() == val.get_color()


def test_helpers_never_create_pyplot_figures(ax):
    before = plt.get_fignums()
    plots.loss_curves(ax, {"a": [1.0, 0.5]})
    plots.train_val_curves(Figure().add_subplot(), [0, 1], [1.0, 0.5], [1.0, 0.7])
    assert plt.get_fignums() == before


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda ax: plots.loss_curves("ax", {"a": [1.0]}), TypeError, "matplotlib Axes"),
        (lambda ax: plots.loss_curves(ax, [1.0, 2.0]), TypeError, "non-empty mapping"),
        (
            lambda ax: plots.loss_curves(ax, {"a": [1.0, float("nan")]}),
            ValueError,
            "contains nan or inf",
        ),
        (lambda ax: plots.loss_curves(ax, {"a": [1.0, 0.0]}), ValueError, "pass log=False"),
        (
            lambda ax: plots.trajectory_contour(
                ax, torch.arange(3.0), torch.arange(2.0), torch.ones(3, 3), {}
            ),
            ValueError,
            r"surface must have shape \(len\(w2s\), len\(w1s\)\) = \(2, 3\)",
        ),
        (
            lambda ax: plots.trajectory_contour(
                ax, torch.arange(2.0), torch.arange(2.0), torch.ones(2, 2), {"p": [[0.0, np.inf]]}
            ),
            ValueError,
            "nan or inf",
        ),
        (
            lambda ax: plots.unit_lines(ax, torch.ones(3, 3), torch.ones(3)),
            ValueError,
            r"weight must have shape \(width, 2\)",
        ),
        (
            lambda ax: plots.decision_boundary(
                ax, torch.arange(2.0), torch.arange(2.0), torch.full((2, 2), 2.0), [[0, 0]], [0]
            ),
            ValueError,
            r"probabilities in \[0, 1\]",
        ),
        (
            lambda ax: plots.decision_boundary(
                ax, torch.arange(2.0), torch.arange(2.0), torch.zeros(2, 2), [[0, 0]], [2]
            ),
            ValueError,
            "one label 0 or 1",
        ),
        (
            lambda ax: plots.train_val_curves(ax, [0, 1], [1.0], [1.0, 2.0]),
            ValueError,
            "same length; got 2, 1, 2",
        ),
    ],
)
def test_bad_input_is_named(ax, call, error, message):
    with pytest.raises(error, match=message):
        call(ax)
