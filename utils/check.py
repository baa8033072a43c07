"""The rules every exercise self-check follows.

A check prints ``✓ …`` when the answer is right, prints a gentle "not attempted yet" note when
the exercise still raises ``NotImplementedError`` (or the answer is ``...``), and raises an
``AssertionError`` whose message is a hint naming the mistake when the answer is wrong. So
"Run All" never stops on an untouched exercise, yet a wrong answer is loud. Each notebook's
``check_*`` functions live in its own module (``utils.nbNN_*``) and are built from these.
"""

from __future__ import annotations

from typing import Any

import torch

from utils import tr

PASS_MARK = "✓"
NOT_ATTEMPTED_MARK = "… not attempted yet"
#: Constants holding English templates for :func:`utils.tr` (``scripts/messages.py`` reads them).
MESSAGES = ("NOT_ATTEMPTED_MARK",)


class _NotAttempted:
    """Sentinel for an exercise that has not been filled in."""

    def __repr__(self) -> str:
        return "NOT_ATTEMPTED"


NOT_ATTEMPTED = _NotAttempted()


def attempt(exercise: str, answer: Any, *args: Any) -> Any:
    """Call ``answer(*args)`` (or take ``answer`` as a value); ``NOT_ATTEMPTED`` if still a stub.

    A stub is a function that raises ``NotImplementedError`` or a value left as ``...``.
    For a stub, print where to fill in and return the sentinel.

    >>> attempt("ex 1", lambda x: 2 * x, 3)
    6
    >>> attempt("ex 1", ...)
    … not attempted yet: fill in ex 1 above, then run this cell again.
    NOT_ATTEMPTED
    """

    def not_attempted() -> _NotAttempted:
        mark = tr(NOT_ATTEMPTED_MARK)
        print(
            tr(
                "{mark}: fill in {exercise} above, then run this cell again.",
                mark=mark,
                exercise=exercise,
            )
        )
        return NOT_ATTEMPTED

    if answer is Ellipsis:
        return not_attempted()
    if not callable(answer):
        if args:
            kind = type(answer).__name__
            raise TypeError(
                tr("{exercise} should be a function; got {kind}", exercise=exercise, kind=kind)
            )
        return answer
    try:
        result = answer(*args)
    except NotImplementedError:
        return not_attempted()
    if result is Ellipsis:
        return not_attempted()
    return result


def expect(condition: bool, message: str) -> None:
    """Raise ``AssertionError(message)`` unless ``condition``: the message is the learner's hint.

    >>> expect(True, "never shown")
    >>> expect(1 + 1 == 3, "expected 2")
    Traceback (most recent call last):
    ...
    AssertionError: expected 2
    """
    if not condition:
        raise AssertionError(message)


def expect_tensor(got: Any, expected: torch.Tensor, *, what: str, hint: str = "") -> None:
    """Check type, shape and values of a tensor answer, naming expected vs got on failure.

    >>> expect_tensor(torch.ones(2), torch.ones(2), what="y")
    >>> expect_tensor(torch.ones(3), torch.ones(2), what="y")
    Traceback (most recent call last):
    ...
    AssertionError: y: expected shape (2,), got shape (3,).
    """
    expect(
        isinstance(got, torch.Tensor),
        tr(
            "{what}: expected a torch.Tensor, got {kind}. {hint}",
            what=what,
            kind=type(got).__name__,
            hint=hint,
        ).strip(),
    )
    expect(
        tuple(got.shape) == tuple(expected.shape),
        tr(
            "{what}: expected shape {want}, got shape {got}. {hint}",
            what=what,
            want=tuple(expected.shape),
            got=tuple(got.shape),
            hint=hint,
        ).strip(),
    )
    got = got.to(expected.dtype)
    if not torch.allclose(got, expected, rtol=1e-4, atol=1e-5):  # never true for empty tensors
        gap = float((got - expected).abs().max())
        expect(
            False,
            tr(
                "{what}: the values are off (largest difference {gap:.3g}). {hint}",
                what=what,
                gap=gap,
                hint=hint,
            ).strip(),
        )


def _close(got: Any, want: torch.Tensor) -> bool:
    same_shape = isinstance(got, torch.Tensor) and got.shape == want.shape
    return same_shape and torch.allclose(got.detach().to(want.dtype), want, rtol=1e-4, atol=1e-5)


