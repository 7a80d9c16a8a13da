"""A state directory hands the answers only the hosts they name, and every host counted by its
offline place (lib.logs.state.hosts): the answers are a full run's all the same, with few top
hosts, DNS asking the busiest unattributed names, the inferred tier, ties and odd names."""

from __future__ import annotations

import random
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from lib.logs.counting.ranking import Named
from lib.logs.filters import RequestFilter
from lib.logs.geo.attribution import _ip_like, ip_like_sql
from lib.logs.parsing.clients import ClientRule
from lib.logs.q1 import answer_state, answer_summary, answers, run_q1
from lib.logs.state.hosts import hosts_query, split
from lib.logs.state.runs import open_state, plan_of_state, state_summary, state_window

RULE, ONLY = ClientRule(), RequestFilter()
START = datetime(2026, 5, 1, tzinfo=UTC)
READ_ONLY_KEYS = {"input", "engine", "rejected_examples", "filters"}
US, JP = "198.116.142.34", "133.43.96.45"  # addresses the IP database places in US and JP
ODD_HOSTS = [
    "10.1.2.3", "10.1.2.3.", "192.168.0.1", "1.2.3.4", "1.2.3.4..", "1234.1.1.1", "1.2.3",
    "1.2.3.4.example.com", "::1", "fe80::1%eth0", "[::1]", "a:b", "2001:db8::1",
    "bücher.example", "ÄRGER.example.com", "x.example.com.", "X.EXAMPLE.COM", "host.de",
    "host.DE.", "a.ac.jp", "mit.edu", "nasa.gov", "a.us", "-", "localhost", "١.٢.٣.٤",
    "1.2.3.4:80", "proxy.aol.com", "www-d1.proxy.aol.com", "a.compuserve.com", "x.netcom.com",
]  # fmt: skip


def _hosts(rng: random.Random) -> list[str]:
    generic = [f"h{i}.example.{rng.choice(['com', 'net', 'org'])}" for i in range(150)]
    operators = [f"p{i}.{rng.choice(['aol.com', 'prodigy.com', 'netcom.com'])}" for i in range(30)]
    places = [f"n{i}.{rng.choice(['de', 'ac.jp', 'edu', 'fr'])}" for i in range(60)]
    addresses = [
        f"{rng.choice([10, 128, 133, 192])}.{i}.{rng.randrange(256)}.7" for i in range(60)
    ]
    return generic + operators + places + addresses + ODD_HOSTS


def _log(path: Path, seed: int, lines: int) -> list[str]:
    """A log whose hosts' requests are skewed and often tied; returns its lines."""
    rng = random.Random(seed)
    hosts = _hosts(rng)
    weights = [rng.choice([1, 1, 2, 3, 5, 8, 40]) for _ in hosts]
    written, when = [], START
    for n in range(lines):
        when += timedelta(seconds=rng.choice([1, 30, 400]))
        host = rng.choices(hosts, weights)[0]
        size = rng.choice([0, 100, 100, 5000, 250_000])
        stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
        written.append(f'{host} - - [{stamp}] "GET /p{n % 7} HTTP/1.0" 200 {size}')
    path.write_text("".join(f"{line}\n" for line in written))
    return written


def _resolver(host: str) -> str | None:
    """Names resolve by their CRC: a third to a US address, a third to JP, a third not at all."""
    if host == "nasa.gov":
        return US
    return (US, JP, None)[zlib.crc32(host.encode()) % 3]


def _comparable(found: dict) -> dict:
    said = {k: v for k, v in found.items() if k not in READ_ONLY_KEYS}
    if said.get("dns"):
        said["dns"] = {k: v for k, v in said["dns"].items() if k != "seconds"}
    return said


SETTINGS = [
    pytest.param({"top_n": 3, "early_stopping": 4}, id="dns-few-top-hosts"),
    pytest.param({"top_n": 1, "early_stopping": 40, "inferred": True}, id="dns-and-inferred"),
    pytest.param({"top_n": 7, "early_stopping": 0}, id="no-dns"),
    pytest.param({"top_n": 2, "use_dns": False, "inferred": True}, id="inferred-only"),
]


