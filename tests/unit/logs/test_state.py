"""Q1 over time (lib.logs.state): a state directory read again and again as logs grow, rotate,
are compressed and truncated gives the answers of one full run over the same lines, and any
window of whole hours from the state equals a full run restricted to it."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import random
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.errors import ConfigError
from lib.logs.errors import StateError
from lib.logs.filters import RequestFilter, request_filter
from lib.logs.parsing.clients import ClientRule
from lib.logs.q1 import answer_state, answers, run_q1
from lib.logs.reading.blocks import cut_line, iter_blocks, text_length
from lib.logs.state import store
from lib.logs.state.files import HEAD_BYTES, look_at, plan_steps
from lib.logs.state.runs import open_state, state_window

START = datetime(2026, 3, 28, 20, tzinfo=UTC)  # Europe's clocks change that night
RULE = ClientRule()
# what differs by how the lines were read, not by what they say
_ANY = {"use_dns": False, "max_rejected": 1.0}  # small logs: a few bad lines are many
READ_ONLY_KEYS = {"input", "engine", "rejected_examples", "filters"}


class Writer:
    """A server writing ``access.log`` in a directory and the rotations done to it; every line
    it ever wrote is kept, in order, for the full run to compare with."""

    def __init__(self, directory: Path, seed: int, gaps=(1, 7, 60, 600, 3000)) -> None:
        self.dir = directory
        self.gaps = gaps  # seconds between two lines, one of these
        self.random = random.Random(seed)
        self.when = START
        self.written: list[str] = []
        self.serial = 0
        (directory / "access.log").touch()

    @property
    def live(self) -> Path:
        return self.dir / "access.log"

    def line(self) -> str:
        self.serial += 1
        rng = self.random
        self.when += timedelta(seconds=rng.choice(self.gaps))
        when = self.when - timedelta(seconds=rng.choice([0, 0, 0, 5, 4000]))  # some late
        offset = rng.choice(["+0000", "+0100", "+0200", "-0400"])
        local = when.astimezone(datetime.strptime(offset, "%z").tzinfo)
        if rng.random() < 0.03:
            return f"garbage line {self.serial} without a time"
        host = rng.choice(["a.example.com", "b.example.org", "10.1.2.3", "host.de", "::1"])
        status = rng.choice([200, 200, 200, 304, 404, 500])
        path = rng.choice(["/", "/a.html", "/b.gif", "/c?q=1", "/c?q=2"]) + f"#{self.serial}"
        stamp = local.strftime("%d/%b/%Y:%H:%M:%S %z")
        return f'{host} - - [{stamp}] "GET {path} HTTP/1.0" {status} {rng.randrange(9999)}'

    def append(self, count: int) -> None:
        lines = [self.line() for _ in range(count)]
        with self.live.open("a") as out:
            out.write("".join(f"{line}\n" for line in lines))
        self.written += lines

    def _shift(self) -> None:
        rotated = sorted(self._rotated(), key=lambda p: -int(p.name.split(".")[2]))
        for path in rotated:
            number = int(path.name.split(".")[2])
            suffix = "".join(f".{part}" for part in path.name.split(".")[3:])
            path.rename(self.dir / f"access.log.{number + 1}{suffix}")

    def _rotated(self) -> list[Path]:
        return [p for p in self.dir.glob("access.log.*") if p.name.split(".")[2].isdigit()]

    def rotate(self) -> None:
        """logrotate's default: rename, and the server opens a new file."""
        self._shift()
        self.live.rename(self.dir / "access.log.1")
        self.live.touch()

    def copytruncate(self) -> None:
        self._shift()
        shutil.copyfile(self.live, self.dir / "access.log.1")
        with self.live.open("r+") as out:
            out.truncate(0)

    def compress(self) -> None:
        """The newest rotated plain file compressed (gzip mostly, else bzip2 or xz)."""
        plain = [p for p in self._rotated() if len(p.name.split(".")) == 3]
        if not plain:
            return
        path = min(plain, key=lambda p: int(p.name.split(".")[2]))
        kind = self.random.choice(["gz", "gz", "bz2", "xz"])
        opener = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}[kind]
        with path.open("rb") as source, opener(f"{path}.{kind}", "wb") as packed:
            shutil.copyfileobj(source, packed)
        path.unlink()

    def drop_oldest(self) -> None:
        rotated = self._rotated()
        if rotated:
            max(rotated, key=lambda p: int(p.name.split(".")[2])).unlink()

    def reference(self, where: Path) -> Path:
        """One file holding every line written, in order."""
        where.write_text("".join(f"{line}\n" for line in self.written))
        return where