def judge(got: Any, want: torch.Tensor, wrong: list, *, what: str, hint: str = "") -> None:
    """Name the mistake if ``got`` equals a known wrong answer, else compare values and dtype.

    ``wrong`` lists ``(hint, value)`` pairs: what a typical mistake returns for this case, and
    the hint that names it, already in the learner's language (``tr(HINT)``); ``None`` values,
    or ones equal to ``want`` here, are skipped.

    >>> want = torch.tensor([1.0, 2.0])
    >>> judge(want.clone(), want, [("you forgot the bias", torch.tensor([0.0, 1.0]))], what="y")
    >>> judge(torch.tensor([0.0, 1.0]), want, [("you forgot the bias", torch.tensor([0.0, 1.0]))],
    ...       what="y")
    Traceback (most recent call last):
    ...
    AssertionError: y: you forgot the bias
    """
    for mistake, value in wrong:
        if value is not None and not _close(value, want):
            expect(not _close(got, value), tr("{what}: {hint}", what=what, hint=mistake))
    got = got.detach() if isinstance(got, torch.Tensor) else got
    expect_tensor(got, want, what=what, hint=hint)
    message = tr("{what}: expected {want}, got {got}.", what=what, want=want.dtype, got=got.dtype)
    expect(got.dtype == want.dtype, message)


def passed(message: str) -> None:
    """Print the success line.

    >>> passed("batch_affine matches the loop")
    ✓ batch_affine matches the loop
    """
    print(f"{PASS_MARK} {message}")


def as_number(value: Any, *, what: str, hint: str = "") -> float:
    """Accept every form a number takes (``int``, ``float``, 0-d tensor, NumPy scalar) as ``float``.

    Anything else (a list, a 1-element tensor of shape ``(1,)``, a string) fails with a hint.

    >>> import numpy as np
    >>> [as_number(v, what="bound") for v in (0.5, torch.tensor(0.5), np.float32(0.5), 1)]
    [0.5, 0.5, 0.5, 1.0]
    >>> as_number(torch.tensor([0.5]), what="bound")
    Traceback (most recent call last):
    ...
    AssertionError: bound: expected one number, got a tensor of shape (1,).
    """
    if isinstance(value, torch.Tensor):
        message = tr(
            "{what}: expected one number, got a tensor of shape {shape}. {hint}",
            what=what,
            shape=tuple(value.shape),
            hint=hint,
        )
        expect(value.ndim == 0, message.strip())
        return float(value.detach())
    kind = type(value).__name__
    message = tr("{what}: expected a number, got {kind}. {hint}", what=what, kind=kind, hint=hint)
    expect(not isinstance(value, bool | str) and hasattr(value, "__float__"), message.strip())
    return float(value)


class _CallRecorder(torch.overrides.TorchFunctionMode):
    """Record which of ``functions`` are called inside the block (any tensor code path)."""

    def __init__(self, functions: tuple[Any, ...]) -> None:
        super().__init__()
        self.functions, self.called = functions, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in self.functions:
            self.called.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def without(functions: tuple[Any, ...], call: Any, *args: Any, hint: str) -> Any:
    """Run ``call(*args)``; fail with ``hint`` if it used any of the forbidden torch ``functions``.

    For exercises such as "write ``F.linear`` without ``F.linear``": a
    ``torch.overrides.TorchFunctionMode`` sees every torch function call, however it is spelled.

    >>> import torch.nn.functional as F
    >>> x, W = torch.ones(2, 3), torch.ones(4, 3)
    >>> without((F.linear,), lambda x, W: x @ W.T, x, W, hint="no F.linear").shape
    torch.Size([2, 4])
    >>> without((F.linear,), F.linear, x, W, hint="no F.linear")
    Traceback (most recent call last):
    ...
    AssertionError: you called linear, which this exercise rules out: no F.linear
    """
    recorder = _CallRecorder(tuple(functions))
    with recorder:
        result = call(*args)
    if recorder.called:
        names = ", ".join(sorted(set(recorder.called)))
        expect(
            False,
            tr("you called {names}, which this exercise rules out: {hint}", names=names, hint=hint),
        )
    return result
