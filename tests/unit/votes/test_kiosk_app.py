"""The kiosk's Bottle app in-process, through the WSGI validator, with a stand-in publisher: every
status code, header and error reason in milliseconds, no sockets. The same app against the real
RabbitMQ over a socket: tests/integration/votes/."""

from __future__ import annotations

import io
import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import pytest

from lib.votes.broker import BrokerUnavailable
from lib.votes.cache import write_results
from lib.votes.http_rules import HostPolicy, parse_hosts
from lib.votes.message import MAX_BODY_BYTES, Vote, VoteError, parse_candidates
from lib.votes.settings import DEFAULT_CANDIDATES
from lib.votes.store import build_results
from service.kiosk import SECURITY_HEADERS, make_app, read_body

CANDIDATES = parse_candidates(DEFAULT_CANDIDATES)
JSON = "application/json"


class StandInPublisher:
    """Takes votes as the real publisher would, or fails as a lost broker makes it fail."""

    def __init__(
        self,
        failure: Exception | None = None,
        reachable: bool = True,
        refused: str | None = None,
        blocked: str | None = None,
    ):
        self.votes: list[Vote] = []
        self.failure = failure
        self.is_reachable = reachable
        self.refused = refused  # why it refuses every vote (the queue checked), if it does
        self.is_blocked = blocked  # why the broker blocks publishing, while it does

    def publish(self, vote: Vote) -> None:
        if self.failure is not None:
            raise self.failure
        self.votes.append(vote)

    def reachable(self) -> bool:
        return self.is_reachable

    def refusal(self) -> str | None:
        return self.is_blocked or self.refused

    def blocked(self) -> str | None:
        return self.is_blocked


class Reply:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes):
        self.status = int(status.split()[0])
        self.headers = {name.lower(): value for name, value in headers}
        self.body = body

    def json(self) -> dict:
        assert self.headers["content-type"].startswith(JSON)
        return json.loads(self.body)

    @property
    def reason(self) -> str:
        return self.json()["error"]


def call(
    app, method: str, path: str, body: bytes = b"", client: str = "127.0.0.1", **headers: str
) -> Reply:
    """One request from ``client`` through ``wsgiref.validate`` (which fails on any breach of
    the WSGI spec)."""
    environ: dict = {
        "REMOTE_ADDR": client,
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    setup_testing_defaults(environ)
    started: list = []

    def start_response(status, response_headers, exc_info=None):
        started[:] = [status, response_headers]
        return lambda data: None

    result = validator(app)(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        result.close()
    return Reply(*started, body)


@pytest.fixture
def publisher() -> StandInPublisher:
    return StandInPublisher()


@pytest.fixture
def kiosk(tmp_path, publisher):
    return make_app("k7", CANDIDATES, lambda: publisher, tmp_path)


def vote(app, body: dict | bytes, content_type: str = JSON, **headers: str) -> Reply:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return call(app, "POST", "/votes", data, content_type=content_type, **headers)


def vote_from(app, client: str, **headers: str) -> int:
    """A valid vote from the address ``client``: its status."""
    return call(
        app, "POST", "/votes", b'{"candidate": "1"}', client, content_type=JSON, **headers
    ).status


def test_a_vote_is_published_then_answered_202(kiosk, publisher):
    reply = vote(kiosk, {"candidate": "2", "vote_id": "retry-me-123"})
    assert reply.status == 202
    assert reply.json() == {"vote_id": "retry-me-123", "candidate": "2", "kiosk_id": "k7"}
    (published,) = publisher.votes
    assert (published.vote_id, published.candidate, published.kiosk_id) == (
        "retry-me-123",
        "2",
        "k7",
    )
    made_up = vote(kiosk, {"candidate": 3}).json()  # an integer id, and no vote_id
    assert made_up["candidate"] == "3" and len(made_up["vote_id"]) == 32


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (b"{", JSON, 400, "body is not valid JSON"),
        (b'{"candidate": "\xff"}', JSON, 400, "body is not UTF-8"),
        (b'["1"]', JSON, 400, "body must be a JSON object"),
        (b'{"candidate": "9"}', JSON, 400, "candidate must be one of 1, 2, 3"),
        (b'{"candidate": "1", "extra": 1}', JSON, 400, "unexpected fields: 'extra'"),
        (b'{"candidate": "1", "vote_id": "short"}', JSON, 400, "vote_id must be 8-64"),
        (b'{"candidate": "1"}', "text/plain", 415, "Content-Type must be application/json"),
        (b'{"candidate": "1"}', "", 415, "Content-Type must be application/json"),
        (b" " * (MAX_BODY_BYTES + 1), JSON, 413, f"body too large (over {MAX_BODY_BYTES} bytes)"),
        (b"[" * 1000, JSON, 400, "body nests deeper than 8 levels"),
        (b'{"candidate": "2", "candidate": "1"}', JSON, 400, "body repeats the key 'candidate'"),
        (b'{"candidate": "1", "vote_id": "abcdefgh\\n"}', JSON, 400, "vote_id must be 8-64"),
    ],
)
def test_bad_votes_get_their_reason_and_publish_nothing(
    kiosk, publisher, body, content_type, status, reason
):
    reply = vote(kiosk, body, content_type)
    assert (reply.status, reply.reason[: len(reason)]) == (status, reason)
    assert publisher.votes == []


