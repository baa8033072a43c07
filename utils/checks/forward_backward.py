"""Self-checks for notebook 04 (forward and backward): each prints ✓, "not attempted" or a hint.

Autograd is the reference answer: every check runs the same computation through
``torch.nn.functional.linear`` and ``backward`` and compares.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from utils.check import NOT_ATTEMPTED, attempt, expect, expect_tensor, passed


def _autograd_grads(
    X: torch.Tensor, W: torch.Tensor, b: torch.Tensor, G: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(dX, dW, db)`` of ``Y = X Wᵀ + b`` for upstream gradient ``G``, from autograd."""
    X, W, b = (t.detach().clone().requires_grad_() for t in (X, W, b))
    F.linear(X, W, b).backward(G)
    return X.grad, W.grad, b.grad


def _case(seed: int, leading: Sequence[int], d_in: int = 3, d_out: int = 4) -> tuple:
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(*leading, d_in, generator=generator, dtype=torch.float64)
    W = torch.randn(d_out, d_in, generator=generator, dtype=torch.float64)
    b = torch.randn(d_out, generator=generator, dtype=torch.float64)
    G = torch.randn(*leading, d_out, generator=generator, dtype=torch.float64)
    return X, W, b, G


def check_weight_grad(weight_grad: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Check ``weight_grad(X, G)`` returns ``dW = Gᵀ X`` summed over all leading dimensions.

    >>> check_weight_grad(lambda X, G: G.reshape(-1, G.shape[-1]).T @ X.reshape(-1, X.shape[-1]))
    ✓ weight_grad gives dW = Gᵀ X, for a batch (5, 3) and for leading dimensions (2, 5, 3)
    """
    X, W, b, G = _case(11, (5,))
    dW = attempt("weight_grad", weight_grad, X, G)
    if dW is NOT_ATTEMPTED:
        return
    expected = _autograd_grads(X, W, b, G)[1]
    expect(isinstance(dW, torch.Tensor), f"expected a tensor, got {type(dW).__name__}")
    if tuple(dW.shape) == (3, 4):
        raise AssertionError(
            "dW has shape (in_features, out_features) = (3, 4); it must match W, which is "
            "(out_features, in_features) = (4, 3). Compute Gᵀ X, not Xᵀ G."
        )
    expect_tensor(
        dW,
        expected,
        what="weight_grad(X, G) for X of shape (5, 3)",
        hint="Entry (i, j) of dW is Σ_k G[k, i] X[k, j]: one matrix product, Gᵀ X.",
    )
    X, W, b, G = _case(12, (2, 5))
    try:
        dW = weight_grad(X, G)
    except RuntimeError as exc:
        raise AssertionError(
            f"weight_grad failed for X of shape (2, 5, 3): {exc}. With extra leading "
            "dimensions every row still contributes: flatten them first, "
            "G.reshape(-1, out_features).T @ X.reshape(-1, in_features)."
        ) from exc
    expect_tensor(
        dW,
        _autograd_grads(X, W, b, G)[1],
        what="weight_grad(X, G) for X of shape (2, 5, 3)",
        hint="Sum over every leading dimension: flatten them into one batch of 10 rows.",
    )
    passed("weight_grad gives dW = Gᵀ X, for a batch (5, 3) and for leading dimensions (2, 5, 3)")


def check_bias_grad(bias_grad: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Check ``bias_grad(G)`` returns ``db = G`` summed over every leading dimension.

    >>> check_bias_grad(lambda G: G.reshape(-1, G.shape[-1]).sum(0))
    ✓ bias_grad sums G over every leading dimension: db has the bias's shape (4,)
    """
    X, W, b, G = _case(13, (2, 5))
    db = attempt("bias_grad", bias_grad, G)
    if db is NOT_ATTEMPTED:
        return
    expect(isinstance(db, torch.Tensor), f"expected a tensor, got {type(db).__name__}")
    if tuple(db.shape) == (5, 4):
        raise AssertionError(
            "db has shape (5, 4): you summed over dim 0 only. G here has shape (2, 5, 4); "
            "the bias was added to all 2 × 5 rows, so sum over every dimension but the last."
        )
    expect_tensor(
        db,
        _autograd_grads(X, W, b, G)[2],
        what="bias_grad(G) for G of shape (2, 5, 4)",
        hint="b is added to every row, so each row's upstream gradient flows into it: sum them.",
    )
    passed("bias_grad sums G over every leading dimension: db has the bias's shape (4,)")


def _losses_with(model: nn.Module, X: torch.Tensor, Y: torch.Tensor, *, zero: bool) -> list:
    model = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(20):
        if zero:
            opt.zero_grad()
        loss = F.mse_loss(model(X), Y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def check_training_loop(train: Callable[..., Sequence[float]]) -> None:
    """Check ``train(model, X, Y, lr=..., steps=...)`` is a correct SGD loop returning its losses.

    >>> def train(model, X, Y, *, lr, steps):
    ...     opt = torch.optim.SGD(model.parameters(), lr=lr)
    ...     losses = []
    ...     for _ in range(steps):
    ...         opt.zero_grad()
    ...         loss = F.mse_loss(model(X), Y)
    ...         loss.backward()
    ...         opt.step()
    ...         losses.append(loss.item())
    ...     return losses
    >>> check_training_loop(train)
    ✓ train matches a correct SGD loop step for step (20 losses)
    """
    generator = torch.Generator().manual_seed(14)
    X = torch.randn(32, 3, generator=generator)
    Y = X @ torch.tensor([[1.0, -2.0, 0.5]]).T + 0.3
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = nn.Linear(3, 1)
    answer = attempt("train", lambda: train(copy.deepcopy(model), X, Y, lr=0.05, steps=20))
    if answer is NOT_ATTEMPTED:
        return
    got = torch.as_tensor([float(v) for v in answer], dtype=torch.float64)
    expect(len(got) == 20, f"return one loss per step: expected 20 values, got {len(got)}")
    good = torch.tensor(_losses_with(model, X, Y, zero=True), dtype=torch.float64)
    bad = torch.tensor(_losses_with(model, X, Y, zero=False), dtype=torch.float64)
    right = torch.allclose(got, good, rtol=1e-4)
    if torch.allclose(got, bad, rtol=1e-4) and not right:
        raise AssertionError(
            "your losses match a loop that never clears the gradients: .backward() adds to "
            ".grad, so call opt.zero_grad() once per step, before loss.backward()."
        )
    if not right and torch.allclose(got, good[:1].expand_as(got), rtol=1e-6):  # stuck
        raise AssertionError(
            f"your loss never changes ({got[0].item():.4f} at every step), so opt.step() saw no "
            "gradients: call opt.zero_grad() before loss.backward(), not between backward "
            "and step."
        )
    if not right and torch.allclose(got[:-1], good[1:], rtol=1e-4):
        raise AssertionError(
            "your losses are one step ahead of a correct loop: record the loss you called "
            "backward() on, measured before opt.step(), not a loss recomputed after the step."
        )
    expect(
        right,
        "the losses differ from a correct loop (zero_grad → forward → loss → backward → step); "
        f"first losses expected {[round(v, 4) for v in good[:3].tolist()]}, "
        f"got {[round(v, 4) for v in got[:3].tolist()]}",
    )
    passed("train matches a correct SGD loop step for step (20 losses)")
