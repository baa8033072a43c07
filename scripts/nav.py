"""Regenerate the navigation cells of every notebook (``make nav``).

Usage: python -m scripts.nav [--check]
"""

from __future__ import annotations

import argparse
import sys

from scripts.series import EDITIONS, stale_nav, write_nav


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale navigation")
    args = parser.parse_args()
    if args.check:
        stale = [p for f in EDITIONS.values() if f.is_dir() for p in stale_nav(f)]
        for path in stale:
            print(f"stale navigation: {path} (run `make nav`)")
        return 1 if stale else 0
    for folder in EDITIONS.values():
        if folder.is_dir():
            for path in write_nav(folder):
                print(f"updated navigation: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
