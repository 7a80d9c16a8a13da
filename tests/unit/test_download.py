"""The real download code against a local HTTP server on 127.0.0.1 (no other network)."""

import gzip
import http.server
import socket
import threading
import time

import pytest

from lib.download import fetch, verify_access_log
from lib.errors import DownloadError

LOG = (
    b"in24.inetnebr.com - - [01/Aug/1995:00:00:01 -0400] "
    b'"GET /shuttle/missions/sts-68/news/sts-68-mcc-05.txt HTTP/1.0" 200 1839\n'
) * 2000


@pytest.fixture
def server():
    """Serves ``files`` (path -> bytes) on 127.0.0.1; other paths are 404."""
    files: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield base, files
    httpd.shutdown()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/log.gz"


def test_downloads_and_verifies(server, tmp_path):
    base, files = server
    files["/log.gz"] = gzip.compress(LOG)
    dest = fetch([f"{base}/log.gz"], tmp_path / "log.gz", 5, verify_access_log)
    assert gzip.decompress(dest.read_bytes()) == LOG
    assert [p.name for p in tmp_path.iterdir()] == ["log.gz"]


def test_falls_through_to_the_next_url(server, tmp_path):
    base, files = server
    files["/good.gz"] = gzip.compress(LOG)
    dest = fetch([f"{base}/missing.gz", f"{base}/good.gz"], tmp_path / "log.gz", 5)
    assert dest.exists()


def test_truncated_gzip_is_rejected_and_nothing_is_left(server, tmp_path):
    base, files = server
    files["/cut.gz"] = gzip.compress(LOG)[:-100]
    with pytest.raises(DownloadError, match="not a complete file"):
        fetch([f"{base}/cut.gz"], tmp_path / "log.gz", 5, verify_access_log)
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_not_a_log_is_rejected(server, tmp_path):
    base, files = server
    files["/page.html"] = b"<html>Not found, but said with a 200</html>\n"
    with pytest.raises(DownloadError, match="not a Common Log Format file"):
        fetch([f"{base}/page.html"], tmp_path / "log.gz", 5, verify_access_log)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_url_fails_fast_naming_it(tmp_path):
    url = closed_port_url()
    started = time.monotonic()
    with pytest.raises(DownloadError) as info:
        fetch([url], tmp_path / "log.gz", 5)
    assert url in str(info.value) and "refused" in str(info.value).lower()
    assert time.monotonic() - started < 3
