"""Q2 at scale: the original queries, the sargable rewrites without their index, and with it,
and the same answers from the rollups (sql/clickstream/rollups.sql), timed in one run on a
generated clickstream (default 10M events, 100k users, 50k articles, 90 days); then the cost of
keeping the rollups: the same new events loaded with the rollup trigger on and off, by COPY and
by batched INSERT (1,000 rows a statement), each load in a transaction rolled back so that every
round starts from the same table. Works in a database of its own, dropped at the end unless
--keep.

    python bench/q2.py [--events 10000000] [--repeats 7] [--ingest 100000] [--rounds 3] [--keep]

Prints median milliseconds per query, the ratios, the answers (the original retention query
counts joined rows, not users; the rollups' must equal the raw ones'), the ingest medians and
their ratio, and writes the EXPLAIN (ANALYZE, BUFFERS) plans to out/bench/q2_plans.txt.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import psycopg2
import psycopg2.extras
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lib.clickstream import queries as clickstream  # noqa: E402
from lib.clickstream import rollups  # noqa: E402
from lib.clickstream.settings import load_settings  # noqa: E402
from lib.db import bind_psql_source, connect, normalize_url  # noqa: E402

DAY = "2017-04-01"
INDEX = "clickstream_action_time_idx"


def timed(engine, clause, params, repeats):
    """Median wall milliseconds of ``repeats`` runs (after one warm-up) and the last result."""
    samples, rows = [], None
    with engine.connect() as conn:
        for i in range(repeats + 1):
            started = time.perf_counter()
            rows = conn.execute(clause, params).fetchall()
            if i:
                samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), rows


def plan(engine, clause):
    with engine.connect() as conn:
        return "\n".join(r[0] for r in conn.execute(clause[1], clause[2]))


def new_events(n, users, articles, seed=7):
    """``n`` events of existing users on the generated period, keys unlikely to be taken (random
    microseconds): 40% likes, 55% log-ins, 5% (re)installs."""
    rng = random.Random(seed)
    start = datetime(2017, 2, 1)
    rows = {}
    while len(rows) < n:
        user = f"user{1 + int(users * rng.random() ** 2)}"
        at = start + timedelta(microseconds=rng.randrange(90 * 86_400 * 10**6))
        r = rng.random()
        if r < 0.4:
            rows[(user, at)] = (
                user,
                at,
                "LIKE_ARTICLE",
                f"art{1 + int(articles * rng.random() ** 4)}",
            )
        else:
            rows[(user, at)] = (user, at, "LOG_IN" if r < 0.95 else "FIRST_INSTALL", None)
    return list(rows.values())


def load(connection, how, events):
    """Milliseconds to write ``events`` by ``how`` (copy, insert); rolled back afterwards."""
    with connection.cursor() as cur:
        started = time.perf_counter()
        if how == "copy":
            text = "".join(
                f"{u}\t{t.isoformat(sep=' ')}\t{a}\t{o or chr(92) + 'N'}\n"
                for u, t, a, o in events
            )
            cur.copy_expert(
                "COPY clickstream (userId, time, action, objectId) FROM STDIN", io.StringIO(text)
            )
        else:
            psycopg2.extras.execute_values(
                cur,
                "INSERT INTO clickstream (userId, time, action, objectId) VALUES %s",
                events,
                page_size=1000,
            )
        ms = (time.perf_counter() - started) * 1000
    connection.rollback()
    return ms


def ingest(url, events, rounds):
    """Median milliseconds of each (how, rollups on/off) load, in alternating order."""
    connection = psycopg2.connect(url.replace("postgresql+psycopg2", "postgresql"))
    samples = {}
    try:
        for r in range(rounds):
            for how in ("copy", "insert"):
                order = ("on", "off") if r % 2 == 0 else ("off", "on")
                for trigger in order:
                    if trigger == "off":  # this transaction only: the rollback restores it
                        with connection.cursor() as cur:
                            cur.execute(
                                "ALTER TABLE clickstream DISABLE TRIGGER clickstream_rollups_add"
                            )
                    samples.setdefault((how, trigger), []).append(load(connection, how, events))
    finally:
        connection.close()
    return {key: statistics.median(values) for key, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--articles", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--ingest", type=int, default=100_000, help="events per ingest load")
    parser.add_argument("--rounds", type=int, default=3, help="ingest loads of each kind")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    base = make_url(normalize_url(load_settings().database_url))
    name = f"rp_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(
        host=base.host,
        port=base.port or 5432,
        user=base.username,
        password=base.password,
        dbname=base.database or "postgres",
    )
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        engine = connect(url)
        clickstream.apply_schema(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP INDEX {INDEX}")
        started = time.perf_counter()
        clickstream.generate_clickstream(
            engine, n_events=args.events, n_users=args.users, n_articles=args.articles
        )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE clickstream")
            conn.exec_driver_sql("VACUUM ANALYZE articles")
            events = conn.exec_driver_sql("SELECT count(*) FROM clickstream").scalar()
        print(f"generated {events:,} events in {time.perf_counter() - started:.0f} s", flush=True)

        def source(path):
            return Path(path).read_text()

        queries = {
            "original top_liked": (ROOT / "bench/sql/original_top_liked_articles.sql", {}),
            "original retention": (ROOT / "bench/sql/original_install_retention.sql", {}),
            "top_liked": (ROOT / "sql/clickstream/top_liked_articles.sql", {"top_n": 10}),
            "retention": (ROOT / "sql/clickstream/install_retention.sql", {"window_days": 7}),
        }
        clauses = {
            label: (
                bind_psql_source(source(p)),
                bind_psql_source(source(p), explain=True),
                {"day": DAY, **extra},
            )
            for label, (p, extra) in queries.items()
        }
        results, plans, answers = {}, [], {}
        for phase in ("without index", "with index"):
            if phase == "with index":
                started = time.perf_counter()
                clickstream.apply_schema(engine)  # creates the index again
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql("VACUUM ANALYZE clickstream")
                print(f"index built in {time.perf_counter() - started:.0f} s", flush=True)
            for label, clause in clauses.items():
                ms, rows = timed(engine, clause[0], clause[2], args.repeats)
                results[(label, phase)] = ms
                answers[label] = rows
                plans.append(f"=== {label}, {phase} ===\n{plan(engine, clause)}\n")
                print(f"{label:<20} {phase:<14} {ms:9.1f} ms", flush=True)
        started = time.perf_counter()
        rollups.install_rollups(engine)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in rollups.ROLLUP_TABLES:
                conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
        print(f"rollups filled in {time.perf_counter() - started:.0f} s", flush=True)
        for label, (p, extra) in {
            "top_liked rollup": (
                ROOT / "sql/clickstream/top_liked_articles_rollup.sql",
                {"top_n": 10},
            ),
            "retention rollup": (
                ROOT / "sql/clickstream/install_retention_rollup.sql",
                {"window_days": 7},
            ),
        }.items():
            clause = (bind_psql_source(source(p)), bind_psql_source(source(p), explain=True))
            ms, rows = timed(engine, clause[0], {"day": DAY, **extra}, args.repeats)
            results[(label, "rollups")] = ms
            answers[label] = rows
            plans.append(f"=== {label} ===\n{plan(engine, (*clause, {'day': DAY, **extra}))}\n")
            print(f"{label:<20} {'rollups':<14} {ms:9.1f} ms", flush=True)
        engine.dispose()
        loads = ingest(url, new_events(args.ingest, args.users, args.articles), args.rounds)
    finally:
        if not args.keep:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    out = ROOT / "out" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "q2_plans.txt").write_text("\n".join(plans))
    print("\nratios (original, same run) / ours with index  — target >= 10x, ours < 25 ms:")
    for ours, original in (
        ("top_liked", "original top_liked"),
        ("retention", "original retention"),
    ):
        best = min(results[(original, p)] for p in ("without index", "with index"))
        fast = results[(ours, "with index")]
        print(
            f"  {ours:<10} {fast:7.1f} ms  vs original {best:7.1f} ms: {best / fast:6.1f}x;"
            f" without index {results[(ours, 'without index')]:7.1f} ms"
        )
    for ours, raw in (("top_liked rollup", "top_liked"), ("retention rollup", "retention")):
        fast, slow = results[(ours, "rollups")], results[(raw, "with index")]
        print(
            f"  {ours:<16} {fast:7.2f} ms  vs raw with index {slow:7.1f} ms: {slow / fast:6.1f}x"
        )
    print(f"ingest of {args.ingest:,} events, median of {args.rounds} (target: on / off <= 1.5):")
    for how in ("copy", "insert"):
        on, off = loads[(how, "on")], loads[(how, "off")]
        print(f"  {how:<6} rollups on {on:8.0f} ms, off {off:8.0f} ms: {on / off:5.2f}x")
    same = [list(r) for r in answers["top_liked rollup"]] == [
        list(r) for r in answers["top_liked"]
    ]
    same &= tuple(answers["retention rollup"][0]) == tuple(answers["retention"][0])
    print("answers:")
    print("  rollups' answers equal the raw ones':", same)
    print("  original retention (joined rows):", answers["original retention"][0][0])
    print("  retention (installed, retained users):", tuple(answers["retention"][0]))
    print("  top liked:", [(r[1], r[2]) for r in answers["top_liked"][:3]], "...")
    print(f"plans: {out / 'q2_plans.txt'}{'; database kept: ' + name if args.keep else ''}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
