"""Load benchmark of the vote pipeline on 127.0.0.1, with baselines measured in the same run.

    python bench/votes.py [--seconds 60] [--rounds 4] [--kiosks 3] [--kiosk-workers 1]
                          [--processes 2] [--threads 8] [--backlog 30000] [--cluster N]
                          [--metrics-off] [--before DIR]

Starts, on a database and queue of its own (removed afterwards): one worker and three sets of
``--kiosks`` kiosks (each its own kiosk id, port and broker connections): on gunicorn with the
kiosk's buffering worker (``--server buffered``, ``--kiosk-workers`` processes each), on
gunicorn's gthread worker (``--server gthread``, the setup it replaced: the contender it must
not lose to) and on Bottle's built-in server (the baseline). Then measures:

1. POST /votes against each set, the load spread evenly over its kiosks: Bottle for
   ``--seconds``, then gthread and buffered for ``--seconds`` each in ``--rounds`` rounds taken
   in turn (the order swapped every round). Votes/s accepted (all kiosks together), p50 (their
   mean) and p95/p99 latency (the worst kiosk's, the worst round's), errors, the queue depth;
2. GET /results for half as long, the same way: requests/s;
3. freshness: time from a vote's 202 until GET /results counts it (20 samples);
4. slow clients: the slowest of 5 ``GET /health`` and 5 votes while 100 connections send a
   byte a second, on one gthread and one buffered kiosk;
5. worker ingest: a backlog published straight to the queue, drained by a worker with the
   configured batch size, and a smaller one by a worker storing one vote per transaction.

With ``--cluster N`` (as root: the nodes run as the rabbitmq user) it measures instead, on buffered
kiosks: POST /votes on a quorum queue over an N-node cluster of its own (each kiosk given the
node list starting at another node) against a classic queue on this machine's node, in rounds
taken in turn, and worker ingest on each; results in out/bench/votes_cluster.json.

With ``--metrics-off`` it measures instead what the metrics cost: POST /votes and GET /results
on buffered kiosks with metrics (the default) against the same kiosks with ``METRICS=0``, in
rounds taken in turn, and worker ingest with and without; results in out/bench/votes_metrics.json.

With ``--before DIR`` (a checkout of the code before a change: ``git worktree add DIR <commit>``)
it measures instead POST /votes and GET /results on buffered kiosks of this checkout against the
same kiosks run from DIR, metrics on, in rounds taken in turn, each set publishing to a votes
queue of its own that a worker of its own checkout declared (so what a change does to the
broker's topology, such as the votes' stream, is measured with it); results in
out/bench/votes_before.json.

Load comes from wrk when it is installed (``apt-get install wrk``; a C client, so the CPU goes
to what is measured) with ``--processes`` x ``--threads`` connections, else from as many Python
client threads (which take much of the CPU themselves). Results: out/bench/votes.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pika
import psycopg2
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lib.db import normalize_url  # noqa: E402
from lib.votes.broker import declare_topology, persistent  # noqa: E402
from lib.votes.message import Vote, encode  # noqa: E402
from lib.votes.nodes import connection_parameters  # noqa: E402
from lib.votes.settings import load_settings  # noqa: E402
from tests.support.kiosk_client import KioskClient  # noqa: E402


def _request_bytes(path: str, i: int) -> bytes:
    if path != "/votes":
        return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    body = json.dumps({"candidate": str(i % 3 + 1), "vote_id": uuid.uuid4().hex}).encode()
    head = (
        "POST /votes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _exchange(sock: socket.socket, request: bytes, pending: bytearray) -> int:
    """Send one request on a kept-alive socket and read exactly one response; its status."""
    sock.sendall(request)
    while True:
        end = pending.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(pending[:end]).lower() + b"\r\n"
            at = head.find(b"content-length:")
            length = int(head[at + 15 : head.find(b"\r\n", at)]) if at >= 0 else 0
            if len(pending) >= end + 4 + length:
                del pending[: end + 4 + length]
                return int(head[9:12])
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        pending.extend(chunk)


def _client_load(args: tuple) -> dict:
    """One client process: ``threads`` keep-alive sockets sending ``path`` until ``until``
    (a minimal HTTP/1.1 client, so that the load generator takes little of the CPU)."""
    port, path, threads, until = args
    latencies: list[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()

    def run(t: int) -> None:
        mine, counts = [], Counter()
        sock, pending, i = None, bytearray(), t
        while time.time() < until:
            request = _request_bytes(path, i)
            start = time.perf_counter()
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                    pending = bytearray()
                status = _exchange(sock, request, pending)
            except (OSError, ValueError):
                status = 0
                if sock is not None:
                    sock.close()
                sock = None
            mine.append(time.perf_counter() - start)
            counts[status] += 1
            i += 1
        if sock is not None:
            sock.close()
        with lock:
            latencies.extend(mine)
            statuses.update(counts)

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return {"latencies": latencies, "statuses": dict(statuses)}


WRK_SCRIPT = """
local i = 0
request = function()
  i = i + 1
  if wrk.path == "/votes" then
    local body = string.format('{"candidate":"%d"}', i % 3 + 1)
    return wrk.format("POST", "/votes", {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format("GET", wrk.path)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {\\"requests\\": %d, \\"seconds\\": %f, \\"bad_status\\": %d, "
    .. "\\"socket_errors\\": %d, \\"p50\\": %d, \\"p95\\": %d, \\"p99\\": %d, \\"mean\\": %f}\\n",
    summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean))
end
"""


def load_wrk(port: int, path: str, seconds: float, connections: int) -> dict:
    """Load from wrk (a C client: it leaves the CPU to what is measured)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    done = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "-s",
            script.name,
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    os.unlink(script.name)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    r = json.loads(line[len("RESULT ") :])
    errors = r["bad_status"] + r["socket_errors"]
    ok = r["requests"] - r["bad_status"]
    return {
        "client": "wrk",
        "ok_per_s": round(ok / r["seconds"], 1),
        "requests": r["requests"],
        "ok": ok,
        "errors": errors,
        "p50_ms": round(r["p50"] / 1000, 1),
        "p95_ms": round(r["p95"] / 1000, 1),
        "p99_ms": round(r["p99"] / 1000, 1),
        "mean_ms": round(r["mean"] / 1000, 1),
    }


def load(port: int, path: str, seconds: float, processes: int, threads: int) -> dict:
    if shutil.which("wrk"):
        return load_wrk(port, path, seconds, processes * threads)
    return load_python(port, path, seconds, processes, threads)


def load_many(ports: list[int], path: str, seconds: float, processes: int, threads: int) -> dict:
    """The same total load spread over several kiosks at once; figures added up (rates,
    counts) or the worst kiosk's (p95, p99)."""
    share = max(1, processes * threads // len(ports))
    parts: list[dict] = [{}] * len(ports)

    def one(i: int) -> None:
        parts[i] = load(ports[i], path, seconds, 1, share)

    runners = [threading.Thread(target=one, args=(i,)) for i in range(len(ports))]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    if len(parts) == 1:
        return parts[0]
    return {
        "client": parts[0]["client"],
        "kiosks": len(ports),
        "ok_per_s": round(sum(p["ok_per_s"] for p in parts), 1),
        **_totals(parts),
        "per_kiosk_ok_per_s": [p["ok_per_s"] for p in parts],
    }


def load_python(port: int, path: str, seconds: float, processes: int, threads: int) -> dict:
    until = time.time() + seconds
    with multiprocessing.Pool(processes) as pool:
        parts = pool.map(_client_load, [(port, path, threads, until)] * processes)
    latencies = sorted(x for part in parts for x in part["latencies"])
    statuses: Counter = Counter()
    for part in parts:
        statuses.update(part["statuses"])
    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)

    def pct(q: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1)

    return {
        "client": "python",
        "ok_per_s": round(ok / seconds, 1),
        "requests": len(latencies),
        "ok": ok,
        "errors": len(latencies) - ok,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": round(1000 * statistics.fmean(latencies), 1) if latencies else None,
    }


class Bench:
    """A database and queues of the benchmark's own, and the processes it starts; on the broker
    of ``amqp_urls`` (default: the settings') with queues of ``queue_type`` (the settings')."""

    def __init__(
        self, tmp: Path, amqp_urls: list[str] | None = None, queue_type: str | None = None
    ):
        config = load_settings()
        self.name = f"rp_bench_votes_{uuid.uuid4().hex[:8]}"
        base = make_url(normalize_url(config.database_url))
        self.admin_dsn = {
            "host": base.host,
            "port": base.port or 5432,
            "user": base.username or "postgres",
            "dbname": base.database,
        }
        self._admin(f'CREATE DATABASE "{self.name}"')
        self.dsn = {**self.admin_dsn, "dbname": self.name}
        self.amqp_urls = list(amqp_urls or config.amqp_urls)
        self.amqp_url = ",".join(self.amqp_urls)
        self.queue_type = queue_type or config.queue_type
        self.queue = f"votes_bench_{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            "DATABASE_URL": base.set(database=self.name).render_as_string(hide_password=False),
            "AMQP_URL": self.amqp_url,
            "VOTES_QUEUE": self.queue,
            "VOTES_QUEUE_TYPE": self.queue_type,
            "CACHE_DIR": str(tmp / "cache"),
            "RESULTS_INTERVAL": "1",
            "RATE_LIMIT": "0",
            "WORKER_METRICS_PORT": "0",
        }
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.queues = [self.queue]  # every votes queue of the run, removed at the end
        connection = self.connect()
        declare_topology(connection.channel(), self.queue, self.queue_type)  # as the worker will
        connection.close()

    def connect(self) -> pika.BlockingConnection:
        """A connection to the first node that answers."""
        return pika.BlockingConnection([connection_parameters(u) for u in self.amqp_urls])

    def _admin(self, statement: str) -> None:
        conn = psycopg2.connect(**self.admin_dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(statement)
        conn.close()

    def spawn(self, args: list[str], root: Path = ROOT, **env) -> subprocess.Popen:
        """``args`` run by this Python in ``root`` (another checkout: its code, imported from
        there), with the benchmark's environment and ``env``."""
        log = open(self.tmp / f"proc{len(self.procs)}.log", "w")  # noqa: SIM115
        environment = {**self.env, **env}
        if root != ROOT:
            environment["PYTHONPATH"] = str(root)
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=root,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def kiosk(self, port: int, server: str, workers: int = 2, root: Path = ROOT, **env) -> None:
        self.spawn(
            [
                "service/kiosk.py",
                "--kiosk-id",
                f"bench-{server}-{port}",
                "--port",
                str(port),
                "--server",
                server,
                "--workers",
                str(workers),
            ],
            root,
            **env,
        )
        client = KioskClient("127.0.0.1", port)
        for _ in range(200):
            try:
                client.request("GET", "/health")
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"kiosk ({server}) did not start")

    def count(self) -> int:
        conn = psycopg2.connect(**self.dsn)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM votes")
                return cur.fetchone()[0]
        except psycopg2.errors.UndefinedTable:
            return 0
        finally:
            conn.close()

    def depth(self) -> int:
        connection = self.connect()
        try:
            return (
                connection.channel().queue_declare(self.queue, passive=True).method.message_count
            )
        finally:
            connection.close()

    def wait_count(self, total: int, timeout: float = 300) -> float:
        start = time.perf_counter()
        while self.count() < total:
            if time.perf_counter() - start > timeout:
                raise SystemExit(f"only {self.count()} of {total} votes stored")
            time.sleep(0.05)
        return time.perf_counter() - start

    def publish_backlog(self, votes: int) -> None:
        connection = self.connect()
        channel = connection.channel()
        declare_topology(channel, self.queue, self.queue_type)
        channel.confirm_delivery()
        user = pika.URLParameters(self.amqp_urls[0]).credentials.username
        now = datetime.now(UTC)
        for i in range(votes):
            vote = Vote(uuid.uuid4().hex, str(i % 3 + 1), "backlog", now)
            channel.basic_publish(
                "", self.queue, encode(vote), persistent(vote.vote_id, user), mandatory=True
            )
        connection.close()

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        try:
            connection = self.connect()
            for queue in self.queues:
                for name in (queue, queue + ".dead", queue + ".replay"):  # .replay: the stream
                    connection.channel().queue_delete(name)
                    connection.channel().exchange_delete(name)
            connection.close()
        finally:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def sample_depth(bench: Bench, stop: threading.Event, series: list) -> None:
    start = time.perf_counter()
    while not stop.is_set():
        series.append((round(time.perf_counter() - start, 1), bench.depth()))
        stop.wait(1.0)


