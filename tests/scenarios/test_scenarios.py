"""The crisis replays keep the promises the demo, the replay server and the benchmarks rely on."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections import Counter
from datetime import timedelta

import pytest
from opencc import OpenCC

import scenarios
from crisiswatch.core.config import Config
from crisiswatch.core.model import Level


@pytest.fixture(scope="module", params=scenarios.names())
def scenario(request):
    return scenarios.load(request.param)


@pytest.fixture(scope="module")
def food():
    return scenarios.load("food_safety_zh")


@pytest.fixture(scope="module")
def airline():
    return scenarios.load("airline_outage_en")


def test_names_and_unknown_name():
    assert scenarios.names() == ["food_safety_zh", "airline_outage_en"]
    with pytest.raises(KeyError, match="food_safety_zh"):
        scenarios.load("no_such_scenario")


def _digest(scenario) -> str:
    return hashlib.sha256(scenario.model_dump_json().encode()).hexdigest()


def test_same_seed_same_scenario_in_another_process(scenario):
    code = (f"import hashlib, scenarios; s = scenarios.load({scenario.name!r}); "
            "print(hashlib.sha256(s.model_dump_json().encode()).hexdigest())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "12345", "PATH": ""}).stdout.strip()
    assert other == _digest(scenario)


def test_another_seed_gives_other_posts_of_the_same_shape(scenario):
    other = scenarios.load(scenario.name, seed=7)
    assert _digest(other) != _digest(scenario)
    assert other.onset == scenario.onset
    assert 0.8 < len(other.posts) / len(scenario.posts) < 1.25


def test_timeline_and_labels(scenario):
    assert scenario.start + timedelta(days=7) <= scenario.onset < scenario.end
    ids = [p.id for p in scenario.posts]
    assert len(set(ids)) == len(ids)
    assert set(ids) == set(scenario.post_labels)
    assert [p.created_at for p in scenario.posts] == sorted(p.created_at for p in scenario.posts)
    assert all(scenario.start <= p.created_at < scenario.end for p in scenario.posts)
    first = [p for p in scenario.posts if scenario.post_labels[p.id]["kind"] == "first"]
    assert len(first) == 1 and first[0].created_at == scenario.onset
    early = [p for p in scenario.posts if p.created_at < scenario.onset]
    assert {scenario.post_labels[p.id]["phase"] for p in early} <= {"background", "precursor"}
    assert 1000 < len(scenario.posts) < 6000  # a few thousand: the demo stays fast


def test_native_ids_grow_with_time_like_real_ones(scenario):
    """Spiders page and keep cursors by id: a later post must never have a smaller id."""
    for platform in ("weibo", "bilibili", "mastodon", "hackernews", "appstore"):
        natives = [int(p.id.split(":", 1)[1]) for p in scenario.posts if p.source == platform]
        assert natives == sorted(natives), platform


def test_config_is_valid_and_expected_alerts_refer_to_it(scenario):
    config = Config.model_validate(scenario.config)
    watchlists = {w.name for w in config.watchlists}
    assert config.crisis_lexicon and config.rules
    assert scenario.expected_alerts
    for expected in scenario.expected_alerts:
        assert expected.watchlist in watchlists
        assert scenario.onset < expected.latest_at <= scenario.onset + timedelta(hours=6)
    assert max(e.min_level for e in scenario.expected_alerts) >= Level.orange


def _local_hour_counts(scenario, tz_hours: int) -> Counter:
    counts = Counter()
    for post in scenario.posts:
        label = scenario.post_labels[post.id]
        if label["phase"] == "background":
            counts[(post.created_at + timedelta(hours=tz_hours)).hour] += 1
    return counts


@pytest.mark.parametrize("name,tz_hours", [("food_safety_zh", 8), ("airline_outage_en", -4)])
def test_background_has_a_daily_cycle(name, tz_hours):
    counts = _local_hour_counts(scenarios.load(name), tz_hours)
    night = sum(counts[h] for h in (2, 3, 4, 5))
    evening = sum(counts[h] for h in (18, 19, 20, 21))
    assert evening > 4 * night > 0


def _negative_share(scenario, phase: str) -> float:
    labels = [scenario.post_labels[p.id] for p in scenario.posts
              if scenario.post_labels[p.id]["phase"] == phase and scenario.post_labels[p.id]["kind"] == "ordinary"]
    return sum(1 for label in labels if label["sentiment"] == "negative") / len(labels)


def test_sentiment_recovers_only_partly_after_the_response(scenario):
    background, crisis, response = (_negative_share(scenario, p) for p in ("background", "crisis", "response"))
    assert background < 0.2 and crisis > 0.8
    assert background < response < crisis
    official = [p for p in scenario.posts if scenario.post_labels[p.id]["kind"] == "official"]
    assert official and min(p.created_at for p in official) > scenario.onset
    assert all(p.author.verified for p in official)


def test_food_scare_spreads_weibo_then_bilibili_then_news(food):
    first_seen = {}
    for post in food.posts:
        if food.post_labels[post.id]["phase"] != "background" and food.post_labels[post.id]["kind"] != "news":
            first_seen.setdefault(post.source, post.created_at)
        elif food.post_labels[post.id]["kind"] == "news" and post.created_at > food.onset:
            first_seen.setdefault("news", post.created_at)
    assert first_seen["weibo"] <= food.onset < first_seen["bilibili"] < first_seen["news"]
    assert {p.source for p in food.posts} == {"weibo", "bilibili", "rss"}


def test_food_scare_has_traditional_chinese_and_an_influential_amplifier(food):
    to_simplified = OpenCC("t2s")
    crisis = [p for p in food.posts if p.created_at >= food.onset]
    traditional = [p for p in crisis if to_simplified.convert(p.text) != p.text]
    assert len(traditional) >= 30
    assert any("脹袋" in p.text or "優酪乳" in p.text for p in traditional)
    influencer = [p for p in crisis if food.post_labels[p.id]["kind"] == "influencer" and p.source == "weibo"]
    assert influencer and influencer[0].author.followers >= 1_000_000
    assert influencer[0].engagement.shares > 10 * max(p.engagement.shares or 0 for p in food.posts
                                                      if p.created_at < food.onset)
    reposts = [p for p in crisis if p.parent_id == influencer[0].id]
    assert len(reposts) >= 20


def _shingles(text: str) -> set[str]:
    words = re.findall(r"[#\w$']+", text.lower())
    return {" ".join(words[i:i + 3]) for i in range(len(words) - 2)}


def test_airline_has_a_near_duplicate_campaign_across_platforms(airline):
    campaign = [p for p in airline.posts if airline.post_labels[p.id]["kind"] == "campaign"]
    assert len(campaign) >= 50
    reference = _shingles(campaign[0].text)
    similar = [p for p in campaign
               if len(reference & _shingles(p.text)) / len(reference | _shingles(p.text)) >= 0.5]
    assert len(similar) >= 0.8 * len(campaign)
    assert len({p.text for p in campaign}) >= 10  # near, not exact, duplicates
    assert {"mastodon", "bluesky", "appstore"} <= {p.source for p in campaign}
    ordinary = [p for p in airline.posts if airline.post_labels[p.id]["kind"] == "ordinary"][:300]
    assert sum(1 for p in ordinary if len(reference & _shingles(p.text)) / len(reference | _shingles(p.text) or {1})
               >= 0.5) == 0


def test_airline_covers_every_platform_and_reviews_have_ratings(airline):
    assert {p.source for p in airline.posts} == {"mastodon", "bluesky", "hackernews", "reddit", "appstore", "rss"}
    reviews = [p for p in airline.posts if p.source == "appstore"]
    assert all(p.title and 1 <= p.raw["rating"] <= 5 for p in reviews)
    before = [p.raw["rating"] for p in reviews if p.created_at < airline.onset]
    during = [p.raw["rating"] for p in reviews if airline.onset <= p.created_at < airline.onset + timedelta(hours=6)]
    assert sum(before) / len(before) > 3.5 > 1.8 > sum(during) / len(during)
    comments = [p for p in airline.posts if p.source == "reddit" and p.parent_id]
    assert comments and all(p.id.startswith("reddit:t1_") and p.thread_id.startswith("reddit:t3_") for p in comments)
