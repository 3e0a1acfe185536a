"""Streaming clients (Mastodon streaming over SSE, Bluesky Jetstream over WebSocket) against
the replay's streaming endpoints: each post stored once, resume after a drop without loss or
duplicates, malformed events reported and skipped, the same Post a crawl stores."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from crawlers.run import crawl_source
from crawlers.stream import run_stream, saved_cursor
from crisiswatch.core.config import ConfigError, Watchlist, load_config
from crisiswatch.core.store import open_store
from crisiswatch.core.store.base import PostFilter
from crisiswatch.core.watchlist import WatchlistMatcher
from scenarios.replay import ReplayServer
from scenarios.replay.streaming import stream_sources
from scenarios.replay.synthetic import START, WATCHLISTS, synthetic_scenario
from tests.crawlers.helpers import write_config

SOURCE = {"mastodon": "stream-mastodon", "bluesky": "stream-bluesky"}
MATCHER = WatchlistMatcher([Watchlist(**spec) for spec in WATCHLISTS])


def wait_until(condition, timeout: float = 30.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def replay():
    with ReplayServer(synthetic_scenario(40, platforms=["mastodon", "bluesky"]), speedup=0) as server:
        server.clock.set(START - timedelta(minutes=1))
        yield server


@contextmanager
def streaming(server: ReplayServer, tmp_path: Path, platform: str, **options):  # noqa: ANN003
    config_path = write_config(tmp_path / "config.yaml", stream_sources(server), tmp_path / "store.db")
    store = open_store(load_config(config_path))
    stop = threading.Event()
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(stats=run_stream(
        SOURCE[platform], str(config_path), store, stop, **options)), daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.streams.faults.connections.get(platform, 0) >= 1), "never connected"
        yield store, outcome, config_path
    finally:
        stop.set()
        thread.join(timeout=15)
        assert not thread.is_alive(), "the stream did not stop when asked"
        store.close()


def publish(server: ReplayServer, minutes: int, pause: float = 0.05) -> None:
    """Advance the replay clock a minute at a time (about one post per platform per minute)."""
    for _ in range(minutes):
        server.clock.advance(timedelta(minutes=1))
        time.sleep(pause)


def expected_ids(server: ReplayServer, platform: str, after, until) -> set[str]:  # noqa: ANN001
    """Ids a stream source must store: posts published in (after, until] that match a watchlist."""
    native = {"mastodon": lambda p: str(int(p.id.split(":", 1)[1])), "bluesky": lambda p: p.id.split(":", 1)[1]}
    return {f"{SOURCE[platform]}:{native[platform](p)}" for p in server.catalog.posts[platform]
            if after < p.created_at <= until and MATCHER.match(p.text, p.title)}


def stored_ids(store, platform: str) -> list[str]:  # noqa: ANN001
    return [p.id for p in store.iter_posts(PostFilter(sources=(SOURCE[platform],)))]


@pytest.mark.parametrize("platform", ["mastodon", "bluesky"])
def test_streamed_posts_arrive_in_the_store_once(replay, tmp_path, platform):
    with streaming(replay, tmp_path, platform) as (store, outcome, _):
        connected_at = replay.clock.now()
        publish(replay, 25)
        want = expected_ids(replay, platform, connected_at, replay.clock.now())
        assert wait_until(lambda: set(stored_ids(store, platform)) >= want)
        time.sleep(0.5)
        ids = stored_ids(store, platform)
    assert len(want) >= 15
    assert sorted(ids) == sorted(want), "a post is missing or extra"
    assert outcome["stats"].stored == len(want), "a post was written more than once"
    assert outcome["stats"].unmatched > 0, "posts matching no watchlist were not filtered client-side"


@pytest.mark.parametrize("platform", ["mastodon", "bluesky"])
def test_a_dropped_connection_resumes_without_loss_or_duplicates(replay, tmp_path, platform):
    with streaming(replay, tmp_path, platform) as (store, outcome, _):
        connected_at = replay.clock.now()
        publish(replay, 8)
        replay.streams.faults.drop_after(platform, 3)  # cut after three more events
        publish(replay, 20, pause=0.08)  # posts keep coming while the client reconnects
        want = expected_ids(replay, platform, connected_at, replay.clock.now())
        assert wait_until(lambda: set(stored_ids(store, platform)) >= want, timeout=30)
        ids = stored_ids(store, platform)
        cursor = saved_cursor(store, SOURCE[platform], "jetstream" if platform == "bluesky" else
                              f"{replay.base_url.split('//')[1]}|public")
    stats = outcome["stats"]
    assert replay.streams.faults.connections[platform] >= 2, "the connection was never dropped"
    assert stats.connects >= 2
    assert sorted(ids) == sorted(want), "lost or duplicated posts across the reconnect"
    assert stats.stored == len(want), "a post sent twice across the reconnect was written twice"
    assert cursor is not None, "the stream cursor was never saved"
    if platform == "mastodon":
        assert stats.backfilled > 0, "the gap was not backfilled from the REST timeline"
    else:
        assert stats.duplicates > 0, "the resume did not rewind the Jetstream cursor (no event came twice)"


@pytest.mark.parametrize("platform, raw", [
    ("mastodon", "event: update\ndata: {\"id\": \"1\", \"content\": \n\n"),
    ("mastodon", "event: update\ndata: {\"id\": \"12\", \"created_at\": \"2026-03-02T08:00:00Z\"}\n\n"),
    ("bluesky", "{\"did\": \"did:plc:abc\", \"time_us\": 1772438400000000, \"kind\": \"commit\"" ),
    ("bluesky", "{\"did\": \"did:plc:abc\", \"time_us\": 1772438400000000, \"kind\": \"commit\", \"commit\": "
                "{\"operation\": \"create\", \"collection\": \"app.bsky.feed.post\", \"rkey\": \"3k\"}}"),
])
def test_malformed_events_are_reported_and_skipped(replay, tmp_path, platform, raw):
    with streaming(replay, tmp_path, platform, health_every_s=0.5) as (store, outcome, _):
        connected_at = replay.clock.now()
        publish(replay, 3)
        replay.streams.faults.inject(platform, raw)
        publish(replay, 6)
        want = expected_ids(replay, platform, connected_at, replay.clock.now())
        assert wait_until(lambda: set(stored_ids(store, platform)) >= want)
        ids = stored_ids(store, platform)
    assert sorted(ids) == sorted(want), "the posts around a malformed event were not all kept"
    assert outcome["stats"].malformed == 1
    with open_store(load_config(tmp_path / "config.yaml")) as store:
        history = store.crawl_history(SOURCE[platform], limit=20)
    assert any("malformed" in h.message for h in history), [h.message for h in history]
    assert any(h.status == "partial" and h.parse_failures == 1 for h in history)


def test_a_streamed_post_is_the_post_a_crawl_stores(replay, tmp_path):
    """Same item building: the Mastodon stream and a real ``scrapy crawl`` give equal posts."""
    with streaming(replay, tmp_path, "mastodon") as (store, _, config_path):
        publish(replay, 6)
        assert wait_until(lambda: len(stored_ids(store, "mastodon")) >= 4)
        streamed = {p.id: p for p in store.iter_posts(PostFilter(sources=("stream-mastodon",)))}
    crawled_config = write_config(tmp_path / "crawl.yaml", stream_sources(replay, mode="poll"), tmp_path / "crawl.db")
    health = crawl_source("stream-mastodon", str(crawled_config), timeout_s=120)
    assert health.status == "ok", health.message
    with open_store(load_config(crawled_config)) as crawled_store:
        crawled = {p.id: p for p in crawled_store.get_posts(list(streamed))}
    assert set(crawled) == set(streamed)
    for post_id, post in streamed.items():
        assert post.model_dump(exclude={"collected_at"}) == crawled[post_id].model_dump(exclude={"collected_at"})


def test_mode_stream_is_refused_for_a_platform_without_a_streaming_api(tmp_path):
    path = write_config(tmp_path / "bad.yaml", [{"name": "news", "platform": "rss", "mode": "stream",
                                                  "targets": {"feeds": ["https://example.test/feed"]}}],
                        tmp_path / "x.db")
    with pytest.raises(ConfigError, match="no streaming API"):
        load_config(path)
    good = write_config(tmp_path / "good.yaml", [{"name": "toots", "platform": "mastodon", "mode": "stream",
                                                   "targets": {"hashtags": ["zephyrcola"]}}], tmp_path / "x.db")
    assert load_config(good).source("toots").mode == "stream"
