"""The results writer: every ``RESULTS_INTERVAL`` seconds, the results from the rollup into
``CACHE_DIR`` as ``results.json``; the charts too when the figures changed, at most every
``CHART_INTERVAL`` seconds (drawing a chart costs ~0.2 s of CPU, a results query milliseconds).

    python service/results_writer.py

The worker runs this loop in a child process of its own (so drawing never holds up storing
votes); run it standalone when several workers share a queue and start them with
``--no-results``. It survives the database going away (retries next interval) and exits when
its parent worker does.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time

from sqlalchemy.exc import DBAPIError

from lib.config import Config, load_config
from lib.db import connect, first_line
from lib.errors import DatabaseError, ProjectError
from lib.vote_cache import chart_data, write_results
from lib.vote_store import apply_vote_schema, vote_results
from lib.votes import parse_candidates

logger = logging.getLogger("results")


def write_results_forever(config: Config, stop, parent_pid: int | None = None) -> None:
    """Write results until ``stop`` (an Event) is set or the parent process is gone; a last
    write on the way out."""
    if parent_pid is not None:
        _configure_logging()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides when to stop
    candidates = parse_candidates(config.candidates)
    engine = None
    drawn, charts_due = None, 0.0
    while True:
        last = stop.is_set() or (parent_pid is not None and os.getppid() != parent_pid)
        try:
            if engine is None:
                engine = connect(config.database_url)
                apply_vote_schema(engine)
            with engine.connect() as conn:
                results = vote_results(conn, candidates)
            key, now = chart_data(results), time.monotonic()
            draw = key != drawn and (now >= charts_due or last)
            write_results(config.cache_dir, results, charts=draw)
            if draw:
                drawn, charts_due = key, now + config.chart_interval
        except (DatabaseError, DBAPIError, OSError) as exc:
            logger.warning("results not written: %s", first_line(exc))
            if engine is not None:
                engine.dispose()
            engine = None
        if last:
            return
        stop.wait(config.results_interval)


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s results[%(process)d] %(levelname)s %(message)s",
    )
    for noisy in ("matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main() -> int:
    import threading

    _configure_logging()
    try:
        config = load_config()
    except ProjectError as exc:
        logger.error("%s", exc)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    write_results_forever(config, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
