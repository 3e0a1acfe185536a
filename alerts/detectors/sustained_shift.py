"""sustained_shift: a moderate rise that persists, in all posts or in negative ones.

Why another volume rule: a complaint wave (a winter storm, an outage) doubles a brand's
volume for a day. No single 15-minute bucket is unusual, so ``volume_spike`` stays quiet
for hours, and ``negative_share`` stays flat because everything grows (two thirds of an
airline's tweets are negative on a normal day). What *is* unusual is the sum over hours.

**Evidence per span.** For each span ``s`` (default 1 h, 3 h, 6 h, 24 h) and each signal
(all posts of the scope; the posts of ``part``, by default the negative ones) the observed
count ``O`` of the last ``s`` is compared with its expectation ``E`` from the history
*before* that span (so the history never contains the rise being tested, and each span is
a candidate change point ``s`` ago). The test is a Poisson likelihood ratio with
over-dispersion: the signed root of the deviance ``2·(O·ln(O/E) − (O − E))`` divided by
``sqrt(φ)``, where ``φ`` = predictive variance / ``E`` adds, to Poisson noise,

* the history's own over-dispersion (MAD of past residuals of ``s``-sums, once there are
  two days),
* the estimation noise of the seasonal expectation itself (learned from few days), and
* what is not known yet about a new watchlist: the uncertainty of its level and of its
  daily cycle (``alerts.learning``: a wide rate prior that narrows as history accrues).

**Combining.** The rule reports the strongest (signal, span) whose count also passes
``min_count``, ``min_ratio`` and ``min_excess``, with its z converted to a family-wise
z by Bonferroni over the ``m`` pairs tested: ``z' = Φ⁻¹(1 − m·(1 − Φ(z)))``. So testing
8 pairs costs ~0.5 of z at the blue threshold; nothing is summed across spans or signals
(negative posts are part of all posts: their evidence is not independent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import NormalDist

import numpy as np
from pydantic import Field, field_validator

from crisiswatch.core.config import RuleFilter
from crisiswatch.core.extensions import DetectorSpec
from crisiswatch.core.model import Level
from crisiswatch.core.schedule import parse_duration
from crisiswatch.core.store.base import PostFilter

from alerts.baseline import SeasonalModel, _rolling_sum, anscombe, fit_seasonal, mad_sd
from alerts.detectors.base import (CHART_SPAN, DetectorParams, Duration, Evaluation, RuleContext,
                                   collect_evidence, describe_span, idle, scope_name)
from alerts.learning import DAY, DIURNAL_SD, PRIOR_BUCKETS, PRIOR_SHAPE, shape_weight, watchlist_start
from alerts.series import floor_time
from alerts.severity import rule_level

THRESHOLDS = {Level.blue: 3.5, Level.yellow: 5, Level.orange: 7, Level.red: 10}
"""Family-wise z, already corrected for the spans and signals tested in one bucket. From the
false-alarm budget, not from a benchmark: at blue 3.5 a correctly modelled quiet series
crosses it with p ~ 2e-4 per bucket, ~0.15 times a week at 96 buckets a day (budget: 1).
Yellow at 5: a rise confirmed over hours is a warning even when it is moderate."""


SLOT_EFFICIENCY = math.pi / 2
"""Variance of a median (trimmed mean of few days) relative to a mean: how noisy a slot's
expectation is when it is learned from few days."""


class SustainedShiftParams(DetectorParams):
    spans: list[Duration] = Field(default_factory=lambda: ["1h", "3h", "6h", "24h"], min_length=1)
    """Look-back spans tested at every bucket; each is a candidate change point."""
    part: RuleFilter | None = Field(default_factory=lambda: RuleFilter(sentiments=["negative"]))
    """Second signal: these posts counted on their own (default: negative ones); null = only all posts."""
    min_ratio: float = Field(default=1.3, gt=1.0)
    """The span's count must be at least this multiple of its expectation."""
    min_excess: float = Field(default=5.0, ge=0)
    """...and at least this many posts above it."""
    learning: Duration = "3d"
    """History after which the baseline counts as learned (see ``alerts.learning``)."""
    min_history: Duration = "1h"

    @field_validator("spans", "learning")
    @classmethod
    def _durations(cls, value):  # noqa: ANN001, ANN206
        for item in value if isinstance(value, list) else [value]:
            parse_duration(item)
        return value


