"""Small, pure training helpers for notebooks 04 and 05: data, loops, loss surfaces, MLPs.

Everything is seeded through a ``torch.Generator`` (the global RNG is never touched unless a
function says so), runs on the CPU in well under a second, and returns plain tensors.

- Regression (notebook 04): :func:`regression_data`, :func:`gradient_descent` (the gradients
  written by hand, no autograd), :func:`run_optimizer` (any of SGD / momentum / Adam / AdamW,
  loss history and parameter trajectory, stops cleanly when the loss blows up),
  :func:`two_weight_problem`, :func:`loss_surface` and :func:`sgd_lr_limit` for the
  learning-rate demo.
- Classification (notebook 05): :func:`two_moons`, :func:`spirals`, :func:`build_mlp`,
  :func:`train_classifier`, :func:`decision_grid`, and :func:`train_boundary`, a cached
  "train and grid" call that keeps the decision-boundary demo responsive.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from utils._validate import as_tensor, require_positive_int, require_real, require_shape
from utils.functional import threads

#: Optimiser names accepted by :func:`run_optimizer`.
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")


def _require_positive(value: object, *, name: str) -> float:
    number = require_real(value, name=name, low=0.0)
    if number == 0:
        raise ValueError(f"{name} must be > 0; got {value}")
    return number


# ----------------------------------------------------------------------------- regression


def regression_data(
    A: object, b: object, n_samples: int = 200, *, noise: float = 0.1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples ``x ~ N(0, I)`` and targets ``y = A x + b + ε`` with ``ε ~ N(0, noise²)``.

    Rows are samples: ``X`` is ``(n_samples, d_in)``, ``Y`` is ``(n_samples, d_out)``.

    >>> X, Y = regression_data(torch.eye(2), torch.zeros(2), 5, noise=0.0)
    >>> X.shape, torch.equal(X, Y)
    (torch.Size([5, 2]), True)
    """
    A_t = as_tensor(A, name="A")
    require_shape(A_t, (None, None), name="A", meaning="(d_out, d_in)")
    b_t = as_tensor(b, name="b").to(A_t.dtype)
    require_shape(b_t, (A_t.shape[0],), name="b", meaning="(d_out,)")
    n_samples = require_positive_int(n_samples, name="n_samples")
    noise = require_real(noise, low=0.0, name="noise")
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n_samples, A_t.shape[1], generator=generator, dtype=A_t.dtype)
    epsilon = noise * torch.randn(n_samples, A_t.shape[0], generator=generator, dtype=A_t.dtype)
    return X, X @ A_t.T + b_t + epsilon


@dataclass(frozen=True)
class GradientDescentRun:
    """What :func:`gradient_descent` returns; histories have one row per step."""

    weight: torch.Tensor  # (d_out, d_in), after the last step
    bias: torch.Tensor  # (d_out,)
    losses: torch.Tensor  # (steps,), the loss before each step
    weights: torch.Tensor  # (steps + 1, d_out, d_in): W before each step, then the final W
    weight_grads: torch.Tensor  # (steps, d_out, d_in): dL/dW at each step


def gradient_descent(X: object, Y: object, *, lr: float, steps: int) -> GradientDescentRun:
    """Fit ``Y ≈ X Wᵀ + b`` by plain gradient descent, with the gradients written by hand.

    The loss is the mean squared error ``L = mean((Ŷ − Y)²)`` over all ``n · d_out`` entries,
    so ``G = ∂L/∂Ŷ = 2 (Ŷ − Y) / (n · d_out)``, ``dW = Gᵀ X`` and ``db = Σ_rows G``.
    Starts from ``W = 0, b = 0``; no autograd anywhere.

    >>> X, Y = regression_data(torch.tensor([[2.0, -1.0]]), torch.tensor([0.5]), 100, noise=0.0)
    >>> run = gradient_descent(X, Y, lr=0.2, steps=200)
    >>> [round(v, 3) for v in run.weight.flatten().tolist() + run.bias.tolist()]
    [2.0, -1.0, 0.5]
    """
    X_t = as_tensor(X, name="X")
    require_shape(X_t, (None, None), name="X", meaning="(n_samples, d_in)")
    Y_t = as_tensor(Y, name="Y").to(X_t.dtype)
    require_shape(Y_t, (X_t.shape[0], None), name="Y", meaning="(n_samples, d_out)")
    lr = _require_positive(lr, name="lr")
    steps = require_positive_int(steps, name="steps")
    n, d_out = Y_t.shape
    W = torch.zeros(d_out, X_t.shape[1], dtype=X_t.dtype)
    b = torch.zeros(d_out, dtype=X_t.dtype)
    losses, weights, grads = [], [W.clone()], []
    for _ in range(steps):
        residual = X_t @ W.T + b - Y_t  # Ŷ − Y
        losses.append(residual.square().mean())
        G = 2 * residual / (n * d_out)  # ∂L/∂Ŷ
        dW, db = G.T @ X_t, G.sum(0)
        W = W - lr * dW
        b = b - lr * db
        weights.append(W.clone())
        grads.append(dW)
    return GradientDescentRun(W, b, torch.stack(losses), torch.stack(weights), torch.stack(grads))