def freshness(bench: Bench, port: int, samples: int = 20) -> dict:
    client = KioskClient("127.0.0.1", port)
    delays = []
    for _ in range(samples):
        before = bench.count()
        outcome = client.post_vote("1")
        accepted = time.perf_counter()
        while True:
            results = client.results()
            if results and results["total_votes"] > before:
                delays.append(time.perf_counter() - accepted)
                break
            time.sleep(0.02)
        time.sleep(0.3)
        assert outcome.status == 202
    return {
        "samples": samples,
        "median_s": round(statistics.median(delays), 2),
        "max_s": round(max(delays), 2),
    }


CONTENDERS = ("gthread", "buffered")  # today's gunicorn setup, and the one replacing it


def _totals(parts: list[dict]) -> dict:
    """What loads of one setup add up to, however they were split (kiosks or rounds): counts
    summed, p50 the mean of theirs, p95/p99 the worst."""
    return {
        "requests": sum(p["requests"] for p in parts),
        "ok": sum(p["ok"] for p in parts),
        "errors": sum(p["errors"] for p in parts),
        "p50_ms": round(statistics.fmean(p["p50_ms"] for p in parts), 1),
        "p95_ms": max(p["p95_ms"] for p in parts),
        "p99_ms": max(p["p99_ms"] for p in parts),
    }


