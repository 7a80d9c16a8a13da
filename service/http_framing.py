"""HTTP/1.1 request framing for the kiosk's server, strict and bounded (RFC 9112).

``read_request`` takes one request, head and body, from a ``Source`` (the bytes a connection
has sent and not yet used, kept across pipelined requests). It accepts only what a browser,
curl or a load tool sends: CRLF line ends, one ``Host``, a body framed by ``Content-Length`` or
by ``Transfer-Encoding: chunked`` applied once, never both. Anything else raises ``Refused``
with the status and reason to answer before closing the connection; a body over ``max_body``
is refused as soon as its length or its chunks say so, before the rest is read.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

MAX_HEAD_BYTES = 8192  # request line and header fields together
MAX_FIELDS = 50
MAX_CHUNK_LINE = 256  # a chunk-size line with its extensions
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_REQUEST_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([\x21-\x7e]+) HTTP/([0-9])\.([0-9])")
_FIELD_VALUE = re.compile(rb"[^\x00-\x08\x0a-\x1f\x7f]*")  # no control bytes but HTAB
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,8})[ \t]*(?:;.*)?")


class Refused(Exception):
    """A request the server answers itself with ``status`` and ``reason``, then closes."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Closed(Exception):
    """The client closed the connection."""


@dataclass
class Request:
    method: str
    target: str  # as sent: origin-form (/path?query) or absolute-form
    version: str  # "1.0" or "1.1"
    headers: dict[str, str]  # lower-case names; repeated fields joined with ", "
    body: bytes = b""
    keep_alive: bool = True
    chunked: bool = False


@dataclass
class Source:
    """What a connection has sent and not been used yet; ``more`` reads from ``reader``."""

    reader: asyncio.StreamReader
    buffer: bytearray = field(default_factory=bytearray)

    async def more(self) -> None:
        """Read whatever the client sends next; Closed at the end of its stream."""
        data = await self.reader.read(65536)
        if not data:
            raise Closed
        self.buffer += data

    async def line(self, limit: int, what: str, status: int = 400) -> bytes:
        """The next CRLF-ended line without its CRLF. Refused for a bare LF or CR (a line
        end a server could read differently from a proxy) or a line over ``limit`` bytes."""
        while True:
            end = self.buffer.find(b"\n", 0, limit + 2)
            if end >= 0:
                if end == 0 or self.buffer[end - 1] != 0x0D:
                    raise Refused(400, f"bare LF in the {what}: lines end with CRLF")
                line = bytes(self.buffer[: end - 1])
                del self.buffer[: end + 1]
                if b"\r" in line:
                    raise Refused(400, f"bare CR in the {what}")
                return line
            if len(self.buffer) > limit + 1:
                raise Refused(status, f"{what} longer than {limit} bytes")
            await self.more()

    async def exactly(self, size: int) -> bytes:
        """The next ``size`` bytes."""
        while len(self.buffer) < size:
            await self.more()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data


async def read_head(source: Source) -> Request:
    """The request line and header fields of the next request (its body not read)."""
    budget = MAX_HEAD_BYTES
    line = await source.line(budget, "request head", 431)
    if not line:  # one empty line before a request is allowed (RFC 9112 2.2)
        line = await source.line(budget, "request head", 431)
    found = _REQUEST_LINE.fullmatch(line)
    if not found:
        raise Refused(400, "malformed request line")
    method, target, major, minor = found.groups()
    if not target.startswith((b"/", b"http://", b"https://")):
        raise Refused(400, "the request target must be a path (or an absolute http URL)")
    if (major, minor) not in ((b"1", b"1"), (b"1", b"0")):
        raise Refused(505, "only HTTP/1.1 and HTTP/1.0 are served")
    budget -= len(line) + 2
    headers: dict[str, str] = {}
    hosts = 0
    for _ in range(MAX_FIELDS + 1):
        line = await source.line(budget, "request head", 431)
        budget -= len(line) + 2
        if budget < 0:
            raise Refused(431, f"request head longer than {MAX_HEAD_BYTES} bytes")
        if not line:
            break
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise Refused(400, "malformed header field (or obsolete line folding)")
        value = value.strip(b" \t")
        if not _FIELD_VALUE.fullmatch(value):
            raise Refused(400, "control character in a header field value")
        key = name.decode("ascii").lower()
        text = value.decode("latin-1")
        hosts += key == "host"
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    else:
        raise Refused(431, f"more than {MAX_FIELDS} header fields")
    version = f"{major.decode()}.{minor.decode()}"
    if hosts > 1 or (hosts == 0 and version == "1.1"):
        raise Refused(400, "an HTTP/1.1 request needs exactly one Host header field")
    connection = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    keep_alive = "close" not in connection and version == "1.1"
    return Request(
        method.decode("ascii"), target.decode("ascii"), version, headers, b"", keep_alive
    )


def body_framing(request: Request, max_body: int) -> int | None:
    """The body's length from ``Content-Length`` (0 without a body), or None when chunked.
    Refused for ambiguous framing, a coding other than chunked, or a length over
    ``max_body``."""
    coding = request.headers.get("transfer-encoding")
    length = request.headers.get("content-length")
    if coding is not None:
        if length is not None:
            raise Refused(400, "both Content-Length and Transfer-Encoding: framing is ambiguous")
        codings = [c.strip().lower() for c in coding.split(",")]
        if request.version != "1.1" or codings != ["chunked"]:
            raise Refused(400, "Transfer-Encoding must be chunked, once, on HTTP/1.1")
        request.chunked = True
        return None
    if length is None:
        return 0
    if not length.isdigit() or not length.isascii() or len(length) > 12:
        raise Refused(400, "Content-Length must be one decimal number")
    if int(length) > max_body:
        raise Refused(413, f"body too large (over {max_body} bytes)")
    return int(length)


async def read_chunked(source: Source, max_body: int) -> bytes:
    """A chunked body, decoded; Refused at once when its chunks pass ``max_body`` bytes."""
    body = bytearray()
    while True:
        line = await source.line(MAX_CHUNK_LINE, "chunk-size line")
        found = _CHUNK_SIZE.fullmatch(line)
        if not found:
            raise Refused(400, "malformed chunk size: hexadecimal digits expected")
        size = int(found.group(1), 16)
        if len(body) + size > max_body:
            raise Refused(413, f"body too large (over {max_body} bytes)")
        if size == 0:
            break
        body += await source.exactly(size)
        if await source.exactly(2) != b"\r\n":
            raise Refused(400, "chunk data not followed by CRLF")
    for _ in range(MAX_FIELDS + 1):  # trailer fields: read, bounded, ignored
        if not await source.line(MAX_HEAD_BYTES, "chunked trailer"):
            return bytes(body)
    raise Refused(431, f"more than {MAX_FIELDS} trailer fields")


def encode_response(
    status: str, headers: list[tuple[str, str]], body: bytes, head_only: bool, close: bool
) -> bytes:
    """An HTTP/1.1 response: ``Content-Length`` added when the app gave none (the body is
    whole), ``Connection: close`` when the connection closes after it."""
    code = int(status[:3])
    lines = [f"HTTP/1.1 {status}"]
    has_length = False
    for name, value in headers:
        lower = name.lower()
        if lower in ("connection", "transfer-encoding", "keep-alive"):
            continue  # hop-by-hop: the server's to set
        has_length = has_length or lower == "content-length"
        lines.append(f"{name}: {value}")
    bodiless = code < 200 or code in (204, 304)
    if not has_length and not bodiless and not head_only:
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only or bodiless else head + body