def _make_optimizer(
    name: str, params: list[nn.Parameter], *, lr: float, momentum: float, weight_decay: float
) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}; got {name!r}")


@dataclass(frozen=True)
class OptimizerRun:
    """What :func:`run_optimizer` returns.

    ``losses[t]`` is the loss at ``trajectory[t]``, the parameters after ``t`` steps, so both
    have the same length: ``steps + 1`` for a full run, fewer when the run diverged.
    """

    losses: torch.Tensor  # (k,), all finite
    trajectory: torch.Tensor  # (k, n_params): every parameter flattened and concatenated
    diverged_at: int | None  # the step whose loss blew up, or None
    model: nn.Module  # the trained copy (the caller's model is left untouched)

    @property
    def diverged(self) -> bool:
        """Whether the run stopped because the loss blew up."""
        return self.diverged_at is not None


def run_optimizer(
    model: nn.Module,
    X: torch.Tensor,
    Y: torch.Tensor,
    *,
    optimizer: str = "sgd",
    lr: float,
    steps: int,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    blow_up: float = 1e4,
) -> OptimizerRun:
    """Train a copy of ``model`` on the MSE between ``model(X)`` and ``Y``; record everything.

    ``optimizer`` is ``"sgd"``, ``"momentum"`` (SGD with ``momentum``), ``"adam"`` or
    ``"adamw"``, all full-batch. The run stops early, with ``diverged_at`` set, as soon as the
    loss is not finite or exceeds ``blow_up`` times its starting value, so the histories never
    contain ``nan`` or ``inf``.

    >>> X, Y = regression_data(torch.tensor([[1.0, 2.0]]), torch.tensor([0.0]), 50, noise=0.0)
    >>> run = run_optimizer(nn.Linear(2, 1), X, Y, optimizer="adam", lr=0.1, steps=300)
    >>> run.trajectory.shape, run.diverged, bool(run.losses[-1] < 1e-4)
    (torch.Size([301, 3]), False, True)
    >>> run_optimizer(nn.Linear(2, 1), X, Y, lr=5.0, steps=100).diverged
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module; got {type(model).__name__}")
    for name, tensor in (("X", X), ("Y", Y)):
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(tensor).__name__}")
    if len(X) != len(Y):
        raise ValueError(f"X and Y must have one row per sample; got {len(X)} and {len(Y)} rows")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}; got {optimizer!r}")
    lr = _require_positive(lr, name="lr")
    steps = require_positive_int(steps, name="steps")
    weight_decay = require_real(weight_decay, low=0.0, name="weight_decay")
    blow_up = _require_positive(blow_up, name="blow_up")
    model = copy.deepcopy(model)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = _make_optimizer(optimizer, params, lr=lr, momentum=momentum, weight_decay=weight_decay)

    def flat() -> torch.Tensor:
        return torch.cat([p.detach().flatten() for p in params]).clone()

    losses: list[float] = []
    trajectory = [flat()]
    with torch.no_grad():
        start = float(F.mse_loss(model(X), Y))
    if not math.isfinite(start):
        raise ValueError(f"the starting loss must be finite; got {start}")
    diverged_at = None
    with threads(1):  # tiny models: threads cost more than they save
        for step in range(steps + 1):
            opt.zero_grad()
            loss = F.mse_loss(model(X), Y)
            value = loss.item()
            if not value <= blow_up * max(start, 1e-12):
                diverged_at = step
                if math.isfinite(value):
                    losses.append(value)
                else:  # keep losses and trajectory aligned and finite
                    trajectory.pop()
                break
            losses.append(value)
            if step == steps:
                break
            loss.backward()
            opt.step()
            trajectory.append(flat())
    return OptimizerRun(
        torch.tensor(losses, dtype=torch.float64), torch.stack(trajectory), diverged_at, model
    )


def two_weight_problem(
    n_samples: int = 100, *, correlation: float = 0.8, noise: float = 0.1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A 2-weight regression ``y = w₁x₁ + w₂x₂ + ε`` with correlated inputs.

    Correlated inputs make the loss surface a long, tilted valley: the setting where the
    learning rate and the optimiser matter. Returns ``(X, Y, w_true)`` with ``X`` of shape
    ``(n, 2)``, ``Y`` of shape ``(n, 1)`` and ``w_true = (1.5, -0.5)``.

    >>> X, Y, w_true = two_weight_problem(10)
    >>> X.shape, Y.shape, w_true.tolist()
    (torch.Size([10, 2]), torch.Size([10, 1]), [1.5, -0.5])
    """
    n_samples = require_positive_int(n_samples, name="n_samples")
    if not -1 < correlation < 1:
        raise ValueError(f"correlation must lie strictly between -1 and 1; got {correlation}")
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.linalg.cholesky(torch.tensor([[1.0, correlation], [correlation, 1.0]]))
    X = torch.randn(n_samples, 2, generator=generator) @ mixing.T
    w_true = torch.tensor([1.5, -0.5])
    Y = X @ w_true[:, None] + noise * torch.randn(n_samples, 1, generator=generator)
    return X, Y, w_true


