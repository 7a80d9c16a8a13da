"""Logs whose header lines declare their fields (W3C extended: IIS, CloudFront), any number of
times in a file (lib.logs.parsing.kinds.declared, FormatChoice.after): every line read with the
header above it whatever the blocks' size and the threads, header changes at random places
counted exactly, CloudFront's tabs and URL encoding read, a damaged header costing only its
own lines, and a Dask plan never cutting such a file where its header would be lost."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.logs.engines.local import summarize_log
from lib.logs.engines.pipeline import read_piece
from lib.logs.engines.plan import choose_format, make_plan
from lib.logs.parsing.formats import FORMATS, FormatChoice, w3c_format
from lib.logs.q1 import answers, run_q1
from lib.logs.reading.partitions import Partition
from lib.logs.window import Window
from tests.support.log_corpus import (
    CLOUDFRONT_FIELDS,
    USER_AGENTS,
    VARIANTS,
    apache_quoted,
    window_args,
    write_log,
)

WINDOW = Window.parse("2026-11-01T00:00:00+00:00", "2026-12-02T00:00:00+00:00")
NEEDED = ("date", "time", "c-ip")
OPTIONAL = ("cs-method", "cs-uri-stem", "cs-uri-query", "sc-status", "sc-bytes", "time-taken",
            "cs(User-Agent)", "cs(Referer)", "s-ip", "s-port", "cs-host")  # fmt: skip


def value(field: str, i: int, when: datetime) -> str:
    return {
        "date": f"{when:%Y-%m-%d}", "time": f"{when:%H:%M:%S}", "c-ip": f"10.{i % 7}.0.{i % 5}",
        "cs-method": "GET", "cs-uri-stem": f"/p{i % 4}", "cs-uri-query": "-", "sc-status": "200",
        "sc-bytes": str(i), "time-taken": "15", "cs(User-Agent)": "Tool/1.0+(x)",
        "cs(Referer)": "-", "s-ip": "10.9.9.9", "s-port": "443", "cs-host": "example.com",
    }[field]  # fmt: skip


def w3c_log(blocks: list[tuple[list[str], int]], start: datetime) -> tuple[str, Counter]:
    """A W3C log of header blocks (fields, requests under them) and its clients' counts."""
    lines, clients, i = ["#Software: Microsoft Internet Information Services 10.0"], Counter(), 0
    for fields, count in blocks:
        lines += [
            "#Version: 1.0",
            f"#Date: {start:%Y-%m-%d %H:%M:%S}",
            f"#Fields: {' '.join(fields)}",
        ]
        for _ in range(count):
            when = start + timedelta(seconds=i)
            lines.append(" ".join(value(field, i, when) for field in fields))
            clients[value("c-ip", i, when)] += 1
            i += 1
    return "\r\n".join(lines) + "\r\n", clients


def hosts(summary) -> Counter:
    return Counter(dict(summary.hosts.select("host", "requests").iter_rows()))


@pytest.mark.parametrize("block_bytes", [64, 500, 4096, 1 << 20])
def test_each_header_block_is_read_by_its_own_header_whatever_the_blocks(tmp_path, block_bytes):
    log = write_log(VARIANTS["iis_three_blocks"], tmp_path / "u_ex261130.log")
    choice = choose_format(log)
    assert choice.primary.name == "w3c" and choice.primary.kind == "declared"
    records = VARIANTS["iis_three_blocks"].records()
    want = Counter(record.remote for record in records)
    pooled = summarize_log(log, WINDOW, block_bytes, workers=2, choice=choice)
    alone = read_piece(Partition(str(log)), WINDOW, choice, block_bytes)
    for summary in (pooled, alone):
        assert (summary.requests, summary.rejected) == (len(records), 0)
        assert hosts(summary) == want


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    blocks=st.lists(st.integers(0, 40), min_size=1, max_size=6),
    block_bytes=st.integers(40, 3000),
)
def test_header_changes_anywhere_are_counted_exactly(tmp_path_factory, data, blocks, block_bytes):
    layouts = []
    for count in blocks:
        extra = data.draw(st.lists(st.sampled_from(OPTIONAL), unique=True, max_size=6))
        fields = data.draw(st.permutations([*NEEDED, *extra]))
        layouts.append((list(fields), count))
    text, clients = w3c_log(layouts, datetime(2026, 11, 30, 23, 59, 30, tzinfo=UTC))
    log = tmp_path_factory.mktemp("w3c") / "u_ex.log"
    log.write_text(text, encoding="utf-8", newline="")
    choice = choose_format(log)
    summary = summarize_log(log, WINDOW, block_bytes, workers=2, choice=choice)
    assert (summary.requests, summary.rejected) == (sum(blocks), 0)
    assert hosts(summary) == clients


