"""Notebook 01, affine maps ``y = A x + b``: apply, compose, lift to homogeneous form, draw.

Conventions match ``nn.Linear`` and the series' index convention (01 §4): ``A`` (or ``W``) is
``(d_out, d_in)``, entry ``(i, j)`` weighs input ``j`` into output ``i``, samples are the rows of
``X``, and a batch is mapped as ``Y = X Aᵀ + b``. §1: :func:`affine_map`, :func:`point_cloud`;
§2: :func:`signed_area`, :func:`affine_grid`, :func:`build_demo`; §6 (exercises): the ``check_*``
functions. The formulas of §3-§5 are written out in the notebook's own cells.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from utils import tr
from utils._validate import as_tensor, require_axes, require_shape
from utils.check import NOT_ATTEMPTED, attempt, expect, expect_tensor, passed, without
from utils.plot import AFTER_COLOR, BEFORE_COLOR
from utils.widgets import SliderDemo, float_slider, slider_demo

#: Constants holding English templates for :func:`utils.tr` (``scripts/messages.py`` reads them).
MESSAGES = ("HINTS",)

# --- compute -----------------------------------------------------------------------------------


def affine_map(X: object, A: object, b: object) -> torch.Tensor:
    """Map every row ``x`` of ``X`` to ``A x + b``, i.e. return ``X Aᵀ + b``. Used in §1-§2.

    >>> affine_map(torch.tensor([[1.0, 2.0]]), torch.eye(2), torch.tensor([10.0, 20.0]))
    tensor([[11., 22.]])
    """
    X_t, A_t, b_t = (as_tensor(value, name=name) for value, name in ((X, "X"), (A, "A"), (b, "b")))
    require_shape(A_t, (None, None), name="A", meaning="(d_out, d_in)")
    require_shape(b_t, (A_t.shape[0],), name="b", meaning="(d_out,)")
    require_shape(X_t, (None, A_t.shape[1]), name="X", meaning="(n_samples, d_in)")
    return X_t @ A_t.T + b_t


def unit_square() -> torch.Tensor:
    """Corners of the unit square, counter-clockwise, as rows: shape ``(4, 2)``. Used in §2."""
    return torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])


def signed_area(polygon: object) -> float:
    """Signed area of a polygon's ``(k, 2)`` corners: positive counter-clockwise. Used in §2.

    >>> signed_area(unit_square()), signed_area(unit_square().flip(0))
    (1.0, -1.0)
    """
    P = as_tensor(polygon, name="polygon")
    require_shape(P, (None, 2), name="polygon", meaning="(n_corners, 2)")
    x, y = P[:, 0], P[:, 1]
    return float(0.5 * (x * y.roll(-1) - x.roll(-1) * y).sum())


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
    ax.set(xlim=(-reach, reach), ylim=(-reach, reach), aspect="equal", xlabel="x₁", ylabel="x₂")
    if legend:
        ax.legend(loc="upper left", fontsize=8)
    return artists


def point_cloud(ax: Axes, before: object, after: object) -> list[object]:
    """Scatter 2-D points and where a map sent them, joined by faint arrows. Used in §1.

    >>> from matplotlib.figure import Figure
    >>> len(point_cloud(Figure().add_subplot(), torch.zeros(5, 2), torch.ones(5, 2)))
    3
    """
    ax = require_axes(ax)
    P, Q = as_tensor(before, name="before"), as_tensor(after, name="after")
    require_shape(P, (None, 2), name="before", meaning="(n_points, 2)")
    require_shape(Q, tuple(P.shape), name="after", meaning="(n_points, 2), like before")
    (dx, dy), style = (Q - P).T, {"angles": "xy", "scale_units": "xy", "scale": 1}
    arrows = ax.quiver(P[:, 0], P[:, 1], dx, dy, color="0.75", width=0.004, headwidth=4, **style)
    before_dots = ax.scatter(P[:, 0], P[:, 1], s=12, color=BEFORE_COLOR, label="x")
    after_dots = ax.scatter(Q[:, 0], Q[:, 1], s=12, color=AFTER_COLOR, label="A x + b")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="best", fontsize=8)
    return [arrows, before_dots, after_dots]


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
    """
    det = float(torch.linalg.det(A))
    orientation = tr("orientation kept") if det > 0 else tr("orientation flipped (mirror image)")
    area = tr(
        "the unit square keeps area {area:.2f}, {orientation}",
        area=abs(det),
        orientation=orientation,
    )
    if abs(det) < 1e-6:
        det, area = 0.0, tr("the plane collapses onto a line (A is singular)")
    origin = tr("origin moves to ({b1:.2f}, {b2:.2f})", b1=float(b[0]), b2=float(b[1]))
    return tr("det A = {det:+.2f}: {area}; {origin}", det=det, area=area, origin=origin)


