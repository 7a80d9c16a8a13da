"""Q3's settings from the environment."""

from __future__ import annotations

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
    assert load_settings({"RATE_LIMIT": "0", "KIOSK_TOKEN": "s3cret"}).kiosk_token == "s3cret"
    for bad in ("-1", "lots"):
        with pytest.raises(ConfigError, match="RATE_LIMIT"):
            load_settings({"RATE_LIMIT": bad})
