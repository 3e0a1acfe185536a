"""The domain model: ids, UTC times, validation and JSON round trips."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from crisiswatch.core.model import (Author, CrawlHealth, Engagement, Enrichment, Incident, IncidentEvent, Level,
                               NotificationRecord, Post)

BEIJING = timezone(timedelta(hours=8))


def test_post_id_must_carry_its_source() -> None:
    assert Post(id="weibo:123", source="weibo", created_at="2026-03-01T08:00:00Z").id == "weibo:123"
    for bad in ("123", ":123", "weibo:"):
        with pytest.raises(ValidationError, match="source"):
            Post(id=bad, source="weibo", created_at="2026-03-01T08:00:00Z")


def test_times_become_utc() -> None:
    post = Post(id="a:1", source="a", created_at=datetime(2026, 3, 1, 16, 0, tzinfo=BEIJING),
                collected_at=datetime(2026, 3, 1, 9, 0))
    assert post.created_at == datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
    assert post.created_at.utcoffset() == timedelta(0)
    assert post.collected_at.tzinfo is not None and post.collected_at.hour == 9  # naive read as UTC
    assert Post.model_validate_json('{"id": "a:1", "source": "a", "created_at": "2026-03-01T16:00:00+08:00"}'
                                    ).created_at.hour == 8


def test_unknown_fields_and_negative_counts_are_rejected() -> None:
    with pytest.raises(ValidationError, match="likes"):
        Engagement(likes=-1)
    with pytest.raises(ValidationError, match="followers"):
        Author(followers=-5)
    with pytest.raises(ValidationError, match="colour"):
        Post(id="a:1", source="a", created_at="2026-03-01T08:00:00Z", colour="red")
    with pytest.raises(ValidationError):
        Enrichment(post_id="a:1", sentiment_score=1.5)
    with pytest.raises(ValidationError):
        Enrichment(post_id="a:1", sentiment="furious")


def test_engagement_total_and_reach() -> None:
    post = Post(id="a:1", source="a", created_at="2026-03-01T08:00:00Z",
                engagement=Engagement(likes=3, shares=None, replies=2, views=1000), author=Author(followers=None))
    assert post.engagement.total == 5  # views are not interactions; unknown counts as 0
    assert post.reach == 0


def test_levels_are_ordered() -> None:
    assert Level.blue < Level.yellow < Level.orange < Level.red
    assert Level.red > Level.yellow and Level.red >= Level.orange and Level.yellow <= Level.yellow
    assert not Level.yellow > Level.red  # by rank, not by name
    assert max([Level.yellow, Level.red, Level.blue]) == Level.red
    assert sorted(Level, reverse=True)[0] == Level.red


@pytest.mark.parametrize("model", [
    Post(id="weibo:1", source="weibo", text="奶粉召回 🍼", title="標題", language="zh",
         created_at="2026-03-01T08:00:00Z", collected_at="2026-03-01T08:05:00.123456Z",
         author=Author(id="9", handle="h", name="名", followers=10, verified=True),
         engagement=Engagement(likes=1, shares=2, replies=3, views=4), parent_id="weibo:0", thread_id="weibo:0",
         watchlists=["acme"], raw={"nested": [1, {"a": None}]}),
    Enrichment(post_id="weibo:1", language="zh", sentiment="negative", sentiment_score=-0.7, emotion="anger",
               emotion_scores={"anger": 0.8}, category="price", category_score=0.5, topic_id=-1,
               topic_keywords=["召回"], duplicate_group="g", models={"sentiment": "m@1"}),
    Incident(id="abc", fingerprint="r|acme|", rule="r", watchlist="acme", title="t", level=Level.orange,
             peak_level=Level.red, opened_at="2026-03-01T08:00:00Z", updated_at="2026-03-01T09:00:00Z",
             evidence={"top_terms": ["召回"]}, events=[IncidentEvent(kind="fired", data={"x": 1})],
             notifications=[NotificationRecord(idempotency_key="abc:0:email", channel="email", event_kind="fired")]),
    CrawlHealth(source="weibo", started_at="2026-03-01T08:00:00Z", finished_at="2026-03-01T08:00:30Z", items=3),
])
def test_json_round_trip(model) -> None:  # noqa: ANN001
    assert type(model).model_validate_json(model.model_dump_json()) == model


def test_crawl_duration() -> None:
    health = CrawlHealth(source="s", started_at="2026-03-01T08:00:00Z", finished_at="2026-03-01T08:01:30Z")
    assert health.duration_s == 90
