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

PASS_MARK = "✓"
NOT_ATTEMPTED_MARK = "… not attempted yet"


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
        print(f"{NOT_ATTEMPTED_MARK}: fill in {exercise} above, then run this cell again.")
        return NOT_ATTEMPTED

    if answer is Ellipsis:
        return not_attempted()
    if not callable(answer):
        if args:
            raise TypeError(f"{exercise} should be a function; got {type(answer).__name__}")
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
        f"{what}: expected a torch.Tensor, got {type(got).__name__}. {hint}".strip(),
    )
    expect(
        tuple(got.shape) == tuple(expected.shape),
        f"{what}: expected shape {tuple(expected.shape)}, got shape {tuple(got.shape)}. "
        f"{hint}".strip(),
    )
    close = torch.allclose(got.to(expected.dtype), expected, rtol=1e-4, atol=1e-5)
    expect(
        close,
        f"{what}: the values are off (largest difference "
        f"{float((got.to(expected.dtype) - expected).abs().max()):.3g}). {hint}".strip(),
    )


def passed(message: str) -> None:
    """Print the success line.

    >>> passed("batch_affine matches the loop")
    ✓ batch_affine matches the loop
    """
    print(f"{PASS_MARK} {message}")
