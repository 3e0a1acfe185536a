"""A loopback HTTP server answering a real ``scrapy crawl`` with recorded responses.

The replay server renders a scenario; this one serves fixture files as they are, so a test
can show that every post a response in the platform's real shape holds reaches the store
with the right fields. Routes are ``(method, path regex, answer)``; an answer is a ``Route``
(fixed) or a function of the request (to check cookies, pick a page, ...). The ``Date``
header can be pinned, because relative dates (``5分钟前``) are read against it. Requests
are recorded (method, path, headers, body) for the tests to check.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.crawlers.helpers import fixture


@dataclass
class Route:
    body: bytes | str = b""
    status: int = 200
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def file(cls, name: str, status: int = 200, content_type: str = "application/json; charset=utf-8",
             headers: dict[str, str] | None = None) -> "Route":
        return cls(fixture(name).read_bytes(), status, content_type, headers or {})


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Answer = Route | Callable[[Seen], Route]


class RecordedServer:
    def __init__(self, routes: list[tuple[str, str, Answer]], date: str | None = None):
        self.routes = [(method, re.compile(pattern), answer) for method, pattern, answer in routes]
        self.date = date
        self.requests: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def date_time_string(self, timestamp: float | None = None) -> str:
                return server.date or super().date_time_string(timestamp)

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                            self.rfile.read(length) if length else b"")
                server.requests.append(seen)
                route = server.answer(seen)
                body = route.body.encode("utf-8") if isinstance(route.body, str) else route.body
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _serve  # noqa: N815

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, seen: Seen) -> Route:
        if urlsplit(seen.path).path == "/robots.txt":
            return Route("User-agent: *\nAllow: /\n", content_type="text/plain")
        for method, pattern, answer in self.routes:
            if method == seen.method and pattern.search(seen.path):
                return answer(seen) if callable(answer) else answer
        return Route('{"error": "no recorded response for this path"}', status=404)

    def to(self, pattern: str) -> list[Seen]:
        return [r for r in self.requests if re.search(pattern, r.path)]

    def __enter__(self) -> "RecordedServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
