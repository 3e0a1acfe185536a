"""The project's crisis replays (scenarios/) raise the alerts they expect, in time."""

from __future__ import annotations

from datetime import timedelta

import pytest

import scenarios
from crisiswatch.core.config import Config
from crisiswatch.core.model import Enrichment, Level
from crisiswatch.core.store.sqlite import SqliteStore
from crisiswatch.core.watchlist import WatchlistMatcher

from alerts.backtest import run_backtest


def level_reached(incidents, watchlist: str, level: Level):  # noqa: ANN001, ANN201
    """When an incident of ``watchlist`` first reached ``level`` (None if never)."""
    times = [e.at for i in incidents if i.watchlist == watchlist for e in i.events
             if e.kind in ("fired", "level_changed", "reopened")
             and Level(e.data.get("level") or e.data.get("new")).rank >= level.rank]
    return min(times) if times else None


@pytest.mark.parametrize("name", ["food_safety_zh", "airline_outage_en"])
def test_scenario_raises_its_expected_alerts_in_time(tmp_path, name):
    scenario = scenarios.load(name)
    config = Config.model_validate({**scenario.config, "data_dir": str(tmp_path)})
    matcher = WatchlistMatcher(config.watchlists)  # what the crawler pipeline does on the way in
    posts = [p.model_copy(update={"watchlists": matcher.match(" ".join(filter(None, [p.title, p.text])))})
             for p in scenario.posts]
    store = SqliteStore(tmp_path / "scenario.db")
    store.setup()
    store.upsert_posts(posts)
    store.update_enrichments([Enrichment(post_id=pid, sentiment=labels.get("sentiment"))
                              for pid, labels in scenario.post_labels.items() if labels.get("sentiment")])
    latest = max(e.latest_at for e in scenario.expected_alerts)
    report = run_backtest(store, config, scenario.onset - timedelta(days=1), latest)
    store.close()
    assert report.errors == []
    for expected in scenario.expected_alerts:
        reached = level_reached(report.incidents, expected.watchlist, expected.min_level)
        assert reached is not None and reached <= expected.latest_at, (expected, reached)
        assert reached >= scenario.onset - timedelta(hours=12)  # not a standing false alarm
    # a full day of ordinary traffic before the crisis never reaches orange
    before = [i for i in report.incidents if i.opened_at < scenario.onset - timedelta(hours=12)]
    assert all(i.peak_level.rank < Level.orange.rank for i in before)
