"""Loopback HTTP fakes for the source tests.

``fake_http`` is a real ``ThreadingHTTPServer`` on 127.0.0.1 (function scope): register replies
with ``fake_http.route(method, path, status=200, body=..., headers=..., delay_s=0, stall_s=0)``
and read what arrived in ``fake_http.calls``. ``delay_s`` sleeps before the status line (a slow
server), ``stall_s`` sends the headers and part of the body then stalls (a server that hangs
mid-answer). ``refused_url`` is a loopback URL where nothing listens.
"""
from __future__ import annotations

import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from plugins._servers import free_port


@dataclasses.dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    delay_s: float = 0.0
    stall_s: float = 0.0


@dataclasses.dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class FakeHttp:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Reply | Callable[[Call], Reply]] = {}
        self.calls: list[Call] = []
        self._stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                call = Call(self.command, parts.path, parse_qs(parts.query), dict(self.headers),
                            self.rfile.read(length) if length else b"")
                fake.calls.append(call)
                reply = fake.routes.get((self.command, parts.path), Reply(404, b'{"error":"no route"}'))
                if callable(reply):
                    reply = reply(call)
                if reply.delay_s:
                    fake._stop.wait(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": "application/json", **reply.headers}
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if reply.stall_s:
                        self.wfile.write(reply.body[: len(reply.body) // 2])
                        self.wfile.flush()
                        fake._stop.wait(reply.stall_s)
                        return
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_HEAD = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def route(self, method: str, path: str, status: int = 200, body: Any = b"", headers: dict[str, str] | None = None,
              delay_s: float = 0.0, stall_s: float = 0.0) -> None:
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.routes[(method.upper(), path)] = Reply(status, body, dict(headers or {}), delay_s, stall_s)

    def start(self) -> "FakeHttp":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_http():
    fake = FakeHttp().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def refused_url() -> str:
    """A loopback URL with nothing listening (connection refused)."""
    return f"http://127.0.0.1:{free_port()}"