def _state_answers(
    state_dir: Path, logs: str, start=None, end=None, only=None, log_format="common"
) -> dict:
    only = only or RequestFilter()
    window = state_window(start, end, only)
    with open_state(state_dir, log_format, RULE, only) as state:
        result, _ = answer_state(
            state, logs, window, log_format, RULE, use_dns=False, max_rejected=1.0
        )
    return answers(result)


def _full_answers(path: Path, start=None, end=None, log_format="common", **filters) -> dict:
    windowed = bool(start or end)
    result = run_q1(str(path), start, end, use_dns=False, log_format=log_format,
                    window_only=windowed, max_rejected=1.0, **filters)  # fmt: skip
    return answers(result)


def _same(ours: dict, theirs: dict) -> None:
    for key in theirs.keys() - READ_ONLY_KEYS:
        assert ours[key] == theirs[key], key
    assert ours["filters"]["left_out_requests"] == theirs["filters"]["left_out_requests"]


STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 120)),
        st.tuples(st.sampled_from(["rotate", "copytruncate", "compress", "run", "drop"])),
    ),
    min_size=3,
    max_size=14,
)


@pytest.mark.parametrize("pile", [100_000, 0], ids=["merged-later", "merged-at-once"])
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS, seed=st.integers(0, 2**16))
def test_any_sequence_of_appends_rotations_compressions_and_truncations_counts_each_line_once(
    tmp_path_factory, monkeypatch, steps, seed, pile
):
    monkeypatch.setattr(store, "MIN_PILE", pile)  # 0: each run's rows merged at once
    if not pile:  # and lines of the day before (late ones) reach the coarser grains at once
        monkeypatch.setattr(store, "KEPT_HOURLY", 1)
    base = tmp_path_factory.mktemp("logs")
    logs, state_dir = base / "logs", base / "state"
    logs.mkdir()
    writer = Writer(logs, seed)
    writer.append(5)
    glob = str(logs / "access.log*")
    ran_since_write = False
    for step in steps:
        name = step[0]
        if name == "append":
            writer.append(step[1])
        elif name == "run":
            _state_answers(state_dir, glob)
        elif name == "drop":
            if ran_since_write:  # only what a run has read is deleted
                writer.drop_oldest()
        else:
            getattr(writer, name)()
        ran_since_write = name in ("run", "drop") and (ran_since_write or name == "run")
    ours = _state_answers(state_dir, glob)
    _same(ours, _full_answers(writer.reference(base / "all.log")))


def test_a_window_of_whole_hours_equals_a_full_run_restricted_to_it(tmp_path):
    writer = Writer(tmp_path, 7)
    writer.append(800)
    log = writer.reference(tmp_path / "all.log")
    state_dir = tmp_path / "state"
    _state_answers(state_dir, str(log))
    for start, end in [
        ("2026-03-28T23:00:00+00:00", "2026-03-29T05:00:00+02:00"),
        ("2026-03-29T02:00:00+00:00", None),
        (None, "2026-03-29T00:00:00+00:00"),
        ("2026-03-29", "2026-03-29"),
        ("2030-01-01T00:00:00+00:00", "2030-01-02T00:00:00+00:00"),  # nothing in it
    ]:
        ours = _state_answers(state_dir, str(log), start, end)
        theirs = _full_answers(log, start, end)
        _same(ours, theirs)
        assert ours["total_requests"] == theirs["total_requests"]


def test_windows_across_months_read_whole_months_days_and_hours_alike(tmp_path):
    writer = Writer(tmp_path, 17, gaps=(60, 3600, 20000))
    writer.append(1500)  # about four months
    log = writer.reference(tmp_path / "all.log")
    state_dir = tmp_path / "state"
    _state_answers(state_dir, str(log))
    for start, end in [
        ("2026-04-01", "2026-05-31"),  # two whole months
        ("2026-04-02T05:00:00+00:00", "2026-06-17T13:00:00+00:00"),  # cut at both ends
        ("2026-03-31T23:00:00+00:00", "2026-05-01T01:00:00+00:00"),  # a month and two hours
        (None, "2026-05-15T00:00:00-04:00"),
    ]:
        _same(_state_answers(state_dir, str(log), start, end), _full_answers(log, start, end))


