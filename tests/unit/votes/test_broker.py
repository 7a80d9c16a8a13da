"""Message properties pika cannot decode arrive empty, with the reason, rather than raising
inside the worker's connection (no broker needed: the content header's bytes are made here)."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pika
import pytest
from pika import frame, spec

from lib.votes.broker import persistent, tolerate_undecodable_properties

Y2K = datetime(2000, 1, 1, tzinfo=UTC)


def header_frame(properties: pika.BasicProperties, stamp: bytes | None = None) -> bytes:
    """A content header frame as RabbitMQ delivers it; ``stamp`` (8 bytes) in place of the
    Y2K timestamp header's value (pika encodes no value it could not decode, so the test makes
    the bytes itself, as any other client could)."""
    raw = frame.Header(1, 10, properties).marshal()
    y2k = b"T" + struct.pack(">Q", int(Y2K.timestamp()))
    return raw if stamp is None else raw.replace(y2k, b"T" + stamp)


FAR = [b"\xff" * 8, struct.pack(">Q", 2**62)]  # timestamps no datetime can hold


@pytest.fixture
def tolerant():
    original = spec.props[spec.BasicProperties.INDEX]
    tolerate_undecodable_properties()
    yield
    spec.props[spec.BasicProperties.INDEX] = original


@pytest.mark.parametrize("stamp", FAR)
def test_undecodable_headers_raise_in_pika_itself(stamp, monkeypatch):
    # pika's own class, whatever an earlier test in this process installed (a worker does)
    monkeypatch.setitem(spec.props, spec.BasicProperties.INDEX, spec.BasicProperties)
    raw = header_frame(persistent("m1", user_id="k1", when=Y2K), stamp)
    with pytest.raises((ValueError, OverflowError, OSError)):  # the control: pika gives up
        frame.decode_frame(raw)


@pytest.mark.parametrize("stamp", FAR)
def test_undecodable_headers_arrive_empty_with_the_reason(tolerant, stamp):
    raw = header_frame(persistent("m1", user_id="k1", when=Y2K), stamp)
    _, decoded = frame.decode_frame(raw)
    properties = decoded.properties
    assert properties.undecodable and "Error" in properties.undecodable
    assert properties.headers is None  # the rest is kept: who sent it, and its id
    assert (properties.user_id, properties.message_id) == ("k1", "m1")
    assert (properties.delivery_mode, properties.content_type) == (2, "application/json")


def test_properties_beyond_repair_arrive_empty(tolerant):
    properties = spec.props[spec.BasicProperties.INDEX]()
    properties.decode(b"\x00")  # not even the flags
    assert properties.undecodable and "error" in properties.undecodable
    assert (properties.user_id, properties.message_id, properties.headers) == (None, None, None)


def test_decodable_properties_are_untouched(tolerant):
    sent = persistent("m1", user_id="kiosk-7", **{"x-reject-reason": "why", "when": Y2K})
    _, decoded = frame.decode_frame(header_frame(sent))
    properties = decoded.properties
    assert properties.undecodable is None
    assert (properties.user_id, properties.message_id) == ("kiosk-7", "m1")
    assert properties.headers == {"x-reject-reason": "why", "when": Y2K}
