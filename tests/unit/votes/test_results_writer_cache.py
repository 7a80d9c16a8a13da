"""The results writer and the cache's bounds, in-process with stand-ins for the database: it says
once when results.json outgrows CACHE_MAX_BYTES, and a cache it cannot write to costs it no
database connection."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import service.results_writer as results_writer
from lib.votes.settings import load_settings
from lib.votes.store import build_results
from tests.unit.votes.test_results_writer import StandInEngine

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def run_cycles(monkeypatch, settings, documents: list[dict]) -> list[str]:
    """Run the writer's loop over ``documents`` (one a cycle, the last one twice: the last
    write on the way out); the URLs of the engines it made, one each."""
    stop, made, left = threading.Event(), [], list(documents)

    def vote_results(conn, candidates, time_zone):
        document = left.pop(0) if len(left) > 1 else left[0]
        if len(left) == 1:
            stop.set()
        return document

    def connect(url, session=None):
        made.append(url)
        return StandInEngine()

    monkeypatch.setattr(results_writer, "connect", connect)
    monkeypatch.setattr(results_writer, "apply_vote_schema", lambda engine: None)
    monkeypatch.setattr(results_writer, "vote_results", vote_results)
    results_writer.write_results_forever(settings, stop)
    return made


def results(buckets: int, settings) -> dict:
    rows = [
        {"bucket": NOW - timedelta(minutes=10 * b), "candidate": cid, "votes": 1}
        for b in range(buckets)
        for cid in settings.candidates
    ]
    return build_results(rows, [], settings.candidates, NOW)


def test_results_over_cache_max_bytes_are_said_once(tmp_path, monkeypatch, caplog):
    settings = load_settings(
        {},
        cache_dir=tmp_path,
        results_interval=0.01,
        database_url="postgresql://h/db",
        cache_max_bytes=65536,
    )
    small, large = results(1, settings), results(600, settings)  # ~100 KiB
    documents = [small, large, large, large, small, large, large]
    with caplog.at_level(logging.WARNING, logger="service.results_writer"):
        run_cycles(monkeypatch, settings, documents)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines  # each time it went over, not each cycle
    assert all("over CACHE_MAX_BYTES (65536): kiosks do not read it" in line for line in lines)
    assert (tmp_path / "results.json").stat().st_size > 65536


def test_a_cache_it_cannot_write_keeps_the_database_connection(tmp_path, monkeypatch, caplog):
    settings = load_settings(
        {}, cache_dir=tmp_path, results_interval=0.01, database_url="postgresql://h/db"
    )
    (tmp_path / "results.json").mkdir()  # a directory in the way: cannot be renamed over
    document = results(1, settings)
    with caplog.at_level(logging.WARNING, logger="service.results_writer"):
        made = run_cycles(monkeypatch, settings, [document] * 3)
    assert len(made) == 1  # no reconnection (nor schema DDL) a cycle
    lines = [r.getMessage() for r in caplog.records]
    assert lines and all(line.startswith(f"results not written to {tmp_path}") for line in lines)
