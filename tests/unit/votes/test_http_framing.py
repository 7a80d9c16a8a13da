"""The kiosk server's request framing, fed bytes in-process: chunked bodies of any split decode
to what was sent, and no input whatever gets anything from it but a request or a refusal."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.http_framing import (
    Closed,
    Refused,
    Source,
    body_framing,
    encode_response,
    read_chunked,
    read_head,
)


def read(data: bytes, max_body: int = 1024, pieces: int = 1):
    """One request read from ``data`` (sent in ``pieces`` parts): (head, body, what is left)."""

    async def run():
        reader = asyncio.StreamReader()
        step = max(1, len(data) // pieces)
        for i in range(0, len(data), step):
            reader.feed_data(data[i : i + step])
        reader.feed_eof()
        source = Source(reader)
        request = await read_head(source)
        length = body_framing(request, max_body)
        body = await (read_chunked(source, max_body) if length is None else source.exactly(length))
        return request, body, bytes(source.buffer)

    return asyncio.run(run())


def chunked(body: bytes, sizes: list[int]) -> bytes:
    out, at = b"", 0
    for size in sizes:
        if at < len(body):
            out += b"%x\r\n%s\r\n" % (len(body[at : at + size]), body[at : at + size])
            at += size
    if at < len(body):
        out += b"%x\r\n%s\r\n" % (len(body) - at, body[at:])
    return out + b"0\r\n\r\n"


HEAD = b"POST /votes HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked\r\n\r\n"


@settings(max_examples=200)
@given(
    body=st.binary(max_size=1024),
    sizes=st.lists(st.integers(1, 300), max_size=20),
    pieces=st.integers(1, 40),
)
def test_a_chunked_body_decodes_to_what_was_sent_however_split(body, sizes, pieces):
    request, decoded, rest = read(HEAD + chunked(body, sizes) + b"NEXT", pieces=pieces)
    assert (decoded, rest, request.chunked) == (body, b"NEXT", True)


@settings(max_examples=300)
@given(data=st.binary(max_size=400))
def test_any_bytes_are_a_request_or_a_refusal(data):
    for prefix in (b"", HEAD, b"POST /votes HTTP/1.1\r\nHost: k\r\nContent-Length: 5\r\n"):
        try:
            read(prefix + data)
        except Refused as refused:
            assert 400 <= refused.status < 506 and refused.reason
        except Closed:
            pass  # the bytes ended mid-request


def test_a_request_over_the_limit_is_refused_by_its_length_alone():
    with pytest.raises(Refused) as refused:
        read(b"POST /votes HTTP/1.1\r\nHost: k\r\nContent-Length: 1025\r\n\r\n")
    assert (refused.value.status, refused.value.reason) == (
        413,
        "body too large (over 1024 bytes)",
    )
    with pytest.raises(Refused) as refused:
        read(HEAD + b"401\r\n")  # the chunk size alone passes the limit
    assert refused.value.status == 413


def test_keep_alive_and_the_head():
    request, body, _ = read(b"GET /a%20b?x=1 HTTP/1.1\r\nHost: k\r\nX-A: 1\r\nx-a: 2\r\n\r\n")
    assert (request.method, request.target, request.keep_alive, body) == (
        "GET",
        "/a%20b?x=1",
        True,
        b"",
    )
    assert request.headers == {"host": "k", "x-a": "1, 2"}
    assert not read(b"GET / HTTP/1.0\r\n\r\n")[0].keep_alive
    assert not read(b"GET / HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n")[0].keep_alive


def test_a_response_is_framed_by_its_length():
    reply = encode_response("200 OK", [("Content-Type", "text/plain")], b"hello", False, True)
    assert reply == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
        b"Connection: close\r\n\r\nhello"
    )
    head_only = encode_response("200 OK", [("Content-Length", "5")], b"hello", True, False)
    assert head_only == b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    assert encode_response("304 Not Modified", [], b"", False, False).endswith(b"Modified\r\n\r\n")
