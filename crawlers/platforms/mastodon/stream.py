"""Mastodon streaming: hashtag and public/local timelines as server-sent events.

One connection per feed of the source's targets (``hashtags`` -> ``/api/v1/streaming/hashtag?
tag=``, ``timelines: [public]`` -> ``/api/v1/streaming/public``, ``local`` ->
``/api/v1/streaming/public/local``), on the instance itself or on ``options.streaming_url``
(the ``configuration.urls.streaming`` of ``/api/v2/instance``, with ``https://``, where an
instance runs its streaming server on another host). Account timelines have no public
stream: the polling crawl keeps reading them. ``credentials.access_token`` is sent as a
bearer token when configured (instances that restrict their streams to users).

Mastodon sends ``event: update`` with a Status, ``status.update`` for an edit, ``delete``
with an id, and a ``:thump`` comment as heartbeat; a connection gets only what is published
after it opened. So each (re)connection first opens the stream, then backfills through the
REST timeline from the stream cursor (``min_id`` paging, oldest first) before reading the
events: whatever was published while disconnected comes from the backfill, anything in both
is stored once (post ids). No byte for ``read_timeout_s`` (heartbeats included) counts as a
dead connection. Statuses become posts through ``MastodonSpider.status_to_post``.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from httpx_sse import connect_sse

from crawlers.platforms.mastodon.spider import parse_link_header
from crawlers.stream import (Backoff, StreamIngest, StreamStats, advance_cursor, reconnect_until_stopped, saved_cursor,
                             spider_for)
from crisiswatch.core.store.base import Store

log = logging.getLogger(__name__)
BACKFILL_PAGES = 50


def stream_feeds(spider: Any) -> list[tuple[str, str, dict[str, str], str]]:
    """(cursor key, stream path, stream params, REST timeline path) per streamable feed."""
    feeds = []
    for instance in spider.instances():
        host = urlsplit(instance).netloc
        for tag in spider.targets("hashtags"):
            name = tag.lstrip("#")
            feeds.append((f"{host}|tag:{name.lower()}", f"{instance}|/api/v1/streaming/hashtag", {"tag": name},
                          f"{instance}/api/v1/timelines/tag/{quote(name)}"))
        for timeline in spider.targets("timelines"):
            local = timeline == "local"
            feeds.append((f"{host}|{timeline}", f"{instance}|/api/v1/streaming/public" + ("/local" if local else ""),
                          {}, f"{instance}/api/v1/timelines/public" + ("?local=true" if local else "")))
    return feeds


class FeedStream:
    """One feed's connection loop (a thread): connect, backfill, read events, reconnect."""

    def __init__(self, spider: Any, ingest: StreamIngest, store: Store, stop: threading.Event, key: str,
                 stream_url: str, params: dict[str, str], rest_url: str, read_timeout_s: float):
        self.spider, self.ingest, self.store, self.stop = spider, ingest, store, stop
        self.key, self.stream_url, self.params, self.rest_url = key, stream_url, params, rest_url
        self.read_timeout_s = read_timeout_s
        token = spider.secret("access_token", required=False)
        self.headers = {"User-Agent": f"crisiswatch/0.1 (+{spider.config.contact_url})", "Accept": "text/event-stream"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def run(self) -> None:
        reconnect_until_stopped(self.connect_once, _describe, self.ingest, self.stop, f"stream {self.key}")

    def connect_once(self, backoff: Backoff) -> None:
        timeout = httpx.Timeout(10.0, read=self.read_timeout_s)
        finished = threading.Event()
        with httpx.Client(timeout=timeout, headers=self.headers) as client:
            threading.Thread(target=self._close_on_stop, args=(client, finished), daemon=True).start()
            try:
                with connect_sse(client, "GET", self.stream_url, params=self.params) as events:
                    events.response.raise_for_status()
                    self.ingest.stats.connects += 1
                    self.backfill(client)  # after the stream opened: nothing falls between the two
                    backoff.reset()
                    for event in events.iter_sse():
                        if self.stop.is_set():
                            return
                        self.handle(event.event, event.data)
                        self.ingest.maybe_record_health()
            finally:
                finished.set()

    def _close_on_stop(self, client: httpx.Client, finished: threading.Event) -> None:
        while not finished.is_set():
            if self.stop.wait(0.5):
                client.close()  # unblocks a read waiting for the next event
                return

    def handle(self, kind: str, data: str) -> None:
        if kind not in ("update", "status.update"):
            return  # delete, notification, filters_changed ...: nothing to collect
        try:
            status = json.loads(data)
        except json.JSONDecodeError as exc:
            self.ingest.stats.events += 1
            self.ingest.malformed(f"stream {self.key}: skipped a malformed '{kind}' event "
                                  f"({exc.msg} at column {exc.colno}): {data[:80]!r}")
            return
        post = self.ingest.build(lambda: self.spider.status_to_post(status), f"stream {self.key}", status)
        if post is None:
            return
        self.write([post], status.get("id"))

    def write(self, posts: list[Any], newest_id: Any) -> None:
        """Store, then move the cursor (never before the posts are in the store)."""
        with self.ingest.write_lock:  # the source's feeds share one ingest
            self.ingest.store_posts(posts)
            if str(newest_id or "").isdigit():
                advance_cursor(self.store, self.ingest.source, self.key, int(newest_id))

    def backfill(self, client: httpx.Client) -> None:
        """Statuses newer than the stream cursor from the REST timeline, oldest page first."""
        since = saved_cursor(self.store, self.ingest.source, self.key)
        if since is None:  # first start: from where the polling crawl got to, if it ran
            crawled = self.store.get_cursor(self.ingest.source, self.key)
            since = int(crawled) if crawled and crawled.isdigit() else None
        if since is None:
            return
        separator = "&" if "?" in self.rest_url else "?"
        url: str | None = f"{self.rest_url}{separator}limit=40&min_id={since}"
        for _ in range(BACKFILL_PAGES):
            if url is None or self.stop.is_set():
                return
            response = client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            statuses = response.json()
            if not isinstance(statuses, list) or not statuses:
                return
            posts = [p for p in (self.ingest.build(lambda s=s: self.spider.status_to_post(s), url, s)
                                 for s in statuses) if p is not None]
            newest = max(int(s["id"]) for s in statuses if str(s.get("id", "")).isdigit())
            self.ingest.stats.backfilled += len(posts)
            self.write(posts, newest)
            url = parse_link_header(response.headers.get("Link")).get("prev")


def follow_stream(source: str, config_path: str, store: Store, stop: threading.Event, on_stored=None,  # noqa: ANN001
                  read_timeout_s: float = 60.0, health_every_s: float | None = None) -> StreamStats:
    """Follow every streamable feed of a Mastodon source until ``stop`` is set."""
    spider = spider_for(source, config_path)
    ingest = StreamIngest(spider, store, on_stored, **({"health_every_s": health_every_s} if health_every_s else {}))
    streaming = str(spider.option("streaming_url", "") or "").rstrip("/")
    threads = []
    for key, target, params, rest_url in stream_feeds(spider):
        instance, path = target.split("|", 1)
        url = f"{streaming or instance}{path}"
        feed = FeedStream(spider, ingest, store, stop, key, url, params, rest_url, read_timeout_s)
        threads.append(threading.Thread(target=feed.run, name=f"stream-{source}-{key}", daemon=True))
    if not threads:
        ingest.error("nothing to stream: mode: stream reads targets.hashtags and targets.timelines "
                     "(account timelines are polled)")
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(timeout=5)
    ingest.maybe_record_health(force=True, message="stream stopped")
    return ingest.stats


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from {exc.request.url}"
    return f"{type(exc).__name__}: {exc}"
