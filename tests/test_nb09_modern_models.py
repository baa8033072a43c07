"""utils.nb09_modern_models: helpers against PyTorch, the LoRA demo swept, the self-checks fed
right and wrong answers, and the torchrun script run on 2 processes (gloo) against one Linear."""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure
from torch import nn

from utils import nb09_modern_models as nb
from utils.check import NOT_ATTEMPTED_MARK, PASS_MARK
from utils.widgets import blit_png


@pytest.fixture
def ax():
    return Figure().add_subplot()


# --- §3 singular values ------------------------------------------------------------------------


def test_singular_values_match_torch_and_reject_non_matrices():
    W = torch.randn(5, 3)
    torch.testing.assert_close(nb.singular_values(W), torch.linalg.svdvals(W))
    assert nb.singular_values([[2.0, 0.0], [0.0, 1.0]]).tolist() == [2.0, 1.0]
    with pytest.raises(ValueError, match=r"weight must have shape \(out_features, in_features\)"):
        nb.singular_values(torch.ones(3))


def test_plot_singular_values_one_line_per_weight(ax):
    lines = nb.plot_singular_values(ax, {"a": torch.eye(3), "b": 2 * torch.eye(3)})
    assert [line.get_label() for line in lines] == ["a", "b"]
    np.testing.assert_allclose(lines[1].get_ydata(), [2, 2, 2])
    assert ax.get_xlabel().startswith("index") and "σ" in ax.get_ylabel()
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        nb.plot_singular_values("ax", {"a": torch.eye(2)})
    with pytest.raises(ValueError, match="at least one"):
        nb.plot_singular_values(ax, {})


# --- §4 LoRA -----------------------------------------------------------------------------------


def test_lora_task_has_the_promised_spectrum_and_targets():
    task = nb.make_lora_task(d_in=10, d_out=6, spectrum=(2.0, 1.0), samples=20, seed=3)
    sigma = nb.singular_values(task.shift)
    torch.testing.assert_close(sigma[:2], torch.tensor([2.0, 1.0]))
    assert sigma[2:].max() < 1e-5  # rank 2 exactly
    torch.testing.assert_close(task.y, task.x @ (task.weight + task.shift).T + task.bias)
    assert task.weight.abs().max() <= 1 / math.sqrt(10)  # nn.Linear's default bound
    with pytest.raises(ValueError, match="at most min"):
        nb.make_lora_task(d_in=3, d_out=2, spectrum=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="positive"):
        nb.make_lora_task(spectrum=(1.0, -1.0))
    with pytest.raises(ValueError, match="samples must be at least 1"):
        nb.make_lora_task(samples=0)


def test_lora_parameter_count_and_its_validation():
    assert nb.lora_parameter_count(64, 48, 4) == 448
    for bad in (0, 1.5, True):
        with pytest.raises((TypeError, ValueError), match="rank"):
            nb.lora_parameter_count(64, 48, bad)


def test_rank_floor_is_the_truncated_svd_error():
    task = nb.make_lora_task()
    U, S, Vh = torch.linalg.svd(task.shift)
    for rank in (1, 2, 3):
        best = U[:, :rank] @ torch.diag(S[:rank]) @ Vh[:rank]
        expected = float((best - task.shift).norm() / task.shift.norm())
        assert nb.rank_floor(task.shift, rank) == pytest.approx(expected, abs=1e-5)
    assert nb.rank_floor(task.shift, 4) == pytest.approx(0.0, abs=1e-5)


def test_fit_lora_reaches_the_floor_and_leaves_the_task_alone():
    task = nb.make_lora_task()
    weight = task.weight.clone()
    low = nb.fit_lora(task, rank=2, alpha=4)
    assert low.A.shape == (2, 64) and low.B.shape == (48, 2) and low.scale == 2.0
    assert abs(float(low.errors[-1]) - nb.rank_floor(task.shift, 2)) < 0.01
    assert float(nb.fit_lora(task, rank=4, alpha=4).errors[-1]) < 0.05
    assert torch.equal(task.weight, weight)


