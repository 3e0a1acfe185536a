"""Bluesky Jetstream: every new post on the network, matched against the watchlists here.

Jetstream (``wss://jetstream2.us-east.bsky.network/subscribe``, or ``options.jetstream_url``)
is a WebSocket of JSON commit events; the client asks only for
``wantedCollections=app.bsky.feed.post`` and matches each post's text against the
watchlists itself (Jetstream has no keyword filter). An event is
``{did, time_us, kind: "commit", commit: {rev, operation: "create", collection, rkey,
record: {$type, text, createdAt, langs, reply?}, cid}}``; identity and account events,
updates and deletes are not posts and are skipped.

Resume: the stream cursor is the ``time_us`` of the last event whose posts are stored; a
reconnection asks for ``cursor`` = that minus ``rewind_s`` (events near the cut are sent
again, which is safe: the post id is the record's at-uri, so a repeat is stored once).
Events are stored in micro-batches (``batch_s``) so a busy firehose costs one store write
and one cursor write per batch, not per event. No message for ``idle_timeout_s`` counts as a
dead connection.

Each commit becomes the AppView's post-view shape (``uri``, ``cid``, ``record``, ``author``,
``indexedAt`` from ``time_us``) and goes through ``BlueskySpider.view_to_post``, so a streamed
post is the same Post a crawl stores. Jetstream carries no handle, counts or follower numbers:
the author's handle is the DID (a bsky.app profile link accepts it) until a crawl or the
AppView fills them in.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from crawlers.stream import (Backoff, StreamIngest, StreamStats, advance_cursor, reconnect_until_stopped, saved_cursor,
                             spider_for)
from crisiswatch.core.model import Post
from crisiswatch.core.store.base import Store

log = logging.getLogger(__name__)
JETSTREAM_URL = "wss://jetstream2.us-east.bsky.network/subscribe"
POST_COLLECTION = "app.bsky.feed.post"
CURSOR_KEY = "jetstream"


def _iso(time_us: int) -> str:
    when = datetime.fromtimestamp(time_us / 1_000_000, tz=timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def event_view(event: dict[str, Any]) -> dict[str, Any]:
    """A Jetstream create-commit as the AppView's post view (what the spider reads)."""
    commit = event["commit"]
    did = event["did"]
    if not str(did).startswith("did:"):
        raise ValueError(f"did is not a DID: {did!r}")
    record = commit["record"]
    if not isinstance(record, dict):
        raise TypeError("commit.record is not an object")
    return {"uri": f"at://{did}/{commit['collection']}/{commit['rkey']}", "cid": commit.get("cid"),
            "author": {"did": did, "handle": did}, "record": record, "indexedAt": _iso(int(event["time_us"])),
            "replyCount": None, "repostCount": None, "likeCount": None, "quoteCount": None}


class Jetstream:
    def __init__(self, spider: Any, ingest: StreamIngest, store: Store, stop: threading.Event, url: str,
                 rewind_s: float, batch_s: float, idle_timeout_s: float):
        self.spider, self.ingest, self.store, self.stop = spider, ingest, store, stop
        self.url, self.rewind_us = url, int(rewind_s * 1_000_000)
        self.batch_s, self.idle_timeout_s = batch_s, idle_timeout_s
        self.pending: list[Post] = []
        self.pending_cursor: int | None = None
        self.last_time_us: int | None = None

    def subscribe_url(self) -> str:
        params: list[tuple[str, str]] = [("wantedCollections", POST_COLLECTION)]
        saved = saved_cursor(self.store, self.ingest.source, CURSOR_KEY)
        if saved is not None:
            params.append(("cursor", str(max(0, saved - self.rewind_us))))
        return f"{self.url}?{urlencode(params)}"

    def run(self) -> None:
        reconnect_until_stopped(self.connect_once, _describe, self.ingest, self.stop, "jetstream",
                                on_drop=self._forget_pending)

    def _forget_pending(self) -> None:
        self.pending, self.pending_cursor = [], None  # not stored: the rewound cursor fetches them again

    def connect_once(self, backoff: Backoff) -> None:
        with connect(self.subscribe_url(), open_timeout=10, close_timeout=2, compression=None,
                     max_size=2 ** 22, user_agent_header=f"crisiswatch/0.1 (+{self.spider.config.contact_url})") as ws:
            self.ingest.stats.connects += 1
            backoff.reset()
            last_message = time.monotonic()
            batch_started: float | None = None
            while not self.stop.is_set():
                try:
                    message = ws.recv(timeout=min(0.25, self.batch_s))
                except TimeoutError:
                    message = None
                now = time.monotonic()
                if message is not None:
                    last_message = now
                    self.handle(message)
                    if self.pending_cursor is not None and batch_started is None:
                        batch_started = now
                elif now - last_message > self.idle_timeout_s:
                    raise TimeoutError(f"no event for {self.idle_timeout_s:g} s")
                if batch_started is not None and now - batch_started >= self.batch_s:
                    self.flush()
                    batch_started = None
                self.ingest.maybe_record_health()
            self.flush()

    def handle(self, message: str | bytes) -> None:
        try:
            event = json.loads(message)
            if not isinstance(event, dict):
                raise ValueError("an event is a JSON object")
        except ValueError as exc:
            self.ingest.stats.events += 1
            self.ingest.malformed(f"jetstream: skipped a malformed event ({exc}): {str(message)[:80]!r}")
            return
        commit = event.get("commit")
        if event.get("kind") != "commit" or not isinstance(commit, dict) or commit.get("operation") != "create" \
                or commit.get("collection") != POST_COLLECTION:
            self.note_position(event)  # identity/account events, deletes, likes: nothing to collect
            return
        post = self.ingest.build(lambda: self.spider.view_to_post(event_view(event)), "jetstream", event)
        if post is None:
            self.note_position(event)
            return
        self.pending.append(post)
        self.note_position(event)

    def note_position(self, event: dict[str, Any]) -> None:
        value = event.get("time_us")
        if isinstance(value, int) and value > 0:
            self.pending_cursor = value if self.pending_cursor is None else max(self.pending_cursor, value)

    def flush(self) -> None:
        """Store the batch, then move the cursor past it (never before)."""
        if self.pending_cursor is None:
            return
        posts, cursor = self.pending, self.pending_cursor
        with self.ingest.write_lock:
            self.ingest.store_posts(posts)
            advance_cursor(self.store, self.ingest.source, CURSOR_KEY, cursor)
        self.pending, self.pending_cursor = [], None
        self.last_time_us = cursor


def follow_stream(source: str, config_path: str, store: Store, stop: threading.Event, on_stored=None,  # noqa: ANN001
                  rewind_s: float = 5.0, batch_s: float = 0.2, idle_timeout_s: float = 60.0,
                  health_every_s: float | None = None) -> StreamStats:
    """Follow Jetstream for a Bluesky source until ``stop`` is set."""
    spider = spider_for(source, config_path)
    ingest = StreamIngest(spider, store, on_stored, **({"health_every_s": health_every_s} if health_every_s else {}))
    url = str(spider.option("jetstream_url", JETSTREAM_URL))
    Jetstream(spider, ingest, store, stop, url, rewind_s, batch_s, idle_timeout_s).run()
    ingest.maybe_record_health(force=True, message="stream stopped")
    return ingest.stats


def _describe(exc: Exception) -> str:
    if isinstance(exc, ConnectionClosed):
        return f"connection closed ({exc})"
    return f"{type(exc).__name__}: {exc}"
