"""Notebook 06: data, MLPs, training, decision-boundary plots, the snapshot demo, self-checks."""

from __future__ import annotations

import functools
import gc
import io
import itertools
import threading
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import PIL.Image
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn
from torch.nn import functional as F

from scripts.series import definitions_from_notebook
from utils import nb06_mlp as nb
from utils.check import NOT_ATTEMPTED_MARK, PASS_MARK
from utils.widgets import blit_png

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "06_mlp.ipynb"


# --- data and models ----------------------------------------------------------------------------


def test_moons_shape_balance_and_geometry():
    X, y = nb.toy_data("moons", 101, noise=0.0, seed=4)
    assert X.shape == (101, 2) and X.dtype == torch.float32 and y.dtype == torch.long
    assert int((y == 0).sum()) == 50 and int((y == 1).sum()) == 51
    upper = X[y == 0]
    torch.testing.assert_close(upper.norm(dim=1), torch.ones(50))  # the unit half circle
    assert bool((upper[:, 1] >= 0).all())
    lower = X[y == 1] - torch.tensor([1.0, 0.5])
    torch.testing.assert_close(lower.norm(dim=1), torch.ones(51))
    X2, y2 = nb.toy_data("moons", 101, noise=0.0, seed=4)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    with pytest.raises(ValueError, match="n_samples must be at least 1; got 0"):
        nb.toy_data("moons", 0)
    with pytest.raises(ValueError, match=r"noise must be a finite number ≥ 0; got -0\.1"):
        nb.toy_data("moons", 10, noise=-0.1)


def test_spirals_are_balanced_and_inside_the_unit_disc():
    X, y = nb.toy_data("spirals", 200, noise=0.0, seed=1)
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
    nb.toy_data("moons", 10)
    nb.toy_data("spirals", 10)
    nb.boundary_history(4, 1, 0.0, 0.5, "moons", seed=7).train_to(100)
    assert torch.equal(torch.rand(3), expected)


def test_build_mlp_structure_and_parameter_count():
    model = nb.build_mlp(10, 50, 1, 2)
    assert sum(p.numel() for p in model.parameters()) == 10 * 50 + 50 + 50 * 2 + 2
    deep = nb.build_mlp(2, 8, 3, 2, dropout=0.2)
    assert [type(m).__name__ for m in deep] == ["Linear", "ReLU", "Dropout"] * 3 + ["Linear"]
    assert [m.out_features for m in deep if isinstance(m, nn.Linear)] == [8, 8, 8, 2]
    with pytest.raises(ValueError, match="depth must be at least 1"):
        nb.build_mlp(depth=0)


# --- training -----------------------------------------------------------------------------------


