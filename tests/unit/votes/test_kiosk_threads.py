"""The kiosk server's threads for the app (``service.kiosk_server.Threads``), in-process: what
``loop.run_in_executor`` on a ThreadPoolExecutor gave the server, results, exceptions, at most
``size`` threads started only as calls need them, a cancelled wait, and an end."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from service.kiosk_server import Threads


def test_calls_run_on_the_threads_and_their_results_reach_the_loop():
    threads = Threads(4, "test-calls")

    async def run():
        loop = asyncio.get_running_loop()
        names = await asyncio.gather(
            *(
                threads.run(loop, lambda i: (i, threading.current_thread().name), i)
                for i in range(50)
            )
        )
        return names

    try:
        results = asyncio.run(run())
    finally:
        threads.shutdown()
    assert [i for i, _ in results] == list(range(50))
    assert {name for _, name in results} <= {f"test-calls_{n}" for n in range(4)}


def test_an_exception_reaches_the_loop_as_the_call_raised_it():
    threads = Threads(1, "test-raise")

    def fail(_argument):
        raise KeyError("no such thing")

    async def run():
        return await threads.run(asyncio.get_running_loop(), fail, None)

    try:
        with pytest.raises(KeyError, match="no such thing"):
            asyncio.run(run())
    finally:
        threads.shutdown()


def test_no_more_threads_than_size_and_none_before_a_call_needs_one():
    threads = Threads(3, "test-cap")
    running, most, lock = 0, 0, threading.Lock()

    def hold(_argument):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    async def run():
        loop = asyncio.get_running_loop()
        await threads.run(loop, hold, None)  # one call, one thread
        alone = {t.name for t in threading.enumerate() if t.name.startswith("test-cap")}
        await asyncio.gather(*(threads.run(loop, hold, None) for _ in range(12)))
        return alone

    try:
        alone = asyncio.run(run())
    finally:
        threads.shutdown()
    assert alone == {"test-cap_0"}
    assert most == 3


def test_a_cancelled_wait_leaves_the_thread_to_serve_the_next_call():
    threads = Threads(1, "test-cancel")
    release = threading.Event()

    async def run():
        loop = asyncio.get_running_loop()
        slow = asyncio.ensure_future(threads.run(loop, lambda _: release.wait(5), None))
        await asyncio.sleep(0.05)
        slow.cancel()
        release.set()
        return await asyncio.wait_for(threads.run(loop, lambda x: x * 2, 21), 5)

    try:
        assert asyncio.run(run()) == 42
    finally:
        threads.shutdown()


def test_shutdown_ends_every_thread():
    threads = Threads(2, "test-end")

    async def run():
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(threads.run(loop, time.sleep, 0.01) for _ in range(4)))

    asyncio.run(run())
    threads.shutdown()
    deadline = time.monotonic() + 5
    while any(t.name.startswith("test-end") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a thread outlived shutdown"
        time.sleep(0.01)
