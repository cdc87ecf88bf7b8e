"""The HTTP plumbing shared by the loopback provider fakes: a real socket on 127.0.0.1, a serving thread,
a request log and queued failures/delays, so each fake only says how its provider answers a request.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self, cast


@dataclass(frozen=True)
class Reply:
    """One response: `payload` is sent as JSON (no body when None), `headers` after Content-Type."""

    status: int
    payload: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: LoopbackServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out hang up before a delayed response is written; that is the point, not a bug.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        cast(_Server, self.server).fake._dispatch(self, "GET")

    def do_POST(self) -> None:
        cast(_Server, self.server).fake._dispatch(self, "POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LoopbackServer(ABC):
    """A thread-safe fake HTTP API behind a real socket; subclasses implement `_route`.

    Subclasses set up their own state before calling `super().__init__`, which starts serving. They guard
    that state with `self._lock`, the lock that also guards `requests` and the queues.
    """

    content_type: ClassVar[str] = "application/json"

    def __init__(self, thread_name: str) -> None:
        self._lock = threading.Lock()
        self._failures: list[Reply] = []
        self._outage: Reply | None = None
        self._delays: list[float] = []
        self._closing = threading.Event()
        self.requests: list[tuple[str, str]] = []  # (method, path?query) of every request, for assertions
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=thread_name, daemon=True
        )
        self._thread.start()

    # -- control -------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def delay_next_response(self, seconds: float) -> None:
        """The next request is fully processed (whatever it creates is recorded) but its response is held back."""
        with self._lock:
            self._delays.append(seconds)

    def _fail_next_with(self, reply: Reply) -> None:
        """The next request (any method) gets `reply` without being routed, so nothing is recorded."""
        with self._lock:
            self._failures.append(reply)

    def _go_down_with(self, reply: Reply) -> None:
        """Every request gets `reply`, unrecorded, until `come_back` (a provider outage)."""
        with self._lock:
            self._outage = reply

    def come_back(self) -> None:
        with self._lock:
            self._outage = None

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()  # wakes delayed handlers so they don't outlive the test
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- request handling ----------------------------------------------------------------------------------

    @abstractmethod
    def _route(self, handler: BaseHTTPRequestHandler, method: str, body: bytes) -> Reply:
        """Answer one request that no queued failure pre-empted."""

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append((method, handler.path))
            delay = self._delays.pop(0) if self._delays else 0.0
            failure = self._failures.pop(0) if self._failures else self._outage
        reply = failure if failure is not None else self._route(handler, method, body)
        if delay:
            self._closing.wait(delay)
        data = b"" if reply.payload is None else json.dumps(reply.payload).encode("utf-8")
        try:
            handler.send_response(reply.status)
            if data:
                handler.send_header("Content-Type", self.content_type)
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass  # client gave up (read timeout) before the delayed response
