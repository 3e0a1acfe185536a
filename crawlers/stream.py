"""What every streaming client shares: the spiders' item building and ingest path, stream
cursors that only move forward and only after their posts are stored, health records.

A streaming API (Mastodon streaming, Bluesky Jetstream) pushes posts as they are published,
so ``crisiswatch run --follow`` does not wait for the next crawl. A stream is only worth
having if it loses nothing and duplicates nothing across reconnects:

* posts are built by the platform's own spider (``spider.status_to_post``, ``view_to_post``),
  cleaned by the same ``NormalisePipeline`` and matched by the same ``WatchlistMatcher`` as a
  crawl, and written with ``store.upsert_posts`` (keyed by post id: a post seen twice is
  stored once);
* the stream's position (a status id, a Jetstream ``time_us``) is saved under
  ``stream-cursor|<source>|<key>`` with ``store.update_state`` (one atomic read-modify-write):
  it only moves forward, and only after the posts up to it are stored, so two processes
  following one source, or a crash between storing and saving, can only make the next
  resume fetch a little twice (deduplicated), never skip;
* every event that cannot be read is counted and reported (never fatal), and a health record
  (``CrawlHealth``) is written per flush window, so ``sources status`` and ``source_silence``
  see a streaming source like a crawled one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from crisiswatch.core.config import Config, load_config
from crisiswatch.core.model import CrawlHealth, Post
from crisiswatch.core.store.base import Store
from crisiswatch.core.watchlist import WatchlistMatcher

log = logging.getLogger(__name__)
HEALTH_EVERY_S = 60.0
"""A streaming source records one health entry per this many seconds (and on every reconnect)."""
MAX_MESSAGES = 5
SEEN_IDS = 50_000


def stream_cursor_key(source: str, key: str) -> str:
    return f"stream-cursor|{source}|{key}"


def advance_cursor(store: Store, source: str, key: str, value: int) -> int:
    """Move the stream cursor to ``value`` unless it is already further (numbers); atomic
    across processes. Returns the cursor now saved."""

    def further(current: str | None) -> str:
        return str(max(int(current), value)) if current and current.lstrip("-").isdigit() else str(value)

    return int(store.update_state(stream_cursor_key(source, key), further) or value)


def saved_cursor(store: Store, source: str, key: str) -> int | None:
    value = store.get_state(stream_cursor_key(source, key))
    return int(value) if value and value.lstrip("-").isdigit() else None


@dataclass
class StreamStats:
    """What one streaming client did (tests and ``--follow`` read it)."""

    events: int = 0
    stored: int = 0
    unmatched: int = 0
    duplicates: int = 0
    malformed: int = 0
    connects: int = 0
    backfilled: int = 0
    errors: list[str] = field(default_factory=list)


class StreamIngest:
    """One source's stream ingest: spider-built posts -> normalise -> watchlists -> store.

    ``spider`` is the platform's spider built for the source (``-a source=`` outside a crawl):
    the stream reuses its item building and error counting, never a copy of them.
    """

    def __init__(self, spider: Any, store: Store, on_stored: Callable[[int], None] | None = None,
                 health_every_s: float = HEALTH_EVERY_S):
        from crawlers.pipelines import NormalisePipeline

        self.spider = spider
        self.source: str = spider.source
        self.store = store
        self.normalise = NormalisePipeline.for_spider(spider)
        self.matcher = WatchlistMatcher(spider.config.watchlists)
        self.keep_all = spider.source_config.keep_all
        self.on_stored = on_stored
        self.stats = StreamStats()
        self.health_every_s = health_every_s
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self.write_lock = threading.Lock()
        """Held by a client around store_posts + advance_cursor (one source, several connections)."""
        self._window_start = datetime.now(timezone.utc)
        self._window_stored = 0
        self._window_events = 0
        self._window_errors: list[str] = []
        self._window_error_count = 0
        self._window_malformed = 0
        self._newest: datetime | None = None
        self._last_health = time.monotonic()

    # ---- posts ------------------------------------------------------------------------
    def build(self, make: Callable[[], Post | None], where: str, item: Any = None) -> Post | None:
        """One post from one event through the spider's builder; a malformed event is
        reported (health message, log) and skipped."""
        self.stats.events += 1
        self._window_events += 1
        before = len(self.spider.errors)
        post = self.spider.post_or_none(make, where, item)
        if post is None:
            grew = len(self.spider.errors) > before
            message = self.spider.errors[-1] if grew else f"{where}: skipped a malformed post"
            del self.spider.errors[:]  # the spider keeps 5 messages per crawl; a stream never ends
            self.malformed(message)
        return post

    def malformed(self, message: str) -> None:
        """An event that cannot be read: counted, reported in the next health record, skipped."""
        self.stats.malformed += 1
        self._window_malformed += 1
        self.error(message)

    def error(self, message: str) -> None:
        with self._lock:
            self._window_error_count += 1
            if len(self._window_errors) < MAX_MESSAGES:
                self._window_errors.append(message)
            if len(self.stats.errors) < 50:
                self.stats.errors.append(message)
        log.warning("%s: %s", self.source, message)

    def store_posts(self, posts: Iterable[Post]) -> list[Post]:
        """Normalise, match and store ``posts``; returns those written (new or changed)."""
        kept: list[Post] = []
        for post in posts:
            post = self.normalise.process_item(post)
            names = self.matcher.match(post.text, post.title)
            if not names and not self.keep_all:
                self.stats.unmatched += 1
                continue
            kept.append(post.model_copy(update={"watchlists": names}))
        fresh = [p for p in kept if p.id not in self._seen]
        self.stats.duplicates += len(kept) - len(fresh)
        if not fresh:
            return []
        result = self.store.upsert_posts(fresh)  # raises when the store is down: the caller keeps its cursor
        failed = {f.id for f in result.failed}
        for failure in result.failed:
            self.error(f"store refused {failure.id}: {failure.reason}")
        written = [p for p in fresh if p.id not in failed]
        for post in written:
            self._seen[post.id] = None
            if self._newest is None or post.created_at > self._newest:
                self._newest = post.created_at
        while len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        self.stats.stored += len(written)
        self._window_stored += len(written)
        if written and self.on_stored is not None:
            self.on_stored(len(written))
        if failed:
            raise RuntimeError(f"{len(failed)} posts were refused by the store; the stream cursor stays put")
        return written

    # ---- health -----------------------------------------------------------------------
    def maybe_record_health(self, force: bool = False, status: str | None = None, message: str = "") -> None:
        if not force and time.monotonic() - self._last_health < self.health_every_s:
            return
        with self._lock:
            errors, count = self._window_errors, self._window_error_count
            malformed, self._window_malformed = self._window_malformed, 0
            self._window_errors, self._window_error_count = [], 0
        health = CrawlHealth(
            source=self.source, started_at=self._window_start, finished_at=datetime.now(timezone.utc),
            pages=self._window_events, items=self._window_stored, errors=count, newest_post_at=self._newest,
            status=status or ("ok" if not count else "partial"),
            message=("; ".join([m for m in [message, *errors] if m]))[:2000],
            parse_failures=malformed)
        try:
            self.store.record_crawl(health)
        except Exception as exc:  # noqa: BLE001 - health is reported, never fatal
            log.warning("%s: could not record stream health: %s", self.source, exc)
            return
        self._window_start = health.finished_at
        self._window_stored = self._window_events = 0
        self._last_health = time.monotonic()


def spider_for(source: str, config_path: str) -> Any:
    """The platform's spider for ``source``, built outside a crawl (its item builders only)."""
    config = load_config(config_path)
    spec = config.source(source)
    from crisiswatch.core import registry

    return registry.get("platforms", spec.platform).spider_class()(source=source, config=config_path)


