"""The live kiosk against hostile clients, over real sockets with hand-written requests: slow
clients do not freeze it, every transfer encoding is bounded and strictly framed, pipelined
requests are answered in order. Never a 5xx, never a hang."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from tests.support.raw_http import RawConnection, exchange, post

VOTE = b'{"candidate": "1"}'


@pytest.fixture
def kiosk(vote_system):
    """A kiosk whose requests must be whole within 3 s (no worker: votes stay queued), whose
    per-client cap lets one client hold the 200 slow connections these tests open (the cap
    itself: test_kiosk_connection_caps)."""
    _, client = vote_system.start_kiosk(
        "k-hostile", "--request-timeout", "3", "--connections-per-client", "500"
    )
    return client.port


def timed_health_and_vote(port: int) -> list[tuple[int, float]]:
    """``GET /health`` and a vote on fresh connections: each status and seconds taken."""
    health = exchange(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", timeout=5)
    vote = exchange(port, post(VOTE, f"Content-Length: {len(VOTE)}\r\n"), timeout=5)
    return [(reply.status, seconds) for reply, seconds in (health, vote)]


def test_slow_clients_do_not_freeze_the_kiosk(kiosk):
    silent = [socket.create_connection(("127.0.0.1", kiosk)) for _ in range(100)]
    trickling = [socket.create_connection(("127.0.0.1", kiosk)) for _ in range(100)]
    request = post(b"x" * 100, "Content-Length: 100\r\n")
    stop = threading.Event()

    def trickle() -> None:  # a byte a second on each, head and body
        for i in range(len(request)):
            for sock in trickling:
                try:
                    sock.send(request[i : i + 1])
                except OSError:
                    pass
            if stop.wait(1.0):
                return

    sender = threading.Thread(target=trickle)
    sender.start()
    try:
        time.sleep(1.5)
        answers = timed_health_and_vote(kiosk)
        assert [status for status, _ in answers] == [200, 202]
        assert max(seconds for _, seconds in answers) < 1.0, answers
        # the header read times out: a trickling request gets a 408 after 3 s, then is closed
        trickling[0].settimeout(5)
        reply = trickling[0].recv(65536)
        assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
        assert b"not received in full within 3 s" in reply
        # an idle connection is closed after the keep-alive time (5 s)
        silent[0].settimeout(5)
        assert silent[0].recv(1) == b""
    finally:
        stop.set()
        sender.join()
        for sock in silent + trickling:
            sock.close()


def test_a_body_that_trickles_past_the_deadline_is_a_408(kiosk):
    connection = RawConnection(kiosk, timeout=6)
    try:
        connection.send(post(b"{", f"Content-Length: {len(VOTE)}\r\n"))
        start = time.perf_counter()
        reply = connection.reply()
        assert reply.status == 408 and "within 3 s" in reply.reason
        assert 2.5 < time.perf_counter() - start < 4.5
        assert connection.closed()
    finally:
        connection.close()


def chunked(*chunks: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


def test_a_chunked_vote_is_accepted(kiosk):
    reply, _ = exchange(kiosk, post(chunked(VOTE[:7], VOTE[7:]), "Transfer-Encoding: chunked\r\n"))
    assert reply.status == 202 and reply.headers["content-type"] == "application/json"
    assert json.loads(reply.body)["candidate"] == "1"


def test_a_chunked_body_past_the_limit_is_a_413_at_once(kiosk):
    connection = RawConnection(kiosk)
    try:  # the chunk size alone says too much: answered before any of its data is sent
        connection.send(post(b"800\r\n", "Transfer-Encoding: chunked\r\n"))
        reply = connection.reply()
        assert reply.status == 413 and reply.reason == "body too large (over 1024 bytes)"
        assert connection.closed()
    finally:
        connection.close()
    many = b"".join(b"10\r\n" + b"x" * 16 + b"\r\n" for _ in range(65))  # 1040 bytes in all
    reply, _ = exchange(kiosk, post(many, "Transfer-Encoding: chunked\r\n"))
    assert reply.status == 413


@pytest.mark.parametrize(
    ("framing", "body", "reason"),
    [
        ("Transfer-Encoding: chunked, chunked\r\n", chunked(chunked(VOTE)), "chunked, once"),
        ("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", chunked(VOTE), "once"),
        ("Transfer-Encoding: gzip, chunked\r\n", chunked(VOTE), "chunked, once"),
        ("Transfer-Encoding: chunked\r\n", b"0x11\r\n" + VOTE + b"\r\n0\r\n\r\n", "chunk size"),
        ("Transfer-Encoding: chunked\r\n", b"-1\r\n" + VOTE + b"\r\n0\r\n\r\n", "chunk size"),
        ("Transfer-Encoding: chunked\r\n", b"fffffffff\r\n", "chunk size"),
        ("Transfer-Encoding: chunked\r\n", b"12\n" + VOTE + b"\n0\n\n", "bare LF"),
        ("Transfer-Encoding: chunked\r\n", b"12\r\n" + VOTE + b"\n0\r\n\r\n", "CRLF"),
        ("Transfer-Encoding: chunked\r\n", b"12\r\n" + VOTE + b"\r\n0\r\nx\n\r\n", "bare LF"),
        (f"Content-Length: {len(VOTE)}\r\nTransfer-Encoding: chunked\r\n", chunked(VOTE), "both"),
        ("Content-Length: 18, 18\r\n", VOTE, "Content-Length"),
        ("Content-Length: +18\r\n", VOTE, "Content-Length"),
    ],
)
def test_malformed_framing_is_a_400_at_once(kiosk, framing, body, reason):
    reply, seconds = exchange(kiosk, post(body, framing))
    assert reply.status == 400 and reason in reply.reason
    assert seconds < 1.0


@pytest.mark.parametrize(
    ("request_bytes", "status", "reason"),
    [
        (b"GET /health HTTP/1.1\nHost: 127.0.0.1\n\n", 400, "bare LF"),
        (b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "one Host"),
        (b"GET /health HTTP/1.1\r\n\r\n", 400, "one Host"),
        (b"GET /health HTTP/1.1\r\nHost : a\r\n\r\n", 400, "malformed header"),
        (b"GET /health HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400, "malformed header"),
        (b"GET /health HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP/1.1"),
        (b"GET health HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request target"),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 431, "longer than"),
    ],
)
def test_malformed_heads_are_refused_with_a_reason(kiosk, request_bytes, status, reason):
    reply, seconds = exchange(kiosk, request_bytes)
    assert reply.status == status and reason in reply.reason
    assert seconds < 1.0


def test_pipelined_requests_are_answered_in_order(kiosk):
    connection = RawConnection(kiosk)
    try:
        connection.send(
            post(VOTE, f"Content-Length: {len(VOTE)}\r\n")
            + b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            + b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        first, second, third = connection.reply(), connection.reply(), connection.reply()
        assert (first.status, second.status, third.status) == (202, 200, 200)
        assert json.loads(second.body)["kiosk_id"] == "k-hostile"
        assert json.loads(third.body)["openapi"].startswith("3.")
        assert third.headers["connection"] == "close" and connection.closed()
    finally:
        connection.close()


def test_expect_100_continue_is_answered_before_the_body(kiosk):
    connection = RawConnection(kiosk)
    try:
        connection.send(post(b"", f"Content-Length: {len(VOTE)}\r\nExpect: 100-continue\r\n"))
        connection.sock.settimeout(2)
        assert connection.sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        connection.send(VOTE)
        assert connection.reply().status == 202
    finally:
        connection.close()


def test_a_vote_for_another_host_or_from_another_page_is_a_403(kiosk):
    length = f"Content-Length: {len(VOTE)}\r\n"
    foreign_host, _ = exchange(kiosk, post(VOTE, length, host=f"evil.example:{kiosk}"))
    assert foreign_host.status == 403 and "is not a name this kiosk serves" in foreign_host.reason
    origin = "Origin: http://evil.example\r\n"
    foreign_page, _ = exchange(kiosk, post(VOTE, length, f"127.0.0.1:{kiosk}", origin))
    assert foreign_page.status == 403 and "is not this kiosk's own page" in foreign_page.reason
    own = f"Origin: http://127.0.0.1:{kiosk}\r\n"
    assert exchange(kiosk, post(VOTE, length, f"127.0.0.1:{kiosk}", own))[0].status == 202


def test_the_servers_refusals_are_counted_in_health(kiosk):
    for _ in range(3):
        exchange(kiosk, b"GET /health HTTP/1.1\nHost: 127.0.0.1\n\n")
    exchange(kiosk, post(b"", "Content-Length: 5000\r\n"))
    reply, _ = exchange(kiosk, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert json.loads(reply.body)["refusals"] == {"400": 3, "413": 1}  # both processes' counts
