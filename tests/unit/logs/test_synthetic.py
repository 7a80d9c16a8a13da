"""The synthetic NASA-like log: deterministic, labelled, shaped like August 1995, damaged a little.

Small logs only (a full-size one takes seconds and proves nothing more); the shared log has
250,000 lines so that each of the five kinds of damage occurs once.
"""

import gzip
import json
import re
import statistics
from collections import Counter
from datetime import datetime

import pytest

from lib.logs import synthetic
from lib.logs.synthetic import DAMAGE_EVERY, SYNTHETIC_LINES, generate_log
from lib.logs.synthetic_marker import is_synthetic, marker_path

SHAPE = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "(.*)" \d{3} (\d+|-)$')
IP = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
STAMP = "%d/%b/%Y:%H:%M:%S %z"
GAP = ("01:14:52:01", "03:04:36:13")  # Hurricane Erin: nothing after the first, before the second
SHARED_LINES = 5 * DAMAGE_EVERY


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
    assert marker["synthetic"] is True and marker["generator"] == "lib.logs.synthetic"
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