def test_train_classifier_learns_moons_and_records_in_eval_mode():
    X, y = nb.toy_data("moons", 200, noise=0.1, seed=0)
    model = nb.build_mlp(2, 16, 1, dropout=0.3)
    seen = []
    fit = {"steps": 300, "lr": 0.02, "val": (X[100:], y[100:]), "eval_every": 50}
    run = nb.train_classifier(model, X[:100], y[:100], **fit, on_record=lambda s, m: seen.append(s))
    assert run.steps.tolist() == seen == [0, 50, 100, 150, 200, 250, 300]
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
    X, y = nb.toy_data("moons", 50, seed=2)
    run = nb.train_classifier(nn.Linear(2, 2), X, y, steps=25, eval_every=10)
    assert run.steps.tolist() == [0, 10, 20, 25]  # and always after the last step
    assert run.val_loss is None and run.val_acc is None
    assert run.seconds > 0
    with pytest.raises(ValueError, match="steps must be at least 1"):
        nb.train_classifier(nn.Linear(2, 2), X, y, steps=0)


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _optimizer_state(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [v for state in optimizer.state.values() for v in state.values()]


@pytest.mark.parametrize("pauses", [(100,), (37, 100, 101), (5, 250, 299)])
def test_training_on_equals_training_straight_through(pauses):
    X, y = nb.toy_data("moons", 200, noise=0.2, seed=3)
    fit = {"lr": 0.02, "weight_decay": 0.01, "val": (X[100:], y[100:]), "eval_every": 10}
    torch.manual_seed(5)
    straight = nb.ClassifierTraining(nb.build_mlp(2, 8, 2, dropout=0.3), X[:100], y[:100], **fit)
    assert straight.train_to(300) == 300
    torch.manual_seed(5)
    model = nb.build_mlp(2, 8, 2, dropout=0.3)
    seen = []
    resumed = nb.ClassifierTraining(
        model, X[:100], y[:100], **fit, own_rng=True, on_record=lambda s, m: seen.append(s)
    )
    for pause in (*pauses, 300):
        torch.rand(7)  # random numbers drawn between two calls do not reach the dropout masks
        resumed.train_to(pause)
    assert resumed.train_to(200) == 0 and resumed.step == 300  # never backwards
    for name, value in _state(straight.model).items():
        assert torch.equal(_state(model)[name], value), name
    for want, got in zip(
        _optimizer_state(straight.optimizer), _optimizer_state(resumed.optimizer), strict=True
    ):
        assert torch.equal(want, got)
    want, got = straight.run(), resumed.run()
    assert got.steps.tolist() == want.steps.tolist() == list(range(0, 301, 10))
    for column in ("train_loss", "train_acc", "val_loss", "val_acc"):
        assert torch.equal(getattr(got, column), getattr(want, column)), column
    assert set(seen) == set(range(0, 301, 10)) | set(pauses)  # a pause is recorded too


def test_decision_grid_restores_mode_is_a_probability_and_takes_a_state():
    model = nb.build_mlp(2, 4, 1, dropout=0.5)
    xs, ys, P = nb.decision_grid(model, limits=(-1, 2, -1, 1), resolution=9)
    assert model.training
    assert xs.shape == (9,) and ys.shape == (9,) and P.shape == (9, 9)
    assert float(xs[0]) == -1 and float(ys[-1]) == 1
    _, _, P2 = nb.decision_grid(model, limits=(-1, 2, -1, 1), resolution=9)
    assert torch.equal(P, P2)  # eval mode: dropout off, so deterministic
    model.eval()
    point = torch.tensor([[float(xs[2]), float(ys[7])]])  # P[i, j] is at (xs[j], ys[i])
    torch.testing.assert_close(P[7, 2], torch.softmax(model(point), dim=1)[0, 1])
    other = nb.build_mlp(2, 4, 1, dropout=0.5)  # the same architecture, other weights
    state = {k: v.detach() for k, v in other.named_parameters()}
    _, _, P_state = nb.decision_grid(model, limits=(-1, 2, -1, 1), resolution=9, state=state)
    torch.testing.assert_close(
        P_state, nb.decision_grid(other, limits=(-1, 2, -1, 1), resolution=9)[2]
    )
    _, _, P64 = nb.decision_grid(model.double(), limits=(-1, 2, -1, 1), resolution=9)
    assert P64.dtype == torch.float64


# --- plots --------------------------------------------------------------------------------------


def test_decision_boundary_draws_units_boundary_and_points_and_updates_in_place():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
    xs, ys, P = nb.decision_grid(model, limits=(-2, 2, -2, 2), resolution=25)
    X, y = torch.randn(10, 2), torch.arange(10) % 2
    W, b = model[0].weight.detach(), model[0].bias.detach()
    ax = Figure().add_subplot()
    art = nb.decision_boundary(ax, xs, ys, P, X, y, units=(W, b), title="t")
    assert [len(points.get_offsets()) for points in art["points"]] == [5, 5]
    np.testing.assert_allclose(art["points"][1].get_offsets(), X[y == 1].numpy())
    for segment in art["units"].get_segments():  # every unit line lies on w·x + b = 0
        on_a_line = np.abs(segment @ W.double().numpy().T + b.double().numpy()).min(axis=1)
        assert on_a_line.max() < 1e-6
    for segment in art["boundary"].get_segments():  # the boundary is where P = 0.5
        with torch.no_grad():
            P_there = torch.softmax(model(torch.tensor(segment, dtype=torch.float32)), dim=1)[:, 1]
        torch.testing.assert_close(P_there, torch.full_like(P_there, 0.5), atol=0.02, rtol=0)
    assert ax.get_xlim() == (-2.0, 2.0) and ax.get_title() == "t"
    again = nb.decision_boundary(None, xs, ys, 1 - P, X[:4], y[:4], art=art)
    assert again is art and len(ax.images) == 1 and len(art["points"][0].get_offsets()) == 2
    np.testing.assert_allclose(art["shading"].get_array(), (1 - P).numpy())
    nb.decision_boundary(None, xs, ys, torch.full((25, 25), 0.9), X, y, art=art)
    assert art["boundary"].get_segments() == [] and art["units"].get_segments() == []


def test_plots_never_create_pyplot_figures():
    before = plt.get_fignums()
    grid = torch.linspace(0, 1, 3)
    nb.decision_boundary(Figure().add_subplot(), grid, grid, torch.rand(3, 3), [[0, 0]], [0])
    nb.draw_decision_boundary(Figure(), 4, 1, 0.0, 0.0, 25)
    assert plt.get_fignums() == before
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        nb.decision_boundary("ax", grid, grid, torch.rand(3, 3), [[0, 0]], [0])


# --- the §6 demo --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "depth", "weight_decay", "dropout", "dataset", "steps"),
    [
        (16, 1, 0.0, 0.0, "moons", 25),
        (8, 2, 0.01, 0.2, "spirals", 275),
        (4, 3, 1.0, 0.5, "moons", 500),
    ],
)
def test_a_snapshot_equals_a_fresh_run_of_that_many_steps(
    width, depth, weight_decay, dropout, dataset, steps
):
    history = nb.boundary_history(width, depth, weight_decay, dropout, dataset)
    history.train_to(steps)
    X, y = nb.toy_data(dataset, 480, noise=0.25 if dataset == "moons" else 0.05, seed=0)
    torch.manual_seed(0)
    fresh = nb.build_mlp(2, width, depth, 2, dropout=dropout)
    nb.train_classifier(fresh, X[:80], y[:80], steps=steps, lr=0.02, weight_decay=weight_decay)
    for name, value in fresh.named_parameters():
        torch.testing.assert_close(history.states[steps][name], value.detach())
    limits = nb.BOUNDARY_LIMITS[dataset]
    fig = Figure()
    nb.draw_decision_boundary(fig, width, depth, weight_decay, dropout, steps, dataset)
    _, _, P = nb.decision_grid(fresh, limits=limits, resolution=80)
    torch.testing.assert_close(history.frames[steps][2], P)
    np.testing.assert_allclose(fig.nb06_artists["plane"]["shading"].get_array(), P.numpy())


