"""utils.plots.batchnorm draws what it says on the axes it is given and rejects bad input."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from utils import plots
from utils.plots import batchnorm as bn_plots


@pytest.fixture
def ax():
    return Figure().add_subplot()


def test_histograms_before_and_after_with_stats_in_the_legend(ax):
    before = 3 + 2 * torch.randn(500, 4)
    after = torch.randn(500, 4)
    artists = plots.bn_histograms(ax, before, after, bins=20)
    assert set(artists) == {"before", "after"}
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels[0].startswith("before BN: mean +3.") and labels[1].startswith("after BN")
    # density-normalised: the area under each histogram outline is 1
    for patch in artists.values():
        xy = patch.get_xy()
        area = np.trapezoid(xy[:, 1], xy[:, 0])
        assert abs(area) == pytest.approx(1.0, rel=1e-6)
    assert ax.get_xlabel() == "activation value"


def test_running_stats_one_line_per_feature_and_targets(ax):
    means, variances = torch.zeros(6, 3), torch.ones(6, 3)
    lines = plots.running_stats(ax, means, variances, true_mean=0.5, true_var=2.0)
    assert len(lines["mean"]) == len(lines["var"]) == 3
    assert [line.get_ydata()[0] for line in lines["targets"]] == [0.5, 2.0]
    np.testing.assert_allclose(lines["mean"][0].get_xdata(), np.arange(6))
    assert ax.get_legend() is not None


def test_running_stats_1d_and_without_legend(ax):
    lines = plots.running_stats(ax, torch.arange(4.0), torch.ones(4), legend=False)
    assert len(lines["mean"]) == 1 and lines["targets"] == []
    assert ax.get_legend() is None


def test_seed_loss_curves_log_scale_and_mean(ax):
    losses = torch.tensor([[1.0, 0.5, 0.25], [3.0, 1.5, 0.75]])
    lines = plots.seed_loss_curves(ax, losses, label="run")
    assert len(lines["seeds"]) == 2
    np.testing.assert_allclose(lines["mean"][0].get_ydata(), [2.0, 1.0, 0.5])
    assert ax.get_yscale() == "log"
    assert "mean of 2" in lines["mean"][0].get_label()


def test_helpers_never_create_pyplot_figures(ax):
    before = plt.get_fignums()
    plots.bn_histograms(ax, torch.randn(10), torch.randn(10))
    plots.running_stats(Figure().add_subplot(), torch.zeros(3), torch.ones(3))
    assert plt.get_fignums() == before


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda ax: bn_plots.bn_histograms("ax", [1.0], [1.0]), TypeError, "matplotlib Axes"),
        (lambda ax: bn_plots.bn_histograms(ax, [], [1.0]), ValueError, "before holds no values"),
        (
            lambda ax: bn_plots.bn_histograms(ax, [1.0], [float("nan")]),
            ValueError,
            "after contains NaN",
        ),
        (lambda ax: bn_plots.bn_histograms(ax, [1.0], [1.0], bins=0), ValueError, "bins"),
        (
            lambda ax: bn_plots.running_stats(ax, torch.zeros(3, 2), torch.ones(3)),
            ValueError,
            r"variances must have the same shape as means \(3, 2\); got \(3, 1\)",
        ),
        (
            lambda ax: bn_plots.running_stats(ax, torch.zeros(2, 2, 2), torch.ones(2, 2, 2)),
            ValueError,
            r"means must have shape \(steps,\) or \(steps, C\)",
        ),
        (
            lambda ax: bn_plots.seed_loss_curves(ax, torch.tensor([[1.0, 0.0]])),
            ValueError,
            "positive",
        ),
        (
            lambda ax: bn_plots.seed_loss_curves(ax, torch.ones(2, 2, 2)),
            ValueError,
            r"\(seeds, steps\)",
        ),
    ],
)
def test_bad_input(ax, call, error, message):
    with pytest.raises(error, match=message):
        call(ax)
