"""The kiosk: takes votes over HTTP and hands them to RabbitMQ; serves results from the cache.

    python service/kiosk.py --kiosk-id 42 [--port 8080] [--host 127.0.0.1] [--workers 2]
                            [--threads 8] [--request-timeout 10] [--server buffered]
                            [--max-connections 1000] [--connections-per-client 64]
                            (or: python -m service.kiosk ...)

- ``POST /votes`` ``{"candidate": "1", "vote_id": "..."}`` (vote_id optional, for safe
  retries) -> 202 ``{"vote_id": ..., "candidate": ...}`` once the broker has confirmed the vote;
  400/413/415 with a reason for bad input, 403 for a foreign Host or Origin, 401 without the
  token (when set), 429 over the client's rate; 503 with the reason if the broker cannot take
  it or votes are refused (nothing claimed): the votes queue missing or one that could lose
  votes (``lib.votes.broker``), or this kiosk's clock off by more than ``VOTE_CLOCK_SKEW``
  (``lib.votes.clock``: votes are stamped by the results writer's clock); 403 before
  ``VOTES_OPEN_AT``. While the broker blocks publishing (a memory or disk alarm), 503 at once
  with ``Retry-After``, the broker's reason in it.
- ``GET /results`` -> the worker's cached ``results.json`` plus ``staleness_seconds``;
  ``GET /results/<chart>.png`` -> a cached chart; 503 until the worker has written them (only
  regular files inside ``CACHE_DIR`` are read, each within ``CACHE_MAX_BYTES``: see
  ``lib.votes.cache``); quoted strong ETags, 304 for an ``If-None-Match`` that matches.
- ``GET /health`` -> kiosk, broker, clock and cache state, refusals by status, and why votes
  are refused if they are (503 then: the broker blocking publishing too, in
  ``broker_blocked``); ``GET /`` -> the
  kiosk screen (buttons, totals, both charts; with the token in it when asked for from this
  machine by a loopback name, see ``lib.votes.http_rules.screen_may_hold_token``);
  ``GET /openapi.json`` -> this API as OpenAPI 3.0; ``GET /metrics`` -> the kiosk's metrics
  in the Prometheus text format, all its server processes together (``lib.votes.metrics``; 404
  with ``METRICS=0``).

It never touches the database. Configuration: ``AMQP_URL`` (one node or a cluster's list),
``VOTES_QUEUE``, ``VOTES_QUEUE_TYPE``, ``CACHE_DIR``,
``CANDIDATES``, ``KIOSK_TOKEN``, ``RATE_LIMIT``, ``KIOSK_HOSTS``, ``METRICS`` (see
``lib.votes.settings``). Served by gunicorn processes running ``service.kiosk_server``'s worker:
an asyncio loop reads each request whole, within deadlines, and a thread runs the app on it
(votes on threads of their own, so reads never wait behind votes waiting for the broker); one
broker connection per process, shared by its threads. The processes write their metrics into a
directory the kiosk makes for the run in the system's temporary directory (``TMPDIR``) and
removes when it stops (``lib.votes.metrics.multiprocess_directory``).
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # `python service/kiosk.py`: import from the repository root, as -m does
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import contextlib
import hmac
import html
import ipaddress
import json
import logging
import os
import threading
import time
from collections.abc import Callable

from bottle import Bottle, HTTPResponse, request, response

from lib.errors import ConfigError
from lib.votes.broker import BrokerBlocked, BrokerUnavailable, VotePublisher, VotesRefused
from lib.votes.cache import (
    CACHE_MAX_BYTES,
    CHARTS,
    RESULTS_FILE,
    CachedChart,
    CachedResults,
    entity_tag,
    staleness,
)
from lib.votes.clock import KioskClock
from lib.votes.http_rules import HostPolicy, etag_matches, path_refusal, screen_may_hold_token
from lib.votes.message import (
    MAX_BODY_BYTES,
    Candidate,
    Vote,
    VoteError,
    check_kiosk_id,
    vote_from_request,
)
from lib.votes.metrics import CONTENT_TYPE, KioskMetrics, multiprocess_directory
from lib.votes.rate_limit import ClientBuckets
from lib.votes.refusals import Refusals
from lib.votes.settings import VoteSettings, load_settings
from service.kiosk_server import CLIENT_CONNECTIONS, MAX_CONNECTIONS, Limits, serve
from service.openapi import openapi_document

# Run as a script this file is __main__; its logger keeps the module's name all the same.
logger = logging.getLogger("service.kiosk" if __name__ == "__main__" else __name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self'; style-src 'self' 'unsafe-inline'"
    ),
}
_STATIC = Path(__file__).resolve().parent / "static"
BLOCKED_RETRY_AFTER = 5  # seconds a client is asked to wait while the broker blocks publishing


def make_app(
    kiosk_id: str,
    candidates: dict[str, Candidate],
    publisher_factory: Callable[[], VotePublisher],
    cache_dir: Path,
    results_max_age: int = 1,
    token: str | None = None,
    rate_limit: float = 0,
    hosts: HostPolicy | None = None,
    refusals: Refusals | None = None,
    cache_max_bytes: int = CACHE_MAX_BYTES,
    clock: KioskClock | None = None,
    metrics: KioskMetrics | None = None,
) -> Bottle:
    """The kiosk's Bottle application. ``publisher_factory`` makes the publisher, once per server
    process, on the first request that needs it or when ``app.config["kiosk.publisher"]`` is
    called (the server calls it as each process starts). ``POST /votes`` is refused (403) for a
    Host ``hosts`` does not serve (default: the loopback names) or a foreign Origin; with
    ``token`` it needs ``Authorization: Bearer <token>`` (401); with ``rate_limit`` (votes/s
    per client, per process) excess votes get 429. Every refusal is counted and logged by
    ``refusals``. With ``clock``, votes are stamped by it and refused when it says so (503, or
    403 before the opening); without, stamped by this machine's clock. ``metrics`` (default:
    this process's own) counts votes and refusals and times confirms; ``GET /metrics`` serves
    them. Files in ``cache_dir`` over ``cache_max_bytes`` are not read. The screen (``GET /``)
    holds ``token`` for a browser on this machine only (``screen_may_hold_token``)."""
    app = Bottle()
    buckets = ClientBuckets(rate_limit, 2 * rate_limit) if rate_limit else None
    hosts = hosts or HostPolicy.serving("127.0.0.1")
    metrics = metrics or KioskMetrics()
    refusals = refusals or Refusals(counter=metrics.requests_refused)
    expected = f"Bearer {token}".encode() if token else None
    state: dict = {}
    lock = threading.Lock()
    cache = CachedResults(Path(cache_dir) / RESULTS_FILE, cache_max_bytes)
    charts = {c: CachedChart(Path(cache_dir) / f"{c}.png", cache_max_bytes) for c in CHARTS}

    def publisher() -> VotePublisher:
        # one per process, made on first use or as the process starts (after the server forked)
        if state.get("pid") != os.getpid():
            with lock:
                if state.get("pid") != os.getpid():
                    state["publisher"], state["pid"] = publisher_factory(), os.getpid()
        return state["publisher"]

    app.config["kiosk.publisher"] = publisher  # a server process's publisher, made if need be

    def fail(status: int, reason: str, headers: dict[str, str] | None = None) -> HTTPResponse:
        refusals.record(status, reason, request.environ.get("REMOTE_ADDR", ""))
        headers = {**(headers or {}), "Content-Type": "application/json"}
        return HTTPResponse(json.dumps({"error": reason}), status, headers)

    def refuse_vote(
        why: str, status: int, reason: str, headers: dict[str, str] | None = None
    ) -> HTTPResponse:
        metrics.votes_refused.labels(why).inc()
        return fail(status, reason, headers)

    @app.hook("before_request")
    def _path():
        # Bottle drops the bytes of a path that are not UTF-8: /vo%fftes would reach /votes
        refused = path_refusal(request.environ.get("bottle.raw_path", ""))
        if refused is not None:
            raise fail(400, refused)

    @app.hook("after_request")
    def _headers():
        for name, value in SECURITY_HEADERS.items():
            response.set_header(name, value)

    @app.post("/votes")
    def post_vote():
        environ = request.environ
        foreign = hosts.refusal(
            environ.get("HTTP_HOST"), environ.get("HTTP_ORIGIN"), environ.get("SERVER_PORT", "")
        )
        if foreign is not None:
            raise refuse_vote("foreign_origin", 403, foreign)
        if expected is not None:  # before the rate limit: a stranger spends nobody's budget
            given = request.get_header("Authorization", "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, expected):
                reason = "a valid 'Authorization: Bearer <token>' header is required"
                raise refuse_vote("unauthorized", 401, reason)
        if buckets is not None and not buckets.allow(environ.get("REMOTE_ADDR", "")):
            raise refuse_vote("rate_limited", 429, "too many votes from this client; slow down")
        try:
            body = read_body(request.environ, MAX_BODY_BYTES)
            vote = vote_from_request(body, request.content_type, kiosk_id, candidates)
            if clock is not None:
                watch_clock()
                vote = Vote(vote.vote_id, vote.candidate, vote.kiosk_id, clock.stamp())
        except VoteError as exc:
            why = {503: "clock", 403: "not_open"}.get(exc.status, "invalid")
            raise refuse_vote(why, exc.status, exc.reason) from None
        handed = time.perf_counter()
        try:
            publisher().publish(vote)
        except BrokerBlocked as exc:  # at once, or as soon as the broker said so; not timed:
            # thousands of refusals at once would hide the confirms' latency
            said = (  # one sent before the block may be stored once it lifts
                f"vote not confirmed: {exc}; it may still count"
                if exc.sent
                else f"vote not taken: {exc}"
            )
            raise refuse_vote(
                "broker_blocked",
                503,
                f"{said}; retry with the same vote_id (it will count once)",
                {"Retry-After": str(BLOCKED_RETRY_AFTER)},
            ) from None
        except BrokerUnavailable as exc:
            metrics.confirm_seconds.observe(time.perf_counter() - handed)
            logger.warning("vote %s not handed over: %s", vote.vote_id, exc)
            refused = isinstance(exc, VotesRefused)
            said = (  # a refusal's reason is for clients; a broker fault's stays in the log
                f"vote not taken: {exc}" if refused else "vote not confirmed by the ballot box"
            )
            raise refuse_vote(
                "queue_refused" if refused else "broker_unavailable",
                503,
                f"{said}; retry with the same vote_id (it will count once)",
            ) from None
        metrics.confirm_seconds.observe(time.perf_counter() - handed)
        metrics.votes_accepted.inc()
        response.status = 202
        return {"vote_id": vote.vote_id, "candidate": vote.candidate, "kiosk_id": kiosk_id}

    def validators(cached) -> dict[str, str]:
        """The caching headers of a file read from the cache (its ETag and modification time)."""
        return {
            "Cache-Control": f"public, max-age={results_max_age}",
            "ETag": cached.etag,
            "Last-Modified": cached.last_modified,
        }

    @app.get("/results")
    def get_results():
        snapshot = cache.read()
        if snapshot is None:
            raise fail(503, "results not available yet: the worker has not written them")
        headers = validators(snapshot)
        if etag_matches(request.get_header("If-None-Match"), snapshot.etag):
            return HTTPResponse(status=304, headers=headers)
        age = staleness(snapshot.generated)
        headers["Content-Type"] = "application/json"
        return HTTPResponse(snapshot.prefix + b',"staleness_seconds":%.3f}' % age, 200, headers)

    @app.get("/results/<chart>.png")
    def get_chart(chart: str):
        if chart not in CHARTS:
            raise fail(404, f"no chart {chart[:40]!r}; charts: {', '.join(CHARTS)}")
        drawn = charts[chart].read()
        if drawn is None:
            raise fail(503, "chart not available yet: the worker has not written it")
        headers = validators(drawn)
        if etag_matches(request.get_header("If-None-Match"), drawn.etag):
            return HTTPResponse(status=304, headers=headers)
        headers["Content-Type"] = "image/png"
        return HTTPResponse(drawn.body, 200, headers)

    @app.get("/health")
    def health():
        snapshot = cache.read()
        broker = publisher().reachable()
        age = None if snapshot is None else round(staleness(snapshot.generated), 3)
        if clock is not None:
            watch_clock()
        timing = None if clock is None else clock.state()
        refusing = publisher().refusal() or (timing and timing["refusal"])
        response.status = 200 if broker and not refusing else 503
        return {
            "kiosk_id": kiosk_id,
            "kiosk": "up",
            "broker_reachable": broker,
            "broker_blocked": publisher().blocked(),
            "refusing_votes": refusing or None,
            "clock": timing,
            "cache_age_seconds": age,
            "refusals": refusals.counts(),
        }

    def watch_clock() -> None:
        # the results writer's time, as the results this kiosk serves say; polled by a thread
        # of each server process, started on its first request (after the server forked)
        def generated():
            snapshot = cache.read()
            return None if snapshot is None else snapshot.generated

        clock.watch(generated)

    document = openapi_document(kiosk_id, candidates, list(CHARTS))
    screen = kiosk_page(kiosk_id, candidates)
    screen_with_token = kiosk_page(kiosk_id, candidates, token) if token else screen

    @app.get("/openapi.json")
    def openapi():
        return document

    @app.get("/metrics")
    def get_metrics():
        if not metrics.enabled:
            raise fail(404, "metrics are off on this kiosk (METRICS=0)")
        return HTTPResponse(metrics.exposition(), 200, {"Content-Type": CONTENT_TYPE})

    @app.get("/")
    def page():
        environ = request.environ
        response.content_type = "text/html; charset=utf-8"
        if token is None:
            return screen
        response.set_header("Cache-Control", "no-store")  # which page depends on the client
        forwarded = any(
            f"HTTP_{name}" in environ for name in ("FORWARDED", "X_FORWARDED_FOR", "X_REAL_IP")
        )
        client, host = environ.get("REMOTE_ADDR", ""), environ.get("HTTP_HOST")
        if screen_may_hold_token(hosts, client, host, environ.get("SERVER_PORT", ""), forwarded):
            return screen_with_token
        return screen

    script = (_STATIC / "kiosk.js").read_bytes()
    script_etag = entity_tag(script)

    @app.get("/kiosk.js")
    def kiosk_script():
        headers = {"ETag": script_etag, "Cache-Control": "no-cache"}  # revalidated: a 304
        if etag_matches(request.get_header("If-None-Match"), script_etag):
            return HTTPResponse(status=304, headers=headers)
        headers["Content-Type"] = "text/javascript; charset=utf-8"
        return HTTPResponse(script, 200, headers)

    def _error(error):
        response.content_type = "application/json"
        reason = error.body if isinstance(error.body, str) and error.status_code < 500 else None
        client = request.environ.get("REMOTE_ADDR", "")
        refusals.record(error.status_code, reason or error.status_line, client)
        return json.dumps({"error": reason or error.status_line})

    for status in (400, 404, 405, 413, 500):
        app.error(status)(_error)
    return app


def read_body(environ: dict, limit: int) -> bytes:
    """The request body, never more than ``limit`` bytes read: VoteError 413 past that. Read
    from ``wsgi.input`` itself, not Bottle's ``request.body``, which spools a body of unknown
    length (chunked, under a server that passes it through) to a temporary file whole."""
    length = environ.get("CONTENT_LENGTH") or ""
    if length and not length.isdigit():
        raise VoteError(400, "Content-Length must be one decimal number")
    if length and int(length) > limit:  # refused unread
        raise VoteError(413, f"body too large (over {limit} bytes)")
    if length:
        body = environ["wsgi.input"].read(int(length))
    elif environ.get("wsgi.input_terminated"):  # the server marks the end: read past the limit
        body = environ["wsgi.input"].read(limit + 1)
    else:  # no length and no end: no body (PEP 3333)
        body = b""
    if len(body) > limit:
        raise VoteError(413, f"body too large (over {limit} bytes)")
    return body


def kiosk_page(kiosk_id: str, candidates: dict[str, Candidate], token: str | None = None) -> str:
    """The kiosk screen: one button per candidate, the last vote's confirmation, the totals and
    the last 10 minutes as charts; with ``token`` in a ``<meta name="kiosk-token">`` for
    ``kiosk.js`` to send (the page's CSP lets no other script run in it)."""
    held = (
        f'\n<meta name="kiosk-token" content="{html.escape(token)}">' if token is not None else ""
    )
    buttons = "\n".join(
        f'<button class="vote" data-candidate="{html.escape(c.id)}">{html.escape(c.name)}</button>'
        for c in candidates.values()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kiosk {html.escape(kiosk_id)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">{held}
<style>
body {{ font-family: sans-serif; margin: 2em; text-align: center; }}
button.vote {{ font-size: 2.2em; margin: 0.4em; padding: 0.6em 1.2em; min-width: 6em; }}
#status {{ font-size: 1.4em; min-height: 1.6em; margin: 0.6em; }}
#charts {{ display: flex; flex-wrap: wrap; justify-content: center; gap: 1em; }}
#charts img {{ flex: 1 1 16em; min-width: 0; max-width: 100%; height: auto; }}
</style></head>
<body>
<h1>Vote</h1>
<div id="buttons">{buttons}</div>
<div id="status" role="status"></div>
<div id="totals"></div>
<div id="charts">
<img id="chart" alt="votes per candidate" src="results/totals.png">
<img id="timeline" alt="votes per 10 minutes" src="results/timeline.png">
</div>
<script src="kiosk.js"></script>
</body></html>
"""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A voting kiosk (see the module docstring).")
    parser.add_argument("--kiosk-id", required=True, help="this kiosk's id (1-32 of A-Za-z0-9_-)")
    parser.add_argument("--port", type=int, default=8080, help="0-65535 (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--workers", type=int, default=2, help="server processes (1-64)")
    parser.add_argument(
        "--threads",
        type=int,
        default=8,
        help="threads per server process running the app (1-1024); the buffered server has "
        "that many for reads and as many for votes",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=10.0,
        help="seconds a client has to send a whole request, head and body (then 408), 0.5-600",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=MAX_CONNECTIONS,
        help="connections a server process keeps open, all clients together (over it, one "
        "waiting connection of the client holding the most is closed)",
    )
    parser.add_argument(
        "--connections-per-client",
        type=int,
        default=CLIENT_CONNECTIONS,
        help="connections a server process keeps open for one client address (an IPv6 /64); "
        "over it, the client's longest-waiting one is closed",
    )
    parser.add_argument(
        "--server",
        choices=["buffered", "gthread", "bottle"],
        default="buffered",
        help="buffered: gunicorn processes reading each request whole on an asyncio loop "
        "(service.kiosk_server); gthread: gunicorn's threads reading requests themselves, and "
        "bottle: Bottle's one-request-at-a-time server (benchmark baselines only)",
    )
    parser.add_argument(
        "--clock-offset",
        type=float,
        default=0.0,
        help="seconds to add to this machine's clock as the kiosk reads it (for tests and "
        "drills: a kiosk whose clock is off; see lib.votes.clock)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    # pika logs each failed connection at ERROR with its traceback; the publisher says it in a line
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    try:
        settings = load_settings()
        kiosk_id = check_kiosk_id(args.kiosk_id)
        _check_ranges(args)
        if not 1 <= args.connections_per_client <= args.max_connections:
            raise ConfigError(
                f"--connections-per-client must be 1 to --max-connections "
                f"({args.max_connections}), got {args.connections_per_client}"
            )
        if not _loopback(args.host) and not settings.kiosk_token:
            raise ConfigError(
                f"--host {args.host} is reachable from other machines: set KIOSK_TOKEN, the "
                "bearer token POST /votes will then require"
            )
    except ConfigError as exc:
        logger.error("%s", exc)
        return 2
    # before gunicorn forks: every process writes its metrics into the run's directory
    with (
        multiprocess_directory(os.environ, f"kiosk-{kiosk_id}-metrics-")
        if settings.metrics
        else contextlib.nullcontext()
    ) as directory:
        return _serve(args, settings, kiosk_id, KioskMetrics(directory, settings.metrics))


# each numeric option's range: nonsense (no process, no thread, a deadline of 0) is refused
# at start with one line rather than a server that listens and never answers
OPTION_RANGES = {
    "port": (0, 65535),  # 0: one the system picks
    "workers": (1, 64),
    "threads": (1, 1024),
    "request_timeout": (0.5, 600.0),
    "max_connections": (1, 100_000),
    "clock_offset": (-86_400.0, 86_400.0),
}


def _check_ranges(args: argparse.Namespace) -> None:
    """ConfigError (one line) for a numeric option outside ``OPTION_RANGES`` (nan included)."""
    for name, (low, high) in OPTION_RANGES.items():
        value = getattr(args, name)
        if not low <= value <= high:  # nan compares false: refused too
            raise ConfigError(
                f"--{name.replace('_', '-')} must be {low:g} to {high:g}, got {value}"
            )


def _serve(
    args: argparse.Namespace, settings: VoteSettings, kiosk_id: str, metrics: KioskMetrics
) -> int:
    """Build the app and serve it until the server stops."""
    # before gunicorn forks: its counts are shared by every process
    refusals = Refusals(counter=metrics.requests_refused)
    app = make_app(
        kiosk_id,
        settings.candidates,
        lambda: VotePublisher(
            settings.amqp_urls,
            settings.votes_queue,
            settings.queue_type,
            max_length=settings.queue_max_length,
            on_blocked=lambda line: metrics.broker_blocked.set(line is not None),
        ),
        settings.cache_dir,
        token=settings.kiosk_token,
        rate_limit=settings.rate_limit,
        hosts=HostPolicy.serving(args.host, settings.kiosk_hosts),
        refusals=refusals,
        cache_max_bytes=settings.cache_max_bytes,
        clock=KioskClock(  # before the server forks: its bounds are shared by every process
            settings.vote_clock_skew,
            settings.votes_open_at,
            wall=lambda: time.time() + args.clock_offset,
        ),
        metrics=metrics,
    )
    logger.info(
        "kiosk %s on http://%s:%d/ (queue %s, cache %s, %s server, metrics %s)",
        kiosk_id,
        args.host,
        args.port,
        settings.votes_queue,
        settings.cache_dir,
        args.server,
        metrics.directory or "off",
    )
    connect = app.config["kiosk.publisher"]
    if args.server == "bottle":
        connect()
        app.run(host=args.host, port=args.port, quiet=True)
    else:
        limits = Limits(
            MAX_BODY_BYTES,
            args.request_timeout,
            headers=tuple(SECURITY_HEADERS.items()),
            on_refusal=refusals.record,
            metrics=metrics,
            max_connections=args.max_connections,
            client_connections=args.connections_per_client,
        )
        # each process connects as it starts, so that its /health says from the first request
        # what the broker says (a block, a missing queue), and its first vote waits for nothing
        serve(app, args.host, args.port, args.workers, args.threads, limits, args.server, connect)
    return 0


if __name__ == "__main__":
    sys.exit(main())
