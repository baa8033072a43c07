"""Notebook 03, initialisation: deep stacks and their signals, init diagnostics, demo, checks.

Everything that draws random numbers takes a seed or a ``torch.Generator``, so building a stack
for a plot, the demo or a self-check never moves the notebook's global random stream; small
models train on one thread (see ``utils.threads``).

- §7 uses :func:`deep_stack` and :func:`signal_statistics` (and ``utils.plot.per_layer_curves``)
- §8 uses :func:`deep_stack`, :func:`classification_data`, :func:`classifier`,
  :func:`train_classifier`; §9 uses :func:`build_demo`
- §10 (exercises) uses :func:`check_relu_init`, :func:`check_output_std`, :func:`check_set_weights`
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator
from torch import nn

from utils import threads, tr
from utils._validate import as_tensor, require_int, require_real
from utils.check import NOT_ATTEMPTED, as_number, attempt, expect, passed
from utils.plot import per_layer_curves
from utils.widgets import SliderDemo, dropdown, float_slider, int_slider, slider_demo

#: Constants holding English templates for :func:`utils.tr` (``scripts/messages.py`` reads them).
MESSAGES = (
    "ERROR_HINTS",
    "RELU_MISTAKES",
    "RELU_RULE",
    "RELU_STD",
    "RELU_NOT_UNIFORM",
    "RELU_PASSED",
    "OUTPUT_STD_MISTAKES",
    "OUTPUT_STD_WRONG",
    "OUTPUT_STD_PASSED",
    "SET_WEIGHTS_HINTS",
)

#: Init schemes of :func:`deep_stack` and the demo; ``gain`` scales each one's weight std.
SCHEMES = ("default", "xavier_normal", "kaiming_normal_relu", "orthogonal", "normal", "zeros")
#: Activation after each Linear in :func:`deep_stack`.
ACTIVATIONS = ("none", "tanh", "relu")

# --- deep stacks and their signals (§7, §8) ----------------------------------------------------


def _init_(layer: nn.Linear, scheme: str, gain: float, generator: torch.Generator) -> None:
    """Re-initialise ``layer`` in place; every scheme but ``default`` zeroes the bias."""
    weight, bias = layer.weight, layer.bias
    with torch.no_grad():
        if scheme == "default":  # exactly nn.Linear.reset_parameters, weights times the gain
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator).mul_(gain)
            bound = 1.0 / math.sqrt(layer.in_features)
            nn.init.uniform_(bias, -bound, bound, generator=generator)
            return
        if scheme in ("xavier_normal", "orthogonal"):
            getattr(nn.init, scheme + "_")(weight, gain=gain, generator=generator)
        elif scheme == "kaiming_normal_relu":
            nn.init.kaiming_normal_(weight, nonlinearity="relu", generator=generator).mul_(gain)
        else:  # normal: N(0, gain²), the naive torch.randn start; zeros: all zero
            nn.init.normal_(weight, std=gain if scheme == "normal" else 0.0, generator=generator)
        nn.init.zeros_(bias)


def deep_stack(
    depth: int, width: int, activation: str = "none", *, scheme: str = "default", gain: float = 1.0
) -> nn.Sequential:
    """``depth`` blocks ``Linear(width, width)`` (+ activation), each block one child. §7, §8.

    The weights come from a private generator with a fixed seed, so the same arguments always
    give the same stack and the global random stream is left alone.

    >>> stack = deep_stack(3, 8, "relu", scheme="kaiming_normal_relu")
    >>> len(stack), [type(m).__name__ for m in stack[0]]
    (3, ['Linear', 'ReLU'])
    """
    require_int(depth, name="depth")
    require_int(width, name="width")
    if activation not in ACTIVATIONS or scheme not in SCHEMES:
        raise ValueError(
            f"activation must be one of {ACTIVATIONS} and scheme one of {SCHEMES}; "
            f"got {activation!r} and {scheme!r}"
        )
    gain, generator = require_real(gain, name="gain", low=0.0), torch.Generator().manual_seed(0)
    blocks = []
    for _ in range(depth):
        layer = nn.utils.skip_init(nn.Linear, width, width)  # no draw from the global RNG
        _init_(layer, scheme, gain, generator)
        act = {"none": [], "tanh": [nn.Tanh()], "relu": [nn.ReLU()]}[activation]
        blocks.append(nn.Sequential(layer, *act))
    return nn.Sequential(*blocks)


@dataclass(frozen=True)
class SignalStats:
    """Per-layer numbers of one forward and one backward pass (index 0 = layer 1, the bottom)."""

    activation_std: list[float]
    gradient_norm: list[float]


def signal_statistics(model: nn.Sequential, x: torch.Tensor) -> SignalStats:
    """Push ``x`` through each child of ``model`` and a gradient back; measure each output. §7.

    The backward pass starts from a fixed random direction of norm 1 at the output (the top),
    so the last layer's gradient norm is 1 and every other number reads as "times what arrived
    at the top". ``model``'s ``.grad`` fields are left untouched.

    >>> stats = signal_statistics(nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4)), torch.ones(8, 4))
    >>> len(stats.activation_std), round(stats.gradient_norm[-1], 6)
    (2, 1.0)
    """
    h = as_tensor(x, name="x")
    if h.ndim != 2 or h.shape[0] == 0:
        raise ValueError(f"x must be a non-empty batch (n, width); got shape {tuple(h.shape)}")
    outputs = []
    with torch.enable_grad(), threads(1):
        for block in model:
            h = block(h if outputs else h.requires_grad_(True))
            outputs.append(h)
        noise = torch.randn(h.shape, generator=torch.Generator().manual_seed(0), dtype=h.dtype)
        grads = torch.autograd.grad(h, outputs, grad_outputs=noise / noise.norm())
    stds = [float(out.detach().double().std(correction=0)) for out in outputs]
    return SignalStats(stds, [float(g.double().norm()) for g in grads])


# --- diagnostics during training (§8) ----------------------------------------------------------


def classification_data(n: int = 2048, d_in: int = 20, classes: int = 10):
    """``n`` inputs ``N(0, 1)`` labelled by a fixed random linear teacher, ``argmax(X T)``. §8."""
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(n, d_in, generator=generator)
    return X, (X @ torch.randn(d_in, classes, generator=generator)).argmax(dim=1)


def classifier(d_in: int = 20, hidden: int = 100, classes: int = 10) -> nn.Sequential:
    """Linear–Tanh–Linear–Tanh–Linear with PyTorch's default init, from a fixed seed. §8."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        linears = [nn.Linear(d_in, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, classes)]
    return nn.Sequential(linears[0], nn.Tanh(), linears[1], nn.Tanh(), linears[2])