def test_fit_lora_matches_a_module_written_like_the_notebook():
    task = nb.make_lora_task()
    torch.manual_seed(1)
    A = nn.Parameter(torch.empty(3, 64))
    nn.init.kaiming_uniform_(A, a=math.sqrt(5))
    B = nn.Parameter(torch.zeros(48, 3))
    optimizer = torch.optim.Adam([A, B], lr=nb.LORA_LR)
    for _ in range(5):
        h = F.linear(task.x, task.weight, task.bias) + 2.0 * F.linear(F.linear(task.x, A), B)
        loss = F.mse_loss(h, task.y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    fit = nb.fit_lora(task, rank=3, alpha=6, steps=5)
    torch.testing.assert_close(fit.A, A.detach())
    torch.testing.assert_close(fit.B, B.detach())


def test_fit_lora_rejects_bad_input():
    task = nb.make_lora_task()
    with pytest.raises(TypeError, match="LoraTask"):
        nb.fit_lora((task.weight,), rank=2, alpha=1)
    with pytest.raises(ValueError, match="alpha must be a finite number ≥ 0"):
        nb.fit_lora(task, rank=2, alpha=-1.0)
    with pytest.raises(ValueError, match="rank must be at least 1"):
        nb.fit_lora(task, rank=0, alpha=1.0)


def _assert_same_fit(got, want, *, rtol=1e-4, atol=1e-6):
    assert got.scale == want.scale and got.A.shape == want.A.shape and got.B.shape == want.B.shape
    for name in ("errors", "A", "B"):
        torch.testing.assert_close(getattr(got, name), getattr(want, name), rtol=rtol, atol=atol)


def test_fit_lora_grid_fits_each_setting_as_fit_lora_does():
    task = nb.make_lora_task()
    fits = nb.fit_lora_grid(task, ranks=(1, 3, 8), alphas=(1, 16.0), steps=40)
    assert sorted(fits) == sorted(itertools.product((1, 3, 8), (1.0, 16.0)))
    for (rank, alpha), fit in fits.items():  # ranks 1 and 3 padded to 8 with zeros that stay 0
        _assert_same_fit(fit, nb.fit_lora(task, rank, alpha, steps=40))


def test_fit_lora_grid_rejects_bad_input():
    task = nb.make_lora_task()
    with pytest.raises(TypeError, match="LoraTask"):
        nb.fit_lora_grid((task.weight,), ranks=(2,), alphas=(1.0,))
    with pytest.raises(ValueError, match="alpha must be a finite number ≥ 0"):
        nb.fit_lora_grid(task, ranks=(2,), alphas=(1.0, -1.0))
    with pytest.raises(ValueError, match="rank must be at least 1"):
        nb.fit_lora_grid(task, ranks=(0, 2), alphas=(1.0,))


# --- §4 the demo (tests/test_demos.py sweeps its controls like every demo's) ------------------


def test_demo_fits_are_every_slider_setting_as_fit_lora_fits_it():
    fits = nb.demo_fits()
    assert nb.demo_fits() is fits  # fitted once
    assert sorted(fits) == sorted(itertools.product(nb.RANK_CHOICES, map(float, nb.ALPHA_CHOICES)))
    task = nb.make_lora_task()
    for rank, alpha in ((1, 32.0), (4, 4.0), (16, 1.0)):
        _assert_same_fit(fits[rank, alpha], nb.fit_lora(task, rank, alpha))


def png_pixels(data: bytes) -> np.ndarray:
    return np.asarray(PIL.Image.open(io.BytesIO(bytes(data))))


def test_the_demo_updates_its_artists_in_place():
    demo = nb.build_demo(rank=2, alpha=4)
    view, fig = demo.figure.nb09_view, demo.figure
    artists = [view.curve, view.floor, view.learned, view.legend, *fig.axes]
    positions = [ax.get_position().bounds for ax in fig.axes]
    for rank, alpha in ((8, 4), (8, 32), (1, 1), (4, 2)):
        demo.controls["rank"].value, demo.controls["alpha"].value = rank, alpha
        fit, floor = nb.demo_fits()[rank, alpha], nb.rank_floor(nb.make_lora_task().shift, rank)
        assert f"error after 150 steps {float(fit.errors[-1]):.3f}" in demo.readout.value
        assert [view.curve, view.floor, view.learned, view.legend, *fig.axes] == artists
        assert [ax.get_position().bounds for ax in fig.axes] == positions
        np.testing.assert_array_equal(view.curve.get_ydata(), fit.errors.numpy())
        labels = [text.get_text() for text in view.legend.get_texts()]
        assert labels[0] == f"rank {rank}, α {alpha:g}"
        assert view.floor.get_visible() == (floor > 0)  # for r ≥ 4 the floor is 0 up to rounding
        assert labels[1] == (
            f"best rank-{rank}: {floor:.3f}" if floor > 0 else f"best rank-{rank}: 0"
        )
        # the kept still parts plus the redrawn artists give the pixels of a full draw
        full = blit_png(fig, [view.moving], redo=0)
        np.testing.assert_array_equal(png_pixels(demo.image.value), png_pixels(full))


def test_draw_lora_readout_and_floor():
    fig = Figure()
    text = nb.draw_lora(fig, rank=1, alpha=2)
    floor = nb.rank_floor(nb.make_lora_task().shift, 1)
    assert f"rank-1 floor {floor:.3f}" in text and "trainable 112 numbers" in text
    err_ax = fig.axes[0]
    assert any(line.get_ydata()[0] == pytest.approx(floor) for line in err_ax.get_lines())


# --- §5 quantisation ---------------------------------------------------------------------------


@given(
    d_out=st.integers(1, 6),
    d_in=st.integers(1, 6),
    bits=st.integers(2, 8),
    per_channel=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_fake_quantize_levels_and_error_bound(d_out, d_in, bits, per_channel, seed):
    W = torch.randn(d_out, d_in, generator=torch.Generator().manual_seed(seed))
    W_hat = nb.fake_quantize(W, bits, per_channel=per_channel)
    qmax = 2 ** (bits - 1) - 1
    largest = W.abs().amax(dim=1, keepdim=True) if per_channel else W.abs().max()
    scale = largest / qmax
    q = W_hat / scale
    torch.testing.assert_close(q, torch.round(q), atol=1e-4, rtol=0)  # integer codes
    assert q.abs().max() <= qmax + 1e-4
    assert ((W_hat - W).abs() <= scale / 2 * (1 + 1e-5) + 1e-7).all()  # half a step at most


def test_fake_quantize_per_channel_keeps_each_rows_largest_weight():
    W = torch.tensor([[100.0, 1.0, -3.0], [0.01, -0.02, 0.005]])
    W_hat = nb.fake_quantize(W, 4, per_channel=True)
    torch.testing.assert_close(W_hat.abs().amax(dim=1), W.abs().amax(dim=1))
    assert (nb.fake_quantize(W, 4, per_channel=False)[1] == 0).all()  # per tensor: row 1 lost


@pytest.mark.parametrize(
    ("bits", "error", "match"),
    [
        (1, ValueError, "between 2 and 16"),
        (17, ValueError, "between 2 and 16"),
        (4.0, TypeError, "bits must be an int"),
        (True, TypeError, "bits must be an int"),
    ],
)
def test_fake_quantize_rejects_bad_bits(bits, error, match):
    with pytest.raises(error, match=match):
        nb.fake_quantize(torch.ones(2, 2), bits, per_channel=True)


def test_relative_output_error():
    X, W = torch.randn(10, 4), torch.randn(3, 4)
    assert nb.relative_output_error(X, W, W) == 0.0
    assert nb.relative_output_error(X, W, 1.5 * W) == pytest.approx(0.5, rel=1e-5)
    with pytest.raises(ValueError, match="approx must have shape"):
        nb.relative_output_error(X, W, W.T)


def test_plot_error_vs_bits(ax):
    lines = nb.plot_error_vs_bits(ax, [2, 3], {"a": [0.5, 0.2], "b": [0.4, 0.1]})
    assert ax.get_yscale() == "log" and [line.get_label() for line in lines] == ["a", "b"]
    assert list(ax.get_xticks()) == [2, 3]
    with pytest.raises(ValueError, match="expected 2 errors"):
        nb.plot_error_vs_bits(ax, [2, 3], {"a": [0.5]})


# --- §6 timing, §7 the script's location -------------------------------------------------------


def test_median_seconds():
    calls = []
    assert nb.median_seconds(lambda: calls.append(1), repeats=3, number=2) >= 0
    assert len(calls) == 1 + 3 * 2  # one warm-up, then repeats × number
    with pytest.raises(TypeError, match="callable"):
        nb.median_seconds(3)


def test_tensor_parallel_script_is_where_the_notebook_looks():
    assert nb.TENSOR_PARALLEL_SCRIPT.is_file()


def test_importing_the_module_does_no_work():
    code = (
        "import torch, matplotlib.pyplot as plt; s = torch.initial_seed(); "
        "import utils.nb09_modern_models; "
        "assert torch.initial_seed() == s and plt.get_fignums() == []"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "", result.stderr


# --- §8 self-checks: right answers pass, stubs are "not attempted", wrong answers get hints ----


def stub(*_args):
    raise NotImplementedError("fill in")


def merge_right(base, A, B, alpha):
    merged = nn.Linear(
        base.in_features, base.out_features, bias=base.bias is not None, dtype=base.weight.dtype
    )
    with torch.no_grad():
        merged.weight.copy_(base.weight + (alpha / A.shape[0]) * B @ A)
        if base.bias is not None:
            merged.bias.copy_(base.bias)
    return merged


def merge_via_deepcopy(base, A, B, alpha):
    import copy

    merged = copy.deepcopy(base)
    with torch.no_grad():
        merged.weight += alpha / A.shape[0] * (B @ A)
    return merged


def quantize_right(W, bits):
    qmax = 2 ** (bits - 1) - 1
    scale = W.abs().amax(dim=1, keepdim=True) / qmax
    return torch.clamp(torch.round(W / scale), -qmax, qmax) * scale


def quantize_by_multiplying(W, bits):
    qmax = 2 ** (bits - 1) - 1
    inverse = qmax / W.abs().amax(dim=1)[:, None]
    return torch.clamp(torch.round(W * inverse), -qmax, qmax) / inverse


def megatron_right(batch, d_in, d_hidden, d_out, world_size, element_size):
    ring = 2 * (world_size - 1) / world_size
    return ring * batch * d_out * element_size, ring * batch * d_in * element_size


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (nb.check_merge_lora, merge_right),
        (nb.check_merge_lora, merge_via_deepcopy),
        (nb.check_quantize_per_channel, quantize_right),
        (nb.check_quantize_per_channel, quantize_by_multiplying),
        (nb.check_megatron_bytes, megatron_right),
        # integer arithmetic, NumPy scalars, 0-d tensors and a list all count as right
        (
            nb.check_megatron_bytes,
            lambda b, i, h, o, P, e: (2 * (P - 1) * b * o * e // P, 2 * (P - 1) * b * i * e // P),
        ),
        (
            nb.check_megatron_bytes,
            lambda *args: tuple(np.float64(v) for v in megatron_right(*args)),
        ),
        (
            nb.check_megatron_bytes,
            lambda *args: tuple(np.int64(round(v)) for v in megatron_right(*args)),
        ),
        (
            nb.check_megatron_bytes,
            lambda *args: tuple(torch.tensor(v) for v in megatron_right(*args)),
        ),
        (nb.check_megatron_bytes, lambda *args: list(megatron_right(*args))),
    ],
)
def test_right_answers_pass_and_stubs_are_not_attempted(check, answer, capsys):
    check(answer)
    assert capsys.readouterr().out.startswith(PASS_MARK)
    check(stub)
    assert NOT_ATTEMPTED_MARK in capsys.readouterr().out


def _merge_with(scale=None, *, bias="copy", dtype=True, update="BA"):
    """A merge_lora with one typical mistake."""

    def merge_lora(base, A, B, alpha):
        r = A.shape[0]
        factor = alpha / r if scale is None else scale(alpha, r)
        has_bias = {"copy": base.bias is not None, "always": True, "drop": False}[bias]
        kwargs = {"dtype": base.weight.dtype} if dtype else {}
        merged = nn.Linear(base.in_features, base.out_features, bias=has_bias, **kwargs)
        delta = {"BA": lambda: B @ A, "AtBt": lambda: A.T @ B.T, "AB": lambda: A @ B}[update]()
        with torch.no_grad():
            merged.weight.copy_(base.weight + factor * delta)
            if has_bias and base.bias is not None:
                merged.bias.copy_(base.bias)
        return merged

    return merge_lora


def merge_in_place(base, A, B, alpha):
    with torch.no_grad():
        base.weight += alpha / A.shape[0] * B @ A
    return base


def merge_returns_tensor(base, A, B, alpha):
    return base.weight + alpha / A.shape[0] * B @ A


MERGE_MISTAKES = [
    (_merge_with(lambda a, r: 1.0), r"no scale at all.*α/r"),
    (_merge_with(lambda a, r: a), r"α alone"),
    (_merge_with(lambda a, r: r / a), r"r/α, upside down"),
    (_merge_with(lambda a, r: a / 4), r"α/4: a hard-coded rank"),
    (_merge_with(update="AtBt"), r"must match the size.*B @ A, not A.T @ B.T \(transposed\)"),
    (_merge_with(update="AB"), r"cannot be multiplied.*the update is B @ A"),
    (_merge_with(bias="always"), r"the base layer has no bias \(bias=False\)"),
    (_merge_with(bias="drop"), r"dropped the base's bias"),
    (_merge_with(dtype=False), r"expected dtype torch.float64 like the base layer"),
    (merge_in_place, r"changed the base layer in place"),
    (merge_returns_tensor, r"expected an nn.Linear, got Tensor"),
]


@pytest.mark.parametrize(("answer", "hint"), MERGE_MISTAKES)
def test_merge_lora_rejects_typical_mistakes_with_a_hint(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_merge_lora(answer)


def test_merge_lora_fresh_random_bias_is_named():
    def fresh_bias(base, A, B, alpha):
        merged = _merge_with()(base, A, B, alpha)
        if merged.bias is not None:
            with torch.no_grad():
                merged.bias.normal_()
        return merged

    with pytest.raises(AssertionError, match="copy it unchanged"):
        nb.check_merge_lora(fresh_bias)


def _quantize_with(*, reduce="rows_abs", qmax_of=None, rounding=torch.round, output="dequant"):
    """A quantize_per_channel with one typical mistake."""

    def quantize_per_channel(W, bits):
        qmax = 2 ** (bits - 1) - 1 if qmax_of is None else qmax_of(bits)
        largest = {
            "rows_abs": lambda: W.abs().amax(dim=1, keepdim=True),
            "tensor": lambda: W.abs().max(),
            "columns": lambda: W.abs().amax(dim=0, keepdim=True),
            "rows_signed": lambda: W.amax(dim=1, keepdim=True),
            "rows_no_keepdim": lambda: W.abs().amax(dim=1),
            "buggy": lambda: W.amax(dim=1),  # the exercise's snippet, both bugs
        }[reduce]()
        scale = largest / qmax
        q = torch.clamp(rounding(W / scale), -qmax, qmax)
        return {"dequant": lambda: q * scale, "codes": lambda: q, "int8": lambda: q.to(torch.int8)}[
            output
        ]()

    return quantize_per_channel


QUANTIZE_MISTAKES = [
    (_quantize_with(reduce="tensor"), r"one scale for the whole tensor \(per tensor\)"),
    (_quantize_with(reduce="columns"), r"one scale per input column \(dim=0\)"),
    (_quantize_with(reduce="rows_signed"), r"largest-magnitude weight is negative get clipped"),
    (_quantize_with(reduce="rows_no_keepdim"), r"must match the size.*keepdim=True"),
    (_quantize_with(reduce="buggy"), r"must match the size.*keepdim=True"),
    (_quantize_with(qmax_of=lambda b: 2**b - 1), r"you used 2\^bits − 1"),
    (_quantize_with(qmax_of=lambda b: 2 ** (b - 1)), r"not 2\^\(bits−1\) = 128"),
    (_quantize_with(rounding=torch.floor), r"not down \(floor\)"),
    (_quantize_with(rounding=torch.trunc), r"towards zero \(trunc, int conversion\)"),
    (_quantize_with(output="codes"), r"you returned the integer codes q"),
    (_quantize_with(output="int8"), r"you returned the integer codes q"),
    (lambda W, bits: quantize_right(W, bits)[:, :2], r"expected shape \(4, 6\)"),
    (lambda W, bits: quantize_right(W, bits).float(), r"expected dtype torch.float64 like W"),
]


@pytest.mark.parametrize(("answer", "hint"), QUANTIZE_MISTAKES)
def test_quantize_per_channel_rejects_typical_mistakes_with_a_hint(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_quantize_per_channel(answer)


def test_the_buggy_snippet_on_a_square_weight_gets_the_broadcast_hint():
    # On square weights the missing keepdim runs silently; the check names what it computed.
    def square_only(W, bits):
        if W.shape[0] != W.shape[1]:
            return quantize_right(W, bits)
        return _quantize_with(reduce="rows_no_keepdim")(W, bits)

    with pytest.raises(AssertionError, match="column j is divided by row j's scale"):
        nb.check_quantize_per_channel(square_only)


def _bytes_with(forward, backward):
    def megatron_bytes(batch, d_in, d_hidden, d_out, world_size, element_size):
        P, e, ring = world_size, element_size, 2 * (world_size - 1) / world_size
        sizes = {"in": d_in, "hidden": d_hidden, "out": d_out}
        formulas = {
            "ring": lambda n: ring * batch * n * e,
            "whole": lambda n: batch * n * e,
            "half": lambda n: (P - 1) / P * batch * n * e,
            "naive": lambda n: (P - 1) * batch * n * e,
            "elements": lambda n: ring * batch * n,
            "bits": lambda n: 8 * ring * batch * n * e,
        }

        def pick(spec):
            return 0 if spec == "zero" else formulas[spec[0]](sizes[spec[1]])

        return pick(forward), pick(backward)

    return megatron_bytes


RIGHT = ("ring", "out"), ("ring", "in")
MEGATRON_MISTAKES = [
    (_bytes_with(("ring", "hidden"), RIGHT[1]), r"forward bytes.*hidden activations"),
    (_bytes_with(RIGHT[0], "zero"), r"backward bytes.*communicates too"),
    (_bytes_with(RIGHT[0], ("ring", "hidden")), r"backward bytes.*hidden activations"),
    (_bytes_with(RIGHT[0], ("ring", "out")), r"backward bytes.*wrong tensor.*\(batch, d_in\)"),
    (_bytes_with(("ring", "in"), RIGHT[1]), r"forward bytes.*wrong tensor.*\(batch, d_out\)"),
    (_bytes_with(("whole", "out"), ("whole", "in")), r"right for P = 2 only"),
    (_bytes_with(("half", "out"), ("half", "in")), r"two phases"),
    (_bytes_with(("naive", "out"), ("naive", "in")), r"to each of the P − 1 others"),
    (_bytes_with(("elements", "out"), ("elements", "in")), r"counts elements"),
    (_bytes_with(("bits", "out"), ("bits", "in")), r"counts bits"),
    (lambda *args: megatron_right(*args)[0], r"return a pair \(forward_bytes, backward_bytes\)"),
    (lambda *args: ("16384", "24576"), r"expected two numbers, got str"),
    (lambda *args: (torch.ones(2), 1.0), r"expected two numbers, got Tensor"),
]


@pytest.mark.parametrize(("answer", "hint"), MEGATRON_MISTAKES)
def test_megatron_bytes_rejects_typical_mistakes_with_a_hint(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_megatron_bytes(answer)


def test_checks_vary_every_argument():
    """No hard-coded value can pass: each argument takes at least two values."""
    merge = nb._merge_cases()
    quantize = [(tuple(W.shape), W.dtype, bits) for W, bits in nb._quantize_cases()]
    megatron = nb._megatron_cases()
    for column in zip(*merge, strict=True):
        assert len(set(column)) >= 2
    for column in zip(*quantize, strict=True):
        assert len(set(column)) >= 2
    for column in zip(*megatron, strict=True):
        assert len(set(column)) >= 2
    assert any(d_in == d_out for d_in, d_out, *_ in merge)  # square: transposes run silently
    assert any(shape[0] == shape[1] for shape, *_ in quantize)
    assert {P for *_, P, _ in megatron} >= {2, 3, 4}  # P = 2 alone hides the ring factor


# --- §7 the torchrun script: 2 processes, gloo, equal to one Linear ----------------------------


@pytest.fixture(scope="module")
def tensor_parallel_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("tp") / "tp.json"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node=2",
        str(nb.TENSOR_PARALLEL_SCRIPT),
        "--out",
        str(out),
        "--batch=8",
        "--d-in=12",
        "--d-hidden=20",
        "--d-out=6",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "default"}
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Warning" not in run.stderr, run.stderr  # the script runs without warnings
    return json.loads(out.read_text(encoding="utf-8"))


def test_tensor_parallel_script_equals_one_linear(tensor_parallel_results):
    results = tensor_parallel_results
    assert results["world_size"] == 2 and results["backend"] == "gloo"
    for name in ("column", "row", "megatron", "dtensor"):
        errors = results[name]["max_error"]
        assert set(errors) == {"forward", "weight_grad", "bias_grad", "input_grad"}
        assert max(errors.values()) < 1e-5, (name, errors)


def test_tensor_parallel_script_counts_collectives_and_bytes(tensor_parallel_results):
    results = tensor_parallel_results
    N, d_in, d_out = 8, 12, 6
    assert results["column"]["collectives_forward"] == {"all_gather": 1}
    assert results["row"]["collectives_forward"] == {"all_reduce": 1}
    assert results["row"]["collectives_backward"] == {}  # row-parallel ∂X stays local
    for name in ("megatron", "dtensor"):
        assert results[name]["collectives_forward"] == {"all_reduce": 1}
        assert results[name]["collectives_backward"] == {"all_reduce": 1}
    # With P = 2 a ring all-reduce sends the tensor once; an all-gather sends the local block.
    payload = {
        ("column", "bytes_forward"): N * (d_out // 2) * 4,
        ("column", "bytes_backward"): N * d_in * 4,
        ("row", "bytes_forward"): N * d_out * 4,
        ("megatron", "bytes_forward"): N * d_out * 4,
        ("megatron", "bytes_backward"): N * d_in * 4,
        ("dtensor", "bytes_forward"): N * d_out * 4,
        ("dtensor", "bytes_backward"): N * d_in * 4,
    }
    for (name, key), expected in payload.items():
        for sent in results[name][key]:
            assert 0 <= sent - expected < 1024, (name, key, sent, expected)
    assert results["row"]["bytes_backward"] == [0, 0]
    for full, half in zip(
        results["megatron"]["bytes_forward"],
        results["megatron"]["bytes_forward_half_batch"],
        strict=True,
    ):
        assert full - half == (N // 2) * d_out * 4  # the headers cancel
