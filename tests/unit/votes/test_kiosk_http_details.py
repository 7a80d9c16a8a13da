"""HTTP details of the kiosk, in-process: chart ETags and If-None-Match as RFC 9110 says, a path
that is not UTF-8 refused, the screen given the token only on this machine, and an OpenAPI
document that says what the app does."""

from __future__ import annotations

import json

import jsonschema
import pytest

from lib.votes.cache import CHARTS
from lib.votes.http_rules import HostPolicy, screen_may_hold_token
from lib.votes.message import parse_candidates
from service.kiosk import make_app
from tests.unit.votes.test_kiosk_app import CANDIDATES, StandInPublisher, call, vote

PNG = b"\x89PNG\r\n\x1a\n" + b"chart" * 10
TOKEN = 'kiosk-token-<&">0123'


@pytest.fixture
def publisher() -> StandInPublisher:
    return StandInPublisher()


@pytest.fixture
def kiosk(tmp_path, publisher):
    for chart in CHARTS:
        (tmp_path / f"{chart}.png").write_bytes(PNG + chart.encode())
    return make_app("k7", CANDIDATES, lambda: publisher, tmp_path)


def test_chart_etags_are_quoted_strong_validators_of_the_bytes(kiosk, tmp_path):
    reply = call(kiosk, "GET", "/results/totals.png")
    etag = reply.headers["etag"]
    assert reply.status == 200 and reply.body == PNG + b"totals"
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert reply.headers["last-modified"].endswith(" GMT")
    assert call(kiosk, "GET", "/results/timeline.png").headers["etag"] != etag
    (tmp_path / "totals.png").write_bytes(PNG + b"drawn again")
    assert call(kiosk, "GET", "/results/totals.png").headers["etag"] != etag


@pytest.mark.parametrize(
    ("condition", "matches"),
    [
        ("{etag}", True),
        ("W/{etag}", True),  # weak comparison (RFC 9110 13.1.2)
        ("*", True),
        ('"other", {etag}', True),
        ('"a",W/{etag} ', True),
        ('"other"', False),
        ('W/"other", "again"', False),
        ("{bare}", False),  # not quoted: not an entity tag
    ],
)
def test_if_none_match_on_a_chart(kiosk, condition, matches):
    etag = call(kiosk, "GET", "/results/totals.png").headers["etag"]
    reply = call(
        kiosk,
        "GET",
        "/results/totals.png",
        if_none_match=condition.format(etag=etag, bare=etag.strip('"')),
    )
    if matches:
        assert (reply.status, reply.body, reply.headers["etag"]) == (304, b"", etag)
        assert reply.headers["cache-control"] == "public, max-age=1"
    else:
        assert (reply.status, reply.body) == (200, PNG + b"totals")


def test_the_screens_script_is_revalidated_by_its_quoted_etag(kiosk):
    script = call(kiosk, "GET", "/kiosk.js")
    etag = script.headers["etag"]
    assert script.status == 200 and b"kiosk-token" in script.body
    assert etag.startswith('"') and script.headers["cache-control"] == "no-cache"
    for condition in (etag, f"W/{etag}", f'"x", {etag}', "*"):
        again = call(kiosk, "GET", "/kiosk.js", if_none_match=condition)
        assert (again.status, again.body) == (304, b""), condition
    assert call(kiosk, "GET", "/kiosk.js", if_none_match='"x"').status == 200


def test_a_missing_chart_is_not_modified_by_star(tmp_path):
    app = make_app("k7", CANDIDATES, lambda: StandInPublisher(), tmp_path)
    assert call(app, "GET", "/results/totals.png", if_none_match="*").status == 503


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/vo\xfftes"),  # /vo%fftes: Bottle alone would route it to /votes
        ("GET", "/results/tot\xffals.png"),
        ("GET", "/\xc3"),  # a UTF-8 sequence cut short
        ("GET", "/health\xed\xa0\x80"),  # an encoded surrogate
    ],
)
def test_a_path_that_is_not_utf_8_is_a_400_with_its_reason(kiosk, publisher, method, path):
    reply = call(kiosk, method, path, b'{"candidate": "1"}', content_type="application/json")
    assert reply.status == 400
    assert reply.reason == "the request path is not UTF-8 once percent-decoded"
    assert publisher.votes == []


def test_a_utf_8_path_is_routed_as_before(kiosk):
    assert call(kiosk, "GET", "/r\xc3\xa9sults").status == 404  # /résults: not a path here
    assert call(kiosk, "GET", "/health").status == 200


def token_kiosk(tmp_path, publisher, **options):
    return make_app("k7", CANDIDATES, lambda: publisher, tmp_path, token=TOKEN, **options)


def held_token(reply) -> bool:
    return b'name="kiosk-token"' in reply.body


def test_the_screen_holds_the_token_for_a_browser_on_this_machine(tmp_path, publisher):
    app = token_kiosk(tmp_path, publisher)
    for client, host in (("127.0.0.1", "127.0.0.1"), ("::1", "[::1]:80"), ("127.0.0.1", None)):
        headers = {"host": host} if host else {}  # None: the WSGI default, 127.0.0.1
        page = call(app, "GET", "/", client=client, **headers)
        assert page.status == 200 and held_token(page), (client, host)
        assert page.headers["cache-control"] == "no-store"
        assert '<meta name="kiosk-token" content="kiosk-token-&lt;&amp;&quot;&gt;0123">' in (
            page.body.decode()
        )
    local = call(app, "GET", "/", host="localhost")
    assert held_token(local)
    # what kiosk.js then sends is what the kiosk takes
    assert vote(app, {"candidate": "1"}, authorization=f"Bearer {TOKEN}").status == 202


