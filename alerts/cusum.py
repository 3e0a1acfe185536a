"""Poisson CUSUM: evidence for a rise of a given size that began at any time in a window.

A complaint wave's start is not known: a test over fixed spans (1 h, 3 h, 6 h, 24 h) is
strong only when the change point lies near one of them; a wave that began ten hours ago
is diluted by the night in the 24 h sum and only partly seen by the 6 h one. Page's CUSUM
is the likelihood-ratio test over *every* change point at once: for counts ``O_t`` with
expectations ``E_t`` and a rise to ``ρ·E_t``, the log likelihood ratio of bucket ``t`` is

    ``ℓ_t = O_t·ln ρ − (ρ − 1)·E_t``,

and ``S_t = max(0, S_{t−1} + ℓ_t)`` is the largest log likelihood ratio of any run of
buckets ending now (Lorden 1971; optimal for detecting a shift of size ``ρ``). The
reference value ``(ρ − 1)/ln ρ`` (1.44 for a doubling) is the rise below which ``S`` drifts
down, so normal day-to-day variation of a brand's volume (±20-30 %) does not accumulate.

**Over-dispersion**: counts of social posts are more variable than Poisson; ``ℓ_t`` is
divided by ``φ`` (quasi-likelihood), the dispersion of the history's hourly sums around
their seasonal expectation.

**Calibration**: under no change ``exp(S)`` restarted at each zero is a likelihood ratio
martingale, so the CUSUM crosses ``h`` at most once every ``e^h`` buckets on average
(Lorden's bound on the average run length). ``e^{−S}`` is therefore a bound on the rate of
new false alarms per bucket, the same budget the span tests' tail probabilities spend, and
it is what is combined with them (``sustained_shift``). No threshold is fitted to data.

**Shares** (``binomial_cusum``): the same recursion for ``k_t`` of ``n_t`` posts in a part
(the negative ones) against an expected share ``p_t``, for the odds ``p/(1 − p)`` rising by
a factor ``r`` (share ``q_t = r·p_t/(1 − p_t + r·p_t)``):

    ``ℓ_t = k_t·ln(q_t/p_t) + (n_t − k_t)·ln((1 − q_t)/(1 − p_t))``.

Given the totals ``n_t`` it does not depend on how the volume moved: when everything doubles
at the usual share it stays at zero. Lorden's bound holds as above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CusumRun:
    statistic: float
    """``S`` at the last bucket: the log likelihood ratio of the best run ending now (0 = none)."""
    length: int
    """Buckets in that run (0 when ``statistic`` is 0): the change point is this long ago."""
    observed: float
    """Count over the run."""
    expected: float
    """Expectation over the run."""


def _page(gains: np.ndarray) -> tuple[float, int]:
    """Page's recursion ``S = max(0, S + gain)``: the final ``S`` and where its current run began."""
    s, run_start = 0.0, 0
    for k, gain in enumerate(gains):
        if s + gain <= 0.0:
            s, run_start = 0.0, k + 1
        else:
            s += gain
    return s, run_start


def poisson_cusum(observed: np.ndarray, expected: np.ndarray, ratio: float, dispersion: float = 1.0) -> CusumRun:
    """Page's CUSUM of counts ``observed`` against ``expected`` for a rise to ``ratio`` times the
    expectation, on the quasi-likelihood scale (log likelihood ratios divided by ``dispersion``)."""
    if ratio <= 1.0:
        raise ValueError("the CUSUM looks for a rise: ratio must be above 1")
    observed = np.asarray(observed, dtype=float)
    expected = np.asarray(expected, dtype=float)
    if observed.shape != expected.shape:
        raise ValueError("observed and expected counts must have the same length")
    gains = (observed * math.log(ratio) - (ratio - 1.0) * expected) / max(dispersion, 1.0)
    s, run_start = _page(gains)
    if s <= 0.0:
        return CusumRun(0.0, 0, 0.0, 0.0)
    return CusumRun(float(s), len(observed) - run_start, float(observed[run_start:].sum()),
                    float(expected[run_start:].sum()))


def binomial_cusum(part: np.ndarray, whole: np.ndarray, share: np.ndarray, odds_ratio: float,
                   dispersion: float = 1.0) -> CusumRun:
    """Page's CUSUM of ``part`` out of ``whole`` per bucket against the expected ``share`` of each
    bucket, for a rise of the odds ``p/(1 − p)`` by ``odds_ratio``, on the quasi-likelihood scale.

    Given the totals this is independent of how much the total grew (Poisson thinning): it sees
    negative posts doubling while the volume hardly moves, which neither count test weighs."""
    if odds_ratio <= 1.0:
        raise ValueError("the CUSUM looks for a rise: odds_ratio must be above 1")
    part, whole = np.asarray(part, dtype=float), np.asarray(whole, dtype=float)
    p0 = np.clip(np.asarray(share, dtype=float), 1e-3, 1 - 1e-3)
    if not part.shape == whole.shape == p0.shape:
        raise ValueError("part, whole and share must have the same length")
    if np.any(part > whole) or np.any(part < 0):
        raise ValueError("part counts must lie between 0 and the whole counts")
    p1 = odds_ratio * p0 / (1 - p0 + odds_ratio * p0)
    gains = (part * np.log(p1 / p0) + (whole - part) * np.log((1 - p1) / (1 - p0))) / max(dispersion, 1.0)
    s, run_start = _page(gains)
    if s <= 0.0:
        return CusumRun(0.0, 0, 0.0, 0.0)
    return CusumRun(float(s), len(part) - run_start, float(part[run_start:].sum()),
                    float((p0 * whole)[run_start:].sum()))
