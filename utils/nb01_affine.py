"""Notebook 01, affine maps ``y = A x + b``: apply, compose, lift to homogeneous form, draw.

Conventions match ``nn.Linear``: ``A`` has shape ``(d_out, d_in)``, samples are the rows of
``X``, and a batch is mapped as ``Y = X Aᵀ + b``. The functions a learner calls check their
input once; everything they call internally trusts it.

- §1 uses :func:`affine_map` and :func:`point_cloud`
- §2 uses :func:`unit_square`, :func:`signed_area`, :func:`affine_grid` and :func:`build_demo`
- §3 uses :func:`compose_affine`; §4 uses :func:`describe_shape`
- §5 uses :func:`homogeneous_matrix` and :func:`to_homogeneous`
- §6 (exercises) uses :func:`check_batch_affine`, :func:`check_compose`, :func:`check_rotation_90`
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from utils._validate import as_tensor, require_axes, require_shape
from utils.check import NOT_ATTEMPTED, attempt, expect, expect_tensor, passed
from utils.plot import AFTER_COLOR, BEFORE_COLOR
from utils.widgets import SliderDemo, float_slider, slider_demo

# --- compute -----------------------------------------------------------------------------------


def _affine_args(A: object, b: object) -> tuple[torch.Tensor, torch.Tensor]:
    A_t, b_t = as_tensor(A, name="A"), as_tensor(b, name="b")
    require_shape(A_t, (None, None), name="A", meaning="(d_out, d_in)")
    require_shape(b_t, (A_t.shape[0],), name="b", meaning="(d_out,)")
    return A_t, b_t


def affine_map(X: object, A: object, b: object) -> torch.Tensor:
    """Map every row ``x`` of ``X`` to ``A x + b``, i.e. return ``X Aᵀ + b``. Used in §1-§2.

    >>> affine_map(torch.tensor([[1.0, 2.0]]), torch.eye(2), torch.tensor([10.0, 20.0]))
    tensor([[11., 22.]])
    """
    A_t, b_t = _affine_args(A, b)
    X_t = as_tensor(X, name="X")
    require_shape(X_t, (None, A_t.shape[1]), name="X", meaning="(n_samples, d_in)")
    return X_t @ A_t.T + b_t


def compose_affine(
    A1: object, b1: object, A2: object, b2: object
) -> tuple[torch.Tensor, torch.Tensor]:
    """The one affine map equal to "first ``(A1, b1)``, then ``(A2, b2)``". Used in §3.

    ``A2 (A1 x + b1) + b2 = (A2 A1) x + (A2 b1 + b2)``.

    >>> compose_affine(2 * torch.eye(2), torch.ones(2), torch.eye(2), torch.zeros(2))
    (tensor([[2., 0.],
            [0., 2.]]), tensor([1., 1.]))
    """
    (A1_t, b1_t), (A2_t, b2_t) = _affine_args(A1, b1), _affine_args(A2, b2)
    if A2_t.shape[1] != A1_t.shape[0]:
        raise ValueError(
            f"cannot compose: the first map outputs {A1_t.shape[0]} numbers but the second "
            f"expects {A2_t.shape[1]} inputs (A1 {tuple(A1_t.shape)}, A2 {tuple(A2_t.shape)})"
        )
    return A2_t @ A1_t, A2_t @ b1_t + b2_t


def homogeneous_matrix(A: object, b: object) -> torch.Tensor:
    """Stack ``A`` and ``b`` into the ``(d_out+1, d_in+1)`` matrix ``[[A, b], [0, 1]]``. §5.

    >>> homogeneous_matrix(torch.eye(2), torch.tensor([3.0, 4.0]))
    tensor([[1., 0., 3.],
            [0., 1., 4.],
            [0., 0., 1.]])
    """
    A_t, b_t = _affine_args(A, b)
    d_out, d_in = A_t.shape
    M = torch.zeros(d_out + 1, d_in + 1, dtype=A_t.dtype)
    M[:d_out, :d_in] = A_t
    M[:d_out, d_in] = b_t
    M[d_out, d_in] = 1.0
    return M


def to_homogeneous(X: object) -> torch.Tensor:
    """Append a column of ones to a batch of row vectors: ``(n, d) -> (n, d+1)``. Used in §5.

    >>> to_homogeneous(torch.tensor([[2.0, 3.0]]))
    tensor([[2., 3., 1.]])
    """
    X_t = as_tensor(X, name="X")
    require_shape(X_t, (None, None), name="X", meaning="(n_samples, d)")
    return torch.cat([X_t, torch.ones(X_t.shape[0], 1, dtype=X_t.dtype)], dim=1)


def unit_square() -> torch.Tensor:
    """Corners of the unit square, counter-clockwise, as rows: shape ``(4, 2)``. Used in §2."""
    return torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])


def signed_area(polygon: object) -> float:
    """Signed area of a polygon given as ``(k, 2)`` corners (shoelace formula). Used in §2.

    Positive for counter-clockwise corners, negative when the order is flipped.

    >>> signed_area(unit_square()), signed_area(unit_square().flip(0))
    (1.0, -1.0)
    """
    P = as_tensor(polygon, name="polygon")
    require_shape(P, (None, 2), name="polygon", meaning="(n_corners, 2)")
    x, y = P[:, 0], P[:, 1]
    return float(0.5 * (x * y.roll(-1) - x.roll(-1) * y).sum())


def describe_shape(tensor: torch.Tensor, names: Sequence[str] | None = None) -> str:
    """Explain ``tensor.shape`` in one line, optionally naming each axis. Used in §4.

    >>> describe_shape(torch.zeros(3, 10), names=("batch", "in_features"))
    '(3, 10): 2-D, 3 batch × 10 in_features = 30 numbers'
    >>> describe_shape(torch.tensor(1.5))
    '(): 0-D scalar, 1 number'
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a torch.Tensor; got {type(tensor).__name__}")
    shape = tuple(tensor.shape)
    if names is not None and len(names) != len(shape):
        raise ValueError(
            f"got {len(names)} axis names {tuple(names)} for a {len(shape)}-D tensor "
            f"of shape {shape}; give one name per axis"
        )
    if not shape:
        return "(): 0-D scalar, 1 number"
    labels = names if names is not None else [f"dim{i}" for i in range(len(shape))]
    parts = " × ".join(f"{size} {label}" for size, label in zip(shape, labels, strict=True))
    count = math.prod(shape)
    return f"{shape}: {len(shape)}-D, {parts} = {count} {'number' if count == 1 else 'numbers'}"


