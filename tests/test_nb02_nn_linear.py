"""utils.nb02_nn_linear: real nn.Linear shapes and errors, shape diagram, demo, checks."""

from __future__ import annotations

import html
import itertools
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from scripts.series import definitions_from_notebook, run_solution_cells
from utils import nb02_nn_linear as nb
from utils.check import NOT_ATTEMPTED_MARK, PASS_MARK

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "02_nn_linear.ipynb"


# --- compute -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("batch", "extra_dims", "n_in", "n_out"),
    list(itertools.product([0, 1, 5], range(len(nb.EXTRA_SIZES) + 1), [1, 7], [1, 4])),
)
def test_every_setting_keeps_leading_dims_or_raises_the_predicted_error(
    batch, extra_dims, n_in, n_out
):
    ok = nb.explore_linear_shapes(batch, extra_dims, n_in, n_out)
    assert ok.ok and ok.error is None
    assert ok.input_shape == (batch, *nb.EXTRA_SIZES[:extra_dims], n_in)
    assert ok.output_shape == (*ok.input_shape[:-1], n_out)
    assert ok.weight_shape == (n_out, n_in)
    assert ok.rows == torch.Size(ok.input_shape[:-1]).numel()
    assert "kept" in ok.explanation

    bad = nb.explore_linear_shapes(batch, extra_dims, n_in, n_out, mismatch=True)
    assert not bad.ok and bad.output_shape is None
    assert bad.input_shape[-1] == n_in + 1
    sizes = re.search(r"cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)", bad.error)
    assert tuple(map(int, sizes.groups())) == (bad.rows, n_in + 1, n_in, n_out)
    assert f"{n_in + 1} ≠ in_features {n_in}" in bad.explanation


def test_error_is_the_one_a_learner_sees():
    layer = torch.nn.Linear(5, 3)
    with pytest.raises(RuntimeError) as raised:
        layer(torch.randn(3, 4, 6))
    assert str(raised.value) == nb.explore_linear_shapes(3, 1, 5, 3, mismatch=True).error


def test_all_extra_dims_leave_the_global_rng_alone():
    state = torch.random.get_rng_state()
    assert nb.explore_linear_shapes(2, 3, 5, 1).input_shape == (2, 4, 3, 2, 5)
    assert nb.explore_linear_shapes(2, 1, 3, 4).output_shape == (2, 4, 4)
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"batch": -1}, ValueError, "batch must be at least 0; got -1"),
        ({"extra_dims": 4}, ValueError, "extra_dims must be at least 0, at most 3; got 4"),
        ({"extra_dims": -1}, ValueError, "extra_dims must be at least 0, at most 3; got -1"),
        ({"in_features": 0}, ValueError, "in_features must be at least 1"),
        ({"out_features": 2.5}, TypeError, "out_features must be an int; got float"),
        ({"batch": True}, TypeError, "batch must be an int; got bool"),
        ({"extra_dims": "1"}, TypeError, "extra_dims must be an int; got str"),
    ],
)
def test_bad_input_says_what_was_expected(kwargs, error, message):
    args = {"batch": 2, "extra_dims": 0, "in_features": 3, "out_features": 2} | kwargs
    with pytest.raises(error, match=message):
        nb.explore_linear_shapes(**args)


# --- plot --------------------------------------------------------------------------------------


def test_shape_diagram_colours_the_inner_sizes():
    ax = Figure().add_subplot()
    artists = nb.linear_shape_diagram(ax, nb.explore_linear_shapes(2, 1, 5, 3))
    assert {line.get_color() for line in artists["inner"]} == {nb.MATCH_COLOR}
    assert len(artists["inner"]) == 2  # x's last dim and Wᵀ's rows
    assert "(2, 4, 5)" in ax.get_title() and "5 = 5" in ax.get_title()
    assert "y viewed as (8, 3)" in [text.get_text() for text in ax.texts]
    edge_colors = [line.get_color() for line in ax.lines]  # out: Wᵀ, b, y; rows: x, y
    assert sorted(edge_colors) == sorted(
        [nb.MATCH_COLOR] * 2 + [nb.OUT_COLOR] * 3 + [nb.ROWS_COLOR] * 2
    )
    assert isinstance(artists["y"], Rectangle)
    bad = Figure().add_subplot()
    artists = nb.linear_shape_diagram(bad, nb.explore_linear_shapes(2, 1, 5, 3, mismatch=True))
    assert {line.get_color() for line in artists["inner"]} == {nb.CLASH_COLOR}
    assert artists["y"].get_text() == "RuntimeError"
    assert "6 ≠ 5" in bad.get_title() and "error" in bad.get_title()
    assert len(bad.lines) == 5  # y, never computed, has no coloured edges


