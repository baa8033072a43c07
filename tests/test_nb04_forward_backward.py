"""Notebook 04: its from-scratch layer, loaded from the notebook's cells, and its utils module."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from torch import nn
from torch.nn import functional as F

from scripts.series import definitions_from_notebook
from utils import nb04_forward_backward as nb
from utils.check import NOT_ATTEMPTED_MARK, PASS_MARK

ROOT = Path(__file__).resolve().parent.parent
CELLS = definitions_from_notebook(
    ROOT / "notebooks/04_forward_backward.ipynb", "as_rows", "MyLinearFunction", "MyLinear"
)
MyLinearFunction, MyLinear = CELLS["MyLinearFunction"], CELLS["MyLinear"]

A_TRUE = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.5, -2.0]])
B_TRUE = torch.tensor([0.3, -0.7])


# --- §3: the notebook's MyLinearFunction / MyLinear against nn.Linear ---------------------------


def twin_layers(in_features, out_features, *, bias=True, dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    ours = MyLinear(in_features, out_features, bias=bias, dtype=dtype)
    torch.manual_seed(seed)
    theirs = nn.Linear(in_features, out_features, bias=bias, dtype=dtype)
    return ours, theirs


def forward_backward(layer: nn.Module, X: torch.Tensor, G: torch.Tensor) -> dict:
    X = X.detach().clone().requires_grad_()
    Y = layer(X)
    Y.backward(G)
    grads = {"input": X.grad, "weight": layer.weight.grad}
    if layer.bias is not None:
        grads["bias"] = layer.bias.grad
    return {"output": Y.detach(), **grads}


@settings(max_examples=60, deadline=None)
@given(
    leading=st.lists(st.integers(min_value=0, max_value=4), min_size=0, max_size=3),
    in_features=st.integers(min_value=1, max_value=6),
    out_features=st.integers(min_value=1, max_value=6),
    bias=st.booleans(),
    double=st.booleans(),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_matches_nn_linear_outputs_and_all_gradients(
    leading, in_features, out_features, bias, double, seed
):
    dtype = torch.float64 if double else torch.float32
    ours, theirs = twin_layers(in_features, out_features, bias=bias, dtype=dtype, seed=seed)
    assert torch.equal(ours.weight, theirs.weight)  # same seed, same init, bit for bit
    if bias:
        assert torch.equal(ours.bias, theirs.bias)
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(*leading, in_features, generator=generator, dtype=dtype)
    G = torch.randn(*leading, out_features, generator=generator, dtype=dtype)
    got, expected = forward_backward(ours, X, G), forward_backward(theirs, X, G)
    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name].dtype == dtype, name
        torch.testing.assert_close(got[name], expected[name], msg=lambda m, n=name: f"{n}: {m}")


def test_empty_batch_gives_empty_output_and_zero_parameter_gradients():
    ours, theirs = twin_layers(3, 2)
    X, G = torch.empty(0, 3), torch.empty(0, 2)
    got, expected = forward_backward(ours, X, G), forward_backward(theirs, X, G)
    assert got["output"].shape == (0, 2) and got["input"].shape == (0, 3)
    torch.testing.assert_close(got["weight"], torch.zeros(2, 3))
    torch.testing.assert_close(got["bias"], torch.zeros(2))
    for name in expected:
        torch.testing.assert_close(got[name], expected[name])


def test_bias_false_registers_no_bias_and_matches():
    ours, theirs = twin_layers(4, 3, bias=False)
    assert ours.bias is None
    assert [name for name, _ in ours.named_parameters()] == ["weight"]
    X = torch.randn(5, 4)
    torch.testing.assert_close(ours(X), theirs(X))
    torch.testing.assert_close(ours(X), X @ ours.weight.T)


def test_float64_end_to_end():
    ours, theirs = twin_layers(3, 2, dtype=torch.float64)
    assert ours.weight.dtype == ours.bias.dtype == torch.float64
    X = torch.randn(2, 7, 3, dtype=torch.float64)
    assert ours(X).dtype == torch.float64
    torch.testing.assert_close(ours(X), theirs(X), rtol=0, atol=1e-12)


def test_repr_and_state_dict_match_nn_linear():
    ours, theirs = twin_layers(10, 5, bias=False)
    assert repr(ours) == repr(theirs).replace("Linear", "MyLinear", 1)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    ours_with_bias, theirs_with_bias = twin_layers(3, 2)
    ours_with_bias.load_state_dict(theirs_with_bias.state_dict())  # interchangeable checkpoints
    assert torch.equal(ours_with_bias.bias, theirs_with_bias.bias)


def test_reset_parameters_follows_nn_linear_and_the_bound():
    ours, theirs = twin_layers(16, 8, seed=3)
    torch.manual_seed(5)
    ours.reset_parameters()
    torch.manual_seed(5)
    theirs.reset_parameters()
    assert torch.equal(ours.weight, theirs.weight) and torch.equal(ours.bias, theirs.bias)
    bound = 1 / 16**0.5
    assert ours.weight.abs().max() <= bound and ours.bias.abs().max() <= bound


def test_backward_skips_gradients_nobody_needs():
    ours, _ = twin_layers(3, 2)
    ours.weight.requires_grad_(False)
    X = torch.randn(4, 3)  # no grad wanted for the input either
    ours(X).sum().backward()
    assert ours.weight.grad is None
    torch.testing.assert_close(ours.bias.grad, torch.full((2,), 4.0))


@pytest.mark.parametrize("leading", [(), (5,), (2, 3), (2, 0, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_in_float64(leading, bias):
    generator = torch.Generator().manual_seed(7)

    def leaf(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64).requires_grad_()

    X, W = leaf(*leading, 4), leaf(3, 4)
    b = leaf(3) if bias else None
    assert torch.autograd.gradcheck(MyLinearFunction.apply, (X, W, b))
    assert torch.autograd.gradgradcheck(MyLinearFunction.apply, (X, W, b))


def test_hand_written_formulas_are_what_backward_returns():
    X = torch.randn(2, 5, 3, requires_grad=True)
    W = torch.randn(4, 3, requires_grad=True)
    b = torch.randn(4, requires_grad=True)
    G = torch.randn(2, 5, 4)
    MyLinearFunction.apply(X, W, b).backward(G)
    torch.testing.assert_close(X.grad, G @ W)
    torch.testing.assert_close(W.grad, G.reshape(-1, 4).T @ X.detach().reshape(-1, 3))
    torch.testing.assert_close(b.grad, G.sum(dim=(0, 1)))


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda cls: cls(3, 2)(torch.randn(4, 5)), RuntimeError),  # wrong input size
        (lambda cls: cls(3, 2)(torch.tensor(1.0)), RuntimeError),  # 0-d input
        (lambda cls: cls(3, 2)([1.0, 2.0, 3.0]), TypeError),  # not a tensor
        (lambda cls: cls(-1, 2), RuntimeError),  # negative size
        (lambda cls: cls(3, 2.5), TypeError),  # non-integer size
    ],
)
def test_bad_input_fails_like_nn_linear(make, error):
    with pytest.raises(error):
        make(nn.Linear)
    with pytest.raises(error):
        make(MyLinear)


# --- §4-§5: data and optimisers -----------------------------------------------------------------


def test_regression_data_is_seeded_and_follows_the_model():
    X, Y = nb.regression_data(A_TRUE, B_TRUE, 50, noise=0.0, seed=1)
    assert X.shape == (50, 3) and Y.shape == (50, 2)
    torch.testing.assert_close(Y, X @ A_TRUE.T + B_TRUE)
    X2, Y2 = nb.regression_data(A_TRUE, B_TRUE, 50, noise=0.0, seed=1)
    assert torch.equal(X, X2) and torch.equal(Y, Y2)
    X3, _ = nb.regression_data(A_TRUE, B_TRUE, 50, seed=2)
    assert not torch.equal(X, X3)
    X4, noisy = nb.regression_data(A_TRUE, B_TRUE, 4000, noise=0.5, seed=1)
    residual = noisy - (X4 @ A_TRUE.T + B_TRUE)
    assert abs(float(residual.std()) - 0.5) < 0.02


def test_global_rng_is_left_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    nb.regression_data(A_TRUE, B_TRUE, 10)
    nb.two_weight_problem(10)
    nb.learning_rate_run("adam", 0.002)
    assert torch.equal(torch.rand(3), expected)


def test_sgd_equals_hand_written_gradient_descent():
    """run_optimizer("sgd") from W = 0, b = 0 is the §4 loop: dW = Gᵀ X, db = Σ G."""
    X, Y = nb.regression_data(A_TRUE, B_TRUE, 200, noise=0.05, seed=0)
    model = nn.Linear(3, 2)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    run = nb.run_optimizer(model, X, Y, optimizer="sgd", lr=0.1, steps=300)
    W, b, losses = torch.zeros(2, 3), torch.zeros(2), []
    for _ in range(300):
        residual = X @ W.T + b - Y
        losses.append(residual.square().mean())
        G = 2 * residual / Y.numel()
        W, b = W - 0.1 * (G.T @ X), b - 0.1 * G.sum(0)
    torch.testing.assert_close(run.losses[:-1], torch.stack(losses).double(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(run.model.weight.detach(), W, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(W, A_TRUE, atol=0.03, rtol=0)
    torch.testing.assert_close(run.trajectory[-1], torch.cat([W.flatten(), b]), atol=1e-5, rtol=0)


def test_run_optimizer_leaves_the_model_alone_and_records_aligned_histories():
    X, Y = nb.regression_data(A_TRUE, B_TRUE, 64, seed=0)
    model = nn.Linear(3, 2)
    before = model.weight.detach().clone()
    for name in nb.OPTIMIZERS:
        run = nb.run_optimizer(model, X, Y, optimizer=name, lr=0.05, steps=40)
        assert len(run.losses) == len(run.trajectory) == 41
        assert run.trajectory.shape[1] == 3 * 2 + 2
        assert not run.diverged
        assert run.losses[-1] < run.losses[0], name
        W, b = run.trajectory[-1][:6].reshape(2, 3), run.trajectory[-1][6:]
        # losses[t] is the loss at trajectory[t]
        assert math.isclose(float(F.mse_loss(X @ W.T + b, Y)), run.losses[-1], rel_tol=1e-5)
    assert torch.equal(model.weight, before)


def test_momentum_beats_plain_sgd_on_the_valley():
    X, Y, _ = nb.two_weight_problem()
    model = nn.Linear(2, 1, bias=False)
    sgd = nb.run_optimizer(model, X, Y, optimizer="sgd", lr=0.05, steps=50)
    heavy = nb.run_optimizer(model, X, Y, optimizer="momentum", lr=0.05, steps=50)
    assert heavy.losses[-1] < sgd.losses[-1]


def test_sgd_lr_limit_is_the_edge_of_divergence():
    X, Y, _ = nb.two_weight_problem()
    limit = nb.sgd_lr_limit(X)
    model = nn.Linear(2, 1, bias=False)
    below = nb.run_optimizer(model, X, Y, lr=0.95 * limit, steps=300)
    above = nb.run_optimizer(model, X, Y, lr=1.05 * limit, steps=300)
    assert not below.diverged and below.losses[-1] < 0.02
    assert above.losses[-1] > above.losses[0]  # grows, whether or not it hit the stop yet
    # with a bias and 2 outputs: H = 2 X̃ᵀX̃ / (2n), so the limit is 2 n / λ_max(X̃ᵀX̃)
    X_ones = torch.cat([X, torch.ones(len(X), 1)], dim=1).double()
    expected = 2 * len(X) / float(torch.linalg.eigvalsh(X_ones.T @ X_ones).max())
    assert math.isclose(nb.sgd_lr_limit(X, bias=True, n_outputs=2), expected, rel_tol=1e-9)


def test_diverging_runs_stop_with_finite_histories():
    X, Y, _ = nb.two_weight_problem()
    run = nb.run_optimizer(nn.Linear(2, 1, bias=False), X, Y, lr=50.0, steps=300)
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
    X, Y, _ = nb.two_weight_problem(10)
    with pytest.raises(error, match=message):
        nb.run_optimizer(nn.Linear(2, 1), X, Y, **{"lr": 0.1, "steps": 5, **kwargs})


def test_loss_surface_matches_pointwise_losses():
    X, Y, _ = nb.two_weight_problem(30)
    w1s, w2s, L = nb.loss_surface(X, Y, w1_range=(-1, 2), w2_range=(-3, 1), resolution=7)
    assert L.shape == (7, 7)
    for i, j in [(0, 0), (3, 5), (6, 2)]:
        w = torch.stack([w1s[j], w2s[i]])
        torch.testing.assert_close(L[i, j], F.mse_loss(X @ w[:, None], Y))


def test_learner_facing_inputs_are_validated():
    with pytest.raises(
        ValueError, match=r"b must have shape \(d_out,\) = \(2,\); got shape \(3,\)"
    ):
        nb.regression_data(A_TRUE, torch.zeros(3))
    with pytest.raises(ValueError, match=r"A must have shape \(d_out, d_in\)"):
        nb.regression_data(torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="correlation must lie strictly between -1 and 1"):
        nb.two_weight_problem(correlation=1.0)
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, d_in\)"):
        nb.sgd_lr_limit(torch.zeros(4))
    with pytest.raises(ValueError, match="one row per sample; got 4 and 3 rows"):
        nb.run_optimizer(nn.Linear(2, 1), torch.zeros(4, 2), torch.zeros(3, 1), lr=0.1, steps=1)
    with pytest.raises(TypeError, match=r"X must be a torch\.Tensor; got list"):
        nb.run_optimizer(nn.Linear(2, 1), [[0.0, 0.0]], torch.zeros(1, 1), lr=0.1, steps=1)
    with pytest.raises(ValueError, match="the starting loss must be finite; got nan"):
        nb.run_optimizer(
            nn.Linear(2, 1), torch.full((2, 2), math.nan), torch.zeros(2, 1), lr=0.1, steps=1
        )


# --- the §5 plot and demo -----------------------------------------------------------------------


def test_trajectory_contour_draws_paths_inside_a_fixed_view_with_log_levels():
    ax = Figure().add_subplot()
    X, Y, w_true = nb.two_weight_problem(40)
    w1s, w2s, L = nb.loss_surface(X, Y, w1_range=(-2, 3), w2_range=(-2, 2), resolution=20)
    far_away = torch.tensor([[0.0, 0.0], [50.0, -80.0]])  # a diverging path leaves the view
    paths = {"SGD": far_away, "Adam": torch.tensor([[0.0, 0.0], [1.0, -0.5]])}
    artists = nb.trajectory_contour(ax, w1s, w2s, L, paths, target=w_true)
    assert [line.get_label() for line in artists["paths"]] == ["SGD", "Adam"]
    np.testing.assert_allclose(artists["paths"][0].get_xydata(), far_away.numpy())
    np.testing.assert_allclose(artists["target"].get_xydata(), [w_true.numpy()])
    assert ax.get_xlim() == (-2.0, 3.0) and ax.get_ylim() == (-2.0, 2.0)  # view not rescaled
    levels = artists["contours"].levels
    np.testing.assert_allclose(np.diff(np.log(levels)), np.log(levels[1] / levels[0]))  # log


@pytest.mark.parametrize("optimizer", list(nb.OPTIMIZER_CHOICES))
def test_learning_rate_demo_survives_every_rate(optimizer):
    demo = nb.build_demo(optimizer=optimizer)
    demo.controls["steps"].value = nb.MAX_STEPS
    diverged = []
    for lr in nb.LEARNING_RATES:
        demo.controls["lr"].value = lr
        assert demo.last_error is None, demo.last_error
        run = nb.learning_rate_run(nb.OPTIMIZER_CHOICES[optimizer], lr)
        assert torch.isfinite(run.losses).all() and torch.isfinite(run.trajectory).all()
        if run.diverged:
            diverged.append(lr)
            assert "diverged" in demo.readout.value
            assert "Lower the learning rate" in demo.readout.value
        else:
            assert "diverged" not in demo.readout.value
    limit = nb.stability_limit(nb.OPTIMIZER_CHOICES[optimizer])
    if limit is None:
        assert not diverged  # Adam's steps are bounded by lr: it never blows up here
        assert "stability limit" not in demo.readout.value
    else:  # exactly the rates above the theoretical limit diverge
        assert diverged == [lr for lr in nb.LEARNING_RATES if lr > limit]
        assert f"lr &lt; {limit:.2f}" in demo.readout.value  # the readout is HTML


def test_learning_rate_steps_slider_reuses_the_cached_run():
    demo = nb.build_demo(lr=0.05)
    misses = nb.learning_rate_run.cache_info().misses
    for steps in (5, 100, 300):
        demo.controls["steps"].value = steps
        assert f"after {steps} steps" in demo.readout.value
    assert nb.learning_rate_run.cache_info().misses == misses


def test_learning_rate_demo_rejects_a_rate_off_the_scale():
    with pytest.raises(ValueError, match="learning rate must be one of"):
        nb.build_demo(lr=0.15)


# --- §7 exercise checks -------------------------------------------------------------------------


def stub(*_args, **_kwargs):
    raise NotImplementedError("fill in")


def flat_weight_grad(X, G):
    return G.reshape(-1, G.shape[-1]).T @ X.reshape(-1, X.shape[-1])


def train_loop(*, zero_grad: bool, log_before_step: bool = True, zero_before_step: bool = False):
    def train(model, X, Y, *, lr, steps):
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
            losses.append((loss if log_before_step else F.mse_loss(model(X), Y)).item())
        return losses

    return train


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (nb.check_weight_grad, flat_weight_grad),
        (nb.check_weight_grad, lambda X, G: torch.einsum("...i,...j->ij", G, X)),
        (nb.check_bias_grad, lambda G: G.sum(dim=tuple(range(G.ndim - 1)))),
        (nb.check_training_loop, train_loop(zero_grad=True)),
    ],
)
def test_right_answers_pass(check, answer, capsys):
    check(answer)
    assert capsys.readouterr().out.startswith(PASS_MARK)


@pytest.mark.parametrize(
    "check", [nb.check_weight_grad, nb.check_bias_grad, nb.check_training_loop]
)
def test_stubs_are_not_attempted(check, capsys):
    check(stub)
    assert NOT_ATTEMPTED_MARK in capsys.readouterr().out


@pytest.mark.parametrize(
    ("check", "answer", "hint"),
    [
        (nb.check_weight_grad, lambda X, G: X.T @ G, r"Gᵀ X, not Xᵀ G"),
        (nb.check_weight_grad, lambda X, G: torch.mm(G.transpose(0, -1), X), "flatten them first"),
        (nb.check_weight_grad, lambda X, G: G.mT @ X, r"got shape \(2, 4, 3\)\. Sum over every"),
        (nb.check_weight_grad, lambda X, G: 2 * flat_weight_grad(X, G), "values are off"),
        (nb.check_weight_grad, lambda X, G: flat_weight_grad(X, G).tolist(), "expected a tensor"),
        (nb.check_bias_grad, lambda G: G.sum(0), "summed over dim 0 only"),
        (nb.check_bias_grad, lambda G: G.mean(dim=(0, 1)), "sum them"),
        (nb.check_training_loop, train_loop(zero_grad=False), r"call opt.zero_grad\(\)"),
        (
            nb.check_training_loop,
            train_loop(zero_grad=False, zero_before_step=True),
            "not between backward and step",
        ),
        (
            nb.check_training_loop,
            train_loop(zero_grad=True, log_before_step=False),
            "one step ahead",
        ),
        (nb.check_training_loop, lambda model, X, Y, *, lr, steps: [1.0] * steps, "differ from"),
        (nb.check_training_loop, lambda model, X, Y, *, lr, steps: [1.0], "expected 20 values"),
    ],
)
def test_wrong_answers_get_a_hint(check, answer, hint):
    with pytest.raises(AssertionError, match=hint):
        check(answer)