def test_the_format_in_force_follows_the_header_lines():
    first = w3c_format("#Fields: date time c-ip")
    second = "#Fields: c-ip date time sc-status"
    choice = FormatChoice.of(first)
    assert choice.after(b"2026-11-30 10:00:00 10.0.0.1\n") is choice
    moved = choice.after(f"#Fields: x\n2026-11-30 10:00:00 1.1.1.1\n{second}\r\n".encode())
    assert moved.primary == w3c_format(second)
    assert choice.after(b"\xef\xbb\xbf" + second.encode()).primary == w3c_format(second)
    # a header that declares no client: its lines are rejected, not read as the last format's
    unreadable = choice.after(b"#Fields: date time sc-status\n").primary
    assert unreadable.pattern == "" and unreadable.header == "#Fields:"
    assert "client" in unreadable.description
    combined = FormatChoice.of(FORMATS["combined"])
    assert combined.after(f"{second}\n".encode()) is combined


def test_a_damaged_header_costs_only_the_lines_under_it(tmp_path):
    good, _ = w3c_log([(list(NEEDED), 5)], datetime(2026, 11, 30, tzinfo=UTC))
    bad = "#Fields: date time sc-status\r\n2026-11-30 10:00:00 200\r\n2026-11-30 10:00:01 200\r\n"
    again, _ = w3c_log([(["c-ip", "date", "time"], 3)], datetime(2026, 11, 30, 1, tzinfo=UTC))
    log = tmp_path / "damaged.log"
    log.write_text(good + bad + again, encoding="utf-8", newline="")
    summary = summarize_log(log, WINDOW, 64, workers=2, choice=choose_format(log))
    assert (summary.requests, summary.rejected) == (8, 2)
    assert dict(summary.rejected_reasons.iter_rows()) == {"not the file's format": 2}
    shown = summary.rejected_examples.get_column("line").to_list()
    assert shown == ["2026-11-30 10:00:00 200", "2026-11-30 10:00:01 200"]


def test_cloudfront_is_read_from_its_header_its_agents_decoded(tmp_path):
    log = write_log(VARIANTS["cloudfront"], tmp_path / "E2EXAMPLE.2026-11-30-04.a1b2c3d4")
    choice = choose_format(log)
    assert choice.primary.name == "cloudfront" and choice.primary.escapes == "percent"
    assert "duration_s" in choice.primary.roles and "duration_ms" not in choice.primary.roles
    summary = summarize_log(log, WINDOW, choice=choice)
    agents = set(summary.user_agents.get_column("user_agent").to_list())
    assert agents <= set(USER_AGENTS) and any('"' in agent for agent in agents)
    apache = VARIANTS["apache_combined"]
    assert apache_quoted(next(a for a in agents if '"' in a)).count("\\") >= 1
    for named in ("cloudfront", "w3c", "auto"):
        data = answers(run_q1(log, use_dns=False, log_format=named, **window_args()))
        assert data["total_requests"] == len(apache.records()), named
        assert data["input"]["formats"][str(log)] == "cloudfront", named


def test_cloudfront_fields_are_tab_separated_and_iis_space_separated():
    cloudfront = w3c_format(f"#Fields: {CLOUDFRONT_FIELDS}")
    iis = w3c_format("#Fields: date time c-ip cs(User-Agent)")
    assert cloudfront.shape.match(VARIANTS["cloudfront"].sample)
    assert "\t" in VARIANTS["cloudfront"].sample
    assert iis.shape.match("2026-11-30 04:30:00 1.2.3.4 Tool/1+(x)")
    assert not iis.shape.match("2026-11-30 04:30:00 1.2.3.4 Tool/1 (x)")  # a space in a value


def test_a_dask_plan_reads_a_file_its_headers_declare_as_one_piece(tmp_path):
    rng = random.Random(7)
    layouts = [(list(NEEDED), rng.randint(200, 400)) for _ in range(4)]
    text, _ = w3c_log(layouts, datetime(2026, 11, 30, tzinfo=UTC))
    w3c = tmp_path / "u_ex.log"
    w3c.write_text(text, encoding="utf-8", newline="")
    plain = write_log(VARIANTS["apache_combined"], tmp_path / "access.log")
    plan = make_plan([w3c, plain], engine="dask", workers=2, partition_bytes=4096)
    pieces = [piece for piece in plan.pieces if piece.path == str(w3c)]
    assert len(pieces) == 1 and pieces[0].whole and not pieces[0].cuttable
    assert len([piece for piece in plan.pieces if piece.path == str(plain)]) > 1
