"""Crawlers told from people (lib.logs.crawlers): the polars path gives the verdicts of the
crawler-user-agents package's own ``is_crawler`` on every example the list carries and on
browsers' agents, the counts add up, and Q1's answers carry them when the format logs agents."""

from __future__ import annotations

import polars as pl
from crawleruseragents import CRAWLER_USER_AGENTS_DATA
from crawleruseragents import is_crawler as package_says

from lib.logs.crawlers import crawlers_and_people, is_crawler
from lib.logs.q1 import answers, run_q1
from tests.support.log_corpus import USER_AGENTS, VARIANTS, client_of, write_log

BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "",
    '\u00e9\u0000\\"odd',
)


def test_the_polars_path_agrees_with_the_package_on_every_example_and_browsers():
    examples = [
        agent for entry in CRAWLER_USER_AGENTS_DATA for agent in entry.get("instances", [])
    ]
    agents = [*examples, *USER_AGENTS, *BROWSERS]
    ours = is_crawler(pl.Series(agents, dtype=pl.String)).to_list()
    assert ours == [package_says(agent) for agent in agents]
    assert all(ours[: len(examples)])  # the list's own examples are crawlers
    assert not any(is_crawler(pl.Series(BROWSERS[:3])).to_list())


def test_the_counts_add_up():
    counts = pl.DataFrame(
        {
            "user_agent": ["curl/8.5.0", BROWSERS[0], "Googlebot/2.1", None],
            "requests": [5, 7, 3, 2],
        }
    )
    found = crawlers_and_people(counts, top=1)
    assert found == {
        "crawler_requests": 8,
        "people_requests": 7,
        "crawler_agents": 2,
        "people_agents": 1,
        "top_crawlers": [{"user_agent": "curl/8.5.0", "requests": 5}],
    }


def test_q1_answers_crawlers_and_people_when_the_format_logs_agents(tmp_path):
    combined = VARIANTS["apache_combined"]
    log = write_log(combined, tmp_path / "combined.log")
    data = answers(run_q1(log, use_dns=False))["crawlers_and_people"]
    records = combined.records()
    want = sum(1 for r in records if r.user_agent and package_says(r.user_agent))
    assert data["crawler_requests"] == want
    assert data["crawler_requests"] + data["people_requests"] == sum(
        1 for r in records if r.user_agent
    )
    common = write_log(VARIANTS["apache_common"], tmp_path / "common.log")
    assert answers(run_q1(common, use_dns=False))["crawlers_and_people"] is None
    assert client_of(records[0], "remote")  # the corpus is what the oracle reads
