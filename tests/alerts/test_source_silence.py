"""source_silence follows the config's one staleness rule (``SourceConfig.stale_after``), the
same one the maintenance health check uses, for every form a schedule takes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from crisiswatch.core.config import parse_config
from crisiswatch.core.model import Post
from crisiswatch.core.store.sqlite import SqliteStore

from alerts.engine import run_rules
from alerts.series import SeriesCache

LAST_POST = datetime(2026, 3, 6, 9, 0, tzinfo=timezone.utc)  # a Friday, 09:00


@pytest.fixture
def store(tmp_path):  # noqa: ANN001, ANN201
    store = SqliteStore(tmp_path / "silence.db")
    store.setup()
    store.upsert_posts([Post(id="feed:1", source="feed", text="acme news", created_at=LAST_POST,
                             collected_at=LAST_POST, watchlists=["acme"])])
    yield store
    store.close()


def silence_config(schedule: str, rule_params: str = "{}"):  # noqa: ANN201
    return parse_config(f"""
watchlists:
  - {{name: acme, terms: [acme]}}
sources:
  - {{name: feed, platform: rss, schedule: "{schedule}"}}
rules:
  - {{name: quiet, detector: source_silence, bucket: 15m, params: {rule_params}}}
""", "silence.yaml")


def evaluate(store, config, at):  # noqa: ANN001, ANN201
    evaluations, errors = run_rules(store, config, at, SeriesCache(store, persist=False))
    assert errors == []
    [evaluation] = [e for e in evaluations if e.group_key == "source:feed"]
    return evaluation


@pytest.mark.parametrize(("schedule", "allowed"), [
    ("15m", timedelta(minutes=45)),
    ("*/10 * * * *", timedelta(minutes=30)),
    ("5,35 * * * *", timedelta(minutes=90)),  # the longest gap (35 -> 05) is 30 minutes
    ("0 9 * * 1-5", timedelta(days=9)),  # Friday 09:00 -> Monday 09:00, three times
])
def test_silence_fires_exactly_when_the_source_is_stale(store, schedule, allowed):
    config = silence_config(schedule)
    assert config.source("feed").stale_after() == allowed
    just_before = evaluate(store, config, LAST_POST + allowed - timedelta(minutes=1))
    assert not just_before.fired, just_before.title
    assert evaluate(store, config, LAST_POST + allowed).score == pytest.approx(1.0)  # the blue threshold
    just_after = evaluate(store, config, LAST_POST + allowed + timedelta(minutes=1))
    assert just_after.fired and just_after.level.value == "blue"
    assert just_after.baseline == allowed.total_seconds() / 60  # the allowed gap, in minutes, as shown
    assert "source 'feed'" in just_after.title


@pytest.mark.parametrize("schedule", ["15m", "*/10 * * * *", "5,35 * * * *", "0 9 * * 1-5"])
@pytest.mark.parametrize("quiet_beyond_limit", [timedelta(minutes=-1), timedelta(minutes=1), timedelta(hours=5)])
def test_the_maintenance_health_check_agrees(store, schedule, quiet_beyond_limit):
    from crisiswatch.app.operations import is_stale

    config = silence_config(schedule)
    source = config.source("feed")
    now = LAST_POST + source.stale_after() + quiet_beyond_limit
    assert evaluate(store, config, now).fired == is_stale(source, LAST_POST, now)


def test_the_source_own_expected_interval_wins_over_its_schedule(store):
    config = parse_config("""
sources:
  - {name: feed, platform: rss, schedule: 15m, expected_interval: 6h}
rules:
  - {name: quiet, detector: source_silence, bucket: 15m}
""")
    assert not evaluate(store, config, LAST_POST + timedelta(hours=5, minutes=59)).fired
    assert evaluate(store, config, LAST_POST + timedelta(hours=6)).fired


def test_a_source_not_in_the_config_falls_back_to_the_rule_interval(store):
    config = parse_config("""
rules:
  - {name: quiet, detector: source_silence, bucket: 15m, params: {sources: [feed], expected_interval: 2h}}
""")
    assert not evaluate(store, config, LAST_POST + timedelta(hours=1, minutes=59)).fired
    late = evaluate(store, config, LAST_POST + timedelta(hours=4))
    assert late.fired and late.score == pytest.approx(2.0)  # twice the allowed gap: yellow
    assert late.level.value == "yellow"