def combine(parts: list[dict]) -> dict:
    """Rounds of one contender as one figure: rates over the whole time, p50 the mean of the
    rounds', p95/p99 the worst round's; each round's votes/s and p99 kept."""
    seconds = sum(p["ok"] / p["ok_per_s"] for p in parts if p["ok_per_s"])
    return {
        "ok_per_s": round(sum(p["ok"] for p in parts) / max(seconds, 1e-9), 1),
        **_totals(parts),
        "rounds_ok_per_s": [p["ok_per_s"] for p in parts],
        "rounds_p99_ms": [p["p99_ms"] for p in parts],
    }


def alternate(
    bench: Bench, ports: dict[str, list[int]], path: str, seconds: float, rounds: int, c: tuple
) -> dict[str, dict]:
    """``rounds`` rounds of load on each contender's kiosks, in turn (the order swapped every
    round, so drift in the machine falls on both); votes are stored before the next round."""
    parts: dict[str, list[dict]] = {name: [] for name in CONTENDERS}
    for r in range(rounds):
        for name in CONTENDERS if r % 2 == 0 else CONTENDERS[::-1]:
            stored = bench.count()
            result = load_many(ports[name], path, seconds / rounds, *c)
            if path == "/votes":
                bench.wait_count(stored + result["ok"])
            parts[name].append(result)
            print(f"  {path} round {r + 1}, {name}: {result['ok_per_s']}/s p99 {result['p99_ms']}")
    return {name: combine(parts[name]) for name in CONTENDERS}


