"""Q1 on the logs of real deployments (``tests/support/log_corpus.py``): every variant is
detected with no option (but those whose client only the operator can name) and answers exactly
what the oracle computed from the records; logs in formats nobody should read are refused in one
line that says how to name the format."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from lib.logs.errors import LogFormatError
from lib.logs.q1 import answers, run_q1
from tests.support.log_corpus import (
    CLIENTS,
    COMPRESSIONS,
    NEAR_MISSES,
    SUFFIXES,
    USER_AGENTS,
    VARIANTS,
    WINDOW,
    Variant,
    country_of,
    window_args,
    write_lines,
    write_log,
)
from tests.support.logs_command import run_logs

OPTION_KEYWORDS = {"--format": "log_format", "--client": "client"}  # as run_q1 takes them
TOP_COUNTRY = ("country", "requests")  # what the oracle knows of the top country


@pytest.fixture(scope="module")
def geo_cache(tmp_path_factory) -> Path:
    """The IP databases' tables, built once for the module's runs."""
    return tmp_path_factory.mktemp("geo")


def compression_of(name: str) -> str:
    """Each variant's log is compressed, the ways taken in turn along ``VARIANTS``."""
    ways = [way for way in COMPRESSIONS if way != "plain"]
    return ways[list(VARIANTS).index(name) % len(ways)]


def written(variant: Variant, folder: Path) -> Path:
    compression = compression_of(variant.name)
    return write_log(variant, folder / f"{variant.name}.log{SUFFIXES[compression]}", compression)


def q1_answers(variant: Variant, log: Path, geo_cache: Path) -> dict:
    options = dict(zip(variant.options[::2], variant.options[1::2], strict=True))
    unknown = set(options) - set(OPTION_KEYWORDS)
    assert not unknown, f"{variant.name}: no run_q1 keyword for {sorted(unknown)}"
    keywords = {OPTION_KEYWORDS[flag]: value for flag, value in options.items()}
    result = run_q1(log, use_dns=False, geo_cache=geo_cache, **window_args(), **keywords)
    return answers(result)


def observed(data: dict, log: Path) -> dict:
    """Q1's answers in the oracle's terms."""
    country = data["top_country"] and {key: data["top_country"][key] for key in TOP_COUNTRY}
    return {
        "format": data["input"]["formats"].get(str(log)),
        "total_requests": data["total_requests"],
        "rejected_lines": data["rejected_lines"],
        "window_requests": data["window"]["requests"],
        "top_hosts": [
            {key: row[key] for key in ("rank", "host", "requests")} for row in data["top_hosts"]
        ],
        "top_country": country,
    }


def wanted(variant: Variant) -> dict:
    return {"format": variant.detect_as, "rejected_lines": 0, **variant.expected()}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_deployment_log_is_detected_and_answered_right(name, tmp_path, geo_cache):
    variant = VARIANTS[name]
    log = written(variant, tmp_path)
    got, want = observed(q1_answers(variant, log, geo_cache), log), wanted(variant)
    assert got["format"] == want["format"]
    assert (got["total_requests"], got["rejected_lines"]) == (want["total_requests"], 0)
    assert got["window_requests"] == want["window_requests"]
    assert got["top_hosts"] == want["top_hosts"]
    assert got["top_country"] == want["top_country"]


@pytest.mark.parametrize("near_miss", NEAR_MISSES, ids=lambda near_miss: near_miss.name)
def test_a_format_q1_does_not_know_is_refused_in_one_line_saying_how_to_name_it(
    near_miss, tmp_path, geo_cache
):
    log = write_lines(tmp_path / f"{near_miss.name}.log", near_miss.lines)
    with pytest.raises(LogFormatError) as caught:
        run_q1(log, use_dns=False, geo_cache=geo_cache, **window_args())
    message = str(caught.value)
    assert "\n" not in message
    assert any(mention in message for mention in near_miss.mentions), message
    cli = run_logs(str(log), "--no-dns", cwd=tmp_path, env={"GEO_CACHE": str(geo_cache)})
    assert (cli.returncode, cli.stdout) == (1, ""), cli.stderr
    assert len(cli.stderr.splitlines()) == 1 and cli.stderr.startswith("error: "), cli.stderr
    assert any(mention in cli.stderr for mention in near_miss.mentions), cli.stderr


def test_the_corpus_holds_what_the_tests_rely_on():
    """At least 30 variants, each a line per request; requests at the window's ends and a second
    either side; ties across the top ten's edge; user agents with a quote and a backslash;
    every client with a country."""
    assert len(VARIANTS) >= 30
    start, end = WINDOW
    for variant in VARIANTS.values():
        lines = variant.lines()
        requests = [line for line in lines if not line.startswith("#")]
        assert len(requests) == len(variant.records()), variant.name
        assert not any("\n" in line or "\r" in line for line in lines), variant.name
        assert "\n" not in variant.sample
    records = VARIANTS["apache_combined"].records()
    times = {record.time for record in records}
    second = timedelta(seconds=1)
    assert {start, end, start + second, start - second, end + second, end - second} <= times
    oracle = VARIANTS["apache_combined"].expected()
    tenth = oracle["top_hosts"][9]["requests"]
    inside = [r.client for r in records if start <= r.time < end]
    assert sum(1 for host in set(inside) if inside.count(host) == tenth) > 1  # a tie at the cut
    agents = {record.user_agent for record in records}
    assert any('"' in agent for agent in agents) and any("\\" in agent for agent in agents)
    assert set(USER_AGENTS) <= agents
    assert all(country_of(client) for client in CLIENTS)
