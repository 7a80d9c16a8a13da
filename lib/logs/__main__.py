"""Q1 on the command line: the three answers for any access log, no notebook needed.

    python -m lib.logs LOG [LOG ...] [--format auto] [--window-start T --window-end T]
                       [--top-n 10] [--early-stopping 50] [--no-dns] [--engine auto]
                       [--max-rejected 0.05] [--output-dir DIR]
                       [--client remote|forwarded|real_ip] [--trusted-proxies CIDR,...]

LOG is a file or a glob, plain or compressed (gzip, bzip2, xz, zstd: told by content), in UTF-8,
UTF-16 or UTF-32; relative paths are taken from the working directory. ``-`` reads standard
input (``zcat a.gz | python -m lib.logs -``; ``<stdin>`` in the answers), and a named pipe or a
process substitution (``<(zcat a.gz)``) is read as a stream, any compression too (by the local
engine). Settings (``DNS_CACHE``, ``GEO_CACHE``, ``DASK_SCHEDULER_ADDRESS``) come from the
environment. Prints the answers; with ``--output-dir`` also writes ``results.json`` there. Exits 1
with one line on stderr when the run cannot do its job (no such file, a format it cannot read,
too many rejected lines), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import logging
import sys

from lib.config import project_path
from lib.errors import ProjectError
from lib.exit import leave
from lib.logs.engines import open_engine
from lib.logs.engines.engine import ENGINES
from lib.logs.engines.plan import make_plan
from lib.logs.outcome import MAX_REJECTED, clear_results
from lib.logs.parsing.clients import CLIENTS, client_rule
from lib.logs.parsing.formats import AUTO
from lib.logs.settings import load_settings
from lib.logs.window import DEFAULT_WINDOW, Window


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return value


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="python -m lib.logs", description=__doc__.splitlines()[0])
    cli.add_argument(
        "log",
        nargs="+",
        help="log files or globs, plain or compressed (told by content), UTF-8 or UTF-16; "
        "- for standard input (once), named pipes and <(...) too: the local engine reads them",
    )
    cli.add_argument(
        "--format",
        default=AUTO,
        help="auto (detected per file), a registered format (combined, aws_alb, w3c, nginx_json, "
        "...: docs/q1.md lists them), an Apache LogFormat / nginx log_format string, "
        "json:client=PATH,time=PATH,... for JSON lines, any of them but w3c and cloudfront "
        "after syslog+, docker+ or cri+ for lines inside those",
    )
    cli.add_argument("--window-start", default=DEFAULT_WINDOW[0], help="ISO 8601 with offset")
    cli.add_argument("--window-end", default=DEFAULT_WINDOW[1], help="ISO 8601, exclusive")
    cli.add_argument("--top-n", type=int, default=10)
    cli.add_argument("--early-stopping", type=int, default=50, help="hosts to resolve by DNS")
    cli.add_argument("--no-dns", action="store_true", help="offline attribution only")
    cli.add_argument("--engine", choices=ENGINES, default="auto")
    cli.add_argument(
        "--client",
        choices=CLIENTS,
        default="remote",
        help="who a request's client is: the address the server logged (remote), the first "
        "untrusted address of X-Forwarded-For (forwarded), or X-Real-IP and the like (real_ip)",
    )
    cli.add_argument(
        "--trusted-proxies",
        help="with --client forwarded: the proxies' networks, comma-separated (default: private, "
        "loopback, link-local and shared address space)",
    )
    cli.add_argument(
        "--max-rejected",
        type=_share,
        default=MAX_REJECTED,
        help="the share of lines that may be rejected before the run fails",
    )
    cli.add_argument(
        "--output-dir", help="also write results.json here (an earlier run's is removed first)"
    )
    return cli


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    engine = None
    try:
        if args.output_dir:
            clear_results(args.output_dir)  # a run that fails leaves no answers there
        settings = load_settings()
        window = Window.parse(args.window_start, args.window_end)
        plan = make_plan(
            args.log[0] if len(args.log) == 1 else args.log,
            args.engine,
            settings.dask_scheduler_address,
            log_format=args.format,
            client=client_rule(args.client, args.trusted_proxies),
            stdin=sys.stdin.buffer if sys.stdin else None,  # read only if a LOG is -
        )
        engine = open_engine(plan, window)
        if settings.head_start:
            engine.start()  # the local engine reads and counts while polars loads
        from lib.logs.q1 import answer_q1, answers, headline, write_results  # loads polars

        result = answer_q1(
            engine,
            top_n=args.top_n,
            early_stopping=args.early_stopping,
            use_dns=not args.no_dns,
            dns_cache=project_path(settings.dns_cache),
            geo_cache=project_path(settings.geo_cache),
            max_rejected=args.max_rejected,
        )
        if args.output_dir:
            write_results(result, args.output_dir)
    except (ProjectError, OSError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    finally:
        if engine is not None:
            engine.close()  # a run that failed before it took the engine
    print(headline(answers(result)))
    return 0


if __name__ == "__main__":
    leave(main())