def _rolled(state_dir: Path):
    with open_state(state_dir, "common", RULE, RequestFilter()) as state:
        return state._rolled


WINDOWS_OF_WEEKS = [
    (None, None),
    ("2026-04-03T05:00:00+00:00", "2026-04-19T13:00:00+00:00"),
    ("2026-04-10", "2026-04-25"),
    ("2026-04-01T00:00:00+00:00", "2026-05-01T00:00:00+00:00"),
]


@pytest.mark.parametrize("kept", [1, 2])
def test_days_are_rolled_up_into_the_coarser_grains_as_the_log_grows_late_lines_too(
    tmp_path, monkeypatch, kept
):
    monkeypatch.setattr(store, "KEPT_HOURLY", kept)
    logs = tmp_path / "logs"
    logs.mkdir()
    writer = Writer(logs, 23, gaps=(60, 1800, 7200))  # a few weeks, lines an hour late
    state_dir, glob = tmp_path / "state", str(logs / "access.log*")
    rolled = []
    for round_no in range(8):
        if round_no in (4, 6):  # lines days late (another server's, say), then on again
            now, writer.when = writer.when, writer.when - timedelta(days=4)
            writer.append(30)
            writer.when = now
        writer.append(60)
        _state_answers(state_dir, glob)
        rolled.append(_rolled(state_dir))
    log = writer.reference(tmp_path / "all.log")
    days = {r for r in rolled if r is not None}
    assert len(days) >= 4, rolled  # the day rolled up to moved on run after run
    last_line = writer.when
    assert max(days) > last_line - timedelta(days=kept + 1)
    assert max(days) <= last_line - timedelta(days=kept - 1)
    for start, end in WINDOWS_OF_WEEKS:
        _same(_state_answers(state_dir, glob, start, end), _full_answers(log, start, end))
    _same(_state_answers(state_dir, glob), _full_answers(log))
    # the whole state: its months from the coarser grains, nothing taken away, and the hours
    year = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    with open_state(state_dir, "common", RULE, RequestFilter()) as state:
        parts = state._parts(*year, signed=True)
    assert [(part.grain, part.sign) for part in parts] == [("month", 1), ("hour", 1)]


def _hosts_by_name(db) -> None:
    """The hosts' tables as versions 1 and 2 held them: by name, the places not numbered."""
    from lib.logs.state.grains import grains_of, table_name

    for grain in grains_of("hosts"):
        table = table_name("hosts", grain)
        db.execute(
            f"CREATE TABLE _named AS SELECT h.hour, p.host, h.requests, h.bytes FROM {table} h "
            "JOIN host_places p ON p.id = h.host_id ORDER BY p.host DESC"
        )
        db.execute(f"DROP TABLE {table}")
        db.execute(f"ALTER TABLE _named RENAME TO {table}")
    db.execute("ALTER TABLE host_places DROP COLUMN id")


def _state_by_name(tmp_path: Path, seed: int, lines: int):
    """A state of ``lines`` lines a few minutes to hours apart, its hosts' tables turned back
    to names (``_hosts_by_name``): the writer, the state directory, its logs' glob and the
    database, open."""
    import duckdb

    logs = tmp_path / "logs"
    logs.mkdir()
    writer = Writer(logs, seed, gaps=(600, 3600, 7200))
    writer.append(lines)
    state_dir, glob = tmp_path / "state", str(logs / "access.log*")
    _state_answers(state_dir, glob)
    db = duckdb.connect(str(state_dir / store.STATE_FILE))
    db.execute("SET TimeZone = 'UTC'")
    _hosts_by_name(db)
    db.execute("DELETE FROM meta WHERE key = ?", [store.HELD])  # versions 1 and 2 had none
    return writer, state_dir, glob, db


