"""Per-client rate limits in bounded memory, and refusals counted and logged without flooding."""

from __future__ import annotations

import logging

from lib.votes.rate_limit import ClientBuckets, client_key
from lib.votes.refusals import Refusals


def test_each_client_has_its_own_bucket_and_memory_stays_bounded():
    now = [0.0]
    buckets = ClientBuckets(rate=1, burst=2, max_clients=100, clock=lambda: now[0])
    assert [buckets.allow("10.0.0.1") for _ in range(3)] == [True, True, False]
    assert buckets.allow("10.0.0.2")
    for i in range(1000):
        buckets.allow(f"10.1.{i // 256}.{i % 256}")
    assert len(buckets) == 100  # the least recently seen are dropped
    now[0] += 1.0
    assert buckets.allow("10.0.0.1")  # dropped, so full again: bounded memory's price


def test_clients_are_addresses_and_ipv6_slash_64s():
    assert client_key("10.0.0.1") == "10.0.0.1"
    assert client_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff") == "2001:db8::/64"
    assert client_key("not an address") == "not an address"


def test_refusals_are_counted_by_status_and_logged_once_a_second(caplog):
    caplog.set_level(logging.INFO, logger="lib.votes.refusals")
    now = [0.0]
    refusals = Refusals(interval=1.0, clock=lambda: now[0])
    for _ in range(500):
        refusals.record(400, "body is not valid JSON", "10.0.0.66")
    refusals.record(429, "too many votes from this client; slow down", "10.0.0.66")
    refusals.record(418, "odd", "10.0.0.66")
    now[0] += 1.5
    refusals.record(403, "Host 'evil' is not a name this kiosk serves", "10.0.0.9")
    assert refusals.counts() == {"400": 500, "403": 1, "429": 1, "other": 1}
    assert [r.getMessage() for r in caplog.records] == [
        "refused 400 to 10.0.0.66: body is not valid JSON",
        "refused 403 to 10.0.0.9: Host 'evil' is not a name this kiosk serves"
        " (and 501 more refusals not logged)",
    ]
