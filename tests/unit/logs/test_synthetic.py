"""The synthetic NASA-like log: deterministic, labelled, shaped like August 1995, damaged a little,
in the Common Log Format or, with the same requests, the Combined one.

Small logs only (a full-size one takes seconds and proves nothing more); the shared logs have
250,000 lines so that each of the five kinds of damage occurs once.
"""

import gzip
import hashlib
import json
import re
import statistics
from collections import Counter
from datetime import datetime

import polars as pl
import pytest

from lib.logs.datasets import synthetic
from lib.logs.datasets.synthetic import DAMAGE_EVERY, SYNTHETIC_LINES, generate_log
from lib.logs.parsing.formats import FORMATS
from lib.logs.q1 import answers, run_q1
from lib.logs.reading.synthetic_marker import is_synthetic, marker_path

SHAPE = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "(.*)" \d{3} (\d+|-)$')
IP = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
STAMP = "%d/%b/%Y:%H:%M:%S %z"
GAP = ("01:14:52:01", "03:04:36:13")  # Hurricane Erin: nothing after the first, before the second
SHARED_LINES = 5 * DAMAGE_EVERY
# the sha256 of Common logs as written before the Combined format existed: they must not change
COMMON_SHA256 = {
    (5_000, 3): "a98363ae1c59166e054ec25d0f3f914a1f48f592d9a9c20251ee4fa840cdf5db",
    (SHARED_LINES, 1995): "99fe843df8969fe48c48e5de2fad3d494e35192a7175ec6d34ef187998b2b718",
}
ESCAPED = r'"((?:[^"\\]|\\.)*)"'
ENDING = re.compile(rf" {ESCAPED} {ESCAPED}$".encode())  # what Combined adds to a Common line
SAME_ANSWERS = ("total_requests", "lines", "rejected_lines", "bytes_sent", "first_time")
SAME_ANSWERS += ("last_time", "window", "top_hosts", "top_country", "top_countries", "coverage")


def raw_lines(path) -> list[bytes]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")


def text_lines(path) -> list[str]:
    return [line.decode("utf-8", "replace") for line in raw_lines(path)]


@pytest.fixture(scope="module")
def shared_log(tmp_path_factory):
    return generate_log(tmp_path_factory.mktemp("synthetic") / "aug.log", lines=SHARED_LINES)


@pytest.fixture(scope="module")
def requests(shared_log) -> list[re.Match]:
    return [m for line in text_lines(shared_log) if (m := SHAPE.match(line))]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = generate_log(tmp_path / "a.log.gz", lines=50_000, seed=1)
    b = generate_log(tmp_path / "sub" / "b.log.gz", lines=50_000, seed=1)
    c = generate_log(tmp_path / "c.log.gz", lines=50_000, seed=2)
    assert a.read_bytes() == b.read_bytes()  # neither file name nor time in the gzip header
    assert a.read_bytes() != c.read_bytes()


def test_gzip_and_plain_hold_the_same_lines(tmp_path):
    packed = generate_log(tmp_path / "x.log.gz", lines=5_000, seed=3)
    plain = generate_log(tmp_path / "x.log", lines=5_000, seed=3)
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    assert plain.read_bytes()[:1] != b"\x1f"
    assert raw_lines(packed) == raw_lines(plain)
    assert len(raw_lines(plain)) == 5_000


def test_the_marker_labels_the_file_and_nothing_else_is_left(tmp_path):
    path = generate_log(tmp_path / "m.log.gz", lines=2_000, seed=4)
    marker = json.loads(marker_path(path).read_text())
    assert marker["synthetic"] is True and marker["generator"] == "lib.logs.datasets.synthetic"
    assert (marker["seed"], marker["lines"], marker["malformed"]) == (4, 2_000, 0)
    assert marker["note"]
    assert is_synthetic(path) and is_synthetic(str(path))
    assert not is_synthetic(tmp_path / "real.log.gz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.log.gz", "m.log.gz.synthetic.json"]


def test_a_failed_generation_leaves_no_file_and_no_marker(tmp_path, monkeypatch):
    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(synthetic, "_write_lines", fail)
    with pytest.raises(OSError, match="disk full"):
        generate_log(tmp_path / "f.log.gz", lines=10)
    assert list(tmp_path.iterdir()) == []


