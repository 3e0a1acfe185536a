"""Continuous mode: the open bucket is nowcast, and new posts trigger an evaluation at once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from types import SimpleNamespace

from crisiswatch.app.follow import follow

from alerts.engine import evaluate_cycle
from alerts.series import nowcast_time
from tests.alerts.helpers import ONSET, world_config


def test_nowcast_alerts_before_the_bucket_closes(world, tmp_path):
    config = world_config(str(tmp_path))
    now = ONSET + timedelta(minutes=8)  # the crisis began 8 minutes ago, its bucket closes at 10:15
    closed_only = evaluate_cycle(world, config, now=now, deliver=False)
    assert not [e for e in closed_only.fired if e.watchlist == "acme" and e.rule == "volume"]
    nowcast = evaluate_cycle(world, config, now=now + timedelta(seconds=1), deliver=False, nowcast=True)
    assert [e for e in nowcast.fired if e.watchlist == "acme"], "the open bucket was not looked at"
    assert all(c.incident.opened_at <= now + timedelta(seconds=1) for c in nowcast.changes)  # events at real time


def test_nowcast_starts_half_a_minute_into_the_bucket(tmp_path):
    config = world_config(str(tmp_path))  # 15-minute buckets
    start = ONSET
    assert nowcast_time(start + timedelta(seconds=20), config) == start + timedelta(seconds=20)
    # a post one minute into a 15-minute bucket is counted now, not three minutes later
    assert nowcast_time(start + timedelta(minutes=1), config) == start + timedelta(minutes=15)
    assert nowcast_time(start + timedelta(minutes=5), config) == start + timedelta(minutes=15)


def test_follow_evaluates_as_soon_as_a_crawl_stores_posts(tmp_path):
    config = world_config(str(tmp_path))
    crawled_at: list[float] = []
    evaluated_at: list[float] = []

    def crawl(name: str):  # noqa: ANN202
        crawled_at.append(time.monotonic())
        return SimpleNamespace(items=1 if name == "weibo" else 0)

    stop = threading.Event()
    stats = follow(config, ["weibo", "mastodon"], crawl, enrich=lambda: 0,
                   evaluate=lambda now: evaluated_at.append(time.monotonic()) or SimpleNamespace(changes=[]),
                   crawl_every_s=0.3, idle_every_s=30.0, stop=stop, duration_s=1.5)
    assert stats.crawls >= 4 and not stats.errors
    assert len(evaluated_at) >= 2, "evaluation waited for the idle timer instead of the new posts"
    assert evaluated_at[0] - crawled_at[0] < 0.5
