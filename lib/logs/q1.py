"""Q1 end to end: plan the input, read it once, attribute the hosts, and the three answers with
their JSON form.

``run_q1`` takes a log's path (``notebooks/q1.ipynb``); ``answer_q1`` takes an engine already
planned, and maybe started before polars was loaded (``python -m lib.logs``, ``bench/q1.py``).
Both answer the same way.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import polars as pl

from lib.logs.breakdowns import TOP_URLS, breakdowns
from lib.logs.counting.ranking import Named
from lib.logs.counting.summary import LogSummary, top_hosts
from lib.logs.crawlers import crawlers_and_people
from lib.logs.engines import open_engine
from lib.logs.engines.engine import Engine, EngineRun, Progress
from lib.logs.engines.plan import Plan, make_plan
from lib.logs.filters import check_fields, request_filter
from lib.logs.geo.attribution import METHODS, Attribution, DnsOptions, attribute, preload
from lib.logs.geo.dns import Resolver
from lib.logs.outcome import (
    MAX_REJECTED,
    RESULTS_NAME,
    by_reason,
    check_counts,
    check_share,
    refuse_unreadable,
)
from lib.logs.parsing.clients import ClientRule, client_rule
from lib.logs.parsing.formats import AUTO, FORMATS
from lib.logs.reading.partitions import PARTITION_BYTES
from lib.logs.reading.synthetic_marker import is_synthetic
from lib.logs.window import Window, choose_window
from lib.output import write_json

SCHEMA_VERSION = 2  # of results.json and --json (docs/q1-results.schema.json)
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "other", "none")
TOP_FIELDS = 10  # referrers and user agents ranked
HEADLINE_HOSTS = 30  # hosts printed in the headline; results.json has them all
OPTIONAL_FIELDS = ("referer", "user_agent")  # what some formats record and others do not


@dataclass(frozen=True)
class Q1Result:
    log_path: str | list[str]  # as given: a file, a glob, or a list
    files: list[str]  # what it named, absolute and sorted
    formats: dict[str, str]  # file -> the format it was read with
    client: dict  # the rule the clients were taken by: its name, and the trusted proxies
    synthetic: bool  # True if any file is synthetic
    engine: EngineRun
    window: Window
    top_n: int
    early_stopping: int
    summary: LogSummary
    top_hosts: pl.DataFrame  # rank, host, requests (inside the window)
    attribution: Attribution
    # rank, referer | user_agent, requests: the TOP_FIELDS most frequent; empty when the
    # format has none (logged_fields says which of the two the files' formats record)
    top_referrers: pl.DataFrame
    top_user_agents: pl.DataFrame
    logged_fields: frozenset[str]  # of OPTIONAL_FIELDS
    # requests by crawlers and by people (lib.logs.crawlers); None: the formats log no agent
    crawlers_and_people: dict | None


def run_q1(
    log_path: str | Path | list[str | Path],
    window_start: str | None = None,
    window_end: str | None = None,
    top_n: int = 10,
    early_stopping: int = 50,
    use_dns: bool = True,
    inferred: bool = False,
    dns_cache: str | Path | None = None,
    geo_cache: str | Path | None = None,
    resolver: Resolver | None = None,
    workers: int | None = None,
    engine: str = "auto",
    scheduler: str | None = None,
    partition_bytes: int = PARTITION_BYTES,
    progress: Progress | None = None,
    base: Path | None = None,
    log_format: str = AUTO,
    max_rejected: float = MAX_REJECTED,
    client: str = "remote",
    trusted_proxies: str | list[str] | None = None,
    status_filter: str | list[str] | None = None,
    method_filter: str | list[str] | None = None,
    path_prefix: str | list[str] | None = None,
    vhost_filter: str | list[str] | None = None,
    exclude_clients: str | list[str] | None = None,
    window_only: bool = False,
    state_dir: str | Path | None = None,
) -> Q1Result:
    """Parse the logs once and answer Q1.

    ``log_path`` is a file, a glob or a list of them (relative to ``base``, default the working
    directory); ``engine``, ``scheduler``, ``workers`` and ``partition_bytes`` are those of
    ``lib.logs.engines.plan.make_plan``, and so is ``log_format`` (``auto``: detected per file);
    ``client`` and ``trusted_proxies`` say who a request's client is
    (``lib.logs.parsing.clients.client_rule``); ``window_start`` and ``window_end`` the top
    hosts' window (``lib.logs.window``: either may be left out; both left out, the NASA
    question's for the NASA log and the whole log for any other); ``status_filter``,
    ``method_filter``, ``path_prefix``, ``vhost_filter``, ``exclude_clients`` and
    ``window_only`` which requests count at all (``lib.logs.filters``). With ``state_dir`` the
    run keeps what it read there and reads only what is new (``lib.logs.state``; the window,
    on whole hours, then applies to every answer). The rest is ``answer_q1``'s. Raises
    ConfigError, LogReadError, LogFormatError or EngineError.
    """
    Window.parse(window_start, window_end)  # a bad window is refused before a log is read
    check_share(max_rejected)
    check_counts(top_n, early_stopping)
    only = request_filter(
        status_filter, method_filter, path_prefix, vhost_filter, exclude_clients, window_only
    )
    rule = client_rule(client, trusted_proxies)
    if state_dir:
        return _run_with_state(
            state_dir, log_path, window_start, window_end, only, log_format, rule, base,
            top_n=top_n, early_stopping=early_stopping, use_dns=use_dns, inferred=inferred,
            dns_cache=dns_cache, geo=None if geo_cache is None else Path(geo_cache),
            resolver=resolver, max_rejected=max_rejected,
        )  # fmt: skip
    plan = make_plan(log_path, engine, scheduler, workers, partition_bytes, base, log_format, rule)
    check_fields(only, {path: choice.primary.roles for path, choice in plan.choices}, False)
    window = replace(choose_window(window_start, window_end, plan.files), only=only)
    return answer_q1(
        open_engine(plan, window),
        top_n=top_n,
        early_stopping=early_stopping,
        use_dns=use_dns,
        inferred=inferred,
        dns_cache=dns_cache,
        geo_cache=geo_cache,
        resolver=resolver,
        progress=progress,
        max_rejected=max_rejected,
    )


def _run_with_state(directory, log_path, start, end, only, log_format, rule, base, **answering):
    """``run_q1`` with a state directory (``lib.logs.state``)."""
    from lib.logs.state.runs import open_state, state_window

    window = state_window(start, end, only)
    with open_state(directory, log_format, rule, only, answering.get("geo")) as state:
        result, _ = answer_state(state, log_path, window, log_format, rule, base, **answering)
    return result


def answer_state(state, log_path, window, log_format, rule, base=None, **answering):
    """Read what is new in ``log_path`` into ``state`` (``lib.logs.state.runs.State``) and
    answer ``window`` from the state; ``answering`` as for ``answer_summary``. Returns the
    result and what was read (``lib.logs.state.runs.Update``)."""
    from lib.logs.state.runs import read_and_summarize

    named = _named(**answering)
    done = read_and_summarize(state, log_path, window, log_format, rule, base, named)
    result = answer_summary(
        done.summary, done.run, done.plan, window, places=done.places, **answering
    )
    return result, done.read


def _named(
    top_n: int = 10, early_stopping: int = 50, use_dns: bool = True, inferred: bool = False, **_
) -> Named:
    """Which hosts ``answer_summary``'s answers, with these settings, name or may attribute
    after the offline tiers: a state hands over only those (``lib.logs.state.hosts``)."""
    check_counts(top_n, early_stopping)
    return Named(top_n, TOP_URLS, early_stopping if use_dns else 0, inferred)


def answer_q1(
    engine: Engine,
    top_n: int = 10,
    early_stopping: int = 50,
    use_dns: bool = True,
    inferred: bool = False,
    dns_cache: str | Path | None = None,
    geo_cache: str | Path | None = None,
    resolver: Resolver | None = None,
    progress: Progress | None = None,
    max_rejected: float = MAX_REJECTED,
) -> Q1Result:
    """Run ``engine`` (``lib.logs.engines.open_engine``: a plan and a window; started or not)
    to its summary and answer Q1.

    ``progress`` is told, one line at a time, where a Dask run is. ``dns_cache`` and
    ``geo_cache`` (Q1's settings ``DNS_CACHE`` and ``GEO_CACHE``) keep DNS answers and the IP
    database's table between runs; None keeps nothing. A run in which no line is a request, or
    more than ``max_rejected`` of the lines are rejected, stops with LogFormatError. Raises
    ConfigError, LogReadError, LogFormatError or EngineError; the engine is closed either way.
    """
    try:
        check_share(max_rejected)
        geo = None if geo_cache is None else Path(geo_cache)
        # The IP database loads while the logs are parsed (parsing leaves some CPU over).
        loading = threading.Thread(target=preload, args=(geo,), name="geo-preload", daemon=True)
        loading.start()
        summary, run = engine.run(progress)
        loading.join()
    finally:
        engine.close()
    return answer_summary(
        summary, run, engine.plan, engine.window, top_n, early_stopping, use_dns, inferred,
        dns_cache, geo, resolver, max_rejected,
    )  # fmt: skip


def answer_summary(
    summary: LogSummary,
    run: EngineRun,
    plan: Plan,
    window: Window,
    top_n: int = 10,
    early_stopping: int = 50,
    use_dns: bool = True,
    inferred: bool = False,
    dns_cache: str | Path | None = None,
    geo: Path | None = None,
    resolver: Resolver | None = None,
    max_rejected: float = MAX_REJECTED,
    places: pl.DataFrame | None = None,
) -> Q1Result:
    """Q1's answers from a summary of what ``plan`` names (read by ``run``, or from a state
    directory: ``lib.logs.state``, which gives its hosts' offline ``places``): ``answer_q1``'s
    once the log is read."""
    refuse_unreadable(summary, plan, max_rejected)
    asked = _named(top_n, early_stopping, use_dns, inferred)
    if summary.hosts_named is not None and not summary.hosts_named.covers(asked):
        raise ValueError(
            f"the summary holds only some hosts ({summary.hosts_named}), fewer than these "
            f"answers name ({asked}): summarize the state again naming those"
        )
    attribution = attribute(
        summary.hosts,
        early_stopping=early_stopping,
        use_dns=use_dns,
        dns=DnsOptions(resolver=resolver, cache_path=dns_cache),
        inferred=inferred,
        geo_cache=geo,
        places=places,
        groups=summary.host_groups,
    )
    return Q1Result(
        log_path=plan.named,
        files=[str(f) for f in plan.files],
        formats={path: choice.primary.name for path, choice in plan.choices},
        client=_client_of(plan),
        synthetic=any(is_synthetic(f) for f in plan.files if plan.stream_for(str(f)) is None),
        engine=run,
        window=window,
        top_n=top_n,
        early_stopping=early_stopping,
        summary=summary,
        top_hosts=top_hosts(summary.window_hosts, top_n),
        attribution=attribution,
        top_referrers=_top(summary.referers, "referer"),
        top_user_agents=_top(summary.user_agents, "user_agent"),
        logged_fields=(logged := logged_fields(plan, summary)),
        crawlers_and_people=crawlers_and_people(summary.user_agents)
        if "user_agent" in logged
        else None,
    )


def _client_of(plan: Plan) -> dict:
    """The client rule of a run, as ``results.json`` says it."""
    rule = plan.choices[0][1].client if plan.choices else ClientRule()
    said: dict = {"rule": rule.client}
    if rule.client == "forwarded":
        said["trusted_proxies"] = list(rule.trusted)
    return said


def logged_fields(plan: Plan, summary: LogSummary) -> frozenset[str]:
    """Which of ``OPTIONAL_FIELDS`` the formats that read the log record: each file's own
    format and any registered one that read some of its lines."""
    used = [choice.primary for _, choice in plan.choices]
    used += [FORMATS[name] for name in summary.formats.get_column("format") if name in FORMATS]
    found = set()
    for fmt in used:
        found |= {"referer"} if fmt.has_referer else set()
        found |= {"user_agent"} if fmt.has_user_agent else set()
    return frozenset(found)


def _top(counts: pl.DataFrame, key: str, n: int = TOP_FIELDS) -> pl.DataFrame:
    """``rank``, ``key``, ``requests``: the ``n`` largest counts, ties by ``key``."""
    return _ranked(counts, key).head(n).with_row_index("rank", offset=1)


def _rows(frame: pl.DataFrame) -> list[dict]:
    return [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
        for row in frame.iter_rows(named=True)
    ]


def answers(result: Q1Result) -> dict:
    """The machine-readable answers (what ``results.json`` holds)."""
    summary, attribution = result.summary, result.attribution
    dns = attribution.dns
    return {
        "schema_version": SCHEMA_VERSION,
        "input": {
            "path": result.log_path,
            "files": result.files,
            "formats": result.formats,
            "synthetic": result.synthetic,
            "client": result.client,
        },
        "engine": {
            "name": result.engine.engine,
            "partitions": result.engine.partitions,
            "workers": result.engine.workers,
            "scheduler": result.engine.scheduler,
            "seconds": result.engine.seconds,
        },
        "total_requests": summary.requests,
        "lines": summary.lines,
        "rejected_lines": summary.rejected,
        "rejected_by_reason": by_reason(summary),
        "rejected_examples": _rows(summary.rejected_examples),
        "bytes_sent": summary.bytes_sent,
        "statuses": _statuses(summary.statuses),
        "status_classes": _status_classes(summary.statuses),
        "utc_offset": summary.utc_offset,
        "requests_per_format": dict(_ranked(summary.formats, "format").iter_rows()),
        "first_time": _iso(summary.first_time),
        "last_time": _iso(summary.last_time),
        "window": {
            "start": _iso(result.window.given_start),
            "end": _iso(result.window.given_end),
            "origin": result.window.origin,
            "half_open": True,
            "requests": summary.window_requests,
        },
        "filters": {
            "set": result.window.only.describe(),
            "left_out_requests": summary.filtered,
        },
        "top_hosts": _rows(result.top_hosts),
        "top_referrers": _rows(result.top_referrers.drop("rank")),
        "top_user_agents": _rows(result.top_user_agents.drop("rank")),
        "crawlers_and_people": result.crawlers_and_people,
        **breakdowns(summary),
        "top_country": attribution.winner,
        "coverage": attribution.coverage,
        "attributed_requests": attribution.attributed_requests,
        "unattributed_requests": attribution.total_requests - attribution.attributed_requests,
        "tiers": list(attribution.tiers),
        "tier_descriptions": {t: METHODS[t] for t in attribution.tiers},
        "by_method": _rows(attribution.by_method),
        "top_countries": _rows(attribution.countries.head(10)),
        "early_stopping": result.early_stopping,
        "dns": None
        if dns is None
        else {
            "available": dns.available,
            "message": dns.message,
            "asked": dns.asked,
            "resolved": len(dns.addresses),
            "not_found": len(dns.not_found),
            "failed": len(dns.failed),
            "from_cache": dns.from_cache,
            "seconds": dns.seconds,
        },
    }


def _statuses(counts: pl.DataFrame) -> dict[str, int]:
    """Requests per status code, by code (``none``: a request logged without one)."""
    rows = counts.sort("status", nulls_last=True).iter_rows()
    return {("none" if status is None else str(status)): int(n) for status, n in rows}


def _status_classes(counts: pl.DataFrame) -> dict[str, int]:
    """Requests per status class (``2xx``... ``5xx``; ``other`` for codes outside 100-599,
    ``none`` for none logged), every class present."""
    classes = dict.fromkeys(STATUS_CLASSES, 0)
    for status, n in counts.iter_rows():
        key = (
            "none" if status is None else f"{status // 100}xx" if 100 <= status < 600 else "other"
        )
        classes[key] += int(n)
    return classes


def _ranked(counts: pl.DataFrame, key: str) -> pl.DataFrame:
    """``key``, ``requests``: most requests first, ties by ``key``."""
    return counts.sort(["requests", key], descending=[True, False]).select(key, "requests")


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def write_results(result: Q1Result, output_dir: str | Path) -> Path:
    """Write ``results.json`` into ``output_dir`` atomically; return its path."""
    return write_json(Path(output_dir) / RESULTS_NAME, answers(result))


def _details(data: dict) -> list[str]:
    """The lines under the first answer: what was counted, how it was read, what was rejected,
    the status classes, crawlers and people (each where there is something to say)."""
    lines = []
    filters = data.get("filters") or {}
    if filters.get("set"):
        said = [
            f"{name.replace('_', ' ')} {', '.join(value)}"
            for name, value in filters["set"].items()
            if name != "window_only"
        ]
        if filters["set"].get("window_only"):
            said.append("inside the window only")
        left_out = filters["left_out_requests"]
        lines.append(f"   counted: requests with {'; '.join(said)} ({left_out:,} others left out)")
    formats = data.get("requests_per_format") or {}
    if formats:
        lines.append("   read as " + ", ".join(f"{name} ({n:,})" for name, n in formats.items()))
    reasons = data.get("rejected_by_reason") or {}
    if reasons:
        lines.append("   rejected: " + ", ".join(f"{n:,} {why}" for why, n in reasons.items()))
    classes = {name: n for name, n in (data.get("status_classes") or {}).items() if n}
    if classes:
        lines.append("   statuses: " + ", ".join(f"{n:,} {name}" for name, n in classes.items()))
    urls = data.get("top_urls") or []
    if urls:
        said = ", ".join(f"{row['url']} ({row['requests']:,})" for row in urls[:3])
        lines.append(f"   busiest URLs: {said}")
    times = data.get("response_times")
    if times:
        lines.append(
            f"   time taken: p50 {times['p50_ms']:,} ms, p90 {times['p90_ms']:,} ms, p99 "
            f"{times['p99_ms']:,} ms ({times['timed_requests']:,} requests timed)"
        )
    visitors = data.get("unique_visitors")
    if visitors and visitors["total"]:
        about = "" if visitors["exact"] else "about "
        days = len(visitors["per_day"])
        over = f"{days:,} day" + "s" * (days != 1)
        lines.append(
            f"   unique visitors: {about}{visitors['total']:,} over {over} (client and user "
            "agent, per UTC day)"
        )
    agents = data.get("crawlers_and_people")
    if agents and agents["crawler_requests"] + agents["people_requests"]:
        lines.append(
            f"   crawlers: {agents['crawler_requests']:,} requests ({agents['crawler_agents']:,} "
            f"agents); people: {agents['people_requests']:,} ({agents['people_agents']:,} agents)"
        )
    return lines


def window_text(window: dict) -> str:
    """The window of ``answers()``' output in words: its ends, and where it came from when no
    end was given."""
    start, end = window["start"], window["end"]
    if start and end:
        span = f"{start} <= t < {end}"
    else:
        span = f"t >= {start}" if start else f"t < {end}" if end else "the whole log"
    origin = window.get("origin", "given")
    if origin == "given":
        return span
    return f"{span} (no window given)" if origin == span else f"{span} (no window given: {origin})"


def headline(data: dict) -> str:
    """The three answers as a few lines of text, from ``answers()`` output or results.json."""
    label = " [SYNTHETIC input: not the real NASA log]" if data["input"]["synthetic"] else ""
    files = data["input"].get("files", [])
    named = data["input"]["path"]
    if len(files) > 1 or not isinstance(named, str):
        named = f"{len(files)} files ({named})"
    window = data["window"]
    lines = [
        f"Q1 on {named}{label}",
        f"1. HTTP requests: {data['total_requests']:,} "
        f"({data['rejected_lines']:,} of {data['lines']:,} lines rejected as malformed)",
        *_details(data),
    ]
    span = window_text(window)
    if window["requests"] or not data.get("first_time"):
        lines.append(f"2. Top {len(data['top_hosts'])} hosts, {span}:")
    else:
        lines.append(
            f"2. No request in the window {span}: the log runs from {data['first_time']} to "
            f"{data['last_time']} (UTC); set --window-start and --window-end (window_start and "
            "window_end in the notebook)"
        )
    shown = data["top_hosts"][:HEADLINE_HOSTS]
    lines += [f"   {h['rank']:>2}. {h['host']:<40} {h['requests']:>7,}" for h in shown]
    if len(data["top_hosts"]) > len(shown):
        more = len(data["top_hosts"]) - len(shown)
        lines.append(f"   ... and {more:,} more hosts in results.json")
    top = data["top_country"]
    if top:
        lines.append(
            f"3. Top country: {top['country']} ({top['name']}), {top['requests']:,} requests = "
            f"{top['share_of_attributed']:.1%} of attributed, {top['share_of_all']:.1%} of all; "
            f"coverage {data['coverage']:.1%} via {', '.join(data['tiers'])}"
        )
    else:
        lines.append("3. Top country: none could be attributed")
    if data.get("dns"):
        lines.append(f"   DNS tier: {data['dns']['message']}")
    return "\n".join(lines)
