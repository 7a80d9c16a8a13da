"""``python -m lib.logs LOG --state DIR [--follow SECONDS]``: a run with a state directory, once
or following the logs (``lib.logs.state.runs`` reads and answers)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from lib.config import project_path
from lib.errors import ConfigError, ProjectError
from lib.logs.errors import LogFormatError, LogReadError, TooManyRejected
from lib.logs.filters import RequestFilter
from lib.logs.outcome import (
    EXIT_ANSWERED,
    EXIT_FAILED,
    EXIT_TOO_MANY_REJECTED,
    EXIT_USAGE,
    clear_results,
)
from lib.logs.parsing.clients import ClientRule
from lib.logs.q1 import answer_state, answers, headline, write_results
from lib.logs.settings import load_settings
from lib.logs.state.runs import open_state, state_window


def run_state(
    args: argparse.Namespace, rule: ClientRule, only: RequestFilter, names: tuple[str, str]
) -> int:
    """Read what is new into ``args.state`` and print the answers; with ``args.follow`` again
    every so many seconds until interrupted (SIGINT, SIGTERM: exit 0). The exit codes are the
    command's."""
    try:
        window = state_window(args.window_start, args.window_end, only, names)
    except ConfigError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE
    stop = threading.Event()
    if args.follow is not None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    settings = load_settings()
    try:
        if args.output_dir and args.follow is None:
            clear_results(args.output_dir)  # a run that fails leaves no answers there
        geo = project_path(settings.geo_cache)
        with open_state(args.state, args.format, rule, only, geo) as state:
            rounds = 0
            while True:
                rounds += 1
                try:
                    result, read = answer_state(
                        state,
                        (args.log[0] if len(args.log) == 1 else args.log) or None,
                        window,
                        args.format,
                        rule,
                        top_n=args.top_n,
                        early_stopping=args.early_stopping,
                        use_dns=not args.no_dns,
                        dns_cache=project_path(settings.dns_cache),
                        geo=geo,
                        max_rejected=args.max_rejected,
                    )
                except (LogReadError, LogFormatError) as exc:
                    if args.follow is None:
                        raise
                    # following: a file gone between listing and reading (a rotation), or
                    # nothing to answer yet; the next round tries again
                    print(f"warning: {' '.join(str(exc).split())}", file=sys.stderr, flush=True)
                else:
                    for note in read.notes:
                        print(f"note: {note}", file=sys.stderr)
                    if args.output_dir:
                        write_results(result, args.output_dir)
                    if args.follow is None or read.text_bytes or rounds == 1:
                        data = answers(result)
                        text = json.dumps(data, indent=2) if args.json else headline(data)
                        print(text, flush=True)
                if args.follow is None or stop.wait(args.follow):
                    return EXIT_ANSWERED
    except (ProjectError, OSError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_TOO_MANY_REJECTED if isinstance(exc, TooManyRejected) else EXIT_FAILED