def test_a_state_of_the_first_version_is_read_as_rolled_up_to_its_end(tmp_path):
    """Tables of version 1 held every hour in the coarser grains too, no day rolled up to, and
    hosts by name: such a state is read so, and written on in the version of now."""

    from lib.logs.counting.hourly import TABLES
    from lib.logs.state.grains import (
        ONLY_HOURLY,
        count_visitor_days,
        grains_of,
        table_name,
        totals,
    )

    writer, state_dir, glob, db = _state_by_name(tmp_path, 29, 200)  # as version 1 left it
    for statement in count_visitor_days():  # every day counted, as each commit did then
        db.execute(statement, [date.min, date.max])
    for name, table in TABLES.items():
        if name in ONLY_HOURLY:
            continue
        keys = ", ".join(f'"{k}"' for k in table.keys)
        for grain in grains_of(name)[:-1]:
            period = f"date_trunc('{grain}', hour) AS hour"
            db.execute(f"DELETE FROM {table_name(name, grain)}")
            db.execute(
                f"INSERT INTO {table_name(name, grain)} SELECT DISTINCT {period}, {keys} "
                f"FROM {name}"
                if table.is_set
                else f"INSERT INTO {table_name(name, grain)} SELECT {period}, {keys}, "
                f"{totals(table, store._TYPE_NAMES[name])} FROM {name} GROUP BY ALL"
            )
    db.execute("DELETE FROM meta WHERE key = 'rolled'")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'version'")
    db.close()
    assert _rolled(state_dir) > writer.when - timedelta(days=1)  # everything rolled up
    writer.append(100)
    ours = _state_answers(state_dir, glob, "2026-03-30", "2026-04-12")
    log = writer.reference(tmp_path / "all.log")
    _same(ours, _full_answers(log, "2026-03-30", "2026-04-12"))
    _same(_state_answers(state_dir, glob), _full_answers(log))
    with open_state(state_dir, "common", RULE, RequestFilter()) as state:
        meta = dict(state._db.execute("SELECT key, value FROM meta").fetchall())
    assert meta["version"] == str(store.VERSION)


def test_a_state_of_the_second_version_numbers_its_hosts_and_answers_as_before(tmp_path):
    """Version 2 held a host by its name: the hosts are numbered, in one transaction, every
    window's answers the same as a full run's, before more lines and after."""
    writer, state_dir, glob, db = _state_by_name(tmp_path, 37, 300)
    db.execute("DELETE FROM host_places WHERE host = 'host.de'")  # a host never placed
    db.execute("UPDATE meta SET value = '2' WHERE key = 'version'")
    db.close()
    log = writer.reference(tmp_path / "all.log")
    _same(_state_answers(state_dir, glob), _full_answers(log))
    writer.append(100)
    log = writer.reference(tmp_path / "all.log")
    for start, end in [(None, None), ("2026-03-29", "2026-04-01")]:
        _same(_state_answers(state_dir, glob, start, end), _full_answers(log, start, end))
    with open_state(state_dir, "common", RULE, RequestFilter()) as state:
        db = state._db
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        columns = db.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = "
                             "'hosts_by_month'").fetchall()  # fmt: skip
        ids = db.execute("SELECT count(DISTINCT id), count(*) FROM host_places").fetchall()
        hosts = db.execute("SELECT count(DISTINCT host_id) FROM hosts").fetchall()
    assert meta["version"] == str(store.VERSION)
    assert [c for (c,) in columns] == ["hour", "host_id", "requests", "bytes"]
    assert ids[0][0] == ids[0][1] == hosts[0][0] == 5


def test_a_window_with_more_visitors_than_a_sample_keeps_is_sampled_as_a_run_samples(
    tmp_path, monkeypatch
):
    from lib.logs.counting import caps

    monkeypatch.setattr(caps, "VISITOR_CAP", 6)
    monkeypatch.setattr(caps, "QUERY_CAP", 5)
    writer = Writer(tmp_path, 19, gaps=(60, 600))
    writer.append(900)
    log = writer.reference(tmp_path / "all.log")
    _state_answers(tmp_path / "state", str(log))
    for start, end in [(None, None), ("2026-03-29T03:00:00+00:00", "2026-03-31T07:00:00+00:00")]:
        ours = _state_answers(tmp_path / "state", str(log), start, end)
        theirs = _full_answers(log, start, end)
        assert not theirs["unique_visitors"]["exact"]
        _same(ours, theirs)


