"""The results writer's loop outlives a cycle that fails for a reason nobody planned for: it
logs the traceback and the next cycle writes the results. In-process, with stand-ins for the
database (no service needed)."""

from __future__ import annotations

import json
import logging
import threading
from contextlib import nullcontext
from datetime import UTC, datetime

import service.results_writer as results_writer
from lib.votes.settings import load_settings
from lib.votes.store import build_results


class StandInEngine:
    """What the loop asks of an engine: a connection to hand to ``vote_results``, disposal."""

    def connect(self):
        return nullcontext(None)

    def dispose(self) -> None:
        pass


def test_an_unexpected_error_is_logged_and_the_next_cycle_writes(tmp_path, monkeypatch, caplog):
    settings = load_settings(
        {}, cache_dir=tmp_path, results_interval=0.01, database_url="postgresql://h/db"
    )
    document = build_results([], [], settings.candidates, datetime.now(UTC))
    stop, calls = threading.Event(), []

    def vote_results(conn, candidates, time_zone):
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("odd data")
        if len(calls) >= 3:
            stop.set()  # the loop's last cycle comes next
        return document

    monkeypatch.setattr(results_writer, "connect", lambda url, session=None: StandInEngine())
    monkeypatch.setattr(results_writer, "apply_vote_schema", lambda engine: None)
    monkeypatch.setattr(results_writer, "vote_results", vote_results)
    with caplog.at_level(logging.INFO, logger="service.results_writer"):
        results_writer.write_results_forever(settings, stop)

    assert len(calls) == 4  # the failed cycle, two more, and the last write on the way out
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1 and errors[0].levelno == logging.ERROR
    assert errors[0].exc_info[0] is RuntimeError  # logged with its traceback
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["total_votes"] == 0 and written["totals"] == document["totals"]
