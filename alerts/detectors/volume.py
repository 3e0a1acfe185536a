"""volume_spike and negative_share: counts and shares against their seasonal baselines."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from crisiswatch.core.config import parse_duration

from alerts.baseline import fit_seasonal, seasonal_deviation, share_deviation
from alerts.detectors import Evaluation, RuleContext, collect_evidence, idle, series_start
from alerts.severity import rule_level

CHART_SPAN = timedelta(days=2)


def describe_span(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def scope_name(ctx: RuleContext) -> str:
    return f"'{ctx.watchlist}'" if ctx.watchlist else f"rule '{ctx.rule.name}'"


def volume_spike(ctx: RuleContext) -> list[Evaluation]:
    """Posts per bucket (and per few buckets, for slow builds) against the seasonal baseline."""
    params, bucket, end = ctx.params, ctx.bucket, ctx.bucket_end
    spans = sorted(set(params.windows))
    start = series_start(ctx, end)
    if start is None:
        return [idle(ctx, title="no posts in the store yet")]
    total = int((end - start) / bucket)
    history_len = total - max(spans)
    if history_len * bucket < max(parse_duration(params.min_history), bucket):
        return [idle(ctx, title="not enough history for a baseline")]
    flt = ctx.base_filter()
    counts = ctx.cache.counts(flt, start, end, bucket, parse_duration(params.settle))
    history, observed = counts[:history_len], counts[history_len:]
    deviations = seasonal_deviation(history, start, bucket, observed, spans)
    eligible = [d for d in deviations if d.observed >= ctx.rule.min_count and d.observed >= params.min_ratio * d.expected]
    best = max(eligible or deviations, key=lambda d: d.z)
    level = rule_level(best.z, ctx.thresholds) if eligible else None
    span_td = best.span * bucket
    ratio = best.observed / best.expected if best.expected > 0 else float("inf")
    title = (f"{best.observed:g} posts on {scope_name(ctx)} in the last {describe_span(span_td)}, "
             f"{'%.1fx' % ratio if np.isfinite(ratio) else 'far above'} the usual {best.expected:.1f}")
    evaluation = ctx.evaluation(observed=best.observed, baseline=best.expected, spread=best.spread, score=best.z,
                                level=level, title=title, window_start=end - span_td,
                                filter=flt.narrow(since=end - span_td, until=end))
    if evaluation.fired:
        evaluation.evidence = collect_evidence(ctx.store, evaluation.filter)
        evaluation.series, evaluation.expected = _chart_series(history, start, bucket, counts)
    return [evaluation]


def _chart_series(history: np.ndarray, start, bucket: timedelta, counts: np.ndarray):  # noqa: ANN001, ANN202
    """The last two days of counts with the expectation fitted on the history only."""
    model = fit_seasonal(history, start, bucket)
    shown = min(len(counts), max(1, int(CHART_SPAN / bucket)))
    first = len(counts) - shown
    starts = [start + (first + k) * bucket for k in range(shown)]
    return list(zip(starts, counts[first:].tolist())), model.expected(starts).tolist()


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
