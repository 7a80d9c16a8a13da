"""Q1 on the logs of real deployments (``tests/support/log_corpus.py``): every variant Q1 reads
today is detected with no option and answers exactly what the oracle computed from the records;
every other one is listed in ``NOT_YET_READ`` with what Q1 does with it today, and a test keeps
that list exact; logs in formats nobody should read are refused in one line that says how to
name the format."""

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

# The variants Q1 does not read right yet, and what it does with each today: "refused" (a
# one-line LogFormatError) or "wrong" (an answer that is not the oracle's). The open issue "Q1
# reads the logs of real deployments - behind proxies, in JSON, from cloud load balancers and
# containers - correctly or loudly, never silently wrong" covers them all. Whoever makes Q1 read
# one moves it out of here (test_not_yet_read_is_exactly_what_q1_does_not_read_right fails
# until they do), and then test_a_deployment_log_is_detected_and_answered_right holds it to the
# oracle.
NOT_YET_READ: dict[str, str] = {
    "haproxy": "refused",
    "haproxy_syslog": "refused",
    "squid": "refused",
    "aws_alb": "refused",
    "aws_elb": "refused",
    "aws_s3": "refused",
    "cloudfront": "refused",  # its #Fields: header is taken for IIS's; its tabs match nothing
    "iis_three_blocks": "refused",  # only the first #Fields: block is used; two thirds rejected
    "syslog_combined": "refused",
    "docker_json_combined": "refused",
    "cri_combined": "refused",
}
READ_TODAY = [name for name in VARIANTS if name not in NOT_YET_READ]
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


@pytest.mark.parametrize("name", READ_TODAY)
def test_a_deployment_log_is_detected_and_answered_right(name, tmp_path, geo_cache):
    variant = VARIANTS[name]
    log = written(variant, tmp_path)
    got, want = observed(q1_answers(variant, log, geo_cache), log), wanted(variant)
    assert got["format"] == want["format"]
    assert (got["total_requests"], got["rejected_lines"]) == (want["total_requests"], 0)
    assert got["window_requests"] == want["window_requests"]
    assert got["top_hosts"] == want["top_hosts"]
    assert got["top_country"] == want["top_country"]


def outcome(variant: Variant, folder: Path, geo_cache: Path) -> str:
    """What Q1 does with a variant's log: ``refused: <message>``, ``right``, ``wrong: <what
    differs>``, or ``crashed: <exception>`` (a refusal of more than one line is a crash too)."""
    log = written(variant, folder)
    try:
        data = q1_answers(variant, log, geo_cache)
    except LogFormatError as refusal:
        message = str(refusal).replace(f"{folder}/", "")
        if "\n" in message:
            return f"crashed: a refusal of {message.count(chr(10)) + 1} lines: {message!r}"
        return f"refused: {message[:160]}"
    except Exception as error:  # noqa: BLE001 - reported, and the test fails on it
        return f"crashed: {type(error).__name__}: {error}"
    got, want = observed(data, log), wanted(variant)
    differ = [key for key in want if got[key] != want[key]]
    if not differ:
        return "right"
    shown = []
    for key in differ:
        mine, theirs = got[key], want[key]
        if key == "top_hosts":
            mine, theirs = mine[:1], theirs[:1]  # the first is enough to tell
        shown.append(f"{key} {mine} (oracle: {theirs})")
    return "wrong: " + "; ".join(shown)


def test_not_yet_read_is_exactly_what_q1_does_not_read_right(tmp_path, geo_cache):
    """Each variant of NOT_YET_READ is still refused in one line, or still answered wrongly, as
    the list says: one Q1 now reads right must move to the read set, and one whose refusal
    turned into a wrong answer is a regression."""
    assert set(NOT_YET_READ) <= set(VARIANTS), set(NOT_YET_READ) - set(VARIANTS)
    seen = {name: outcome(VARIANTS[name], tmp_path, geo_cache) for name in NOT_YET_READ}
    report = "\n".join(f"  {name}: {what}" for name, what in seen.items())
    kinds = {name: what.split(":")[0] for name, what in seen.items()}
    assert kinds == NOT_YET_READ, f"what Q1 does today with each not-yet-read variant:\n{report}"


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
