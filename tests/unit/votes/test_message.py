"""The vote message: validation of HTTP bodies, encode/decode, buckets, candidates, results."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.errors import ConfigError
from lib.votes.cache import CachedResults, chart_data, staleness, write_results
from lib.votes.message import (
    MAX_BODY_BYTES,
    MAX_MESSAGE_BYTES,
    Candidate,
    Vote,
    VoteError,
    bucket_start,
    check_cast_at,
    check_kiosk_id,
    decode,
    encode,
    parse_candidates,
    vote_from_request,
)
from lib.votes.settings import DEFAULT_CANDIDATES
from lib.votes.store import build_results

CANDIDATES = parse_candidates(DEFAULT_CANDIDATES)
NOW = datetime(2026, 11, 28, 12, 34, 56, 789000, tzinfo=UTC)
JSON = "application/json"


def test_default_candidates_are_the_originals():
    assert list(CANDIDATES) == ["1", "2", "3"]
    assert CANDIDATES["1"] == Candidate("1", "薯片 chips")
    assert [c.label for c in CANDIDATES.values()] == ["1 chips", "2 lam lam", "3 justice"]
    assert Candidate("7", "正氣").label == "7"


@pytest.mark.parametrize(
    "spec", ["", " , ", "1", "1=", "=name", "1=a,1=b", "a b=x", "x" * 17 + "=y"]
)
def test_bad_candidate_lists_are_refused(spec):
    with pytest.raises(ConfigError, match="CANDIDATES"):
        parse_candidates(spec)


def test_kiosk_ids():
    assert check_kiosk_id("42") == "42"
    for bad in ("", "a b", "x" * 33, "k/1"):
        with pytest.raises(ConfigError):
            check_kiosk_id(bad)


def test_a_valid_body_becomes_a_stamped_vote():
    vote = vote_from_request(b'{"candidate": "2"}', JSON, "k9", CANDIDATES, NOW)
    assert (vote.candidate, vote.kiosk_id, vote.cast_at) == ("2", "k9", NOW)
    assert len(vote.vote_id) == 32
    same = vote_from_request(
        b'{"candidate": 3, "vote_id": "client-made_01"}',
        "application/json; charset=utf-8",
        "k9",
        CANDIDATES,
        NOW,
    )
    assert (same.candidate, same.vote_id) == ("3", "client-made_01")


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"candidate": "1"}', "text/plain", 415),
        (b'{"candidate": "1"}', None, 415),
        (b"x" * (MAX_BODY_BYTES + 1), JSON, 413),
        (b'{"candidate": "4"}', JSON, 400),
        (b'{"candidate": true}', JSON, 400),
        (b'{"candidate": null}', JSON, 400),
        (b"{}", JSON, 400),
        (b"[]", JSON, 400),
        (b'"1"', JSON, 400),
        (b"", JSON, 400),
        (b"\xff", JSON, 400),
        (b'{"candidate": "1", "vote_id": 12345678}', JSON, 400),
        (b'{"candidate": "1", "vote_id": null}', JSON, 400),
        (b'{"candidate": "1", "vote_id": "short"}', JSON, 400),
        (b'{"candidate": "1", "vote_id": "has space 123"}', JSON, 400),
        (b'{"candidate": "1", "kiosk_id": "forged"}', JSON, 400),
    ],
)
def test_bad_bodies_are_refused_with_a_status_and_reason(body, content_type, status):
    with pytest.raises(VoteError) as caught:
        vote_from_request(body, content_type, "k1", CANDIDATES, NOW)
    assert caught.value.status == status and caught.value.reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 1000, "body nests deeper than 8 levels"),
        (b"[" * 9 + b"]" * 9, "body nests deeper than 8 levels"),
        (b'{"x": ' * 9 + b"1" + b"}" * 9, "body nests deeper than 8 levels"),
        (b'{"candidate": "2", "candidate": "1"}', "body repeats the key 'candidate'"),
        (b'{"candidate": "1", "\\u0063andidate": "2"}', "body repeats the key 'candidate'"),
        (b'{"candidate": "1", "vote_id": "abcdefgh\\n"}', "vote_id must be 8-64"),
    ],
)
def test_deep_repeated_or_newline_ended_bodies_are_a_400_with_a_reason(body, reason):
    with pytest.raises(VoteError) as caught:
        vote_from_request(body, JSON, "k1", CANDIDATES, NOW)
    assert (caught.value.status, caught.value.reason[: len(reason)]) == (400, reason)


def test_brackets_inside_strings_are_not_nesting():
    body = b'{"candidate": "1", "vote_id": "[[[[[[[[[["}'  # refused for its id, not its depth
    with pytest.raises(VoteError, match="vote_id must be"):
        vote_from_request(body, JSON, "k1", CANDIDATES, NOW)
    deep_enough = b"[" * 8 + b"]" * 8
    with pytest.raises(VoteError, match="must be a JSON object"):
        vote_from_request(deep_enough, JSON, "k1", CANDIDATES, NOW)


@given(body=st.binary(max_size=300), content_type=st.sampled_from([JSON, "text/plain", None]))
def test_any_body_is_a_vote_or_a_vote_error(body, content_type):
    try:
        vote = vote_from_request(body, content_type, "k1", CANDIDATES, NOW)
    except VoteError as exc:
        assert exc.status in (400, 413, 415)
    else:
        assert vote.candidate in CANDIDATES


@given(data=st.dictionaries(st.sampled_from(["candidate", "vote_id", "x"]), st.text(max_size=70)))
def test_any_json_object_is_a_vote_or_a_400(data):
    body = json.dumps(data).encode()  # non-ASCII escaped: up to 12 bytes a character
    try:
        vote = vote_from_request(body, JSON, "k1", CANDIDATES, NOW)
    except VoteError as exc:
        assert exc.status == (413 if len(body) > MAX_BODY_BYTES else 400)
    else:
        assert vote.candidate == data["candidate"]


def test_encode_decode_round_trip():
    vote = Vote("abcdefgh", "1", "kiosk-7", NOW)
    assert decode(encode(vote), CANDIDATES, "kiosk-7") == vote
    local = Vote("abcdefgh", "1", "k1", NOW.astimezone(timezone(timedelta(hours=-4))))
    assert decode(encode(local), CANDIDATES, "k1").cast_at == NOW
    # the identity is the broker-checked user, whatever the body claims
    assert decode(encode(vote), CANDIDATES, "kiosk-9").kiosk_id == "kiosk-9"


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"vote_id": "x"},
        {"candidate": "9"},
        {"candidate": "1'; DROP TABLE votes;--"},
        {"cast_at": "soon"},
        {"cast_at": "2026-11-28T12:00:00"},
        {"cast_at": None},
    ],
)
def test_decode_refuses_what_is_not_a_vote(change):
    message = json.loads(encode(Vote("abcdefgh", "1", "k1", NOW)))
    with pytest.raises(VoteError):
        decode(json.dumps({**message, **change}).encode(), CANDIDATES, "k1")
    with pytest.raises(VoteError, match="not UTF-8 JSON"):
        decode(b"\xff", CANDIDATES, "k1")


GOOD = {
    "v": 1,
    "vote_id": "abcdefgh",
    "candidate": "1",
    "kiosk_id": "k1",
    "cast_at": NOW.isoformat(),
}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({**GOOD, "cast_at": "0001-01-01T00:00:00+14:00"}, "out of range"),  # year 0 in UTC
        ({**GOOD, "cast_at": "9999-12-31T23:59:59-14:00"}, "out of range"),  # year 10000
        ({**GOOD, "cast_at": "0001-01-01T00:00:00+00:00"}, "out of range"),
        ({**GOOD, "cast_at": "9999-12-31T23:59:59+00:00"}, "out of range"),
        ({**GOOD, "cast_at": "1969-12-31T23:59:59+00:00"}, "out of range"),
        ({**GOOD, "cast_at": "2026-11-28T12:00:00" + " " * 60 + "Z"}, "no valid cast_at"),
        ({**GOOD, "cast_at": 1764331200}, "no valid cast_at"),
        ({**GOOD, "cast_at": ["2026-11-28T12:00:00Z"]}, "no valid cast_at"),
        ({**GOOD, "v": True}, "not a version 1 vote"),
        ({**GOOD, "v": 1.0}, "not a version 1 vote"),
        ({**GOOD, "vote_id": "abcdefgh\n"}, "no valid vote_id"),
        ({**GOOD, "vote_id": "abcd\x00efgh"}, "no valid vote_id"),
        ({**GOOD, "vote_id": 12345678}, "no valid vote_id"),
        ({**GOOD, "candidate": "1\x00"}, "unknown candidate"),
        ({**GOOD, "candidate": "1\n"}, "unknown candidate"),
        ({**GOOD, "candidate": None}, "unknown candidate"),
        ({**GOOD, "extra": "x"}, "unexpected fields"),
        ('{"v": 1, "v": 1, "vote_id": "abcdefgh"}', "message repeats the key 'v'"),
        ("[" * 100000, "message larger than"),
        ("[" * 1000, "message nests deeper than 8 levels"),
        ('{"x": ' * 9 + "1" + "}" * 9, "message nests deeper than 8 levels"),
        ("1" * 4000, "not a version 1 vote"),
        ("9" * 5000, "message larger than"),
        ('{"v": 1e999999}', "not a version 1 vote"),
        ("NaN", "not a version 1 vote"),
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"", "not UTF-8 JSON"),
        (b" " * (MAX_MESSAGE_BYTES + 1), "message larger than"),
    ],
)
def test_decode_dead_letters_every_poison_with_its_reason(body, reason):
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    with pytest.raises(VoteError) as caught:
        decode(body, CANDIDATES, "k1")
    assert reason in caught.value.reason and caught.value.status == 400


def test_decode_takes_times_at_the_edges_of_its_range_with_any_offset():
    for cast_at, utc in [
        ("1970-01-01T00:00:00+00:00", datetime(1970, 1, 1, tzinfo=UTC)),
        ("1970-01-01T13:59:00+13:59", datetime(1970, 1, 1, 0, 0, tzinfo=UTC)),
        ("9998-12-31T23:59:59.999999+00:00", datetime(9998, 12, 31, 23, 59, 59, 999999, UTC)),
        ("2026-11-28T12:00:00-23:59", datetime(2026, 11, 29, 11, 59, tzinfo=UTC)),
        ("2026-11-28T12:00Z", datetime(2026, 11, 28, 12, tzinfo=UTC)),
    ]:
        vote = decode(json.dumps({**GOOD, "cast_at": cast_at}).encode(), CANDIDATES, "k1")
        assert vote.cast_at == utc and vote.cast_at.tzinfo is UTC


@given(body=st.binary(max_size=MAX_MESSAGE_BYTES + 10))
def test_any_bytes_are_a_vote_or_a_vote_error(body):
    try:
        vote = decode(body, CANDIDATES, "k1")
    except VoteError as exc:
        assert exc.status == 400 and exc.reason
    else:
        assert vote.candidate in CANDIDATES


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(
    changes=st.dictionaries(
        st.sampled_from([*GOOD, "x"]),
        _JSON_VALUES
        | st.datetimes(
            timezones=st.timezones()
            | st.builds(
                timezone,
                st.timedeltas(
                    min_value=timedelta(hours=-23, minutes=-59),
                    max_value=timedelta(hours=23, minutes=59),
                ),
            )
        ).map(datetime.isoformat),
    ),
    dropped=st.sets(st.sampled_from(list(GOOD))),
    user_id=st.none() | st.sampled_from(["k1", "kiosk-7", ""]) | st.text(max_size=70),
)
def test_any_message_at_the_fields_edges_is_a_vote_or_a_vote_error(changes, dropped, user_id):
    data = {k: v for k, v in {**GOOD, **changes}.items() if k not in dropped}
    body = json.dumps(data, allow_nan=True).encode()
    try:
        vote = decode(body, CANDIDATES, user_id)
    except VoteError as exc:
        assert exc.status == 400 and exc.reason
    else:
        assert vote.kiosk_id == user_id and vote.candidate == data["candidate"]
        assert datetime(1970, 1, 1, tzinfo=UTC) <= vote.cast_at < datetime(9999, 1, 1, tzinfo=UTC)


def test_a_vote_later_than_the_clock_plus_skew_or_before_the_opening_is_refused():
    skew = timedelta(seconds=30)
    at = lambda when: Vote("abcdefgh", "1", "k1", when)  # noqa: E731
    # later than the clock, within the skew: counted, at the clock (not cast after it arrived)
    assert check_cast_at(at(NOW + skew), NOW, skew) == at(NOW)
    assert check_cast_at(at(NOW - timedelta(seconds=1)), NOW, skew) == at(
        NOW - timedelta(seconds=1)
    )
    assert check_cast_at(at(NOW - timedelta(days=3)), NOW, skew).cast_at < NOW  # never too old
    with pytest.raises(VoteError, match="later than the worker's clock .* plus VOTE_CLOCK_SKEW"):
        check_cast_at(at(NOW + skew + timedelta(microseconds=1)), NOW, skew)
    opens = NOW - timedelta(hours=1)
    assert check_cast_at(at(opens), NOW, skew, opens).cast_at == opens
    with pytest.raises(VoteError, match="before the vote opened"):
        check_cast_at(at(opens - timedelta(microseconds=1)), NOW, skew, opens)


@pytest.mark.parametrize("user_id", [None, "", "k 1", "x" * 65])
def test_decode_refuses_a_message_without_a_broker_checked_user(user_id):
    with pytest.raises(VoteError, match="user_id"):
        decode(encode(Vote("abcdefgh", "1", "k1", NOW)), CANDIDATES, user_id)


def test_buckets_are_ten_minutes_aligned_in_utc():
    assert bucket_start(NOW) == datetime(2026, 11, 28, 12, 30, tzinfo=UTC)
    edge = datetime(2026, 11, 28, 8, 39, 59, 999999, tzinfo=timezone(timedelta(hours=-4)))
    assert bucket_start(edge) == datetime(2026, 11, 28, 12, 30, tzinfo=UTC)


def _rows():
    b1, b2 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC), datetime(2026, 11, 28, 12, 10, tzinfo=UTC)
    return [
        {"bucket": b2, "candidate": "2", "votes": 5},
        {"bucket": b1, "candidate": "1", "votes": 3},
        {"bucket": b1, "candidate": "retired", "votes": 2},
    ]


def test_results_fill_every_candidate_and_keep_unknown_votes_as_other():
    results = build_results(_rows(), [{"candidate": "2", "votes": 5}], CANDIDATES, NOW)
    assert results["totals"] == {"1": 3, "2": 5, "3": 0}
    assert results["other_votes"] == 2 and results["total_votes"] == 10
    assert results["last_10_minutes"] == {"1": 0, "2": 5, "3": 0}
    assert [b["bucket"] for b in results["distribution"]] == [
        "2026-11-28T12:00:00+00:00",
        "2026-11-28T12:10:00+00:00",
    ]
    assert results["distribution"][0]["votes"] == {"1": 3, "2": 0, "3": 0}
    assert results["generated_at"] == NOW.isoformat()


def test_cache_is_written_whole_and_reread_only_when_changed(tmp_path):
    results = build_results(_rows(), [], CANDIDATES, NOW)
    write_results(tmp_path, results)
    assert {p.name for p in tmp_path.iterdir()} == {"results.json", "totals.png", "timeline.png"}
    assert (tmp_path / "totals.png").read_bytes().startswith(b"\x89PNG")
    cache = CachedResults(tmp_path / "results.json")
    snapshot = cache.read()
    assert snapshot.document == json.loads(json.dumps(results, default=str))
    served = json.loads(snapshot.prefix + b',"staleness_seconds":1.5}')
    assert served == {**snapshot.document, "staleness_seconds": 1.5}
    assert cache.read() is snapshot  # unchanged file: not re-read
    later = build_results(_rows()[:1], [], CANDIDATES, NOW + timedelta(seconds=3))
    assert chart_data(later) != chart_data(results)
    write_results(tmp_path, later, charts=False)
    assert cache.read().document["total_votes"] == 5 and cache.read().etag != snapshot.etag
    generated = datetime.fromisoformat(later["generated_at"])
    assert staleness(generated, NOW + timedelta(seconds=10)) == pytest.approx(7)
    assert CachedResults(tmp_path / "missing.json").read() is None


def test_a_chart_that_fails_to_draw_does_not_hold_back_the_figures(tmp_path, monkeypatch):
    from lib.votes import charts

    def broken(results):
        raise ValueError("a chart that cannot be drawn")

    monkeypatch.setattr(charts, "vote_timeline_chart", broken)
    results = build_results(_rows(), [], CANDIDATES, NOW)
    with pytest.raises(ValueError, match="cannot be drawn"):
        write_results(tmp_path, results)
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["total_votes"] == results["total_votes"] == 10


def test_token_bucket_allows_bursts_then_the_rate():
    from lib.votes.rate_limit import TokenBucket

    now = [0.0]
    bucket = TokenBucket(rate=5, burst=10, clock=lambda: now[0])
    assert sum(bucket.allow() for _ in range(20)) == 10  # the burst
    now[0] += 1.0
    assert sum(bucket.allow() for _ in range(20)) == 5  # a second's worth
    now[0] += 100.0
    assert sum(bucket.allow() for _ in range(20)) == 10  # never more than the burst
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)
