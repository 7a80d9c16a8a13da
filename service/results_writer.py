"""The results writer: every ``RESULTS_INTERVAL`` seconds, the results from the rollup into
``CACHE_DIR`` as ``results.json``; the charts too when the figures changed, at most every
``CHART_INTERVAL`` seconds (drawing a chart costs ~0.2 s of CPU, a results query milliseconds),
and at once when a chart is missing from the cache or is not a file kiosks trust (a symlink, a
special file, a hard link: see ``lib.votes.cache``). Every file is renamed into place, replacing
whatever the entry was. The distribution is labelled in ``VOTES_TIME_ZONE``.

    python service/results_writer.py        (or: python -m service.results_writer)

The worker runs this loop in a child process of its own (so drawing never holds up storing
votes); run it standalone when several workers share a queue and start them with
``--no-results``. It survives the database going away (retries next interval) and any other
error in a cycle (logged with its traceback, retried next interval), and exits when its parent
worker does.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # `python service/results_writer.py`: import from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import logging
import os
import signal
import time

from sqlalchemy.exc import DBAPIError

from lib.db import connect, first_line
from lib.errors import DatabaseError, ProjectError
from lib.votes.cache import chart_data, charts_missing, write_results
from lib.votes.settings import VoteSettings, load_settings
from lib.votes.store import SESSION_TIMEOUTS, apply_vote_schema, vote_results

# Run as a script this file is __main__; its logger keeps the module's name all the same.
logger = logging.getLogger("service.results_writer" if __name__ == "__main__" else __name__)


def write_results_forever(settings: VoteSettings, stop, parent_pid: int | None = None) -> None:
    """Write results until ``stop`` (an Event) is set or the parent process is gone; a last
    write on the way out."""
    if parent_pid is not None:
        _configure_logging()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides when to stop
    candidates = settings.candidates
    engine = None
    drawn, charts_due = None, 0.0
    oversized = False  # whether the last results.json written was over CACHE_MAX_BYTES
    while True:
        last = stop.is_set() or (parent_pid is not None and os.getppid() != parent_pid)
        try:
            if engine is None:
                engine = connect(settings.database_url, session=SESSION_TIMEOUTS)
                apply_vote_schema(engine)
            with engine.connect() as conn:
                results = vote_results(conn, candidates, time_zone=settings.votes_time_zone)
            key, now = chart_data(results), time.monotonic()
            # a chart gone from the cache (deleted, a disk cleaned), or replaced by a link or a
            # special file, is drawn again at once
            missing = charts_missing(settings.cache_dir)
            draw = missing or (key != drawn and (now >= charts_due or last))
            try:
                size = write_results(settings.cache_dir, results, charts=draw)
            except OSError as exc:  # the cache's trouble (a full disk, a directory in the way)
                logger.warning("results not written to %s: %s", settings.cache_dir, exc)
            else:
                if draw:
                    drawn, charts_due = key, now + settings.chart_interval
                if size > settings.cache_max_bytes and not oversized:
                    logger.warning(
                        "results.json is %d bytes, over CACHE_MAX_BYTES (%d): kiosks do not read "
                        "it and serve the last copy they hold; raise CACHE_MAX_BYTES",
                        size,
                        settings.cache_max_bytes,
                    )
                oversized = size > settings.cache_max_bytes
        except (DatabaseError, DBAPIError, OSError) as exc:
            logger.warning("results not written: %s", first_line(exc))
            if engine is not None:
                engine.dispose()
            engine = None
        except Exception:  # a bug or odd data (say, in drawing), a MemoryError: say so, go on
            # The engine is kept: the database answered, and a new one would run the schema's
            # DDL again every cycle for as long as the fault lasts.
            logger.exception(
                "results not written (unexpected error); trying again in %gs",
                settings.results_interval,
            )
        if last:
            return
        stop.wait(settings.results_interval)


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s[%(process)d] %(levelname)s %(message)s",
    )
    for noisy in ("matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import threading

    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    _configure_logging()
    try:
        settings = load_settings()
    except ProjectError as exc:
        logger.error("%s", exc)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    write_results_forever(settings, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
