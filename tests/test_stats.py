"""utils.stats records each layer's output and gradient, and never leaks a hook."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from utils.initialization import deep_stack
from utils.stats import LayerRecorder, batch_std, signal_statistics


def no_hooks_left(model: nn.Module) -> bool:
    return all(
        not module._forward_hooks and not module._forward_pre_hooks and not module._backward_hooks
        for module in model.modules()
    )


def test_records_outputs_and_gradients_of_each_child():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = torch.randn(5, 3)
    with LayerRecorder(model) as recorder:
        assert recorder.active_hooks == 3
        y = model(x)
        assert recorder.active_hooks == 6  # plus one tensor hook per recorded output
        y.pow(2).sum().backward()
    assert recorder.active_hooks == 0 and no_hooks_left(model)
    assert recorder.names == ["0", "1", "2"]
    torch.testing.assert_close(recorder.activations["2"], y.detach())
    torch.testing.assert_close(recorder.activations["1"], torch.tanh(model[0](x)).detach())
    torch.testing.assert_close(recorder.gradients["2"], 2 * y.detach())  # d(Σy²)/dy
    # chain rule by hand: the gradient into the tanh output is (2y) W₂
    torch.testing.assert_close(recorder.gradients["1"], 2 * y.detach() @ model[2].weight.detach())
    stds = recorder.activation_stds()
    assert stds[2] == pytest.approx(y.detach().double().std(correction=0).item())
    assert recorder.gradient_norms()[2] == pytest.approx(2 * y.detach().double().norm().item())


def test_hooks_are_removed_even_when_the_body_raises():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    recorder = LayerRecorder(model)
    with pytest.raises(RuntimeError, match="cannot be multiplied"), recorder:
        model(torch.randn(2, 5))
    assert recorder.active_hooks == 0 and no_hooks_left(model)


def test_tensor_hooks_are_removed_too():
    model = nn.Sequential(nn.Linear(3, 3))
    with LayerRecorder(model):
        y = model(torch.randn(2, 3))
        assert y._backward_hooks  # the gradient hook sits on the output tensor
    assert not y._backward_hooks


def test_recorder_is_reusable_and_not_reentrant():
    model = nn.Sequential(nn.Linear(2, 2))
    recorder = LayerRecorder(model)
    for _ in range(2):
        with recorder:
            model(torch.ones(1, 2))
        assert no_hooks_left(model)
    with recorder, pytest.raises(RuntimeError, match="already active"):
        recorder.__enter__()
    assert no_hooks_left(model)


def test_signal_statistics_leaves_grads_alone_and_matches_the_recorder():
    stack = deep_stack(4, 16, "relu", scheme="kaiming_normal_relu")
    x = torch.randn(32, 16)
    stats = signal_statistics(stack, x)
    assert all(p.grad is None for p in stack.parameters())
    assert no_hooks_left(stack)
    assert stats.names == ["0", "1", "2", "3"]
    assert stats.gradient_norm[-1] == pytest.approx(1.0)
    h = x
    for block, std in zip(stack, stats.activation_std, strict=True):
        h = block(h)
        assert std == pytest.approx(h.detach().double().std(correction=0).item())


def test_statistics_before_a_pass_and_bad_input_are_explained():
    model = nn.Sequential(nn.Linear(2, 2))
    recorder = LayerRecorder(model)
    with pytest.raises(ValueError, match="run a forward pass"):
        recorder.activation_stds()
    with recorder:
        model(torch.ones(1, 2))  # no grad requested, so no gradient is recorded
    with pytest.raises(ValueError, match="and a backward pass"):
        recorder.gradient_norms()
    with pytest.raises(TypeError, match="got Tensor"):
        LayerRecorder(torch.ones(2))
    with pytest.raises(ValueError, match=r"no module named \['9'\]"):
        LayerRecorder(model, names=["9"])
    with pytest.raises(TypeError, match="not the string"):
        LayerRecorder(model, names="0")
    with pytest.raises(ValueError, match="nothing to record"):
        LayerRecorder(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="upstream must match"):
        signal_statistics(model, torch.ones(3, 2), upstream=torch.ones(2, 2))
    with pytest.raises(ValueError, match="output is empty"):
        signal_statistics(model, torch.ones(0, 2))
    assert no_hooks_left(model)


def test_non_tensor_output_is_refused_and_hooks_still_go():
    class Pair(nn.Module):
        def forward(self, x):
            return x, x

    model = nn.Sequential()
    model.add_module("pair", Pair())
    with pytest.raises(TypeError, match="only tensor outputs"), LayerRecorder(model):
        model(torch.ones(1))
    assert no_hooks_left(model)


def test_batch_std_ignores_constant_offsets():
    x = torch.randn(64, 8, dtype=torch.float64)
    assert batch_std(x + 100.0) == pytest.approx(batch_std(x))
    assert batch_std(torch.ones(1, 3)) == 0.0
    with pytest.raises(ValueError, match="at least one sample"):
        batch_std(torch.ones(0, 3))
    with pytest.raises(TypeError, match="got list"):
        batch_std([1.0])