def draw_affine_grid(
    fig: Figure, a11: float, a12: float, a21: float, a22: float, b1: float, b2: float
) -> str:
    """Draw the plane before and after ``x ↦ A x + b`` on ``fig``; return the readout."""
    A = torch.tensor([[a11, a12], [a21, a22]], dtype=torch.float32)
    b = torch.tensor([b1, b2], dtype=torch.float32)
    ax = fig.add_subplot()
    affine_grid(ax, A, b, view=VIEW)
    title = f"A = [[{a11:.1f}, {a12:.1f}], [{a21:.1f}, {a22:.1f}]],  b = ({b1:.1f}, {b2:.1f})"
    ax.set(xticks=TICKS, yticks=TICKS, title=title)
    return describe_affine(A, b)


def build_demo() -> SliderDemo:
    """Six sliders (``a11 … a22``, ``b1``, ``b2``) driving :func:`draw_affine_grid`. Used in §2."""
    entries = {"a11": 1.0, "a12": 0.5, "a21": 0.0, "a22": 1.0}
    controls = {name: float_slider(name, value, *ENTRY_RANGE) for name, value in entries.items()}
    controls |= {
        name: float_slider(name, v, *SHIFT_RANGE) for name, v in (("b1", 0.5), ("b2", 0.0))
    }
    return slider_demo(draw_affine_grid, controls, figsize=(5.5, 5.5))


# --- exercise checks (§6) ----------------------------------------------------------------------

#: The hints the checks give, one per typical mistake (English templates for ``tr``).
HINTS = {
    "Y.T": "you wrote Yᵀ, one row per output; row k of Y is sample k: Y = X Wᵀ + b.",
    "W X.T": "that is W Xᵀ + b; row k of Y must be sample k mapped: x_k Wᵀ + b.",
    "no b": "the bias is missing: add b to every row.",
    "b per sample": "b was added per sample; b_i belongs to output i, so it goes to column i.",
    "entries": "{entries} off: Y[k, i] = Σ_j X[k, j]·W[i, j] + b[i] (row k of X · row i of W).",
    "raised": "apply_layer raised {kind}: {error} (X {x}, W {w}); {hint}",
    "any shape": "it must work for every X of shape (*, d_in): one sample, a batch, more dims.",
    "clash": "the inner sizes clash; W is (d_out, d_in), so X's last axis meets W's d_in: X @ Wᵀ.",
    "X W": "{what}: X W + b runs for a square W but uses W transposed; Y = X Wᵀ + b needs W.T.",
    "empty": "{what}: an empty batch (0, d_in) must give shape (0, d_out), got {got}.",
    "reshape": "{what}: W.reshape(d_in, d_out) refills rows in memory order; it is not Wᵀ (W.T).",
    "dtype": "{what}: a {want} input must give a {want} output, got {got}.",
    "images": "the columns of A are images of e₁, e₂: use differences, g(p₂) − g(p₁) = A(p₂ − p₁).",
    "twice": "p₃ − p₁ = (0, 2) = 2·e₂, so g(p₃) − g(p₁) is twice column 2 of A: halve it.",
    "columns": "A_derived = {got} misses a point; solve g(p) − g(p₁) = A(p − p₁) for p₂ and p₃.",
    "b": "b_derived = {got} misses a point: b = g(p₁) − A p₁.",
    "g(p1)": "b is where the origin goes, g(0) = b, not g(p₁): b = g(p₁) − A p₁.",
    "-b sign": "b has the wrong sign: g(p₁) = A p₁ + b, so b = g(p₁) − A p₁.",
}


