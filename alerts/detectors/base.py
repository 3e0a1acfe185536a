"""What every detector shares: its input (``RuleContext``), its output (``Evaluation``), the
base of its parameters, and the evidence it attaches.

A detector gets a ``RuleContext`` (the rule, the time, the watchlist it is scoped to, the
store and a series cache) and returns ``Evaluation`` objects: firing or not, each with the
observed value, the baseline, its spread, the score and (when firing) the evidence. Only
data created before the end of the last complete bucket is read: no look-ahead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from crisiswatch.core import registry
from crisiswatch.core.config import Config, RuleConfig, RuleFilter
from crisiswatch.core.extensions import DetectorSpec
from crisiswatch.core.model import Level, Post
from crisiswatch.core.schedule import parse_duration
from crisiswatch.core.store.base import PostFilter, Store

from alerts.series import SeriesCache, floor_time
from alerts.severity import normalized, rule_level

Duration = str
"""A duration as written in the config: ``90s``, ``15m``, ``2h``, ``21d``."""

ZSCORE_THRESHOLDS = {Level.blue: 4, Level.yellow: 6, Level.orange: 9, Level.red: 13}
"""Default levels of the detectors scored in robust z-scores (deviations from the seasonal
baseline in robust standard deviations). Blue starts at 4, not 3: a rule tests ~100 buckets a
day per watchlist, and at 3 the noise alone would open an incident every few days
(bench/detection_quality.py)."""

CHART_SPAN = timedelta(days=2)
"""How much recent history an alert's chart shows."""


class DetectorParams(BaseModel):
    """Base of every detector's ``params`` model: unknown keys are errors (a typo must not
    silently fall back to a default), and the two settings every series reader needs."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    settle: Duration = "2h"
    """Recent buckets are re-read every cycle for this long (late-collected posts and late
    enrichment still count); older bucket counts are cached in the store state."""
    min_history: Duration = "1d"
    """Below this much history before the evaluated bucket the rule stays silent (no baseline)."""

    @field_validator("settle", "min_history")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        parse_duration(value)
        return value


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
    def spec(self) -> DetectorSpec:
        """Looked up by name, never from a fixed table: an unknown detector is an error, not a
        silent default, and a package's detector is found like ours."""
        return registry.get("detectors", self.detector)

    @property
    def family(self) -> str:
        """The detector's signal family: how it combines in the crisis score (severity)."""
        return self.spec.family

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


def describe_span(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def scope_name(ctx: RuleContext) -> str:
    return f"'{ctx.watchlist}'" if ctx.watchlist else f"rule '{ctx.rule.name}'"


def to_post_filter(rule_filter: RuleFilter, watchlist: str | None = None) -> PostFilter:
    def tup(values: list[Any] | None) -> tuple[Any, ...] | None:
        return tuple(values) if values is not None else None

    watchlists = (watchlist,) if watchlist is not None else tup(rule_filter.watchlists)
    return PostFilter(watchlists=watchlists, sources=tup(rule_filter.sources), languages=tup(rule_filter.languages),
                      sentiments=tup(rule_filter.sentiments), emotions=tup(rule_filter.emotions),
                      categories=tup(rule_filter.categories), text=rule_filter.text,
                      min_followers=rule_filter.min_followers, ratings=tup(rule_filter.ratings))


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


def topic_keywords(ctx: RuleContext, flt: PostFilter) -> list[str]:
    """Keywords of the topic of the most-engaged post of ``flt`` (a topic's readable name)."""
    posts = ctx.store.top_posts(flt, order="engagement", limit=1)
    if not posts:
        return []
    enrichment = ctx.store.get_enrichments([posts[0].id]).get(posts[0].id)
    return list(enrichment.topic_keywords) if enrichment else []