@dataclass(frozen=True)
class Test:
    signal: str
    span: int
    observed: float
    expected: float
    dispersion: float
    z: float
    eligible: bool


def deviance_z(observed: float, expected: float, dispersion: float) -> float:
    """Signed root of the Poisson deviance, scaled by the over-dispersion."""
    expected = max(expected, 1e-9)
    term = observed * math.log(observed / expected) if observed > 0 else 0.0
    dev = max(0.0, 2.0 * (term - (observed - expected)))
    return math.copysign(math.sqrt(dev / max(dispersion, 1.0)), observed - expected)


def familywise(z: float, tests: int) -> float:
    """Bonferroni: the z whose one-sided tail is ``tests`` times that of ``z``."""
    if tests <= 1 or z <= 0:
        return z
    p = 0.5 * math.erfc(z / math.sqrt(2))
    if p * tests < 1e-12:  # far tail: Φ⁻¹ loses precision; the tail's own asymptotics
        return math.sqrt(max(0.0, z * z - 2 * math.log(tests)))
    return NormalDist().inv_cdf(max(1e-300, 1 - min(0.5, p * tests)))


def span_test(counts: np.ndarray, start: datetime, bucket: timedelta, span: int, learning: timedelta,
              signal: str, min_count: int, min_ratio: float, min_excess: float,
              model: SeasonalModel | None = None) -> Test | None:
    """One (signal, span) test on ``counts`` (NaN = no data), history = everything before the span.

    ``model``: the seasonal model fitted once per signal on the history before the shortest
    span (a longer span's own buckets are then at most one day in each slot's trimmed mean,
    which drops it); fitted here on this span's history when not given."""
    history, observed = counts[:-span], counts[-span:]
    known = ~np.isnan(history)
    buckets = int(known.sum())
    if buckets == 0 or np.isnan(observed).any():
        return None
    n_posts = float(np.nansum(history))
    w = shape_weight(buckets * bucket, learning)
    level = (PRIOR_SHAPE + n_posts) / (PRIOR_BUCKETS + buckets)
    per_bucket = np.full(span, level)  # expectation of each bucket of the span
    overdispersion = 1.0
    if w > 0:
        model = model or fit_seasonal(history, start, bucket)
        per_bucket = w * model.expected_range(start + len(history) * bucket, span) + (1 - w) * level
        if buckets * bucket >= timedelta(days=2):
            sums = _rolling_sum(history, span)
            exp_sums = _rolling_sum(model.expected_range(start, len(history)), span)
            with np.errstate(invalid="ignore"):
                sigma = mad_sd(anscombe(sums) - anscombe(exp_sums))
            overdispersion = 1.0 if np.isnan(sigma) else max(1.0, sigma * sigma)
    expected = max(float(per_bucket.sum()), 1e-6)
    # the seasonal expectation is itself estimated from a few days (a trimmed mean of ~d values per
    # slot: variance ~ (pi/2)·E/d); in-sample residuals do not show that, so it is added here
    days = max(1.0, buckets * bucket / timedelta(days=1))
    estimation = w * overdispersion * SLOT_EFFICIENCY / days
    variance = (overdispersion + estimation) * expected + expected ** 2 * (
        1 / (PRIOR_SHAPE + n_posts) + (DIURNAL_SD * (1 - w)) ** 2)
    dispersion = variance / expected
    obs = float(observed.sum())
    z = deviance_z(obs, expected, dispersion)
    # no "still raised now" condition: tried, it made an ended crisis's 24 h echo flicker into
    # new incidents (bench: 0.17 -> 1.08 false alarms a week); the echo keeps the incident open
    eligible = obs >= min_count and obs >= min_ratio * expected and obs - expected >= min_excess
    return Test(signal, span, obs, expected, dispersion, z, eligible)