def test_shape_diagram_bad_input_and_no_pyplot_figures():
    before = plt.get_fignums()
    with pytest.raises(TypeError, match="shapes must be a LinearShapes; got tuple"):
        nb.linear_shape_diagram(Figure().add_subplot(), (3, 4))
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        nb.linear_shape_diagram(None, nb.explore_linear_shapes(1, 0, 1, 1))
    nb.linear_shape_diagram(Figure().add_subplot(), nb.explore_linear_shapes(1, 0, 1, 1))
    assert plt.get_fignums() == before


# --- slider demo -------------------------------------------------------------------------------


def test_mismatch_is_normal_output_with_the_real_error():
    demo = nb.build_demo()
    demo.controls["mismatch"].value = True
    assert demo.last_error is None
    text = html.unescape(demo.readout.value)
    assert "RuntimeError: mat1 and mat2 shapes cannot be multiplied (12x6 and 5x3)" in text
    assert "6 ≠ in_features 5" in text
    demo.controls["mismatch"].value = False
    assert "→ y (3, 4, 3)" in html.unescape(demo.readout.value)


def test_empty_batch_draws():
    fig = Figure()
    text = nb.draw_shape_explorer(fig, 0, 2, 4, 2, False)
    assert "→ y (0, 4, 3, 2)" in text and len(fig.axes) == 1


# --- exercise checks ---------------------------------------------------------------------------


def stub(*_args, **_kwargs):
    raise NotImplementedError


class StubCNN(nn.Module):  # the notebook's stub: NotImplementedError in __init__
    def __init__(self, channels=16, n_classes=10):
        super().__init__()
        raise NotImplementedError


def test_stubs_are_not_attempted(capsys):
    nb.check_predicted_shapes(...)
    nb.check_count_linear_parameters(..., ..., ...)
    nb.check_count_linear_parameters(7850, 217994, ...)
    nb.check_tiny_cnn(StubCNN)
    assert capsys.readouterr().out.count(NOT_ATTEMPTED_MARK) == 4


# Exercise 2.1: the shape quiz.
RIGHT = {
    "a": (2, 7, 4, 3),
    "b": (0, 3, 4),
    "c": (1,),
    "d": "error",
    "e": "error",
    "f": (6, 4),
    "g": (1, 1, 2),
}


def test_quiz_truth_is_what_a_real_layer_does():
    for key, (n_in, n_out, bias, shape, _rule) in nb.SHAPE_QUIZ.items():
        layer = nn.Linear(n_in, n_out, bias=bias)
        if RIGHT[key] == "error":
            with pytest.raises(RuntimeError, match="cannot be multiplied"):
                layer(torch.zeros(shape))
        else:
            assert layer(torch.zeros(shape)).shape == RIGHT[key]


def test_quiz_covers_the_new_situations():
    cases = nb.SHAPE_QUIZ.values()
    assert any(len(shape) == 4 for *_, shape, _rule in cases)  # a 4-D input
    assert any(not bias for _, _, bias, _, _ in cases)  # bias=False
    assert any(shape[0] == 0 for *_, shape, _rule in cases)  # an empty batch
    assert any(len(shape) == 1 for *_, shape, _rule in cases)  # a single sample


@pytest.mark.parametrize(
    "answer",
    [
        RIGHT,
        {k: list(v) if isinstance(v, tuple) else v for k, v in RIGHT.items()},
        {k: torch.Size(v) if isinstance(v, tuple) else v for k, v in RIGHT.items()},
        RIGHT | {"d": "Error", "e": " error "},
    ],
    ids=["tuples", "lists", "torch.Size", "spelling of error"],
)
def test_right_shapes_pass(answer, capsys):
    nb.check_predicted_shapes(answer)
    assert PASS_MARK in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "hint"),
    [
        ({"a": "error"}, r"\(a\) nn\.Linear\(5, 3, bias=False\).*removes b, not an axis"),
        ({"b": "error"}, r"\(b\).*an empty batch is fine"),
        ({"b": (0, 4)}, r"\(b\).*every leading axis is kept, the 0 too"),
        ({"c": ()}, r"\(c\).*1-D output \(out_features,\): mind the comma"),
        ({"c": 1}, r"\(c\).*mind the comma"),
        ({"c": (1, 1)}, r"\(c\).*mind the comma"),
        ({"d": (2, 2)}, r"\(d\) nn\.Linear\(12, 2\).*never flattens"),
        ({"e": (5, 3)}, r"\(e\).*never transposes"),
        ({"f": "error"}, r"\(f\).*a last axis of size 1 matches in_features = 1"),
        ({"g": (2,)}, r"\(g\).*axes of size 1 are leading axes like any other"),
    ],
    ids=["bias=False as error", "empty as error", "empty axis dropped", "scalar", "int",
         "(1, 1)", "auto-flatten", "auto-transpose", "size-1 features", "size-1 axes dropped"],
)  # fmt: skip
def test_wrong_shapes_get_a_hint(change, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_predicted_shapes(RIGHT | change)


def test_incomplete_or_wrong_type_predictions():
    with pytest.raises(AssertionError, match=r"missing the keys \['g'\]"):
        nb.check_predicted_shapes({k: v for k, v in RIGHT.items() if k != "g"})
    with pytest.raises(AssertionError, match="must be a dict"):
        nb.check_predicted_shapes([(2, 7, 4, 3)])


# Exercise 2.2: the parameter counts.
def test_count_truth_is_what_real_models_hold():
    def count(model):
        return sum(p.numel() for p in model.parameters())

    with torch.device("meta"):
        stack = [nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 64, bias=False), nn.ReLU()]
        models = {
            "n_head": nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10)),
            "n_stack": nn.Sequential(nn.Flatten(), *stack, nn.Linear(64, 10)),
            "n_seq": nn.Linear(512, 2048),
        }
    assert {name: count(model) for name, model in models.items()} == nb.COUNT_TRUTH


