"""Detectors: one function per rule type, all reading the store through ``Store`` only.

A detector gets a ``RuleContext`` (the rule, the time, the watchlist it is scoped to, the
store and a series cache) and returns ``Evaluation`` objects: firing or not, each with the
observed value, the baseline, its spread, the score and (when firing) the evidence. Only
data created before the end of the last complete bucket is read: no look-ahead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crisiswatch.core.config import Config, RuleConfig, RuleFilter, parse_duration
from crisiswatch.core.model import Level, Post
from crisiswatch.core.store.base import PostFilter, Store

from alerts.series import SeriesCache, floor_time
from alerts.severity import FAMILY, normalized, rule_level

@dataclass
class Evaluation:
    """One rule evaluated for one watchlist (or source / topic) at one time."""

    rule: str
    detector: str
    watchlist: str | None
    bucket_end: datetime
    """End of the last complete bucket evaluated; nothing created after it was read."""
    observed: float
    baseline: float | None
    spread: float | None
    score: float
    level: Level | None
    """Level from the rule's thresholds; None = not firing."""
    group_key: str = ""
    title: str = ""
    """One sentence saying what happened, for the incident and its messages."""
    unit: str = "posts"
    window_start: datetime | None = None
    filter: PostFilter | None = None
    """The posts concerned (for evidence, links and charts)."""
    evidence: dict[str, Any] = field(default_factory=dict)
    series: list[tuple[datetime, float]] | None = None
    """Recent counts per bucket for the chart."""
    expected: list[float] | None = None
    """Seasonal expectation for the same buckets as ``series``."""

    @property
    def fired(self) -> bool:
        return self.level is not None

    @property
    def family(self) -> str:
        return FAMILY.get(self.detector, "volume")

    @property
    def fingerprint(self) -> str:
        return f"{self.rule}|{self.watchlist or '*'}|{self.group_key}"

    def normalized_score(self, thresholds: dict[Level, float]) -> float:
        return normalized(self.score, thresholds)


@dataclass
class RuleContext:
    store: Store
    config: Config
    rule: RuleConfig
    params: Any
    now: datetime
    watchlist: str | None
    cache: SeriesCache
    data_start: datetime | None
    """Creation time of the store's first post: before it, zero counts mean "no data"."""

    @property
    def bucket(self) -> timedelta:
        return parse_duration(self.rule.bucket)

    @property
    def bucket_end(self) -> datetime:
        return floor_time(self.now, self.bucket)

    @property
    def window(self) -> timedelta:
        return max(self.rule.window_td(), self.bucket)

    @property
    def window_start(self) -> datetime:
        """Start of the look-back window, aligned to buckets and at least one bucket long."""
        buckets = max(1, round(self.window / self.bucket))
        return self.bucket_end - buckets * self.bucket

    @property
    def thresholds(self) -> dict[Level, float]:
        return self.rule.level_thresholds()

    def base_filter(self, **changes: Any) -> PostFilter:
        """The rule's filter, scoped to the watchlist, with any fields replaced."""
        return to_post_filter(self.rule.filter, self.watchlist).narrow(**changes)

    def evaluation(self, **fields: Any) -> Evaluation:
        score = fields.pop("score")
        level = fields.pop("level", rule_level(score, self.thresholds))
        return Evaluation(rule=self.rule.name, detector=self.rule.detector, watchlist=self.watchlist,
                          bucket_end=self.bucket_end, score=score, level=level, **fields)


def to_post_filter(rule_filter: RuleFilter, watchlist: str | None = None) -> PostFilter:
    def tup(values: list[Any] | None) -> tuple[Any, ...] | None:
        return tuple(values) if values is not None else None

    watchlists = (watchlist,) if watchlist is not None else tup(rule_filter.watchlists)
    return PostFilter(watchlists=watchlists, sources=tup(rule_filter.sources), languages=tup(rule_filter.languages),
                      sentiments=tup(rule_filter.sentiments), emotions=tup(rule_filter.emotions),
                      categories=tup(rule_filter.categories), text=rule_filter.text,
                      min_followers=rule_filter.min_followers)


def post_snapshot(post: Post) -> dict[str, Any]:
    """What a message shows of a post; kept in the incident so messages need no store."""
    text = post.text if len(post.text) <= 280 else post.text[:279] + "…"
    return {"id": post.id, "source": post.source, "url": post.url, "text": text, "title": post.title,
            "author": post.author.handle or post.author.name, "followers": post.author.followers,
            "engagement": post.engagement.total, "created_at": post.created_at.isoformat()}


def collect_evidence(store: Store, flt: PostFilter, first: int = 3, top: int = 5, terms: int = 10) -> dict[str, Any]:
    """First posts (where it started), most-engaged posts and top terms of ``flt``."""
    return {
        "first_posts": [post_snapshot(p) for p in store.first_posts(flt, limit=first)],
        "top_posts": [post_snapshot(p) for p in store.top_posts(flt, order="engagement", limit=top)],
        "top_terms": [[t.term, t.count] for t in store.top_terms(flt, limit=terms)],
    }


Detector = Callable[[RuleContext], list[Evaluation]]


def registry() -> dict[str, Detector]:
    from alerts.detectors import influencer, keywords, silence, topics, volume

    return {
        "volume_spike": volume.volume_spike,
        "negative_share": volume.negative_share,
        "keyword_burst": keywords.keyword_burst,
        "cross_platform": keywords.cross_platform,
        "influencer": influencer.influencer,
        "emerging_topic": topics.emerging_topic,
        "source_silence": silence.source_silence,
    }


def scopes(rule: RuleConfig, config: Config) -> list[str | None]:
    """The watchlists a rule is evaluated for (None = the rule's filter as a whole)."""
    if rule.detector == "source_silence" or not rule.per_watchlist:
        return [None]
    names = rule.filter.watchlists or [w.name for w in config.watchlists]
    return list(names) or [None]


def series_start(ctx: RuleContext, end: datetime) -> datetime | None:
    """Start of the baseline history ending at ``end``: ``baseline`` long, but never before
    the store's first post (earlier zeros mean "no data", not "quiet"). None on an empty store."""
    if ctx.data_start is None:
        return None
    start = floor_time(end - parse_duration(ctx.rule.baseline), ctx.bucket)
    return max(start, floor_time(ctx.data_start, ctx.bucket))


def idle(ctx: RuleContext, observed: float = 0.0, title: str = "", **fields: Any) -> Evaluation:
    """A non-firing evaluation (still needed: it counts as a calm bucket for open incidents)."""
    return ctx.evaluation(observed=observed, baseline=fields.pop("baseline", None),
                          spread=fields.pop("spread", None), score=fields.pop("score", 0.0), level=None,
                          title=title, **fields)
