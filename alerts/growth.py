"""Within-day change points on growth: a watchlist's last minutes against its own last hours.

A watchlist created as news breaks has hours of history at best, so its daily cycle is
unknown, and a rise against *all* of that history is ambiguous: the first morning of a new
watchlist is 15-25 times its night. ``alerts.learning`` weighs such a rise against an
unknown daily cycle of log-sd ``DIURNAL_SD`` (1.15), which lets only a burst of hundreds of
times alert: an earthquake that takes a watchlist from 4 to 30 posts per 15 minutes is
silent for an hour or more.

What a daily cycle cannot do is grow fast. Its log-rate is a smooth curve of period one
day; for a sinusoid of log-sd ``σ`` and unknown phase, the log of the mean rate over a span
of length ``Ls`` and over a reference of length ``Lr`` whose centres are ``Δ`` apart differ
by a zero-mean amount of variance

    σ² · (f_s² + f_r² − 2·f_s·f_r·cos(2π·Δ/day)),   f = sinc(L/day)

(``f``: a window's average of the sinusoid). With the last 15 minutes against the two
hours before them (``Δ`` = 1 h 7 min) that is a log-sd of 0.34: a daily cycle moves the rate
by ±40 %, not 25-fold. So the test for a new watchlist compares the count ``O`` of the last
``s`` buckets with the rate of the ``REFERENCE`` just before them, not with the daily mean:

* the reference rate is the Gamma(``PRIOR_SHAPE``, ``PRIOR_BUCKETS``) prior updated with the
  reference's ``N`` posts in ``R`` buckets: ``E = s·(a0 + N)/(b0 + R)``, relative variance
  ``1/(a0 + N)`` (a quiet reference of two posts proves little);
* both uncertainties are multiplicative, so ``O`` is judged by the Poisson-log-normal tail
  ``P(X ≥ O)`` with log-variance ``ln(1 + 1/(a0 + N))`` plus the daily-cycle term above
  (``alerts.detectors.sustained_shift.predictive_z``), as a normal quantile;
* over the spans tested (the rule's ``windows``) the strongest is reported, family-wise
  (Bonferroni, ``familywise``).

Why two hours: a longer reference has more posts but lies further back, and the daily-cycle
term grows with ``Δ`` (log-sd 0.34 at 2 h, 0.48 at 3 h, 0.88 at 6 h, for a 15-minute span); a
shorter one holds too few posts of a quiet watchlist to know its rate. Nothing here is fitted
to an event: the daily-cycle size is ``alerts.learning``'s and the prior is its prior.

What it does not see: a rise slower than a daily cycle (a complaint wave doubling over
hours: that is ``sustained_shift``'s), and a rise that started before the data did (the
watchlist created after the news: its reference is already the crisis).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from alerts.detectors.sustained_shift import familywise, predictive_z
from alerts.learning import DAY, DIURNAL_SD, PRIOR_BUCKETS, PRIOR_SHAPE

REFERENCE = timedelta(hours=2)
"""How far back the rate a burst is compared with reaches (module docstring: why two hours)."""


@dataclass(frozen=True)
class Growth:
    """One span's count against the rate of the reference just before it."""

    span: int
    """Buckets in the span tested."""
    observed: float
    expected: float
    reference_posts: float
    reference_buckets: int
    log_variance: float
    z: float


def cycle_log_variance(span: timedelta, reference: timedelta) -> float:
    """Log-variance of the ratio of a span's mean rate to that of the reference right before it,
    under a sinusoidal daily cycle of log-sd ``DIURNAL_SD`` and unknown phase (module docstring)."""
    f_s, f_r = float(np.sinc(span / DAY)), float(np.sinc(reference / DAY))
    gap = (span + reference) / 2
    cos = math.cos(2 * math.pi * (gap / DAY))
    return DIURNAL_SD ** 2 * max(0.0, f_s * f_s + f_r * f_r - 2 * f_s * f_r * cos)


def growth_tests(counts: np.ndarray, bucket: timedelta, spans: list[int],
                 reference: timedelta = REFERENCE) -> list[Growth]:
    """Each span of the end of ``counts`` (NaN = no data) against the reference before it; a span
    without at least one known bucket before it is not tested."""
    wanted = max(1, round(reference / bucket))
    out = []
    for span in sorted(set(spans)):
        if span >= len(counts):
            continue
        observed_part = counts[-span:]
        ref = counts[max(0, len(counts) - span - wanted):len(counts) - span]
        known = ref[~np.isnan(ref)]
        if len(known) == 0 or np.isnan(observed_part).any():
            continue
        posts = float(known.sum())
        rate = (PRIOR_SHAPE + posts) / (PRIOR_BUCKETS + len(known))
        expected = span * rate
        log_variance = math.log1p(1.0 / (PRIOR_SHAPE + posts)) + cycle_log_variance(span * bucket,
                                                                                     len(known) * bucket)
        observed = float(observed_part.sum())
        out.append(Growth(span, observed, expected, posts, len(known), log_variance,
                          predictive_z(observed, expected, 1.0, log_variance)))
    return out


def strongest(tests: list[Growth], eligible: list[Growth]) -> tuple[Growth, float]:
    """The strongest eligible test (else the strongest of all) and its family-wise z."""
    best = max(eligible or tests, key=lambda t: t.z)
    return best, familywise(best.z, len(tests))
