"""A state directory's database: the logs read so far (``lib.logs.state.files``) and their
requests counted per hour (``lib.logs.counting.hourly``), in one DuckDB file.

Each stretch of a log read is committed in one transaction with the offset it ends at, so a run
killed at any point leaves either all of a stretch or none of it: the next run reads it again or
goes on after it, never counting a request twice. An hour read again (a later stretch of it) is
merged into what the table holds, one row per hour and key, so a window is one grouped scan.
One run at a time: DuckDB locks the file, and a second run says so and stops.
"""

from __future__ import annotations

import json
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib.metadata import version
from pathlib import Path

import duckdb
import polars as pl

from lib.logs.counting.hourly import TABLES, add_up, no_tables
from lib.logs.counting.parsed import HOUR
from lib.logs.counting.ranking import Named
from lib.logs.counting.summary import EXAMPLE_SCHEMA, MAX_EXAMPLES, no_reasons
from lib.logs.errors import StateError
from lib.logs.geo._ip_database import IP_DATABASE
from lib.logs.geo.attribution import offline_countries
from lib.logs.state.files import Known, Seen, head_hash
from lib.logs.state.grains import (
    HOST_ID,
    ONLY_HOURLY,
    STORED,
    count_visitor_days,
    grains_of,
    quoted,
    recount_visitor_days,
    stored_columns,
    table_name,
    totals,
    visitor_days_table,
    window_query,
    window_visitor_levels,
)
from lib.logs.state.hosts import DEFAULT, HOST_ROWS, hosts_query, split
from lib.logs.state.periods import (
    GRAINS,
    Part,
    bounded,
    cover,
    cover_to_any,
    floor,
    following,
)
from lib.logs.state.reading import Chunk

STATE_FILE = "q1-state.duckdb"
VERSION = 3  # of the database's tables (1: the coarser grains held every hour; 2: the hosts'
# tables held a host by its name, and the places no number)
ROLLED = "rolled"  # meta's key: the day up to which the coarser grains hold the hours
HELD = "held"  # meta's key: the count tables holding any row, by name (comma-separated)
KEPT_HOURLY = 2  # the last days held, kept in the hourly tables alone (lines a day late too)

_TYPES = {
    pl.String: "VARCHAR",
    pl.UInt64: "UBIGINT",
    pl.UInt32: "UINTEGER",
    pl.Int64: "BIGINT",
    pl.UInt16: "USMALLINT",
    pl.Int16: "SMALLINT",
    pl.Date: "DATE",
    pl.Datetime("us", "UTC"): "TIMESTAMPTZ",
}
_LOGS = """CREATE TABLE logs (
    id INTEGER, path VARCHAR, dev UBIGINT, inode UBIGINT, size UBIGINT, mtime_ns BIGINT,
    head_len INTEGER, head_hash VARCHAR, text_offset UBIGINT, lines UBIGINT, rejected UBIGINT,
    filtered UBIGINT, header VARCHAR, first_read TIMESTAMPTZ, last_read TIMESTAMPTZ)"""
_PER_LOG = {
    "log_formats": "log INTEGER, format VARCHAR, requests UBIGINT",
    "log_reasons": "log INTEGER, reason VARCHAR, lines UBIGINT",
    "log_examples": "log INTEGER, line_no UBIGINT, line VARCHAR",
}


PLACES = "host_places"  # id, host, country, method: each host's number and offline country
_PLACES_COLUMNS = "id UINTEGER, host VARCHAR, country VARCHAR, method VARCHAR"
# A run appends its rows to each table, also for periods it holds already (a key then has
# several rows there, which a window adds up), and merges a table's periods (one row per key
# again) once such rows come to a quarter of it (``State._merge_piles``): a run that reads a
# little writes a little, and never rewrites a month's rows.
PILES = "piles"  # target, merged (rows after its last merge), added (since), since (period)
MIN_PILE = 100_000  # rows appended to a table before its periods are merged, at the least
_CURSORS = 4  # queries of a window run side by side
_PILED = {"target": pl.String, "rows": pl.UInt64, "since": pl.Datetime("us", "UTC")}
_TYPE_NAMES = {
    name: {column: _TYPES[dtype] for column, dtype in stored_columns(name).items()}
    for name in TABLES
}


