"""Fetch a file over http, https or ftp: streamed to a temporary file beside its destination,
verified, then renamed into place, so a failed or interrupted download never leaves a half file
where a good one belongs."""

from __future__ import annotations

import http.client
import logging
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from isal import isal_zlib

from lib.logs.errors import DownloadError, LogReadError
from lib.logs.parsing.kinds.clf import parse_line
from lib.logs.reading.blocks import open_log

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024  # bytes read, written or decompressed at a time
SCHEMES = ("http", "https", "ftp")
USER_AGENT = "random-practise/0.1 (urllib)"
_MAX_LINE = 64 * 1024  # a "first line" longer than this is not a log line


def fetch(
    urls: Sequence[str],
    dest: str | Path,
    timeout: float,
    verify: Callable[[Path], None] | None = None,
) -> Path:
    """Download the first of ``urls`` that works into ``dest`` and return ``dest``.

    Args:
        urls: tried in order; http, https or ftp.
        dest: the final path; its directory is created if needed.
        timeout: seconds allowed for the connection and for each read.
        verify: called on the complete temporary file; raises DownloadError to reject it.

    Raises:
        DownloadError: every URL failed; the one-line message names each URL and why.
    """
    return fetch_with_url(urls, dest, timeout, verify)[0]


def fetch_with_url(
    urls: Sequence[str],
    dest: str | Path,
    timeout: float,
    verify: Callable[[Path], None] | None = None,
) -> tuple[Path, str]:
    """Like ``fetch``, but return ``(dest, the URL that served it)``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for url in urls:
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
        try:
            logger.info("downloading %s", url)
            size = _download(url, tmp, timeout)
            if verify is not None:
                verify(tmp)
            os.replace(tmp, dest)
        except DownloadError as exc:
            reason = _one_line(str(exc))
        else:
            logger.info("saved %s (%d bytes) from %s", dest, size, url)
            return dest, url
        finally:
            tmp.unlink(missing_ok=True)
        logger.warning("download from %s failed: %s", url, reason)
        failures.append(f"{url} ({reason})")
    if not failures:
        raise DownloadError("no URL to download from")
    raise DownloadError("could not download from any URL: " + "; ".join(failures))


def _download(url: str, tmp: Path, timeout: float) -> int:
    """Stream ``url`` into the new file ``tmp``; return its size; raise DownloadError."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise DownloadError(f"unsupported URL scheme {scheme!r} (use {', '.join(SCHEMES)})")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    size = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, tmp.open("xb") as out:
            expected = _content_length(response)
            while chunk := response.read(CHUNK):
                out.write(chunk)
                size += len(chunk)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise DownloadError(_describe(exc, timeout)) from None
    if expected is not None and size != expected:
        raise DownloadError(f"incomplete: got {size} of {expected} bytes")
    return size


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length") if response.headers else None
    return int(value) if value is not None and value.strip().isdigit() else None


def _describe(exc: BaseException, timeout: float) -> str:
    """A short reason for a failed attempt, e.g. ``HTTP 404 Not Found`` or ``timed out``."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, socket.gaierror):
        return f"host not found (no network?): {reason}"
    if isinstance(reason, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return f"connection refused: {reason}"
    if isinstance(reason, http.client.HTTPException | ValueError):
        return f"{type(reason).__name__}: {reason}"
    return str(reason)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def verify_access_log(path: Path) -> None:
    """Check that ``path`` is a complete log: its whole stream (plain, or gzip, bzip2, xz or zstd)
    decompresses and its first non-empty line is a Common Log Format request.

    Raises:
        DownloadError: the stream is truncated or damaged, or the first line is not a log line.
    """
    head, first = b"", None
    try:
        with open_log(path) as stream:
            while chunk := stream.read(CHUNK):
                if first is None:
                    head, first = _first_line(head + chunk)
    except (LogReadError, EOFError, OSError, isal_zlib.error) as exc:
        raise DownloadError(f"truncated or damaged file: {exc}") from None
    if first is None and head.strip():
        first = head  # a one-line file without a final newline
    if first is None:
        raise DownloadError("not a Common Log Format file (it is empty)")
    if parse_line(first) is None:
        raise DownloadError(f"not a Common Log Format file (first line {first[:80]!r})")


def _first_line(buffer: bytes) -> tuple[bytes, bytes | None]:
    """Split the first non-blank complete line off ``buffer``: ``(the rest, line or None)``."""
    while True:
        line, newline, rest = buffer.partition(b"\n")
        if not newline:
            return buffer, (buffer if len(buffer) > _MAX_LINE else None)
        if line.strip():
            return rest, line
        buffer = rest