def _answer_tensor(value: object, what: str) -> torch.Tensor:
    """A learner's matrix or vector in any form (tensor, nested list, NumPy array), as float64."""
    try:
        return as_tensor(value, name=what).to(torch.float64)
    except TypeError:
        hint = tr(
            "{what}: expected a tensor or a nested list of numbers, got {got}.",
            what=what,
            got=type(value).__name__,
        )
        raise AssertionError(hint) from None


def _reject(answer: torch.Tensor, slips: list[tuple[torch.Tensor, str]]) -> None:
    for wrong, key in slips:
        expect(not torch.equal(answer, wrong), tr(HINTS[key]))


#: Exercise 1.1: a batch small enough to map by hand. Rows of X are samples (n = 2, d_in = 3).
PREDICT_X = ((3.0, 1.0, 2.0), (0.0, 2.0, 1.0))
PREDICT_W = ((1.0, 0.0, -1.0), (2.0, 1.0, 0.0))
PREDICT_B = (1.0, -1.0)


def check_predicted_batch(Y_predicted: object) -> None:
    """Check a hand-computed ``Y = X Wᵀ + b`` for :data:`PREDICT_X`, ``_W`` and ``_B``.

    >>> check_predicted_batch([[2, 6], [0, 1]])
    ✓ Y = X Wᵀ + b: row k is sample k, column i is output i
    """
    if (answer := attempt("Y_predicted", Y_predicted)) is NOT_ATTEMPTED:
        return
    Y = _answer_tensor(answer, "Y_predicted")
    X, W, b = (torch.tensor(v, dtype=torch.float64) for v in (PREDICT_X, PREDICT_W, PREDICT_B))
    shape_hint = tr(
        "Y_predicted: expected shape (2, 2), (n samples, d_out outputs); got {shape}.",
        shape=tuple(Y.shape),
    )
    expect(tuple(Y.shape) == (2, 2), shape_hint)
    Y_true = X @ W.T + b
    wrong = [(Y_true.T, "Y.T"), (W @ X.T + b, "W X.T"), (X @ W.T, "no b")]
    _reject(Y, [*wrong, (X @ W.T + b[:, None], "b per sample")])
    off = [f"Y[{k}, {i}]" for k in range(2) for i in range(2) if Y[k, i] != Y_true[k, i]]
    expect(not off, tr(HINTS["entries"], entries=", ".join(off)))
    passed(tr("Y = X Wᵀ + b: row k is sample k, column i is output i"))


#: Exercise 1.2: (input shape, d_out): non-square, square, 1-D, 3-D, 4-D, empty; the last in f64.
LAYER_CASES = (((5, 3), 4), ((3, 3), 3), ((3,), 2), ((2, 5, 3), 2), ((2, 3, 2, 4), 5), ((0, 3), 4))
LAYER_CASES = (*LAYER_CASES, ((4, 2), 3))


def _apply(apply_layer: Callable[..., object], X: torch.Tensor, W: torch.Tensor, b: torch.Tensor):
    """The learner's ``apply_layer(X, W, b)``, with ``F.linear`` ruled out and errors as hints."""
    rule = tr("write the formula with @, .T and + yourself")
    try:
        return without((F.linear,), attempt, "apply_layer", apply_layer, X, W, b, hint=rule)
    except AssertionError:
        raise
    except Exception as error:  # the learner's code failed: say why, in the check's words
        hint = tr(HINTS["clash" if "cannot be multiplied" in str(error) else "any shape"])
        kind, x, w = type(error).__name__, tuple(X.shape), tuple(W.shape)
        message = tr(HINTS["raised"], kind=kind, error=error, x=x, w=w, hint=hint)
        raise AssertionError(message) from None