def sustained_shift(ctx: RuleContext) -> list[Evaluation]:
    """Strongest persistent rise over the configured spans, in all posts and in ``part``."""
    params, bucket, end = ctx.params, ctx.bucket, ctx.bucket_end
    first = watchlist_start(ctx.store, ctx.watchlist, end) if ctx.watchlist else ctx.data_start
    if first is None:
        return [idle(ctx, title="no posts yet")]
    start = max(floor_time(end - parse_duration(ctx.rule.baseline), bucket), floor_time(first, bucket))
    n = int((end - start) / bucket)
    spans = sorted({max(1, round(parse_duration(s) / bucket)) for s in params.spans})
    min_history = max(parse_duration(params.min_history), bucket)
    learning = parse_duration(params.learning)
    base = ctx.base_filter()
    signals: dict[str, PostFilter] = {"all": base}
    if params.part is not None:
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in params.part.model_dump(exclude_none=True).items()}
        signals["part"] = base.narrow(**fields)
    settle = parse_duration(params.settle)
    series = {name: ctx.cache.counts(flt, start, end, bucket, settle) if n > 0 else np.zeros(0)
              for name, flt in signals.items()}
    tests: list[Test] = []
    for name, counts in series.items():
        usable = [span for span in spans if (n - span) * bucket >= min_history]
        model = None
        if usable and (n - usable[0]) * bucket > DAY:  # the shape weight is 0 before one day
            model = fit_seasonal(counts[:n - usable[0]], start, bucket)
        for span in usable:
            test = span_test(counts, start, bucket, span, learning, name, ctx.rule.min_count, params.min_ratio,
                             params.min_excess, model)
            if test is not None:
                tests.append(test)
    history = end - first
    learning_note = f" (baseline still learning: {history.total_seconds() / 3600:.0f} h of history)" \
        if history < learning else ""
    if not tests:
        return [idle(ctx, title="not enough history yet" + learning_note)]
    eligible = [t for t in tests if t.eligible]
    best = max(eligible or tests, key=lambda t: t.z)
    score = familywise(best.z, len(tests))
    level = rule_level(score, ctx.thresholds) if eligible else None
    span_td = best.span * bucket
    what = "posts" if best.signal == "all" else ("negative posts" if params.part == RuleFilter(sentiments=["negative"])
                                                 else "matching posts")
    ratio = best.observed / best.expected if best.expected > 0 else float("inf")
    title = (f"sustained rise: {best.observed:g} {what} on {scope_name(ctx)} in the last {describe_span(span_td)}, "
             f"{ratio:.1f}x the usual {best.expected:.1f}" + learning_note)
    flt = signals[best.signal]
    evaluation = ctx.evaluation(observed=best.observed, baseline=best.expected,
                                spread=math.sqrt(best.dispersion * best.expected), score=score, level=level,
                                title=title, window_start=end - span_td,
                                filter=flt.narrow(since=end - span_td, until=end))
    evaluation.evidence["spans"] = [
        {"signal": t.signal, "span": describe_span(t.span * bucket), "observed": t.observed,
         "expected": round(t.expected, 2), "z": round(t.z, 2)} for t in tests]
    evaluation.evidence["learning"] = bool(learning_note)
    if evaluation.fired:
        evaluation.evidence.update(collect_evidence(ctx.store, evaluation.filter))
        counts = series[best.signal]
        shown = min(len(counts), max(1, int(CHART_SPAN / bucket)))
        starts = [start + (len(counts) - shown + k) * bucket for k in range(shown)]
        evaluation.series = list(zip(starts, np.nan_to_num(counts[-shown:]).tolist()))
    return [evaluation]


SPEC = DetectorSpec(
    name="sustained_shift", run=sustained_shift, params=SustainedShiftParams, thresholds=THRESHOLDS,
    family="volume",
    description="a moderate rise that persists (1-24 h), in all posts and in negative ones; cold-start aware")
