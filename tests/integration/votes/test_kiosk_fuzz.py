"""Arbitrary requests against the live kiosk (hypothesis): never a 5xx, never a traceback, and
a message on the queue for exactly the requests that got a 202."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.votes.cache import write_results
from lib.votes.message import parse_candidates
from lib.votes.settings import DEFAULT_CANDIDATES
from lib.votes.store import build_results

_URL_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters="#")
_TOKEN = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz-0123456789"), min_size=1, max_size=12)
_VALUE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)

paths = st.one_of(
    st.sampled_from(["/votes", "/results", "/results/totals.png", "/health", "/", "/kiosk.js"]),
    st.text(_URL_CHARS, max_size=40).map(lambda s: "/" + s),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"candidate": st.sampled_from(["1", "2", "3", "4", 1, "", "1 "])},
        optional={"vote_id": st.text(max_size=70), "x": json_values},
    ).map(lambda d: json.dumps(d).encode()),
    st.binary(min_size=1025, max_size=6000),
)
content_types = st.one_of(
    st.just("application/json"),
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "APPLICATION/JSON",
            "multipart/form-data",
        ]
    ),
    _VALUE,
)


def test_arbitrary_requests_never_fail_the_server_or_publish_unaccepted_votes(vote_system):
    candidates = parse_candidates(DEFAULT_CANDIDATES)  # results in the cache, so no 503 there
    write_results(vote_system.cache_dir, build_results([], [], candidates, datetime.now(UTC)))
    _, client = vote_system.start_kiosk()  # no worker: every published vote stays queued
    accepted = []

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        target=st.one_of(
            st.just(("POST", "/votes")),
            st.tuples(
                st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
                paths,
            ),
        ),
        body=bodies,
        content_type=content_types,
        extra=st.dictionaries(_TOKEN.map(lambda t: "x-" + t), _VALUE, max_size=3),
    )
    def probe(target, body, content_type, extra):
        method, path = target
        headers = dict(extra)
        if content_type is not None:
            headers["Content-Type"] = content_type
        status, reply_headers, reply = client.request(method, path, body, headers)
        assert status < 500, (method, path, body[:80], status, reply[:200])
        assert b"Traceback" not in reply
        if status >= 400 and method != "HEAD":
            assert reply_headers["content-type"].startswith("application/json"), (path, status)
            assert json.loads(reply)["error"]
        if status == 202:
            assert (method, path) == ("POST", "/votes")
            accepted.append(json.loads(reply)["vote_id"])

    probe()
    print(f"{len(accepted)} of the arbitrary requests were valid votes")
    assert vote_system.queue_depth() == len(set(accepted))
