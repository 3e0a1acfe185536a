"""negative_share: the share of negative posts (or of any part) against its usual share."""

from __future__ import annotations

from pydantic import Field

from crisiswatch.core.config import RuleFilter
from crisiswatch.core.extensions import DetectorSpec
from crisiswatch.core.schedule import parse_duration

from alerts.baseline import share_deviation
from alerts.detectors.base import (CHART_SPAN, ZSCORE_THRESHOLDS, DetectorParams, Evaluation, RuleContext,
                                   collect_evidence, describe_span, idle, scope_name, series_start)
from alerts.severity import rule_level


class NegativeShareParams(DetectorParams):
    part: RuleFilter = Field(default_factory=lambda: RuleFilter(sentiments=["negative"]))
    """The posts whose share is watched, within the rule's filter (default: negative ones)."""
    min_increase: float = Field(default=0.10, gt=0, lt=1)
    """The share must rise by at least this much (absolute, 0.10 = ten points) over normal."""


def negative_share(ctx: RuleContext) -> list[Evaluation]:
    """Share of negative posts (or of any ``params.part``) among enriched posts of the scope."""
    params, bucket, end = ctx.params, ctx.bucket, ctx.bucket_end
    span = int(round((end - ctx.window_start) / bucket))
    start = series_start(ctx, end)
    if start is None:
        return [idle(ctx, title="no posts in the store yet", unit="share")]
    total = int((end - start) / bucket)
    history_len = total - span
    if history_len * bucket < max(parse_duration(params.min_history), bucket):
        return [idle(ctx, title="not enough history for a baseline", unit="share")]
    base = ctx.base_filter()
    whole = base if base.sentiments is not None else base.narrow(sentiments=("negative", "neutral", "positive"))
    part_fields = {k: tuple(v) if isinstance(v, list) else v
                   for k, v in params.part.model_dump(exclude_none=True).items()}
    part = whole.narrow(**part_fields)
    settle = parse_duration(params.settle)
    part_counts = ctx.cache.counts(part, start, end, bucket, settle)
    whole_counts = ctx.cache.counts(whole, start, end, bucket, settle)
    part_now, whole_now = int(part_counts[history_len:].sum()), int(whole_counts[history_len:].sum())
    deviation = share_deviation(part_counts[:history_len], whole_counts[:history_len], part_now, whole_now,
                                span, min_whole=max(ctx.rule.min_count // 2, 5))
    window_filter = part.narrow(since=end - span * bucket, until=end)
    if deviation is None:
        return [idle(ctx, observed=part_now / whole_now if whole_now else 0.0, unit="share",
                     title="no comparable past window")]
    fires = (whole_now >= ctx.rule.min_count and deviation.observed - deviation.expected >= params.min_increase)
    level = rule_level(deviation.z, ctx.thresholds) if fires else None
    what = "negative" if part_fields == {"sentiments": ("negative",)} else "matching"
    title = (f"{deviation.observed:.0%} of {whole_now} posts on {scope_name(ctx)} are {what} in the last "
             f"{describe_span(span * bucket)}, against a usual {deviation.expected:.0%}")
    evaluation = ctx.evaluation(observed=round(deviation.observed, 4), baseline=round(deviation.expected, 4),
                                spread=round(deviation.spread, 4), score=deviation.z, level=level, title=title,
                                unit="share", window_start=end - span * bucket, filter=window_filter)
    if evaluation.fired:
        evaluation.evidence = collect_evidence(ctx.store, window_filter)
        evaluation.evidence["counts"] = {"part": part_now, "whole": whole_now}
        shown = min(total, max(1, int(CHART_SPAN / bucket)))
        starts = [start + (total - shown + k) * bucket for k in range(shown)]
        evaluation.series = list(zip(starts, part_counts[-shown:].tolist()))
        evaluation.expected = (whole_counts[-shown:] * deviation.expected).tolist()
    return [evaluation]


SPEC = DetectorSpec(
    name="negative_share", run=negative_share, params=NegativeShareParams, thresholds=ZSCORE_THRESHOLDS,
    family="negative", description="share of negative posts against its usual share")
