"""The maintenance DAG's health check and the ``source_silence`` detector agree on when a
source has been quiet too long: both follow ``SourceConfig.stale_after()``, for every form a
schedule can take (a duration, a step, a list of minutes, hourly, weekdays only)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from crisiswatch.app.operations import source_health
from crisiswatch.core.config import parse_config
from crisiswatch.core.model import CrawlHealth
from crisiswatch.core.store.sqlite import SqliteStore

FINISHED = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)  # a Monday morning
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize("schedule, allowed", [
    ("15m", timedelta(minutes=45)),
    ("*/10 * * * *", timedelta(minutes=30)),
    ("5,35 * * * *", timedelta(minutes=90)),  # three times its longest gap (30 min)
    ("0 * * * *", timedelta(hours=3)),
    ("0 9 * * 1-5", timedelta(days=9)),  # three times the longest gap, the weekend (72 h)
])
def test_health_calls_a_source_stale_exactly_when_stale_after_has_passed(tmp_path, schedule, allowed):
    from alerts.detectors.source_silence import SourceSilenceParams, allowed_gap

    config = parse_config(f"""sources:
  - {{name: feed, platform: rss, targets: {{feeds: ["http://127.0.0.1:9/feed"]}}, schedule: "{schedule}"}}
""")
    [source] = config.sources
    assert source.stale_after() == allowed
    assert allowed_gap(source, SourceSilenceParams()) == allowed  # what source_silence measures against

    store = SqliteStore(tmp_path / "store.db")
    store.setup()
    try:
        store.record_crawl(CrawlHealth(source="feed", started_at=FINISHED - timedelta(minutes=1), finished_at=FINISHED,
                                       items=3, newest_post_at=FINISHED - timedelta(minutes=2)))
        status = {offset: source_health(store, config, FINISHED + allowed + offset)[0].status
                  for offset in (-SECOND, timedelta(0), SECOND)}
    finally:
        store.close()
    assert status == {-SECOND: "ok", timedelta(0): "stale", SECOND: "stale"}  # as source_silence: score 1 = blue


def test_a_source_with_expected_interval_is_stale_after_it(tmp_path):
    config = parse_config("""sources:
  - {name: feed, platform: rss, targets: {feeds: ["http://127.0.0.1:9/feed"]}, schedule: 15m, expected_interval: 2h}
""")
    store = SqliteStore(tmp_path / "store.db")
    store.setup()
    try:
        store.record_crawl(CrawlHealth(source="feed", started_at=FINISHED, finished_at=FINISHED, items=1))
        early = source_health(store, config, FINISHED + timedelta(hours=2) - SECOND)[0]
        late = source_health(store, config, FINISHED + timedelta(hours=2))[0]
    finally:
        store.close()
    assert (early.status, late.status) == ("ok", "stale")
    assert "allowed: 2:00:00" in late.detail
