"""The worker's results-writer child, kept running: a child that exits while the worker is not
stopping (killed by the OOM killer, SIGKILL, a crash) is logged with its exit code and started
again after a backoff (1 s doubling to 60 s, from 1 s again once a child has lived a minute),
so that the results cache does not go stale unnoticed, nor a writer that dies at once spin.

The life cycle is the worker's, as before: ``start`` with it, ``stop`` on the way out (the
child makes a last write). Recovery is a daemon thread's: the only one that waits on the child.
The child is told to stop by the worker closing a pipe, not by a multiprocessing Event: setting
an Event waits for the processes that were waiting on it to wake, and a killed one never does.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

from lib.votes.backoff import Backoff
from lib.votes.settings import VoteSettings
from service.results_writer import write_results_forever

logger = logging.getLogger(__name__)


class PipeStop:
    """The ``stop`` event ``write_results_forever`` waits on, in the child: set once the worker
    has closed its end of the pipe (or is gone)."""

    def __init__(self, reader: Connection):
        self._reader = reader

    def is_set(self) -> bool:
        return self._reader.poll()

    def wait(self, timeout: float | None = None) -> bool:
        return self._reader.poll(timeout)


class WriterSupervisor:
    """One results-writer child (``write_results_forever`` in a spawned process) at a time,
    restarted when it exits before ``stop``."""

    def __init__(
        self,
        settings: VoteSettings,
        backoff: Backoff | None = None,
        healthy_after: float = 60.0,
        target: Callable = write_results_forever,  # another in tests: (settings, stop, ppid)
        on_restart: Callable[[], None] | None = None,  # called once a child is started again
    ):
        self.settings = settings
        self.on_restart = on_restart
        self.target = target
        self.backoff = backoff or Backoff(first=1.0, cap=60.0)
        self.healthy_after = healthy_after  # seconds a child lives before the backoff resets
        self._context = multiprocessing.get_context("spawn")
        self._done = None  # the worker's end of the child's stop pipe: closed, the child stops
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # no child is started once stop has begun
        self._child = None
        self._started = 0.0
        self._watcher = threading.Thread(target=self._watch, name="writer-supervisor", daemon=True)

    def start(self) -> None:
        self._start_child()
        self._watcher.start()

    def stop(self, timeout: float = 30) -> None:
        """Tell the child to make its last write, and wait up to ``timeout`` seconds for it."""
        with self._lock:
            self._stopping.set()
            self._done.close()
        self._watcher.join(timeout)

    def _start_child(self) -> None:
        if self._done is not None:
            self._done.close()  # the last child's, gone
        reader, self._done = self._context.Pipe(duplex=False)
        child = self._context.Process(
            target=self.target,
            args=(self.settings, PipeStop(reader), os.getpid()),
            name="results-writer",
            daemon=True,
        )
        try:
            child.start()
        finally:
            reader.close()  # the child's now (or nobody's)
        self._child, self._started = child, time.monotonic()

    def _watch(self) -> None:
        while True:
            self._child.join()
            if self._stopping.is_set():
                return
            delay = self._next_delay()
            logger.error(
                "results writer (pid %d) exited with code %s; restarting it in %gs",
                self._child.pid,
                self._child.exitcode,
                delay,
            )
            if not self._restart(delay):
                return

    def _restart(self, delay: float) -> bool:
        """Start a new child after ``delay``; while that fails (no memory or process left to
        fork), again after the backoff's next delay. False if told to stop meanwhile."""
        while not self._stopping.wait(delay):
            with self._lock:
                if self._stopping.is_set():
                    return False
                try:
                    self._start_child()
                except OSError as exc:
                    delay = self.backoff.next()
                    logger.error("results writer not restarted: %s; next try in %gs", exc, delay)
                    continue
            logger.info("restarted the results writer (pid %d)", self._child.pid)
            if self.on_restart is not None:
                self.on_restart()
            return True
        return False

    def _next_delay(self) -> float:
        """The backoff's next delay, from its shortest again if the child had been healthy."""
        if time.monotonic() - self._started >= self.healthy_after:
            self.backoff.reset()
        return self.backoff.next()