def under_slow_clients(port: int, clients: int = 100, samples: int = 5) -> dict:
    """``GET /health`` and a vote while ``clients`` connections send a byte a second: the
    slowest answer of ``samples`` each (None: no answer within 5 s)."""
    request = _request_bytes("/votes", 0)
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(clients)]
    stop = threading.Event()

    def trickle() -> None:
        for i in range(len(request)):
            for sock in socks:
                try:
                    sock.send(request[i : i + 1])
                except OSError:
                    pass
            if stop.wait(1.0):
                return

    sender = threading.Thread(target=trickle)
    sender.start()
    worst: dict = {"/health": 0.0, "/votes": 0.0}
    try:
        time.sleep(1.5)
        for i in range(samples):
            for path in worst:
                start = time.perf_counter()
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                        _exchange(sock, _request_bytes(path, i), bytearray())
                    took = round(1000 * (time.perf_counter() - start), 1)
                except OSError:
                    took = None
                if worst[path] is not None:
                    worst[path] = None if took is None else max(worst[path], took)
    finally:
        stop.set()
        sender.join()
        for sock in socks:
            sock.close()
    return {f"worst_{path.strip('/')}_ms": ms for path, ms in worst.items()}


def ingest(bench: Bench, size: int, **env) -> dict:
    """A backlog of ``size`` votes published to the queue, then drained by a worker (with
    ``env``): votes/s from its first stored batch to the last vote stored."""
    bench.publish_backlog(size)
    before = bench.count()
    target = before + size
    proc = bench.spawn(["service/worker.py", "--no-results"], **env)
    while (first := bench.count()) == before:  # timed from the first stored batch
        time.sleep(0.005)
    start = time.perf_counter()
    bench.wait_count(target)
    seconds = time.perf_counter() - start
    size = target - first
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    return {"votes": size, "seconds": round(seconds, 2), "votes_per_s": round(size / seconds)}


METRICS_SETUPS = ("metrics_on", "metrics_off")


