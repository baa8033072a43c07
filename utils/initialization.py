"""How ``nn.Linear`` weights start: PyTorch's default bound, named init schemes, deep stacks.

Everything here takes an explicit ``torch.Generator`` (or a seed), so building a stack for a
plot or a widget never moves the notebook's global random number generator.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from utils._validate import require_positive_int, require_real

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


def _require_scheme(scheme: object) -> str:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}; got {scheme!r}")
    return str(scheme)


def leaky_relu_gain(a: float) -> float:
    """``sqrt(2 / (1 + a²))``: the gain ``kaiming_*`` uses for a leaky ReLU of slope ``a``.

    >>> round(leaky_relu_gain(math.sqrt(5)) ** 2, 12)  # PyTorch's default a = √5 gives 1/3
    0.333333333333
    """
    return math.sqrt(2.0 / (1.0 + a * a))


def kaiming_uniform_bound(fan_in: int, a: float = 0.0) -> float:
    """Half-width of ``kaiming_uniform_``: ``gain(a) · sqrt(3 / fan_in)``.

    >>> kaiming_uniform_bound(16, a=math.sqrt(5))  # 1 / sqrt(16), up to rounding
    0.24999999999999997
    """
    require_positive_int(fan_in, name="fan_in")
    std = leaky_relu_gain(a) / math.sqrt(fan_in)
    return math.sqrt(3.0) * std  # the same float operations as nn.init.kaiming_uniform_


def default_bound(fan_in: int) -> float:
    """Half-width of ``nn.Linear``'s default init, for weight and bias: ``1 / sqrt(fan_in)``.

    >>> default_bound(16)
    0.25
    """
    require_positive_int(fan_in, name="fan_in")
    return 1.0 / math.sqrt(fan_in)


def uniform_variance(bound: float) -> float:
    """Variance of ``U(-bound, bound)``: ``bound² / 3``.

    >>> uniform_variance(3.0)
    3.0
    """
    if bound < 0:
        raise ValueError(f"bound must be ≥ 0; got {bound}")
    return bound * bound / 3.0


def fan_in_fan_out(weight: nn.Linear | torch.Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a Linear weight of shape ``(out_features, in_features)``.

    A public spelling of ``nn.init._calculate_fan_in_and_fan_out`` for the 2-D case.

    >>> fan_in_fan_out(nn.Linear(10, 2))
    (10, 2)
    """
    if isinstance(weight, nn.Linear):
        weight = weight.weight
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be an nn.Linear or a tensor; got {type(weight).__name__}")
    if weight.ndim != 2:
        raise ValueError(
            f"weight must be 2-D (out_features, in_features); got shape {tuple(weight.shape)}"
        )
    fan_out, fan_in = weight.shape
    return int(fan_in), int(fan_out)


def expected_weight_std(scheme: str, fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """The standard deviation each scheme gives the weights (0 for zeros and constant).

    >>> round(expected_weight_std("default", 12, 5), 12)  # 1 / sqrt(3 · 12)
    0.166666666667
    >>> expected_weight_std("kaiming_normal_relu", 8, 4)  # sqrt(2 / 8)
    0.5
    """
    scheme = _require_scheme(scheme)
    require_positive_int(fan_in, name="fan_in")
    require_positive_int(fan_out, name="fan_out")
    gain = require_real(gain, name="gain", low=0.0)
    base = {
        "default": math.sqrt(uniform_variance(default_bound(fan_in))),
        "xavier_uniform": math.sqrt(2.0 / (fan_in + fan_out)),
        "xavier_normal": math.sqrt(2.0 / (fan_in + fan_out)),
        "kaiming_normal_relu": math.sqrt(2.0 / fan_in),
        "orthogonal": 1.0 / math.sqrt(max(fan_in, fan_out)),
        "normal": 1.0,
        "zeros": 0.0,
        "constant": 0.0,
    }[scheme]
    return gain * base


def init_linear_(
    layer: nn.Linear,
    scheme: str,
    *,
    gain: float = 1.0,
    generator: torch.Generator | None = None,
) -> nn.Linear:
    """Re-initialise ``layer`` in place with a named scheme; return it.

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
    scheme = _require_scheme(scheme)
    gain = require_real(gain, name="gain", low=0.0)
    weight, bias = layer.weight, layer.bias
    fan_in, _ = fan_in_fan_out(weight)
    with torch.no_grad():
        if scheme == "default":
            nn.init.kaiming_uniform_(weight, a=DEFAULT_A, generator=generator)
            weight.mul_(gain)
            if bias is not None:
                bound = default_bound(fan_in)
                nn.init.uniform_(bias, -bound, bound, generator=generator)
            return layer
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
            nn.init.constant_(weight, gain / fan_in)
        if bias is not None:
            nn.init.zeros_(bias)
    return layer


def _activation(name: str) -> nn.Module | None:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}; got {name!r}")
    return {"none": None, "tanh": nn.Tanh(), "relu": nn.ReLU()}[name]


def deep_stack(
    depth: int,
    width: int,
    activation: str = "none",
    *,
    scheme: str = "default",
    gain: float = 1.0,
    seed: int = 0,
) -> nn.Sequential:
    """``depth`` blocks ``Linear(width, width)`` (+ activation), each block one child.

    The weights come from :func:`init_linear_` with a private generator seeded by ``seed``,
    so the same arguments always give the same stack and the global RNG is left alone.

    >>> stack = deep_stack(3, 8, "relu", scheme="kaiming_normal_relu")
    >>> len(stack), stack[0]
    (3, Sequential(
      (0): Linear(in_features=8, out_features=8, bias=True)
      (1): ReLU()
    ))
    """
    require_positive_int(depth, name="depth")
    require_positive_int(width, name="width")
    _activation(activation)
    scheme = _require_scheme(scheme)
    generator = torch.Generator().manual_seed(seed)
    blocks = []
    for _ in range(depth):
        layer = nn.utils.skip_init(nn.Linear, width, width)  # no draw from the global RNG
        init_linear_(layer, scheme, gain=gain, generator=generator)
        act = _activation(activation)
        blocks.append(nn.Sequential(layer) if act is None else nn.Sequential(layer, act))
    return nn.Sequential(*blocks)
