"""Real network trouble for the sync tests: a request counter, a faulty proxy, a failing server.

No mock of the server: the proxy forwards to the real ``songjiao serve`` and only loses, cuts or
garbles what a bad mobile network or a broken server would.
"""

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import requests

_HOP = {"host", "content-length", "connection", "transfer-encoding", "date", "server"}


class CountingSession(requests.Session):
    """A real ``requests.Session`` that remembers each request: (method, path, body bytes)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, int]] = []

    def send(self, request: requests.PreparedRequest, **kw: Any) -> requests.Response:
        body = request.body or b""
        self.sent.append((request.method or "", urlsplit(request.url).path, len(body)))
        return super().send(request, **kw)

    def methods(self) -> list[str]:
        return [method for method, _, _ in self.sent]

    def body_bytes(self) -> int:
        return sum(size for _, _, size in self.sent)


class Network(CountingSession):
    """The phone's network: counts what it sends; while ``up`` is False nothing gets out."""

    def __init__(self, up: bool = True) -> None:
        super().__init__()
        self.up = up

    def send(self, request: requests.PreparedRequest, **kw: Any) -> requests.Response:
        if not self.up:
            raise requests.ConnectionError("no signal")
        return super().send(request, **kw)


class FaultyProxy:
    """Forwards to ``upstream``; each armed fault hits the next matching request once.

    Faults: ``drop_response`` (forward, then close without answering: the request took effect
    and the reply was lost), ``cut_upload`` (read part of the body, then close: nothing reaches
    the server), ``status_500`` (answer 500 without forwarding), ``garbage`` (forward, then
    answer 200 with a body that is not JSON).
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def arm(self, fault: str, method: str, path_prefix: str) -> None:
        with self.lock:
            self.faults.append((fault, method, path_prefix))

    def take(self, method: str, path: str) -> str | None:
        with self.lock:
            for i, (fault, m, prefix) in enumerate(self.faults):
                if m == method and path.startswith(prefix):
                    del self.faults[i]
                    return fault
        return None

    def __enter__(self) -> "FaultyProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(proxy: FaultyProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            fault = proxy.take(self.command, self.path)
            if fault == "cut_upload":
                self.rfile.read(min(length, 4096))
                self._hang_up()
                return
            body = self.rfile.read(length) if length else b""
            if fault == "status_500":
                self._answer(500, b"Internal Server Error", "text/plain")
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            upstream = requests.request(
                self.command, proxy.upstream + self.path, data=body, headers=headers, timeout=60
            )
            if fault == "drop_response":
                self._hang_up()
            elif fault == "garbage":
                self._answer(200, b"<html>captive portal</html>", "application/json")
            else:
                ctype = upstream.headers.get("Content-Type", "application/octet-stream")
                self._answer(upstream.status_code, upstream.content, ctype)

        def _answer(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _hang_up(self) -> None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

        do_GET = do_POST = do_PUT = _relay

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def failing_server(status: int = 500) -> Iterator[str]:
    """A tiny HTTP server answering every request with ``status``; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _fail(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            body = b"Internal Server Error"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _fail

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
