"""The operator's breakdowns (lib.logs.breakdowns, lib.logs.counting.bounded) against an oracle
that reads the corpus's records, never the log: requests and distinct queries per URL, 4xx and
5xx per hour, unique visitors per day, bytes adding up, virtual hosts, and the time taken's
percentiles within the stated precision, for formats of every parser kind; and the bounds:
merged in any order, split anyhow, with caps small enough to bite, every count within the
error the summary states, and exact when nothing was dropped."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.logs.breakdowns import PRECISION
from lib.logs.counting import bounded, caps
from lib.logs.counting.summary import LogSummary, combine, no_durations
from lib.logs.q1 import answers, run_q1
from tests.support.log_corpus import VARIANTS, client_of, window_args, write_log

# formats whose request line holds the path as sent (a load balancer's holds the whole URL)
PATH_VARIANTS = ("apache_common", "apache_combined", "apache_vhost_combined", "nginx_json",
                 "caddy_json", "iis_three_blocks", "syslog_combined", "traefik_json")  # fmt: skip
TIMED_VARIANTS = ("apache_combined_duration", "nginx_request_time", "ingress_nginx",
                  "traefik_clf", "caddy_json", "iis_three_blocks")  # fmt: skip


def nearest_rank(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1]


@pytest.fixture(scope="module")
def answered(tmp_path_factory):
    """Each variant's answers, computed once."""
    found = {}

    def get(name: str) -> dict:
        if name not in found:
            log = write_log(VARIANTS[name], tmp_path_factory.mktemp(name) / f"{name}.log")
            found[name] = answers(run_q1(log, use_dns=False, top_n=10, **window_args()))
        return found[name]

    return get


@pytest.mark.parametrize("name", PATH_VARIANTS)
def test_urls_hours_and_visitors_are_the_oracles(name, answered):
    variant, data = VARIANTS[name], answered(name)
    records = variant.records()
    urls = Counter(r.path for r in records)
    queries = defaultdict(set)
    for r in records:
        if r.query:
            queries[r.path].add(r.query)
    want = sorted(urls.items(), key=lambda item: (-item[1], item[0]))[:10]
    got = data["top_urls"]
    assert [(row["url"], row["requests"]) for row in got] == want
    assert all(row["distinct_queries"] == len(queries[row["url"]]) for row in got)
    assert all(row["distinct_queries_exact"] for row in got)
    exact = {"distinct": len(urls), "listed_exactly": True, "count_error_at_most": 0}
    assert data["urls"] == exact

    hours = defaultdict(Counter)
    for r in records:
        hour = r.utc.replace(minute=0, second=0, microsecond=0)
        hours[hour]["requests"] += 1
        hours[hour]["client_errors"] += 400 <= r.status < 500
        hours[hour]["server_errors"] += 500 <= r.status < 600
    assert [(row["hour"], row["requests"], row["client_errors"], row["server_errors"])
            for row in data["hourly"]] == [
        (hour.isoformat(), c["requests"], c["client_errors"], c["server_errors"])
        for hour, c in sorted(hours.items())
    ]  # fmt: skip
    assert sum(row["server_errors"] for row in data["hourly"]) > 0  # the corpus has some

    agents = bool(data["top_user_agents"])  # whether the format logs the user agent
    days = defaultdict(set)
    for r in records:
        days[r.utc.date()].add((client_of(r, variant.client), r.user_agent if agents else None))
    visitors = data["unique_visitors"]
    assert visitors["per_day"] == {day.isoformat(): len(v) for day, v in sorted(days.items())}
    assert visitors["total"] == sum(map(len, days.values())) and visitors["exact"]


@pytest.mark.parametrize("name", [*PATH_VARIANTS, "aws_alb", "squid"])
def test_bytes_add_up_by_host_and_by_url(name, answered):
    data = answered(name)
    total = data["bytes_sent"]
    assert total > 0
    by_host = data["top_hosts_by_bytes"]
    assert [row["bytes"] for row in by_host] == sorted((row["bytes"] for row in by_host),
                                                       reverse=True)  # fmt: skip
    # every URL listed: their bytes are all the bytes (the corpus has fewer than 10 hosts' worth)
    assert sum(row["requests"] for row in data["top_urls"]) <= data["total_requests"]
    assert all(0 <= row["bytes"] <= total for row in data["top_urls_by_bytes"])


