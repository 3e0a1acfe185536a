"""The replay server: a scenario's posts served in each platform's own format on 127.0.0.1.

Spiders cannot tell it from the real platforms: same paths (under a per-platform prefix,
``base_url_for(platform)``), same field names and nesting, same paging. Each platform's own
replay module (``PlatformSpec.replay``, found through the registry) answers its paths. A post is served
only once the scenario clock has reached its ``created_at``, so a crawl during a replay
sees a crisis unfold. Faults (429 storms, malformed or truncated bodies, invalid UTF-8,
padding to several MB, hanging responses) can be injected per path for tests, and every
request is logged so tests can check what a spider asked for and when.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from collections.abc import Callable

from crisiswatch.core.config import SourceConfig
from crisiswatch.core.replay import Catalog, Reply
from crisiswatch.core.scenario import Scenario
from scenarios.platforms import hook, replay_module, replayable
from scenarios.replay.clock import ScenarioClock
from scenarios.replay.streaming import Streams

log = logging.getLogger(__name__)
DEFAULT_ROBOTS = "User-agent: *\nDisallow: /rss/private/\n"


@dataclass
class Fault:
    """Something to do instead of (or to) the normal answer for requests matching ``path``.

    kind: ``status`` (answer ``status`` with ``headers``), ``body`` (send ``body`` as it is),
    ``truncate`` (announce the full length, send half, close), ``cut`` (send the first half
    as if it were all: the HTTP layer cannot tell), ``utf8`` (put an invalid byte
    into the body, at ``body`` if given), ``pad`` (make a valid body ``size`` bytes long), ``hang`` (wait
    ``seconds`` before answering). ``times`` = how many requests it hits (None = all).
    """

    path: str
    kind: str
    times: int | None = None
    status: int = 429
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    size: int = 5 * 1024 * 1024
    seconds: float = 30.0
    hits: int = 0

    def applies(self, path_and_query: str) -> bool:
        return re.search(self.path, path_and_query) is not None and (self.times is None or self.hits < self.times)


@dataclass
class LoggedRequest:
    at: float
    method: str
    path: str
    status: int
    headers: dict[str, str]


class ReplayServer:
    """``with ReplayServer(scenario, speedup=60) as server:`` ... ``server.source_configs()``."""

    def __init__(self, scenario: Scenario, host: str = "127.0.0.1", port: int = 0, speedup: float = 1.0,
                 clock_start: datetime | None = None):
        self.scenario = scenario
        self.clock = ScenarioClock(clock_start or scenario.start, speedup)
        self.catalog = Catalog(scenario)
        self.faults: list[Fault] = []
        self.requests: list[LoggedRequest] = []
        self.robots_txt = DEFAULT_ROBOTS
        self._lock = threading.Lock()
        self._handlers: dict[str, Callable[..., Reply] | None] = {}
        self.streams = Streams(self.catalog, self.clock, host)
        """Mastodon streaming and Bluesky Jetstream (``scenarios.replay.streaming``)."""
        self._httpd = _QuietServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        host = self._httpd.server_address[0]
        return f"http://{host}:{self.port}"

    def base_url_for(self, platform: str) -> str:
        return f"{self.base_url}/{platform}"

    def start(self) -> "ReplayServer":
        # Some replayed platforms want credentials like the real ones (Reddit's app id); give
        # crawls started from this process (demo, tests, Airflow in-process) their fake ones.
        for platform in replayable():
            for name, value in (hook(platform, "ENVIRONMENT") or {}).items():
                os.environ.setdefault(name, value)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="replay-server", daemon=True)
        self._thread.start()
        self.streams.start()
        return self

    def stop(self) -> None:
        self.streams.stop()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "ReplayServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- test helpers ------------------------------------------------------------------
    def add_fault(self, path: str, kind: str, **options: Any) -> Fault:
        fault = Fault(path=path, kind=kind, **options)
        with self._lock:
            self.faults.append(fault)
        return fault

    def source_configs(self, **overrides: Any) -> list[SourceConfig]:
        """A source per platform of the scenario, pointed at this server (fast politeness)."""
        return [SourceConfig(**{**spec, **overrides}) for spec in default_sources(self.catalog, self.base_url_for)]

    def requests_to(self, pattern: str) -> list[LoggedRequest]:
        return [r for r in list(self.requests) if re.search(pattern, r.path)]

    # ---- HTTP --------------------------------------------------------------------------
    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.applies(path):
                    fault.hits += 1
                    return fault
        return None

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = urlsplit(path)
        if parts.path == "/robots.txt":
            return Reply(200, self.robots_txt.encode(), "text/plain; charset=utf-8")
        segments = parts.path.lstrip("/").split("/", 1)
        handler = self._handler(segments[0])
        if handler is None:
            return Reply.json({"error": "not found"}, status=404)
        query = {k: v for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        host = headers.get("host", f"127.0.0.1:{self.port}")
        return handler(self.catalog, self.clock.now(), method, "/" + (segments[1] if len(segments) > 1 else ""),
                       query, headers, body, f"http://{host}/{segments[0]}")

    def _handler(self, platform: str) -> Callable[..., Reply] | None:
        """The platform's ``handle`` (None: not a registered platform with a replay module)."""
        if platform not in self._handlers:
            try:
                handler = hook(platform, "handle")
            except LookupError:  # unknown platform (ExtensionError) or no replay module
                handler = None
            self._handlers[platform] = handler
        return self._handlers[platform]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                log.debug("replay: " + format, *args)

            def do_GET(self) -> None:  # noqa: N802
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                if method == "GET" and server.streams.mastodon_route(self.path):
                    server.requests.append(LoggedRequest(time.monotonic(), method, self.path, 200, headers))
                    server.streams.serve_mastodon(self, self.path)
                    return
                fault = server._take_fault(self.path)
                if fault is not None and fault.kind == "hang":
                    time.sleep(fault.seconds)
                if fault is not None and fault.kind == "status":
                    reply = Reply(fault.status, fault.body or b'{"error": "injected"}', "application/json",
                                  dict(fault.headers))
                else:
                    try:
                        reply = server._answer(method, self.path, headers, body)
                    except Exception as exc:  # noqa: BLE001 - a bug here must show as a 500, not a hang
                        log.exception("replay handler failed for %s", self.path)
                        reply = Reply.json({"error": str(exc)}, status=500)
                    reply = apply_body_fault(reply, fault)
                server.requests.append(LoggedRequest(time.monotonic(), method, self.path, reply.status, headers))
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if fault is not None and fault.kind == "truncate":
                    self.wfile.write(reply.body[: len(reply.body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(reply.body)

        return Handler


class _QuietServer(ThreadingHTTPServer):
    """A client that gives up (a timeout test) is normal here, not a traceback on stderr."""

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def apply_body_fault(reply: Reply, fault: Fault | None) -> Reply:
    if fault is None:
        return reply
    if fault.kind == "body":
        return Reply(reply.status if reply.status != 200 else 200, fault.body, reply.content_type, reply.headers)
    if fault.kind == "cut":
        return Reply(reply.status, reply.body[: len(reply.body) // 2], reply.content_type, reply.headers)
    if fault.kind == "utf8":
        return Reply(reply.status, _break_utf8(reply.body, fault.body), reply.content_type, reply.headers)
    if fault.kind == "pad":
        return Reply(reply.status, _pad(reply.body, reply.content_type, fault.size), reply.content_type, reply.headers)
    return reply


def _break_utf8(body: bytes, marker: bytes = b"") -> bytes:
    """Overwrite one byte inside the text with 0xFF (never valid UTF-8): the first byte of
    ``marker`` if given and present, else of the first multi-byte character."""
    start = body.find(marker) if marker else -1
    if start < 0:
        match = re.search(rb"[\xc2-\xf4][\x80-\xbf]+", body)
        start = match.start() if match else len(body) // 2
    return body[:start] + b"\xff" + body[start + 1:]


def _pad(body: bytes, content_type: str, size: int) -> bytes:
    """Grow a body to ``size`` bytes without changing what it means (whitespace or a comment)."""
    missing = max(0, size - len(body))
    if "json" in content_type:
        return body + b" " * missing
    if "xml" in content_type or "html" in content_type:
        head, sep, rest = body.partition(b">")
        if body.startswith(b"<?xml"):
            return head + sep + b"\n<!--" + b"x" * missing + b"-->" + rest
        return body.replace(b"<body", b"<!--" + b"x" * missing + b"--><body", 1)
    return body + b" " * missing


def default_sources(catalog: Catalog, base_url_for: Callable[[str], str]) -> list[dict[str, Any]]:
    """Source configs (as dicts) collecting every platform of the scenario from the server;
    each platform's replay module says what to target (``source``)."""
    specs = []
    for platform in catalog.platforms():
        try:
            module = replay_module(platform)
        except LookupError:
            module = None
        if module is None or not hasattr(module, "source"):
            continue
        spec = {"name": f"replay-{platform}", "platform": platform, "base_url": base_url_for(platform),
                "concurrency": 4, "download_delay_s": 0.0, "max_pages": 1000, "schedule": "5m"}
        spec.update(module.source(catalog, base_url_for(platform)))
        specs.append(spec)
    return specs