def test_line_count_is_exact_for_any_size(tmp_path):
    for lines in (0, 1, 999):
        path = generate_log(tmp_path / f"{lines}.log", lines=lines)
        assert path.read_bytes().count(b"\n") == lines
    with pytest.raises(ValueError):
        generate_log(tmp_path / "negative.log", lines=-1)


def test_times_are_ordered_in_august_at_minus_four_with_the_outage_gap(requests):
    stamps = [m.group(2) for m in requests]
    assert {(s[2:12], s[20:]) for s in stamps} == {("/Aug/1995:", " -0400")}
    times = [s[:2] + s[11:20] for s in stamps]  # "dd:HH:MM:SS" sorts as time does here
    assert times == sorted(times)
    assert times[0].startswith("01:") and times[-1].startswith("31:")
    assert not [t for t in times if GAP[0] < t < GAP[1]]
    assert "01:14:" in {t[:6] for t in times} and "03:04:" in {t[:6] for t in times}
    assert all(datetime.strptime(s, STAMP) for s in stamps[:: len(stamps) // 100])


def test_traffic_peaks_in_the_afternoon_and_on_weekdays(requests):
    hours = Counter(m.group(2)[12:14] for m in requests)
    assert hours["14"] > 3 * hours["04"]
    days = Counter(m.group(2)[:2] for m in requests)
    assert days["08"] > 1.5 * days["06"]  # a Tuesday and a Sunday


def test_hosts_are_heavy_tailed_and_look_like_1995(requests):
    hosts = Counter(m.group(1) for m in requests)
    counts = sorted(hosts.values(), reverse=True)
    assert len(hosts) > 20_000
    assert counts[0] > 100 * statistics.median(counts)
    busiest = [host for host, _ in hosts.most_common(10)]
    assert all(h.endswith(("prodigy.com", "proxy.aol.com", "netcom.com")) for h in busiest)
    names = list(hosts)
    assert 0.1 < sum(bool(IP.fullmatch(h)) for h in names) / len(names) < 0.3
    for suffix in (".edu", ".gov", ".uk", ".jp", ".de", ".ca", "compuserve.com", ".net"):
        assert any(h.endswith(suffix) for h in names), suffix


def test_statuses_and_methods_are_in_proportion(requests):
    statuses = Counter(m.group(0).rsplit(" ", 2)[1] for m in requests)
    total = sum(statuses.values())
    assert 0.86 < statuses["200"] / total < 0.92
    assert 0.06 < statuses["304"] / total < 0.10
    assert 0.01 < statuses["302"] / total < 0.03
    assert 0.003 < statuses["404"] / total < 0.01
    methods = Counter(m.group(3).split(" ")[0] for m in requests)
    assert methods["GET"] > 0.99 * total and methods["HEAD"] > 0 and methods["POST"] > 0
    paths = Counter(m.group(3).split(" ")[1] for m in requests if m.group(3).startswith("GET /"))
    assert paths.most_common(1)[0][0] == "/images/NASA-logosmall.gif"
    assert 200 < len(paths)


def test_malformed_lines_are_exactly_those_the_marker_counts(shared_log):
    lines = text_lines(shared_log)
    assert len(lines) == SHARED_LINES
    bad = [line for line in lines if not SHAPE.match(line)]
    marker = json.loads(marker_path(shared_log).read_text())
    assert marker["malformed"] == len(bad) == 2  # one truncated line, one empty line
    assert "" in bad
    assert SYNTHETIC_LINES // DAMAGE_EVERY >= 5  # every kind of damage at full size too


def test_odd_requests_are_still_requests(shared_log):
    raw = [line for line in raw_lines(shared_log) if not line.isascii()]
    assert raw and all(SHAPE.match(line.decode("utf-8", "replace")) for line in raw)
    requests = [m.group(3) for line in text_lines(shared_log) if (m := SHAPE.match(line))]
    assert any(r.startswith("GET /") and not r.endswith(" HTTP/1.0") for r in requests)
    assert any('"' in r for r in requests)


def test_common_logs_are_byte_identical_to_those_written_before(tmp_path, shared_log):
    small = generate_log(tmp_path / "small.log", lines=5_000, seed=3)
    for (lines, seed), path in (((5_000, 3), small), ((SHARED_LINES, 1995), shared_log)):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == COMMON_SHA256[lines, seed]
    assert json.loads(marker_path(small).read_text())["format"] == "common"


@pytest.fixture(scope="module")
def combined_log(tmp_path_factory):
    folder = tmp_path_factory.mktemp("combined")
    return generate_log(folder / "aug.log", lines=SHARED_LINES, log_format="combined")


@pytest.fixture(scope="module")
def both_answers(shared_log, combined_log) -> tuple[dict, dict]:
    return answers(run_q1(shared_log, use_dns=False)), answers(run_q1(combined_log, use_dns=False))


def test_combined_lines_are_the_common_ones_with_a_referer_and_an_agent(shared_log, combined_log):
    pairs = list(zip(raw_lines(shared_log), raw_lines(combined_log), strict=True))
    malformed = 0
    for common, combined in pairs:
        if SHAPE.match(common.decode("utf-8", "replace")):
            ending = ENDING.search(combined)
            assert ending and combined[: ending.start()] == common, combined
        else:  # truncated or empty: cut short before the referer, so the very same line
            assert combined == common
            malformed += 1
    assert malformed == 2
    marker = json.loads(marker_path(combined_log).read_text())
    assert (marker["format"], marker["malformed"], marker["lines"]) == ("combined", 2, len(pairs))


def test_combined_gives_the_answers_of_common_and_its_own_extras(both_answers):
    common, combined = both_answers
    assert {k: combined[k] for k in SAME_ANSWERS} == {k: common[k] for k in SAME_ANSWERS}
    assert common["rejected_lines"] == 2 and common["total_requests"] == SHARED_LINES - 2
    assert common["top_hosts"] and common["top_country"]["country"] == "US"
    assert list(combined["input"]["formats"].values()) == ["combined"]
    assert combined["requests_per_format"] == {"combined": SHARED_LINES - 2}
    assert common["requests_per_format"] == {"common": SHARED_LINES - 2}
    assert common["top_referrers"] == common["top_user_agents"] == []
    referers = [row["referer"] for row in combined["top_referrers"]]
    agents = [row["user_agent"] for row in combined["top_user_agents"]]
    assert len(referers) == len(agents) == 10 and "-" not in referers + agents
    assert referers[0].startswith("http://www.ksc.nasa.gov/")
    assert any(agent.startswith("Mozilla/1.") for agent in agents)


def test_an_escaped_quote_stays_inside_its_agent(combined_log):
    quoted = [line for line in raw_lines(combined_log) if b'\\"' in line]
    assert len(quoted) > 20
    lines = pl.Series("line", [line.decode("utf-8", "replace") for line in quoted])
    requests, rejected = FORMATS["combined"].parse_lines(lines, request_parts=True)
    assert rejected.is_empty() and requests.height == len(quoted)
    pool = {agent for agent, _ in synthetic._AGENTS}
    agents = Counter(requests.get_column("user_agent").to_list())
    assert set(agents) <= pool  # whole agents, decoded: never cut at an escaped quote
    with_quote = [agent for agent in agents if '"' in agent]
    assert with_quote and all(agent.count('"') == 2 for agent in with_quote)
    assert requests.get_column("protocol").eq("HTTP/1.0").all()


def test_referers_and_agents_look_like_1995(combined_log):
    endings = [m.groups() for line in raw_lines(combined_log) if (m := ENDING.search(line))]
    referers = Counter(referer for referer, _ in endings)
    assert 0.35 < referers[b"-"] / len(endings) < 0.45
    assert 20 < len(referers) and any(r.startswith(b"http://www.yahoo.com/") for r in referers)
    agents = Counter(agent for _, agent in endings)
    assert agents.most_common(1)[0][0].startswith(b"Mozilla/1.")
    assert sum(n for agent, n in agents.items() if b"Mozilla/5.0" in agent) < 0.05 * len(endings)
    assert b"Prodigy-WB/1.3e" in agents and b"-" in agents


def test_combined_is_deterministic_and_only_common_or_combined_are_written(tmp_path):
    a = generate_log(tmp_path / "a.log.gz", lines=20_000, seed=5, log_format="combined")
    b = generate_log(tmp_path / "b.log.gz", lines=20_000, seed=5, log_format="combined")
    c = generate_log(tmp_path / "c.log.gz", lines=20_000, seed=5)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    with pytest.raises(ValueError, match="log_format"):
        generate_log(tmp_path / "x.log", lines=10, log_format="nginx")
    assert not (tmp_path / "x.log").exists()