def test_boundary_history_is_cached_and_deterministic():
    first = nb.boundary_history(8, 2, 0.01, 0.1, "spirals")
    assert nb.boundary_history(8, 2, 0.01, 0.1, "spirals") is first
    first.train_to(500)
    nb.boundary_history.cache_clear()
    again = nb.boundary_history(8, 2, 0.01, 0.1, "spirals")
    assert again is not first and again.states == {} and again.training.step == 0  # lazy
    assert again.train_to(500) == 500 and torch.equal(again.run.val_loss, first.run.val_loss)
    assert sorted(again.states) == list(nb.SNAPSHOT_STEPS) and len(again.X_train) == 80
    assert again.run.seconds > 0  # speed is measured by benchmarks/run.py, not asserted here


def test_a_history_trained_in_pieces_equals_one_trained_straight_through():
    pieces, straight = (nb.boundary_history.__wrapped__(8, 2, 0.1, 0.3) for _ in range(2))
    for before, steps in ((0, 25), (25, 150), (150, 275)):
        torch.rand(5)  # what runs between two slider moves does not change the run
        assert pieces.train_to(steps) == steps - before
    straight.train_to(275)
    assert sorted(pieces.states) == sorted(straight.states) == list(range(25, 276, 25))
    for step, state in straight.states.items():
        for name, value in state.items():
            assert torch.equal(pieces.states[step][name], value), (step, name)
    for column in ("steps", "train_loss", "train_acc", "val_loss", "val_acc"):
        assert torch.equal(getattr(pieces.run, column), getattr(straight.run, column)), column