# --- plots -------------------------------------------------------------------------------------


#: The drawn grid covers ``[-EXTENT, EXTENT]²``.
EXTENT = 2.0


def _grid_lines(n_lines: int = 9, n_points: int = 41) -> list[torch.Tensor]:
    """Horizontal and vertical lines covering ``[-EXTENT, EXTENT]²``, each ``(n_points, 2)``."""
    ticks = torch.linspace(-EXTENT, EXTENT, n_lines)
    along = torch.linspace(-EXTENT, EXTENT, n_points)
    horizontal = [torch.stack([along, torch.full_like(along, t)], dim=1) for t in ticks]
    vertical = [torch.stack([torch.full_like(along, t), along], dim=1) for t in ticks]
    return horizontal + vertical


def affine_grid(
    ax: Axes, A: object, b: object, *, view: float | None = None, legend: bool = True
) -> dict[str, object]:
    """Draw how ``x ↦ A x + b`` warps the plane: grid, unit square and basis vectors. §2.

    Grey shows the plane before the map, blue after it. The images of the basis vectors
    ``e₁, e₂`` are the columns of ``A``, drawn from the new origin ``b``; the unit square
    becomes a parallelogram of signed area ``det A``. Returns the artists by name.

    >>> from matplotlib.figure import Figure
    >>> sorted(affine_grid(Figure().add_subplot(), torch.eye(2), torch.zeros(2)))
    ['after_grid', 'after_square', 'before_grid', 'before_square', 'e1', 'e2']
    """
    ax = require_axes(ax)
    A_t, b_t = as_tensor(A, name="A"), as_tensor(b, name="b")
    require_shape(A_t, (2, 2), name="A", meaning="(2, 2)")
    require_shape(b_t, (2,), name="b", meaning="(2,)")

    def move(points: torch.Tensor) -> torch.Tensor:
        return points @ A_t.T + b_t

    lines = _grid_lines()
    moved = move(torch.cat(lines)).split([len(line) for line in lines])
    # One LineCollection per grid instead of one Line2D per grid line: far cheaper to redraw.
    artists: dict[str, object] = {
        "before_grid": ax.add_collection(
            LineCollection([line.numpy() for line in lines], colors=BEFORE_COLOR, linewidths=0.6)
        ),
        "after_grid": ax.add_collection(
            LineCollection([line.numpy() for line in moved], colors=AFTER_COLOR, linewidths=0.8)
        ),
        "before_square": ax.add_patch(
            Polygon(unit_square().numpy(), closed=True, fc="0.85", ec="0.5", alpha=0.6)
        ),
        "after_square": ax.add_patch(
            Polygon(move(unit_square()).numpy(), closed=True, color="tab:orange", alpha=0.35)
        ),
    }
    for name, column, color in (("e1", 0, "tab:red"), ("e2", 1, "tab:green")):
        dx, dy = A_t[:, column].tolist()
        label = f"A e{column + 1} (column {column + 1} of A)"
        artists[name] = ax.arrow(
            *b_t.tolist(), dx, dy, width=0.03, length_includes_head=True, color=color, label=label
        )
    corners = torch.tensor([[EXTENT, EXTENT], [EXTENT, -EXTENT]])
    reach = view if view is not None else max(EXTENT, float(move(corners).abs().max()))
    ax.set_xlim(-reach, reach)
    ax.set_ylim(-reach, reach)
    ax.set_aspect("equal")
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    if legend:
        ax.legend(loc="upper left", fontsize=8)
    return artists


