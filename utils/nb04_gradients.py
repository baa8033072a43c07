"""Notebook 04, gradients: the checks of Exercises 4.1-4.3 (the layer itself lives in the notebook).
Each compares with autograd on cases differing in every dimension and names typical mistakes."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from utils import tr
from utils.check import NOT_ATTEMPTED, as_number, attempt, expect, expect_tensor, passed, without

#: Constants holding English templates for :func:`utils.tr` (``scripts/messages.py`` reads them).
MESSAGES = (
    "_NUMBER",
    "_NO_GRAD_FN",
    "_NEW_LEAF",
    "_BY_HAND",
    "_NO_S",
    "_DW_T",
    "_DW_ROWS",
    "_DW_ONE",
    "_DX_T",
    "_DS_ONE",
    "_DS_Y",
    "_DS_G",
    "_DS_OFF",
)


def _randn(seed: int, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _rows(t: torch.Tensor) -> torch.Tensor:  # (*, features) -> (rows, features)
    return t.reshape(-1, t.shape[-1])


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.to(b.dtype), b, rtol=1e-4, atol=1e-5)


def _reject(got: object, want: torch.Tensor, wrong: list[tuple[torch.Tensor, str]]) -> None:
    # unless got is right, fail with the hint (already translated) of the first known-wrong
    # answer it equals
    if isinstance(got, torch.Tensor) and not _same(got, want):
        for value, hint in wrong:
            expect(not (value.numel() and _same(got, value)), hint)


def _bias_shape_hint(shape: tuple, kept: tuple) -> str:
    """Name the mistake behind a ``db`` of shape ``kept`` for ``G`` of shape ``shape``."""
    one, partial = len(shape) == 1, len(kept) > 1 and kept[-1] == shape[-1]
    hints = [
        (
            kept == shape,
            tr("you returned G as it is: b was added to every row, so sum G over them."),
        ),
        (
            kept == () and one,
            tr("G is one sample: no row to sum, db = G (G.sum(dim=()) sums all)."),
        ),
        (kept == (), tr("you summed over the features (the last dim) too: one entry per output.")),
        (
            kept == shape[:-1],
            tr("you summed over the features (the last dim) instead of the rows."),
        ),
        (partial, tr("you summed only some leading dims: sum over every dim but the last.")),
    ]
    fallback = tr("db must have the bias's shape, (d_out,).")
    return next((hint for hit, hint in hints if hit), fallback)


def check_bias_grad(bias_grad: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Check ``bias_grad(G)``: ``G`` summed over every leading dim, for 3-D, 4-D (float64), 2-D,
    1-D and empty ``G``, each with its own ``d_out``.

    >>> check_bias_grad(lambda G: G.reshape(-1, G.shape[-1]).sum(0))
    ✓ bias_grad sums G over every leading dim: G of 1 to 4 dims, an empty batch
    """
    for seed, shape in enumerate([(2, 5, 4), (2, 3, 2, 5), (6, 3), (5,), (0, 4)]):
        G = _randn(seed, *shape, dtype=torch.float64 if len(shape) == 4 else torch.float32)
        db = attempt("bias_grad", bias_grad, G.clone())
        if db is NOT_ATTEMPTED:
            return
        want, what = _rows(G).sum(0), tr("bias_grad(G) for G of shape {s}", s=shape)
        expect(isinstance(db, torch.Tensor), tr("{what}: expected a tensor.", what=what))
        expect(db.shape == want.shape, _bias_shape_hint(shape, tuple(db.shape)))
        expect(db.dtype == G.dtype, tr("{what}: keep G's dtype, {d}.", what=what, d=G.dtype))
        mean = tr("that is the mean over the rows: each adds its G.")
        _reject(db, want, [(_rows(G).mean(0), mean)])
        expect_tensor(db, want, what=what)
    passed(tr("bias_grad sums G over every leading dim: G of 1 to 4 dims, an empty batch"))


def check_total_loss(total_loss: Callable[[nn.Module, list], torch.Tensor]) -> None:
    """Check ``total_loss(model, batches)``: the summed MSE, still connected to the model.

    >>> check_total_loss(lambda model, batches: sum(F.mse_loss(model(X), Y) for X, Y in batches))
    ✓ total_loss adds the batch losses as tensors: backward() reaches every parameter
    """
    cases = [(3, 2, True, (4, 6, 5)), (4, 1, False, (8,)), (2, 3, True, (3, 3))]
    for seed, (d_in, d_out, bias, sizes) in enumerate(cases):  # sizes: rows of each batch
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = nn.Linear(d_in, d_out, bias=bias)
        batches = [(_randn(k, n, d_in), _randn(-k - 1, n, d_out)) for k, n in enumerate(sizes)]
        reference = copy.deepcopy(model)
        loss = attempt("total_loss", total_loss, model, batches)
        if loss is NOT_ATTEMPTED:
            return
        expect(isinstance(loss, torch.Tensor), tr(_NUMBER, got=type(loss).__name__))
        expect(loss.requires_grad, tr(_NO_GRAD_FN))
        expect(loss.shape == (), tr("return one number, a 0-d tensor: the batch losses added."))
        per_batch = torch.stack([F.mse_loss(reference(X), Y) for X, Y in batches])
        wrong = [
            (per_batch.mean(), tr("that is the mean over the batches; add them up.")),
            (per_batch[-1], tr("only the last batch.")),
        ]
        _reject(loss.detach(), per_batch.sum(), wrong)
        expect(torch.allclose(loss, per_batch.sum()), tr("expected Σ F.mse_loss over batches."))
        model.zero_grad()
        loss.backward()
        per_batch.sum().backward()
        for name, param in model.named_parameters():
            expect(param.grad is not None, tr(_NEW_LEAF))
            expect_tensor(param.grad, reference.get_parameter(name).grad, what=name + ".grad")
    passed(tr("total_loss adds the batch losses as tensors: backward() reaches every parameter"))