def run_stream(source: str, config_path: str, store: Store, stop: threading.Event,
               on_stored: Callable[[int], None] | None = None, **options: Any) -> StreamStats:
    """Follow ``source``'s streaming API until ``stop`` is set (its platform's ``stream``)."""
    from crisiswatch.core import registry

    config: Config = load_config(config_path)
    platform = config.source(source).platform
    follow_stream = registry.get("platforms", platform).stream_function()
    return follow_stream(source, config_path, store, stop, on_stored=on_stored, **options)


def reconnect_until_stopped(connect_once: Callable[["Backoff"], None], describe: Callable[[Exception], str],
                            ingest: "StreamIngest", stop: threading.Event, label: str,
                            on_drop: Callable[[], None] | None = None) -> None:
    """Hold a stream open: connect, and after each drop record why (``describe`` the error),
    write crawl health and reconnect with a growing delay, until ``stop`` is set."""
    backoff = Backoff()
    while not stop.is_set():
        try:
            connect_once(backoff)
            problem = "the server closed the stream"
        except Exception as exc:  # noqa: BLE001 - network, handshake, the store failing: retry
            problem = describe(exc)
        if on_drop is not None:
            on_drop()
        if stop.is_set():
            break
        ingest.error(f"{label}: {problem}; reconnecting")
        ingest.maybe_record_health(force=True)
        backoff.wait(stop)


class Backoff:
    """Reconnect delays: 0.5 s doubling to ``ceiling``, back to the start after a good connection."""

    def __init__(self, first: float = 0.5, ceiling: float = 30.0):
        self.first, self.ceiling, self.delay = first, ceiling, first

    def wait(self, stop: threading.Event) -> None:
        stop.wait(self.delay)
        self.delay = min(self.ceiling, self.delay * 2)

    def reset(self) -> None:
        self.delay = self.first