def sgd_lr_limit(X: object, *, bias: bool = False, n_outputs: int = 1) -> float:
    """Largest learning rate for which full-batch SGD on the MSE of a linear model converges.

    The MSE ``mean((X Wᵀ + b − Y)²)`` over ``n · n_outputs`` entries is quadratic with Hessian
    ``H = 2 X̃ᵀX̃ / (n · n_outputs)`` (``X̃ = [X, 1]`` with a bias), and gradient descent on a
    quadratic converges exactly when ``lr < 2 / λ_max(H)``.

    >>> sgd_lr_limit(torch.eye(2))  # H = 2 I / 2 = I, so lr < 2
    2.0
    """
    X_t = as_tensor(X, name="X").to(torch.float64)
    require_shape(X_t, (None, None), name="X", meaning="(n_samples, d_in)")
    n_outputs = require_positive_int(n_outputs, name="n_outputs")
    if bias:
        X_t = torch.cat([X_t, torch.ones(len(X_t), 1, dtype=X_t.dtype)], dim=1)
    hessian = 2 * X_t.T @ X_t / (len(X_t) * n_outputs)
    return 2.0 / float(torch.linalg.eigvalsh(hessian).max())


def loss_surface(
    X: object,
    Y: object,
    *,
    w1_range: tuple[float, float],
    w2_range: tuple[float, float],
    resolution: int = 60,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The MSE of ``y ≈ w₁x₁ + w₂x₂`` on a grid of ``(w₁, w₂)``, ready for ``ax.contour``.

    Returns ``(w1s, w2s, L)`` with ``L[i, j]`` the loss at ``(w1s[j], w2s[i])`` (rows follow
    ``w₂``, matplotlib's convention). One batched matrix product, no loop.

    >>> X = torch.tensor([[1.0, 0.0], [0.0, 1.0]]); Y = torch.tensor([[1.0], [2.0]])
    >>> w1s, w2s, L = loss_surface(X, Y, w1_range=(0, 2), w2_range=(0, 4), resolution=3)
    >>> L.shape, float(L[1, 1])  # w = (1, 2) fits exactly
    (torch.Size([3, 3]), 0.0)
    """
    X_t = as_tensor(X, name="X")
    require_shape(X_t, (None, 2), name="X", meaning="(n_samples, 2)")
    Y_t = as_tensor(Y, name="Y").to(X_t.dtype).reshape(len(X_t), -1)
    require_shape(Y_t, (len(X_t), 1), name="Y", meaning="(n_samples, 1)")
    resolution = require_positive_int(resolution, name="resolution")
    w1s = torch.linspace(*w1_range, resolution, dtype=X_t.dtype)
    w2s = torch.linspace(*w2_range, resolution, dtype=X_t.dtype)
    grid_w2, grid_w1 = torch.meshgrid(w2s, w1s, indexing="ij")
    weights = torch.stack([grid_w1.flatten(), grid_w2.flatten()], dim=1)  # (r², 2)
    predictions = X_t @ weights.T  # (n, r²): one column per grid point
    losses = (predictions - Y_t).square().mean(0)
    return w1s, w2s, losses.reshape(resolution, resolution)


# ------------------------------------------------------------------------- classification


def two_moons(
    n_samples: int = 200, *, noise: float = 0.1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaving half circles in the plane, labelled 0 and 1, made with torch only.

    Returns ``X`` of shape ``(n, 2)`` (float32) and labels ``y`` of shape ``(n,)`` (int64),
    shuffled; class 0 has ``n // 2`` points, class 1 the rest.

    >>> X, y = two_moons(6, noise=0.0)
    >>> X.shape, y.dtype, int(y.sum())
    (torch.Size([6, 2]), torch.int64, 3)
    """
    n_samples = require_positive_int(n_samples, name="n_samples")
    noise = require_real(noise, low=0.0, name="noise")
    generator = torch.Generator().manual_seed(seed)
    n0 = n_samples // 2
    t0 = torch.rand(n0, generator=generator) * math.pi
    t1 = torch.rand(n_samples - n0, generator=generator) * math.pi
    upper = torch.stack([torch.cos(t0), torch.sin(t0)], dim=1)
    lower = torch.stack([1 - torch.cos(t1), 0.5 - torch.sin(t1)], dim=1)
    X = torch.cat([upper, lower]) + noise * torch.randn(n_samples, 2, generator=generator)
    y = torch.cat([torch.zeros(n0, dtype=torch.long), torch.ones(n_samples - n0, dtype=torch.long)])
    order = torch.randperm(n_samples, generator=generator)
    return X[order], y[order]


def spirals(
    n_samples: int = 200, *, noise: float = 0.05, turns: float = 1.25, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaved spirals (class 0 and class 1), radius up to 1, made with torch only.

    >>> X, y = spirals(8, noise=0.0)
    >>> X.shape, bool(X.norm(dim=1).max() <= 1.0)
    (torch.Size([8, 2]), True)
    """
    n_samples = require_positive_int(n_samples, name="n_samples")
    noise = require_real(noise, low=0.0, name="noise")
    _require_positive(turns, name="turns")
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(n_samples) % 2
    radius = torch.rand(n_samples, generator=generator).sqrt()  # uniform along the arm's area
    angle = 2 * math.pi * turns * radius + math.pi * y
    X = radius[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    X = X + noise * torch.randn(n_samples, 2, generator=generator)
    order = torch.randperm(n_samples, generator=generator)
    return X[order], y[order]


def build_mlp(
    in_features: int = 2,
    width: int = 16,
    depth: int = 1,
    out_features: int = 2,
    *,
    dropout: float = 0.0,
) -> nn.Sequential:
    """``depth`` hidden blocks of ``Linear → ReLU (→ Dropout)``, then a ``Linear`` output layer.

    Uses the global RNG for the initial weights (seed it first for a reproducible model).

    >>> build_mlp(2, 8, 2, dropout=0.1)
    Sequential(
      (0): Linear(in_features=2, out_features=8, bias=True)
      (1): ReLU()
      (2): Dropout(p=0.1, inplace=False)
      (3): Linear(in_features=8, out_features=8, bias=True)
      (4): ReLU()
      (5): Dropout(p=0.1, inplace=False)
      (6): Linear(in_features=8, out_features=2, bias=True)
    )
    """
    in_features = require_positive_int(in_features, name="in_features")
    width = require_positive_int(width, name="width")
    out_features = require_positive_int(out_features, name="out_features")
    depth = require_positive_int(depth, name="depth")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must lie in [0, 1); got {dropout}")
    layers: list[nn.Module] = []
    size = in_features
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        size = width
    layers.append(nn.Linear(size, out_features))
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class ClassifierRun:
    """Histories recorded by :func:`train_classifier`, one entry per evaluation."""

    steps: torch.Tensor  # (k,) the step count at each evaluation (0 = before training)
    train_loss: torch.Tensor  # (k,) cross-entropy on the training set, in eval mode
    train_acc: torch.Tensor  # (k,) accuracy on the training set
    val_loss: torch.Tensor | None  # (k,) same on the validation set, if given
    val_acc: torch.Tensor | None
    seconds: float  # wall time of the whole run


def _as_labels(labels: object, n_rows: int, *, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(labels)
    if tensor.dtype != torch.long:
        raise TypeError(f"{name} must hold int64 class labels (torch.long); got {tensor.dtype}")
    require_shape(tensor, (n_rows,), name=name, meaning="(n_samples,), one label per row")
    return tensor


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows of ``X`` whose arg-max logit equals the label (eval mode, no grad).

    >>> accuracy(nn.Identity(), torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]))
    0.5
    """
    return float(_evaluate(model, X, y)[1])


def _evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(X)
            return float(F.cross_entropy(logits, y)), float((logits.argmax(1) == y).float().mean())
    finally:
        model.train(was_training)


def train_classifier(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    lr: float = 0.01,
    weight_decay: float = 0.0,
    X_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    eval_every: int = 10,
) -> ClassifierRun:
    """Train ``model`` in place: full-batch AdamW on the cross-entropy, ``steps`` steps.

    ``weight_decay`` is AdamW's decoupled decay (each step multiplies every parameter by
    ``1 − lr · weight_decay``). Losses and accuracies are measured in ``eval()`` mode (dropout
    off) every ``eval_every`` steps and after the last one.

    >>> X, y = two_moons(100, seed=1)
    >>> _ = torch.manual_seed(0)
    >>> run = train_classifier(build_mlp(width=16), X, y, steps=300, lr=0.02)
    >>> run.steps[-1].item(), run.train_acc[-1].item() > 0.95
    (300, True)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module; got {type(model).__name__}")
    X = as_tensor(X, name="X")
    require_shape(X, (None, None), name="X", meaning="(n_samples, in_features)")
    y = _as_labels(y, len(X), name="y")
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    if X_val is not None:
        X_val = as_tensor(X_val, name="X_val")
        require_shape(X_val, (None, X.shape[1]), name="X_val", meaning="(n_val, in_features)")
        y_val = _as_labels(y_val, len(X_val), name="y_val")
    steps = require_positive_int(steps, name="steps")
    eval_every = require_positive_int(eval_every, name="eval_every")
    lr = _require_positive(lr, name="lr")
    weight_decay = require_real(weight_decay, low=0.0, name="weight_decay")
    # fused=True: one kernel per step for all parameters, ~1.5× faster for these tiny models
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    history: dict[str, list[float]] = {
        key: [] for key in ("steps", "train_loss", "train_acc", "val_loss", "val_acc")
    }

    def record(step: int) -> None:
        history["steps"].append(step)
        loss, acc = _evaluate(model, X, y)
        history["train_loss"].append(loss)
        history["train_acc"].append(acc)
        if X_val is not None:
            loss, acc = _evaluate(model, X_val, y_val)
            history["val_loss"].append(loss)
            history["val_acc"].append(acc)

    start = time.perf_counter()
    model.train()
    with threads(1):  # tiny models: threads cost more than they save
        record(0)
        for step in range(1, steps + 1):
            opt.zero_grad()
            F.cross_entropy(model(X), y).backward()
            opt.step()
            if step % eval_every == 0 or step == steps:
                record(step)
    seconds = time.perf_counter() - start
    as_t = {key: torch.tensor(values) for key, values in history.items()}
    return ClassifierRun(
        steps=as_t["steps"],
        train_loss=as_t["train_loss"],
        train_acc=as_t["train_acc"],
        val_loss=as_t["val_loss"] if X_val is not None else None,
        val_acc=as_t["val_acc"] if X_val is not None else None,
        seconds=seconds,
    )


def decision_grid(
    model: nn.Module,
    *,
    limits: tuple[float, float, float, float],
    resolution: int = 100,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Probability of class 1 on a grid over ``limits = (x_min, x_max, y_min, y_max)``.

    Returns ``(xs, ys, P)`` with ``P[i, j]`` = softmax probability of class 1 at
    ``(xs[j], ys[i])``, computed in ``eval()`` mode without gradients.

    >>> xs, ys, P = decision_grid(nn.Linear(2, 2), limits=(-1, 1, -1, 1), resolution=5)
    >>> P.shape, bool(((0 <= P) & (P <= 1)).all())
    (torch.Size([5, 5]), True)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module; got {type(model).__name__}")
    if len(limits) != 4 or not (limits[0] < limits[1] and limits[2] < limits[3]):
        raise ValueError(
            f"limits must be (x_min, x_max, y_min, y_max) with min < max; got {limits}"
        )
    resolution = require_positive_int(resolution, name="resolution")
    dtype = next(model.parameters(), torch.empty(0)).dtype  # a float64 model gets a float64 grid
    xs = torch.linspace(limits[0], limits[1], resolution, dtype=dtype)
    ys = torch.linspace(limits[2], limits[3], resolution, dtype=dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([grid_x.flatten(), grid_y.flatten()], dim=1)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            probs = torch.softmax(model(points), dim=1)[:, 1]
    finally:
        model.train(was_training)
    return xs, ys, probs.reshape(resolution, resolution)


@dataclass(frozen=True)
class BoundaryResult:
    """What :func:`train_boundary` returns (cached: treat the tensors as read-only)."""

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    xs: torch.Tensor  # grid columns
    ys: torch.Tensor  # grid rows
    probs: torch.Tensor  # (len(ys), len(xs)) probability of class 1
    first_weight: torch.Tensor  # (width, 2): each row is one first-layer unit's normal vector
    first_bias: torch.Tensor  # (width,)
    run: ClassifierRun


#: The plane region the boundary demo shows, for both data sets.
BOUNDARY_LIMITS = {"moons": (-1.6, 2.6, -1.3, 1.8), "spirals": (-1.4, 1.4, -1.4, 1.4)}


@functools.lru_cache(maxsize=512)
def train_boundary(
    width: int,
    depth: int,
    weight_decay: float = 0.0,
    dropout: float = 0.0,
    steps: int = 300,
    *,
    dataset: str = "moons",
    n_train: int = 80,
    n_val: int = 400,
    lr: float = 0.02,
    resolution: int = 80,
    seed: int = 0,
) -> BoundaryResult:
    """Train an MLP on a small 2-D data set and grid its decision boundary; cached.

    The data (``n_train`` training and ``n_val`` validation points) and the initial weights
    are fixed by ``seed``, so equal arguments give equal results and a repeated call returns
    the cached result instantly. The global RNG is left untouched.

    >>> result = train_boundary(16, 1, steps=300)
    >>> result.probs.shape, result.first_weight.shape, result.run.val_acc[-1].item() > 0.85
    (torch.Size([80, 80]), torch.Size([16, 2]), True)
    >>> train_boundary(16, 1, steps=300) is result
    True
    """
    if dataset not in BOUNDARY_LIMITS:
        raise ValueError(f"dataset must be one of {tuple(BOUNDARY_LIMITS)}; got {dataset!r}")
    n_train = require_positive_int(n_train, name="n_train")
    n_val = require_positive_int(n_val, name="n_val")
    make = two_moons if dataset == "moons" else spirals
    noise = 0.25 if dataset == "moons" else 0.05
    X, y = make(n_train + n_val, noise=noise, seed=seed)
    X_train, y_train, X_val, y_val = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_mlp(2, width, depth, 2, dropout=dropout)
        run = train_classifier(
            model,
            X_train,
            y_train,
            steps=steps,
            lr=lr,
            weight_decay=weight_decay,
            X_val=X_val,
            y_val=y_val,
            eval_every=max(1, steps // 20),
        )
    with threads(1):  # tiny models: threads cost more than they save
        xs, ys, probs = decision_grid(model, limits=BOUNDARY_LIMITS[dataset], resolution=resolution)
    first = model[0]
    return BoundaryResult(
        X_train,
        y_train,
        X_val,
        y_val,
        xs,
        ys,
        probs,
        first.weight.detach().clone(),
        first.bias.detach().clone(),
        run,
    )