def test_a_day_read_in_many_runs_keeps_one_visitor_row_and_counts_as_one_run(tmp_path):
    """A day read a little at a time, as ``--follow``'s rounds read it: its visitors counted
    once each, from its hours while it is among the last two days held, and in one row of
    counts once it is rolled up."""
    import duckdb

    from lib.logs.state.grains import VISITOR_DAYS

    def counted() -> list[tuple]:
        db = duckdb.connect(str(tmp_path / "state" / store.STATE_FILE), read_only=True)
        found = db.execute(f"SELECT day, l0 FROM {VISITOR_DAYS} ORDER BY day").fetchall()
        db.close()
        return found

    def write(when: datetime, hosts: list[str]) -> dict:
        stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
        with live.open("a") as out:
            out.write("".join(f'{h} - - [{stamp}] "GET / HTTP/1.0" 200 5\n' for h in hosts))
        return _state_answers(tmp_path / "state", str(live))

    live = tmp_path / "access.log"
    for run in range(21):  # every run on the same day, each with new visitors
        hosts = [f"h{run}-{n}.example.com" for n in range(3)]
        ours = write(START + timedelta(minutes=run), [*hosts, "h0-0.example.com"])  # one seen
    _same(ours, _full_answers(live))
    assert ours["unique_visitors"]["total"] == 3 * 21
    assert counted() == []  # the day is among the last two held: read from its hours
    ours = write(START + timedelta(days=2), ["later.example.com"])  # the day rolled up
    _same(ours, _full_answers(live))
    assert ours["unique_visitors"]["total"] == 3 * 21 + 1
    assert counted() == [(START.date(), 3 * 21)]


def test_tables_first_filled_by_a_later_log_are_answered_from_the_state(tmp_path):
    """A state that read Common Log Format alone (no referer, user agent, virtual host or
    time taken), then logs that record them: every table holding rows is asked from then on
    (meta's ``held``), the answers a full run's, before and after."""
    import duckdb

    from lib.logs.counting.hourly import TABLES

    logs, rng = tmp_path / "logs", random.Random(11)
    logs.mkdir()
    glob, state_dir = str(logs / "*.log"), tmp_path / "state"

    def written(name: str, count: int, line) -> None:
        stamps = sorted(START + timedelta(seconds=rng.randrange(4 * 86400)) for _ in range(count))
        text = "".join(line(t.strftime("%d/%b/%Y:%H:%M:%S +0000"), i) + "\n"
                       for i, t in enumerate(stamps))  # fmt: skip
        (logs / name).write_text(text)

    def request(i: int) -> str:
        return f'h{rng.randrange(40)}.example.com - - [{{}}] "GET /p{i % 7}?q={i % 3} HTTP/1.1"'

    def held() -> set[str]:
        db = duckdb.connect(str(state_dir / store.STATE_FILE), read_only=True)
        said = dict(db.execute("SELECT key, value FROM meta").fetchall())[store.HELD]
        some = {n for n in TABLES if db.execute(f"SELECT count(*) FROM {n}").fetchone()[0]}
        db.close()
        assert set(said.split(",")) == some
        return some

    written("a.log", 300, lambda t, i: request(i).format(t) + f" 200 {rng.randrange(900)}")
    auto = {"log_format": "auto"}
    _same(_state_answers(state_dir, glob, **auto), _full_answers(glob, **auto))
    assert held() == set(TABLES) - {"referers", "user_agents", "vhosts", "durations"}
    agent = '"http://ref{}.example/" "agent/{}"'
    written("b.log", 200, lambda t, i: request(i).format(t) + " 404 12 "
            + agent.format(i % 5, i % 4) + f" {rng.randrange(10**7)}")  # fmt: skip
    written("c.log", 200, lambda t, i: f"vh{i % 3}.example:443 " + request(i).format(t)
            + " 200 99 " + agent.format(i % 2, i % 6))  # fmt: skip
    ours = _state_answers(state_dir, glob, **auto)
    _same(ours, _full_answers(glob, **auto))
    assert held() == set(TABLES)
    assert ours["top_referrers"] and ours["top_user_agents"]


def test_filters_are_the_states_own_and_another_set_is_refused(tmp_path):
    writer = Writer(tmp_path, 3)
    writer.append(300)
    log = writer.reference(tmp_path / "all.log")
    only = request_filter("4xx,5xx", None, None, None, None, False)
    ours = _state_answers(tmp_path / "state", str(log), only=only)
    _same(ours, _full_answers(log, status_filter="4xx,5xx"))
    with pytest.raises(StateError, match="other settings"):
        _state_answers(tmp_path / "state", str(log))


