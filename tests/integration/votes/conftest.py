"""Fixtures for the vote pipeline: a fresh database, queue and cache directory per test."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.engine import make_url

from lib.db import normalize_url
from lib.votes.settings import load_settings
from tests.conftest import _admin_dsn, admin_statement
from tests.integration.votes.vote_system import VoteSystem


@pytest.fixture
def vote_system(tmp_path):
    """A VoteSystem on a database (``rp_votes_<random>``) and queue of this test's own; its
    processes, queues and database are removed afterwards."""
    config = load_settings()
    name = f"rp_votes_{uuid.uuid4().hex[:10]}"
    admin_statement(config.database_url, f'CREATE DATABASE "{name}"')
    url = make_url(normalize_url(config.database_url)).set(database=name)
    system = VoteSystem(
        url.render_as_string(hide_password=False),
        _admin_dsn(url.render_as_string(hide_password=False)),
        tmp_path,
        config.amqp_url,
    )
    try:
        yield system
    finally:
        system.close()
        admin_statement(config.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
