"""A real OpenAI-compatible HTTP server for the tests, with faults injected on demand.

It answers ``POST /v1/chat/completions`` (and ``/chat/completions``) on 127.0.0.1 at an
ephemeral port, records every request, counts attempts and the most requests in flight at once,
and applies queued faults to the next requests in order: a slow answer, an HTTP status with
headers, a truncated body, a body that is not JSON, a dropped connection.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Fault:
    """What to do to one request instead of (or before) answering it normally.

    kind: ``slow`` (sleep ``delay`` s, then answer), ``status`` (reply ``status`` with
    ``headers`` and ``body``), ``truncated`` (promise more bytes than sent, then hang up),
    ``garbage`` (200 with a body that is not JSON), ``drop`` (close without a reply).
    """

    kind: str
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: str = '{"error": {"message": "injected fault", "type": "server_error"}}'
    delay: float = 0.0


def echo_last_user(body: dict[str, Any]) -> str:
    """Default answer: a JSON object quoting the last user message."""
    users = [m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"]
    return json.dumps({"echo": users[-1] if users else ""})


class ChatServer:
    """Start with :meth:`start` (or ``with``); ``url`` is the base URL to give the client."""

    def __init__(self) -> None:
        self.faults: deque[Fault] = deque()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.arrivals: list[float] = []
        self.attempts = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay = 0.0  # seconds every normal answer takes (for concurrency tests)
        self.reject_json_schema = False  # answer 400 to response_format json_schema
        self.reject_json_object_schema = False  # answer 400 to json_object carrying a schema
        self.reply: Callable[[dict[str, Any]], str] = echo_last_user
        self.usage = {"prompt_tokens": 11, "completion_tokens": 7}
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def queue(self, *faults: Fault) -> None:
        """Apply these faults to the next requests, one each, in order."""
        with self._lock:
            self.faults.extend(faults)

    def start(self) -> ChatServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                server._handle(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        # A client that gave up (timeout) leaves a broken pipe behind: not worth a traceback.
        self._httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length", 0)))
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {}
        with self._lock:
            self.attempts += 1
            self.requests.append(body)
            self.headers.append({k.lower(): v for k, v in h.headers.items()})
            self.arrivals.append(time.monotonic())
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            fault = self.faults.popleft() if self.faults else None
        released = False

        def release() -> None:
            # A request leaves the count before its answer is written: once written, the
            # client may send its next request before this thread runs again.
            nonlocal released
            if not released:
                released = True
                with self._lock:
                    self.in_flight -= 1

        h.release_request = release  # type: ignore[attr-defined]
        try:
            if not h.path.rstrip("/").endswith("/chat/completions"):
                self._send(h, 404, '{"error": {"message": "not found"}}')
            elif fault is None or fault.kind == "slow":
                time.sleep(fault.delay if fault else self.delay)
                self._answer(h, body)
            elif fault.kind == "status":
                self._send(h, fault.status, fault.body, fault.headers)
            elif fault.kind == "truncated":
                release()
                h.send_response(200)
                h.send_header("Content-Type", "application/json")
                h.send_header("Content-Length", "5000")
                h.end_headers()
                h.wfile.write(b'{"id": "chatcmpl-1", "choi')
                h.wfile.flush()
                h.connection.shutdown(socket.SHUT_RDWR)
            elif fault.kind == "garbage":
                self._send(h, 200, "<html>502 bad gateway</html>", {"Content-Type": "text/html"})
            elif fault.kind == "drop":
                release()
                h.connection.shutdown(socket.SHUT_RDWR)
            else:
                raise ValueError(f"unknown fault kind {fault.kind!r}")
        finally:
            release()

    def _answer(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        fmt = body.get("response_format") or {}
        if self.reject_json_schema and fmt.get("type") == "json_schema":
            self._send(
                h,
                400,
                json.dumps({"error": {"message": "response_format json_schema is not supported"}}),
            )
            return
        if self.reject_json_object_schema and fmt.get("type") == "json_object" and "schema" in fmt:
            self._send(
                h, 400, json.dumps({"error": {"message": "unknown field response_format.schema"}})
            )
            return
        answer = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "test-model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.reply(body)},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                **self.usage,
                "total_tokens": self.usage["prompt_tokens"] + self.usage["completion_tokens"],
            },
        }
        self._send(h, 200, json.dumps(answer))

    @staticmethod
    def _send(
        h: BaseHTTPRequestHandler, status: int, text: str, headers: dict[str, str] | None = None
    ) -> None:
        data = text.encode()
        getattr(h, "release_request", lambda: None)()
        h.send_response(status)
        headers = {"Content-Type": "application/json", **(headers or {})}
        for name, value in headers.items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


def closed_port_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