def test_a_window_off_the_hour_is_refused_with_the_hours_around_it():
    with pytest.raises(ConfigError, match=r"not on a whole hour.*T09:30:00\+05:30.*T10:30:00"):
        state_window("2026-03-29T10:00:00+05:30", None, RequestFilter())
    state_window("2026-03-29T10:30:00+05:30", None, RequestFilter())  # 05:00 UTC: whole


def test_a_second_run_reads_only_what_was_appended(tmp_path):
    writer = Writer(tmp_path, 11)
    writer.append(200)
    state_dir = tmp_path / "state"
    window = state_window(None, None, RequestFilter())
    with open_state(state_dir, "common", RULE, RequestFilter()) as state:
        _, first = answer_state(state, str(writer.live), window, "common", RULE, **_ANY)
        size = writer.live.stat().st_size
        writer.append(3)
        _, second = answer_state(state, str(writer.live), window, "common", RULE, **_ANY)
        _, third = answer_state(state, str(writer.live), window, "common", RULE, **_ANY)
    assert first.text_bytes == size
    assert second.text_bytes == writer.live.stat().st_size - size
    assert third.text_bytes == 0
    assert [step.skip for step in third.steps] == ["nothing new"]


def test_a_line_still_being_written_waits_for_its_newline(tmp_path):
    writer = Writer(tmp_path, 5)
    writer.append(10)
    with writer.live.open("a") as out:
        out.write(writer.line()[:30])  # half a line
    state_dir = tmp_path / "state"
    first = _state_answers(state_dir, str(writer.live))
    assert first["lines"] == 10
    with writer.live.open("a") as out:
        out.write(" the rest\n")
    assert _state_answers(state_dir, str(writer.live))["lines"] == 11


def test_a_replaced_file_is_read_anew_and_the_state_says_so(tmp_path):
    writer = Writer(tmp_path, 9)
    writer.append(50)
    state_dir = tmp_path / "state"
    _state_answers(state_dir, str(writer.live))
    with writer.live.open("r+") as out:  # truncated in place, then written again
        out.truncate(0)
    writer.append(20)
    window = state_window(None, None, RequestFilter())
    with open_state(state_dir, "common", RULE, RequestFilter()) as state:
        result, read = answer_state(
            state, str(writer.live), window, "common", RULE, use_dns=False, max_rejected=1.0
        )
        said = [what for _, _, what in state.events()]
    assert any("truncated or replaced" in note for note in read.notes)
    assert any("truncated or replaced" in what for what in said)
    assert answers(result)["lines"] == 70


def test_a_second_run_at_once_is_refused_in_one_line(tmp_path):
    with open_state(tmp_path / "state", "common", RULE, RequestFilter()):
        pytest.importorskip("duckdb")
        try:
            other = open_state(tmp_path / "state", "common", RULE, RequestFilter())
        except StateError as exc:
            assert "state directory" in str(exc)
        else:  # the same process may open it twice; another process may not (tested in
            other.close()  # tests/integration/logs/test_state_command.py)


def test_a_file_holding_a_known_log_under_several_names_is_read_once(tmp_path):
    writer = Writer(tmp_path, 13)
    writer.append(40)
    state_dir = tmp_path / "state"
    _state_answers(state_dir, str(writer.live))
    writer.append(5)
    shutil.copyfile(writer.live, tmp_path / "access.log.copy")
    with gzip.open(tmp_path / "access.log.gz", "wb") as packed:
        packed.write(writer.live.read_bytes())
    ours = _state_answers(state_dir, str(tmp_path / "access.log*"))
    assert ours["lines"] == 45
    with open_state(state_dir, "common", RULE, RequestFilter()) as state:
        (log,) = state.logs()
    assert log.path == str(writer.live)  # the file it is read from, not a copy's


def test_matching_prefers_the_longest_head_and_the_file_last_read(tmp_path):
    one = tmp_path / "one.log"
    one.write_bytes(b"x" * (HEAD_BYTES + 10))
    seen = look_at(one)
    assert len(seen.head) == HEAD_BYTES
    assert plan_steps([seen], [])[0].known is None


def test_text_length_counts_a_line_too_long_to_keep_as_it_was(tmp_path):
    path = tmp_path / "long.log"
    body = b"a" * 5000 + b"\nshort\n" + b"b" * 3000 + b"\n"
    path.write_bytes(body)
    with path.open("rb") as stream:
        blocks = list(iter_blocks(stream, block_bytes=1024, max_line=1024))
    assert cut_line(5000) in b"".join(blocks)
    assert sum(map(text_length, blocks)) == len(body)