class CountingInput(io.BytesIO):
    """A request body that records how much of it was read."""

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self.taken = getattr(self, "taken", 0) + len(data)
        return data


@pytest.mark.parametrize(
    ("length", "terminated", "status"),
    [("5000", False, 413), ("", True, 413), ("x1", False, 400)],
)
def test_a_body_is_never_read_past_the_limit(length, terminated, status):
    body = CountingInput(b"[" * 5000)  # e.g. a chunked body a server de-chunks as it is read
    environ = {"CONTENT_LENGTH": length, "wsgi.input": body, "wsgi.input_terminated": terminated}
    with pytest.raises(VoteError) as refused:
        read_body(environ, MAX_BODY_BYTES)
    assert refused.value.status == status
    assert getattr(body, "taken", 0) <= MAX_BODY_BYTES + 1


def test_without_a_length_or_an_end_there_is_no_body():
    environ = {"CONTENT_LENGTH": "", "wsgi.input": io.BytesIO(b"never read")}
    assert read_body(environ, MAX_BODY_BYTES) == b""


def test_a_broker_that_cannot_take_the_vote_is_a_503_that_claims_nothing(tmp_path):
    down = StandInPublisher(failure=BrokerUnavailable("broker unreachable: not connected"))
    app = make_app("k7", CANDIDATES, lambda: down, tmp_path)
    reply = vote(app, {"candidate": "1", "vote_id": "abcdefgh"})
    assert reply.status == 503
    assert "retry with the same vote_id" in reply.reason
    assert down.votes == []


def test_an_unexpected_failure_is_a_500_without_a_traceback(tmp_path):
    broken = StandInPublisher(failure=RuntimeError("secret internals"))
    app = make_app("k7", CANDIDATES, lambda: broken, tmp_path)
    reply = vote(app, {"candidate": "1"})
    assert reply.status == 500
    assert reply.reason == "500 Internal Server Error"
    assert b"secret internals" not in reply.body and b"Traceback" not in reply.body


def test_a_token_is_required_when_set(tmp_path, publisher):
    app = make_app("k7", CANDIDATES, lambda: publisher, tmp_path, token="s3cret-token")
    for given in ({}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret-token"}):
        reply = vote(app, {"candidate": "1"}, **given)
        assert reply.status == 401 and "Authorization: Bearer <token>" in reply.reason
    assert publisher.votes == []
    assert vote(app, {"candidate": "1"}, authorization="Bearer s3cret-token").status == 202


def test_over_the_rate_limit_is_a_429(tmp_path, publisher):
    app = make_app("k7", CANDIDATES, lambda: publisher, tmp_path, rate_limit=1)  # bursts of 2
    statuses = [vote(app, {"candidate": "1"}).status for _ in range(4)]
    assert statuses[:2] == [202, 202] and statuses[2:] == [429, 429]
    assert vote(app, {"candidate": "1"}).reason == "too many votes from this client; slow down"
    assert len(publisher.votes) == 2


def test_one_clients_flood_does_not_refuse_another(tmp_path, publisher):
    app = make_app("k7", CANDIDATES, lambda: publisher, tmp_path, rate_limit=1)
    flood = [vote_from(app, "10.0.0.66") for _ in range(20)]
    assert flood.count(202) == 2 and flood.count(429) == 18
    assert [vote_from(app, "10.0.0.7"), vote_from(app, "10.0.0.7")] == [202, 202]
    # IPv6 addresses are counted per /64: a host cannot take a fresh address per vote
    assert [vote_from(app, f"2001:db8::{i}") for i in range(3)] == [202, 202, 429]
    assert vote_from(app, "2001:db8:0:1::1") == 202


def test_unauthenticated_requests_spend_no_rate_budget(tmp_path, publisher):
    app = make_app("k7", CANDIDATES, lambda: publisher, tmp_path, token="s3cret", rate_limit=1)
    assert {vote_from(app, "127.0.0.1") for _ in range(20)} == {401}
    good = {"authorization": "Bearer s3cret"}
    assert [vote_from(app, "127.0.0.1", **good) for _ in range(3)] == [202, 202, 429]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"host": "evil.example:80"}, "Host 'evil.example:80' is not a name this kiosk serves"),
        ({"host": "127.0.0.1:8080"}, "Host '127.0.0.1:8080' is not a name"),  # not our port
        ({"host": "127.0.0.1.evil.example"}, "Host '127.0.0.1.evil.example' is not"),
        ({"origin": "http://evil.example"}, "Origin 'http://evil.example' is not this kiosk's"),
        ({"origin": "null"}, "Origin 'null' is not this kiosk's own page"),
        ({"origin": "http://127.0.0.1:8080"}, "Origin 'http://127.0.0.1:8080' is not"),
    ],
)
def test_a_vote_for_a_host_or_from_a_page_not_the_kiosks_own_is_a_403(
    kiosk, publisher, headers, reason
):
    reply = vote(kiosk, {"candidate": "1"}, **headers)  # the app listens on port 80 here
    assert (reply.status, reply.reason[: len(reason)]) == (403, reason)
    assert publisher.votes == []