def point_cloud(ax: Axes, before: object, after: object | None = None) -> list[object]:
    """Scatter 2-D points, and optionally where a map sent them, with faint arrows. Used in §1.

    >>> from matplotlib.figure import Figure
    >>> len(point_cloud(Figure().add_subplot(), torch.zeros(5, 2), torch.ones(5, 2)))
    2
    """
    ax = require_axes(ax)
    P = as_tensor(before, name="before")
    require_shape(P, (None, 2), name="before", meaning="(n_points, 2)")
    artists = [ax.scatter(P[:, 0], P[:, 1], s=12, color=BEFORE_COLOR, label="x")]
    if after is not None:
        Q = as_tensor(after, name="after")
        require_shape(Q, tuple(P.shape), name="after", meaning="(n_points, 2), like before")
        for p, q in zip(P.tolist(), Q.tolist(), strict=True):
            ax.annotate(
                "", xy=q, xytext=p, arrowprops={"arrowstyle": "->", "color": "0.8", "lw": 0.5}
            )
        artists.append(ax.scatter(Q[:, 0], Q[:, 1], s=12, color=AFTER_COLOR, label="A x + b"))
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="best", fontsize=8)
    return artists


# --- slider demo (§2) --------------------------------------------------------------------------

ENTRY_RANGE = (-2.0, 2.0)
SHIFT_RANGE = (-1.5, 1.5)
#: Fixed view so the axes do not jump while a slider moves.
VIEW = 4.0
TICKS = (-4, -2, 0, 2, 4)


def describe_affine(A: torch.Tensor, b: torch.Tensor) -> str:
    """One line on what ``x ↦ A x + b`` does to the unit square (the demo's readout).

    >>> describe_affine(torch.tensor([[0.0, -1.0], [1.0, 0.0]]), torch.zeros(2))
    'det A = +1.00: the unit square keeps area 1.00, orientation kept; origin moves to (0.00, 0.00)'
    >>> describe_affine(torch.tensor([[1.0, 2.0], [0.5, 1.0]]), torch.ones(2))[:52]
    'det A = +0.00: the plane collapses onto a line (A is'
    """
    det = float(torch.linalg.det(A))
    origin = f"origin moves to ({float(b[0]):.2f}, {float(b[1]):.2f})"
    if abs(det) < 1e-6:
        return f"det A = +0.00: the plane collapses onto a line (A is singular); {origin}"
    orientation = "orientation kept" if det > 0 else "orientation flipped (mirror image)"
    return f"det A = {det:+.2f}: the unit square keeps area {abs(det):.2f}, {orientation}; {origin}"


def draw_affine_grid(
    fig: Figure, a11: float, a12: float, a21: float, a22: float, b1: float, b2: float
) -> str:
    """Draw the plane before and after ``x ↦ A x + b`` on ``fig``; return the readout."""
    A = torch.tensor([[a11, a12], [a21, a22]], dtype=torch.float32)
    b = torch.tensor([b1, b2], dtype=torch.float32)
    ax = fig.add_subplot()
    affine_grid(ax, A, b, view=VIEW)
    ax.set_xticks(TICKS)
    ax.set_yticks(TICKS)
    ax.set_title(f"A = [[{a11:.1f}, {a12:.1f}], [{a21:.1f}, {a22:.1f}]],  b = ({b1:.1f}, {b2:.1f})")
    return describe_affine(A, b)


def build_demo(
    A: tuple[tuple[float, float], tuple[float, float]] = ((1.0, 0.5), (0.0, 1.0)),
    b: tuple[float, float] = (0.5, 0.0),
) -> SliderDemo:
    """Six sliders (``a11 … a22``, ``b1``, ``b2``) driving :func:`draw_affine_grid`. Used in §2."""
    (a11, a12), (a21, a22) = A
    entries = {"a11": a11, "a12": a12, "a21": a21, "a22": a22}
    controls = {name: float_slider(name, value, *ENTRY_RANGE) for name, value in entries.items()}
    for name, value in (("b1", b[0]), ("b2", b[1])):
        controls[name] = float_slider(name, value, *SHIFT_RANGE)
    return slider_demo(draw_affine_grid, controls, figsize=(5.5, 5.5))