def test_bytes_per_host_and_url_sum_to_the_total(tmp_path):
    log = write_log(VARIANTS["apache_vhost_combined"], tmp_path / "v.log")
    summary = run_q1(log, use_dns=False, **window_args()).summary
    assert summary.hosts.get_column("bytes").sum() == summary.bytes_sent
    assert summary.urls.get_column("bytes").sum() == summary.bytes_sent
    assert summary.vhosts.get_column("bytes").sum() == summary.bytes_sent
    records = VARIANTS["apache_vhost_combined"].records()
    vhosts = Counter(r.vhost for r in records)
    data = answers(run_q1(log, use_dns=False, **window_args()))
    assert {row["vhost"]: row["requests"] for row in data["vhosts"]} == dict(vhosts)


def test_a_format_without_a_virtual_host_or_a_duration_says_so(answered):
    data = answered("apache_combined")
    assert data["vhosts"] is None and data["response_times"] is None
    assert all("p50_ms" not in row for row in data["top_urls"])


@pytest.mark.parametrize("name", TIMED_VARIANTS)
def test_percentiles_are_within_the_stated_precision(name, answered):
    data = answered(name)
    records = VARIANTS[name].records()
    times = data["response_times"]
    assert times["timed_requests"] == len(records)
    # the log holds the time as the server rounds it (ms for nginx's seconds): a millisecond
    for key, share in (("p50_ms", 0.5), ("p90_ms", 0.9), ("p99_ms", 0.99)):
        exact = nearest_rank([r.duration * 1000 for r in records], share)
        assert abs(times[key] - exact) <= exact * PRECISION + 1.0, key
    top = data["top_urls"][0]
    own = [r.duration * 1000 for r in records if r.path == top["url"]]
    if name in PATH_VARIANTS or name.startswith(("apache", "nginx", "ingress", "traefik")):
        median = nearest_rank(own, 0.5)
        assert abs(top["p50_ms"] - median) <= median * PRECISION + 1


@given(st.lists(st.floats(min_value=0, max_value=1e9, allow_nan=False), min_size=1, max_size=300))
@settings(max_examples=200, deadline=None)
def test_a_percentile_is_within_precision_of_the_nearest_rank(values):
    frame = pl.DataFrame({"d": values}).select(
        bounded.duration_bucket(pl.col("d").round().cast(pl.Int64)).alias("bucket"),
        pl.lit(1, pl.UInt64).alias("requests"),
    )
    shares = (0.01, 0.5, 0.9, 0.99, 1.0)
    for share, got in zip(shares, bounded.percentiles(frame, shares), strict=True):
        exact = round(nearest_rank(values, share))
        assert abs(got - exact) <= exact * PRECISION + 1e-9 if exact >= 1 else got == 0.0


def _part(urls: list[str], visitors: list[tuple[str, int]]) -> LogSummary:
    """A summary of requests to ``urls`` (query = its index mod 7) and of ``visitors``."""
    frame = pl.DataFrame({"url": urls, "q": [str(i % 7) for i in range(len(urls))]},
                         schema={"url": pl.String, "q": pl.String})  # fmt: skip
    counted = frame.group_by("url").agg(
        pl.len().cast(pl.UInt64).alias("requests"), pl.len().cast(pl.Int64).alias("bytes")
    )
    keys = frame.select("url", bounded.query_key(pl.col("url"), pl.col("q")).alias("query"))
    keys = keys.unique()
    queries = keys.with_columns(bounded.key_hashes(keys.get_column("query")))
    people = pl.DataFrame({"who": [w for w, _ in visitors], "day": [d for _, d in visitors]},
                          schema={"who": pl.String, "day": pl.Int64})  # fmt: skip
    seen = people.select(
        (pl.date(2026, 12, 1) + pl.duration(days=pl.col("day"))).alias("day"),
        pl.col("who").alias("visitor"),
    ).unique()
    seen = seen.with_columns(bounded.key_hashes(seen.get_column("visitor")))
    return LogSummary(urls=counted, url_queries=queries, visitors=seen, durations=no_durations())


