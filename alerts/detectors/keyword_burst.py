"""keyword_burst: posts using crisis terms (negative ones by default), against their normal rate."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from crisiswatch.core.extensions import DetectorSpec
from crisiswatch.core.schedule import parse_duration

from alerts.baseline import anscombe, seasonal_deviation
from alerts.detectors.base import (ZSCORE_THRESHOLDS, DetectorParams, Duration, Evaluation, RuleContext,
                                   collect_evidence, describe_span, idle, scope_name, series_start)
from alerts.detectors.terms import MAX_TERM_BREAKDOWN, any_of, lexicon, negative_only
from alerts.naming import against_usual
from alerts.severity import rule_level


class KeywordBurstParams(DetectorParams):
    terms: list[str] = Field(default_factory=list)
    """Extra crisis terms for this rule, added to the top-level ``crisis_lexicon``."""
    negative_only: bool = True
    """Count only posts the sentiment model called negative."""
    min_history: Duration = "0s"


def keyword_burst(ctx: RuleContext) -> list[Evaluation]:
    """Posts with crisis-lexicon terms (negative ones by default) in the window, against normal."""
    terms = lexicon(ctx)
    if not terms:
        return [idle(ctx, title="no crisis lexicon configured")]
    bucket, end = ctx.bucket, ctx.bucket_end
    span = int(round((end - ctx.window_start) / bucket))
    start = series_start(ctx, end)
    if start is None:
        return [idle(ctx, title="no posts in the store yet")]
    base = negative_only(ctx, ctx.base_filter())
    flt = base.narrow(text=any_of(terms, base.text))
    start = min(start, end - span * bucket)
    counts = ctx.cache.counts(flt, start, end, bucket, parse_duration(ctx.params.settle))
    history_len = len(counts) - span
    observed = float(counts[history_len:].sum())
    if history_len * bucket >= max(parse_duration(ctx.params.min_history), bucket):
        deviation = seasonal_deviation(counts[:history_len], start, bucket, counts[history_len:], [span])[0]
        expected, spread, z = deviation.expected, deviation.spread, deviation.z
    else:  # no history yet: crisis terms are normally absent, so compare with zero
        expected, spread = 0.0, float(np.sqrt(0.375))
        z = float(anscombe(observed) - anscombe(0.0))
    fires = observed >= ctx.rule.min_count and observed > expected
    level = rule_level(z, ctx.thresholds) if fires else None
    window = flt.narrow(since=end - span * bucket, until=end)
    evaluation = ctx.evaluation(observed=observed, baseline=expected, spread=spread, score=z, level=level,
                                window_start=end - span * bucket, filter=window,
                                title=(f"{observed:g} {'negative ' if base.sentiments == ('negative',) else ''}"
                                       f"posts on {scope_name(ctx)} use crisis terms in the last "
                                       f"{describe_span(span * bucket)}, {against_usual(expected)}"))
    if evaluation.fired:
        evaluation.evidence = collect_evidence(ctx.store, window)
        matched = []
        for term in terms[:MAX_TERM_BREAKDOWN]:
            n = ctx.store.count_posts(base.narrow(since=end - span * bucket, until=end, text=any_of([term], base.text)))
            if n:
                matched.append([term, n])
        matched.sort(key=lambda item: -item[1])
        evaluation.evidence["crisis_terms"] = matched
        if matched:
            evaluation.title += " (" + ", ".join(t for t, _ in matched[:4]) + ")"
        shown = min(len(counts), 192)
        starts = [start + (len(counts) - shown + k) * bucket for k in range(shown)]
        evaluation.series = list(zip(starts, counts[-shown:].tolist()))
    return [evaluation]


SPEC = DetectorSpec(
    name="keyword_burst", run=keyword_burst, params=KeywordBurstParams, thresholds=ZSCORE_THRESHOLDS,
    family="negative", story=True,
    description="posts with crisis-lexicon terms in the window against their seasonal baseline")