_NUMBER = "expected a tensor to call backward() on, got {got}: keep the losses as tensors."
_NO_GRAD_FN = "your loss has no grad_fn: .item() or torch.tensor(...) cut it off from the model."
_NEW_LEAF = (
    "backward() ran, but the model's parameters got no gradient: torch.tensor(..., "
    "requires_grad=True) is a new leaf, not connected to the model. Add the loss tensors."
)


def check_scaled_grads(scaled_linear_grads: Callable[..., tuple]) -> None:
    """Check ``scaled_linear_grads(X, W, s, G) -> (dX, dW, ds)`` for ``Y = s · X Wᵀ``, by hand:
    2-D, 1-D, 3-D, 4-D (float64) and empty ``X``, non-square ``W``, five values of ``s``.

    >>> def scaled_linear_grads(X, W, s, G):
    ...     G2, X2 = G.reshape(-1, G.shape[-1]), X.reshape(-1, X.shape[-1])
    ...     return s * G @ W, s * G2.T @ X2, (G * (X @ W.T)).sum()
    >>> check_scaled_grads(scaled_linear_grads)
    ✓ scaled_linear_grads: dX = s·G W, dW = s·Gᵀ X, ds = Σ G ⊙ X Wᵀ (1-D to 4-D, empty)
    """
    autograd = (torch.Tensor.backward, torch.autograd.grad, torch.autograd.backward)
    by_hand = functools.partial(without, autograd, scaled_linear_grads, hint=tr(_BY_HAND))
    cases = [((5,), 3, 4, 2.5), ((), 3, 3, -0.5), ((2, 4), 3, 5, 1.5), ((2, 2, 3), 2, 3, -2.0)]
    for seed, (leading, d_in, d_out, s) in enumerate([*cases, ((0,), 3, 2, 0.7)]):
        dtype = torch.float64 if len(leading) == 3 else torch.float32
        X, W = _randn(seed, *leading, d_in, dtype=dtype), _randn(seed + 9, d_out, d_in, dtype=dtype)
        G, s_t = _randn(seed + 99, *leading, d_out, dtype=dtype), torch.tensor(s, dtype=dtype)
        leaves = [t.clone().requires_grad_() for t in (X, W, s_t)]
        (leaves[2] * leaves[0] @ leaves[1].T).backward(G)  # autograd: the reference answer
        dX_want, dW_want, ds_want = (t.grad for t in leaves)
        answer = attempt("scaled_linear_grads", by_hand, X, W, s_t, G)
        if answer is NOT_ATTEMPTED:
            return
        expect(isinstance(answer, tuple | list) and len(answer) == 3, tr("return (dX, dW, ds)."))
        dX, dW, ds = answer
        where = {"x": tuple(X.shape), "w": tuple(W.shape), "s": s}
        square = d_in == d_out  # only then can a transposed answer have the right shape
        if isinstance(dW, torch.Tensor):
            expect(tuple(dW.shape) != (d_in, d_out) or square, tr(_DW_T))
            expect(dW.ndim < 3 or tuple(dW.shape[-2:]) != (d_out, d_in), tr(_DW_ROWS))
            expect(dW.ndim > 0, tr(_DW_ONE))
            transposed = [(s * _rows(X).T @ _rows(G), tr(_DW_T))] if square else []
            _reject(dW, dW_want, [(dW_want / s, tr(_NO_S)), *transposed])
        expect_tensor(dW, dW_want, what=tr("dW for X of shape {x}, W {w}, s = {s}", **where))
        if isinstance(dX, torch.Tensor):
            transposed = [(s * G @ W.T, tr(_DX_T))] if square else []
            _reject(dX, dX_want, [(dX_want / s, tr(_NO_S)), *transposed])
        if dX_want.numel():  # (check.expect_tensor fails on empty tensors)
            expect_tensor(dX, dX_want, what=tr("dX for X of shape {x}, W {w}, s = {s}", **where))
        expect(isinstance(dX, torch.Tensor) and dX.shape == X.shape, tr(_DX_T))
        got = torch.tensor(as_number(ds, what="ds", hint=tr(_DS_ONE)), dtype=dtype)
        _reject(got, ds_want, [(s * ds_want, tr(_DS_Y)), (G.sum(), tr(_DS_G))])
        expect(_same(got, ds_want), tr(_DS_OFF, **where))
    passed(tr("scaled_linear_grads: dX = s·G W, dW = s·Gᵀ X, ds = Σ G ⊙ X Wᵀ (1-D to 4-D, empty)"))


_BY_HAND = "derive the three gradients by hand; autograd is what this check compares against."
_NO_S = "a factor s is missing: Y = s·XWᵀ, so every path from W or X to Y carries s."
_DW_T = "dW is transposed: it has W's shape (d_out, d_in), so s·GᵀX, not s·XᵀG."
_DW_ROWS = "dW must be summed over every leading dimension: flatten them into rows first."
_DW_ONE = "for one sample (1-D X and G), dW = s·outer(G, X): a matrix, not a dot product."
_DX_T = "dX has X's shape (*, d_in): s·G W, not s·G Wᵀ."
_DS_ONE = "s is one number, so ds is one number: sum G ⊙ (X Wᵀ) over every entry."
_DS_Y = "ds multiplies G by X Wᵀ, not by Y = s·X Wᵀ: you used s once too often."
_DS_G = "∂Y/∂s = X Wᵀ, so ds = Σ G ⊙ (X Wᵀ), not Σ G."
_DS_OFF = "ds for X of shape {x}, W {w}, s = {s} is off: ds = Σ over every entry of G ⊙ (X Wᵀ)."
