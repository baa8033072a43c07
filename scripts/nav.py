"""Regenerate the navigation cells of every notebook (``make nav``).

Usage: python -m scripts.nav [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scripts.series import stale_nav, write_nav

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale navigation")
    args = parser.parse_args()
    if args.check:
        stale = stale_nav(NOTEBOOKS)
        for path in stale:
            print(f"stale navigation: {path.name} (run `make nav`)")
        return 1 if stale else 0
    for path in write_nav(NOTEBOOKS):
        print(f"updated navigation: {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
