"""Q3's settings from the environment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lib.errors import ConfigError
from lib.votes.message import Candidate
from lib.votes.settings import load_settings


def test_vote_settings_from_the_environment():
    settings = load_settings(
        {"VOTES_QUEUE": "votes.k1", "BATCH_SIZE": "50", "RESULTS_INTERVAL": "0.5"}
    )
    assert (settings.votes_queue, settings.batch_size, settings.results_interval) == (
        "votes.k1",
        50,
        0.5,
    )
    assert settings.batch_ms == 100 and settings.cache_dir.name == "results"
    for env, name in [
        ({"BATCH_SIZE": "many"}, "BATCH_SIZE"),
        ({"BATCH_MS": "0"}, "BATCH_MS"),
        ({"VOTES_QUEUE": "bad queue"}, "VOTES_QUEUE"),
        ({"CANDIDATES": "1=a,1=b"}, "CANDIDATES"),
    ]:
        with pytest.raises(ConfigError, match=name):
            load_settings(env)


def test_candidates_are_parsed_once_when_the_settings_are_read():
    settings = load_settings({"CANDIDATES": "7=seven, 8=八 eight"})
    assert settings.candidates == {"7": Candidate("7", "seven"), "8": Candidate("8", "八 eight")}


def test_overrides_stand_for_their_variables():
    settings = load_settings({"VOTES_QUEUE": "from_env"}, votes_queue="given", batch_size=None)
    assert (settings.votes_queue, settings.batch_size) == ("given", 200)
    with pytest.raises(ConfigError, match="VOTES_QUEUE"):
        load_settings({}, votes_queue="no spaces allowed")


def test_rate_limit_and_token_settings():
    assert load_settings({}).rate_limit == 50 and load_settings({}).kiosk_token is None
    token = "s3cret-0123456789"
    assert load_settings({"RATE_LIMIT": "0", "KIOSK_TOKEN": token}).kiosk_token == token
    assert load_settings({"KIOSK_TOKEN": ""}).kiosk_token is None
    for bad in ("-1", "lots"):
        with pytest.raises(ConfigError, match="RATE_LIMIT"):
            load_settings({"RATE_LIMIT": bad})


@pytest.mark.parametrize(
    "token", [" ", "\t\n", " " * 20, "s3cret", "x" * 15, " " + "x" * 20, "x" * 10 + " " + "x" * 10]
)
def test_a_short_or_blank_kiosk_token_is_refused_without_being_repeated(token):
    with pytest.raises(ConfigError, match="KIOSK_TOKEN must be at least 16") as caught:
        load_settings({"KIOSK_TOKEN": token})
    assert token.strip() == "" or token.strip() not in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("DATABASE_URL", "not a url", "DATABASE_URL is malformed"),
        ("DATABASE_URL", "postgresql://u:pw@h:notaport/db", "DATABASE_URL is malformed"),
        ("DATABASE_URL", "mysql://u:pw@h/db", "must be a postgresql:// URL"),
        ("DATABASE_URL", "postgresql://u:pw@h:99999/db", "port must be 1-65535"),
        ("AMQP_URL", "garbage", "AMQP_URL is malformed"),
        ("AMQP_URL", "http://u:pw@h/", "AMQP_URL is malformed"),
        ("AMQP_URL", "amqp://u:pw@h:notaport/%2F", "AMQP_URL is malformed"),
        ("AMQP_URL", "amqp://u:pw@h:99999/%2F", "AMQP_URL is malformed"),
        ("AMQP_URL", "amqp://u:pw@h/%2F?heartbeat=soon", "AMQP_URL is malformed"),
    ],
)
def test_malformed_urls_are_one_line_without_the_password(variable, value, said):
    with pytest.raises(ConfigError, match=said) as caught:
        load_settings({variable: value})
    assert "\n" not in str(caught.value) and "pw" not in str(caught.value)


def test_vote_time_settings():
    default = load_settings({})
    assert default.vote_clock_skew == timedelta(seconds=300)
    assert default.queue_max_length == 0
    assert default.votes_open_at is None and default.votes_time_zone == ZoneInfo("UTC")
    given = load_settings(
        {
            "VOTE_CLOCK_SKEW": "5",
            "VOTES_QUEUE_MAX_LENGTH": "100000",
            "VOTES_OPEN_AT": "2026-11-28T08:00:00+08:00",
            "VOTES_TIME_ZONE": "Asia/Hong_Kong",
        }
    )
    assert given.vote_clock_skew == timedelta(seconds=5)
    assert given.queue_max_length == 100000
    assert given.votes_open_at == datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    assert given.votes_time_zone == ZoneInfo("Asia/Hong_Kong")
    for env, name in [
        ({"VOTE_CLOCK_SKEW": "-1"}, "VOTE_CLOCK_SKEW"),
        ({"VOTE_CLOCK_SKEW": "nan"}, "VOTE_CLOCK_SKEW"),
        ({"VOTE_CLOCK_SKEW": "inf"}, "VOTE_CLOCK_SKEW"),
        ({"VOTE_CLOCK_SKEW": "3601"}, "VOTE_CLOCK_SKEW"),
        ({"VOTE_CLOCK_SKEW": "0"}, "VOTE_CLOCK_SKEW"),
        ({"VOTE_CLOCK_SKEW": "4.9"}, "VOTE_CLOCK_SKEW"),
        ({"VOTES_QUEUE_MAX_LENGTH": "-1"}, "VOTES_QUEUE_MAX_LENGTH"),
        ({"VOTES_QUEUE_MAX_LENGTH": "1.5"}, "VOTES_QUEUE_MAX_LENGTH"),
        ({"VOTES_QUEUE_MAX_LENGTH": "1000000001"}, "VOTES_QUEUE_MAX_LENGTH"),
        ({"VOTES_OPEN_AT": "2026-11-28T08:00:00"}, "VOTES_OPEN_AT"),
        ({"VOTES_OPEN_AT": "tomorrow"}, "VOTES_OPEN_AT"),
        ({"VOTES_OPEN_AT": "0001-01-01T00:00:00+14:00"}, "VOTES_OPEN_AT"),
        ({"VOTES_TIME_ZONE": "Mars/Olympus_Mons"}, "VOTES_TIME_ZONE"),
        ({"VOTES_TIME_ZONE": "../../etc/passwd"}, "VOTES_TIME_ZONE"),
        ({"VOTES_TIME_ZONE": "+08:00"}, "VOTES_TIME_ZONE"),
    ]:
        with pytest.raises(ConfigError, match=name):
            load_settings(env)


def test_amqp_url_takes_a_comma_separated_list_in_order():
    one = "amqp://guest:guest@127.0.0.1:5672/%2F"
    assert load_settings({}).amqp_urls == (one,)
    nodes = " amqp://u:pw@a:5701/%2F, amqps://u:pw@b:5702/v,amqp://u:pw@c/%2F "
    assert load_settings({"AMQP_URL": nodes}).amqp_urls == (
        "amqp://u:pw@a:5701/%2F",
        "amqps://u:pw@b:5702/v",
        "amqp://u:pw@c/%2F",
    )


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("amqp://u:pw@a/%2F,", "URL 2 of 2\\) is malformed: it is empty"),
        ("amqp://u:pw@a/%2F,,amqp://u:pw@b/%2F", "URL 2 of 3\\) is malformed: it is empty"),
        ("amqp://u:pw@a/%2F,http://u:pw@b/", "URL 2 of 2\\) is malformed: the scheme"),
        ("amqp://u:pw@a:notaport/%2F,amqp://u:pw@b/%2F", "URL 1 of 2\\) is malformed"),
        ("amqp://u:pw@a/%2F,amqp://u:pw@b:99999/%2F", "URL 2 of 2\\) is malformed"),
        ("amqp://u:pw@a/%2F,amqp://u:pw@b/%2F?heartbeat=x", "URL 2 of 2\\) is malformed"),
    ],
)
def test_a_malformed_url_in_the_list_is_named_in_one_line_without_the_password(value, said):
    with pytest.raises(ConfigError, match=f"^AMQP_URL \\({said}") as caught:
        load_settings({"AMQP_URL": value})
    assert "\n" not in str(caught.value) and "pw" not in str(caught.value)


def test_queue_type_is_quorum_by_default_or_classic():
    assert load_settings({}).queue_type == "quorum"
    assert load_settings({"VOTES_QUEUE_TYPE": "classic"}).queue_type == "classic"
    assert load_settings({"VOTES_QUEUE_TYPE": ""}).queue_type == "quorum"
    for bad in ("Quorum", "stream", "mirrored", "quorum "):
        with pytest.raises(ConfigError, match="^VOTES_QUEUE_TYPE must be quorum or classic, got"):
            load_settings({"VOTES_QUEUE_TYPE": bad})


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("BATCH_SIZE", "100000", "BATCH_SIZE must be 1 to 10000, got 100000"),
        ("BATCH_SIZE", "0", "BATCH_SIZE must be a positive int"),
        ("BATCH_MS", "600000", "BATCH_MS must be 1 to 60000, got 600000"),
        ("RESULTS_INTERVAL", "0.001", "RESULTS_INTERVAL must be 0.01 to 3600, got 0.001"),
        ("RESULTS_INTERVAL", "1e9", "RESULTS_INTERVAL must be 0.01 to 3600"),
        ("CHART_INTERVAL", "100000", "CHART_INTERVAL must be 0.01 to 86400, got 100000"),
        ("RATE_LIMIT", "0.1", "RATE_LIMIT must be 0 \\(none\\) or 1 to 100000, got 0.1"),
        ("RATE_LIMIT", "1e7", "RATE_LIMIT must be 0 \\(none\\) or 1 to 100000"),
    ],
)
def test_every_number_is_range_checked_in_one_line(variable, value, said):
    # before: BATCH_SIZE=100000 overflowed the prefetch count (a pika traceback)
    with pytest.raises(ConfigError, match=said) as caught:
        load_settings({variable: value})
    assert "\n" not in str(caught.value)


def test_the_ends_of_each_range_are_accepted():
    settings = load_settings(
        {"BATCH_SIZE": "10000", "BATCH_MS": "1", "RESULTS_INTERVAL": "0.01", "RATE_LIMIT": "1"}
    )
    assert (settings.batch_size, settings.batch_ms) == (10000, 1)
    assert (settings.results_interval, settings.rate_limit) == (0.01, 1.0)
    assert load_settings({"RATE_LIMIT": "0", "CHART_INTERVAL": "86400"}).rate_limit == 0


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql+nodriver://postgres:PW9secret@127.0.0.1:5432/test", "not installed"),
        ("postgresql://postgres:PW9secret@127.0.0.1:5432/test?sslmode=bogus", "sslmode must be"),
    ],
)
def test_a_database_url_that_cannot_work_is_refused_without_its_password(url, said):
    # before: the driver's name printed the URL, password and all; sslmode=bogus retried forever
    with pytest.raises(ConfigError, match=said) as caught:
        load_settings({"DATABASE_URL": url})
    assert "PW9secret" not in str(caught.value) and "\n" not in str(caught.value)
    assert load_settings({"DATABASE_URL": url.split("?")[0].replace("nodriver", "psycopg2")})