def test_weight_decay_and_dropout_shrink_the_overfitting_gap():
    plain = nb.boundary_history(64, 3, 0.0, 0.0)
    regular = nb.boundary_history(64, 3, 1.0, 0.3)
    plain.train_to(500)
    regular.train_to(500)
    plain, regular = plain.run, regular.run
    gap_plain = float(plain.val_loss[-1] - plain.train_loss[-1])
    gap_regular = float(regular.val_loss[-1] - regular.train_loss[-1])
    assert gap_regular < 0.5 * gap_plain


def png_pixels(data: bytes) -> np.ndarray:
    return np.asarray(PIL.Image.open(io.BytesIO(bytes(data))))


def test_the_steps_slider_trains_on_or_replays_snapshots_in_place():
    nb.boundary_history.cache_clear()  # so the first frame trains
    demo = nb.build_demo(width=4, steps=50)
    assert demo.last_error is None and "trained for 50 steps in" in demo.readout.value
    history, art = nb.boundary_history(4, 1, 0.0, 0.0, "moons"), demo.figure.nb06_artists
    assert history.training.step == 50 and art["curves"][0].get_xdata()[-1] == 50
    artists = [art["plane"]["shading"], art["now"], *art["curves"], *demo.figure.axes]
    demo.controls["steps"].value = 400
    assert "after 400 steps" in demo.readout.value
    assert "trained on from step 50 to 400" in demo.readout.value
    assert history.training.step == 400 and art["curves"][1].get_xdata()[-1] == 400
    image = bytes(demo.image.value)
    demo.controls["steps"].value = 100  # back: a snapshot, no training
    assert "after 100 steps" in demo.readout.value and "snapshot" in demo.readout.value
    assert history.training.step == 400 and art["curves"][0].get_xdata()[-1] == 400
    assert bytes(demo.image.value) != image
    assert [art["plane"]["shading"], art["now"], *art["curves"], *demo.figure.axes] == artists
    assert art["now"].get_xdata() == [100, 100]
    # the kept background plus the redrawn artists give the same pixels as a full render
    for name, value in (("steps", 400), ("width", 64), ("steps", 450), ("dropout", 0.3)):
        demo.controls[name].value = value
        full = blit_png(demo.figure, nb._layers(art), redo=0)  # everything drawn afresh
        np.testing.assert_array_equal(png_pixels(demo.image.value), png_pixels(full))
    assert demo.figure.axes[1].get_ylim() == (0, 2.5)  # fixed, so settings compare fairly
    demo.controls["dataset"].value = "spirals"
    assert demo.last_error is None and "trained for 450 steps" in demo.readout.value
    assert demo.figure.axes[0].get_xlim() == pytest.approx((-1.4, 1.4))


def test_unit_lines_only_for_narrow_networks():
    fig = Figure()
    nb.draw_decision_boundary(fig, 16, 1, 0.0, 0.0, 25)
    plane = fig.nb06_artists["plane"]
    assert "dashed: first-layer units" in plane["ax"].get_title()
    assert len(plane["units"].get_segments()) > 0
    nb.draw_decision_boundary(fig, 32, 1, 0.0, 0.0, 25)
    assert "dashed" not in plane["ax"].get_title() and plane["units"].get_segments() == []
    fig.clear()  # a cleared figure gets new artists
    nb.draw_decision_boundary(fig, 32, 1, 0.0, 0.0, 25)
    assert fig.nb06_artists["plane"] is not plane and len(fig.axes) == 2


# --- §7 exercise checks -------------------------------------------------------------------------


def stub(*_args):
    raise NotImplementedError("fill in")


class DeepMLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)


class SequentialMLP(nn.Sequential):
    def __init__(self, sizes):
        layers = [m for a, b in itertools.pairwise(sizes) for m in (nn.Linear(a, b), nn.ReLU())]
        super().__init__(*layers[:-1])


class ListMLP(DeepMLP):  # the notebook's BrokenMLP
    def __init__(self, sizes):
        nn.Module.__init__(self)
        self.layers = [nn.Linear(a, b) for a, b in itertools.pairwise(sizes)]


