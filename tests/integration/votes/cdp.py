"""Just enough of the Chrome DevTools Protocol to drive headless Chromium from a test: start it
with a fresh profile, open a page, evaluate JavaScript, take a screenshot."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import websocket

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """A headless Chromium process with one page on ``url`` (``flags``: more of Chromium's own,
    ``--host-resolver-rules=...`` say)."""

    def __init__(self, url: str, profile: Path, flags: tuple[str, ...] = ()):
        self.proc = subprocess.Popen(
            [
                chromium_path(),
                *FLAGS,
                *flags,
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",  # it picks a free port and writes it down
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.port = self._wait_for_port(profile / "DevToolsActivePort")
        target = self._wait_for_json(f"/json/new?{url}", method="PUT")
        self.ws = websocket.create_connection(
            target["webSocketDebuggerUrl"], timeout=20, suppress_origin=True
        )
        self._id = 0

    def _wait_for_port(self, path: Path, timeout: float = 30) -> int:
        """The port Chromium chose, from the file it writes into its profile."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return int(path.read_text().splitlines()[0])
            except (OSError, IndexError, ValueError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise AssertionError("Chromium did not open its DevTools port") from None
                time.sleep(0.1)

    def _wait_for_json(self, path: str, method: str = "GET", timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{self.port}{path}", method=method
                )
                with urllib.request.urlopen(request, timeout=5) as reply:
                    return json.loads(reply.read())
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.2)

    def call(self, method: str, **params) -> dict:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression}")
            time.sleep(0.2)

    def navigate(self, url: str) -> None:
        """Load ``url`` in the page (from scratch: by way of about:blank, so a URL differing
        only in its fragment loads the page again rather than scrolling it)."""
        for address in ("about:blank", url):
            self.call("Page.navigate", url=address)
            page = json.dumps(address.partition("#")[0])  # the page may change its fragment
            self.wait_for(
                f"location.href.split('#')[0] === {page} && document.readyState === 'complete'"
            )

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
