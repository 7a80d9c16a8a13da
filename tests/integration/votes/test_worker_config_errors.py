"""A worker given an AMQP_URL the real broker refuses as such (a wrong password, TLS spoken to
the plain port, a vhost that does not exist) stops with one line and exit status 2: no pika
traceback, no password, no retrying forever."""

from __future__ import annotations

import subprocess

import pytest


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("amqp://guest:PW9wrong@127.0.0.1:5672/%2F", "login refused"),
        ("amqps://guest:guest@127.0.0.1:5672/%2F", "TLS failed"),
        (
            "amqp://guest:guest@127.0.0.1:5672/no-such-vhost",
            "access to the virtual host was refused",
        ),
    ],
)
def test_a_url_the_broker_refuses_stops_the_worker_with_one_line(vote_system, url, said):
    proc = vote_system.start_worker(AMQP_URL=url, METRICS="0")
    try:
        status = proc.wait(20)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the worker kept retrying:\n{vote_system.log_text()}") from None
    log = vote_system.log_text()
    assert status == 2, log
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and f"the broker refused AMQP_URL: {said}" in errors[0], log
    assert "Traceback" not in log and "PW9wrong" not in log
