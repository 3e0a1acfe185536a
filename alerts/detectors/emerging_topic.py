"""emerging_topic: a negative topic cluster that is new, or growing much faster than usual."""

from __future__ import annotations

import math

from pydantic import Field

from crisiswatch.core.extensions import DetectorSpec
from crisiswatch.core.schedule import parse_duration

from alerts.baseline import anscombe
from alerts.detectors.base import (ZSCORE_THRESHOLDS, DetectorParams, Evaluation, RuleContext, collect_evidence,
                                   describe_span, idle, scope_name, series_start, topic_keywords)
from alerts.severity import rule_level


class EmergingTopicParams(DetectorParams):
    growth: float = Field(default=3.0, gt=1.0)
    """A known topic must grow at least this much over its usual rate; a new one just needs min_count."""
    negative_only: bool = True


def emerging_topic(ctx: RuleContext) -> list[Evaluation]:
    """Topics of (negative) posts in the window against their rate over the baseline period.

    The expected count of a topic is its baseline-period count scaled to the window length;
    a topic never seen before has an expectation of zero. Score: the Anscombe z-score of the
    window count (Poisson noise ~ 1); a known topic must also exceed ``growth`` x expected.
    """
    params, end, window_start = ctx.params, ctx.bucket_end, ctx.window_start
    start = series_start(ctx, window_start)
    if start is None:
        return [idle(ctx, title="no posts in the store yet")]
    base = ctx.base_filter()
    if params.negative_only and base.sentiments is None:
        base = base.narrow(sentiments=("negative",))
    now = {t.term: t.count for t in ctx.store.count_by_field("topic_id", base.narrow(since=window_start, until=end),
                                                               limit=20) if t.term not in ("none", "-1")}
    if not now:
        return [idle(ctx, title="no topic in the window")]
    has_history = window_start - start >= max(parse_duration(params.min_history), ctx.bucket)
    past = {}
    if has_history and start < window_start:
        past = ctx.cache.field_counts("topic_id", base, start, window_start, ctx.bucket,
                                      parse_duration(params.settle), tag=f"w{int(ctx.window.total_seconds())}")
    scale = (end - window_start) / (window_start - start) if has_history and window_start > start else 0.0
    best = None
    for topic, count in now.items():
        expected = past.get(topic, 0) * scale
        z = float(anscombe(count) - anscombe(expected))
        grows = count >= params.growth * expected if expected > 0 else True
        eligible = count >= ctx.rule.min_count and grows and has_history
        if best is None or (eligible, z) > (best[0], best[1]):
            best = (eligible, z, topic, count, expected)
    eligible, z, topic, count, expected = best
    level = rule_level(z, ctx.thresholds) if eligible else None
    window = base.narrow(since=window_start, until=end, topic_ids=(int(topic),))
    keywords = topic_keywords(ctx, window) if level is not None else []
    label = ", ".join(keywords[:5]) or f"topic {topic}"
    status = "new" if expected == 0 else f"{count / expected:.1f}x its usual rate" if expected else ""
    evaluation = ctx.evaluation(
        observed=count, baseline=round(expected, 2), spread=round(math.sqrt(expected + 0.375), 2), score=z,
        level=level, group_key=f"topic:{topic}" if level is not None else "", window_start=window_start,
        filter=window,
        title=(f"{'new ' if expected == 0 else ''}negative topic '{label}' on {scope_name(ctx)}: {count} posts in "
               f"the last {describe_span(end - window_start)} ({status})"))
    if evaluation.fired:
        evaluation.evidence = collect_evidence(ctx.store, window)
        evaluation.evidence["topic"] = {"id": int(topic), "keywords": keywords}
    return [evaluation]


SPEC = DetectorSpec(
    name="emerging_topic", run=emerging_topic, params=EmergingTopicParams, thresholds=ZSCORE_THRESHOLDS,
    family="volume", story=True, description="a negative topic cluster that is new or growing much faster than usual")
