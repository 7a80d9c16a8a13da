"""A TCP forwarder for tests: a port on 127.0.0.1 in front of a real server, whose connections a
test can refuse, cut or stall to play a broker outage without touching the broker itself."""

from __future__ import annotations

import socket
import threading
import time


class TcpProxy:
    """Forwards connections to ``127.0.0.1:<port>`` on to ``target``. While ``forwarding`` is
    False a new connection is closed as soon as it is accepted (the server looks down);
    ``cut()`` closes every connection open now (the server looks lost); while ``stalled`` is
    True nothing is passed on either way, and connections stay open (the server looks hung)."""

    def __init__(self, target: tuple[str, int], forwarding: bool = True):
        self.target = target
        self.forwarding = forwarding
        self.stalled = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, name="tcp-proxy", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.forwarding:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                while self.stalled and not self._closed:
                    time.sleep(0.01)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(source, sink)

    def _drop(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the pump blocked on the other side
            except OSError:
                pass
            sock.close()
            with self._lock:
                self._open.discard(sock)

    def cut(self) -> None:
        """Close every connection open now; new ones are still forwarded if ``forwarding``."""
        with self._lock:
            sockets = list(self._open)
        self._drop(*sockets)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.cut()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
