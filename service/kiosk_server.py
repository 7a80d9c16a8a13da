"""The kiosk's HTTP server: gunicorn's processes, each an asyncio loop that reads every request
whole, within deadlines and limits, before one of its threads runs the WSGI app on it.

Why not gunicorn's own gthread worker: it hands a connection to a thread as soon as the socket
is readable, and the thread then blocks reading the rest of the request, with no deadline, so a
few dozen clients that send half a request line hold every thread. Here the loop reads the
requests (a waiting connection costs a few KiB, not a thread), framed strictly by
``service.http_framing``; a request takes a thread only once it is complete, for as long as the
app needs, and a thread never waits on a client. Deadlines: ``keepalive`` seconds for the first
byte of a request, then ``request_timeout`` for the whole of it (408 after that, however slowly
it trickles in). Pipelined requests are answered in order, one at a time.

Reads (GET, HEAD) and writes (votes: every other method) run on two pools of threads, ``threads``
each: a vote may wait for the broker (up to its confirm timeout), and however many votes wait,
they hold no thread a read needs, so ``/results``, ``/health`` and the charts answer at once.

Connections are capped per client (an IPv4 address, an IPv6 /64) and in all, per process
(``lib.votes.connections``): a connection over a cap takes the place of one that is waiting,
the client's own or, over the total, one of the client holding the most; one is never closed
while its request is being answered. Every connection closed or refused so is counted
(``connections_refused`` in ``lib.votes.metrics``) and logged, a line a second at most.

``serve(app, host, port, workers, threads, limits)``; ``server="gthread"`` serves with gunicorn's
gthread worker instead (the setup this replaced, kept for the benchmark).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import unquote_to_bytes

from gunicorn.workers.base import Worker

from lib.votes.connections import ConnectionCaps
from lib.votes.metrics import KioskMetrics
from lib.votes.rate_limit import client_key
from lib.votes.throttle import LogThrottle
from service.http_framing import (
    Closed,
    Refused,
    Request,
    Source,
    body_framing,
    encode_response,
    read_chunked,
    read_head,
)

logger = logging.getLogger(__name__)
MAX_CONNECTIONS = 1000  # per process
CLIENT_CONNECTIONS = 64  # per client, per process
_JSON = ("Content-Type", "application/json")
_date: tuple[int, str] = (0, "")


@dataclass(frozen=True)
class Limits:
    """What the server allows a request, and what it does when it refuses one."""

    max_body: int  # bytes, after de-chunking
    request_timeout: float = 10.0  # seconds from a request's first byte to the end of its body
    keepalive: float = 5.0  # seconds an idle connection waits for its next request
    headers: tuple[tuple[str, str], ...] = ()  # added to the server's own refusals
    max_connections: int = MAX_CONNECTIONS  # per process
    client_connections: int = CLIENT_CONNECTIONS  # per client, per process
    on_refusal: Callable[[int, str, str], None] | None = None  # (status, reason, client address)
    # connections open and refused are counted here; a process's are forgotten when it exits
    metrics: KioskMetrics = field(default_factory=lambda: KioskMetrics(enabled=False))


def http_date() -> str:
    """The current time as an HTTP ``Date`` (formatted once a second)."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, formatdate(now, usegmt=True))
    return _date[1]


READS = frozenset({"GET", "HEAD"})  # methods run on the reads' threads


class Threads:
    """Up to ``size`` threads running calls for an asyncio loop, started as calls find none
    idle (as a ThreadPoolExecutor starts them). ``run`` hands one call to them and gives the
    loop a future of its result. What ``loop.run_in_executor`` does, with less on each call: no
    concurrent Future with its condition, no futures chained, and one wake-up of the loop when
    the call returns (measured here: about half the CPU a call, 23-45 against 58-67 us)."""

    def __init__(self, size: int, name: str):
        self._size, self._name = size, name
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._started = 0
        self._idle = 0  # threads waiting for a call, less the calls handed to them meanwhile

    def run(self, loop: asyncio.AbstractEventLoop, call: Callable, argument) -> asyncio.Future:
        """``call(argument)`` on one of the threads: a future of its result (or exception)."""
        future = loop.create_future()
        self._calls.put((loop, future, call, argument))
        with self._lock:
            if self._idle:
                self._idle -= 1
                return future
            if self._started >= self._size:
                return future  # every thread is busy: the first to finish takes it
            self._started += 1
            number = self._started - 1
        # not daemons, as an executor's threads are not: the process waits for calls running
        thread = threading.Thread(target=self._work, name=f"{self._name}_{number}")
        thread.start()
        return future

    def _work(self) -> None:
        while (item := self._calls.get()) is not None:
            loop, future, call, argument = item
            del item
            try:
                outcome, settle = call(argument), _settle_result
            except BaseException as exc:  # the future carries it, as an executor's does
                outcome, settle = exc, _settle_exception
            try:
                loop.call_soon_threadsafe(settle, future, outcome)
            except RuntimeError:  # the loop is closed: nobody waits for it
                pass
            del loop, future, outcome
            with self._lock:
                self._idle += 1

    def shutdown(self) -> None:
        """Let the threads end once their calls return; calls not yet taken are dropped (the
        loop that waited for them has stopped)."""
        try:
            while True:
                self._calls.get_nowait()
        except queue.Empty:
            pass
        for _ in range(self._started):
            self._calls.put(None)


