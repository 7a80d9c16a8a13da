"""A client of the kiosk HTTP API, for tests, benchmarks and simulated kiosks.

``post_vote`` retries a vote the kiosk could not hand over (503, or the connection failing) with
the same vote id, as the kiosk screen does, so a vote counts once however often it is sent.
``drive`` sends many votes from several threads, one keep-alive connection each, and records
every outcome, so a caller can check each accepted vote end to end.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    vote_id: str
    candidate: str
    status: int  # the last HTTP status (0: no answer at all)
    attempts: int
    latency: float  # seconds, first attempt to last answer
    # each attempt answered 503 or not at all (retried, or the last): its time.monotonic()
    # from sending to that answer
    unavailable: tuple[tuple[float, float], ...] = ()
    answered: float = 0.0  # time.monotonic() of the last answer (or of giving up)


class KioskClient:
    """One keep-alive HTTP connection to a kiosk (not thread-safe: one per thread)."""

    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.host, self.port, self.timeout = host, port, timeout
        self._conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """One request; reconnects once if the kept-alive connection was closed."""
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._conn.request(method, path, body=body, headers=headers or {})
                reply = self._conn.getresponse()
                data = reply.read()
                return reply.status, {k.lower(): v for k, v in reply.getheaders()}, data
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def post_vote(
        self, candidate: str, vote_id: str | None = None, retries: int = 0, pause: float = 0.2
    ) -> Outcome:
        """POST a vote, retrying up to ``retries`` times on 503 or a failed connection."""
        vote_id = vote_id or uuid.uuid4().hex
        body = json.dumps({"candidate": candidate, "vote_id": vote_id}).encode()
        headers = {"Content-Type": "application/json"}
        start = time.perf_counter()
        status, attempts = 0, 0
        unavailable: list[tuple[float, float]] = []
        while attempts <= retries:
            attempts += 1
            sent = time.monotonic()
            try:
                status, _, _ = self.request("POST", "/votes", body, headers)
            except (OSError, http.client.HTTPException):
                status = 0
            if status not in (0, 503):
                break
            unavailable.append((sent, time.monotonic()))
            if attempts <= retries:
                time.sleep(pause)
        latency = time.perf_counter() - start
        return Outcome(
            vote_id, candidate, status, attempts, latency, tuple(unavailable), time.monotonic()
        )

    def results(self) -> dict | None:
        """``GET /results`` as a dict, or None while the kiosk answers 503."""
        status, _, data = self.request("GET", "/results")
        return json.loads(data) if status == 200 else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def drive(
    host: str,
    port: int,
    votes: int,
    candidates: list[str],
    threads: int = 4,
    retries: int = 0,
    pause: float = 0.2,
) -> list[Outcome]:
    """Send ``votes`` votes (candidates in rotation) from ``threads`` threads; every outcome."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def run(offset: int) -> None:
        client = KioskClient(host, port)
        mine = []
        for i in range(offset, votes, threads):
            mine.append(client.post_vote(candidates[i % len(candidates)], None, retries, pause))
        client.close()
        with lock:
            outcomes.extend(mine)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcomes
