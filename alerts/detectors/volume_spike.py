"""volume_spike: posts per bucket (and per few buckets) against their seasonal baseline.

The seasonal baseline (``alerts.baseline``) learns each time-of-day slot from the days seen.
With few days a slot seen quiet is a guess, not a zero: as for ``sustained_shift``
(``alerts.learning``), the expectation is shrunk toward the flat level of the history, a
prior worth one bucket against ``3·days`` observed ones ("8 posts, far above the usual 0.0"
on the second night of a watchlist was an alarm). After three weeks this moves a night
slot's expectation by a few per cent. The estimation noise of few days is not added here:
tried (``π/2/days`` on the spread, as ``sustained_shift`` does), it took the demo's food
scare from orange to yellow, for two fewer airline alarms (US Airways on its second morning,
against a first morning that was the collection starting, and a 4x hour of Southwest).

**A slot's noise is that of a count of its own mean.** The z is ``(A(O) − A(E))/σ`` on the
Anscombe scale ``A``, ``σ`` the robust spread of past residuals (never below 1), pooled over
the day. 1 is the Anscombe sd of a *large* Poisson count; a count of small mean has less
(0.79 at 0.77 posts per bucket, 0.47 at 0.2), so a quiet night slot was judged against a
noise it does not have: 9 posts against 0.77 (Poisson tail ~1e-7) scored 3.98, under blue,
and a night-time crisis whose first bucket happened to be thin waited a bucket more
(bench/detection_quality.py, night-co). ``σ`` is read as an over-dispersion factor on the
noise of a count of the slot's expectation, ``σ·sd(A(X))``, ``X`` Poisson of ``E`` (9
against 0.77: z 5.0); from ~5 posts per bucket ``sd(A(X))`` is 1 within 2 %, so day-time and
large-brand scores do not change. (It was first applied at ``σ = 1`` only, which made the
score jump with the spread: 9 posts against 0.95 at night scored 4.6 at ``σ = 1.00`` and 3.7,
silent, at ``σ = 1.04``; now 4.4.) At the tiniest expectations the Anscombe scale is too
skewed for that to be a z (6 against 0.13 would be 9, orange), so a rise scores at most the
exact tail ``P(X ≥ O)`` of the quasi-Poisson count (dispersion ``σ²``) as a normal quantile
(5.7 there), and never less than before. Considered and not taken: scoring
rises by the exact tail everywhere; it also raises moderate counts (77 against 46: 4.06
instead of 3.91), i.e. it would move the thresholds the bench chose on this scale.

**Before ``min_history``** (a new watchlist, history counted from its own first post: the
days before it was created are no data, not zeros) the rule does not wait a day: it tests
the last 15 minutes to one hour against the watchlist's own two hours before them
(``alerts.growth``), which a daily cycle cannot multiply by more than ~1.4; so a burst of
ten times alerts from the first hour and a first morning does not."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
from pydantic import Field, field_validator

from crisiswatch.core.extensions import DetectorSpec
from crisiswatch.core.schedule import parse_duration

from alerts.baseline import Deviation, anscombe, fit_seasonal, seasonal_deviation
from alerts.detectors.base import (CHART_SPAN, ZSCORE_THRESHOLDS, DetectorParams, Duration, Evaluation, RuleContext,
                                   collect_evidence, describe_span, idle, scope_name, series_start)
from alerts.detectors.sustained_shift import predictive_z
from alerts.growth import growth_tests, strongest
from alerts.learning import DAY, PRIOR_BUCKETS, PRIOR_SHAPE, shrink_slots, watchlist_start
from alerts.series import floor_time
from alerts.severity import rule_level


class VolumeSpikeParams(DetectorParams):
    min_ratio: float = Field(default=1.5, gt=1.0)
    """Observed count must also be at least this multiple of the expected count."""
    windows: list[int] = Field(default_factory=lambda: [1, 4], min_length=1)
    """Spans (in buckets) tested at once: 1 catches sudden spikes, longer spans slow builds."""
    cold_spans: list[Duration] = Field(default_factory=lambda: ["15m", "30m", "1h"], min_length=1)
    """Before ``min_history``: spans tested against the two hours before them (``alerts.growth``)."""

    @field_validator("cold_spans")
    @classmethod
    def _durations(cls, value: list[str]) -> list[str]:
        for item in value:
            if parse_duration(item) <= timedelta(0):
                raise ValueError("cold_spans are positive durations such as 15m or 1h")
        return value

    @field_validator("windows")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(v < 1 for v in value):
            raise ValueError("window spans are numbers of buckets, at least 1")
        return value


def volume_spike(ctx: RuleContext) -> list[Evaluation]:
    """Posts per bucket (and per few buckets, for slow builds) against the seasonal baseline."""
    params, bucket, end = ctx.params, ctx.bucket, ctx.bucket_end
    spans = sorted(set(params.windows))
    start = series_start(ctx, end)
    first = watchlist_start(ctx.store, ctx.watchlist, end) if ctx.watchlist else ctx.data_start
    if start is None or first is None:
        return [idle(ctx, title="no posts yet")]
    start = max(start, floor_time(first, bucket))  # before its first post a watchlist has no data, not zeros
    total = int((end - start) / bucket)
    history_len = total - max(spans)
    flt = ctx.base_filter()
    if history_len * bucket < max(parse_duration(params.min_history), bucket):
        return [cold_start(ctx, flt, start, end - first)]
    counts = ctx.cache.counts(flt, start, end, bucket, parse_duration(params.settle))
    history, observed = counts[:history_len], counts[history_len:]
    days = max(1.0, int(np.sum(~np.isnan(history))) * bucket / DAY)
    level = (PRIOR_SHAPE + float(np.nansum(history))) / (PRIOR_BUCKETS + int(np.sum(~np.isnan(history))))
    deviations = [learned(d, level, days) for d in seasonal_deviation(history, start, bucket, observed, spans)]
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


def cold_start(ctx: RuleContext, flt, start, history) -> Evaluation:  # noqa: ANN001
    """Before ``min_history``: the last 15-60 minutes against the watchlist's own last two hours
    (``alerts.growth``): a burst faster than any daily cycle alerts from the first hour."""
    params, bucket, end = ctx.params, ctx.bucket, ctx.bucket_end
    counts = ctx.cache.counts(flt, start, end, bucket, parse_duration(params.settle))
    spans = sorted({max(1, round(parse_duration(s) / bucket)) for s in params.cold_spans})
    tests = growth_tests(counts, bucket, spans)
    hours = f"{history.total_seconds() / 3600:.0f} h"
    if not tests:
        return idle(ctx, title=f"learning: {hours} of history, nothing to compare with yet")
    eligible = [t for t in tests if t.observed >= ctx.rule.min_count and t.observed >= params.min_ratio * t.expected]
    best, score = strongest(tests, eligible)
    level = rule_level(score, ctx.thresholds) if eligible else None
    span_td = best.span * bucket
    title = (f"{best.observed:g} posts on {scope_name(ctx)} in the last {describe_span(span_td)}, "
             f"{best.observed / best.expected:.1f}x the rate of the {describe_span(best.reference_buckets * bucket)} "
             f"before (baseline still learning: {hours} of history)")
    evaluation = ctx.evaluation(observed=best.observed, baseline=best.expected,
                                spread=best.expected * math.sqrt(math.expm1(best.log_variance)) + math.sqrt(best.expected),
                                score=score, level=level, title=title, window_start=end - span_td,
                                filter=flt.narrow(since=end - span_td, until=end))
    evaluation.evidence["learning"] = True
    evaluation.evidence["growth"] = [{"span": describe_span(t.span * bucket), "observed": t.observed,
                                      "expected": round(t.expected, 2), "z": round(t.z, 2)} for t in tests]
    if evaluation.fired:
        evaluation.evidence.update(collect_evidence(ctx.store, evaluation.filter))
        evaluation.series = [(start + k * bucket, float(c)) for k, c in enumerate(np.nan_to_num(counts))]
    return evaluation


def learned(deviation: Deviation, level: float, days: float) -> Deviation:
    """``deviation`` with its expectation shrunk toward the flat ``level`` per bucket, learned from
    ``days`` days (module docstring); the spread (robust sigma on the Anscombe scale) is kept."""
    expected = float(shrink_slots(np.array([deviation.expected]), level * deviation.span, days)[0])
    sigma = deviation.spread / float(np.sqrt(deviation.expected + 0.375))
    z = float((anscombe(deviation.observed) - anscombe(expected)) / sigma)
    if deviation.observed > expected:  # the noise of a count of this mean (module docstring)
        own_z = float((anscombe(deviation.observed) - anscombe(expected)) / (sigma * anscombe_poisson_sd(expected)))
        z = max(z, min(own_z, predictive_z(deviation.observed, expected, sigma * sigma, 0.0)))
    return Deviation(observed=deviation.observed, expected=expected, spread=sigma * float(np.sqrt(expected + 0.375)),
                     z=z, span=deviation.span)


def anscombe_poisson_sd(mean: float) -> float:
    """Standard deviation of ``anscombe(X)`` for ``X`` Poisson of ``mean``: 1 for large means, less
    for small ones (0.78 at 0.77, 0.5 at 0.2): the Poisson noise floor of the Anscombe scale."""
    if mean >= 30:
        return 1.0
    k = np.arange(int(mean + 12 * math.sqrt(mean) + 25))
    p = np.exp(k * math.log(max(mean, 1e-12)) - mean - np.array([math.lgamma(i + 1) for i in k]))
    a = anscombe(k)
    m = float(np.dot(p, a))
    return max(float(math.sqrt(max(np.dot(p, a * a) - m * m, 0.0))), 1e-3)


def _chart_series(history: np.ndarray, start, bucket: timedelta, counts: np.ndarray):  # noqa: ANN001, ANN202
    """The last two days of counts with the expectation fitted on the history only."""
    model = fit_seasonal(history, start, bucket)
    shown = min(len(counts), max(1, int(CHART_SPAN / bucket)))
    first = len(counts) - shown
    starts = [start + (first + k) * bucket for k in range(shown)]
    return list(zip(starts, counts[first:].tolist())), model.expected(starts).tolist()


SPEC = DetectorSpec(
    name="volume_spike", run=volume_spike, params=VolumeSpikeParams, thresholds=ZSCORE_THRESHOLDS,
    family="volume", description="posts per bucket against a seasonal, robust baseline")