class ListInSequential(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.net = nn.Sequential([nn.Linear(a, b) for a, b in itertools.pairwise(sizes)])


class CallsModuleList(DeepMLP):
    def forward(self, x):
        return self.layers(x)


class ReluAfterLast(DeepMLP):
    def forward(self, x):
        for layer in self.layers:
            x = torch.relu(layer(x))
        return x


class NoRelu(DeepMLP):
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class FirstRegistered(DeepMLP):
    def __init__(self, sizes):
        nn.Module.__init__(self)
        self.layers = [nn.Linear(a, b) for a, b in itertools.pairwise(sizes)]
        self.first = self.layers[0]


def merge(layers, *, dtype=None, skip_none=True):
    """Collapse ``layers`` right; or crash on a missing bias, or make a float32 layer."""
    first = layers[0]
    W = torch.eye(first.in_features, dtype=first.weight.dtype)
    b = torch.zeros(first.in_features, dtype=W.dtype)
    with torch.no_grad():
        for layer in layers:
            W = layer.weight @ W
            b = layer.weight @ b + (layer.bias if layer.bias is not None or not skip_none else 0)
        merged = nn.Linear(first.in_features, layers[-1].out_features, dtype=dtype or W.dtype)
        merged.weight.copy_(W)
        merged.bias.copy_(b)
    return merged


def reversed_order(layers):  # W = W_1 W_2 ⋯ W_L
    merged = merge(layers)
    with torch.no_grad():
        merged.weight.copy_(functools.reduce(torch.matmul, [m.weight for m in layers]))
    return merged


def bias_sum(layers):
    merged = merge(layers)
    with torch.no_grad():
        merged.bias.copy_(sum((m.bias for m in layers if m.bias is not None), torch.zeros(1)))
    return merged


def middle_bias_missing(layers):
    merged = merge(layers)
    if len(layers) == 3 and layers[1].bias is not None:
        with torch.no_grad():
            merged.bias.sub_(layers[2].weight @ layers[1].bias)
    return merged


def in_place(layers):
    merged = merge(layers)
    with torch.no_grad():
        layers[0].weight.mul_(2)
    return merged


def identity_trick(layers):  # push the identity and zero through the stack: also right
    stack, eye = (
        nn.Sequential(*layers),
        torch.eye(layers[0].in_features, dtype=layers[0].weight.dtype),
    )
    with torch.no_grad():
        b, W = stack(torch.zeros_like(eye[0])), (stack(eye) - stack(torch.zeros_like(eye[0]))).T
        merged = nn.Linear(W.shape[1], W.shape[0], bias=True, dtype=W.dtype)
        merged.weight.copy_(W)
        merged.bias.copy_(b)
    return merged


def dropout_right(x, p, training):
    return x * (torch.rand_like(x) >= p) / (1 - p) if training else x


RIGHT = [
    (nb.check_deep_mlp, DeepMLP),
    (nb.check_deep_mlp, SequentialMLP),
    (nb.check_max_regions, lambda k: 1 + k + k * (k - 1) // 2),
    (nb.check_max_regions, lambda k: np.int64(1 + k * (k + 1) // 2)),  # a NumPy integer
    (nb.check_max_regions, lambda k: torch.tensor(1 + k * (k + 1) // 2)),  # a 0-d tensor
    (nb.check_max_regions, lambda k: 1 + k * (k + 1) / 2),  # a float
    (nb.check_collapse, merge),
    (nb.check_collapse, identity_trick),
    (nb.check_dropout, dropout_right),
    (
        nb.check_dropout,
        lambda x, p, t: (
            torch.where(torch.bernoulli(torch.full_like(x, 1 - p)).bool(), x / (1 - p), 0.0)
            if t
            else x
        ),
    ),
    (
        nb.check_dropout,
        lambda x, p, t: (
            x.clone()
            if not t
            else x.masked_fill(torch.rand(x.shape, dtype=x.dtype) < p, 0) / (1 - p)
        ),
    ),
]


@pytest.mark.parametrize(("check", "answer"), RIGHT)
def test_right_answers_pass(check, answer, capsys):
    check(answer)
    assert capsys.readouterr().out.startswith(PASS_MARK)


@pytest.mark.parametrize(
    "check", [nb.check_deep_mlp, nb.check_max_regions, nb.check_collapse, nb.check_dropout]
)
def test_stubs_are_not_attempted(check, capsys):
    check(stub)
    assert NOT_ATTEMPTED_MARK in capsys.readouterr().out


WRONG = [
    # Exercise 6.1 (debug): the layers must be registered, the forward unchanged
    (nb.check_deep_mlp, ListMLP, r"parameters\(\) is empty: layers in a plain Python list"),
    (nb.check_deep_mlp, FirstRegistered, r"only 1 of 3 layers .* registered"),
    (nb.check_deep_mlp, ListInSequential, r"list is not a Module subclass\. Unpack the list"),
    (nb.check_deep_mlp, CallsModuleList, r"ModuleList has no forward: loop over it"),
    (nb.check_deep_mlp, ReluAfterLast, r"a ReLU after the last Linear"),
    (nb.check_deep_mlp, NoRelu, r"ReLU between the layers is missing"),
    # Exercise 6.2 (derive): the number of regions k lines make
    (nb.check_max_regions, lambda k: 2**k, r"max_regions\(3\) = 8 = 2\^k counts on/off patterns"),
    (nb.check_max_regions, lambda k: k + 1, r"max_regions\(2\) = 3 = k \+ 1: parallel lines"),
    (nb.check_max_regions, lambda k: k * (k + 1) // 2, r"max_regions\(0\) = 0 is one short"),
    (
        nb.check_max_regions,
        lambda k: 1 + k * k,
        r"max_regions\(2\) is 4, not 5: into how many pieces",
    ),
    (nb.check_max_regions, lambda k: str(k), r"expected a number, got str"),
    # Exercise 6.3 (transfer): collapse a whole stack
    (nb.check_collapse, reversed_order, r"W_1 W_2 W_3, the wrong order"),
    (nb.check_collapse, bias_sum, r"the bias is b_1 \+ b_2 \+ b_3, but b_1 passes through"),
    (nb.check_collapse, middle_bias_missing, r"b_2 is missing"),
    (
        nb.check_collapse,
        lambda layers: merge(layers, skip_none=False),
        r"bias None: count it as zero",
    ),
    (
        nb.check_collapse,
        lambda layers: merge(layers, dtype=torch.float32),
        r"float64: give the merged layer",
    ),
    (nb.check_collapse, lambda layers: merge(layers[:2]), r"4 → 4 → 4 → 4: the values are off"),
    (nb.check_collapse, lambda layers: layers[0].weight, r"return an nn.Linear, got Parameter"),
    (nb.check_collapse, in_place, r"changed the layers it was given"),
    # Exercise 6.4: dropout in both modes
    (nb.check_dropout, lambda x, p, t: x * (torch.rand_like(x) >= p) if t else x, r"not rescaled"),
    (
        nb.check_dropout,
        lambda x, p, t: x * (torch.rand_like(x) >= p) * (1 - p) if t else x,
        r"not by \(1 − p\)",
    ),
    (
        nb.check_dropout,
        lambda x, p, t: x * (torch.rand_like(x) < p) / (1 - p) if t else x,
        r"80% zeros for p = 0\.2: p is the probability to drop",
    ),
    (
        nb.check_dropout,
        lambda x, p, t: x * (torch.rand_like(x) >= p) / (1 - p),
        r"training=False \(eval mode\) dropout is off",
    ),
    (
        nb.check_dropout,
        lambda x, p, t: dropout_right(x, p, t) if t else x * (1 - p),
        r"eval mode scaled by 1 − p",
    ),
    (
        nb.check_dropout,
        lambda x, p, t: dropout_right(x, 0.2, t),
        r"expected about 70% zeros for p = 0\.7",
    ),
    (
        nb.check_dropout,
        lambda x, p, t: x * (torch.rand(x.shape[-1]) >= p) / (1 - p) if t else x,
        r"every row got the same mask",
    ),
    (
        nb.check_dropout,
        lambda x, p, t: F.dropout(x, p, t),
        r"you called dropout, which this exercise rules out",
    ),
    (nb.check_dropout, lambda x, p, t: nn.Dropout(p).train(t)(x), r"you called dropout"),
    (
        nb.check_dropout,
        lambda x, p, t: dropout_right(x, p, t).float(),
        r"must return shape \(0, 4\), torch.float64",
    ),
    (
        nb.check_dropout,
        lambda x, p, t: (
            x * (torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) >= p) / (1 - p)
            if t
            else x
        ),
        r"two calls dropped the same entries",
    ),
]


@pytest.mark.parametrize(("check", "answer", "hint"), WRONG)
def test_wrong_answers_get_a_hint_naming_the_mistake(check, answer, hint):
    with pytest.raises(AssertionError, match=hint):
        check(answer)


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("DeepMLP", nb.check_deep_mlp),
        ("max_regions", nb.check_max_regions),
        ("collapse", nb.check_collapse),
        ("dropout", nb.check_dropout),
    ],
)
def test_the_notebooks_own_solution_passes(name, check, capsys):
    answer = definitions_from_notebook(NOTEBOOK, name)[name]  # the solution cell comes last
    check(answer)
    assert capsys.readouterr().out.startswith(PASS_MARK)


def _idle(demo, timeout=30.0):
    """Wait until the demo's prefetch worker has nothing left to do and has ended."""
    thread = demo.prefetch.thread
    if thread is not None:
        thread.join(timeout)
    assert demo.prefetch.thread is None or not demo.prefetch.thread.is_alive()


def test_a_prefetched_setting_equals_one_trained_on_demand(monkeypatch):
    monkeypatch.setattr(nb, "PREFETCH", True)
    nb.boundary_history.cache_clear()
    demo = nb.build_demo(width=4, dropout=0.1, steps=150, dataset="spirals")
    demo.controls["width"].value = 8  # the next width, 16, is prefetched first
    _idle(demo)
    setting = (16, 1, 0.0, 0.1, "spirals")
    prefetched = nb.boundary_history(*setting)
    assert prefetched.training.step == 150
    torch.rand(3)  # the global RNG moved on meanwhile: on demand must not care
    fresh = nb.boundary_history.__wrapped__(*setting)
    fresh.train_to(150)
    assert sorted(prefetched.states) == sorted(fresh.states)
    for step, state in fresh.states.items():
        for name, value in state.items():
            assert torch.equal(prefetched.states[step][name], value), (step, name)
    for column in ("steps", "train_loss", "train_acc", "val_loss", "val_acc"):
        assert torch.equal(getattr(prefetched.run, column), getattr(fresh.run, column)), column
    demo.controls["width"].value = 16  # shows the prefetched run: the same picture data
    assert "trained before" in demo.readout.value
    _, _, P = nb.decision_grid(fresh.model, limits=nb.BOUNDARY_LIMITS["spirals"], resolution=80)
    torch.testing.assert_close(prefetched.frames[150][2], P, rtol=0, atol=0)
    demo.prefetch.close()
    _idle(demo)


def test_the_prefetch_worker_ends_when_idle_or_closed(monkeypatch):
    monkeypatch.setattr(nb, "PREFETCH", True)
    demo = nb.build_demo(width=2, steps=500)
    demo.controls["width"].value = 4
    assert len(demo.prefetch.jobs) <= 8
    demo.prefetch.close()  # mid-work: the worker stops after its chunk
    _idle(demo, timeout=5.0)
    demo.controls["width"].value = 8  # a closed demo schedules nothing
    assert demo.prefetch.jobs == [] and demo.prefetch.thread is None
    other = nb.build_demo(width=2, steps=50)
    other.controls["depth"].value = 2
    _idle(other)  # done: no thread stays behind
    assert not [t for t in threading.enumerate() if t.name == "nb06-prefetch" and t.is_alive()]
    gone = nb.build_demo(width=2, steps=500)
    gone.controls["width"].value = 4
    prefetch = gone.prefetch
    assert prefetch.thread is not None  # at work
    for widget in [gone.widget, gone.image, gone.readout, *gone.controls.values()]:
        widget.close()  # ipywidgets keeps every open widget (and so the demo) alive
    del gone, widget
    gc.collect()  # the demo is collected: its worker is told to stop after its chunk
    assert prefetch.closed
    thread = prefetch.thread
    if thread is not None:
        thread.join(5.0)
    assert prefetch.thread is None
    monkeypatch.setattr(nb, "PREFETCH", False)
    assert nb.build_demo().prefetch.thread is None