@dataclass(frozen=True)
class TrainingRun:
    """What :func:`train_classifier` measured at each step."""

    losses: list[float]
    #: log10(std(ΔW) / std(W)) of each Linear's weight, keyed by module name, one per step.
    update_ratios: dict[str, list[float]]


def train_classifier(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, lr: float, steps: int = 150
) -> TrainingRun:
    """Minibatch SGD (batch 32) on cross-entropy, recording each Linear's update-to-data ratio. §8.

    The ratio is measured, not predicted: each weight is copied before ``optimizer.step()`` and
    compared after, so it means the same for any optimizer.

    >>> run = train_classifier(classifier(4, 8, 3), *classification_data(64, 4, 3), lr=0.1, steps=2)
    >>> len(run.losses), list(run.update_ratios), len(run.update_ratios["4"])
    (2, ['0', '2', '4'], 2)
    """
    linears = {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    optimizer = torch.optim.SGD(model.parameters(), lr=require_real(lr, name="lr", low=0.0))
    generator = torch.Generator().manual_seed(0)  # the same minibatches for every run
    run = TrainingRun([], {name: [] for name in linears})
    with threads(1):
        for _ in range(require_int(steps, name="steps")):
            index = torch.randint(0, len(X), (32,), generator=generator)
            loss = nn.functional.cross_entropy(model(X[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            before = {name: m.weight.detach().clone() for name, m in linears.items()}
            optimizer.step()
            for name, m in linears.items():
                change = (m.weight.detach() - before[name]).std() / before[name].std()
                run.update_ratios[name].append(float(torch.log10(change)))
            run.losses.append(loss.item())
    return run


# --- slider demo (§9) --------------------------------------------------------------------------

#: Fixed y-range and ticks, so moving a slider moves the curves, not the axes.
Y_TICKS = (1e-12, 1e-6, 1.0, 1e6, 1e12)


@lru_cache(maxsize=64)
def stack_signals(scheme: str, activation: str, depth: int, width: int, gain: float) -> SignalStats:
    """Per-layer activation std and gradient norm of a seeded deep stack on a seeded batch of 64.

    >>> stats = stack_signals("kaiming_normal_relu", "relu", 4, 64, 1.0)
    >>> len(stats.activation_std), round(stats.gradient_norm[-1], 6)
    (4, 1.0)
    """
    stack = deep_stack(depth, width, activation, scheme=scheme, gain=gain)
    return signal_statistics(stack, torch.randn(64, width, generator=torch.Generator()))


def _ratio(values: list[float]) -> str:  # within the sliders' range nothing overflows float32
    return tr("dead (0)") if values[0] == 0 else f"{values[-1] / values[0]:.3g}×"


def draw_init_explorer(
    fig: Figure, scheme: str, activation: str, depth: int, width: int, gain: float
) -> str:
    """Draw per-layer activation std and gradient norm on ``fig``; return the readout."""
    stats = stack_signals(scheme, activation, depth, width, round(float(gain), 4))
    fig.set_layout_engine("none")  # one fixed layout: constrained layout would triple the cost
    ax = fig.add_axes((0.1, 0.16, 0.87, 0.74))
    curves = {
        "forward: std of layer output": stats.activation_std,
        "backward: ‖gradient into layer‖": stats.gradient_norm,
    }
    per_layer_curves(ax, curves, ylabel="per-layer value (log scale)", reference=1.0)
    ax.set_title(f"{scheme} init, {activation}, {depth} layers × {width}, gain {gain:.2f}")
    ax.set_ylim(Y_TICKS[0], Y_TICKS[-1])  # fixed, plain tick labels: cheap, axes never jump
    ax.set_yticks(Y_TICKS, labels=[f"1e{round(math.log10(t))}" for t in Y_TICKS])
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlim(0.5, 20.5)
    ax.set_xticks((1, 5, 10, 15, 20))
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    act, grad = stats.activation_std, stats.gradient_norm
    return tr(
        "{scheme}, {activation}, {depth}×{width}, gain {gain:.2f}: activation std {first:.3g} "
        "(layer 1) → {last:.3g} (layer {depth}), ratio {ratio}; "
        "gradient norm layer 1 / layer {depth}: {back}",
        scheme=scheme,
        activation=activation,
        width=width,
        gain=gain,
        first=act[0],
        last=act[-1],
        depth=depth,
        ratio=_ratio(act),
        back=_ratio(grad[::-1]),
    )


def build_demo() -> SliderDemo:
    """Two dropdowns and three sliders driving :func:`draw_init_explorer`. Used in §9."""
    controls = {
        "scheme": dropdown(tr("init"), SCHEMES, "default"),
        "activation": dropdown(tr("activation"), ACTIVATIONS, "relu"),
        "depth": int_slider(tr("depth"), 10, 2, 20),
        "width": int_slider(tr("width"), 128, 16, 256, step=16),
        "gain": float_slider(tr("gain"), 1.0, 0.25, 2.0, step=0.05),
    }
    return slider_demo(draw_init_explorer, controls, figsize=(8.0, 3.2))


# --- exercise checks (§10) ---------------------------------------------------------------------

#: Errors that wrong answers raise (stable part of PyTorch's message) → the mistake they reveal.
ERROR_HINTS = {
    r"leaf Variable that requires grad": "A weight is a Parameter that requires grad: write "
    "into it inside `with torch.no_grad():` (the nn.init functions already do).",
    r"must match the size of tensor": "W is already (d_out, d_in), the layout of layer.weight: "
    "copy it as it is, no transpose.",
    r"'NoneType' object has no attribute": "A layer built with bias=False has layer.bias = "
    "None (and b is None then): skip the bias.",
    r"cannot assign|must be Tensor": "Make W a tensor (torch.as_tensor) and copy it into the "
    "existing Parameter.",
}


def _attempt(exercise: str, answer: Callable[..., object], *args: object) -> object:
    """:func:`utils.check.attempt`, turning the typical errors of a wrong answer into hints."""
    try:
        return attempt(exercise, answer, *args)
    except (RuntimeError, AttributeError, TypeError) as error:
        for pattern in ERROR_HINTS:
            if re.search(pattern, str(error)):
                hint = tr(ERROR_HINTS[pattern])
                raise AssertionError(f"{type(error).__name__}: {error}\n{hint}") from error
        raise


def _close(got: float, want: float, rel: float = 0.02) -> bool:
    return math.isclose(got, want, rel_tol=rel, abs_tol=1e-12)


#: Wrong weight stds in Exercise 3.1, as (a, b, c, p) in √a / (b·d_out + c·d_in)^p: the mistake.
RELU_MISTAKES = {
    (2, 1, 0, 0.5): "Your std follows fan_out = d_out (torchvision's ResNet line), not fan_in.",
    (2, 1, 1, 0.5): "That is Xavier/Glorot, Var = 2/(fan_in + fan_out), made for tanh.",
    (1, 0, 1, 0.5): "The ReLU gain √2 is missing: Var = 1/fan_in suits a layer without activation.",
    (1, 0, 3, 0.5): "That is nn.Linear's default, Var = 1/(3 fan_in), which fades (§7).",
    (2, 0, 3, 0.5): "You used the std √(2/fan_in) as the bound k, but U(−k, k) has std k/√3.",
    (6, 0, 1, 0.5): "√(6/fan_in) is the bound k of the uniform, not its std.",
    (2, 0, 1, 1): "Your std scales like 1/fan_in; a variance ∝ 1/fan_in means a std ∝ 1/√fan_in.",
    (12, 0, 1, 1): "Your std scales like 1/fan_in; a variance ∝ 1/fan_in means a std ∝ 1/√fan_in.",
}
RELU_RULE = " A ReLU layer needs Var[W] = 2/fan_in, with fan_in = d_in = weight.shape[1]."
RELU_STD = "Weight ({o}, {i}): expected std √(2/{i}) = {want:.4f}, got {got:.4f}."
RELU_NOT_UNIFORM = (
    "The std is right, but the values are not U(−k, k) with k = √(6/d_in) = {k:.4f}: the largest "
    "|w| is {top:.4f} (a normal reaches past ±k)."
)
RELU_PASSED = (
    "U(−k, k), k = √(6/d_in), for every shape: a 1024→…→64 ReLU funnel keeps its std (×{r:.2g})"
)


def _fill(init_weight: Callable[[torch.Tensor], object], weight: torch.Tensor) -> object:
    """NaN-fill ``weight``, let the learner fill it (seeded); return it, or ``NOT_ATTEMPTED``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(weight.shape[0])
        nn.init.constant_(weight, math.nan)
        if _attempt("relu_uniform_", init_weight, weight) is NOT_ATTEMPTED:
            return NOT_ATTEMPTED
    in_place = tr(
        "Fill `weight` in place (weight.uniform_, nn.init.uniform_): a returned tensor is lost."
    )
    expect(not weight.isnan().any(), in_place)
    return weight.detach()


def check_relu_init(init_weight: Callable[[torch.Tensor], object]) -> None:
    """Check ``init_weight(weight)`` fills any ``(d_out, d_in)`` weight from U(±√(6/d_in)).

    >>> check_relu_init(lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"))
    ✓ U(−k, k), k = √(6/d_in), for every shape: a 1024→…→64 ReLU funnel keeps its std (×0.81)
    """
    weights = (  # a funnel, a real Parameter that widens, a square float64 Parameter
        torch.empty(96, 768),
        nn.utils.skip_init(nn.Linear, 96, 768).weight,
        nn.utils.skip_init(nn.Linear, 256, 256, dtype=torch.float64).weight,
    )
    for weight in weights:
        if _fill(init_weight, weight) is NOT_ATTEMPTED:
            return
        (o, i), std = weight.shape, float(weight.detach().double().std())
        if _close(std, math.sqrt(2 / i)):
            continue
        for a, b, c, p in RELU_MISTAKES:
            hint = tr(RELU_MISTAKES[a, b, c, p]) + tr(RELU_RULE)
            expect(not _close(std, a**0.5 / (b * o + c * i) ** p), hint)
        expect(False, tr(RELU_STD, o=o, i=i, want=math.sqrt(2 / i), got=std) + tr(RELU_RULE))
    k, top = math.sqrt(6 / 768), float(weights[0].abs().max())
    uniform = 0.99 * k < top <= k * (1 + 1e-5) and abs(float(weights[0].mean())) < 0.01 * k
    expect(uniform, tr(RELU_NOT_UNIFORM, k=k, top=top))
    widths = (1024, 512, 256, 128, 64)
    with torch.random.fork_rng(devices=[]), torch.no_grad(), threads(1):
        h = x = torch.randn(512, widths[0], generator=torch.Generator().manual_seed(0))
        for d_in, d_out in itertools.pairwise(widths):
            h = torch.relu(h @ _fill(init_weight, torch.empty(d_out, d_in)).T)
    passed(tr(RELU_PASSED, r=float(h.std() / x.std())))


def _output_std(depth: int, relu: bool, layer=1 / 3, per_relu=1 / 2, extra=0, power=0.5) -> float:
    """Std after ``depth`` bias-free default-init layers (ReLU between them), unit input.

    The keywords describe the typical wrong answers: the mean-square factor per layer and per
    ReLU, a miscount of the ReLUs, and the variance (power 1) for the std (power 0.5).
    """
    return (layer**depth * per_relu ** (depth - 1 + extra if relu else 0)) ** power


#: Typical wrong answers in Exercise 3.2, as keywords of :func:`_output_std`, and the mistake.
OUTPUT_STD_MISTAKES = {
    (1 / 3, 1 / 2, 0, 1): "That is the variance of the output; the std is its square root.",
    (1 / 3, 1, 0, 0.5): "A ReLU zeroes the negative half of its zero-mean input: it halves E[h²].",
    (1 / 3, 1 / 2, 1, 0.5): "There are depth − 1 ReLUs: none after the last layer (we measure it).",
    (1 / 3, 1 / 4, 0, 0.5): "A ReLU halves the mean square E[h²], so the std by 1/√2, not by 1/2.",
    (1, 1, 0, 0.5): "The default init does not keep the variance: d_in·Var[W_ij] = 1/3 per layer.",
}
OUTPUT_STD_WRONG = (
    "predicted_output_std({d}, {r}): expected {want:.4g}, got {got:.4g}. Each layer multiplies "
    "the mean square by d_in·Var[W_ij], each ReLU halves it."
)
OUTPUT_STD_PASSED = (
    "right at every depth. Measured (rms of 8 stacks, depth 10, width 64 / 256): {plain} "
    "without ReLU (you: {p:.2g}), {relu} with ReLU (you: {q:.2g})"
)


def _measured_output_std(width: int, relu: bool, depth: int = 10, stacks: int = 8) -> str:
    """The rms output of ``stacks`` random stacks (one stack alone is off by ±20 % with ReLU)."""
    mean_square = 0.0
    with torch.random.fork_rng(devices=[]), torch.no_grad(), threads(1):
        for seed in range(stacks):
            torch.manual_seed(seed)
            h = torch.randn(256, width)
            for layer in range(depth):
                h = torch.relu(h) if relu and layer else h
                h = h @ nn.init.kaiming_uniform_(torch.empty(width, width), a=math.sqrt(5)).T
            mean_square += float(h.square().mean()) / stacks
    return f"{math.sqrt(mean_square):.2g}"


def check_output_std(predicted_output_std: Callable[[int, bool], object]) -> None:
    """Check a predicted output std of a bias-free default-init stack, then measure it.

    >>> check_output_std(lambda depth, relu: (3**-depth / 2 ** (relu * (depth - 1))) ** 0.5)
    ... # doctest: +ELLIPSIS
    ✓ right at every depth. Measured (rms of 8 stacks, depth 10, width 64 / 256): ... (you: 0.00018)
    """
    got = {}
    for depth, relu in itertools.product((1, 2, 5, 10), (False, True)):
        value = _attempt("predicted_output_std", predicted_output_std, depth, relu)
        if value is NOT_ATTEMPTED:
            return
        got[depth, relu] = as_number(value, what=f"predicted_output_std({depth}, {relu})")
    wrong = [key for key, value in got.items() if not _close(value, _output_std(*key), 1e-3)]
    for keywords in OUTPUT_STD_MISTAKES:
        matches = [_close(got[key], _output_std(*key, *keywords), 1e-3) for key in wrong]
        expect(not (wrong and all(matches)), tr(OUTPUT_STD_MISTAKES[keywords]))
    for d, r in wrong:
        expect(False, tr(OUTPUT_STD_WRONG, d=d, r=r, want=_output_std(d, r), got=got[d, r]))
    plain, relu = (", ".join(_measured_output_std(w, r) for w in (64, 256)) for r in (0, 1))
    passed(tr(OUTPUT_STD_PASSED, plain=plain, relu=relu, p=got[10, False], q=got[10, True]))


SET_WEIGHTS_HINTS = {
    "replaced": "layer.weight (or .bias) is a new object now, but the optimizer built before "
    "still holds the old Parameter: training never sees your values. Write into the existing "
    "one: with torch.no_grad(): layer.weight.copy_(...).",
    "aliased": "layer.weight shares memory with W (what `.data = W` does): change one and the "
    "other changes. Copy the values.",
    "dtype": "The weight was {want} and is {got} now: copy_ converts W to the layer's dtype.",
    "transposed": "The weight holds Wᵀ: W is already (d_out, d_in), like layer.weight.",
}


def check_set_weights(set_weights_: Callable[..., object]) -> None:
    """Check ``set_weights_(layer, W, b)`` writes into the Parameters an optimizer already holds.

    >>> def set_weights_(layer, W, b):
    ...     with torch.no_grad():
    ...         layer.weight.copy_(torch.as_tensor(W))
    ...         if b is not None:
    ...             layer.bias.copy_(torch.as_tensor(b))
    >>> check_set_weights(set_weights_)  # doctest: +ELLIPSIS
    ✓ W and b copied into the Parameters the optimizer holds: dtype kept, no shared memory, ...
    """
    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    W3, b3, W7, b7 = (
        torch.randn(*size, generator=generator) for size in ((3, 5), (3,), (7, 2), (7,))
    )
    cases = (  # (layer, W, b): tensors and NumPy arrays, float32 and float64, bias=False, square
        (nn.utils.skip_init(nn.Linear, 5, 3), W3, b3),
        (nn.utils.skip_init(nn.Linear, 4, 6, bias=False), rng.standard_normal((6, 4)), None),
        (nn.utils.skip_init(nn.Linear, 3, 3), rng.random((3, 3), "f4"), np.ones(3, "f4")),
        (nn.utils.skip_init(nn.Linear, 2, 7, dtype=torch.float64), W7, b7),
    )
    for layer, W, b in cases:
        params, dtype, source = list(layer.parameters()), layer.weight.dtype, torch.as_tensor(W)
        optimizer = torch.optim.SGD(params, lr=0.1)  # built first, as training scripts do
        if _attempt("set_weights_", set_weights_, layer, W, b) is NOT_ATTEMPTED:
            return
        same = all(p is q for p, q in zip(layer.parameters(), params, strict=False))
        expect(same, tr(SET_WEIGHTS_HINTS["replaced"]))
        weight = layer.weight.detach().clone()
        expect(layer.weight.data_ptr() != source.data_ptr(), tr(SET_WEIGHTS_HINTS["aliased"]))
        dtype_changed = tr(SET_WEIGHTS_HINTS["dtype"], want=dtype, got=weight.dtype)
        expect(weight.dtype == dtype, dtype_changed)
        square = weight.shape[0] == weight.shape[1]
        expect(
            not (square and torch.allclose(weight, source.T.to(dtype))),
            tr(SET_WEIGHTS_HINTS["transposed"]),
        )
        expect(torch.allclose(weight, source.to(dtype)), tr("layer.weight does not hold W."))
        bias_ok = b is None or torch.allclose(layer.bias.detach(), torch.as_tensor(b).to(dtype))
        expect((b is None) == (layer.bias is None) and bias_ok, tr("layer.bias does not hold b."))
        frozen = tr("layer.weight no longer requires grad, so the optimizer cannot train it.")
        expect(layer.weight.requires_grad, frozen)
        layer(torch.ones(2, layer.in_features, dtype=dtype)).square().sum().backward()
        optimizer.step()
        expect(
            not torch.equal(layer.weight.detach(), weight),
            tr("A step left layer.weight as it was."),
        )
    passed(
        tr(
            "W and b copied into the Parameters the optimizer holds: dtype kept, no shared memory, "
            "bias=False"
        )
    )