COUNTS = (7850, 217994, 1050624)


@pytest.mark.parametrize(
    "answers",
    [
        COUNTS,
        tuple(np.int64(n) for n in COUNTS),
        tuple(np.int32(n) for n in COUNTS),
        tuple(torch.tensor(n) for n in COUNTS),
        tuple(float(n) for n in COUNTS),
        tuple(torch.tensor(n, dtype=torch.float64) for n in COUNTS),
    ],
    ids=["int", "numpy int64", "numpy int32", "0-d tensor", "float", "0-d float64 tensor"],
)
def test_right_counts_pass_in_every_form(answers, capsys):
    nb.check_count_linear_parameters(*answers)
    assert PASS_MARK in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answers", "hint"),
    [
        ((7840, 217994, 1050624), r"n_head counts the weights only"),
        ((290, 217994, 1050624), r"n_head uses in_features = 28; a flattened 28×28 image"),
        ((8624, 217994, 1050624), r"n_head: one bias per output \(10\), not one per input"),
        ((794, 217994, 1050624), r"not 784 \+ 10"),
        ((7850, 217728, 1050624), r"n_stack: the biases are missing"),
        ((7850, 218058, 1050624), r"n_stack: the middle layer has bias=False"),
        ((7850, 217994, 1048576), r"n_seq: 512·2048 weights, plus one bias per output"),
        ((7850, 217994, 1050624 * 32 * 50), r"one W and b serve all 32·50 positions"),
        ((7850, 217994, 1050624 * 32), r"one W and b serve all 32·50 positions"),
        ((7850, 217995, 1050624), r"n_stack = 217995 is off: add in·out \+ out per Linear"),
        (("7850", 217994, 1050624), r"n_head: expected a number, got str"),
        ((torch.tensor([7850]), 217994, 1050624), r"expected one number, got a tensor of shape"),
    ],
    ids=["head: bias forgotten", "head: not flattened", "head: bias per input", "head: in + out",
         "stack: no biases", "stack: bias=False ignored", "seq: bias forgotten",
         "seq: per position", "seq: per sequence", "stack: slip", "string", "1-element tensor"],
)  # fmt: skip
def test_wrong_counts_get_a_hint(answers, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_count_linear_parameters(*answers)


# Exercise 2.3: TinyCNN, written as a learner would fix (or break) it.
def tiny_cnn(forward, in_features=lambda channels: channels * 25, features_end=()):
    """A TinyCNN class whose head takes ``in_features(channels)`` and whose forward is given."""

    class TinyCNN(nn.Module):
        def __init__(self, channels=16, n_classes=10):
            super().__init__()
            conv = nn.Conv2d(1, channels, kernel_size=5)
            self.features = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2), *features_end)
            self.head = nn.Linear(in_features(channels), n_classes)

        def forward(self, x):
            return forward(self, x)

    return TinyCNN


class DummyPassCNN(nn.Module):  # in_features read from one dummy forward pass
    def __init__(self, channels=16, n_classes=10):
        super().__init__()
        conv = nn.Conv2d(1, channels, kernel_size=5)
        self.features = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2))
        with torch.no_grad():
            n_features = self.features(torch.zeros(1, 1, 14, 14)).numel()
        self.head = nn.Linear(n_features, n_classes)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


class LazyCNN(nn.Module):  # nn.LazyLinear infers in_features on the first call
    def __init__(self, channels=16, n_classes=10):
        super().__init__()
        conv = nn.Conv2d(1, channels, kernel_size=5)
        self.features = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.head = nn.LazyLinear(n_classes)

    def forward(self, x):
        return self.head(self.features(x))