@pytest.mark.parametrize(
    ("client", "headers"),
    [
        ("10.0.0.2", {}),  # another machine
        ("192.168.1.20", {"host": "127.0.0.1"}),  # another machine, naming loopback
        ("127.0.0.1", {"host": "evil.example"}),  # DNS rebinding: a page of another site
        ("127.0.0.1", {"host": "evil.example:80", "origin": "http://evil.example"}),
        ("127.0.0.1", {"x_forwarded_for": "203.0.113.9"}),  # through a proxy on this machine
        ("127.0.0.1", {"forwarded": "for=203.0.113.9"}),
        ("127.0.0.1", {"x_real_ip": "203.0.113.9"}),
    ],
)
def test_the_screen_holds_no_token_for_anyone_else(tmp_path, publisher, client, headers):
    page = call(token_kiosk(tmp_path, publisher), "GET", "/", client=client, **headers)
    assert page.status == 200 and not held_token(page) and TOKEN.encode() not in page.body
    assert page.headers["cache-control"] == "no-store"


def test_a_named_kiosk_gives_no_token_in_its_screen_and_none_is_held_without_one(
    tmp_path, publisher
):
    named = token_kiosk(
        tmp_path, publisher, hosts=HostPolicy.serving("0.0.0.0", ("kiosk.example.org",))
    )
    assert not held_token(call(named, "GET", "/", host="kiosk.example.org"))
    assert not held_token(call(named, "GET", "/"))  # 127.0.0.1: not a name it serves
    without = make_app("k7", CANDIDATES, lambda: publisher, tmp_path)
    page = call(without, "GET", "/")
    assert not held_token(page) and "cache-control" not in page.headers


def test_which_hosts_may_be_given_the_token():
    policy = HostPolicy.serving("0.0.0.0")
    assert screen_may_hold_token(policy, "127.0.0.2", "127.0.0.1:8080", "8080", False)
    assert not screen_may_hold_token(policy, "127.0.0.1", "127.0.0.1:9", "8080", False)
    assert not screen_may_hold_token(policy, "127.0.0.1", "", "8080", False)
    assert not screen_may_hold_token(policy, "127.0.0.1", "127.0.0.1", "8080", True)
    assert not screen_may_hold_token(policy, "not an address", "localhost", "80", False)


def _statuses(document: dict) -> dict[tuple[str, str], set[int]]:
    return {
        (method.upper(), path): {int(status) for status in operation["responses"]}
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def test_the_api_document_lists_every_status_the_kiosk_gives(tmp_path, kiosk):
    document = call(kiosk, "GET", "/openapi.json").json()
    statuses = _statuses(document)
    server = {400, 405, 408, 413, 431, 505}  # any request (service.kiosk_server)
    assert statuses == {
        ("POST", "/votes"): server | {202, 401, 403, 415, 429, 503},
        ("GET", "/results"): server | {200, 304, 503},
        ("GET", "/results/{chart}.png"): server | {200, 304, 404, 503},
        ("GET", "/health"): server | {200, 503},
    }
    etag = call(kiosk, "GET", "/results/totals.png").headers["etag"]
    given = {
        ("GET", "/results/{chart}.png"): {
            call(kiosk, "GET", "/results/totals.png").status,
            call(kiosk, "GET", "/results/totals.png", if_none_match=etag).status,
            call(kiosk, "GET", "/results/nothing.png").status,
            call(kiosk, "GET", "/results/\xff.png").status,
            call(kiosk, "POST", "/results/totals.png").status,
        },
        ("GET", "/results"): {
            call(kiosk, "GET", "/results").status,  # nothing written yet: 503
            call(kiosk, "DELETE", "/results").status,
        },
    }
    for operation, seen in given.items():
        assert seen <= statuses[operation], operation


@pytest.mark.parametrize(
    ("candidate", "accepted"),
    [("1", True), (1, True), (3, True), ("4", False), (4, False), (1.0, False), (True, False)],
)
def test_the_api_document_types_the_candidate_as_the_kiosk_takes_it(
    kiosk, publisher, candidate, accepted
):
    document = call(kiosk, "GET", "/openapi.json").json()
    ballot = document["components"]["schemas"]["Ballot"]
    valid = jsonschema.Draft4Validator(ballot).is_valid({"candidate": candidate})
    reply = vote(kiosk, {"candidate": candidate})
    assert valid is accepted and (reply.status == 202) is accepted, reply.body


def test_only_ids_written_as_integers_may_be_sent_as_integers(tmp_path, publisher):
    candidates = parse_candidates("01=zero one,7=seven,x=ex,-2=minus two")
    app = make_app("k7", candidates, lambda: publisher, tmp_path)
    schema = call(app, "GET", "/openapi.json").json()["components"]["schemas"]["Ballot"]
    named = schema["properties"]["candidate"]["oneOf"]
    assert named == [
        {"type": "string", "enum": ["01", "7", "x", "-2"]},
        {"type": "integer", "enum": [7, -2]},
    ]
    for candidate, status in ((7, 202), (-2, 202), (1, 400)):
        assert vote(app, {"candidate": candidate}).status == status
    letters = make_app("k7", parse_candidates("a=A,b=B"), lambda: publisher, tmp_path)
    document = call(letters, "GET", "/openapi.json").json()
    assert document["components"]["schemas"]["Ballot"]["properties"]["candidate"] == {
        "type": "string",
        "enum": ["a", "b"],
    }
    json.dumps(document)  # the document is JSON throughout
