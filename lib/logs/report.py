"""Print the Q1 answers from a ``results.json``:
``python -m lib.logs.report out/q1/results.json``."""

from __future__ import annotations

import json
import sys

from lib.logs.q1 import headline


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m lib.logs.report RESULTS_JSON", file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {args[0]}: {exc}", file=sys.stderr)
        return 1
    print(headline(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
