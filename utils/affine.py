"""Affine maps y = A x + b in tensor form: apply, compose, lift to homogeneous coordinates.

Conventions match ``nn.Linear``: ``A`` has shape ``(d_out, d_in)``, samples are rows of ``X``,
and a batch is mapped as ``Y = X Aᵀ + b``.
"""

from __future__ import annotations

import torch

from utils._validate import as_tensor, require_shape


def _check_affine(A: object, b: object) -> tuple[torch.Tensor, torch.Tensor]:
    A_t = as_tensor(A, name="A")
    b_t = as_tensor(b, name="b")
    require_shape(A_t, (None, None), name="A", meaning="(d_out, d_in)")
    require_shape(b_t, (A_t.shape[0],), name="b", meaning="(d_out,)")
    return A_t, b_t


def affine_map(X: object, A: object, b: object) -> torch.Tensor:
    """Map every row ``x`` of ``X`` to ``A x + b``, i.e. return ``X Aᵀ + b``.

    >>> affine_map(torch.tensor([[1.0, 2.0]]), torch.eye(2), torch.tensor([10.0, 20.0]))
    tensor([[11., 22.]])
    """
    A_t, b_t = _check_affine(A, b)
    X_t = as_tensor(X, name="X")
    require_shape(X_t, (None, A_t.shape[1]), name="X", meaning="(n_samples, d_in)")
    return X_t @ A_t.T + b_t


def compose_affine(
    A1: object, b1: object, A2: object, b2: object
) -> tuple[torch.Tensor, torch.Tensor]:
    """The single affine map equal to "first ``(A1, b1)``, then ``(A2, b2)``".

    ``A2 (A1 x + b1) + b2 = (A2 A1) x + (A2 b1 + b2)``.

    >>> A, b = compose_affine(2 * torch.eye(2), torch.ones(2), torch.eye(2), torch.zeros(2))
    >>> A, b
    (tensor([[2., 0.],
            [0., 2.]]), tensor([1., 1.]))
    """
    A1_t, b1_t = _check_affine(A1, b1)
    A2_t, b2_t = _check_affine(A2, b2)
    if A2_t.shape[1] != A1_t.shape[0]:
        raise ValueError(
            f"cannot compose: the first map outputs {A1_t.shape[0]} numbers but the second "
            f"expects {A2_t.shape[1]} inputs (A1 {tuple(A1_t.shape)}, A2 {tuple(A2_t.shape)})"
        )
    return A2_t @ A1_t, A2_t @ b1_t + b2_t


def homogeneous_matrix(A: object, b: object) -> torch.Tensor:
    """Stack ``A`` and ``b`` into the ``(d_out+1, d_in+1)`` matrix ``[[A, b], [0, 1]]``.

    >>> homogeneous_matrix(torch.eye(2), torch.tensor([3.0, 4.0]))
    tensor([[1., 0., 3.],
            [0., 1., 4.],
            [0., 0., 1.]])
    """
    A_t, b_t = _check_affine(A, b)
    d_out, d_in = A_t.shape
    M = torch.zeros(d_out + 1, d_in + 1, dtype=A_t.dtype)
    M[:d_out, :d_in] = A_t
    M[:d_out, d_in] = b_t
    M[d_out, d_in] = 1.0
    return M


def to_homogeneous(X: object) -> torch.Tensor:
    """Append a column of ones to a batch of row vectors: ``(n, d) -> (n, d+1)``.

    >>> to_homogeneous(torch.tensor([[2.0, 3.0]]))
    tensor([[2., 3., 1.]])
    """
    X_t = as_tensor(X, name="X")
    require_shape(X_t, (None, None), name="X", meaning="(n_samples, d)")
    return torch.cat([X_t, torch.ones(X_t.shape[0], 1, dtype=X_t.dtype)], dim=1)


def grid_lines(extent: float = 2.0, n_lines: int = 9, n_points: int = 41) -> list[torch.Tensor]:
    """Horizontal and vertical lines covering ``[-extent, extent]²``, each as ``(n_points, 2)``.

    >>> lines = grid_lines(extent=1.0, n_lines=3, n_points=5)
    >>> len(lines), tuple(lines[0].shape)
    (6, (5, 2))
    """
    if extent <= 0:
        raise ValueError(f"extent must be positive; got {extent}")
    if n_lines < 2 or n_points < 2:
        raise ValueError(f"need n_lines >= 2 and n_points >= 2; got {n_lines} and {n_points}")
    ticks = torch.linspace(-extent, extent, n_lines)
    along = torch.linspace(-extent, extent, n_points)
    horizontal = [torch.stack([along, torch.full_like(along, t)], dim=1) for t in ticks]
    vertical = [torch.stack([torch.full_like(along, t), along], dim=1) for t in ticks]
    return horizontal + vertical


def unit_square() -> torch.Tensor:
    """Corners of the unit square, counter-clockwise, as rows: shape ``(4, 2)``."""
    return torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])


def signed_area(polygon: object) -> float:
    """Signed area of a polygon given as ``(k, 2)`` corners (shoelace formula).

    Positive for counter-clockwise corners, negative when the order is flipped.

    >>> signed_area(unit_square())
    1.0
    """
    P = as_tensor(polygon, name="polygon")
    require_shape(P, (None, 2), name="polygon", meaning="(n_corners, 2)")
    x, y = P[:, 0], P[:, 1]
    return float(0.5 * (x * y.roll(-1) - x.roll(-1) * y).sum())
