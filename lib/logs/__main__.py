"""Q1 on the command line: the three answers for any access log, no notebook needed.

    python -m lib.logs LOG [LOG ...] [--format auto] [--window-start T] [--window-end T]
                       [--top-n 10] [--early-stopping 50] [--no-dns] [--engine auto]
                       [--max-rejected 0.05] [--output-dir DIR] [--json]
                       [--client remote|forwarded|real_ip] [--trusted-proxies CIDR,...]

LOG is a file or a glob, plain or compressed (gzip, bzip2, xz, zstd: told by content), in UTF-8,
UTF-16 or UTF-32; relative paths are taken from the working directory. ``-`` reads standard
input (``zcat a.gz | python -m lib.logs -``; ``<stdin>`` in the answers), and a named pipe or a
process substitution (``<(zcat a.gz)``) is read as a stream, any compression too (by the local
engine). Settings (``DNS_CACHE``, ``GEO_CACHE``, ``DASK_SCHEDULER_ADDRESS``) come from the
environment. Prints the answers (``--json``: the whole result as JSON, as
``docs/q1-results.schema.json`` describes it); with ``--output-dir`` also writes ``results.json``
there. Exits 0 having answered; 1 with one line on stderr when the run cannot do its job (no such
file, a format it cannot read); 2 on a usage error, before any log is read; 3 when more lines
were rejected than ``--max-rejected`` allows.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace

from lib.config import project_path
from lib.errors import ConfigError, ProjectError
from lib.exit import leave
from lib.logs.engines import open_engine
from lib.logs.engines.engine import ENGINES
from lib.logs.engines.plan import make_plan
from lib.logs.errors import TooManyRejected
from lib.logs.filters import check_fields, request_filter
from lib.logs.outcome import (
    EXIT_ANSWERED,
    EXIT_FAILED,
    EXIT_TOO_MANY_REJECTED,
    EXIT_USAGE,
    MAX_REJECTED,
    clear_results,
)
from lib.logs.parsing.clients import CLIENTS, client_rule
from lib.logs.parsing.formats import AUTO, log_format
from lib.logs.settings import load_settings
from lib.logs.window import Window, choose_window

CLI_WINDOW = ("--window-start", "--window-end")  # the window's ends, as this command names them


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (``error: ...``), exit 2, before any log is read."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"error: {' '.join(message.split())} (--help for the options)\n")


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.1 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"must be between 0.1 and 86400, not {value}")
    return value


def _at_least(low: int):
    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
        return value

    whole.__name__ = f"whole number >= {low}"
    return whole


def parser() -> argparse.ArgumentParser:
    cli = _Parser(
        prog="python -m lib.logs",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Exit codes: 0 answered, 1 failed (no answer), 2 usage error (before reading), "
        "3 more lines rejected than --max-rejected allows (no answer). docs/q1.md says more.",
    )
    cli.add_argument(
        "log",
        nargs="*",
        help="log files or globs, plain or compressed (told by content), UTF-8 or UTF-16; "
        "- for standard input (once), named pipes and <(...) too: the local engine reads them; "
        "none, with --state: answer from what the state has read",
    )
    cli.add_argument(
        "--format",
        default=AUTO,
        help="auto (detected per file), a registered format (combined, aws_alb, w3c, nginx_json, "
        "...: docs/q1.md lists them), an Apache LogFormat / nginx log_format string, "
        "json:client=PATH,time=PATH,... for JSON lines, any of them but w3c and cloudfront "
        "after syslog+, docker+ or cri+ for lines inside those",
    )
    cli.add_argument(
        "--window-start",
        help="the top hosts' window start, inclusive: ISO 8601 with an offset "
        "(2026-05-12T00:00:00+02:00), or a date (a day in UTC); neither end given: the whole "
        "log (the NASA log: 18-20 August 1995, EDT)",
    )
    cli.add_argument(
        "--window-end",
        help="the window's end, exclusive; a date alone: the end of that day (UTC)",
    )
    cli.add_argument("--top-n", type=_at_least(1), default=10, help="hosts to rank")
    cli.add_argument(
        "--early-stopping",
        type=_at_least(0),
        default=50,
        help="busiest still-unattributed hosts to resolve by DNS",
    )
    cli.add_argument("--no-dns", action="store_true", help="offline attribution only")
    cli.add_argument("--engine", choices=ENGINES, default="auto", help="where the log is read")
    cli.add_argument(
        "--client",
        choices=CLIENTS,
        default="remote",
        help="who a request's client is: the address the server logged (remote), the first "
        "untrusted address of X-Forwarded-For (forwarded), or X-Real-IP and the like (real_ip)",
    )
    cli.add_argument(
        "--trusted-proxies",
        help="with --client forwarded: the proxies' networks, comma-separated (none given: "
        "private, loopback, link-local and shared address space)",
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
    only = cli.add_argument_group(
        "filters", "which requests count at all (comma-separated lists; each: any, when not set)"
    )
    only.add_argument("--status", help="status codes or classes: 404,5xx")
    only.add_argument("--method", help="methods: GET,POST")
    only.add_argument("--path-prefix", help="paths starting so: /api,/static")
    only.add_argument("--vhost", help="virtual hosts (formats that log one): example.com")
    only.add_argument("--exclude-client", help="client networks to leave out: 10.0.0.0/8,::1")
    only.add_argument(
        "--window-only",
        action="store_true",
        help="the window applies to every answer (total, countries...), not the top hosts only",
    )
    over_time = cli.add_argument_group(
        "over time", "a state directory: re-runs read only what is new (docs/q1.md)"
    )
    over_time.add_argument(
        "--state",
        metavar="DIR",
        help="keep what was read in DIR: a later run reads only what the logs gained (rotated "
        "and compressed files known by content); the window, on whole hours (UTC), applies to "
        "every answer and is answered from DIR",
    )
    over_time.add_argument(
        "--follow",
        type=_seconds,
        metavar="SECONDS",
        help="with --state: keep reading as the logs grow and rotate, answering every SECONDS "
        "(results.json rewritten each time with --output-dir); stop with Ctrl-C",
    )
    cli.add_argument(
        "--json",
        action="store_true",
        help="print the whole result as JSON (docs/q1-results.schema.json) instead of the "
        "answers in words",
    )
    return cli


def _checked(args: argparse.Namespace):
    """The options a run needs, checked before any log is read: the window's texts, the
    client rule, the format. ConfigError, naming the option."""
    Window.parse(args.window_start, args.window_end, CLI_WINDOW)
    try:
        rule = client_rule(args.client, args.trusted_proxies)
    except ConfigError as exc:
        raise ConfigError(f"--trusted-proxies: {exc}") from None
    if args.format != AUTO:
        try:
            log_format(args.format)
        except ConfigError as exc:
            raise ConfigError(f"--format: {exc}") from None
    only = request_filter(args.status, args.method, args.path_prefix, args.vhost,
                          args.exclude_client, args.window_only, command=True)  # fmt: skip
    if not args.log and not args.state:
        raise ConfigError("name a log (LOG), or a state directory to answer from (--state DIR)")
    if args.follow is not None and not args.log:
        raise ConfigError("--follow needs the logs to follow (LOG)")
    if args.follow is not None and not args.state:
        raise ConfigError("--follow needs --state DIR (where what was read is kept)")
    if args.state:
        if args.engine == "dask":
            raise ConfigError("--state reads with the local engine, not --engine dask")
        Window.parse(args.window_start, args.window_end, CLI_WINDOW).on_hours(CLI_WINDOW)
    return rule, only


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        rule, only = _checked(args)
    except ConfigError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE
    if args.state:
        from lib.logs.state.command import run_state  # loads polars

        return run_state(args, rule, only, CLI_WINDOW)
    engine = None
    try:
        if args.output_dir:
            clear_results(args.output_dir)  # a run that fails leaves no answers there
        settings = load_settings()
        plan = make_plan(
            args.log[0] if len(args.log) == 1 else args.log,
            args.engine,
            settings.dask_scheduler_address,
            log_format=args.format,
            client=rule,
            stdin=sys.stdin.buffer if sys.stdin else None,  # read only if a LOG is -
        )
        check_fields(only, {path: choice.primary.roles for path, choice in plan.choices}, True)
        window = choose_window(args.window_start, args.window_end, plan.files, CLI_WINDOW)
        window = replace(window, only=only)
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
        return EXIT_TOO_MANY_REJECTED if isinstance(exc, TooManyRejected) else EXIT_FAILED
    finally:
        if engine is not None:
            engine.close()  # a run that failed before it took the engine
    data = answers(result)
    print(json.dumps(data, indent=2) if args.json else headline(data))
    return EXIT_ANSWERED


if __name__ == "__main__":
    leave(main())
