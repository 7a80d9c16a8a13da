"""Who a request's client is (lib.logs.parsing.clients): the X-Forwarded-For walk as nginx's
realip and Apache's mod_remoteip read the header, logs behind a load balancer end to end, and
the refusals where the choice is the operator's."""

from __future__ import annotations

import json

import pytest

from lib.errors import ConfigError
from lib.logs.errors import LogFormatError
from lib.logs.parsing.client_address import _walk
from lib.logs.parsing.clients import TRUSTED_PROXIES, client_rule
from lib.logs.q1 import answers, run_q1
from tests.support.logs_command import run_logs

WINDOW = {"window_start": "2026-11-30T00:00:00+00:00", "window_end": "2026-12-01T00:00:00+00:00"}
NGINX_MAIN = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" "$http_x_forwarded_for"'
)
XFF_FIRST = r"%{X-Forwarded-For}i %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\""
BALANCERS = ("10.0.0.2", "10.0.0.3")


@pytest.mark.parametrize(
    ("header", "peer", "client"),
    [
        ("203.0.113.7", "10.0.0.2", "203.0.113.7"),  # one proxy
        ("203.0.113.7, 10.0.0.3", "10.0.0.2", "203.0.113.7"),  # two
        ("198.51.100.1, 203.0.113.7", "10.0.0.2", "203.0.113.7"),  # the first made up by it
        ("203.0.113.7,10.0.0.3", "10.0.0.2", "203.0.113.7"),  # no space after the comma
        ("203.0.113.7:51514", "10.0.0.2", "203.0.113.7"),  # with a port
        ("[2001:db8::7]:443, 10.0.0.3", "10.0.0.2", "2001:db8::7"),
        ("2001:db8::7", "fd00::1", "2001:db8::7"),  # unique-local proxies are trusted
        ("unknown, 203.0.113.7", "10.0.0.2", "203.0.113.7"),
        ("203.0.113.7, unknown", "10.0.0.2", "10.0.0.2"),  # never past what is no address
        ("-", "10.0.0.2", "10.0.0.2"),  # no header: the peer
        ("10.9.9.9, 10.0.0.3", "10.0.0.2", "10.9.9.9"),  # all trusted: the leftmost
        ("1.2.3.4", "198.51.100.9", "198.51.100.9"),  # no proxy: the header is the client's own
        ("203.0.113.7", "::ffff:10.0.0.2", "203.0.113.7"),  # IPv4-mapped proxy
        ("203.0.113.7", None, "203.0.113.7"),  # a format that logs no peer
        ("_hidden", None, "_hidden"),  # nothing to go by: the header as logged
    ],
)
def test_the_forwarded_walk(header, peer, client):
    assert _walk(header, peer, TRUSTED_PROXIES) == client


def test_trusted_proxies_of_ones_own():
    rule = client_rule("forwarded", "198.51.100.0/24, 203.0.113.7")
    assert rule.trusted == ("198.51.100.0/24", "203.0.113.7/32")
    assert _walk("192.0.2.1, 203.0.113.7", "198.51.100.9", rule.trusted) == "192.0.2.1"
    assert client_rule("forwarded", "").trusted == TRUSTED_PROXIES
    with pytest.raises(ConfigError, match="'10.0.0.300' is not an address or network"):
        client_rule("forwarded", "10.0.0.300")
    with pytest.raises(ConfigError, match="client must be one of remote, forwarded, real_ip"):
        client_rule("x_forwarded")


def line(client: str, balancer: str, second: int, layout: str) -> str:
    stamp = f"30/Nov/2026:10:00:{second % 60:02d} +0000"
    request = f'"GET /p{second} HTTP/1.1" 200 {100 + second} "-" "curl/8.5"'
    if layout == "nginx_main":
        return f'{balancer} - - [{stamp}] {request} "{client}"'
    return f"{client} - - [{stamp}] {request}"  # X-Forwarded-For where %h would be


def behind_balancers(tmp_path, layout: str):
    """A log of six clients behind two balancers; the clients' requests: 6, 5, 4, 3, 2, 1."""
    clients = [f"203.0.113.{i}" for i in range(1, 7)]
    lines = [
        line(client, BALANCERS[n % 2], n, layout)
        for rank, client in enumerate(clients)
        for n in range(6 - rank)
    ]
    path = tmp_path / f"{layout}.log"
    path.write_text("\n".join(lines) + "\n")
    return path


def top(result) -> list[tuple[str, int]]:
    return [(h["host"], h["requests"]) for h in answers(result)["top_hosts"]]


def test_the_client_is_taken_from_x_forwarded_for_when_told(tmp_path):
    log = behind_balancers(tmp_path, "nginx_main")
    by_peer = run_q1(log, log_format=NGINX_MAIN, use_dns=False, **WINDOW)
    assert [host for host, _ in top(by_peer)] == list(BALANCERS)  # what the server saw
    result = run_q1(log, log_format=NGINX_MAIN, client="forwarded", use_dns=False, **WINDOW)
    assert top(result) == [(f"203.0.113.{i}", 7 - i) for i in range(1, 7)]
    said = answers(result)["input"]["client"]
    assert said == {"rule": "forwarded", "trusted_proxies": list(TRUSTED_PROXIES)}


def test_a_format_that_logs_no_peer_takes_the_client_from_its_header(tmp_path):
    log = behind_balancers(tmp_path, "xff_first")
    result = run_q1(log, log_format=XFF_FIRST, use_dns=False, **WINDOW)
    assert top(result) == [(f"203.0.113.{i}", 7 - i) for i in range(1, 7)]
    assert answers(result)["input"]["client"] == {"rule": "remote"}


def test_two_addresses_first_are_never_taken_for_a_virtual_host(tmp_path):
    lines = [f"203.0.113.{i} 10.0.0.2 - - [30/Nov/2026:10:00:0{i} +0000] " for i in range(5)]
    log = tmp_path / "two.log"
    log.write_text("".join(f'{text}"GET / HTTP/1.1" 200 5\n' for text in lines))
    with pytest.raises(LogFormatError) as caught:
        run_q1(log, use_dns=False, **WINDOW)
    message = str(caught.value)
    assert "start with two addresses" in message and "vhost_common" in message
    assert "log_format (--format" in message and "client (--client forwarded or remote)" in message
    run = run_logs(str(log), "--no-dns", env={"GEO_CACHE": str(tmp_path / "geo")})
    assert run.returncode == 1 and len(run.stderr.strip().splitlines()) == 1


def test_a_rule_the_format_cannot_follow_is_refused(tmp_path):
    log = tmp_path / "combined.log"
    log.write_text(
        '203.0.113.1 - - [30/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua"\n' * 3
    )
    with pytest.raises(LogFormatError, match=r"logs no forwarded_for field.*client=forwarded"):
        run_q1(log, client="forwarded", use_dns=False, **WINDOW)


def test_the_command_takes_the_client_options(tmp_path):
    log = behind_balancers(tmp_path, "nginx_main")
    out = tmp_path / "out"
    command = [str(log), "--no-dns", "--format", NGINX_MAIN]
    command += ["--window-start", WINDOW["window_start"], "--window-end", WINDOW["window_end"]]
    command += ["--client", "forwarded", "--trusted-proxies", "10.0.0.0/24"]
    run = run_logs(*command, "--output-dir", str(out), env={"GEO_CACHE": str(tmp_path / "geo")})
    assert run.returncode == 0, run.stderr
    data = json.loads((out / "results.json").read_text())
    assert data["top_hosts"][0]["host"] == "203.0.113.1"
    assert data["input"]["client"]["trusted_proxies"] == ["10.0.0.0/24"]
