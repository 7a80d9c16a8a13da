"""Fetch a file over http, https or ftp: streamed to a temporary file, verified, then renamed into
place, so a failed or interrupted download never leaves a half file where a good one belongs."""

from __future__ import annotations

import logging
import os
import shutil
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from lib.access_log import open_log, parse_line
from lib.errors import DownloadError, LogReadError

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024


def _fetch_one(url: str, tmp: Path, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "random-practise/0.1"})
    with urllib.request.urlopen(request, timeout=timeout) as response, tmp.open("wb") as out:
        shutil.copyfileobj(response, out, CHUNK)
        expected = response.headers.get("Content-Length") if response.headers else None
    if expected is not None and expected.isdigit() and tmp.stat().st_size != int(expected):
        raise DownloadError(f"got {tmp.stat().st_size} of {expected} bytes")


def fetch(
    urls: Sequence[str],
    dest: str | Path,
    timeout: float,
    verify: Callable[[Path], None] | None = None,
) -> Path:
    """Download the first of ``urls`` that works into ``dest``; return ``dest``.

    Each attempt has ``timeout`` seconds per connect or read; ``verify(path)`` may raise
    DownloadError to reject what arrived. Raises DownloadError naming every URL and its failure.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    failures = []
    for url in urls:
        try:
            logger.info("downloading %s", url)
            _fetch_one(url, tmp, timeout)
            if verify:
                verify(tmp)
            os.replace(tmp, dest)
            return dest
        except DownloadError as exc:
            failures.append(f"{url}: {exc}")
        except OSError as exc:  # URLError, timeouts, refused connections, disk errors
            reason = getattr(exc, "reason", None) or exc
            failures.append(f"{url}: {reason}")
        finally:
            tmp.unlink(missing_ok=True)
        logger.warning("download failed: %s", failures[-1])
    raise DownloadError("; ".join(failures) or "no URL to download from")


def verify_access_log(path: Path) -> None:
    """Raise DownloadError unless ``path`` is a complete (gzip) Common Log Format file."""
    first = None
    try:
        with open_log(path) as stream:
            while chunk := stream.read(CHUNK):
                if first is None:
                    first = next((line for line in chunk.splitlines() if line.strip()), None)
    except (LogReadError, OSError, EOFError) as exc:
        raise DownloadError(f"not a complete file: {exc}") from None
    if first is None or parse_line(first) is None:
        raise DownloadError("not a Common Log Format file")
