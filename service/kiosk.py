"""The kiosk: takes votes over HTTP and hands them to RabbitMQ; serves results from the cache.

    python service/kiosk.py --kiosk-id 42 [--port 8080] [--host 127.0.0.1] [--threads 8]

- ``POST /votes`` ``{"candidate": "1", "vote_id": "..."}`` (vote_id optional, for safe
  retries) -> 202 ``{"vote_id": ..., "candidate": ...}`` once the broker has confirmed the vote;
  400/413/415 with a reason for bad input; 503 if the broker cannot take it (nothing claimed).
- ``GET /results`` -> the worker's cached ``results.json`` plus ``staleness_seconds``;
  ``GET /results/<chart>.png`` -> a cached chart; 503 until the worker has written them.
- ``GET /health`` -> kiosk, broker and cache state; ``GET /`` -> the kiosk screen.

It never touches the database. Configuration: ``AMQP_URL``, ``VOTES_QUEUE``, ``CACHE_DIR``,
``CANDIDATES`` (see lib/config.py). Served by waitress (threads, one broker connection each).
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import logging
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from bottle import Bottle, HTTPResponse, request, response, static_file

from lib.broker import BrokerUnavailable, VotePublisher
from lib.config import load_config
from lib.errors import ConfigError
from lib.vote_cache import CHARTS, RESULTS_FILE, CachedResults, staleness
from lib.votes import Candidate, VoteError, check_kiosk_id, parse_candidates, vote_from_request

logger = logging.getLogger("kiosk")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self'; style-src 'self' 'unsafe-inline'"
    ),
}
_STATIC = Path(__file__).resolve().parent / "static"


def make_app(
    kiosk_id: str,
    candidates: dict[str, Candidate],
    publisher_factory: Callable[[], VotePublisher],
    cache_dir: Path,
    results_max_age: int = 1,
) -> Bottle:
    """The kiosk's Bottle application. ``publisher_factory`` makes one publisher per server
    thread (a broker connection must not be shared between threads)."""
    app = Bottle()
    local = threading.local()
    cache = CachedResults(Path(cache_dir) / RESULTS_FILE)

    def publisher() -> VotePublisher:
        if getattr(local, "publisher", None) is None:
            local.publisher = publisher_factory()
        return local.publisher

    def fail(status: int, reason: str) -> HTTPResponse:
        return HTTPResponse(
            json.dumps({"error": reason}), status, {"Content-Type": "application/json"}
        )

    @app.hook("after_request")
    def _headers():
        for name, value in SECURITY_HEADERS.items():
            response.set_header(name, value)

    @app.post("/votes")
    def post_vote():
        length = request.content_length
        if length > 4 * 1024:
            raise fail(413, "body too large")
        body = request.body.read(4 * 1024 + 1)
        try:
            vote = vote_from_request(body, request.content_type, kiosk_id, candidates)
        except VoteError as exc:
            raise fail(exc.status, exc.reason) from None
        try:
            publisher().publish(vote)
        except BrokerUnavailable as exc:
            logger.warning("vote %s not handed over: %s", vote.vote_id, exc)
            raise fail(503, "vote not recorded: the ballot box is unavailable, retry") from None
        response.status = 202
        return {"vote_id": vote.vote_id, "candidate": vote.candidate, "kiosk_id": kiosk_id}

    @app.get("/results")
    def get_results():
        results = cache.read()
        if results is None:
            raise fail(503, "results not available yet: the worker has not written them")
        etag = '"' + hashlib.sha1(results["generated_at"].encode()).hexdigest()[:16] + '"'
        generated = datetime.fromisoformat(results["generated_at"])
        response.set_header("Cache-Control", f"public, max-age={results_max_age}")
        response.set_header("ETag", etag)
        response.set_header("Last-Modified", format_datetime(generated.astimezone(UTC), True))
        if request.get_header("If-None-Match") == etag:
            return HTTPResponse(status=304, headers=dict(response.headers))
        return {**results, "staleness_seconds": round(staleness(results), 3)}

    @app.get("/results/<chart>.png")
    def get_chart(chart: str):
        if chart not in CHARTS:
            raise fail(404, f"no chart {chart[:40]!r}; charts: {', '.join(CHARTS)}")
        if not (Path(cache_dir) / f"{chart}.png").exists():
            raise fail(503, "chart not available yet: the worker has not written it")
        reply = static_file(f"{chart}.png", root=str(cache_dir), mimetype="image/png")
        reply.set_header("Cache-Control", f"public, max-age={results_max_age}")
        return reply

    @app.get("/health")
    def health():
        results = cache.read()
        broker = publisher().reachable()
        age = None if results is None else round(staleness(results), 3)
        response.status = 200 if broker else 503
        return {
            "kiosk_id": kiosk_id,
            "kiosk": "up",
            "broker_reachable": broker,
            "cache_age_seconds": age,
        }

    @app.get("/")
    def page():
        response.content_type = "text/html; charset=utf-8"
        return kiosk_page(kiosk_id, candidates)

    @app.get("/kiosk.js")
    def script():
        return static_file("kiosk.js", root=str(_STATIC), mimetype="text/javascript")

    def _error(error):
        response.content_type = "application/json"
        reason = error.body if isinstance(error.body, str) and error.status_code < 500 else None
        return json.dumps({"error": reason or error.status_line})

    for status in (400, 404, 405, 413, 500):
        app.error(status)(_error)
    return app


def kiosk_page(kiosk_id: str, candidates: dict[str, Candidate]) -> str:
    """The kiosk screen: one button per candidate, the last vote's confirmation, the chart."""
    buttons = "\n".join(
        f'<button class="vote" data-candidate="{html.escape(c.id)}">{html.escape(c.name)}</button>'
        for c in candidates.values()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kiosk {html.escape(kiosk_id)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: sans-serif; margin: 2em; text-align: center; }}
button.vote {{ font-size: 2.2em; margin: 0.4em; padding: 0.6em 1.2em; min-width: 6em; }}
#status {{ font-size: 1.4em; min-height: 1.6em; margin: 0.6em; }}
img {{ max-width: 95%; }}
</style></head>
<body>
<h1>Vote</h1>
<div id="buttons">{buttons}</div>
<div id="status" role="status"></div>
<div id="totals"></div>
<img id="chart" alt="results chart" src="results/totals.png">
<script src="kiosk.js"></script>
</body></html>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A voting kiosk (see the module docstring).")
    parser.add_argument("--kiosk-id", required=True, help="this kiosk's id (1-32 of A-Za-z0-9_-)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--threads", type=int, default=8, help="server threads")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s kiosk %(levelname)s %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    try:
        config = load_config()
        kiosk_id = check_kiosk_id(args.kiosk_id)
        candidates = parse_candidates(config.candidates)
    except ConfigError as exc:
        logger.error("%s", exc)
        return 2
    app = make_app(
        kiosk_id,
        candidates,
        lambda: VotePublisher(config.amqp_url, config.votes_queue),
        config.cache_dir,
    )
    from waitress import serve

    logger.info(
        "kiosk %s on http://%s:%d/ (queue %s, cache %s)",
        kiosk_id,
        args.host,
        args.port,
        config.votes_queue,
        config.cache_dir,
    )
    serve(
        app,
        host=args.host,
        port=args.port,
        threads=args.threads,
        ident="kiosk",
        max_request_body_size=64 * 1024,
        clear_untrusted_proxy_headers=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
