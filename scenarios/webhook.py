"""A team's webhook on loopback: a real HTTP server that records what notifications reach it.

One receiver for the tests, the delivery and latency benchmarks: it notes the arrival time, path,
headers and JSON body of every POST, and can answer 500, hang or answer slowly on demand, so
outages and slow channels are exercised against a real socket.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IDEMPOTENCY_HEADER = "x-crisiswatch-idempotency-key"
"""``alerts.notify.IDEMPOTENCY_HEADER`` as the receiver keys it (lower case); written out here
because a component (``scenarios``) imports only the core, not another component."""


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: dict
    """The JSON body; a body that is not JSON is kept as ``{"raw": text}``."""
    at: float = 0.0
    """Wall-clock time (epoch seconds) the request arrived."""


@dataclass
class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that records JSON posts; can refuse or hang on demand."""

    mode: str = "ok"
    """ok (200), error (500) or hang (read the request, never answer until released)."""
    port: int = 0
    received: list[Received] = field(default_factory=list)
    """Messages answered 200."""
    attempts: list[Received] = field(default_factory=list)
    """Every request, whatever the answer."""
    release: threading.Event = field(default_factory=threading.Event)
    delay: float = 0.0
    """Seconds to wait before answering (a slow receiver that does get the message)."""

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                at = time.time()
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                item = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, at)
                receiver.attempts.append(item)
                if receiver.delay:
                    time.sleep(receiver.delay)
                if receiver.mode == "hang":
                    receiver.release.wait(30)
                    return
                if receiver.mode == "error":
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.received.append(item)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port or 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def keys(self) -> list[str]:
        """Idempotency keys of the messages received (answered 200), in order."""
        return [r.headers.get(IDEMPOTENCY_HEADER, "") for r in self.received]

    def on(self, path: str) -> list[Received]:
        """Messages received on ``path`` (query string ignored), in order of arrival."""
        return [r for r in list(self.received) if r.path.split("?")[0] == path]

    def first(self, path: str) -> float | None:
        """When the first message on ``path`` arrived (epoch seconds), or None."""
        times = [r.at for r in self.on(path)]
        return min(times) if times else None

    def wait_for(self, count: int, timeout: float = 10.0, attempts: bool = False) -> None:
        deadline = time.time() + timeout
        while len(self.attempts if attempts else self.received) < count and time.time() < deadline:
            time.sleep(0.05)