@given(
    st.lists(st.integers(0, 400), min_size=1, max_size=3000),
    st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 3)), max_size=3000),
    st.integers(1, 12),
    st.randoms(use_true_random=False),
)
@settings(max_examples=60, deadline=None)
def test_bounded_counts_stay_within_their_stated_error_whatever_the_merges(
    draws, people, pieces, rng: random.Random
):
    # a skewed stream of URLs: a few busy, a long tail
    urls = [f"/u{int(400 * (d / 400) ** 3)}" for d in draws]
    visitors = [(f"v{w}", day) for w, day in people]
    cuts = sorted(rng.sample(range(1, len(urls)), min(pieces, len(urls)) - 1))
    ends = zip([0, *cuts], [*cuts, len(urls)], strict=True)
    parts = [_part(urls[a:b], visitors[a:b]) for a, b in ends]
    exact = combine(parts)  # caps far above: exact
    truth = Counter(urls)
    assert dict(exact.urls.select("url", "requests").iter_rows()) == truth
    assert exact.url_error == 0 and exact.visitor_level == 0

    saved = caps.URL_CAP, caps.QUERY_CAP, caps.VISITOR_CAP
    caps.URL_CAP, caps.QUERY_CAP, caps.VISITOR_CAP = 12, 40, 50
    try:
        merged = parts
        while len(merged) > 1:  # merged pairwise, in a random order
            rng.shuffle(merged)
            merged = [combine(merged[i : i + 2]) for i in range(0, len(merged), 2)]
        small = combine(merged)
    finally:
        caps.URL_CAP, caps.QUERY_CAP, caps.VISITOR_CAP = saved
    kept = dict(small.urls.select("url", "requests").iter_rows())
    assert len(kept) <= 12 and small.url_queries.height <= 40 and small.visitors.height <= 50
    for url, n in truth.items():
        assert n - small.url_error <= kept.get(url, 0) <= n, url
    if len(truth) <= 12:
        assert kept == truth and small.url_error == 0
    distinct = len(set(visitors[: len(urls)]))  # the visitors the parts were given
    estimate = bounded.estimate(small.visitors.height, small.visitor_level)
    if small.visitor_level == 0:
        assert estimate == distinct
    else:  # a 1 in 2**level sample: within a few standard deviations of the truth
        assert abs(estimate - distinct) <= 6 * math.sqrt(distinct * 2**small.visitor_level) + 1


def test_a_log_with_more_urls_than_kept_says_its_counts_are_bounds(tmp_path, monkeypatch):
    lines = [
        f"10.0.0.{i % 200} - - [01/Dec/2026:10:{i // 1000 % 60:02d}:00 +0000] "
        f'"GET /page/{i % 500 if i % 3 else 1}?q={i} HTTP/1.1" 200 {i % 90} "-" "agent {i % 9}"'
        for i in range(30_000)
    ]
    log = tmp_path / "many.log"
    log.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(caps, "URL_CAP", 50)
    monkeypatch.setattr(caps, "QUERY_CAP", 1000)
    data = answers(run_q1(log, use_dns=False, partition_bytes=300_000))
    assert data["top_urls"][0]["url"] == "/page/1"
    truth = Counter(line.split()[6].split("?")[0] for line in lines)
    error = data["urls"]["count_error_at_most"]
    assert not data["urls"]["listed_exactly"] and data["urls"]["distinct"] is None
    for row in data["top_urls"]:
        assert truth[row["url"]] - error <= row["requests"] <= truth[row["url"]]
    top = data["top_urls"][0]
    queries = len({line.split()[6] for line in lines if line.split()[6].startswith("/page/1?")})
    assert not top["distinct_queries_exact"]
    assert abs(top["distinct_queries"] - queries) <= 0.25 * queries
    assert data["unique_visitors"]["per_day"] == {"2026-12-01": len({(i % 200, i % 9) for i in
                                                                     range(30_000)})}  # fmt: skip
