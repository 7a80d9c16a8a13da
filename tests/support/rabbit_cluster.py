"""A RabbitMQ cluster of a test's own on this machine, through scripts/rabbitmq-cluster.sh: N
nodes beside the system node on 5672, on free ports, stopped (their data removed) at the end.

    with rabbit_cluster(3) as cluster:
        cluster.urls                  # AMQP URLs of nodes 1..N
        cluster.kill(2)               # SIGKILL node 2; cluster.start_node(2) brings it back

The script runs the nodes as the rabbitmq user, so the tests need root (as `make test` has here).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "rabbitmq-cluster.sh"
# A folder and node name prefix of this checkout's own: two checkouts' test runs never touch each
# other's nodes, and nodes a run killed before its clean-up left are removed by the next run's
# first `stop`.
_CHECKOUT = hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]
TEST_DIR = f"/tmp/rp-rabbitmq-cluster-{_CHECKOUT}"
TEST_PREFIX = f"rp-test-{_CHECKOUT}"


class ClusterError(RuntimeError):
    """The script failed; the message carries its last lines (which name the node's log)."""


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_base_port(size: int, start: int = 5711, dist_offset: int = 20000) -> int:
    """The first of ``start``, ``start + 10``, ... where the ``size`` AMQP ports and the
    ``size`` distribution ports (``dist_offset`` above) are all free on 127.0.0.1."""
    for base in range(start, 6700, 10):
        ports = [base + k for k in range(size)] + [base + dist_offset + k for k in range(size)]
        if all(_port_free(p) for p in ports):
            return base
    raise ClusterError(f"no {size} free ports between {start} and 6700 (and {dist_offset} above)")


class RabbitCluster:
    """Nodes ``1..size`` named ``<prefix>-<i>@localhost``, node ``i`` on AMQP port
    ``port + i - 1``; every method runs the script and raises ClusterError if it fails."""

    def __init__(
        self,
        size: int = 3,
        base_dir: str = TEST_DIR,
        prefix: str = TEST_PREFIX,
        port: int | None = None,
        timeout: int = 120,
    ):
        self.size = size
        self.base_dir = base_dir
        self.prefix = prefix
        self.port = port
        self.timeout = timeout
        self.urls: list[str] = []

    def _env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "RABBITMQ_CLUSTER_DIR": self.base_dir,
            "RABBITMQ_CLUSTER_PREFIX": self.prefix,
            "RABBITMQ_CLUSTER_TIMEOUT": str(self.timeout),
        }
        env["PATH"] = env.get("PATH", "") + ":/usr/sbin:/usr/bin:/sbin:/bin"
        if self.port is not None:
            env["RABBITMQ_CLUSTER_PORT"] = str(self.port)
        return env

    def script(self, *args: str | int) -> str:
        """Runs ``scripts/rabbitmq-cluster.sh args...``; returns its stdout."""
        command = ["bash", str(SCRIPT), *map(str, args)]
        try:
            done = subprocess.run(
                command,
                env=self._env(),
                capture_output=True,
                text=True,
                timeout=3 * self.timeout + 60,
            )
        except subprocess.TimeoutExpired as exc:
            raise ClusterError(f"{' '.join(command[1:])} timed out after {exc.timeout} s") from exc
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            raise ClusterError(f"{' '.join(command[1:])} failed ({done.returncode}): {tail}")
        return done.stdout

    def start(self) -> list[str]:
        """Starts the missing nodes; returns once all are clustered and answer AMQP."""
        if self.port is None:
            self.port = free_base_port(self.size)
        self.urls = self.script("start", self.size).strip().split(",")
        assert len(self.urls) == self.size, self.urls
        return self.urls

    def stop(self) -> None:
        """Stops every node of the folder (also ones a crashed run left) and removes the data."""
        self.script("stop")

    def kill(self, i: int) -> None:
        self.script("kill", i)

    def stop_node(self, i: int) -> None:
        self.script("stop-node", i)

    def start_node(self, i: int) -> None:
        """Starts node ``i`` again; returns once it is back in the cluster."""
        self.script("start-node", i)

    def node(self, i: int) -> str:
        return f"{self.prefix}-{i}@localhost"

    def index(self, node: str) -> int:
        """The number of the node named ``node``."""
        for i in range(1, self.size + 1):
            if self.node(i) == node:
                return i
        raise ValueError(f"{node} is not a node of this cluster")

    def rabbitmqctl(self, i: int, *args: str) -> str:
        """``rabbitmqctl -q -n <node i> args...`` (Debian's wrapper runs it as the rabbitmq
        user, whose cookie the nodes share)."""
        done = subprocess.run(
            ["rabbitmqctl", "-q", "-n", self.node(i), *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise ClusterError(f"rabbitmqctl -n {self.node(i)} {' '.join(args)}: {done.stderr}")
        return done.stdout

    def cluster_status(self, i: int) -> dict:
        return json.loads(self.rabbitmqctl(i, "cluster_status", "--formatter", "json"))

    def running_nodes(self, i: int) -> set[str]:
        return set(self.cluster_status(i)["running_nodes"])

    def queues(self, i: int) -> dict[str, dict]:
        """Queues by name as node ``i`` lists them: type, leader, members, online members."""
        columns = ("name", "type", "leader", "members", "online")
        rows = json.loads(self.rabbitmqctl(i, "list_queues", *columns, "--formatter", "json"))
        return {row["name"]: row for row in rows}

    def wait_for(self, what: str, check, timeout: float = 60, interval: float = 0.5):
        """Calls ``check()`` until it returns something true (returned) or raises ClusterError
        naming ``what`` after ``timeout`` seconds; errors on the way count as not yet."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                result = check()
            except Exception as exc:  # a node still starting, a channel closed: not yet
                last = exc
            else:
                if result:
                    return result
                last = result
            time.sleep(interval)
        raise ClusterError(f"{what}: not within {timeout} s (last: {last!r})")


@contextmanager
def rabbit_cluster(size: int = 3, **kwargs):
    """A started RabbitMQ cluster of ``size`` nodes, stopped and removed afterwards, whatever
    happened; nodes a crashed earlier run left in the same folder are removed first."""
    cluster = RabbitCluster(size, **kwargs)
    cluster.stop()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
