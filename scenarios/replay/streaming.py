"""The replay's streaming endpoints: Mastodon streaming (server-sent events) and Bluesky
Jetstream (WebSocket), in the platforms' own formats, publishing each post at its instant.

Mastodon (``/mastodon/api/v1/streaming/public``, ``/public/local``, ``/hashtag?tag=``,
``/hashtag/local?tag=`` on the replay's HTTP port): ``text/event-stream``, each new status as
``event: update`` with the Status JSON (the REST timelines' own rendering) on one ``data:``
line, and a ``:thump`` comment as heartbeat. Like Mastodon, a connection gets only what is
published after it opened: the client backfills the gap through the REST timeline.

Jetstream (``ws://127.0.0.1:<jetstream port>/subscribe?wantedCollections=app.bsky.feed.post
[&cursor=<time_us>]``, its own port as the real service is its own host): one JSON text
message per commit, ``{did, time_us, kind: "commit", commit: {rev, operation: "create",
collection, rkey, record, cid}}``, the record exactly as the AppView shows it. Without a cursor
the stream starts live; with one it replays every event from that ``time_us`` on, then goes live.

A post is published when the scenario clock reaches its ``created_at``; with a clock at
``speedup=1`` that is real time, which is what ``bench/alert_latency.py`` measures against.
Tests inject faults: ``drop_after`` (close the connection after N more events, once per
call) and ``inject`` (send a raw, usually malformed, event next).
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from crisiswatch.core.model import Post
from crisiswatch.core.replay import Catalog
from scenarios.platforms import hook

log = logging.getLogger(__name__)
POLL_S = 0.02
"""How often a stream looks for newly published posts (its publication delay, at most)."""


class Faults:
    """Per-platform stream faults for tests: drop a connection, inject raw events."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.drops: dict[str, int] = {}
        self.raw: dict[str, deque[str]] = {}
        self.connections: dict[str, int] = {}

    def drop_after(self, platform: str, events: int) -> None:
        with self._lock:
            self.drops[platform] = events

    def inject(self, platform: str, raw: str) -> None:
        with self._lock:
            self.raw.setdefault(platform, deque()).append(raw)

    def take_raw(self, platform: str) -> list[str]:
        with self._lock:
            queue = self.raw.get(platform)
            out = list(queue) if queue else []
            if queue:
                queue.clear()
            return out

    def take_drop(self, platform: str) -> int | None:
        with self._lock:
            return self.drops.pop(platform, None)

    def connected(self, platform: str) -> None:
        with self._lock:
            self.connections[platform] = self.connections.get(platform, 0) + 1


# ---- Mastodon streaming (server-sent events) -------------------------------------------
MASTODON_STREAMS = {"/api/v1/streaming/public": "public", "/api/v1/streaming/public/local": "public",
                    "/api/v1/streaming/hashtag": "hashtag", "/api/v1/streaming/hashtag/local": "hashtag"}


def mastodon_filter(path: str, query: dict[str, list[str]]) -> Callable[[Post], bool] | None:
    """Which posts a Mastodon stream carries; raises KeyError for an unknown stream."""
    kind = MASTODON_STREAMS[path]
    if kind == "hashtag":
        tag = "#" + unquote((query.get("tag") or [""])[0]).lower().lstrip("#")
        return lambda post: tag in post.text.lower()  # the REST hashtag timeline's own rule
    return lambda post: True


