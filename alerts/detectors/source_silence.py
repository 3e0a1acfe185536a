"""source_silence: a source that delivered nothing for longer than expected.

Without this rule a broken crawler looks exactly like a calm day. The gap is measured from
the newest post of the source that is not dated in the future (a wrong clock on one post
must not hide a gap), or from the newest post a crawl reported; failed crawls are shown as
evidence. A source that never ran and never delivered is "not started", not silent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import field_validator

from crisiswatch.core.config import STALE_AFTER_RUNS, SourceConfig
from crisiswatch.core.extensions import DetectorSpec
from crisiswatch.core.model import Level, as_utc
from crisiswatch.core.schedule import parse_duration
from crisiswatch.core.store.base import PostFilter

from alerts.detectors.base import DetectorParams, Duration, Evaluation, RuleContext, describe_span, idle
from alerts.severity import rule_level

UNCONFIGURED_INTERVAL = timedelta(hours=1)
"""Assumed crawl interval of a watched source that is not in the config and for which the
rule gives no ``expected_interval`` (posts imported from elsewhere, for instance)."""


class SourceSilenceParams(DetectorParams):
    sources: list[str] | None = None
    """Sources to watch (names as in post ids); None = every configured, enabled source."""
    expected_interval: Duration | None = None
    """Longest normal gap for sources that are not in the config (configured ones follow
    their own ``stale_after()``: ``expected_interval``, else three times their schedule's gap)."""
    min_history: Duration = "0s"

    @field_validator("expected_interval")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


def allowed_gap(source: SourceConfig | None, params: SourceSilenceParams) -> timedelta:
    """How long the source may stay quiet: the config's one staleness rule for a configured
    source (the maintenance health check uses the same), else the rule's fallback."""
    if source is not None:
        return source.stale_after()
    if params.expected_interval:
        return parse_duration(params.expected_interval)
    return STALE_AFTER_RUNS * UNCONFIGURED_INTERVAL


def source_silence(ctx: RuleContext) -> list[Evaluation]:
    configured = {s.name: s for s in ctx.config.sources}
    names = ctx.params.sources or [s.name for s in ctx.config.sources if s.enabled]
    now = ctx.now
    evaluations = []
    for name in names:
        expected = allowed_gap(configured.get(name), ctx.params)
        newest = ctx.store.top_posts(PostFilter(sources=(name,), until=now), order="-created_at", limit=1)
        crawls = [c for c in ctx.store.crawl_history(name, limit=20) if as_utc(c.started_at) <= now][:5]
        last: datetime | None = newest[0].created_at if newest else None
        for crawl in crawls:
            if crawl.newest_post_at is not None and as_utc(crawl.newest_post_at) <= now:
                last = max(last, crawl.newest_post_at) if last else crawl.newest_post_at
        if last is None and not crawls:
            evaluations.append(idle(ctx, unit="× expected gap", group_key=f"source:{name}",
                                    title=f"source '{name}' has not delivered anything yet"))
            continue
        since = last if last is not None else min(as_utc(c.started_at) for c in crawls)
        gap = max(now - since, timedelta(0))
        score = gap / expected
        failing = [c for c in crawls if c.status == "failed"]
        note = ""
        if crawls and crawls[0].status != "ok":
            note = f"; last crawl {crawls[0].status}" + (f": {crawls[0].message}" if crawls[0].message else "")
        evaluation = ctx.evaluation(
            observed=round(gap.total_seconds() / 60, 1), baseline=round(expected.total_seconds() / 60, 1),
            spread=None, score=score, level=rule_level(score, ctx.thresholds), unit="minutes since last post",
            group_key=f"source:{name}",
            title=(f"no posts from source '{name}' for {describe_span(_round_minutes(gap))} "
                   f"(expected at least every {describe_span(expected)}){note}"))
        evaluation.evidence = {
            "source": name, "last_post_at": last.isoformat() if last else None,
            "crawls": [{"started_at": c.started_at.isoformat(), "status": c.status, "items": c.items,
                        "errors": c.errors, "message": c.message} for c in crawls],
            "failed_crawls": len(failing)}
        evaluations.append(evaluation)
    return evaluations


def _round_minutes(gap: timedelta) -> timedelta:
    return timedelta(minutes=max(1, int(gap.total_seconds() // 60)))


SPEC = DetectorSpec(
    name="source_silence", run=source_silence, params=SourceSilenceParams,
    # the gap as a multiple of the allowed gap
    thresholds={Level.blue: 1, Level.yellow: 2, Level.orange: 4, Level.red: 8},
    family="collection", scope="global",
    description="a source that delivered nothing for longer than its schedule allows")
