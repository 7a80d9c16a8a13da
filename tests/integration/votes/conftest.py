"""Fixtures for the vote pipeline: a fresh database, queue and cache directory per test."""

from __future__ import annotations

import pytest

from tests.integration.votes.vote_system import vote_system_on


@pytest.fixture
def vote_system(tmp_path):
    """A VoteSystem on a database (``rp_votes_<random>``) and queue of this test's own; its
    processes, queues and database are removed afterwards."""
    with vote_system_on(tmp_path) as system:
        yield system
