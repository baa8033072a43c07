"""Notebook 05: data, optimiser runs (against autograd), the learning-rate demo (cached runs,
in-place blitting) and the exercise checks against right and typical wrong answers."""

from __future__ import annotations

import copy
import io
import math
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from scripts.series import definitions_from_notebook
from utils import nb05_optimizers as nb
from utils.check import NOT_ATTEMPTED_MARK, PASS_MARK
from utils.widgets import figure_png

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks/05_optimizers.ipynb"
CELLS = definitions_from_notebook(NOTEBOOK, "train", "largest_stable_lr")


# --- data and runs --------------------------------------------------------------------------------


def test_regression_data_is_seeded_and_follows_the_model():
    X, Y = nb.regression_data(4000, seed=1)
    assert X.shape == (4000, 3) and Y.shape == (4000, 2)
    residual = Y - (X @ nb.A_TRUE.T + nb.B_TRUE)
    assert abs(float(residual.std()) - 0.1) < 0.005
    X2, Y2 = nb.regression_data(4000, seed=1)
    assert torch.equal(X, X2) and torch.equal(Y, Y2)
    assert not torch.equal(X, nb.regression_data(4000, seed=2)[0])


def test_helpers_and_checks_leave_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    nb.regression_data()
    nb.two_weight_problem(10)
    nb.learning_rate_run("adam", 0.002)
    nb.check_two_steps(0.67, 0.37)
    nb.check_training_loop(CELLS["train"])
    assert torch.equal(torch.rand(3), expected)


def autograd_run(model, X, Y, *, optimizer, lr, steps):
    """The textbook loop (autograd + torch.optim): what run_optimizer must reproduce."""
    model = copy.deepcopy(model)
    extra = {"momentum": nb.MOMENTUM} if optimizer == "momentum" else {}
    opt = nb.OPTIMIZERS[optimizer](model.parameters(), lr=lr, **extra)
    losses, trajectory = [], []
    for step in range(steps + 1):
        opt.zero_grad()
        loss = F.mse_loss(model(X), Y)
        losses.append(loss.item())
        trajectory.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
        if step < steps:
            loss.backward()
            opt.step()
    return torch.tensor(losses, dtype=torch.float64), torch.stack(trajectory)


