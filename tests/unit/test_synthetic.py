import json
import re
from datetime import datetime

from lib.access_log import open_log
from lib.log_summary import Window, summarize_log
from lib.synthetic import generate_log, is_synthetic, marker_path

SHAPE = re.compile(r'^\S+ \S+ \S+ \[([^\]]+)\] ".*" \d{3} (\d+|-)$')
WINDOW = Window.parse("1995-08-18T00:00:00-04:00", "1995-08-21T00:00:00-04:00")
GAP = (
    datetime.fromisoformat("1995-08-01T14:52:01-04:00"),
    datetime.fromisoformat("1995-08-03T04:36:13-04:00"),
)


def lines_of(path):
    with open_log(path) as f:
        return f.read().decode("utf-8", "replace").split("\n")[:-1]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = generate_log(tmp_path / "a.log.gz", lines=20_000, seed=1)
    b = generate_log(tmp_path / "b.log.gz", lines=20_000, seed=1)
    c = generate_log(tmp_path / "c.log.gz", lines=20_000, seed=2)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_plain_and_gzip_hold_the_same_lines_and_are_marked(tmp_path):
    packed = generate_log(tmp_path / "x.log.gz", lines=5_000, seed=3)
    plain = generate_log(tmp_path / "x.log", lines=5_000, seed=3)
    assert lines_of(packed) == lines_of(plain)
    assert len(lines_of(plain)) == 5_000
    assert is_synthetic(packed) and is_synthetic(plain)
    assert not is_synthetic(tmp_path / "other.log")
    assert json.loads(marker_path(packed).read_text())["synthetic"] is True


def test_time_order_august_offset_and_the_outage_gap(tmp_path):
    path = generate_log(tmp_path / "t.log", lines=60_000, seed=4)
    times = []
    for line in lines_of(path):
        match = SHAPE.match(line)
        if match:
            times.append(datetime.strptime(match.group(1), "%d/%b/%Y:%H:%M:%S %z"))
    assert times == sorted(times)
    assert all(t.utcoffset().total_seconds() == -4 * 3600 for t in times)
    assert times[0].month == times[-1].month == 8 and times[0].day == 1 and times[-1].day == 31
    assert not [t for t in times if GAP[0] < t < GAP[1]]


def test_malformed_lines_are_exactly_those_the_marker_counts(tmp_path):
    path = generate_log(tmp_path / "m.log.gz", lines=200_000, seed=5)
    marker = json.loads(marker_path(path).read_text())
    bad = [line for line in lines_of(path) if not SHAPE.match(line)]
    assert marker["malformed"] == len(bad) > 0
    assert "" in bad  # empty lines are among them
    summary = summarize_log(path, WINDOW)
    assert summary.rejected == marker["malformed"]
    assert summary.requests + summary.rejected == 200_000


def test_hosts_are_heavy_tailed_and_varied(tmp_path):
    path = generate_log(tmp_path / "h.log.gz", lines=100_000, seed=6)
    hosts = summarize_log(path, WINDOW).hosts.sort("requests", descending=True)
    counts = hosts["requests"].to_list()
    assert counts[0] > 50 * counts[len(counts) // 2]
    names = hosts["host"].to_list()
    assert any(re.fullmatch(r"\d+\.\d+\.\d+\.\d+", h) for h in names)
    for suffix in (".edu", ".uk", ".jp", ".de", "proxy.aol.com", "prodigy.com", "netcom.com"):
        assert any(h.endswith(suffix) for h in names), suffix
    assert "prodigy.com" in names[0] or "aol.com" in names[0]
