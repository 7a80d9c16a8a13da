"""User agents told apart: crawlers (bots, scripts, monitors) and people, by the list the
``crawler-user-agents`` package keeps (about 1,500 patterns, maintained by its community; the
package's own ``is_crawler`` reads the same list). Every distinct agent of a log is matched once,
by polars with the list's patterns joined into one regular expression (90,000 agents in about
20 ms, where the package's Python loop takes about a second); ``tests/unit/logs/test_crawlers``
holds the two to the same verdicts. Works on the summary's agent counts: no second read of the
log."""

from __future__ import annotations

from functools import cache

import polars as pl
from crawleruseragents import CRAWLER_USER_AGENTS_DATA

from lib.logs.counting.ranking import busiest

TOP_CRAWLERS = 10


@cache
def crawler_pattern() -> str:
    """The list's patterns as one regular expression (case-sensitive, as the list is)."""
    return "|".join(f"(?:{entry['pattern']})" for entry in CRAWLER_USER_AGENTS_DATA)


def is_crawler(agents: pl.Series) -> pl.Series:
    """For each user agent, whether the list names it a crawler (null stays null)."""
    return agents.str.contains(crawler_pattern())


def crawlers_and_people(user_agents: pl.DataFrame, top: int = TOP_CRAWLERS) -> dict:
    """From ``user_agent``, ``requests`` counts: the requests and distinct agents of crawlers
    and of people, and the crawlers' busiest agents."""
    marked = user_agents.with_columns(
        is_crawler(user_agents.get_column("user_agent")).alias("crawler")
    )
    crawlers = marked.filter(pl.col("crawler"))
    people = marked.filter(~pl.col("crawler"))
    ranked = busiest(crawlers, top, "user_agent")
    return {
        "crawler_requests": int(crawlers.get_column("requests").sum() or 0),
        "people_requests": int(people.get_column("requests").sum() or 0),
        "crawler_agents": crawlers.height,
        "people_agents": people.height,
        "top_crawlers": [
            {"user_agent": agent, "requests": int(n)}
            for agent, n in ranked.select("user_agent", "requests").iter_rows()
        ],
    }