def check_apply_layer(apply_layer: Callable[..., torch.Tensor]) -> None:
    """Check ``apply_layer(X, W, b)`` computes ``nn.Linear``'s ``X Wᵀ + b`` without ``F.linear``.

    >>> check_apply_layer(lambda X, W, b: X @ W.T + b)
    ✓ apply_layer matches nn.Linear on 1-D to 4-D inputs, an empty batch and float64
    """
    generator = torch.Generator().manual_seed(10)
    for case, (shape, d_out) in enumerate(LAYER_CASES):
        dtype = torch.float64 if case == len(LAYER_CASES) - 1 else torch.float32
        X = torch.randn(shape, generator=generator, dtype=dtype)
        W = torch.randn(d_out, shape[-1], generator=generator, dtype=dtype)
        b = torch.randn(d_out, generator=generator, dtype=dtype)
        if (Y := _apply(apply_layer, X, W, b)) is NOT_ATTEMPTED:
            return
        Y_true, what = X @ W.T + b, tr("X {x}, W {w}", x=shape, w=tuple(W.shape))
        if isinstance(Y, torch.Tensor) and Y.shape == Y_true.shape and X.numel():
            expect(Y.dtype == dtype, tr(HINTS["dtype"], what=what, want=dtype, got=Y.dtype))
            square = W.shape[0] == W.shape[1]
            expect(not (square and torch.allclose(Y, X @ W + b)), tr(HINTS["X W"], what=what))
            expect(not torch.allclose(Y, X @ W.T), tr(HINTS["no b"]))
            reshaped = X @ W.reshape(W.shape[1], W.shape[0]) + b
            expect(square or not torch.allclose(Y, reshaped), tr(HINTS["reshape"], what=what))
        if Y_true.numel() == 0:  # expect_tensor's message takes a max, which empty tensors lack
            got = tuple(Y.shape) if isinstance(Y, torch.Tensor) else type(Y).__name__
            expect(got == tuple(Y_true.shape), tr(HINTS["empty"], what=what, got=got))
        else:
            expect_tensor(Y, Y_true, what=what, hint=tr("Each sample x gives x Wᵀ + b."))
    passed(tr("apply_layer matches nn.Linear on 1-D to 4-D inputs, an empty batch and float64"))


#: Exercise 1.3: three points and where the map sends them (a mirror, then a shift).
DERIVE_POINTS = ((1.0, 1.0), (2.0, 1.0), (1.0, 3.0))
DERIVE_IMAGES = ((4.0, 0.0), (4.0, 1.0), (6.0, 0.0))


def check_derived_map(A_derived: object, b_derived: object) -> None:
    """Check ``(A, b)`` sends :data:`DERIVE_POINTS` to :data:`DERIVE_IMAGES`.

    >>> check_derived_map([[0, 1], [1, 0]], [3, -1])
    ✓ A mirrors the plane in the line x₂ = x₁ (det A = −1), then b shifts it
    """
    A_answer = attempt("A_derived", A_derived)
    if A_answer is NOT_ATTEMPTED or (b_answer := attempt("b_derived", b_derived)) is NOT_ATTEMPTED:
        return
    A, b = _answer_tensor(A_answer, "A_derived"), _answer_tensor(b_answer, "b_derived")
    expect(A.shape == (2, 2), tr("A_derived: expected a 2×2 matrix, got {s}.", s=tuple(A.shape)))
    expect(b.numel() == 2, tr("b_derived: expected 2 numbers, got {s}.", s=tuple(b.shape)))
    b = b.reshape(2)  # a column (2, 1) is fine too
    (p1, p2, p3), (g1, g2, g3) = (torch.tensor(v).double() for v in (DERIVE_POINTS, DERIVE_IMAGES))
    by_point, doubled = torch.stack([g2, g3], dim=1), torch.stack([g2 - g1, g3 - g1])
    _reject(A, [(by_point, "images"), (doubled, "twice"), (doubled.T, "twice")])
    steps, images = torch.stack([p2 - p1, p3 - p1], dim=1), torch.stack([g2 - g1, g3 - g1], dim=1)
    A_true = images @ torch.linalg.inv(steps)  # A (p - p₁) = g(p) - g(p₁), for p = p₂ and p₃
    expect(torch.allclose(A, A_true), tr(HINTS["columns"], got=A.tolist()))
    _reject(b, [(g1, "g(p1)"), (A @ p1 - g1, "-b sign")])
    expect(torch.allclose(b, g1 - A @ p1), tr(HINTS["b"], got=tuple(b.tolist())))
    passed(tr("A mirrors the plane in the line x₂ = x₁ (det A = −1), then b shifts it"))