# --- exercise checks (§6) ----------------------------------------------------------------------


def check_batch_affine(batch_affine: Callable[..., torch.Tensor]) -> None:
    """Check ``batch_affine(X, A, b)`` returns ``X Aᵀ + b`` (rows of ``X`` are samples).

    >>> check_batch_affine(lambda X, A, b: X @ A.T + b)
    ✓ batch_affine maps every row x to A x + b, for a non-square A too
    """
    generator = torch.Generator().manual_seed(1)
    X = torch.randn(5, 3, generator=generator)
    A = torch.randn(2, 3, generator=generator)
    b = torch.randn(2, generator=generator)
    Y = attempt("batch_affine", batch_affine, X, A, b)
    if Y is NOT_ATTEMPTED:
        return
    expect(isinstance(Y, torch.Tensor), f"expected a tensor, got {type(Y).__name__}")
    expect(
        tuple(Y.shape) == (5, 2),
        f"expected shape (5, 2) = (n_samples, d_out), got {tuple(Y.shape)}. "
        "Rows of X are samples, so each row of the result is one A x + b.",
    )
    expect(not torch.allclose(Y, X @ A.T), "you got X Aᵀ: the shift b is missing.")
    expect_tensor(
        Y,
        torch.stack([A @ x + b for x in X]),
        what="batch_affine(X, A, b)",
        hint="Each row x of X needs A x, and stacking the rows (A x)ᵀ = xᵀ Aᵀ gives X Aᵀ.",
    )
    passed("batch_affine maps every row x to A x + b, for a non-square A too")


def check_compose(compose: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Check ``compose(A1, b1, A2, b2)`` returns ``(A2 A1, A2 b1 + b2)``.

    >>> check_compose(lambda A1, b1, A2, b2: (A2 @ A1, A2 @ b1 + b2))
    ✓ compose gives the one affine map equal to "first (A1, b1), then (A2, b2)"
    """
    generator = torch.Generator().manual_seed(2)
    A1, A2 = torch.randn(3, 2, generator=generator), torch.randn(4, 3, generator=generator)
    b1, b2 = torch.randn(3, generator=generator), torch.randn(4, generator=generator)
    answer = attempt("compose", compose, A1, b1, A2, b2)
    if answer is NOT_ATTEMPTED:
        return
    expect(
        isinstance(answer, tuple) and len(answer) == 2,
        f"return a pair (A, b); got {type(answer).__name__}",
    )
    A, b = answer
    expect_tensor(
        A,
        A2 @ A1,
        what="composed A",
        hint="The first map acts first, so it sits on the right: A2 A1.",
    )
    expect(
        not (isinstance(b, torch.Tensor) and b.shape == b2.shape and torch.allclose(b, b2)),
        "composed b equals b2: b1 must pass through the second map too.",
    )
    expect_tensor(
        b,
        A2 @ b1 + b2,
        what="composed b",
        hint="Expand A2 (A1 x + b1) + b2: the shift b1 is multiplied by A2.",
    )
    passed('compose gives the one affine map equal to "first (A1, b1), then (A2, b2)"')


def check_rotation_90(A: torch.Tensor) -> None:
    """Check ``A`` rotates the plane by 90° counter-clockwise (``e₁ → e₂``, ``e₂ → −e₁``).

    >>> check_rotation_90(torch.tensor([[0.0, -1.0], [1.0, 0.0]]))
    ✓ A sends e₁ to e₂ and e₂ to −e₁: a quarter turn counter-clockwise (det A = 1)
    """
    answer = attempt("A_rotate", A)
    if answer is NOT_ATTEMPTED:
        return
    answer = torch.as_tensor(answer, dtype=torch.float32)
    expect(tuple(answer.shape) == (2, 2), f"expected a 2×2 matrix, got shape {tuple(answer.shape)}")
    quarter_turn = torch.tensor([[0.0, -1.0], [1.0, 0.0]])
    expect(
        not torch.allclose(answer, quarter_turn.T),
        "that turns clockwise: A e₁ should be e₂ = (0, 1), not (0, −1).",
    )
    expect_tensor(
        answer,
        quarter_turn,
        what="A_rotate",
        hint="The columns of A are where e₁ and e₂ land: column 1 = (0, 1), column 2 = (−1, 0).",
    )
    passed("A sends e₁ to e₂ and e₂ to −e₁: a quarter turn counter-clockwise (det A = 1)")
