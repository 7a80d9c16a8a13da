"""Q1 end to end through lib, with no notebook kernel and no network: parse, the three answers,
offline country attribution. Prints the answers as JSON.

    python bench/q1.py LOG [LOG ...] [--workers N] [--engine auto|local|dask]

LOG may be a file or a glob; several are read as one input.
"""

from __future__ import annotations

import argparse
import json
import sys

from lib.config import project_path
from lib.errors import ProjectError
from lib.exit import leave
from lib.logs.engines import open_engine
from lib.logs.engines.engine import ENGINES
from lib.logs.engines.plan import make_plan
from lib.logs.settings import load_settings
from lib.logs.window import DEFAULT_WINDOW, Window


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", nargs="+")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--engine", choices=ENGINES, default="auto")
    args = parser.parse_args()
    engine = None
    try:
        settings = load_settings()
        logs = args.log[0] if len(args.log) == 1 else args.log
        scheduler = settings.dask_scheduler_address
        plan = make_plan(logs, args.engine, scheduler, args.workers)
        engine = open_engine(plan, Window.parse(*DEFAULT_WINDOW))
        if settings.head_start:
            engine.start()  # the local engine reads and counts while polars loads
        from lib.logs.q1 import answer_q1, answers  # loads polars

        result = answer_q1(engine, use_dns=False, geo_cache=project_path(settings.geo_cache))
    except ProjectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if engine is not None:
            engine.close()
    data = answers(result)
    json.dump(
        {
            "total_requests": data["total_requests"],
            "rejected_lines": data["rejected_lines"],
            "top_hosts": [[h["host"], h["requests"]] for h in data["top_hosts"]],
            "top_country": data["top_country"],
            "coverage": round(data["coverage"], 4),
            # what only some formats log, and how the lines were read
            "requests_per_format": data["requests_per_format"],
            "top_referrer": _first(data["top_referrers"], "referer"),
            "top_user_agent": _first(data["top_user_agents"], "user_agent"),
            "engine": result.engine.engine,  # the one `auto` took
        },
        sys.stdout,
    )
    print()
    return 0


def _first(rows: list[dict], key: str) -> str | None:
    """``key`` of the first row, None when there is none (a format that does not log it)."""
    return rows[0][key] if rows else None


if __name__ == "__main__":
    leave(main())