class Streams:
    """Both streaming endpoints of one replay server (started and stopped with it)."""

    def __init__(self, catalog: Catalog, clock: Any, host: str = "127.0.0.1", heartbeat_s: float = 15.0):
        self.catalog, self.clock, self.host = catalog, clock, host
        self.heartbeat_s = heartbeat_s
        self.faults = Faults()
        self._stop = threading.Event()
        self._jetstream: Any = None
        self._jetstream_thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        if "bluesky" not in self.catalog.posts:
            return
        from websockets.sync.server import serve

        self._jetstream = serve(self._jetstream_connection, self.host, 0, compression=None)
        self._jetstream_thread = threading.Thread(target=self._jetstream.serve_forever, name="replay-jetstream",
                                                  daemon=True)
        self._jetstream_thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._jetstream is not None:
            self._jetstream.shutdown()

    @property
    def jetstream_url(self) -> str | None:
        if self._jetstream is None:
            return None
        host, port = self._jetstream.socket.getsockname()[:2]
        return f"ws://{host}:{port}/subscribe"

    def _new_since(self, platform: str, start: int, where: Callable[[Post], bool] | None) -> tuple[list[Post], int]:
        """Posts of ``platform`` published (by the clock) at index >= ``start``; the next index."""
        now = self.clock.now().timestamp()
        posts = self.catalog.posts.get(platform, [])
        end = bisect.bisect_right(self.catalog.times.get(platform, []), now)
        chosen = posts[start:end]
        return ([p for p in chosen if where(p)] if where else chosen), max(start, end)

    # ---- Mastodon ----------------------------------------------------------------------
    def mastodon_route(self, path: str) -> bool:
        parts = urlsplit(path)
        return parts.path.startswith("/mastodon/api/v1/streaming/")

    def serve_mastodon(self, handler: Any, path: str) -> None:
        """Answer one streaming request on ``handler`` (a BaseHTTPRequestHandler) until the
        client goes away, the server stops or a fault drops it."""
        parts = urlsplit(path)
        stream_path = parts.path.removeprefix("/mastodon")
        query = parse_qs(parts.query, keep_blank_values=True)
        if stream_path == "/api/v1/streaming/health":
            _answer(handler, 200, "text/plain", b"OK")
            return
        try:
            where = mastodon_filter(stream_path, query)
        except KeyError:
            _answer_error(handler, 400, "Unknown stream type")
            return
        if self.catalog.options.get("mastodon_timelines_access", "public") != "public":
            _answer_error(handler, 401, "This method requires an authenticated user")
            return
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-store")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(b":)\n")  # what Mastodon's streaming server sends first
        handler.wfile.flush()
        self.faults.connected("mastodon")
        render = hook("mastodon", "render_status")
        host = handler.headers.get("Host", self.host)
        _, index = self._new_since("mastodon", 0, None)  # only what is published from now on
        drop = self.faults.take_drop("mastodon")
        last_beat = time.monotonic()
        try:
            while not self._stop.is_set():
                drop = self.faults.take_drop("mastodon") if drop is None else drop
                for raw in self.faults.take_raw("mastodon"):
                    handler.wfile.write(raw.encode("utf-8"))
                posts, index = self._new_since("mastodon", index, where)
                for post in posts:
                    if drop is not None and drop <= 0:
                        return
                    data = json.dumps(render(self.catalog, post, host), ensure_ascii=False)
                    handler.wfile.write(f"event: update\ndata: {data}\n\n".encode("utf-8"))
                    if drop is not None:
                        drop -= 1
                if time.monotonic() - last_beat >= self.heartbeat_s:
                    handler.wfile.write(b":thump\n")
                    last_beat = time.monotonic()
                handler.wfile.flush()
                if drop is not None and drop <= 0:
                    return
                self._stop.wait(POLL_S)
        except (BrokenPipeError, ConnectionResetError, OSError):
            return  # the client went away

    # ---- Jetstream ---------------------------------------------------------------------
    def jetstream_event(self, post: Post) -> dict[str, Any]:
        uri = hook("bluesky", "uri_of")(post)
        did, collection, rkey = uri.removeprefix("at://").split("/", 2)
        view = hook("bluesky", "post_view")(self.catalog, post)
        time_us = int(post.created_at.timestamp() * 1_000_000)
        return {"did": did, "time_us": time_us, "kind": "commit",
                "commit": {"rev": rkey, "operation": "create", "collection": collection, "rkey": rkey,
                           "record": view["record"], "cid": view["cid"]}}

    def _jetstream_connection(self, websocket: Any) -> None:
        parts = urlsplit(websocket.request.path)
        query = parse_qs(parts.query)
        wanted = set(query.get("wantedCollections", []))
        if parts.path != "/subscribe":
            websocket.close(1008, "unknown path")
            return
        self.faults.connected("bluesky")
        times = self.catalog.times.get("bluesky", [])
        cursor = (query.get("cursor") or [None])[0]
        if cursor:  # replay from that instant (microseconds), then live
            index = bisect.bisect_left(times, int(cursor) / 1_000_000)
        else:
            index = bisect.bisect_right(times, self.clock.now().timestamp())
        drop = self.faults.take_drop("bluesky")
        collections_ok = not wanted or "app.bsky.feed.post" in wanted
        try:
            while not self._stop.is_set():
                drop = self.faults.take_drop("bluesky") if drop is None else drop
                for raw in self.faults.take_raw("bluesky"):
                    websocket.send(raw)
                new, index = self._new_since("bluesky", index, None)
                for post in new if collections_ok else []:
                    if drop is not None and drop <= 0:
                        websocket.close()
                        return
                    websocket.send(json.dumps(self.jetstream_event(post), ensure_ascii=False))
                    if drop is not None:
                        drop -= 1
                if drop is not None and drop <= 0:
                    websocket.close()
                    return
                self._stop.wait(POLL_S)
        except Exception:  # noqa: BLE001 - ConnectionClosed and friends: the client went away
            return


def stream_sources(server: Any, **overrides: Any) -> list[dict[str, Any]]:
    """Source configs (dicts) that follow the replay's streams (``mode: stream``)."""
    specs = []
    if "mastodon" in server.catalog.posts:
        specs.append({"name": "stream-mastodon", "platform": "mastodon", "base_url": server.base_url_for("mastodon"),
                      "targets": {"timelines": ["public"]}, "mode": "stream", "schedule": "5m",
                      "concurrency": 4, "download_delay_s": 0.0, "max_pages": 1000})
    if "bluesky" in server.catalog.posts and server.streams.jetstream_url:
        specs.append({"name": "stream-bluesky", "platform": "bluesky", "base_url": server.base_url_for("bluesky"),
                      "targets": {}, "mode": "stream", "schedule": "5m",
                      "options": {"jetstream_url": server.streams.jetstream_url},
                      "concurrency": 4, "download_delay_s": 0.0, "max_pages": 1000})
    return [{**spec, **overrides} for spec in specs]


def _answer(handler: Any, status: int, content_type: str, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _answer_error(handler: Any, status: int, message: str) -> None:
    """An error as Mastodon answers it: ``{"error": message}``."""
    _answer(handler, status, "application/json; charset=utf-8", json.dumps({"error": message}).encode())