def test_the_kiosks_own_page_and_clients_without_a_page_may_vote(tmp_path, kiosk, publisher):
    for headers in (
        {},  # curl, the load bench: no Origin
        {"origin": "http://127.0.0.1"},
        {"host": "localhost", "origin": "http://localhost"},
        {"host": "LOCALHOST:80"},
        {"host": "[::1]:80", "origin": "http://[::1]:80"},
    ):
        assert vote(kiosk, {"candidate": "1"}, **headers).status == 202, headers
    named = make_app(
        "k7",
        CANDIDATES,
        lambda: publisher,
        tmp_path,
        hosts=HostPolicy.serving("0.0.0.0", parse_hosts("kiosk.example.org:443")),
    )
    assert (
        vote_from(named, "10.0.0.2", host="kiosk.example.org", origin="https://kiosk.example.org")
        == 202
    )
    assert vote_from(named, "10.0.0.2", host="127.0.0.1") == 403  # not named: not served


def test_refusals_are_counted_in_health_and_logged_without_flooding(kiosk, caplog):
    caplog.set_level(logging.INFO, logger="lib.votes.refusals")
    for _ in range(30):
        vote(kiosk, b"{")
    vote(kiosk, {"candidate": "1"}, host="evil.example")
    call(kiosk, "GET", "/nothing")
    counts = call(kiosk, "GET", "/health").json()["refusals"]
    assert counts == {"400": 30, "403": 1, "404": 1}
    lines = [r.getMessage() for r in caplog.records if r.name == "lib.votes.refusals"]
    assert lines == ["refused 400 to 127.0.0.1: body is not valid JSON"]  # one line a second


def test_wrong_method_and_unknown_path_answer_in_json(kiosk):
    wrong = call(kiosk, "GET", "/votes")
    assert wrong.status == 405 and wrong.headers["allow"] == "POST"
    assert wrong.reason  # a reason, in JSON
    missing = call(kiosk, "GET", "/nothing/here")
    assert missing.status == 404 and missing.reason


def test_security_headers_on_every_answer(kiosk):
    answers = [call(kiosk, "GET", path) for path in ("/", "/health", "/openapi.json")]
    answers += [
        vote(kiosk, b"{"),  # 400
        call(kiosk, "GET", "/nothing"),  # 404
        call(kiosk, "GET", "/votes"),  # 405
        call(kiosk, "GET", "/results"),  # 503
    ]
    assert [reply.status for reply in answers] == [200, 200, 200, 400, 404, 405, 503]
    for reply in answers:
        for name, value in SECURITY_HEADERS.items():
            assert reply.headers[name.lower()] == value, (reply.status, name)


def write_cache(cache_dir: Path, totals: dict[str, int]) -> dict:
    when = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # in the past: staleness > 0
    rows = [{"bucket": when, "candidate": c, "votes": n} for c, n in totals.items()]
    results = build_results(rows, [], CANDIDATES, when)
    write_results(cache_dir, results, charts=False)
    return results


