"""The kiosk's HTTP rules: which Host and Origin may vote, and If-None-Match (RFC 9110)."""

from __future__ import annotations

import pytest

from lib.errors import ConfigError
from lib.votes.http_rules import HostPolicy, etag_matches, parse_hosts, split_host

ETAG = '"0123abcd"'


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ('"0123abcd"', True),
        ('W/"0123abcd"', True),  # weak comparison: a weak tag matches its strong twin
        ("*", True),
        (' "other", W/"0123abcd" ', True),
        ('"a","b",,"0123abcd"', True),
        ('"other"', False),
        ('"other", "again"', False),
        ("0123abcd", False),  # not quoted: not an entity tag
        ('"0123abcd', False),
        ('"x" junk, "0123abcd"', False),  # a list that does not parse matches nothing
        ("", False),
        (None, False),
    ],
)
def test_if_none_match_follows_rfc_9110(header, matches):
    assert etag_matches(header, ETAG) is matches
    assert etag_matches(header, "W/" + ETAG) is matches  # and weakly against a weak tag


def test_host_names_and_ports():
    assert split_host("Kiosk.Example.org:8080") == ("kiosk.example.org", "8080")
    assert split_host("[::1]") == ("[::1]", None)
    assert split_host("a b") is None and split_host("host:port") is None
    assert parse_hosts(" Kiosk.example.org , 10.0.0.5:8080,") == (
        "kiosk.example.org",
        "10.0.0.5:8080",
    )
    with pytest.raises(ConfigError, match="KIOSK_HOSTS entry 'http://x'"):
        parse_hosts("http://x")


def test_by_default_the_loopback_names_and_the_listening_address_on_its_port():
    policy = HostPolicy.serving("192.168.1.20")
    assert policy.serves("192.168.1.20:8080", "8080") and policy.serves("localhost:8080", "8080")
    assert not policy.serves("192.168.1.20:9999", "8080")  # a name without a port: ours only
    assert not policy.serves("evil.example:8080", "8080")
    assert HostPolicy.serving("0.0.0.0").entries == {"localhost", "127.0.0.1", "[::1]"}
    assert "[fe80::1]" in HostPolicy.serving("fe80::1").entries


def test_named_hosts_replace_the_defaults():
    policy = HostPolicy.serving("127.0.0.1", parse_hosts("kiosk.example.org:443,kiosk-7"))
    assert policy.serves("kiosk.example.org", "8080")  # no port: the scheme's default
    assert policy.serves("kiosk-7:8080", "8080") and not policy.serves("127.0.0.1:8080", "8080")
    assert policy.refusal("kiosk-7:8080", "http://kiosk-7:8080", "8080") is None
    assert "Origin" in policy.refusal("kiosk-7:8080", "http://kiosk-7:9", "8080")
    assert "Host ''" in policy.refusal(None, None, "8080")
