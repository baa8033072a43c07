"""utils.training (data, loops, surfaces, MLPs) and the two training demos built on it."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from utils import training
from utils.demos import decision_boundary, learning_rate

A_TRUE = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.5, -2.0]])
B_TRUE = torch.tensor([0.3, -0.7])


# ----------------------------------------------------------------------------- regression


def test_regression_data_is_seeded_and_follows_the_model():
    X, Y = training.regression_data(A_TRUE, B_TRUE, 50, noise=0.0, seed=1)
    assert X.shape == (50, 3) and Y.shape == (50, 2)
    torch.testing.assert_close(Y, X @ A_TRUE.T + B_TRUE)
    X2, Y2 = training.regression_data(A_TRUE, B_TRUE, 50, noise=0.0, seed=1)
    assert torch.equal(X, X2) and torch.equal(Y, Y2)
    X3, _ = training.regression_data(A_TRUE, B_TRUE, 50, seed=2)
    assert not torch.equal(X, X3)
    _, noisy = training.regression_data(A_TRUE, B_TRUE, 4000, noise=0.5, seed=1)
    X4, _ = training.regression_data(A_TRUE, B_TRUE, 4000, noise=0.5, seed=1)
    residual = noisy - (X4 @ A_TRUE.T + B_TRUE)
    assert abs(float(residual.std()) - 0.5) < 0.02


def test_global_rng_is_left_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    training.regression_data(A_TRUE, B_TRUE, 10)
    training.two_moons(10)
    training.spirals(10)
    training.train_boundary(4, 1, steps=25, dropout=0.5)
    assert torch.equal(torch.rand(3), expected)


def test_gradient_descent_recovers_the_truth_and_equals_autograd_sgd():
    X, Y = training.regression_data(A_TRUE, B_TRUE, 200, noise=0.05, seed=0)
    run = training.gradient_descent(X, Y, lr=0.1, steps=300)
    torch.testing.assert_close(run.weight, A_TRUE, atol=0.03, rtol=0)
    torch.testing.assert_close(run.bias, B_TRUE, atol=0.03, rtol=0)
    assert run.weights.shape == (301, 2, 3) and run.weight_grads.shape == (300, 2, 3)
    assert torch.equal(run.weights[-1], run.weight)
    # The same loop with autograd + torch.optim.SGD, from the same zero start:
    model = nn.Linear(3, 2)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    sgd = training.run_optimizer(model, X, Y, optimizer="sgd", lr=0.1, steps=300)
    torch.testing.assert_close(sgd.losses[:-1], run.losses.double(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(sgd.model.weight.detach(), run.weight, rtol=1e-5, atol=1e-6)


def test_gradient_descent_gradients_match_autograd():
    X, Y = training.regression_data(A_TRUE, B_TRUE, 20, seed=3)
    run = training.gradient_descent(X, Y, lr=0.05, steps=3)
    W = run.weights[1].clone().requires_grad_()
    b_run = training.gradient_descent(X, Y, lr=0.05, steps=1)
    b = b_run.bias.clone().requires_grad_()
    F.mse_loss(X @ W.T + b, Y).backward()
    torch.testing.assert_close(run.weight_grads[1], W.grad)


def test_run_optimizer_leaves_the_model_alone_and_records_aligned_histories():
    X, Y = training.regression_data(A_TRUE, B_TRUE, 64, seed=0)
    model = nn.Linear(3, 2)
    before = model.weight.detach().clone()
    for name in training.OPTIMIZERS:
        run = training.run_optimizer(model, X, Y, optimizer=name, lr=0.05, steps=40)
        assert len(run.losses) == len(run.trajectory) == 41
        assert run.trajectory.shape[1] == 3 * 2 + 2
        assert not run.diverged
        assert run.losses[-1] < run.losses[0], name
        with torch.no_grad():  # losses[t] is the loss at trajectory[t]
            W, b = run.trajectory[-1][:6].reshape(2, 3), run.trajectory[-1][6:]
            assert math.isclose(float(F.mse_loss(X @ W.T + b, Y)), run.losses[-1], rel_tol=1e-5)
    assert torch.equal(model.weight, before)


def test_momentum_beats_plain_sgd_on_the_valley():
    X, Y, _ = training.two_weight_problem()
    model = nn.Linear(2, 1, bias=False)
    sgd = training.run_optimizer(model, X, Y, optimizer="sgd", lr=0.05, steps=50)
    heavy = training.run_optimizer(model, X, Y, optimizer="momentum", lr=0.05, steps=50)
    assert heavy.losses[-1] < sgd.losses[-1]


def test_sgd_lr_limit_is_the_edge_of_divergence():
    X, Y, _ = training.two_weight_problem()
    limit = training.sgd_lr_limit(X)
    model = nn.Linear(2, 1, bias=False)
    below = training.run_optimizer(model, X, Y, lr=0.95 * limit, steps=300)
    above = training.run_optimizer(model, X, Y, lr=1.05 * limit, steps=300)
    assert not below.diverged and below.losses[-1] < 0.02
    assert above.losses[-1] > above.losses[0]  # grows, whether or not it hit the stop yet
    with_bias = training.sgd_lr_limit(X, bias=True, n_outputs=2)
    assert with_bias > 0


def test_diverging_runs_stop_with_finite_histories():
    X, Y, _ = training.two_weight_problem()
    run = training.run_optimizer(nn.Linear(2, 1, bias=False), X, Y, lr=50.0, steps=300)
    assert run.diverged and run.diverged_at < 10
    assert torch.isfinite(run.losses).all() and torch.isfinite(run.trajectory).all()
    assert len(run.losses) == len(run.trajectory)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"optimizer": "rmsprop"}, ValueError, "optimizer must be one of"),
        ({"lr": 0.0}, ValueError, "lr must be > 0; got 0.0"),
        ({"lr": float("nan")}, ValueError, "lr must be a finite number"),
        ({"steps": 0}, ValueError, "steps must be at least 1; got 0"),
        ({"weight_decay": -1.0}, ValueError, "weight_decay must be a finite number ≥ 0"),
    ],
)
def test_run_optimizer_rejects_bad_settings(kwargs, error, message):
    X, Y, _ = training.two_weight_problem(10)
    settings = {"lr": 0.1, "steps": 5, **kwargs}
    with pytest.raises(error, match=message):
        training.run_optimizer(nn.Linear(2, 1), X, Y, **settings)


def test_loss_surface_matches_pointwise_losses():
    X, Y, _ = training.two_weight_problem(30)
    w1s, w2s, L = training.loss_surface(X, Y, w1_range=(-1, 2), w2_range=(-3, 1), resolution=7)
    assert L.shape == (7, 7)
    for i, j in [(0, 0), (3, 5), (6, 2)]:
        w = torch.stack([w1s[j], w2s[i]])
        torch.testing.assert_close(L[i, j], F.mse_loss(X @ w[:, None], Y))


def test_regression_inputs_are_validated():
    with pytest.raises(
        ValueError, match=r"b must have shape \(d_out,\) = \(2,\); got shape \(3,\)"
    ):
        training.regression_data(A_TRUE, torch.zeros(3))
    with pytest.raises(ValueError, match=r"Y must have shape"):
        training.gradient_descent(torch.zeros(4, 2), torch.zeros(5, 1), lr=0.1, steps=1)
    with pytest.raises(ValueError, match="correlation must lie strictly between -1 and 1"):
        training.two_weight_problem(correlation=1.0)
    with pytest.raises(ValueError, match="one row per sample; got 4 and 3 rows"):
        training.run_optimizer(
            nn.Linear(2, 1), torch.zeros(4, 2), torch.zeros(3, 1), lr=0.1, steps=1
        )
    with pytest.raises(TypeError, match=r"X must be a torch\.Tensor; got list"):
        training.run_optimizer(nn.Linear(2, 1), [[0.0, 0.0]], torch.zeros(1, 1), lr=0.1, steps=1)


# ------------------------------------------------------------------------- classification


def test_two_moons_shape_balance_and_geometry():
    X, y = training.two_moons(101, noise=0.0, seed=4)
    assert X.shape == (101, 2) and X.dtype == torch.float32 and y.dtype == torch.long
    assert int((y == 0).sum()) == 50 and int((y == 1).sum()) == 51
    upper = X[y == 0]
    torch.testing.assert_close(upper.norm(dim=1), torch.ones(50))  # the unit half circle
    assert bool((upper[:, 1] >= 0).all())
    lower = X[y == 1] - torch.tensor([1.0, 0.5])
    torch.testing.assert_close(lower.norm(dim=1), torch.ones(51))
    X2, y2 = training.two_moons(101, noise=0.0, seed=4)
    assert torch.equal(X, X2) and torch.equal(y, y2)


def test_spirals_are_balanced_and_inside_the_unit_disc():
    X, y = training.spirals(200, noise=0.0, seed=1)
    assert X.shape == (200, 2) and int(y.sum()) == 100
    assert float(X.norm(dim=1).max()) <= 1.0 + 1e-6
    # class 1 is class 0 turned by half a turn: same radii distribution, opposite angles
    assert not torch.equal(X[y == 0], X[y == 1])


def test_build_mlp_structure_and_parameter_count():
    model = training.build_mlp(10, 50, 1, 2)
    assert sum(p.numel() for p in model.parameters()) == 10 * 50 + 50 + 50 * 2 + 2
    deep = training.build_mlp(2, 8, 3, 2, dropout=0.2)
    kinds = [type(m).__name__ for m in deep]
    assert kinds == ["Linear", "ReLU", "Dropout"] * 3 + ["Linear"]
    with pytest.raises(ValueError, match=r"dropout must lie in \[0, 1\); got 1.0"):
        training.build_mlp(dropout=1.0)
    with pytest.raises(ValueError, match="depth must be at least 1"):
        training.build_mlp(depth=0)


def test_train_classifier_learns_moons_and_records_in_eval_mode():
    X, y = training.two_moons(200, noise=0.1, seed=0)
    torch.manual_seed(0)
    model = training.build_mlp(2, 16, 1, dropout=0.3)
    run = training.train_classifier(
        model, X[:100], y[:100], steps=300, lr=0.02, X_val=X[100:], y_val=y[100:], eval_every=50
    )
    assert run.steps.tolist() == [0, 50, 100, 150, 200, 250, 300]
    assert run.val_acc[-1] > 0.9 and run.train_acc[-1] > 0.9
    assert run.train_loss[-1] < run.train_loss[0]
    assert model.training  # left in training mode, as it was
    torch.testing.assert_close(
        run.train_acc[-1], torch.tensor(training.accuracy(model, X[:100], y[:100]))
    )
    with pytest.raises(ValueError, match="give both X_val and y_val"):
        training.train_classifier(model, X, y, steps=1, X_val=X)
    with pytest.raises(TypeError, match=r"y must hold int64 class labels \(torch.long\)"):
        training.train_classifier(model, X, y.float(), steps=1)
    with pytest.raises(ValueError, match=r"y_val must have shape"):
        training.train_classifier(model, X, y, steps=1, X_val=X, y_val=y[:5])


def test_decision_grid_restores_mode_and_is_a_probability():
    model = training.build_mlp(2, 4, 1, dropout=0.5)
    model.train()
    xs, ys, P = training.decision_grid(model, limits=(-1, 2, -1, 1), resolution=9)
    assert model.training
    assert xs.shape == (9,) and ys.shape == (9,) and P.shape == (9, 9)
    _, _, P2 = training.decision_grid(model, limits=(-1, 2, -1, 1), resolution=9)
    assert torch.equal(P, P2)  # eval mode: dropout off, so deterministic
    with pytest.raises(ValueError, match="limits must be"):
        training.decision_grid(model, limits=(1, 0, 0, 1))
    _, _, P64 = training.decision_grid(model.double(), limits=(-1, 2, -1, 1), resolution=9)
    assert P64.dtype == torch.float64


def test_train_boundary_is_cached_deterministic_and_fast():
    first = training.train_boundary(8, 2, 0.01, 0.1, 100, dataset="spirals")
    assert training.train_boundary(8, 2, 0.01, 0.1, 100, dataset="spirals") is first
    training.train_boundary.cache_clear()
    again = training.train_boundary(8, 2, 0.01, 0.1, 100, dataset="spirals")
    assert again is not first and torch.equal(again.probs, first.probs)
    worst = training.train_boundary(64, 3, 1.0, 0.5, 500)
    assert worst.run.seconds < 2.0, "the largest demo setting must train in about a second"
    with pytest.raises(ValueError, match="dataset must be one of"):
        training.train_boundary(8, 1, dataset="circles")


def test_weight_decay_and_dropout_shrink_the_overfitting_gap():
    plain = training.train_boundary(64, 3, 0.0, 0.0, 500).run
    regular = training.train_boundary(64, 3, 1.0, 0.3, 500).run
    gap_plain = float(plain.val_loss[-1] - plain.train_loss[-1])
    gap_regular = float(regular.val_loss[-1] - regular.train_loss[-1])
    assert gap_regular < 0.5 * gap_plain


# ------------------------------------------------------------------------------ the demos


@pytest.mark.parametrize("optimizer", list(learning_rate.OPTIMIZER_CHOICES))
def test_learning_rate_demo_survives_every_rate(optimizer):
    demo = learning_rate.build_demo(optimizer=optimizer)
    demo.controls["steps"].value = learning_rate.MAX_STEPS
    diverged = []
    for lr in learning_rate.LEARNING_RATES:
        demo.controls["lr"].value = lr
        assert demo.last_error is None, demo.last_error
        run = learning_rate.learning_rate_run(learning_rate.OPTIMIZER_CHOICES[optimizer], lr)
        assert torch.isfinite(run.losses).all() and torch.isfinite(run.trajectory).all()
        if run.diverged:
            diverged.append(lr)
            assert (
                "diverged" in demo.readout.value and "Lower the learning rate" in demo.readout.value
            )
        else:
            assert "diverged" not in demo.readout.value
    limit = learning_rate.stability_limit(learning_rate.OPTIMIZER_CHOICES[optimizer])
    if limit is None:
        assert not diverged  # Adam's steps are bounded by lr: it never blows up here
    else:  # exactly the rates above the theoretical limit diverge
        assert diverged == [lr for lr in learning_rate.LEARNING_RATES if lr > limit]


def test_learning_rate_steps_slider_reuses_the_cached_run():
    demo = learning_rate.build_demo(lr=0.05)
    misses = learning_rate.learning_rate_run.cache_info().misses
    for steps in (5, 100, 300):
        demo.controls["steps"].value = steps
    assert learning_rate.learning_rate_run.cache_info().misses == misses


def test_decision_boundary_readout_reports_accuracy_and_time():
    demo = decision_boundary.build_demo(width=4, steps=50)
    assert demo.last_error is None
    text = demo.readout.value
    assert "train accuracy" in text and "validation accuracy" in text and "training took" in text
    demo.controls["steps"].value = 75
    demo.controls["steps"].value = 50  # back to a setting seen before
    assert "from the cache" in demo.readout.value
    with pytest.raises(ValueError, match="hidden width must be one of"):
        decision_boundary.build_demo(width=5)
