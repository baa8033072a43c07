"""Notebook 03, initialisation: PyTorch's default bound, named init schemes, signals in deep stacks.

Everything that draws random numbers takes an explicit ``torch.Generator`` (or a seed), so
building a stack for a plot or the slider demo never moves the notebook's global random stream.
:class:`LayerRecorder` records each layer's output and the gradient flowing back into it with
hooks, and removes every hook when its ``with`` block ends.

- §1 uses :func:`kaiming_uniform_bound`; §2 uses :func:`init_histogram`
- §4 uses :data:`SCHEMES`, :func:`init_linear_` and :func:`expected_weight_std`
- §6 uses :func:`deep_stack`, :class:`LayerRecorder`, :func:`signal_statistics`, :func:`batch_std`
  (and ``utils.plot.per_layer_curves``); §7 uses :func:`build_demo`
- §8 (exercises) uses :func:`check_default_bound` and :func:`check_relu_init`
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator
from torch import nn
from torch.utils.hooks import RemovableHandle

from utils._validate import as_tensor, require_axes, require_int, require_real
from utils.check import NOT_ATTEMPTED, attempt, expect, passed
from utils.plot import per_layer_curves
from utils.widgets import SliderDemo, dropdown, float_slider, int_slider, slider_demo

#: Init schemes by name. ``gain`` scales each scheme's weight standard deviation.
SCHEMES = (
    "default",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_normal_relu",
    "orthogonal",
    "normal",
    "zeros",
    "constant",
)
#: Activation after each Linear in :func:`deep_stack`.
ACTIVATIONS = ("none", "tanh", "relu")
#: The ``a`` PyTorch passes to ``kaiming_uniform_`` in ``nn.Linear.reset_parameters``.
DEFAULT_A = math.sqrt(5)

# --- init schemes ------------------------------------------------------------------------------


def _scheme(scheme: object) -> str:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}; got {scheme!r}")
    return str(scheme)


def kaiming_uniform_bound(fan_in: int, a: float = 0.0) -> float:
    """Half-width of ``kaiming_uniform_``: ``gain(a) · sqrt(3 / fan_in)``. Used in §1.

    ``gain(a) = sqrt(2 / (1 + a²))`` is the gain for a leaky ReLU of slope ``a``.

    >>> kaiming_uniform_bound(16, a=math.sqrt(5))  # 1 / sqrt(16), up to rounding
    0.24999999999999997
    """
    require_int(fan_in, name="fan_in")
    std = math.sqrt(2.0 / (1.0 + a * a)) / math.sqrt(fan_in)
    return math.sqrt(3.0) * std  # the same float operations as nn.init.kaiming_uniform_


def expected_weight_std(scheme: str, fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """The standard deviation each scheme gives the weights (0 for zeros and constant). §4.

    >>> round(expected_weight_std("default", 12, 5), 12)  # 1 / sqrt(3 · 12)
    0.166666666667
    >>> expected_weight_std("kaiming_normal_relu", 8, 4)  # sqrt(2 / 8)
    0.5
    """
    scheme = _scheme(scheme)
    require_int(fan_in, name="fan_in")
    require_int(fan_out, name="fan_out")
    gain = require_real(gain, name="gain", low=0.0)
    base = {
        "default": math.sqrt(1.0 / (3.0 * fan_in)),  # U(-1/√fan_in, 1/√fan_in): variance bound²/3
        "xavier_uniform": math.sqrt(2.0 / (fan_in + fan_out)),
        "xavier_normal": math.sqrt(2.0 / (fan_in + fan_out)),
        "kaiming_normal_relu": math.sqrt(2.0 / fan_in),
        "orthogonal": 1.0 / math.sqrt(max(fan_in, fan_out)),
        "normal": 1.0,
        "zeros": 0.0,
        "constant": 0.0,
    }[scheme]
    return gain * base


def _init_(layer: nn.Linear, scheme: str, gain: float, generator: torch.Generator | None) -> None:
    """:func:`init_linear_` without the input checks (its callers have checked)."""
    weight, bias = layer.weight, layer.bias
    with torch.no_grad():
        if scheme == "default":
            nn.init.kaiming_uniform_(weight, a=DEFAULT_A, generator=generator)
            weight.mul_(gain)
            if bias is not None:
                bound = 1.0 / math.sqrt(layer.in_features)
                nn.init.uniform_(bias, -bound, bound, generator=generator)
            return
        if scheme == "xavier_uniform":
            nn.init.xavier_uniform_(weight, gain=gain, generator=generator)
        elif scheme == "xavier_normal":
            nn.init.xavier_normal_(weight, gain=gain, generator=generator)
        elif scheme == "kaiming_normal_relu":
            nn.init.kaiming_normal_(weight, nonlinearity="relu", generator=generator)
            weight.mul_(gain)
        elif scheme == "orthogonal":
            nn.init.orthogonal_(weight, gain=gain, generator=generator)
        elif scheme == "normal":
            nn.init.normal_(weight, mean=0.0, std=gain, generator=generator)
        elif scheme == "zeros":
            nn.init.zeros_(weight)
        else:  # constant
            nn.init.constant_(weight, gain / layer.in_features)
        if bias is not None:
            nn.init.zeros_(bias)


def init_linear_(
    layer: nn.Linear, scheme: str, *, gain: float = 1.0, generator: torch.Generator | None = None
) -> nn.Linear:
    """Re-initialise ``layer`` in place with a named scheme; return it. Used in §4.

    - ``default``: exactly ``reset_parameters`` (weights then scaled by ``gain``);
    - ``xavier_uniform`` / ``xavier_normal`` / ``orthogonal``: ``nn.init`` with this ``gain``;
    - ``kaiming_normal_relu``: ``kaiming_normal_(nonlinearity="relu")``, scaled by ``gain``;
    - ``normal``: ``N(0, gain²)``, the naive ``torch.randn`` start;
    - ``zeros``: all zero; ``constant``: every weight ``gain / fan_in``.

    Every scheme but ``default`` sets the bias to zero.

    >>> layer = init_linear_(nn.Linear(4, 3), "constant", gain=2.0)
    >>> layer.weight.unique().tolist(), layer.bias.abs().sum().item()
    ([0.5], 0.0)
    """
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"layer must be an nn.Linear; got {type(layer).__name__}")
    _init_(layer, _scheme(scheme), require_real(gain, name="gain", low=0.0), generator)
    return layer


def deep_stack(
    depth: int,
    width: int,
    activation: str = "none",
    *,
    scheme: str = "default",
    gain: float = 1.0,
    seed: int = 0,
) -> nn.Sequential:
    """``depth`` blocks ``Linear(width, width)`` (+ activation), each block one child. §6.

    The weights come from :func:`init_linear_` with a private generator seeded by ``seed``,
    so the same arguments always give the same stack and the global RNG is left alone.

    >>> stack = deep_stack(3, 8, "relu", scheme="kaiming_normal_relu")
    >>> len(stack), stack[0]
    (3, Sequential(
      (0): Linear(in_features=8, out_features=8, bias=True)
      (1): ReLU()
    ))
    """
    require_int(depth, name="depth")
    require_int(width, name="width")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}; got {activation!r}")
    scheme, gain = _scheme(scheme), require_real(gain, name="gain", low=0.0)
    generator = torch.Generator().manual_seed(seed)
    blocks = []
    for _ in range(depth):
        layer = nn.utils.skip_init(nn.Linear, width, width)  # no draw from the global RNG
        _init_(layer, scheme, gain, generator)
        act = {"none": [], "tanh": [nn.Tanh()], "relu": [nn.ReLU()]}[activation]
        blocks.append(nn.Sequential(layer, *act))
    return nn.Sequential(*blocks)


# --- recording signals (§6) --------------------------------------------------------------------


class LayerRecorder:
    """Collect each child's output and the gradient of the loss w.r.t. it, as a ``with`` block.

    On entry a forward hook goes on every direct child of ``model`` (for ``nn.Sequential``: one
    entry per block); during the forward pass a tensor hook goes on each output; on exit every
    hook is removed, even when the body raised. Only the last forward pass is kept. Used in §6.

    >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    >>> with LayerRecorder(model) as recorder:
    ...     model(torch.ones(5, 3)).sum().backward()
    >>> [tuple(recorder.activations[n].shape) for n in recorder.names]
    [(5, 4), (5, 4), (5, 1)]
    >>> recorder.gradients["2"].tolist() == [[1.0]] * 5, recorder.active_hooks
    (True, 0)
    """

    def __init__(self, model: nn.Module) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module; got {type(model).__name__}")
        self._modules = dict(model.named_children())
        if not self._modules:
            raise ValueError("nothing to record: the model has no children (wrap it in Sequential)")
        self.names: list[str] = list(self._modules)
        self._handles: list[RemovableHandle] = []
        self.activations: dict[str, torch.Tensor] = {}
        self.gradients: dict[str, torch.Tensor] = {}

    def _hook_for(self, name: str) -> Callable[..., None]:
        def store_gradient(grad: torch.Tensor) -> None:
            self.gradients[name] = grad.detach()

        def forward_hook(_module: nn.Module, _inputs: object, output: object) -> None:
            if not isinstance(output, torch.Tensor):
                raise TypeError(
                    f"module {name!r} returned {type(output).__name__}; only tensor outputs "
                    "can be recorded"
                )
            self.activations[name] = output.detach()
            if output.requires_grad:
                self._handles.append(output.register_hook(store_gradient))

        return forward_hook

    def __enter__(self) -> LayerRecorder:
        for name, module in self._modules.items():
            self._handles.append(module.register_forward_hook(self._hook_for(name)))
        return self

    def __exit__(self, *_exc_info: object) -> None:
        while self._handles:
            self._handles.pop().remove()

    @property
    def active_hooks(self) -> int:
        """How many hook handles are currently registered (0 outside the ``with`` block)."""
        return len(self._handles)

    def _recorded(self, store: dict[str, torch.Tensor], what: str) -> list[torch.Tensor]:
        missing = [name for name in self.names if name not in store]
        if missing:
            backward = " and a backward pass" if what == "gradient" else ""
            raise ValueError(
                f"no {what} recorded for {missing}: run a forward pass{backward} inside the "
                "`with` block"
            )
        return [store[name] for name in self.names]

    def activation_stds(self) -> list[float]:
        """Standard deviation of each recorded output over all its entries (float64 maths).

        See :func:`batch_std` for the sample-to-sample spread, which ignores the bias.
        """
        stored = self._recorded(self.activations, "activation")
        return [float(t.double().std(correction=0)) for t in stored]

    def gradient_norms(self) -> list[float]:
        """Euclidean norm of the loss gradient w.r.t. each recorded output."""
        return [float(t.double().norm()) for t in self._recorded(self.gradients, "gradient")]


def batch_std(tensor: torch.Tensor) -> float:
    """``sqrt(mean over units of var over dim 0)``: the sample-to-sample spread of an output. §6.

    >>> round(batch_std(torch.tensor([[1.0, 5.0], [3.0, 5.0]])), 6)  # unit 0: ±1; unit 1: fixed
    0.707107
    """
    tensor = as_tensor(tensor, name="tensor")
    if tensor.ndim == 0 or tensor.shape[0] == 0:
        raise ValueError(f"need a batch of at least one sample; got shape {tuple(tensor.shape)}")
    return float(tensor.double().var(dim=0, correction=0).mean().sqrt())


@dataclass(frozen=True)
class SignalStats:
    """Per-layer numbers from one forward and one backward pass (index 0 = first layer)."""

    names: list[str]
    activation_std: list[float]
    gradient_norm: list[float]


def signal_statistics(model: nn.Module, x: torch.Tensor) -> SignalStats:
    """Push ``x`` through ``model`` and a gradient back; measure each child. Used in §6.

    The backward pass starts from a fixed random direction of norm 1 (the gradient a loss
    would send into the output), so the last layer's gradient norm is 1 and every other number
    reads as "times what arrived at the top". ``model``'s ``.grad`` fields are left untouched.

    >>> model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    >>> stats = signal_statistics(model, torch.randn(8, 4))
    >>> stats.names, round(stats.gradient_norm[-1], 6)
    (['0', '1'], 1.0)
    """
    x = as_tensor(x, name="x").requires_grad_(True)
    with LayerRecorder(model) as recorder:
        output = model(x)
        if output.numel() == 0:
            raise ValueError(f"the output is empty (shape {tuple(output.shape)}); use a batch ≥ 1")
        noise = torch.randn(output.shape, generator=torch.Generator().manual_seed(0))
        torch.autograd.grad(output, x, grad_outputs=(noise / noise.norm()).to(output.dtype))
    return SignalStats(recorder.names, recorder.activation_stds(), recorder.gradient_norms())


# --- plot (§2) ---------------------------------------------------------------------------------


def init_histogram(
    ax: Axes,
    values: object,
    *,
    bound: float | None = None,
    bins: int = 40,
    title: str | None = None,
) -> dict[str, object]:
    """Histogram of initial weights (as a density), with dashed lines at ``±bound``. Used in §2.

    With a ``bound``, the flat density ``1 / (2·bound)`` of ``U(-bound, bound)`` is drawn
    too, so a default-initialised layer can be compared with its formula at a glance.

    >>> from matplotlib.figure import Figure
    >>> artists = init_histogram(Figure().add_subplot(), torch.rand(100) - 0.5, bound=0.5)
    >>> sorted(artists)
    ['bars', 'bounds', 'density']
    """
    ax = require_axes(ax)
    flat = as_tensor(values, name="values").flatten()
    if flat.numel() == 0:
        raise ValueError("values is empty; expected at least one weight")
    _, _, bars = ax.hist(flat.numpy(), bins=bins, density=True, color="0.6", edgecolor="white")
    artists: dict[str, object] = {"bars": bars}
    if bound is not None:
        if not bound > 0:
            raise ValueError(f"bound must be > 0; got {bound}")
        artists["bounds"] = [
            ax.axvline(edge, color="tab:red", linestyle="--", linewidth=1.5)
            for edge in (-bound, bound)
        ]
        (artists["density"],) = ax.plot(
            [-bound, bound],
            [1 / (2 * bound)] * 2,
            color="tab:blue",
            linewidth=2,
            label=f"U(−{bound:.3g}, {bound:.3g}) density",
        )
        ax.legend(fontsize=8, loc="lower center")
    ax.set_xlabel("weight value")
    ax.set_ylabel("density")
    if title is not None:
        ax.set_title(title)
    return artists


# --- slider demo (§7) --------------------------------------------------------------------------

BATCH = 64
DEPTH_RANGE = (2, 20)
WIDTH_RANGE = (16, 256)
GAIN_RANGE = (0.25, 2.0)
#: Fixed y-range, so moving a slider moves the curves, not the axes.
Y_RANGE = (1e-12, 1e12)
Y_TICKS = (1e-12, 1e-6, 1.0, 1e6, 1e12)


@lru_cache(maxsize=64)
def stack_signals(
    scheme: str, activation: str, depth: int, width: int, gain: float, seed: int = 0
) -> SignalStats:
    """Per-layer activation std and gradient norm of a seeded deep stack on a seeded batch.

    >>> stats = stack_signals("kaiming_normal_relu", "relu", 4, 64, 1.0)
    >>> len(stats.activation_std), round(stats.gradient_norm[-1], 6)
    (4, 1.0)
    """
    stack = deep_stack(depth, width, activation, scheme=scheme, gain=gain, seed=seed)
    x = torch.randn(BATCH, width, generator=torch.Generator().manual_seed(seed + 1))
    with torch.enable_grad():  # the widget may be driven from a no_grad context
        return signal_statistics(stack, x)


def _ratio(values: list[float]) -> str:
    first, last = values[0], values[-1]
    if not (math.isfinite(first) and math.isfinite(last)):
        return "overflow"
    if first == 0:
        return "dead (0)"
    return f"{last / first:.3g}×"


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
    for label, values in curves.items():  # one call per curve: no legend built twice
        per_layer_curves(ax, {label: values}, ylabel="per-layer value (log scale)")
    ax.axhline(1.0, color="0.4", linestyle="--", linewidth=1)
    ax.set_title(f"{scheme} init, {activation}, {depth} layers × {width}, gain {gain:.2f}")
    # fixed, plain tick labels: cheap to render, and the axes never jump between redraws
    ax.set_ylim(*Y_RANGE)
    ax.set_yticks(Y_TICKS, labels=[f"1e{round(math.log10(t))}" for t in Y_TICKS])
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlim(0.5, DEPTH_RANGE[1] + 0.5)
    ax.set_xticks((1, 5, 10, 15, 20))
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    act = stats.activation_std
    return (
        f"{scheme}, {activation}, {depth}×{width}, gain {gain:.2f}: activation std "
        f"{act[0]:.3g} (layer 1) → {act[-1]:.3g} (layer {depth}), ratio {_ratio(act)}; "
        f"gradient norm layer 1 / layer {depth}: {_ratio(stats.gradient_norm[::-1])}"
    )


def build_demo(
    scheme: str = "default",
    activation: str = "relu",
    depth: int = 10,
    width: int = 128,
    gain: float = 1.0,
) -> SliderDemo:
    """Two dropdowns and three sliders driving :func:`draw_init_explorer`. Used in §7."""
    controls = {
        "scheme": dropdown("init", SCHEMES, scheme),
        "activation": dropdown("activation", ACTIVATIONS, activation),
        "depth": int_slider("depth", depth, *DEPTH_RANGE),
        "width": int_slider("width", width, *WIDTH_RANGE, step=16),
        "gain": float_slider("gain", gain, *GAIN_RANGE, step=0.05),
    }
    return slider_demo(draw_init_explorer, controls, figsize=(8.0, 3.2))


# --- exercise checks (§8) ----------------------------------------------------------------------

FAN_INS = (1, 3, 10, 256, 784)


def check_default_bound(default_bound: Callable[[int], float]) -> None:
    """Check ``default_bound(fan_in)`` = the half-width of ``nn.Linear``'s default init.

    >>> check_default_bound(lambda fan_in: 1 / math.sqrt(fan_in))
    ✓ default_bound(fan_in) = 1/√fan_in, and real nn.Linear weights respect it
    """
    for fan_in in FAN_INS:
        got = attempt("default_bound", default_bound, fan_in)
        if got is NOT_ATTEMPTED:
            return
        expect(isinstance(got, int | float), f"return a number; got {type(got).__name__}")
        expected = 1 / math.sqrt(fan_in)
        kaiming = (math.sqrt(6 / fan_in), math.sqrt(3 / fan_in))  # a = 0, or gain 1
        expect(
            not any(math.isclose(got, bound) for bound in kaiming),
            f"default_bound({fan_in}) = {got:.4g} is a Kaiming bound for a = 0 or gain 1; "
            "PyTorch passes a = √5, so gain² = 2 / (1 + 5) = 1/3.",
        )
        expect(
            math.isclose(got, expected, rel_tol=1e-6),
            f"default_bound({fan_in}): expected {expected:.6g}, got {got:.6g}. "
            "bound = gain · √(3 / fan_in) with gain = √(2 / (1 + a²)) and a = √5.",
        )
    with torch.random.fork_rng(devices=[]):  # leave the learner's random stream alone
        torch.manual_seed(0)
        layer = nn.Linear(256, 64)
    expect(
        layer.weight.detach().abs().max().item() <= default_bound(256),
        "a real nn.Linear(256, 64) has weights beyond your bound",
    )
    passed("default_bound(fan_in) = 1/√fan_in, and real nn.Linear weights respect it")


def _relu_stack_std_ratio(init_weight: Callable[[torch.Tensor], object], depth: int = 20) -> float:
    """std of the last ReLU layer's output over the first's, weights set by ``init_weight``."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        h = torch.randn(256, 128)
        stds = []
        for _ in range(depth):
            weight = torch.empty(128, 128)
            init_weight(weight)
            h = torch.relu(h @ weight.T)
            stds.append(float(h.std()))
    return stds[-1] / stds[0] if stds[0] > 0 else 0.0


def check_relu_init(init_weight: Callable[[torch.Tensor], object]) -> None:
    """Check ``init_weight(weight)`` keeps a 20-layer ReLU stack's std within a factor 2.

    >>> check_relu_init(lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"))
    ✓ through 20 ReLU layers the std changes by ×0.711: the signal neither vanishes nor explodes
    """
    with torch.random.fork_rng(devices=[]):
        probe = attempt("relu_init_", init_weight, torch.empty(4, 4))
    if probe is NOT_ATTEMPTED:
        return
    ratio = _relu_stack_std_ratio(init_weight)
    expect(
        not ratio < 0.5,  # a nan ratio (overflow) is reported as exploding below
        f"the signal vanishes: std shrinks ×{ratio:.3g} over 20 ReLU layers. ReLU zeroes "
        "half of each input, so the weights need variance 2 / fan_in (nonlinearity='relu').",
    )
    expect(
        ratio <= 2,
        f"the signal explodes: std grows ×{ratio:.3g} over 20 ReLU layers. "
        "Aim for weight variance 2 / fan_in, not more.",
    )
    passed(
        f"through 20 ReLU layers the std changes by ×{ratio:.3g}: "
        "the signal neither vanishes nor explodes"
    )