class State:
    """An open state directory (see the module's doc); ``settings`` are what its counts depend
    on (format, client rule, filters): a directory made with others is refused."""

    def __init__(
        self, directory: str | Path, settings: dict, geo_cache: Path | None = None
    ) -> None:
        self.directory = Path(directory)
        self._geo_cache = geo_cache
        self._piled: dict[tuple[str, str], tuple[int, datetime]] = {}  # (name, grain): rows, since
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"state directory {directory}: {exc.strerror or exc}") from None
        path = self.directory / STATE_FILE
        try:
            self._db = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            held = "lock" in str(exc).lower()
            why = "another run is using it" if held else str(exc).splitlines()[0]
            raise StateError(f"state directory {directory}: {why}") from None
        except duckdb.Error as exc:
            raise StateError(f"state directory {directory} is damaged: {exc}") from None
        self._db.execute("SET TimeZone = 'UTC'")
        self._cursors: queue.SimpleQueue = queue.SimpleQueue()  # for queries side by side
        for _ in range(_CURSORS):
            cursor = self._db.cursor()
            cursor.execute("SET TimeZone = 'UTC'")
            self._cursors.put(cursor)
        self._pool = ThreadPoolExecutor(max_workers=_CURSORS, thread_name_prefix="state")
        self._written = False  # since the last checkpoint
        self._checkpoint: threading.Thread | None = None
        self._check(settings)
        self._rolled = self._read_rolled()
        self._held = self._read_held()
        self._check_places()

    def close(self) -> None:
        """Close the database, its changes checkpointed into the file (``checkpoint_soon``'s
        checkpoint waited for, if one runs)."""
        if self._checkpoint is not None:
            self._checkpoint.join()
        self._pool.shutdown()
        while not self._cursors.empty():
            self._cursors.get().close()
        self._db.close()

    def checkpoint_soon(self) -> None:
        """Start writing what the runs committed into the database file (from the log the
        commits wrote it to, as closing would) on a thread of its own, so that it overlaps
        what the caller does next (answering); ``close`` waits for it. Nothing to do after a
        run that read nothing."""
        if not self._written or (self._checkpoint and self._checkpoint.is_alive()):
            return  # nothing new, or a checkpoint under way (--follow's rounds)
        cursor = self._cursors.get()

        def write() -> None:
            try:
                cursor.execute("CHECKPOINT")
            except duckdb.Error:
                pass  # closing checkpoints again
            finally:
                self._cursors.put(cursor)

        self._written = False
        self._checkpoint = threading.Thread(target=write, name="state-checkpoint")
        self._checkpoint.start()

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check(self, settings: dict) -> None:
        said = json.dumps(settings, sort_keys=True)
        try:
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except duckdb.CatalogException:  # a new state
            self._create(said)
            return
        self._meta = meta
        if int(meta.get("version", 0)) > VERSION:
            raise StateError(
                f"state directory {self.directory} was made by a newer version (tables "
                f"{meta['version']}, this one reads {VERSION})"
            )
        if meta.get("settings") != said:
            raise StateError(
                f"state directory {self.directory} counts with other settings "
                f"({_settings_text(meta.get('settings'))}; this run: {_settings_text(said)}): "
                "use another state directory, or the same settings"
            )
        if int(meta.get("version", 0)) < 3:
            self._number_hosts()

    def _number_hosts(self) -> None:
        """Tables of versions 1 and 2 held a host by its name: number the hosts (the places
        table, every host of the hourly table in it, placed if it was not) and hold them by
        number, in one transaction."""
        db = self._db
        db.begin()
        try:
            db.execute(
                f"CREATE TEMP TABLE _numbered AS SELECT CAST(row_number() OVER (ORDER BY host) "
                f"AS UINTEGER) AS id, host FROM (SELECT host FROM {PLACES} UNION "
                "SELECT host FROM hosts)"
            )
            unplaced = _frame(
                db.sql(f"SELECT host FROM _numbered ANTI JOIN {PLACES} USING (host)")
            )
            db.register(
                "_unplaced",
                _Arrow(offline_countries(unplaced.get_column("host"), self._geo_cache)),
            )
            try:
                db.execute(
                    f"CREATE TABLE _places AS SELECT n.id, n.host, p.country, p.method "
                    f"FROM _numbered n LEFT JOIN (SELECT host, country, method FROM {PLACES} "
                    "UNION ALL SELECT host, country, method FROM _unplaced) p "
                    "ON p.host IS NOT DISTINCT FROM n.host ORDER BY n.id"
                )
            finally:
                db.unregister("_unplaced")
            db.execute(f"DROP TABLE {PLACES}")
            db.execute(f"ALTER TABLE _places RENAME TO {PLACES}")
            listed = ", ".join(
                f"n.id AS {HOST_ID}" if column == HOST_ID else f"h.{quoted(column)}"
                for column in _TYPE_NAMES["hosts"]
            )
            for grain in grains_of("hosts"):
                table = table_name("hosts", grain)
                db.execute(
                    f"CREATE TABLE _hosts AS SELECT {listed} FROM {table} h JOIN _numbered n "
                    f"ON n.host IS NOT DISTINCT FROM h.host ORDER BY h.{HOUR}"
                )
                db.execute(f"DROP TABLE {table}")
                db.execute(f"ALTER TABLE _hosts RENAME TO {table}")
            db.execute("DROP TABLE _numbered")
            db.execute("DELETE FROM meta WHERE key = 'version'")
            db.execute("INSERT INTO meta VALUES ('version', ?)", [str(VERSION)])
            db.commit()
        except BaseException:
            db.rollback()
            raise
        self._meta["version"] = str(VERSION)

    def _check_places(self) -> None:
        """The hosts' offline countries are those of the IP database installed: when another
        one is (a package upgrade), every host is placed again."""
        database = _ip_database()
        if self._meta.get("places") == database:
            return
        db = self._db
        db.begin()
        try:
            db.execute("DELETE FROM meta WHERE key = 'places'")
            db.execute("INSERT INTO meta VALUES ('places', ?)", [database])
            known = _frame(db.sql(f"SELECT id, host FROM {PLACES} ORDER BY id"))
            if not known.is_empty():
                places = offline_countries(known.get_column("host"), self._geo_cache)
                db.register("_places", _Arrow(places.with_columns(known.get_column("id"))))
                try:
                    db.execute(
                        f"UPDATE {PLACES} p SET country = n.country, method = n.method "
                        "FROM _places n WHERE p.id = n.id"
                    )
                finally:
                    db.unregister("_places")
            db.commit()
        except BaseException:
            db.rollback()
            raise

    def _create(self, settings: str) -> None:
        self._meta = {"version": str(VERSION), "settings": settings, ROLLED: "", HELD: ""}
        db = self._db
        db.begin()
        db.execute("CREATE TABLE meta (key VARCHAR, value VARCHAR)")
        db.execute(
            "INSERT INTO meta VALUES ('version', ?), ('settings', ?), (?, ''), (?, '')",
            [str(VERSION), settings, ROLLED, HELD],
        )
        db.execute(_LOGS)
        for name, columns in _PER_LOG.items():
            db.execute(f"CREATE TABLE {name} ({columns})")
        db.execute('CREATE TABLE events ("when" TIMESTAMPTZ, path VARCHAR, what VARCHAR)')
        for name, types in _TYPE_NAMES.items():
            columns = ", ".join(f"{quoted(c)} {t}" for c, t in types.items())
            for grain in grains_of(name):
                db.execute(f"CREATE TABLE {table_name(name, grain)} ({columns})")
        db.execute(visitor_days_table())
        db.execute(
            f"CREATE TABLE {PILES} (target VARCHAR, merged UBIGINT, added UBIGINT, "
            "since TIMESTAMPTZ)"
        )
        for name in TABLES:
            for grain in grains_of(name):
                db.execute(
                    f"INSERT INTO {PILES} VALUES (?, 0, 0, NULL)", [table_name(name, grain)]
                )
        db.execute(f"CREATE TABLE {PLACES} ({_PLACES_COLUMNS})")
        db.commit()

    def logs(self) -> list[Known]:
        """The logs read so far."""
        rows = self._db.execute(
            "SELECT id, path, dev, inode, size, mtime_ns, head_len, head_hash, text_offset, "
            "lines, header FROM logs ORDER BY id"
        ).fetchall()
        return [
            Known(i, p, d, n, s, m, hl, hh, o, ln, header=h)
            for i, p, d, n, s, m, hl, hh, o, ln, h in rows
        ]

    def formats(self) -> dict[str, str]:
        """Each log's path and the format most of its requests were read in."""
        rows = self._db.execute(
            "SELECT l.path, arg_max(f.format, f.requests) FROM logs l JOIN log_formats f "
            "ON f.log = l.id GROUP BY l.id, l.path ORDER BY l.id"
        ).fetchall()
        return dict(rows)

    def commit(self, seen: Seen, log: Known | None, chunk: Chunk, note: str | None) -> Known:
        """Add ``chunk`` (read from ``seen`` as the rest of ``log``, or a new log) in one
        transaction with the offset it ends at; return the log as it now stands."""
        db = self._db
        self._piled = {}
        db.begin()
        try:
            if log is None:
                (last,) = db.execute("SELECT coalesce(max(id), 0) FROM logs").fetchall()[0]
                log = Known(last + 1, seen.path, 0, 0, 0, 0, 0, "", 0, 0)
                db.execute(
                    "INSERT INTO logs VALUES "
                    "(?, ?, 0, 0, 0, 0, 0, '', 0, 0, 0, 0, NULL, now(), now())",
                    [log.id, seen.path],
                )
            ((last,),) = db.execute(f"SELECT max({HOUR}) FROM hours").fetchall()
            held = self._hold({name for name, rows in chunk.tables.items() if rows.height})
            for name, frame in chunk.tables.items():
                if frame.is_empty():
                    continue
                if name == "hosts":
                    frame = self._numbered(frame)
                self._merge(name, frame, last, chunk.added_up)
            hours = chunk.tables["hours"].get_column(HOUR)
            newest = max((h for h in (last, hours.max()) if h is not None), default=None)
            rolled = self._roll_up(newest, held)
            self._merge_piles()
            self._per_log(log.id, chunk)
            head = seen.head[: min(chunk.end, len(seen.head))]
            now = Known(
                log.id, seen.path, seen.dev, seen.inode, seen.size, seen.mtime_ns, len(head),
                head_hash(head), chunk.end, log.lines + chunk.lines, chunk.header,
            )  # fmt: skip
            db.execute(
                "UPDATE logs SET path = ?, dev = ?, inode = ?, size = ?, mtime_ns = ?, "
                "head_len = ?, head_hash = ?, text_offset = ?, lines = lines + ?, "
                "rejected = rejected + ?, filtered = filtered + ?, header = ?, last_read = now() "
                "WHERE id = ?",
                [
                    now.path, now.dev, now.inode, now.size, now.mtime_ns, now.head_len,
                    now.head_hash, now.offset, chunk.lines, chunk.rejected, chunk.filtered,
                    now.header, log.id,
                ],
            )  # fmt: skip
            if note:
                self._event(seen.path, note)
            db.commit()
            self._written = True
        except BaseException:
            db.rollback()
            raise
        self._rolled, self._held = rolled, held
        return now

    def moved(self, seen: Seen, log: Known, note: str | None) -> None:
        """``log`` is now (also) the file ``seen``, with nothing new in it: remember the file,
        so that it is not opened again while it stays as it is."""
        self._db.begin()
        self._db.execute(
            "UPDATE logs SET path = ?, dev = ?, inode = ?, size = ?, mtime_ns = ? WHERE id = ?",
            [seen.path, seen.dev, seen.inode, seen.size, seen.mtime_ns, log.id],
        )
        if note:
            self._event(seen.path, note)
        self._db.commit()

    def note(self, path: str, what: str) -> None:
        self._event(path, what)

    def _event(self, path: str, what: str) -> None:
        self._db.execute("INSERT INTO events VALUES (?, ?, ?)", [datetime.now(UTC), path, what])

    def _merge(
        self, name: str, frame: pl.DataFrame, last: datetime | None, added_up: bool = False
    ) -> None:
        """``frame``'s rows (hourly) into table ``name``: its hourly table, and for the hours
        before the day the coarser grains are rolled up to (``_roll_up``: late lines), its
        coarser grains too; ``last``: the last hour any table held before (the periods after
        it are new); ``added_up``: ``frame`` holds an hour and key on one row already."""
        table = STORED[name]
        rows = frame if added_up else add_up(frame, name, table=table)
        if last is not None:  # rows for hours held already: a key may have two rows now
            self._pile(name, "hour", _held(rows, last))
        self._add_rows(name, "hour", rows)
        coarser = grains_of(name)[-2::-1]  # day, month, year: each from the one before
        if coarser and self._rolled is not None:
            rows = _before(rows, self._rolled)
            for grain in coarser:
                rows = add_up(rows, name, grain, table)
                self._pile(name, grain, _held(rows, floor(last, grain)))
                self._add_rows(name, grain, rows)
        if name == "visitors" and self._rolled is not None:  # late lines: days counted
            days = frame.get_column("day").unique().sort()
            days = days.filter(days < self._rolled.date())
            for statement in recount_visitor_days() if days.len() else ():
                self._db.execute(statement, [days.to_list(), days[0], days[-1]])

    def _read_rolled(self) -> datetime | None:
        """The day (its first hour) up to which the coarser grains hold the hourly counts:
        the hours from it on are only in the hourly tables; None: nothing rolled up yet."""
        said = self._meta.get(ROLLED)
        if said is not None:
            return datetime.fromisoformat(said) if said else None
        # tables of version 1: the coarser grains hold every hour
        ((last,),) = self._db.execute(f"SELECT max({HOUR}) FROM hours").fetchall()
        return None if last is None else following(floor(last, "day"), "day")

    def _read_held(self) -> frozenset[str] | None:
        """The count tables holding any row (None: a state made before meta said so)."""
        said = self._meta.get(HELD)
        return None if said is None else frozenset(filter(None, said.split(",")))

    def _held_now(self) -> frozenset[str]:
        """The count tables holding any row: as meta says, else as DuckDB's estimates do."""
        if self._held is not None:
            return self._held
        sizes = self._db.execute("SELECT table_name, estimated_size FROM duckdb_tables()")
        return frozenset(name for name, size in sizes.fetchall() if size and name in TABLES)

    def _hold(self, names: set[str]) -> frozenset[str]:
        """The tables held once this transaction's rows in the tables ``names`` are: recorded
        in meta when any is new (a window then asks no table holding nothing)."""
        held = self._held_now()
        if self._held is None or not names <= held:
            held = held | names
            self._db.execute("DELETE FROM meta WHERE key = ?", [HELD])
            self._db.execute("INSERT INTO meta VALUES (?, ?)", [HELD, ",".join(sorted(held))])
        return held

    def _roll_up(self, last: datetime | None, held: frozenset[str]) -> datetime | None:
        """Add the hours from the day rolled up to (``_rolled``), before the last
        ``KEPT_HOURLY`` days held, to the coarser grains, and record that day: a run adds a
        day's rows to the day, month and year once a day, not at each run, and counts those
        days' visitors (``visitor_days``: a window reads the days after from their hours);
        ``last``: the last hour held, this commit's rows with the rest; ``held``: the tables
        holding any row. Returns the day rolled up to now."""
        db, rolled = self._db, self._rolled
        if last is None:
            return rolled
        until = floor(last, "day") - timedelta(days=KEPT_HOURLY - 1)
        if rolled is not None and until <= rolled:
            return rolled
        for name in (name for name in TABLES if name not in ONLY_HOURLY and name in held):
            for grain in grains_of(name)[-2::-1]:
                self._roll(name, grain, rolled, until)
        since = date.min if rolled is None else rolled.date()
        for statement in count_visitor_days():  # their visitors counted once, from now on
            db.execute(statement, [since, until.date()])
        db.execute(f"DELETE FROM meta WHERE key IN ('version', '{ROLLED}')")
        db.execute(
            "INSERT INTO meta VALUES ('version', ?), (?, ?)",
            [str(VERSION), ROLLED, until.isoformat()],
        )
        return until

    def _roll(self, name: str, grain: str, since: datetime | None, until: datetime) -> None:
        """Table ``name``'s hours in ``[since, until)`` added up into its ``grain`` table."""
        db, table = self._db, STORED[name]
        keys = ", ".join(quoted(k) for k in table.keys)
        period = f"date_trunc('{grain}', {HOUR}) AS {HOUR}"
        where, params = f"{HOUR} < $1", [until]
        if since is not None:
            where, params = f"{HOUR} >= $2 AND {HOUR} < $1", [until, since]
        added = (
            f"SELECT DISTINCT {period}, {keys} FROM {name} WHERE {where}"
            if table.is_set
            else f"SELECT {period}, {keys}, {totals(table, _TYPE_NAMES[name])} FROM {name} "
            f"WHERE {where} GROUP BY ALL"
        )
        db.execute(f"CREATE OR REPLACE TEMP TABLE _rolled AS {added} ORDER BY {HOUR}", params)
        db.execute(f"INSERT INTO {table_name(name, grain)} BY NAME SELECT * FROM _rolled")
        held = None if since is None else floor(since, grain)
        if held is not None and held < since:  # the period ``since`` cuts was held already
            ((count,),) = db.execute(
                f"SELECT count(*) FROM _rolled WHERE {HOUR} = ?", [held]
            ).fetchall()
            self._piled_rows(name, grain, count, held)
        db.execute("DROP TABLE _rolled")

    def _pile(self, name: str, grain: str, rows: pl.DataFrame) -> None:
        """Note ``rows`` appended to ``name``'s table at ``grain`` for periods it held already
        (a key may now have two rows there, which a window adds up); ``_merge_piles`` merges
        them once they are many."""
        if not rows.is_empty():
            self._piled_rows(name, grain, rows.height, rows.get_column(HOUR).min())

    def _piled_rows(self, name: str, grain: str, count: int, first: datetime) -> None:
        if count:
            held, since = self._piled.get((name, grain), (0, first))
            self._piled[name, grain] = (held + count, min(since, first))

    def _merge_piles(self) -> None:
        """Count the rows piled up by this commit, and merge the periods of each table whose
        piled rows are over a quarter of what it held after its last merge: one row per key
        again."""
        if not self._piled:
            return
        db = self._db
        values = [(table_name(n, g), rows, since) for (n, g), (rows, since) in self._piled.items()]
        names = {table_name(n, g): (n, g) for n, g in self._piled}
        self._piled = {}
        db.register("_piled", _Arrow(pl.DataFrame(values, schema=_PILED, orient="row")))
        try:
            found = db.execute(
                f"UPDATE {PILES} p SET added = p.added + n.rows, since = least(p.since, n.since) "
                "FROM _piled n WHERE p.target = n.target RETURNING p.target, p.merged, p.added, "
                "p.since"
            ).fetchall()
        finally:
            db.unregister("_piled")
        for target, merged, added, since in found:
            if added > max(MIN_PILE, merged // 4):
                self._merge_periods(*names[target], since)

    def _merge_periods(self, name: str, grain: str, since: datetime) -> None:
        """Merge the periods from ``since`` on of ``name``'s table at ``grain``."""
        db, target, table = self._db, table_name(name, grain), STORED[name]
        keys = ", ".join(quoted(k) for k in (HOUR, *table.keys))
        again = (
            f"SELECT DISTINCT * FROM {target} WHERE {HOUR} >= $1"
            if table.is_set
            else f"SELECT {keys}, {totals(table, _TYPE_NAMES[name])} "
            f"FROM {target} WHERE {HOUR} >= $1 GROUP BY {keys}"
        )
        db.execute(f"CREATE OR REPLACE TEMP TABLE _merged AS {again} ORDER BY {HOUR}", [since])
        db.execute(f"DELETE FROM {target} WHERE {HOUR} >= ?", [since])
        db.execute(f"INSERT INTO {target} SELECT * FROM _merged")
        ((rows_now,),) = db.execute(f"SELECT count(*) FROM {target}").fetchall()
        db.execute(
            f"UPDATE {PILES} SET merged = ?, added = 0, since = NULL WHERE target = ?",
            [rows_now, target],
        )
        db.execute("DROP TABLE _merged")

    def _add_rows(self, name: str, grain: str, rows: pl.DataFrame) -> None:
        """``rows`` (one per period and key) appended to ``name``'s table at ``grain``, in
        period order: each row group's zone map then bounds its periods tightly, and a window
        or a merge reads only the row groups of its periods."""
        if rows.is_empty():
            return
        rows = rows.select(list(_TYPE_NAMES[name])).sort(HOUR)  # the table's columns, in order
        self._db.from_arrow(_Arrow(rows)).insert_into(table_name(name, grain))

    def _numbered(self, hosts: pl.DataFrame) -> pl.DataFrame:
        """The hosts' rows ``hosts`` with each host's number (``host_id``) for its name: the
        hosts not seen before numbered after the others, and given their offline country
        (``lib.logs.geo``'s ip, cctld and us_tld tiers), once: a window's attribution reads
        them."""
        db = self._db
        names = hosts.select("host").unique()
        db.register("_hosts", _Arrow(names))
        try:
            known = _frame(
                db.sql(
                    f"SELECT h.host, p.id AS {HOST_ID} FROM _hosts h JOIN {PLACES} p "
                    "ON p.host IS NOT DISTINCT FROM h.host"
                )
            )
        finally:
            db.unregister("_hosts")
        new = names.join(known, on="host", how="anti", nulls_equal=True)
        if not new.is_empty():
            ((top,),) = db.execute(f"SELECT coalesce(max(id), 0) FROM {PLACES}").fetchall()
            places = offline_countries(new.get_column("host"), self._geo_cache).with_row_index(
                "id", offset=top + 1
            )
            places = places.with_columns(pl.col("id").cast(pl.UInt32))
            db.register("_places", _Arrow(places))
            try:
                db.execute(f"INSERT INTO {PLACES} BY NAME SELECT * FROM _places")
            finally:
                db.unregister("_places")
            known = pl.concat([known, places.select("host", pl.col("id").alias(HOST_ID))])
        return hosts.join(known, on="host", how="left", nulls_equal=True).drop("host")

    def _per_log(self, log: int, chunk: Chunk) -> None:
        db = self._db
        for format_name, count in chunk.formats.items():
            self._add(log, "log_formats", "format", format_name, "requests", count)
        for reason, count in chunk.reasons.items():
            self._add(log, "log_reasons", "reason", reason, "lines", count)
        if not chunk.examples.is_empty():
            (held,) = db.execute(
                "SELECT count(*) FROM log_examples WHERE log = ?", [log]
            ).fetchall()[0]
            for line_no, line in chunk.examples.head(max(0, MAX_EXAMPLES - held)).iter_rows():
                db.execute("INSERT INTO log_examples VALUES (?, ?, ?)", [log, line_no, line])

    def _add(self, log: int, name: str, key: str, value: str, counted: str, count: int) -> None:
        db = self._db
        found = db.execute(
            f"SELECT 1 FROM {name} WHERE log = ? AND {key} = ?", [log, value]
        ).fetchall()
        if found:
            db.execute(
                f"UPDATE {name} SET {counted} = {counted} + ? WHERE log = ? AND {key} = ?",
                [count, log, value],
            )
        else:
            db.execute(f"INSERT INTO {name} VALUES (?, ?, ?)", [log, value, count])

    def window_and_read(
        self, start: datetime, end: datetime, named: Named = DEFAULT
    ) -> tuple[dict[str, pl.DataFrame], dict]:
        """Each table's counts in ``[start, end)`` added up by key (the hours' table keeps its
        hours), but for the hosts: those ``named`` (``lib.logs.state.hosts``), ``places`` their
        offline countries, and ``host_groups`` every host counted by its place;
        ``visitor_levels``, per day, its distinct visitors at each sample level
        (``lib.logs.state.grains``). And what belongs to the logs, not the hours
        (``_so_far``). Their queries run side by side.
        """
        db = self._db
        empty = {name: frame.drop(HOUR) for name, frame in no_tables().items()}
        empty["hours"] = no_tables()["hours"]
        ((first, last),) = db.execute(f"SELECT min({HOUR}), max({HOUR}) FROM hours").fetchall()
        span = None if first is None else bounded(start, end, first, last)
        held = self._held_now()
        found, asked = {}, {}
        for name in TABLES:
            if name == "visitors":
                continue
            if span is None or name not in held:  # nothing counted there
                found[name] = empty[name]
                continue
            if name in ONLY_HOURLY:
                parts = [Part("hour", start, end)]
            else:
                parts = self._parts(*span, signed=not STORED[name].is_set)
            asked[name] = window_query(name, _TYPE_NAMES[name], parts)
        if "hosts" in asked:  # the hosts named, with their places, and every host by place
            query, params = asked["hosts"]
            asked["hosts"] = (hosts_query(query, PLACES, named), params)
        # the days of the window, whole where it reaches past the data (``bounded``): a
        # day's visitors are then read from its count, not from its hours' visitors
        days = [] if span is None else cover(*span, ("day", "hour"), signed=False)
        asked["visitor_levels"] = window_visitor_levels(days, self._rolled)
        so_far = _SO_FAR_QUERIES
        found.update(self._all(asked | so_far))
        read = _so_far({name: found.pop(name) for name in so_far})
        rows = found["hosts"] if "hosts" in asked else pl.DataFrame(schema=HOST_ROWS)
        hosts, found["host_groups"] = split(rows)
        found["places"] = hosts.select("host", "country", "method")
        found["hosts"] = hosts.drop("country", "method")
        return found, read

    def _parts(self, start: datetime, end: datetime, signed: bool) -> list[Part]:
        """The periods ``[start, end)`` is read from: before the day rolled up to, the fewest
        of every grain (``periods.cover``; the coarser grains hold those hours, and what a
        part takes away lies before that day too, a day being whole there); from it on,
        the hours. The coarser grains hold nothing from that day on, so a window reaching it
        may read them up to any end from it on: the one that reads the fewest rows (the
        month's or year's period whole rather than less its last days)."""
        rolled = self._rolled
        if rolled is None:
            return [Part("hour", start, end)]
        if end <= rolled:
            return cover(start, end, signed=signed)
        ends = (rolled, end, *(following(floor(rolled, grain), grain) for grain in GRAINS[:2]))
        parts = cover_to_any(start, tuple(e for e in ends if e >= rolled), signed=signed)
        return [*parts, Part("hour", max(start, rolled), end)]

    def _all(self, asked: dict[str, tuple[str, list]]) -> dict[str, pl.DataFrame]:
        """The results of the queries ``asked`` (name: SQL and its parameters), run side by
        side on cursors of their own (DuckDB runs each in threads of its own; side by side,
        each one's fixed costs overlap the others' work)."""

        def run(item):
            name, (query, params) = item
            cursor = self._cursors.get()
            try:
                return name, _frame(cursor.sql(query, params=params))
            finally:
                self._cursors.put(cursor)

        # the longest first: the hosts' and URLs' tables are the big ones
        order = sorted(asked.items(), key=lambda item: item[0] not in ("hosts", "urls"))
        return dict(self._pool.map(run, order))

    def events(self, since: datetime | None = None) -> list[tuple[datetime, str, str]]:
        query = 'SELECT "when", path, what FROM events'
        params: list = []
        if since is not None:
            query += ' WHERE "when" >= ?'
            params.append(since)
        return self._db.execute(query + ' ORDER BY "when"', params).fetchall()


_SO_FAR_QUERIES = {  # what was read: name, (SQL, parameters)
    "_logs": (
        "SELECT CAST(coalesce(sum(lines), 0) AS UBIGINT) AS lines, "
        "CAST(coalesce(sum(rejected), 0) AS UBIGINT) AS rejected, "
        "CAST(coalesce(sum(filtered), 0) AS UBIGINT) AS filtered FROM logs",
        [],
    ),
    "_requests": ("SELECT CAST(coalesce(sum(requests), 0) AS UBIGINT) AS requests FROM hours", []),
    "_examples": (
        "SELECT l.path AS file, e.line_no, e.line FROM log_examples e JOIN logs l "
        "ON e.log = l.id ORDER BY file, e.line_no LIMIT $1",
        [MAX_EXAMPLES],
    ),
    "_reasons": (
        "SELECT reason, CAST(sum(lines) AS UBIGINT) AS lines FROM log_reasons GROUP BY reason",
        [],
    ),
    "_formats": (
        "SELECT format, CAST(sum(requests) AS UBIGINT) AS requests FROM log_formats "
        "GROUP BY format",
        [],
    ),
}


def _so_far(found: dict[str, pl.DataFrame]) -> dict:
    """What belongs to the logs, not the hours, from the results of ``_SO_FAR_QUERIES``:
    lines, rejected lines (their reasons and first examples), requests per format, requests
    the filters left out, and all requests counted."""
    logs = found["_logs"].row(0, named=True)
    examples, reasons = found["_examples"], found["_reasons"]
    return {
        "lines": int(logs["lines"]),
        "rejected": int(logs["rejected"]),
        "filtered": int(logs["filtered"]),
        "requests": int(found["_requests"].item()),
        "rejected_examples": examples.cast(EXAMPLE_SCHEMA)
        if examples.height
        else pl.DataFrame(schema=EXAMPLE_SCHEMA),
        "rejected_reasons": reasons if reasons.height else no_reasons(),
        "formats": found["_formats"],
    }


@cache
def _ip_database() -> str:
    """The IP database installed, as the state records it (package and version)."""
    return f"{IP_DATABASE[0]} {version(IP_DATABASE[0])}"


def _before(rows: pl.DataFrame, moment: datetime) -> pl.DataFrame:
    """The rows of ``rows`` for the hours before ``moment``."""
    if rows.is_empty() or rows.get_column(HOUR).min() >= moment:
        return rows.clear()
    return rows.filter(pl.col(HOUR) < moment)


def _held(rows: pl.DataFrame, last: datetime) -> pl.DataFrame:
    """The rows of ``rows`` for the periods up to ``last``."""
    if rows.is_empty() or rows.get_column(HOUR).max() <= last:
        return rows
    return rows.filter(pl.col(HOUR) <= last)


def _frame(relation) -> pl.DataFrame:
    """A query's result as a polars frame (through Arrow's C stream: no pyarrow)."""
    return pl.DataFrame(relation)


class _Arrow:
    """A polars frame as DuckDB takes it through Arrow's C stream, without pyarrow: DuckDB
    reads a polars frame, as ``to_arrow()`` would, through pyarrow, whose import (numpy's
    with it) is 0.1 s of a run that reads a little (docs/benchmarks.md)."""

    __slots__ = ("frame",)

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def __arrow_c_stream__(self, requested_schema=None):
        return self.frame.__arrow_c_stream__(requested_schema)


def _settings_text(said: str | None) -> str:
    if not said:
        return "none recorded"
    settings = json.loads(said)
    return (
        ", ".join(f"{key} {value}" for key, value in settings.items() if value) or "the defaults"
    )