def broker_pids() -> list[int]:
    """The RabbitMQ nodes running on this machine: their ``beam.smp`` processes."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "beam.smp":
                    found.append(int(entry.name))
            except OSError:  # gone meanwhile
                continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds (user and system) used so far by ``pids`` and their children (a kiosk's
    gunicorn master and its server processes), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    mine = set(pids) | {pid for pid, (ppid, _) in stats.items() if ppid in pids}
    return sum(stats[pid][1] for pid in mine if pid in stats) / tick


def kiosk_sets(
    bench: Bench, args, setups: dict[str, dict]
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """``--kiosks`` buffered kiosks of ``--kiosk-workers`` processes for each setup (its
    keyword arguments to ``Bench.kiosk``: a ``root``, settings): their ports and their
    processes' pids, by setup."""
    ports = {
        name: [18181 + 100 * i + k for k in range(args.kiosks)] for i, name in enumerate(setups)
    }
    pids: dict[str, list[int]] = {name: [] for name in setups}
    for name, kiosks in ports.items():
        for port in kiosks:
            bench.kiosk(port, "buffered", args.kiosk_workers, **setups[name])
            pids[name].append(bench.procs[-1].pid)
    return ports, pids


def in_turn(
    bench: Bench, ports: dict[str, list[int]], pids: dict[str, list[int]], args, report: dict
) -> None:
    """POST /votes for ``--seconds``, then GET /results for half as long, on each setup's kiosks
    (``ports``, their processes ``pids``) in ``--rounds`` rounds taken in turn (the order
    swapped every round); each setup's figures, with its kiosks' CPU per answer, into
    ``report`` as ``post_votes_<setup>`` and ``get_results_<setup>``; for votes also the
    broker's CPU per vote, from the first vote sent to the last one stored (RabbitMQ's
    ``beam.smp`` processes on this machine: whatever else uses the broker meanwhile counts
    too)."""
    c = (args.processes, args.threads)
    setups = tuple(ports)
    for path, seconds in (("/votes", args.seconds), ("/results", args.seconds / 2)):
        parts: dict[str, list[dict]] = {name: [] for name in setups}
        cpu = dict.fromkeys(setups, 0.0)
        broker = dict.fromkeys(setups, 0.0)
        for r in range(args.rounds):
            for name in setups if r % 2 == 0 else setups[::-1]:
                stored, used = bench.count(), cpu_seconds(pids[name])
                beams = broker_pids()
                broker_used = cpu_seconds(beams)
                result = load_many(ports[name], path, seconds / args.rounds, *c)
                cpu[name] += cpu_seconds(pids[name]) - used
                if path == "/votes":
                    bench.wait_count(stored + result["ok"])
                    broker[name] += cpu_seconds(beams) - broker_used
                parts[name].append(result)
                print(
                    f"  {path} round {r + 1}, {name}: {result['ok_per_s']}/s "
                    f"p99 {result['p99_ms']} ms, errors {result['errors']}"
                )
        for name in setups:
            key = f"{'post_votes' if path == '/votes' else 'get_results'}_{name}"
            report[key] = combine(parts[name])
            # the kiosks' own CPU per answer: what the load on the machine moves least
            ok = sum(part["ok"] for part in parts[name])
            report[key]["kiosk_cpu_ms_per_ok"] = round(1000 * cpu[name] / max(ok, 1), 3)
            if path == "/votes":
                report[key]["broker_cpu_ms_per_ok"] = round(1000 * broker[name] / max(ok, 1), 3)
            print(f"{path}, {name}:", report[key])


