"""source_silence: a source that delivered nothing for longer than expected.

Without this rule a broken crawler looks exactly like a calm day. The gap is measured from
the newest post of the source that is not dated in the future (a wrong clock on one post
must not hide a gap), or from the newest post a crawl reported; failed crawls are shown as
evidence. A source that never ran and never delivered is "not started", not silent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from crisiswatch.core.config import SourceConfig, parse_duration
from crisiswatch.core.model import as_utc
from crisiswatch.core.store.base import PostFilter

from alerts.detectors import Evaluation, RuleContext, idle
from alerts.detectors.volume import describe_span
from alerts.severity import rule_level

DEFAULT_INTERVAL = timedelta(hours=1)


def schedule_interval(schedule: str) -> timedelta:
    """How often a schedule runs: a duration (``15m``) or a cron expression (``*/10 * * * *``)."""
    try:
        return parse_duration(schedule)
    except ValueError:
        pass
    fields = schedule.split()
    if len(fields) != 5:
        return DEFAULT_INTERVAL
    minute, hour = fields[0], fields[1]
    if minute.startswith("*/") and minute[2:].isdigit():
        return timedelta(minutes=int(minute[2:]))
    if minute == "*":
        return timedelta(minutes=1)
    if hour.startswith("*/") and hour[2:].isdigit():
        return timedelta(hours=int(hour[2:]))
    if hour == "*":
        return timedelta(hours=1)
    return timedelta(days=1)


def expected_gap(source: SourceConfig | None, default: str | None) -> timedelta:
    if source is not None and source.expected_interval:
        return parse_duration(source.expected_interval)
    if source is not None:
        return 3 * schedule_interval(source.schedule)
    return parse_duration(default) if default else 3 * DEFAULT_INTERVAL


def source_silence(ctx: RuleContext) -> list[Evaluation]:
    configured = {s.name: s for s in ctx.config.sources}
    names = ctx.params.sources or [s.name for s in ctx.config.sources if s.enabled]
    now = ctx.now
    evaluations = []
    for name in names:
        expected = expected_gap(configured.get(name), ctx.params.expected_interval)
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
