"""The real download code against a local HTTP server on 127.0.0.1 (no other network)."""

from __future__ import annotations

import contextlib
import gzip
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lib.logs.datasets.download import fetch, fetch_with_url, verify_access_log
from lib.logs.errors import DownloadError

LOG = (
    b"in24.inetnebr.com - - [01/Aug/1995:00:00:01 -0400] "
    b'"GET /shuttle/missions/sts-68/news/sts-68-mcc-05.txt HTTP/1.0" 200 1839\n'
    b"uplherc.upl.com - - [01/Aug/1995:00:00:07 -0400] "
    b'"GET / HTTP/1.0" 304 0\n'
    b"ix-esc-ca2-07.ix.netcom.com - - [01/Aug/1995:00:00:09 -0400] "
    b'"GET /images/launch-logo.gif HTTP/1.0" 200 1713\n'
) * 500


@dataclass
class Site:
    """What the local server serves: ``files`` by path (others are 404), plus two misbehaviours:
    paths in ``short`` promise more bytes than they send, paths in ``stall`` never send a body."""

    base: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    short: set[str] = field(default_factory=set)
    stall: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return self.base + path


@contextlib.contextmanager
def serving(site: Site | None = None) -> Iterator[Site]:
    """Serve ``site`` on 127.0.0.1 (an ephemeral port) for the duration of the block."""
    site = site or Site()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.requests.append(self.path)
            body = site.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            extra = 1000 if self.path in site.short else 0
            self.send_header("Content-Length", str(len(body) + extra))
            self.end_headers()
            if self.path in site.stall:
                site.release.wait(10)
                return
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    site.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield site
    finally:
        site.release.set()
        httpd.shutdown()
        httpd.server_close()


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (the connection is refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/NASA_access_log_Aug95.gz"


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_downloads_and_verifies_a_gzip_log(tmp_path):
    with serving() as site:
        site.files["/log.gz"] = gzip.compress(LOG)
        dest = fetch([site.url("/log.gz")], tmp_path / "log.gz", 5, verify_access_log)
    assert dest == tmp_path / "log.gz"
    assert gzip.decompress(dest.read_bytes()) == LOG
    assert names(tmp_path) == ["log.gz"]


def test_a_404_falls_through_to_the_next_url(tmp_path):
    with serving() as site:
        site.files["/good.gz"] = gzip.compress(LOG)
        urls = [site.url("/missing.gz"), site.url("/good.gz")]
        dest, url = fetch_with_url(urls, tmp_path / "sub" / "log.gz", 5, verify_access_log)
    assert url == site.url("/good.gz") and site.requests == ["/missing.gz", "/good.gz"]
    assert gzip.decompress(dest.read_bytes()) == LOG


def test_when_every_url_fails_the_one_line_message_names_each(tmp_path):
    refused = closed_port_url()
    with serving() as site:
        with pytest.raises(DownloadError) as info:
            fetch([site.url("/missing.gz"), refused], tmp_path / "log.gz", 5)
    message = str(info.value)
    assert "\n" not in message
    assert f"{site.url('/missing.gz')} (HTTP 404" in message
    assert f"{refused} (connection refused" in message


def test_a_truncated_gzip_is_rejected_and_nothing_is_left(tmp_path):
    (tmp_path / "log.gz").write_bytes(b"the previous file")
    with serving() as site:
        site.files["/cut.gz"] = gzip.compress(LOG)[:-100]
        with pytest.raises(DownloadError, match="truncated or damaged"):
            fetch([site.url("/cut.gz")], tmp_path / "log.gz", 5, verify_access_log)
    assert names(tmp_path) == ["log.gz"]  # no temporary file
    assert (tmp_path / "log.gz").read_bytes() == b"the previous file"  # untouched


def test_a_corrupt_gzip_is_rejected(tmp_path):
    damaged = bytearray(gzip.compress(LOG, mtime=0))
    damaged[10] ^= 0x55  # the first deflate byte: an invalid block, not a short stream
    with serving() as site:
        site.files["/bad.gz"] = bytes(damaged)
        with pytest.raises(DownloadError, match="truncated or damaged"):
            fetch([site.url("/bad.gz")], tmp_path / "log.gz", 5, verify_access_log)
    assert names(tmp_path) == []


def test_a_body_shorter_than_its_content_length_is_rejected(tmp_path):
    with serving() as site:
        site.files["/log.gz"] = gzip.compress(LOG)
        site.short.add("/log.gz")
        with pytest.raises(DownloadError, match="incomplete: got"):
            fetch([site.url("/log.gz")], tmp_path / "log.gz", 5)
    assert names(tmp_path) == []


@pytest.mark.parametrize(
    "body",
    [b"<html>Not found, but said with a 200</html>\n", gzip.compress(b"\n\n"), b""],
    ids=["html", "blank-gzip", "empty"],
)
def test_a_file_that_is_not_a_log_is_rejected(tmp_path, body):
    with serving() as site:
        site.files["/page"] = body
        with pytest.raises(DownloadError, match="not a Common Log Format file"):
            fetch([site.url("/page")], tmp_path / "log.gz", 5, verify_access_log)
    assert names(tmp_path) == []


def test_an_unreachable_url_fails_fast_naming_it(tmp_path):
    url = closed_port_url()
    started = time.monotonic()
    with pytest.raises(DownloadError, match="refused") as info:
        fetch([url], tmp_path / "log.gz", 5)
    assert url in str(info.value)
    assert time.monotonic() - started < 3
    assert names(tmp_path) == []


def test_a_stalled_server_times_out(tmp_path):
    with serving() as site:
        site.files["/slow.gz"] = gzip.compress(LOG)
        site.stall.add("/slow.gz")
        started = time.monotonic()
        with pytest.raises(DownloadError, match="timed out after 0.3 s"):
            fetch([site.url("/slow.gz")], tmp_path / "log.gz", 0.3)
    assert time.monotonic() - started < 3
    assert names(tmp_path) == []


def test_unsupported_schemes_and_no_urls_are_errors(tmp_path):
    with pytest.raises(DownloadError, match="unsupported URL scheme 'file'"):
        fetch([(tmp_path / "x").as_uri()], tmp_path / "log.gz", 1)
    with pytest.raises(DownloadError, match="no URL"):
        fetch([], tmp_path / "log.gz", 1)


def test_verify_accepts_a_plain_log_without_a_final_newline(tmp_path):
    path = tmp_path / "access.log"
    path.write_bytes(b"\n" + LOG.splitlines()[0])
    verify_access_log(path)