def wait_declared(bench: Bench, queue: str, timeout: float = 60) -> None:
    """Wait until a worker has declared ``queue`` (a passive declare finds it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection = bench.connect()
        try:
            connection.channel().queue_declare(queue, passive=True)
            return
        except pika.exceptions.ChannelClosedByBroker:
            time.sleep(0.2)
        finally:
            if connection.is_open:
                connection.close()
    raise SystemExit(f"no worker declared queue {queue} within {timeout:g}s")


def before_main(args, report: dict, out: Path) -> int:
    """``--before DIR``: buffered kiosks of this checkout against the same kiosks run from DIR
    (a checkout of the code before a change: ``git worktree add DIR <commit>``), both with
    metrics on, each publishing to a votes queue of its own, declared and consumed by a worker
    of its own checkout (DIR's without results: this checkout's writes them); POST /votes and
    GET /results in rounds taken in turn. Results: out/bench/votes_before.json."""
    before = Path(args.before).resolve()
    if not (before / "service" / "kiosk.py").is_file():
        raise SystemExit(f"--before {before}: no service/kiosk.py there (not a checkout)")
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp))
        try:
            bench.spawn(["service/worker.py"])
            queue = bench.queue + "_before"
            bench.queues.append(queue)
            bench.spawn(["service/worker.py", "--no-results"], before, VOTES_QUEUE=queue)
            wait_declared(bench, queue)
            setups = {
                "now": {"root": ROOT},
                "before": {"root": before, "VOTES_QUEUE": queue},
            }
            in_turn(bench, *kiosk_sets(bench, args, setups), args, report)
        finally:
            bench.close()
    now, then = report["post_votes_now"], report["post_votes_before"]
    rnow, rthen = report["get_results_now"], report["get_results_before"]
    report["before"] = str(before)
    report["ratios"] = {
        "votes_per_s_now_over_before": round(now["ok_per_s"] / max(then["ok_per_s"], 1), 3),
        "p99_now_over_before": round(now["p99_ms"] / max(then["p99_ms"], 0.1), 3),
        "results_per_s_now_over_before": round(rnow["ok_per_s"] / max(rthen["ok_per_s"], 1), 3),
        "kiosk_cpu_per_vote_now_over_before": round(
            now["kiosk_cpu_ms_per_ok"] / max(then["kiosk_cpu_ms_per_ok"], 1e-6), 3
        ),
        "broker_cpu_per_vote_now_over_before": round(
            now["broker_cpu_ms_per_ok"] / max(then["broker_cpu_ms_per_ok"], 1e-6), 3
        ),
    }
    print("ratios:", json.dumps(report["ratios"]))
    (out / "votes_before.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"report: {out / 'votes_before.json'}")
    return 0


def metrics_main(args, report: dict, out: Path) -> int:
    """``--metrics-off``: buffered kiosks with metrics against the same with ``METRICS=0``, one
    worker with metrics storing both's votes; POST /votes and GET /results in rounds taken in
    turn (the order swapped every round), then worker ingest of ``--backlog`` with each.
    Results: out/bench/votes_metrics.json."""
    switch = {"metrics_on": "1", "metrics_off": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp))
        try:
            worker = bench.spawn(["service/worker.py"])
            setups = {name: {"METRICS": switch[name]} for name in METRICS_SETUPS}
            in_turn(bench, *kiosk_sets(bench, args, setups), args, report)
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
            for r in range(args.rounds // 2 or 1):  # ingest in turn as well
                for name in METRICS_SETUPS if r % 2 == 0 else METRICS_SETUPS[::-1]:
                    result = ingest(bench, args.backlog, METRICS=switch[name])
                    report.setdefault(f"ingest_{name}", []).append(result)
                    print(f"worker ingest, {name}:", result)
        finally:
            bench.close()

    def ingest_rate(name: str) -> float:
        runs = report[f"ingest_{name}"]
        return sum(r["votes"] for r in runs) / sum(r["seconds"] for r in runs)

    on, off = report["post_votes_metrics_on"], report["post_votes_metrics_off"]
    ron, roff = report["get_results_metrics_on"], report["get_results_metrics_off"]
    report["ratios"] = {
        "votes_per_s_on_over_off": round(on["ok_per_s"] / max(off["ok_per_s"], 1), 3),
        "p99_on_over_off": round(on["p99_ms"] / max(off["p99_ms"], 0.1), 3),
        "results_per_s_on_over_off": round(ron["ok_per_s"] / max(roff["ok_per_s"], 1), 3),
        "ingest_on_over_off": round(ingest_rate("metrics_on") / ingest_rate("metrics_off"), 3),
        "kiosk_cpu_per_vote_on_over_off": round(
            on["kiosk_cpu_ms_per_ok"] / max(off["kiosk_cpu_ms_per_ok"], 1e-6), 3
        ),
        "kiosk_cpu_per_result_on_over_off": round(
            ron["kiosk_cpu_ms_per_ok"] / max(roff["kiosk_cpu_ms_per_ok"], 1e-6), 3
        ),
    }
    print("ratios:", json.dumps(report["ratios"]))
    (out / "votes_metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"report: {out / 'votes_metrics.json'}")
    return 0


SETUPS = ("quorum_cluster", "classic_one_node")


def cluster_main(args, report: dict, out: Path) -> int:
    """``--cluster N``: POST /votes on a quorum queue replicated over an N-node cluster of the
    benchmark's own (scripts/rabbitmq-cluster.sh; kiosk i given the node list starting at node
    i) against a classic queue on this machine's node, in alternating rounds, with the buffered
    kiosks; then worker ingest on each. Results: out/bench/votes_cluster.json."""
    from tests.support.rabbit_cluster import _CHECKOUT, rabbit_cluster

    c = (args.processes, args.threads)
    started = time.perf_counter()
    with (
        rabbit_cluster(
            args.cluster,
            base_dir=f"/tmp/rp-rabbitmq-bench-{_CHECKOUT}",
            prefix=f"rp-bench-{_CHECKOUT}",
        ) as cluster,
        tempfile.TemporaryDirectory() as tmp,
    ):
        report["cluster_start_s"] = round(time.perf_counter() - started, 1)
        print(f"{args.cluster}-node cluster up in {report['cluster_start_s']} s: {cluster.urls}")
        for name in SETUPS:
            (Path(tmp) / name).mkdir()
        benches = {
            "quorum_cluster": Bench(Path(tmp) / SETUPS[0], cluster.urls, "quorum"),
            "classic_one_node": Bench(Path(tmp) / SETUPS[1], None, "classic"),
        }
        ports = {
            name: [18181 + 100 * i + k for k in range(args.kiosks)]
            for i, name in enumerate(SETUPS)
        }
        try:
            for name, bench in benches.items():
                bench.spawn(["service/worker.py"])
                for k, port in enumerate(ports[name]):
                    urls = bench.amqp_urls[k % len(bench.amqp_urls) :]
                    urls += bench.amqp_urls[: k % len(bench.amqp_urls)]
                    bench.kiosk(port, "buffered", args.kiosk_workers, AMQP_URL=",".join(urls))
            parts: dict[str, list[dict]] = {name: [] for name in SETUPS}
            for r in range(args.rounds):
                for name in SETUPS if r % 2 == 0 else SETUPS[::-1]:
                    bench = benches[name]
                    stored = bench.count()
                    result = load_many(ports[name], "/votes", args.seconds / args.rounds, *c)
                    bench.wait_count(stored + result["ok"])
                    parts[name].append(result)
                    print(
                        f"  /votes round {r + 1}, {name}: {result['ok_per_s']}/s "
                        f"p99 {result['p99_ms']} ms, errors {result['errors']}"
                    )
            for name in SETUPS:
                report[f"post_votes_{name}"] = combine(parts[name])
                print(f"POST /votes, {name}:", report[f"post_votes_{name}"])
            for name, bench in benches.items():
                bench.procs[0].send_signal(signal.SIGTERM)  # the worker: ingest starts afresh
                bench.procs[0].wait(30)
                report[f"ingest_{name}"] = ingest(bench, args.backlog)
                print(f"worker ingest, {name}:", report[f"ingest_{name}"])
        finally:
            for bench in benches.values():
                bench.close()
    q, k = report["post_votes_quorum_cluster"], report["post_votes_classic_one_node"]
    report["ratios"] = {
        "votes_per_s_quorum_cluster_over_classic": round(q["ok_per_s"] / max(k["ok_per_s"], 1), 3),
        "p99_quorum_cluster_over_classic": round(q["p99_ms"] / max(k["p99_ms"], 0.1), 3),
        "ingest_quorum_cluster_over_classic": round(
            report["ingest_quorum_cluster"]["votes_per_s"]
            / max(report["ingest_classic_one_node"]["votes_per_s"], 1),
            3,
        ),
    }
    print("ratios:", json.dumps(report["ratios"]))
    (out / "votes_cluster.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"report: {out / 'votes_cluster.json'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=4, help="alternations of the contenders")
    parser.add_argument("--kiosks", type=int, default=3, help="kiosk servers of each kind")
    parser.add_argument("--kiosk-workers", type=int, default=1, help="processes per kiosk")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--backlog", type=int, default=30_000)
    parser.add_argument(
        "--cluster",
        type=int,
        default=0,
        metavar="N",
        help="instead: a quorum queue on an N-node cluster against a classic queue on one node",
    )
    parser.add_argument(
        "--metrics-off",
        action="store_true",
        help="instead: buffered kiosks and the worker with metrics against METRICS=0",
    )
    parser.add_argument(
        "--before",
        metavar="DIR",
        help="instead: buffered kiosks of this checkout against those of DIR, the code before",
    )
    args = parser.parse_args()
    out = ROOT / "out" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line),
        "unknown CPU",
    )
    report: dict = {"machine": f"{cpu}, {os.cpu_count()} cores", "args": vars(args)}
    if args.cluster:
        return cluster_main(args, report, out)
    if args.metrics_off:
        return metrics_main(args, report, out)
    if args.before:
        return before_main(args, report, out)
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp))
        try:
            worker = bench.spawn(["service/worker.py"])
            ports = {
                name: [18181 + 100 * i + k for k in range(args.kiosks)]
                for i, name in enumerate((*CONTENDERS, "bottle"))
            }
            for name, kiosks in ports.items():
                for port in kiosks:
                    bench.kiosk(port, name, args.kiosk_workers if name != "bottle" else 1)
            c = (args.processes, args.threads)

            slows = ports["bottle"]
            report["post_votes_bottle_builtin"] = load_many(slows, "/votes", args.seconds, *c)
            print("POST /votes, Bottle built-in:", report["post_votes_bottle_builtin"])
            bench.wait_count(report["post_votes_bottle_builtin"]["ok"])

            depth: list = []
            stop = threading.Event()
            sampler = threading.Thread(target=sample_depth, args=(bench, stop, depth))
            sampler.start()
            votes = alternate(bench, ports, "/votes", args.seconds, args.rounds, c)
            stop.set()
            sampler.join()
            report["queue_depth_over_time"] = depth
            for name in CONTENDERS:
                report[f"post_votes_{name}"] = votes[name]
                print(f"POST /votes, {name}:", votes[name])

            report["freshness"] = freshness(bench, ports["buffered"][0])
            print("freshness (202 -> visible in GET /results):", report["freshness"])

            half = args.seconds / 2
            report["get_results_bottle_builtin"] = load_many(slows, "/results", half, *c)
            print("GET /results, Bottle built-in:", report["get_results_bottle_builtin"])
            results = alternate(bench, ports, "/results", half, args.rounds, c)
            for name in CONTENDERS:
                report[f"get_results_{name}"] = results[name]
                print(f"GET /results, {name}:", results[name])

            for name in CONTENDERS:
                report[f"slow_clients_{name}"] = under_slow_clients(ports[name][0])
                print(
                    f"100 clients sending a byte a second, {name}:", report[f"slow_clients_{name}"]
                )

            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
            for label, size, env in [
                ("ingest_batched", args.backlog, {}),
                ("ingest_one_per_transaction", args.backlog // 10, {"BATCH_SIZE": "1"}),
            ]:
                report[label] = ingest(bench, size, **env)
                print(f"{label}:", report[label])
        finally:
            bench.close()

    w, b = report["post_votes_buffered"], report["post_votes_bottle_builtin"]
    t, gt = report["post_votes_gthread"], report["get_results_gthread"]
    gw, gb = report["get_results_buffered"], report["get_results_bottle_builtin"]
    ib, i1 = report["ingest_batched"], report["ingest_one_per_transaction"]
    report["ratios"] = {
        "votes_per_s_buffered_over_gthread": round(w["ok_per_s"] / max(t["ok_per_s"], 1), 3),
        "p99_buffered_over_gthread": round(w["p99_ms"] / max(t["p99_ms"], 0.1), 3),
        "results_per_s_buffered_over_gthread": round(gw["ok_per_s"] / max(gt["ok_per_s"], 1), 3),
        "votes_per_s_buffered_over_bottle": round(w["ok_per_s"] / max(b["ok_per_s"], 1), 2),
        "p99_bottle_over_buffered": round(b["p99_ms"] / max(w["p99_ms"], 0.1), 2),
        "results_per_s_buffered_over_bottle": round(gw["ok_per_s"] / max(gb["ok_per_s"], 1), 2),
        "results_per_s_over_votes_per_s": round(gw["ok_per_s"] / max(w["ok_per_s"], 1), 2),
        "ingest_batched_over_one_per_transaction": round(
            ib["votes_per_s"] / max(i1["votes_per_s"], 1), 2
        ),
    }
    targets = {
        "votes_per_s >= 2000": w["ok_per_s"] >= 2000,
        "p99 < 50 ms": w["p99_ms"] < 50,
        "ingest >= 10000 votes/s": ib["votes_per_s"] >= 10_000,
        "freshness <= 5 s": report["freshness"]["max_s"] <= 5,
        "GET /results >= 5000/s": gw["ok_per_s"] >= 5000,
    }
    report["targets_met"] = targets
    print("ratios:", json.dumps(report["ratios"]))
    print("targets:", json.dumps(targets))
    (out / "votes.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"report: {out / 'votes.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