def _settle_result(future: asyncio.Future, outcome) -> None:
    if not future.done():  # the task waiting for it may have been cancelled
        future.set_result(outcome)


def _settle_exception(future: asyncio.Future, outcome: BaseException) -> None:
    if not future.done():
        future.set_exception(outcome)


class BufferingWorker(Worker):
    """A gunicorn worker: an asyncio loop reading requests, ``cfg.threads`` threads running the
    app for reads and as many for other requests (votes). ``limits`` is set on a subclass made
    by ``serve``."""

    limits = Limits(max_body=1024)

    def run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        """Accept until gunicorn says stop (or the master is gone), then let the requests
        being answered finish, for up to ``graceful_timeout`` seconds."""
        self._reads = Threads(self.cfg.threads, "kiosk-read")
        self._writes = Threads(self.cfg.threads, "kiosk-write")
        self._connections: set[asyncio.Task] = set()
        self._idle: set[asyncio.Task] = set()
        self._caps = ConnectionCaps(self.limits.max_connections, self.limits.client_connections)
        self._capped_log = LogThrottle(interval=1.0)
        try:
            servers = [
                await asyncio.start_server(self._connection, sock=listener.sock, backlog=2048)
                for listener in self.sockets
            ]
            while self.alive and os.getppid() == self.ppid:
                self.notify()
                await asyncio.sleep(1.0)
            for server in servers:
                server.close()
            for task in list(self._idle):
                task.cancel()
            if self._connections:
                await asyncio.wait(list(self._connections), timeout=self.cfg.graceful_timeout)
        finally:  # however it ends: the threads are not daemons, and would hold the process
            for pool in (self._reads, self._writes):
                pool.shutdown()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        """Serve one connection: request, response, and again while it is kept alive."""
        task = asyncio.current_task()
        metrics = self.limits.metrics
        peer = writer.get_extra_info("peername") or ("", 0)
        admission = self._caps.admit(task, str(peer[0]))
        if admission.cap is not None:
            self._capped(admission.cap, admission.admitted, str(peer[0]))
        if not admission.admitted:
            writer.transport.abort()
            return
        if admission.closing is not None:
            admission.closing.cancel()  # it forgets itself as it ends
        self._connections.add(task)
        metrics.connections_open.inc()
        local = writer.get_extra_info("sockname") or ("", 0)
        source = Source(reader)
        loop = asyncio.get_running_loop()
        try:
            while self.alive:
                if not source.buffer:  # nothing pipelined: wait for the next request
                    self._idle.add(task)
                    try:
                        async with asyncio.timeout(self.limits.keepalive):
                            await source.more()
                    finally:
                        self._idle.discard(task)
                request = await self._read(source, writer, peer)
                if request is None:
                    break
                environ = self._environ(request, peer, local)
                self._caps.busy(task)  # not to be closed for another while it is answered
                pool = self._reads if request.method in READS else self._writes
                status, headers, body = await pool.run(loop, self._call, environ)
                close = not request.keep_alive or not self.alive
                headers.append(("Date", http_date()))
                writer.write(
                    encode_response(status, headers, body, request.method == "HEAD", close)
                )
                if writer.transport.get_write_buffer_size():  # else the socket took it whole
                    async with asyncio.timeout(self.limits.request_timeout):
                        await writer.drain()
                self._caps.waiting(task)
                if close:
                    break
        except (Closed, TimeoutError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            self._caps.release(task)
            metrics.connections_open.dec()
            writer.close()

    def _capped(self, cap: str, admitted: bool, client: str) -> None:
        """Count a connection closed or refused to keep ``cap``; log it, a line a second."""
        self.limits.metrics.connections_refused.labels(cap).inc()
        left_out = self._capped_log.admit()
        if left_out is None:
            return
        what = (
            f"{client_key(client)} over {self.limits.client_connections} connections per client"
            if cap == "per_client"
            else f"{self.limits.max_connections} connections in this process"
        )
        done = (
            f"closed a waiting connection to take one from {client}"
            if admitted
            else f"refused a connection from {client}: none waiting to close"
        )
        more = f" (and {left_out} more not logged)" if left_out else ""
        logger.warning("%s (%s)%s", done, what, more)

    async def _read(
        self, source: Source, writer: asyncio.StreamWriter, peer: tuple
    ) -> Request | None:
        """The next request, whole; None once a refusal has been answered (the connection is
        then closed: what follows in it cannot be trusted to be framed as the client meant)."""
        limits = self.limits
        try:
            async with asyncio.timeout(limits.request_timeout):
                request = await read_head(source)
                length = body_framing(request, limits.max_body)
                if length != 0 and request.headers.get("expect", "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                if length is None:
                    request.body = await read_chunked(source, limits.max_body)
                else:
                    request.body = await source.exactly(length)
            return request
        except Refused as refused:
            status, reason = refused.status, refused.reason
        except TimeoutError:
            status = 408
            reason = f"request not received in full within {limits.request_timeout:g} s"
        await self._refuse(source.reader, writer, status, reason, peer[0])
        return None

    async def _refuse(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        status: int,
        reason: str,
        client: str,
    ) -> None:
        """Answer ``status`` with its reason in JSON, then close without cutting the answer
        off: stop sending, and drop what the client still sends for a moment."""
        if self.limits.on_refusal is not None:
            self.limits.on_refusal(status, reason, client)
        headers = [_JSON, *self.limits.headers, ("Date", http_date())]
        line = f"{status} {HTTPStatus(status).phrase}"
        body = json.dumps({"error": reason}).encode()
        writer.write(encode_response(line, headers, body, False, True))
        try:
            async with asyncio.timeout(1.0):
                await writer.drain()
                writer.write_eof()
                while await reader.read(65536):
                    pass
        except (TimeoutError, ConnectionError, OSError):
            pass

    def _environ(self, request: Request, peer: tuple, local: tuple) -> dict:
        """The WSGI environ of a complete request (PEP 3333). The body is de-chunked, so there
        is a ``CONTENT_LENGTH`` and no ``Transfer-Encoding``; a header whose name has ``_``
        is dropped (it would pass for its ``-`` twin)."""
        target, host = request.target, None
        if not target.startswith("/"):  # absolute-form: its authority is the host (RFC 9112)
            authority, _, rest = target.partition("://")[2].partition("/")
            target, host = "/" + rest, authority
        path, _, query = target.partition("?")
        environ = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": str(local[0]),
            "SERVER_PORT": str(local[1]),
            "SERVER_PROTOCOL": f"HTTP/{request.version}",
            "REMOTE_ADDR": str(peer[0]),
            "REMOTE_PORT": str(peer[1]),
            "CONTENT_LENGTH": str(len(request.body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(request.body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": self.cfg.workers > 1,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }
        for name, value in request.headers.items():
            if "_" in name or name in ("content-length", "transfer-encoding"):
                continue
            key = name.upper().replace("-", "_")
            environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
        if host is not None:
            environ["HTTP_HOST"] = host
        return environ

    def _call(self, environ: dict) -> tuple[str, list[tuple[str, str]], bytes]:
        """Run the app on ``environ`` (in a thread): its status, headers and whole body, or a
        500 without details if it fails."""
        started: list = []
        chunks: list[bytes] = []

        def start_response(status, headers, exc_info=None):
            if started and exc_info is None:
                raise AssertionError("start_response called twice without exc_info")
            started[:] = [status, list(headers)]
            return chunks.append

        try:
            result = self.wsgi(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            if not started:
                raise RuntimeError("the app returned without calling start_response")
            return started[0], started[1], b"".join(chunks)
        except Exception:
            logger.exception("%s %s failed", environ["REQUEST_METHOD"], environ["PATH_INFO"])
            body = json.dumps({"error": "500 Internal Server Error"}).encode()
            return "500 Internal Server Error", [_JSON, *self.limits.headers], body


def serve(
    app: Callable,
    host: str,
    port: int,
    workers: int,
    threads: int,
    limits: Limits,
    server: str = "buffered",
    on_fork: Callable[[], object] | None = None,
) -> None:
    """Serve ``app`` with gunicorn: ``workers`` processes, ``threads`` threads each running the
    app (``buffered``: that many for reads and as many for other requests). ``server``:
    ``buffered`` (BufferingWorker with ``limits``) or ``gthread``. ``on_fork`` is called in
    each server process as it starts (the kiosk connects it to the broker then)."""
    from gunicorn.app.base import BaseApplication

    worker = type("KioskWorker", (BufferingWorker,), {"limits": limits})
    settings = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": worker if server == "buffered" else "gthread",
        "keepalive": int(limits.keepalive),
        "graceful_timeout": 10,
        "limit_request_line": 4094,
        "limit_request_fields": 50,
        "accesslog": None,
        "proc_name": "kiosk",
        "child_exit": lambda _arbiter, child: limits.metrics.process_gone(child.pid),
    }
    if on_fork is not None:
        settings["post_fork"] = lambda _arbiter, _worker: on_fork()

    class _Server(BaseApplication):
        def load_config(self):
            for name, value in settings.items():
                self.cfg.set(name, value)

        def load(self):
            return app

    _Server().run()
