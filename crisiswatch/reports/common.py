"""What both reports share: the HTML environment (escaping on), series from the store, formats."""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from crisiswatch.core.model import Post, as_utc
from crisiswatch.reports import charts
from crisiswatch.core.store.base import PostFilter, Store

TEMPLATES = Path(__file__).with_name("templates")
SENTIMENTS = ("negative", "neutral", "positive")
_SAFE_URL = re.compile(r"^https?://", re.IGNORECASE)


@functools.cache
def environment():
    """Jinja2 with autoescaping for every template: post texts, names and titles are user text."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["safe_url"] = safe_url
    env.filters["when"] = format_time
    env.filters["duration"] = format_duration
    env.filters["pct"] = format_share
    env.filters["num"] = lambda value: "–" if value is None else f"{value:,}"
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def safe_url(value: str | None) -> str | None:
    """Only http(s) links become links: a ``javascript:`` URL in a post must not run."""
    return value if value and _SAFE_URL.match(value.strip()) else None


def format_time(value: datetime | str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC")


def format_duration(value: timedelta | None) -> str:
    """``1 h 25 min``, ``3 d 4 h``, ``–`` for None: how long a response took."""
    if value is None:
        return "–"
    minutes = int(value.total_seconds() // 60)
    if minutes < 0:
        return "-" + format_duration(-value)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def format_share(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def bucket_for(span: timedelta) -> timedelta:
    """A bucket size that gives a readable number of bars (roughly 24 to 120)."""
    for size in (timedelta(minutes=15), timedelta(hours=1), timedelta(hours=3), timedelta(hours=6)):
        if span / size <= 120:
            return size
    return timedelta(days=1)


def floor_time(moment: datetime, size: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    return epoch + ((as_utc(moment) - epoch) // size) * size


def sentiment_series(store: Store, flt: PostFilter, start: datetime, end: datetime,
                     size: timedelta) -> tuple[list[datetime], dict[str, list[int]]]:
    """Posts per bucket split by sentiment; posts without enrichment are their own series."""
    start = floor_time(start, size)
    total = store.count_by_bucket(flt, start, end, size)
    series: dict[str, list[int]] = {}
    for sentiment in SENTIMENTS:
        buckets = store.count_by_bucket(flt.narrow(sentiments=(sentiment,)), start, end, size)
        series[sentiment] = [b.count for b in buckets]
    labelled = [sum(values) for values in zip(*series.values())] if series else []
    series["not enriched"] = [max(0, b.count - n) for b, n in zip(total, labelled)]
    if not any(series["not enriched"]):
        del series["not enriched"]
    return [b.start for b in total], series


def sentiment_shares(store: Store, flt: PostFilter) -> dict[str, Any]:
    """Posts, and the share of each sentiment among the enriched ones."""
    counts = {t.term: t.count for t in store.count_by_field("sentiment", flt)}
    enriched = sum(counts.get(s, 0) for s in SENTIMENTS)
    return {"posts": store.count_posts(flt), "enriched": enriched,
            **{s: (counts.get(s, 0) / enriched if enriched else None) for s in SENTIMENTS}}


def timeline_chart(store: Store, flt: PostFilter, start: datetime, end: datetime, title: str,
                   markers: list[charts.Marker] | None = None) -> str:
    size = bucket_for(end - start)
    starts, series = sentiment_series(store, flt, start, end, size)
    return charts.stacked_timeline(starts, series, f"{title} (per {format_duration(size)})", markers or [],
                                   width_days=size.total_seconds() / 86400)


def post_row(post: Post, enrichment: Any | None = None) -> dict[str, Any]:
    """What a report shows of a post (the template escapes every text field)."""
    return {
        "id": post.id, "source": post.source, "url": safe_url(post.url), "title": post.title,
        "text": post.text if len(post.text) <= 400 else post.text[:399] + "…",
        "author": post.author.handle or post.author.name or "unknown", "followers": post.author.followers,
        "verified": post.author.verified, "engagement": post.engagement.total, "created_at": post.created_at,
        "sentiment": enrichment.sentiment.value if enrichment is not None and enrichment.sentiment else None,
        "emotion": enrichment.emotion if enrichment is not None else None,
        "category": enrichment.category if enrichment is not None else None,
    }


def post_rows(store: Store, posts: list[Post]) -> list[dict[str, Any]]:
    enrichments = store.get_enrichments([p.id for p in posts])
    return [post_row(p, enrichments.get(p.id)) for p in posts]