@pytest.mark.parametrize(
    "model",
    [
        tiny_cnn(lambda m, x: m.head(m.features(x).flatten(1))),
        tiny_cnn(lambda m, x: m.head(m.features(x).view(x.size(0), -1))),
        tiny_cnn(lambda m, x: m.head(m.features(x).reshape(len(x), -1))),
        tiny_cnn(lambda m, x: m.head(m.features(x)), features_end=(nn.Flatten(),)),
        DummyPassCNN,
        LazyCNN,
    ],
    ids=["flatten(1)", "view(size(0), -1)", "reshape(len, -1)", "nn.Flatten", "dummy pass", "lazy"],
)
def test_right_cnns_pass(model, capsys):
    nb.check_tiny_cnn(model)
    assert PASS_MARK in capsys.readouterr().out


def _flat(m, x):
    return m.head(m.features(x).flatten(1))


@pytest.mark.parametrize(
    ("model", "hint"),
    [
        (
            tiny_cnn(lambda m, x: m.head(m.features(x)), lambda c: c * 16),  # the broken original
            r"TinyCNN\(16, 10\) on x of shape \(2, 1, 14, 14\): the head got unflattened "
            r"features, 160 rows of 5 pixels",
        ),
        (
            tiny_cnn(_flat, lambda c: c * 16),  # only the flatten fixed
            r"in_features must be C·H·W = 16·5·5 = 400 here",
        ),
        (tiny_cnn(lambda m, x: m.head(m.features(x))), r"unflattened features, 160 rows"),
        (
            tiny_cnn(lambda m, x: m.head(m.features(x)), lambda c: 5),  # fits the last axis
            r"acted on the last axis \(5 pixels\) and gave \(2, 16, 5, 10\); flatten first",
        ),
        (
            tiny_cnn(lambda m, x: m.head(m.features(x).flatten())),  # the batch flattened too
            r"flatten\(\) also flattened the batch axis",
        ),
        (
            tiny_cnn(lambda m, x: m.head(m.features(x).view(2, -1))),  # batch size hard-coded
            r"TinyCNN\(6, 3\).*saw 2 rows for a batch of 5: never hard-code the batch size",
        ),
        (
            tiny_cnn(_flat, lambda c: 400),  # in_features hard-coded for channels = 16
            r"TinyCNN\(6, 3\).*in_features must be C·H·W = 6·5·5 = 150 here",
        ),
        (
            tiny_cnn(lambda m, x: m.head(m.features(x).view(-1, 400)), lambda c: 400),
            r"a view with a hard-coded size breaks for other batches or channels",
        ),
        (
            tiny_cnn(lambda m, x: m.head(m.features(x).flatten(1)).softmax(-1)),
            r"the values are off.*One row of scores per image",
        ),
    ],
    ids=["broken original", "flatten only", "in_features only", "head on last axis",
         "flatten()", "view(2, -1)", "400 hard-coded", "view(-1, 400)", "softmax added"],
)  # fmt: skip
def test_wrong_cnns_get_a_hint(model, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_tiny_cnn(model)


def test_cnn_with_renamed_parts_is_told_to_keep_them():
    class Renamed(nn.Module):
        def __init__(self, channels=16, n_classes=10):
            super().__init__()
            conv = nn.Conv2d(1, channels, kernel_size=5)
            self.body = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
            self.fc = nn.Linear(channels * 25, n_classes)

        def forward(self, x):
            return self.fc(self.body(x))

    with pytest.raises(AssertionError, match=r"keep the two parts, self\.features and self\.head"):
        nb.check_tiny_cnn(Renamed)


def test_cnn_cases_vary_every_argument():
    channels, classes, batches = zip(*nb.CNN_CASES, strict=True)
    assert len(set(channels)) == len(set(classes)) == len(set(batches)) == len(nb.CNN_CASES)
    assert 1 in batches  # a batch of one tells flatten() from flatten(1)


# --- the notebook's own solution cells ----------------------------------------------------------


def test_the_notebook_solutions_pass_their_checks():
    printed = run_solution_cells(NOTEBOOK)
    assert printed.count(PASS_MARK) == 3, printed
    assert NOT_ATTEMPTED_MARK not in printed


def test_the_notebook_cells_count_and_fix_as_claimed(capsys):
    cells = definitions_from_notebook(NOTEBOOK, "n_parameters", "TinyCNN", "BrokenTinyCNN")
    stack = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    assert cells["n_parameters"](stack) == 784 * 128 + 128 + 128 * 10 + 10
    nb.check_tiny_cnn(cells["TinyCNN"])
    assert PASS_MARK in capsys.readouterr().out
    with pytest.raises(AssertionError, match="unflattened features, 160 rows"):
        nb.check_tiny_cnn(cells["BrokenTinyCNN"])
