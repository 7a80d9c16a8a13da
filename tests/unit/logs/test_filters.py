"""Filters (lib.logs.filters): the requests counted are exactly those the oracle keeps from
the corpus's records, for formats of every parser kind, with the compiled counter off and the
same answers as no filter when nothing is left out; the window applied to every answer; bad
filters refused in one line naming the option; a virtual-host filter on a format without one
refused rather than leaving everything out."""

from __future__ import annotations

import ipaddress
from collections import Counter

import pytest

from lib.errors import ConfigError
from lib.logs.filters import RequestFilter, request_filter
from lib.logs.q1 import answers, run_q1
from tests.support.log_corpus import VARIANTS, WINDOW, expected, window_args, write_log
from tests.support.logs_command import run_logs

FILTERS = {
    "status": {"status_filter": "4xx,500"},
    "method": {"method_filter": "get,head"},
    "path": {"path_prefix": "/api,/static"},
    "clients": {"exclude_clients": "2001:4860::/32,186.192.81.0/24"},
    "all": {"status_filter": "2xx,304", "method_filter": "GET", "path_prefix": "/"},
}


def kept(record, keywords: dict) -> bool:
    """The oracle's filter, written apart from lib.logs.filters."""
    statuses = (keywords.get("status_filter") or "").split(",")
    if statuses != [""] and not any(
        record.status // 100 == int(item[0]) if item.endswith("xx") else record.status == int(item)
        for item in statuses
    ):
        return False
    methods = keywords.get("method_filter")
    if methods and record.method not in methods.upper().split(","):
        return False
    prefixes = keywords.get("path_prefix")
    if prefixes and not any(record.path.startswith(p) for p in prefixes.split(",")):
        return False
    networks = keywords.get("exclude_clients")
    if networks:
        address = ipaddress.ip_address(record.client)
        if any(address in ipaddress.ip_network(net) for net in networks.split(",")):
            return False
    return True


@pytest.mark.parametrize(
    "variant",
    [
        "apache_combined",
        "apache_common",
        "nginx_json",
        "aws_alb",
        "iis_three_blocks",
        "syslog_combined",
    ],
)
@pytest.mark.parametrize("name", list(FILTERS))
def test_the_requests_counted_are_those_the_oracle_keeps(variant, name, tmp_path):
    keywords = FILTERS[name]
    log = write_log(VARIANTS[variant], tmp_path / f"{variant}.log")
    data = answers(run_q1(log, use_dns=False, **window_args(), **keywords))
    records = VARIANTS[variant].records()
    chosen = [record for record in records if kept(record, keywords)]
    want = expected(chosen)
    assert data["total_requests"] == len(chosen)
    assert data["filters"]["left_out_requests"] == len(records) - len(chosen)
    assert (data["window"]["requests"], data["top_hosts"]) == (want["window_requests"],
                                                               want["top_hosts"])  # fmt: skip
    assert sum(data["statuses"].values()) == len(chosen)
    assert data["lines"] - data["rejected_lines"] >= len(records)  # every line still read


def test_a_filter_that_keeps_everything_answers_as_no_filter(tmp_path):
    log = write_log(VARIANTS["apache_combined"], tmp_path / "a.log")
    plain = answers(run_q1(log, use_dns=False, **window_args()))
    everything = answers(run_q1(log, use_dns=False, exclude_clients="192.0.2.0/24",
                                **window_args()))  # fmt: skip  # no client there
    for key in ("total_requests", "window", "top_hosts", "statuses", "top_country",
                "top_user_agents", "bytes_sent", "first_time", "last_time"):  # fmt: skip
        assert everything[key] == plain[key], key
    assert everything["filters"] == {"set": {"exclude_clients": ["192.0.2.0/24"]},
                                     "left_out_requests": 0}  # fmt: skip


def test_the_window_applies_to_every_answer_when_asked(tmp_path):
    variant = VARIANTS["apache_combined"]
    log = write_log(variant, tmp_path / "a.log")
    data = answers(run_q1(log, use_dns=False, window_only=True, **window_args()))
    start, end = WINDOW
    inside = [record for record in variant.records() if start <= record.time < end]
    want = expected(inside)
    assert data["total_requests"] == len(inside) == data["window"]["requests"]
    assert data["top_country"]["country"] == want["top_country"]["country"]
    assert data["top_country"]["requests"] == want["top_country"]["requests"]
    assert Counter(r.status for r in inside) == Counter(
        {int(code): n for code, n in data["statuses"].items()}
    )


def test_a_virtual_host_filter_reads_the_logged_host(tmp_path):
    variant = VARIANTS["apache_vhost_combined"]
    log = write_log(variant, tmp_path / "v.log")
    data = answers(run_q1(log, use_dns=False, vhost_filter="API.example.com", **window_args()))
    chosen = [record for record in variant.records() if record.vhost == "api.example.com"]
    assert data["total_requests"] == len(chosen) > 0
    common = write_log(VARIANTS["apache_common"], tmp_path / "c.log")
    with pytest.raises(ConfigError, match="vhost_filter: .* logs no virtual host"):
        run_q1(common, use_dns=False, vhost_filter="example.com")


@pytest.mark.parametrize(
    ("option", "value"),
    [("--status", "2x"), ("--status", "600x"), ("--path-prefix", "api"),
     ("--exclude-client", "10.0.0.0/33"), ("--exclude-client", "example.com")],
)  # fmt: skip
def test_a_bad_filter_is_one_line_naming_its_option(option, value, tmp_path):
    run = run_logs(str(tmp_path / "never-read.log"), option, value, cwd=tmp_path)
    assert run.returncode == 2 and option in run.stderr and len(run.stderr.splitlines()) == 1
    parameter = {"--status": "status_filter", "--path-prefix": "path_prefix",
                 "--exclude-client": "exclude_clients"}[option]  # fmt: skip
    with pytest.raises(ConfigError, match=parameter):
        request_filter(**{parameter.replace("_filter", "") if option == "--status" else
                          parameter: value})  # fmt: skip


def test_no_filter_is_inactive_and_needs_nothing():
    assert not RequestFilter().active and not RequestFilter().needs_request
    assert request_filter(" 404 , 5XX ", "get").describe() == {"statuses": ["404", "5xx"],
                                                               "methods": ["GET"]}  # fmt: skip
