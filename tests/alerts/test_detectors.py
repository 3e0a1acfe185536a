"""Each detector against the standard world: quiet before the crisis, firing in it, with evidence."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crisiswatch.core.model import CrawlHealth, Level, Post
from crisiswatch.core.store.base import PostFilter
from crisiswatch.core.store.sqlite import SqliteStore

from alerts.engine import evaluate_cycle, run_rules
from alerts.series import SeriesCache
from tests.alerts.helpers import ONSET, START, world_config


def evaluate(store, config, at, rule_names=None):  # noqa: ANN001, ANN201
    rules = [config.rule(n) for n in rule_names] if rule_names else [r for r in config.rules if r.enabled]
    evaluations, errors = run_rules(store, config, at, SeriesCache(store, persist=False), rules)
    assert errors == []
    return evaluations


def by_scope(evaluations, rule, watchlist="acme"):  # noqa: ANN001, ANN201
    return next(e for e in evaluations if e.rule == rule and e.watchlist == watchlist)


def test_nothing_fires_on_an_ordinary_morning(world, tmp_path):
    config = world_config(str(tmp_path))
    fired = []
    for minutes in range(-6 * 60, 1, 15):  # the six hours before the crisis, bucket by bucket
        at = ONSET + timedelta(minutes=minutes)
        fired += [(e.rule, e.watchlist, str(at)) for e in evaluate(world, config, at) if e.fired]
    assert fired == []


@pytest.mark.parametrize("rule", ["volume", "negative", "crisis-terms", "influencer", "new-topic", "spread"])
def test_each_detector_fires_within_two_buckets_of_the_onset_with_evidence(world, tmp_path, rule):
    config = world_config(str(tmp_path))
    at = ONSET + timedelta(minutes=30)
    ev = by_scope(evaluate(world, config, at, [rule]), rule)
    assert ev.fired, ev.title
    assert ev.bucket_end <= at
    assert ev.observed is not None and ev.score >= config.rule(rule).level_thresholds()[Level.blue]
    assert ev.evidence["first_posts"] and ev.evidence["top_posts"] and ev.evidence["top_terms"]
    firsts = [p["created_at"] for p in ev.evidence["first_posts"]]
    assert firsts == sorted(firsts)
    assert all(p["created_at"] < at.isoformat() for p in ev.evidence["first_posts"])
    # the small brand is untouched by acme's crisis
    assert not by_scope(evaluate(world, config, at, [rule]), rule, "zenith").fired


def test_volume_spike_reports_the_numbers_against_normal(world, tmp_path):
    config = world_config(str(tmp_path))
    ev = by_scope(evaluate(world, config, ONSET + timedelta(minutes=15), ["volume"]), "volume")
    assert ev.fired
    assert ev.observed >= 3 * ev.baseline
    assert ev.spread > 0
    assert ev.series and ev.expected and len(ev.series) == len(ev.expected)
    assert "acme" in ev.title and "usual" in ev.title


def test_keyword_burst_matches_traditional_chinese_against_a_simplified_lexicon(world, tmp_path):
    config = world_config(str(tmp_path))
    ev = by_scope(evaluate(world, config, ONSET + timedelta(minutes=45), ["crisis-terms"]), "crisis-terms")
    terms = dict(ev.evidence["crisis_terms"])
    # the posts say 起訴 and 維權 (Traditional); the lexicon has 起诉 and 维权 (Simplified)
    assert terms.get("起诉", 0) > 0 and terms.get("维权", 0) > 0
    assert terms.get("recall", 0) > 0
    # a usual count that rounds to nothing is said so, not printed as "a usual 0.0"
    assert ev.baseline < 0.05 and "use crisis terms in the last 1 h, where almost none are usual" in ev.title, ev.title


def test_influencer_names_the_author_and_reach(world, tmp_path):
    config = world_config(str(tmp_path))
    ev = by_scope(evaluate(world, config, ONSET + timedelta(minutes=30), ["influencer"]), "influencer")
    assert ev.fired and ev.level.rank >= Level.yellow.rank  # 5x the reach threshold
    assert "famous_critic" in ev.title and "500,000 followers" in ev.title
    assert ev.evidence["top_posts"][0]["id"] == "weibo:influencer-1"


def test_cross_platform_counts_sources(world, tmp_path):
    config = world_config(str(tmp_path))
    ev = by_scope(evaluate(world, config, ONSET + timedelta(minutes=30), ["spread"]), "spread")
    assert ev.fired and ev.observed == 3
    assert set(ev.evidence["sources"]) == {"weibo", "mastodon", "news"}
    assert ev.baseline == 0 and ev.title.endswith("in the last 1 h, from none a day earlier"), ev.title


def test_emerging_topic_is_new_and_keyed_by_topic(world, tmp_path):
    config = world_config(str(tmp_path))
    ev = by_scope(evaluate(world, config, ONSET + timedelta(minutes=30), ["new-topic"]), "new-topic")
    assert ev.fired and ev.group_key == "topic:7" and ev.baseline == 0
    assert "recall" in ev.title


def test_source_silence_fires_on_a_gap_even_with_a_future_dated_post(world, tmp_path):
    config = world_config(str(tmp_path))
    at = START + timedelta(days=8, hours=3)  # three hours after the last post of the world
    world.upsert_posts([Post(id="news:from-the-future", source="news", text="acme clock skew",
                             created_at=START + timedelta(days=400), watchlists=["acme"])])
    evs = {e.group_key: e for e in evaluate(world, config, at, ["silence"])}
    assert evs["source:news"].fired, evs["source:news"].title
    assert "news" in evs["source:news"].title
    # during normal collection no source is silent
    assert not any(e.fired for e in evaluate(world, config, ONSET, ["silence"]))


def test_source_silence_shows_failed_crawls(world, tmp_path):
    config = world_config(str(tmp_path))
    at = START + timedelta(days=8, hours=2)
    world.record_crawl(CrawlHealth(source="weibo", started_at=at - timedelta(minutes=10),
                                   finished_at=at - timedelta(minutes=9), status="failed",
                                   message="HTTP 403 from the platform"))
    ev = next(e for e in evaluate(world, config, at, ["silence"]) if e.group_key == "source:weibo")
    assert ev.fired and "HTTP 403" in ev.title and ev.evidence["failed_crawls"] == 1


def test_future_dated_posts_do_not_change_any_evaluation(world, tmp_path):
    config = world_config(str(tmp_path))
    at = ONSET + timedelta(minutes=30)
    before = [(e.rule, e.watchlist, e.observed, e.baseline, e.level) for e in evaluate(world, config, at)]
    world.upsert_posts([Post(id=f"weibo:future-{k}", source="weibo", text="acme recall 召回", watchlists=["acme"],
                             created_at=at + timedelta(days=k, minutes=1)) for k in range(0, 60)])
    after = [(e.rule, e.watchlist, e.observed, e.baseline, e.level) for e in evaluate(world, config, at)]
    assert after == before


def test_empty_store_fires_nothing(tmp_path):
    store = SqliteStore(tmp_path / "empty.db")
    store.setup()
    config = world_config(str(tmp_path))
    report = evaluate_cycle(store, config, START + timedelta(days=3))
    assert report.errors == []
    assert report.fired == [] and report.changes == []
    assert store.list_incidents() == []
    store.close()


def test_series_cache_reuses_old_buckets_and_rereads_recent_ones(world, tmp_path):
    config = world_config(str(tmp_path))
    cache = SeriesCache(world)
    flt = PostFilter(watchlists=("acme",))
    size = timedelta(minutes=15)
    start = START
    first = cache.counts(flt, start, ONSET, size, timedelta(hours=2))
    reads = cache.reads
    again = SeriesCache(world).counts(flt, start, ONSET + size, size, timedelta(hours=2))
    assert list(again[:-9]) == list(first[:-8])  # stable part from the cache
    assert reads == 1
    direct = [b.count for b in world.count_by_bucket(flt, start, ONSET + size, size)]
    assert list(again) == direct


def test_forgetting_the_cache_picks_up_backfilled_history(world, tmp_path):
    from alerts.series import forget

    flt = PostFilter(watchlists=("zenith",))
    size = timedelta(hours=1)
    first = SeriesCache(world).counts(flt, START, ONSET, size, timedelta(hours=2))
    world.upsert_posts([Post(id=f"news:backfill-{k}", source="news", text="zenith archive", watchlists=["zenith"],
                             created_at=START + timedelta(hours=5, minutes=k)) for k in range(30)])
    stale = SeriesCache(world).counts(flt, START, ONSET, size, timedelta(hours=2))
    assert stale[5] == first[5]  # cached: the backfill is not seen
    assert forget(world) >= 1
    fresh = SeriesCache(world).counts(flt, START, ONSET, size, timedelta(hours=2))
    assert fresh[5] == first[5] + 30


def test_a_cycle_that_read_history_before_another_process_forgot_it_cannot_save_it_back(world):
    """A re-enrichment in another process forgets the cache while a cycle holds the old history:
    the cycle's later save must not bring the old counts back for the cycles after it."""
    import subprocess
    import sys

    flt = PostFilter(watchlists=("zenith",))
    size, settle = timedelta(hours=1), timedelta(hours=2)
    cycle = SeriesCache(world)
    first = cycle.counts(flt, START, ONSET, size, settle)
    world.upsert_posts([Post(id=f"news:backfill-{k}", source="news", text="zenith archive", watchlists=["zenith"],
                             created_at=START + timedelta(hours=5, minutes=k)) for k in range(30)])
    forget_elsewhere = ("import sys; from alerts.series import forget; from crisiswatch.core.store.sqlite import "
                        "SqliteStore; store = SqliteStore(sys.argv[1]); print(forget(store)); store.close()")
    done = subprocess.run([sys.executable, "-c", forget_elsewhere, str(world.path)], capture_output=True, text=True,
                          check=True)
    assert int(done.stdout) >= 1
    cycle.counts(flt, START, ONSET + size, size, settle)  # the old cycle goes on: one more stable bucket to save
    fresh = SeriesCache(world).counts(flt, START, ONSET, size, settle)
    assert fresh[5] == first[5] + 30
