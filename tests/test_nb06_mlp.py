"""Notebook 06: data, MLPs, training, decision-boundary plots, the demo and the self-checks."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn
from torch.nn import functional as F

from utils import nb06_mlp as nb
from utils.check import NOT_ATTEMPTED_MARK, PASS_MARK


@pytest.fixture
def ax():
    return Figure().add_subplot()


# --- data and models ----------------------------------------------------------------------------


def test_two_moons_shape_balance_and_geometry():
    X, y = nb.two_moons(101, noise=0.0, seed=4)
    assert X.shape == (101, 2) and X.dtype == torch.float32 and y.dtype == torch.long
    assert int((y == 0).sum()) == 50 and int((y == 1).sum()) == 51
    upper = X[y == 0]
    torch.testing.assert_close(upper.norm(dim=1), torch.ones(50))  # the unit half circle
    assert bool((upper[:, 1] >= 0).all())
    lower = X[y == 1] - torch.tensor([1.0, 0.5])
    torch.testing.assert_close(lower.norm(dim=1), torch.ones(51))
    X2, y2 = nb.two_moons(101, noise=0.0, seed=4)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    with pytest.raises(ValueError, match="n_samples must be at least 1; got 0"):
        nb.two_moons(0)
    with pytest.raises(ValueError, match=r"noise must be a finite number ≥ 0; got -0\.1"):
        nb.two_moons(10, noise=-0.1)


def test_spirals_are_balanced_and_inside_the_unit_disc():
    X, y = nb.spirals(200, noise=0.0, seed=1)
    assert X.shape == (200, 2) and int(y.sum()) == 100
    assert float(X.norm(dim=1).max()) <= 1.0 + 1e-6
    # class 1 is class 0 turned by half a turn: the same radii, angles π apart
    angle = torch.atan2(X[:, 1], X[:, 0]) - 2 * torch.pi * 1.25 * X.norm(dim=1)
    half_turns = torch.remainder(angle / torch.pi, 2.0)
    torch.testing.assert_close(torch.round(half_turns) % 2, y.float(), atol=0, rtol=0)


def test_global_rng_is_left_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    nb.two_moons(10)
    nb.spirals(10)
    nb.train_boundary(4, 1, steps=25, dropout=0.5)
    assert torch.equal(torch.rand(3), expected)


def test_build_mlp_structure_and_parameter_count():
    model = nb.build_mlp(10, 50, 1, 2)
    assert sum(p.numel() for p in model.parameters()) == 10 * 50 + 50 + 50 * 2 + 2
    deep = nb.build_mlp(2, 8, 3, 2, dropout=0.2)
    assert [type(m).__name__ for m in deep] == ["Linear", "ReLU", "Dropout"] * 3 + ["Linear"]
    assert [m.out_features for m in deep if isinstance(m, nn.Linear)] == [8, 8, 8, 2]
    with pytest.raises(ValueError, match=r"dropout must lie in \[0, 1\); got 1.0"):
        nb.build_mlp(dropout=1.0)
    with pytest.raises(ValueError, match="depth must be at least 1"):
        nb.build_mlp(depth=0)
    with pytest.raises(TypeError, match="width must be an int; got float"):
        nb.build_mlp(width=8.0)


# --- training -----------------------------------------------------------------------------------


def test_train_classifier_learns_moons_and_records_in_eval_mode():
    X, y = nb.two_moons(200, noise=0.1, seed=0)
    torch.manual_seed(0)
    model = nb.build_mlp(2, 16, 1, dropout=0.3)
    run = nb.train_classifier(
        model, X[:100], y[:100], steps=300, lr=0.02, X_val=X[100:], y_val=y[100:], eval_every=50
    )
    assert run.steps.tolist() == [0, 50, 100, 150, 200, 250, 300]
    assert run.val_acc[-1] > 0.9 and run.train_acc[-1] > 0.9
    assert run.train_loss[-1] < run.train_loss[0]
    assert model.training  # left in training mode
    model.eval()  # the recorded numbers are eval-mode numbers: dropout off
    with torch.no_grad():
        logits = model(X[:100])
    torch.testing.assert_close(run.train_loss[-1], F.cross_entropy(logits, y[:100]))
    accuracy = (logits.argmax(1) == y[:100]).float().mean()
    torch.testing.assert_close(run.train_acc[-1], accuracy)


def test_train_classifier_without_validation_and_uneven_eval_steps():
    X, y = nb.two_moons(50, seed=2)
    run = nb.train_classifier(nn.Linear(2, 2), X, y, steps=25, eval_every=10)
    assert run.steps.tolist() == [0, 10, 20, 25]  # and always after the last step
    assert run.val_loss is None and run.val_acc is None
    assert run.seconds > 0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"X_val": torch.zeros(3, 2)}, ValueError, "give both X_val and y_val"),
        ({"y": torch.zeros(10)}, TypeError, r"y must hold int64 class labels \(torch.long\)"),
        ({"y": torch.zeros(9, dtype=torch.long)}, ValueError, r"y must have shape"),
        (
            {"X_val": torch.zeros(10, 2), "y_val": torch.zeros(5, dtype=torch.long)},
            ValueError,
            r"y_val must have shape \(n_samples,\), one label per row = \(10,\); got shape \(5,\)",
        ),
        (
            {"X_val": torch.zeros(5, 3), "y_val": torch.zeros(5, dtype=torch.long)},
            ValueError,
            r"X_val must have shape \(n_val, in_features\) = \(any, 2\)",
        ),
        ({"lr": 0.0}, ValueError, "lr must be > 0; got 0.0"),
        ({"steps": 0}, ValueError, "steps must be at least 1"),
        ({"weight_decay": -0.1}, ValueError, "weight_decay must be a finite number ≥ 0"),
    ],
)
def test_train_classifier_rejects_bad_input(kwargs, error, message):
    settings = {"X": torch.zeros(10, 2), "y": torch.zeros(10, dtype=torch.long), "steps": 1}
    settings |= kwargs
    X, y = settings.pop("X"), settings.pop("y")
    with pytest.raises(error, match=message):
        nb.train_classifier(nn.Linear(2, 2), X, y, **settings)


def test_decision_grid_restores_mode_and_is_a_probability():
    model = nb.build_mlp(2, 4, 1, dropout=0.5)
    model.train()
    xs, ys, P = nb.decision_grid(model, limits=(-1, 2, -1, 1), resolution=9)
    assert model.training
    assert xs.shape == (9,) and ys.shape == (9,) and P.shape == (9, 9)
    assert float(xs[0]) == -1 and float(ys[-1]) == 1
    _, _, P2 = nb.decision_grid(model, limits=(-1, 2, -1, 1), resolution=9)
    assert torch.equal(P, P2)  # eval mode: dropout off, so deterministic
    model.eval()
    point = torch.tensor([[float(xs[2]), float(ys[7])]])  # P[i, j] is at (xs[j], ys[i])
    torch.testing.assert_close(P[7, 2], torch.softmax(model(point), dim=1)[0, 1])
    with pytest.raises(ValueError, match="limits must be"):
        nb.decision_grid(model, limits=(1, 0, 0, 1))
    _, _, P64 = nb.decision_grid(model.double(), limits=(-1, 2, -1, 1), resolution=9)
    assert P64.dtype == torch.float64


# --- plots --------------------------------------------------------------------------------------


def test_unit_lines_lie_on_w_dot_x_plus_b_equals_zero(ax):
    W = torch.tensor([[1.0, 2.0], [3.0, -0.5], [0.0, 0.0]])
    b = torch.tensor([0.5, -1.0, 2.0])
    lines = nb.unit_lines(ax, W, b, limits=(-3, 3, -2, 2))
    assert len(lines) == 2  # the zero unit has no line
    for line, w, b_j in zip(lines, W[:2], b[:2], strict=True):
        points = torch.tensor(line.get_xydata())
        torch.testing.assert_close(points @ w.double() + b_j, torch.zeros(2, dtype=torch.float64))


def test_decision_boundary_with_a_real_model(ax):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
    xs, ys, P = nb.decision_grid(model, limits=(-2, 2, -2, 2), resolution=25)
    X = torch.randn(10, 2)
    y = torch.arange(10) % 2
    first = model[0]
    artists = nb.decision_boundary(
        ax, xs, ys, P, X, y, unit_weight=first.weight.detach(), unit_bias=first.bias.detach()
    )
    assert [len(points.get_offsets()) for points in artists["points"]] == [5, 5]
    np.testing.assert_allclose(artists["points"][1].get_offsets(), X[y == 1].numpy())
    assert len(artists["units"]) == 3
    assert ax.get_xlim() == (-2.0, 2.0)


def test_decision_boundary_without_a_crossing_has_no_boundary_line(ax):
    grid = torch.linspace(0, 1, 5)
    artists = nb.decision_boundary(ax, grid, grid, torch.full((5, 5), 0.9), [[0.5, 0.5]], [1])
    assert artists["boundary"] is None and "units" not in artists


def test_train_val_curves_pair_up(ax):
    train, val = nb.train_val_curves(ax, [0, 5, 10], [1.0, 0.5, 0.2], [1.0, 0.6, 0.7], label="L2")
    assert train.get_label() == "L2: train" and val.get_label() == "L2: val"
    assert train.get_color() == val.get_color() and val.get_linestyle() == "--"
    np.testing.assert_allclose(val.get_ydata(), [1.0, 0.6, 0.7])


def test_plots_never_create_pyplot_figures(ax):
    before = plt.get_fignums()
    nb.train_val_curves(ax, [0, 1], [1.0, 0.5], [1.0, 0.7])
    grid = torch.linspace(0, 1, 3)
    nb.decision_boundary(Figure().add_subplot(), grid, grid, torch.rand(3, 3), [[0, 0]], [0])
    assert plt.get_fignums() == before


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda ax: nb.decision_boundary(
                ax, torch.arange(2.0), torch.arange(2.0), torch.full((2, 2), 2.0), [[0, 0]], [0]
            ),
            ValueError,
            r"probabilities in \[0, 1\]",
        ),
        (
            lambda ax: nb.decision_boundary(
                ax,
                torch.arange(2.0),
                torch.arange(2.0),
                torch.full((2, 2), torch.nan),
                [[0, 0]],
                [0],
            ),
            ValueError,
            r"probabilities in \[0, 1\]",
        ),
        (
            lambda ax: nb.decision_boundary(
                ax, torch.arange(3.0), torch.arange(2.0), torch.zeros(3, 3), [[0, 0]], [0]
            ),
            ValueError,
            r"probs must have shape \(len\(ys\), len\(xs\)\) = \(2, 3\)",
        ),
        (
            lambda ax: nb.decision_boundary(
                ax, torch.arange(2.0), torch.arange(2.0), torch.zeros(2, 2), [[0, 0]], [2]
            ),
            ValueError,
            "one label 0 or 1",
        ),
        (
            lambda ax: nb.decision_boundary(
                ax, torch.arange(2.0), torch.arange(2.0), torch.zeros(2, 2), [[0, 0, 0]], [0]
            ),
            ValueError,
            r"X must have shape \(n_points, 2\)",
        ),
        (
            lambda ax: nb.decision_boundary(
                ax,
                *(torch.arange(2.0), torch.arange(2.0), torch.zeros(2, 2), [[0, 0]], [0]),
                unit_weight=torch.ones(3, 3),
                unit_bias=torch.ones(3),
            ),
            ValueError,
            r"unit_weight must have shape \(width, 2\)",
        ),
        (
            lambda ax: nb.decision_boundary(
                ax,
                *(torch.arange(2.0), torch.arange(2.0), torch.zeros(2, 2), [[0, 0]], [0]),
                unit_weight=torch.ones(3, 2),
            ),
            TypeError,
            "unit_bias must be a tensor",
        ),
        (
            lambda ax: nb.train_val_curves(ax, [0, 1], [1.0], [1.0, 2.0]),
            ValueError,
            "same length; got 2, 1, 2",
        ),
        (
            lambda ax: nb.train_val_curves(ax.figure, [0, 1], [1.0, 0.5], [1.0, 2.0]),
            TypeError,
            "ax must be a matplotlib Axes",
        ),
        (
            lambda ax: nb.decision_boundary("ax", [0.0], [0.0], [[0.5]], [[0, 0]], [0]),
            TypeError,
            "ax must be a matplotlib Axes",
        ),
    ],
)
def test_bad_input_is_named(ax, call, error, message):
    with pytest.raises(error, match=message):
        call(ax)


# --- the §5 demo --------------------------------------------------------------------------------


def test_train_boundary_is_cached_deterministic_and_fast():
    first = nb.train_boundary(8, 2, 0.01, 0.1, 100, "spirals")
    assert nb.train_boundary(8, 2, 0.01, 0.1, 100, "spirals") is first
    nb.train_boundary.cache_clear()
    again = nb.train_boundary(8, 2, 0.01, 0.1, 100, "spirals")
    assert again is not first and torch.equal(again.probs, first.probs)
    assert again.first_weight.shape == (8, 2) and len(again.X_train) == 80
    worst = nb.train_boundary(64, 3, 1.0, 0.5, 500)
    assert worst.run.seconds < 2.0, "the largest demo setting must train in about a second"


def test_weight_decay_and_dropout_shrink_the_overfitting_gap():
    plain = nb.train_boundary(64, 3, 0.0, 0.0, 500).run
    regular = nb.train_boundary(64, 3, 1.0, 0.3, 500).run
    gap_plain = float(plain.val_loss[-1] - plain.train_loss[-1])
    gap_regular = float(regular.val_loss[-1] - regular.train_loss[-1])
    assert gap_regular < 0.5 * gap_plain


def test_decision_boundary_readout_reports_accuracy_and_time():
    demo = nb.build_demo(width=4, steps=50)
    assert demo.last_error is None
    text = demo.readout.value
    assert "train accuracy" in text and "validation accuracy" in text and "training took" in text
    demo.controls["steps"].value = 75
    demo.controls["steps"].value = 50  # back to a setting seen before
    assert "from the cache" in demo.readout.value
    demo.controls["dataset"].value = "spirals"
    assert demo.last_error is None and "after 50 steps" in demo.readout.value
    with pytest.raises(ValueError, match="hidden width must be one of"):
        nb.build_demo(width=5)


def test_unit_lines_only_for_narrow_networks():
    fig = Figure()
    nb.draw_decision_boundary(fig, 16, 1, 0.0, 0.0, 25)
    assert "dashed: first-layer units" in fig.axes[0].get_title()
    assert sum(line.get_linestyle() == "--" for line in fig.axes[0].lines) > 0
    fig.clear()
    nb.draw_decision_boundary(fig, 32, 1, 0.0, 0.0, 25)
    assert "dashed" not in fig.axes[0].get_title()
    assert not any(line.get_linestyle() == "--" for line in fig.axes[0].lines)


# --- §6 exercise checks -------------------------------------------------------------------------


def stub(*_args):
    raise NotImplementedError("fill in")


def merge(layer1, layer2, *, bias_fn=None):
    merged = nn.Linear(layer1.in_features, layer2.out_features)
    with torch.no_grad():
        merged.weight.copy_(layer2.weight @ layer1.weight)
        bias = layer2.weight @ layer1.bias + layer2.bias
        merged.bias.copy_(bias if bias_fn is None else bias_fn(layer1, layer2))
    return merged


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (nb.check_parameter_count, lambda s: sum(a * b + b for a, b in itertools.pairwise(s))),
        (
            nb.check_parameter_count,
            lambda s: sum(
                p.numel()
                for a, b in itertools.pairwise(s)
                for p in nn.Linear(a, b, device="meta").parameters()
            ),
        ),
        (nb.check_collapse, merge),
        (nb.check_dropout, lambda x, keep, p: x * keep / (1 - p)),
        (nb.check_dropout, lambda x, keep, p: torch.where(keep, x / (1 - p), torch.zeros_like(x))),
    ],
)
def test_right_answers_pass(check, answer, capsys):
    check(answer)
    assert capsys.readouterr().out.startswith(PASS_MARK)


@pytest.mark.parametrize("check", [nb.check_parameter_count, nb.check_collapse, nb.check_dropout])
def test_stubs_are_not_attempted(check, capsys):
    check(stub)
    assert NOT_ATTEMPTED_MARK in capsys.readouterr().out


@pytest.mark.parametrize(
    ("check", "answer", "hint"),
    [
        (
            nb.check_parameter_count,
            lambda s: sum(a * b for a, b in itertools.pairwise(s)),
            "only the weights",
        ),
        (nb.check_parameter_count, lambda s: sum(s), "expected 652 parameters"),
        (nb.check_collapse, lambda l1, l2: l2, r"expected Linear\(3, 2\)"),
        (nb.check_collapse, lambda l1, l2: "layer", "return an nn.Linear"),
        (
            nb.check_collapse,
            lambda l1, l2: merge(l1, l2, bias_fn=lambda a, b: b.bias),
            "W2 b1 \\+ b2",
        ),
        (
            nb.check_collapse,
            lambda l1, l2: merge(l1, l2, bias_fn=lambda a, b: a.bias.sum() + b.bias),
            "values are off",
        ),
        (nb.check_collapse, lambda l1, l2: l1.weight @ l2.weight, "W2 @ W1"),  # shape error
        (nb.check_dropout, lambda x, keep, p: x * keep, "did not rescale"),
        (nb.check_dropout, lambda x, keep, p: x * keep * (1 - p), r"not by \(1 − p\)"),
        (nb.check_dropout, lambda x, keep, p: x / (1 - p), "values are off"),
        (nb.check_dropout, lambda x, keep, p: (x * keep / (1 - p)).tolist(), "expected a tensor"),
    ],
)
def test_wrong_answers_get_a_hint(check, answer, hint):
    with pytest.raises(AssertionError, match=hint):
        check(answer)