@pytest.mark.parametrize("asked", SETTINGS)
def test_a_state_answers_as_a_full_run_while_handing_over_few_hosts(tmp_path, asked):
    lines = _log(tmp_path / "all.log", seed=7, lines=4000)
    live = tmp_path / "access.log"
    answering = {"max_rejected": 1.0, "resolver": _resolver, "use_dns": True, **asked}
    window = state_window(None, None, ONLY)
    for part in (lines[:1500], lines[1500:3100], lines[3100:]):  # the log grows twice
        with live.open("a") as out:
            out.write("".join(f"{line}\n" for line in part))
        with open_state(tmp_path / "state", "common", RULE, ONLY) as state:
            result, _ = answer_state(state, str(live), window, "common", RULE, **answering)
    full = run_q1(str(tmp_path / "all.log"), log_format="common", window_only=False, **answering)
    ours, theirs = _comparable(answers(result)), _comparable(answers(full))
    assert ours == theirs
    every = full.summary.hosts.height
    assert result.summary.host_groups.get_column("hosts").sum() == every
    if not asked.get("inferred"):  # the state handed over a few of the hosts, not all
        assert result.summary.hosts.height <= asked["top_n"] + 10 + asked["early_stopping"] < every
    if answering["use_dns"] and asked["early_stopping"]:
        assert 0 < ours["dns"]["asked"] <= asked["early_stopping"]


def test_the_named_hosts_are_the_busiest_by_name_as_polars_ranks_them():
    """Ties by name, bytes and odd names: the SQL picks what ``busiest`` picks."""
    rng = random.Random(3)
    names = ODD_HOSTS + [f"t{i}.example.com" for i in range(40)] + ["Zed", "zed", "éa", "ea"]
    hosts = pl.DataFrame({
        "id": pl.Series(range(1, len(names) + 1), dtype=pl.UInt32),
        "host": names,
        "requests": pl.Series([rng.choice([1, 2, 2, 9]) for _ in names], dtype=pl.UInt64),
        "bytes": pl.Series([rng.choice([0, 5, 5, 70]) for _ in names], dtype=pl.Int64),
    })  # fmt: skip
    places = hosts.select("id", "host", country=pl.lit(None, pl.String),
                          method=pl.lit(None, pl.String))  # fmt: skip
    db = duckdb.connect()
    db.register("w_rows", hosts.select(pl.col("id").alias("host_id"), "requests", "bytes"))
    db.register("p_rows", places)
    named = Named(by_requests=5, by_bytes=6, unattributed=7)
    chosen, groups = split(db.sql(hosts_query("SELECT * FROM w_rows", "p_rows", named)).pl())
    got = set(chosen.get_column("host").to_list())
    order = {"descending": [True, False], "nulls_last": True}
    want = set(hosts.sort(["requests", "host"], **order).head(5).get_column("host"))
    want |= set(hosts.sort(["bytes", "host"], **order).head(6).get_column("host"))
    names_only = hosts.filter(~_ip_like(pl.col("host")))
    want |= set(names_only.sort(["requests", "host"], **order).head(7).get_column("host"))
    assert got == want
    totals = groups.select(pl.col("hosts").sum(), pl.col("requests").sum()).row(0)
    assert totals == (hosts.height, hosts.get_column("requests").sum())


def test_ip_like_in_sql_is_the_same_as_in_polars():
    rng = random.Random(11)
    made = ["".join(rng.choice("0123456789.:abc") for _ in range(rng.randrange(1, 16)))
            for _ in range(2000)]  # fmt: skip
    hosts = pl.DataFrame({"host": [*ODD_HOSTS, *made, None]})
    polars_says = hosts.select(_ip_like(pl.col("host"))).to_series().to_list()
    db = duckdb.connect()
    db.register("h", hosts.with_row_index())
    sql_says = [row[0] for row in db.sql(f"SELECT {ip_like_sql('host')} FROM h ORDER BY index")
                .fetchall()]  # fmt: skip
    assert sql_says == polars_says
    assert sum(bool(x) for x in sql_says) > 100  # both kinds are there


def test_answers_that_name_more_hosts_than_the_summary_holds_are_refused(tmp_path):
    _log(tmp_path / "access.log", seed=5, lines=600)
    window = state_window(None, None, ONLY)
    with open_state(tmp_path / "state", "common", RULE, ONLY) as state:
        result, _ = answer_state(state, str(tmp_path / "access.log"), window, "common", RULE,
                                 use_dns=False, max_rejected=1.0)  # fmt: skip
        places, summary = state_summary(state, window, Named(by_requests=3))
        plan, run = plan_of_state(state, "common", RULE), result.engine
    assert summary.hosts_named == Named(by_requests=3)
    answered = answer_summary(summary, run, plan, window, top_n=3, use_dns=False,
                              max_rejected=1.0, places=places)  # fmt: skip
    assert answers(answered)["top_hosts"] == answers(result)["top_hosts"][:3]
    with pytest.raises(ValueError, match="only some hosts"):
        answer_summary(summary, run, plan, window, top_n=4, use_dns=False, places=places)
