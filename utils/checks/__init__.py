"""Exercise self-checks: one module per notebook topic, built on a few shared rules.

A check prints ``✓ …`` when the answer is right, prints a gentle "not attempted yet" note when
the exercise still raises ``NotImplementedError`` (or the answer is ``...``), and raises an
``AssertionError`` with a hint when the answer is wrong. So "Run All" never stops on an
untouched exercise, yet a wrong answer is loud.
"""

from utils.check import (
    NOT_ATTEMPTED,
    NOT_ATTEMPTED_MARK,
    PASS_MARK,
    attempt,
    expect,
    expect_tensor,
    passed,
)

__all__ = [
    "NOT_ATTEMPTED",
    "NOT_ATTEMPTED_MARK",
    "PASS_MARK",
    "attempt",
    "expect",
    "expect_tensor",
    "passed",
]