def test_a_state_made_by_a_newer_version_is_refused(tmp_path):
    with open_state(tmp_path / "state", "common", RULE, RequestFilter()) as state:
        state._db.execute("UPDATE meta SET value = '999' WHERE key = 'version'")
    with pytest.raises(StateError, match="newer version"):
        open_state(tmp_path / "state", "common", RULE, RequestFilter())


def test_an_unwritable_state_directory_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StateError, match="state directory"):
        open_state(blocker / "state", "common", RULE, RequestFilter())
    assert os.path.exists(blocker)


def test_hosts_are_placed_again_when_another_ip_database_is_installed(tmp_path):
    writer = Writer(tmp_path, 31)
    writer.append(200)
    log = writer.reference(tmp_path / "all.log")
    state_dir = tmp_path / "state"
    _state_answers(state_dir, str(log))
    with open_state(state_dir, "common", RULE, RequestFilter()) as state:
        state._db.execute("UPDATE meta SET value = 'geoip2fast 0.0' WHERE key = 'places'")
        state._db.execute("UPDATE host_places SET country = 'ZZ'")  # as an old database said
    _same(_state_answers(state_dir, str(log)), _full_answers(log))


def test_a_w3c_log_whose_fields_change_is_read_on_from_the_header_in_force(tmp_path):
    log = tmp_path / "u_ex.log"

    def block(fields: list[str], rows: list[dict]) -> str:
        head = f"#Software: IIS 10.0\n#Fields: {' '.join(fields)}\n"
        return head + "".join(" ".join(row[f] for f in fields) + "\n" for row in rows)

    def rows(start: int, count: int) -> list[dict]:
        return [
            {"date": "2026-03-28", "time": f"2{i % 4}:{i % 60:02d}:00", "c-ip": f"10.0.0.{i % 9}",
             "cs-method": "GET", "cs-uri-stem": f"/p{i}", "sc-status": "200"}
            for i in range(start, start + count)
        ]  # fmt: skip

    first = ["date", "time", "c-ip", "cs-method", "cs-uri-stem", "sc-status"]
    second = ["c-ip", "date", "time", "sc-status", "cs-method", "cs-uri-stem"]
    log.write_text(block(first, rows(0, 30)) + block(second, rows(30, 30)))
    state_dir = tmp_path / "state"
    window = state_window(None, None, RequestFilter())

    def state_run():
        with open_state(state_dir, "auto", RULE, RequestFilter()) as state:
            result, _ = answer_state(state, str(log), window, "auto", RULE, **_ANY)
        return answers(result)

    state_run()
    with log.open("a") as out:  # more lines under the second header, which the state knows
        out.write("".join(" ".join(r[f] for f in second) + "\n" for r in rows(60, 20)))
    ours = state_run()
    theirs = answers(run_q1(str(log), use_dns=False, max_rejected=1.0))
    assert ours["total_requests"] == theirs["total_requests"] == 80
    _same(ours, theirs)


def test_a_state_run_does_not_import_pyarrow(tmp_path):
    """Frames go to and from DuckDB through Arrow's C stream: importing pyarrow (and numpy
    with it) would be about 0.1 s of every fresh run that reads a little (docs/benchmarks.md).
    In a process of its own, as a cron job runs."""
    import subprocess
    import sys

    writer = Writer(tmp_path, 41)
    writer.append(300)
    script = (
        "import sys\n"
        "from lib.logs.filters import RequestFilter\n"
        "from lib.logs.parsing.clients import ClientRule\n"
        "from lib.logs.q1 import answer_state\n"
        "from lib.logs.state.runs import open_state, state_window\n"
        "only = RequestFilter()\n"
        f"with open_state({str(tmp_path / 'state')!r}, 'common', ClientRule(), only) as state:\n"
        f"    done = answer_state(state, {str(writer.live)!r}, state_window(None, None, only),\n"
        "                        'common', ClientRule(), use_dns=False, max_rejected=1.0)\n"
        "print(sorted(m for m in ('pyarrow', 'numpy') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[3]
    found = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip().splitlines()[-1] == "[]", found.stdout