def test_results_come_from_the_cache_with_caching_headers(tmp_path, kiosk):
    before = call(kiosk, "GET", "/results")
    assert before.status == 503 and "not available yet" in before.reason

    written = write_cache(tmp_path, {"1": 3, "2": 1})
    reply = call(kiosk, "GET", "/results")
    served = reply.json()
    assert reply.status == 200 and served["totals"] == written["totals"]
    assert served["staleness_seconds"] > 0
    assert reply.headers["cache-control"] == "public, max-age=1"
    assert reply.headers["last-modified"] == "Sat, 28 Nov 2026 12:00:00 GMT"
    etag = reply.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')

    same = call(kiosk, "GET", "/results", if_none_match=etag)
    assert (same.status, same.body, same.headers["etag"]) == (304, b"", etag)
    write_cache(tmp_path, {"1": 4, "2": 1})
    changed = call(kiosk, "GET", "/results", if_none_match=etag)
    assert changed.status == 200 and changed.headers["etag"] != etag


@pytest.mark.parametrize("condition", ["W/{etag}", "*", '"other", {etag}', '"a",W/{etag} '])
def test_if_none_match_takes_weak_tags_star_and_lists(tmp_path, kiosk, condition):
    write_cache(tmp_path, {"1": 3})
    etag = call(kiosk, "GET", "/results").headers["etag"]
    same = call(kiosk, "GET", "/results", if_none_match=condition.format(etag=etag))
    assert (same.status, same.body) == (304, b"")
    other = call(kiosk, "GET", "/results", if_none_match=condition.format(etag='"stale"'))
    assert other.status == (304 if condition == "*" else 200)


def test_charts_come_from_the_cache(tmp_path, kiosk):
    assert call(kiosk, "GET", "/results/totals.png").status == 503
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 32
    (tmp_path / "totals.png").write_bytes(png)
    reply = call(kiosk, "GET", "/results/totals.png")
    assert (reply.status, reply.headers["content-type"], reply.body) == (200, "image/png", png)
    assert reply.headers["cache-control"] == "public, max-age=1"
    unknown = call(kiosk, "GET", "/results/secrets.png")
    assert unknown.status == 404 and "charts: totals, timeline" in unknown.reason


def test_health_says_whether_the_broker_is_reachable(tmp_path):
    up = make_app("k7", CANDIDATES, lambda: StandInPublisher(), tmp_path)
    reply = call(up, "GET", "/health")
    assert reply.status == 200
    assert reply.json() == {
        "kiosk_id": "k7",
        "kiosk": "up",
        "broker_reachable": True,
        "broker_blocked": None,
        "refusing_votes": None,
        "clock": None,
        "cache_age_seconds": None,
        "refusals": {},
    }
    write_cache(tmp_path, {"1": 1})
    assert call(up, "GET", "/health").json()["cache_age_seconds"] > 0
    down = make_app("k7", CANDIDATES, lambda: StandInPublisher(reachable=False), tmp_path)
    reply = call(down, "GET", "/health")
    assert reply.status == 503 and reply.json()["broker_reachable"] is False


def test_the_screen_script_and_api_document(kiosk):
    page = call(kiosk, "GET", "/")
    assert page.status == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    text = page.body.decode()
    assert 'data-candidate="1">薯片 chips</button>' in text and "<title>Kiosk k7</title>" in text
    assert 'src="results/totals.png"' in text and 'src="results/timeline.png"' in text
    script = call(kiosk, "GET", "/kiosk.js")
    assert script.status == 200 and script.headers["content-type"].startswith("text/javascript")
    document = call(kiosk, "GET", "/openapi.json").json()
    assert document["info"]["title"] == "Voting kiosk k7"
    ballot = document["components"]["schemas"]["Ballot"]["properties"]["candidate"]
    assert ballot["oneOf"] == [
        {"type": "string", "enum": ["1", "2", "3"]},
        {"type": "integer", "enum": [1, 2, 3]},  # {"candidate": 1} is taken too
    ]


def test_candidate_names_are_escaped_on_the_screen(tmp_path, publisher):
    hostile = parse_candidates('1=<script>alert("x")</script>')
    app = make_app("k7", hostile, lambda: publisher, tmp_path)
    text = call(app, "GET", "/").body.decode()
    assert "<script>alert" not in text and "&lt;script&gt;" in text


def test_one_publisher_per_process_made_on_first_use(tmp_path):
    made: list[StandInPublisher] = []

    def factory() -> StandInPublisher:
        made.append(StandInPublisher())
        return made[-1]

    app = make_app("k7", CANDIDATES, factory, tmp_path)
    assert made == []  # nothing made before a request needs it (e.g. before gunicorn forks)
    threads = [threading.Thread(target=vote, args=(app, {"candidate": "1"})) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and len(made[0].votes) == 8