@pytest.mark.parametrize("optimizer", list(nb.OPTIMIZERS))
@pytest.mark.parametrize("bias", [True, False])
def test_run_optimizer_equals_autograd_and_torch_optim(optimizer, bias):
    """run_optimizer's hand-written gradients (dW = Gᵀ X, db = Σ G) are autograd's."""
    X, Y = nb.regression_data(64)
    torch.manual_seed(1)
    model = nn.Linear(3, 2, bias=bias)
    run = nb.run_optimizer(model, X, Y, optimizer=optimizer, lr=0.05, steps=40)
    losses, trajectory = autograd_run(model, X, Y, optimizer=optimizer, lr=0.05, steps=40)
    torch.testing.assert_close(run.losses, losses, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(run.trajectory, trajectory, rtol=1e-5, atol=1e-6)
    assert run.diverged_at is None and run.losses[-1] < run.losses[0]


@pytest.mark.parametrize(("optimizer", "lr"), [("sgd", 0.005), ("momentum", 1.0), ("adam", 2.0)])
def test_cached_demo_runs_equal_a_fresh_computation(optimizer, lr):
    """The demo's snapshotted runs are what a fresh autograd run from the same start gives."""
    X, Y, _ = nb.two_weight_problem()
    model = nn.utils.skip_init(nn.Linear, 2, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([nb.START]))
    cached = nb.learning_rate_run(optimizer, lr)
    losses, trajectory = autograd_run(model, X, Y, optimizer=optimizer, lr=lr, steps=nb.MAX_STEPS)
    torch.testing.assert_close(cached.losses, losses, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(cached.trajectory, trajectory, rtol=1e-4, atol=1e-5)


def test_run_optimizer_leaves_the_model_alone_and_stops_diverging_runs():
    X, Y, _ = nb.two_weight_problem()
    model = nn.Linear(2, 1, bias=False)
    before = model.weight.detach().clone()
    run = nb.run_optimizer(model, X, Y, lr=50.0, steps=300)
    assert torch.equal(model.weight, before)
    assert run.diverged_at is not None and run.diverged_at < 10
    assert torch.isfinite(run.losses).all() and torch.isfinite(run.trajectory).all()
    assert len(run.losses) == len(run.trajectory)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        nb.run_optimizer(model, X, Y, optimizer="rmsprop", lr=0.1, steps=5)


def test_stability_limit_is_the_edge_of_divergence():
    limit = nb.stability_limit("sgd")
    X, Y, _ = nb.two_weight_problem()
    expected = 2 / float(torch.linalg.eigvalsh(2 * X.T.double() @ X.double() / len(X)).max())
    assert math.isclose(limit, expected, rel_tol=1e-9)
    model = nn.Linear(2, 1, bias=False)
    assert nb.run_optimizer(model, X, Y, lr=0.95 * limit, steps=300).diverged_at is None
    above = nb.run_optimizer(model, X, Y, lr=1.05 * limit, steps=300)
    assert above.losses[-1] > above.losses[0]
    assert nb.stability_limit("adam") is None


# --- the §4 demo ----------------------------------------------------------------------------------


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(PIL.Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("optimizer", list(nb.OPTIMIZER_CHOICES))
def test_exactly_the_rates_above_the_limit_diverge_and_the_readout_says_so(optimizer):
    demo = nb.build_demo(optimizer=optimizer)
    demo.controls["steps"].value = nb.MAX_STEPS
    diverged = []
    for lr in nb.LEARNING_RATES:
        demo.controls["lr"].value = lr
        run = nb.learning_rate_run(nb.OPTIMIZER_CHOICES[optimizer], lr)
        assert torch.isfinite(run.losses).all() and torch.isfinite(run.trajectory).all()
        assert ("diverged" in demo.readout.value) == (run.diverged_at is not None)
        if run.diverged_at is not None:
            diverged.append(lr)
    limit = nb.stability_limit(nb.OPTIMIZER_CHOICES[optimizer])
    if limit is None:
        assert not diverged and "stability limit" not in demo.readout.value
    else:
        assert diverged == [lr for lr in nb.LEARNING_RATES if lr > limit]
        assert f"lr &lt; {limit:.2f}" in demo.readout.value  # the readout is HTML


def test_steps_scrub_the_cached_run_and_artists_update_in_place():
    demo = nb.build_demo(lr=0.05)
    lines = list(demo.figure.axes[0].lines) + list(demo.figure.axes[1].lines)
    misses = nb.learning_rate_run.cache_info().misses
    for steps in (5, 100, 300):
        demo.controls["steps"].value = steps
        assert f"after {steps} steps" in demo.readout.value
        path = demo.figure.axes[1].lines[-1].get_xydata()
        np.testing.assert_allclose(path, nb.learning_rate_run("sgd", 0.05).trajectory[: steps + 1])
    assert nb.learning_rate_run.cache_info().misses == misses  # no retraining while scrubbing
    assert list(demo.figure.axes[0].lines) + list(demo.figure.axes[1].lines) == lines


@pytest.mark.parametrize(
    "values",
    [
        {"lr": 0.7, "steps": 300, "optimizer": "SGD"},
        {"lr": 2.0, "steps": 40, "optimizer": "Adam"},
        {"lr": 1.0, "steps": 150, "optimizer": "SGD + momentum 0.9"},
    ],
)
def test_blitted_frame_equals_a_full_render(values):
    """Drawing only the moving artists over the cached background gives the full picture."""
    demo = nb.build_demo()
    for name, value in values.items():
        demo.controls[name].value = value
    blitted, full = pixels(bytes(demo.image.value)), pixels(figure_png(demo.figure))
    assert blitted.shape == full.shape
    assert np.abs(blitted - full).mean() < 0.5  # (antialiasing may differ by a level or two)


def test_learning_rate_demo_rejects_a_rate_off_the_scale():
    with pytest.raises(ValueError, match="learning rate must be one of"):
        nb.build_demo(lr=0.15)


# --- §6 exercise checks ---------------------------------------------------------------------------


def train_loop(*, zero_grad=True, log_after_step=False, zero_before_step=False, fixed=None):
    """A train(model, X, Y, *, lr, steps) with one typical mistake switched on."""

    def train(model, X, Y, *, lr, steps):
        lr, steps = fixed or (lr, steps)
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        losses = []
        for _ in range(steps):
            if zero_grad:
                opt.zero_grad()
            loss = F.mse_loss(model(X), Y)
            loss.backward()
            if zero_before_step:
                opt.zero_grad()
            opt.step()
            losses.append((F.mse_loss(model(X), Y) if log_after_step else loss).item())
        return losses

    return train


def fresh_model(model, X, Y, *, lr, steps):
    return train_loop()(nn.Linear(X.shape[1], Y.shape[1]), X, Y, lr=lr, steps=steps)


def adam_loop(model, X, Y, *, lr, steps):
    opt, losses = torch.optim.Adam(model.parameters(), lr=lr), []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(model(X), Y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def stable_lr(*, mean=False, bias=True, two=2.0, momentum=True):
    """largest_stable_lr with one typical mistake switched on."""

    def largest_stable_lr(X, beta):
        X1 = torch.cat([X, torch.ones(len(X), 1)], dim=1) if bias else X
        H = two * X1.T @ X1 / (len(X) if mean else 1)
        return 2 * (1 + beta * momentum) / torch.linalg.eigvalsh(H).max()

    return largest_stable_lr


def stub(*_args, **_kwargs):
    raise NotImplementedError("fill in")


@pytest.mark.parametrize(
    ("check", "args"),
    [
        (nb.check_two_steps, (..., ...)),
        (nb.check_two_steps, (0.67, ...)),
        (nb.check_training_loop, (stub,)),
        (nb.check_stable_lr, (stub,)),
    ],
)
def test_stubs_are_not_attempted(check, args, capsys):
    check(*args)
    out = capsys.readouterr().out
    assert out.count(NOT_ATTEMPTED_MARK) == 1


@pytest.mark.parametrize(
    ("check", "args"),
    [
        (nb.check_two_steps, (0.67, 0.37)),
        (nb.check_two_steps, (torch.tensor(0.67), np.float32(0.37))),
        (nb.check_two_steps, (0.7 - 0.05 * 0.6, 0.7 - 0.05 * 6.6)),
        (nb.check_training_loop, (train_loop(),)),
        (nb.check_training_loop, (CELLS["train"],)),  # the notebook's own solution
        (nb.check_stable_lr, (stable_lr(),)),
        (nb.check_stable_lr, (lambda X, beta: float(stable_lr()(X, beta)),)),
        (nb.check_stable_lr, (lambda X, beta: np.float64(stable_lr()(X, beta)),)),
        (nb.check_stable_lr, (CELLS["largest_stable_lr"],)),  # the notebook's own solution
    ],
)
def test_right_answers_pass(check, args, capsys):
    check(*args)
    assert capsys.readouterr().out.startswith(PASS_MARK)


WRONG = [
    (nb.check_two_steps, (0.37, 0.67), "swapped"),
    (nb.check_two_steps, (0.67, 0.67), r"still holds step 1's gradient"),
    (nb.check_two_steps, (0.7, 0.7), "after one step"),
    (nb.check_two_steps, (0.7675, 0.6175), "left out the 2"),
    (nb.check_two_steps, (0.5, 0.5), "not yet"),
    (nb.check_two_steps, ([0.67], 0.37), "expected a number"),
    (nb.check_training_loop, (train_loop(zero_grad=False),), r"without opt\.zero_grad\(\)"),
    (nb.check_training_loop, (train_loop(zero_before_step=True),), "loss never changes"),
    (nb.check_training_loop, (train_loop(log_after_step=True),), "one step ahead"),
    (
        nb.check_training_loop,
        (train_loop(fixed=(0.05, 20)),),
        r"asked for steps = 7, got 20",
    ),
    (
        nb.check_training_loop,
        (lambda model, X, Y, *, lr, steps: train_loop()(model, X, Y, lr=0.05, steps=steps),),
        r"match lr = 0\.05, but this call asked for lr = 0\.2",
    ),
    (nb.check_training_loop, (fresh_model,), "train the model you are given"),
    (nb.check_training_loop, (adam_loop,), "not a correct SGD loop"),
    (nb.check_stable_lr, (stable_lr(mean=True),), "curvature grows with n"),
    (nb.check_stable_lr, (stable_lr(bias=False),), "include the bias"),
    (nb.check_stable_lr, (stable_lr(two=1.0),), "brings down a 2"),
    (nb.check_stable_lr, (stable_lr(momentum=False),), "you left β out"),
    (nb.check_stable_lr, (lambda X, beta: 0.5 * stable_lr()(X, beta),), "expected .*, got"),
    (nb.check_stable_lr, (lambda X, beta: torch.ones(2),), "expected one number"),
]


@pytest.mark.parametrize(("check", "args", "hint"), WRONG)
def test_wrong_answers_get_a_hint_naming_the_mistake(check, args, hint):
    with pytest.raises(AssertionError, match=hint):
        check(*args)


def test_each_check_names_at_least_three_mistakes():
    for check in (nb.check_two_steps, nb.check_training_loop, nb.check_stable_lr):
        assert len({hint for c, _, hint in WRONG if c is check}) >= 3
