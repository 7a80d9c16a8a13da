"""Hand-written HTTP over a real socket, for tests of what a client library would never send:
half requests, odd framing, several requests in one send. Responses are read as sent, one by
one (``Content-Length`` framed, as the kiosk frames them)."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class RawReply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def reason(self) -> str:
        """The ``error`` of a JSON refusal."""
        assert self.headers.get("content-type", "").startswith("application/json"), self
        return json.loads(self.body)["error"]


class RawConnection:
    """One socket to ``port`` on 127.0.0.1 (from the address ``source``, another loopback
    address such as 127.0.0.2 to be another client; default the system's choice); ``send``
    bytes, ``reply`` parses the next answer."""

    def __init__(self, port: int, timeout: float = 5.0, source: str | None = None):
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout, source_address=(source, 0) if source else None
        )
        self.pending = bytearray()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _more(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        self.pending += chunk
        return bool(chunk)

    def reply(self) -> RawReply:
        """The next response (not a 1xx); AssertionError if the server closes first."""
        while True:
            end = self.pending.find(b"\r\n\r\n")
            if end >= 0:
                lines = bytes(self.pending[:end]).decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                if len(self.pending) >= end + 4 + length:
                    body = bytes(self.pending[end + 4 : end + 4 + length])
                    del self.pending[: end + 4 + length]
                    status = int(lines[0].split()[1])
                    if status >= 200:
                        return RawReply(status, headers, body)
                    continue
            if not self._more():
                raise AssertionError(f"closed before a whole response: {bytes(self.pending)!r}")

    def closed(self, within: float = 3.0) -> bool:
        """Whether the server closes the connection (with nothing more sent) within ``within``."""
        self.sock.settimeout(within)
        try:
            return not self._more() and not self.pending
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()


def exchange(
    port: int, data: bytes, timeout: float = 5.0, source: str | None = None
) -> tuple[RawReply, float]:
    """Send ``data`` on a new connection (from ``source``: see RawConnection); the first
    response and the seconds it took, connecting included."""
    start = time.perf_counter()
    connection = RawConnection(port, timeout, source)
    try:
        connection.send(data)
        return connection.reply(), time.perf_counter() - start
    finally:
        connection.close()


def post(body: bytes, framing: str, host: str = "127.0.0.1", extra: str = "") -> bytes:
    """A ``POST /votes`` head (``framing``: its length or transfer coding lines) and body."""
    head = (
        f"POST /votes HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"{framing}{extra}\r\n"
    )
    return head.encode() + body
