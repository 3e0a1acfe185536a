"""What "normal" looks like for a count series: seasonal, robust, and never looking ahead.

Social-media volume has a strong daily cycle (quiet nights) and a weekly one (quiet
weekends), and its history contains earlier crises. A "current window over previous
window" rule mistakes every morning for a spike and every crisis for the new normal, so
the expectation here is built from the same time of day (and day of week) in past days,
with trimmed means that drop the highest and lowest days, and the spread is the median
absolute deviation of past residuals. Counts go through the Anscombe transform
``2·sqrt(x + 3/8)``, which makes Poisson noise roughly unit-variance at every level, so one
z-score threshold means the same for a small brand at night and a large one at noon.

Every function takes the history strictly *before* the evaluated window: callers pass
``history`` and ``observed`` separately, so look-ahead is impossible by construction.
``NaN`` in a history marks "no data" (before the store's first post), which is not zero.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

DAY = timedelta(days=1)
WEEK_DAYS = 7
TRIM = 0.2
"""Fraction of days dropped at each end of the trimmed means (past crises, outages)."""
MAD_TO_SD = 1.4826


def anscombe(x: np.ndarray | float) -> np.ndarray | float:
    """Variance-stabilising transform for counts (Poisson noise -> sd ~ 1)."""
    return 2.0 * np.sqrt(np.asarray(x, dtype=float) + 0.375)


def trimmed_mean(values: np.ndarray, axis: int = 0, trim: float = TRIM) -> np.ndarray:
    """Mean after dropping the lowest and highest ``trim`` share of non-NaN values.

    With one or two values there is nothing to trim; with three or more at least one value
    is dropped at each end so that one past crisis day never moves the baseline.
    """
    data = np.moveaxis(np.sort(np.asarray(values, dtype=float), axis=axis), axis, -1)  # NaN sorts last
    n = np.sum(~np.isnan(data), axis=-1)
    cut = np.where(n < 3, np.floor(n * trim), np.maximum(1, np.floor(n * trim))).astype(int)
    cut = np.where(n - 2 * cut < 1, (n - 1) // 2, cut).clip(min=0)
    sums = np.concatenate([np.zeros(data.shape[:-1] + (1,)), np.cumsum(np.nan_to_num(data), axis=-1)], axis=-1)
    upper = np.take_along_axis(sums, (n - cut)[..., None], axis=-1)[..., 0]
    lower = np.take_along_axis(sums, cut[..., None], axis=-1)[..., 0]
    kept = n - 2 * cut
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(n > 0, (upper - lower) / np.where(kept > 0, kept, 1), np.nan)
    return out if out.ndim else float(out)


def mad_sd(values: np.ndarray) -> float:
    """Robust standard deviation (scaled median absolute deviation) of the non-NaN values."""
    data = np.asarray(values, dtype=float)
    data = data[~np.isnan(data)]
    if data.size == 0:
        return float("nan")
    return float(MAD_TO_SD * np.median(np.abs(data - np.median(data))))


@dataclass(frozen=True)
class SeasonalModel:
    """Expected count per bucket by time-of-day slot and day of week, fitted on history."""

    bucket: timedelta
    slot_profile: np.ndarray
    """Expected count per time-of-day slot on an average day (length = slots per day)."""
    weekday_factor: np.ndarray
    """Multiplier per weekday (Monday = 0); all ones when history is under two weeks."""

    @property
    def slots_per_day(self) -> int:
        return len(self.slot_profile)

    def expected(self, starts: list[datetime]) -> np.ndarray:
        return np.array([self.slot_profile[_slot(t, self.bucket, self.slots_per_day)] * self.weekday_factor[t.weekday()]
                         for t in starts])

    def expected_range(self, first: datetime, count: int) -> np.ndarray:
        """``expected`` for ``count`` consecutive buckets from ``first`` (vectorised)."""
        if count <= 0:
            return np.zeros(0)
        per_day = self.slots_per_day
        midnight = first.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        offset = _slot(first, self.bucket, per_day) if per_day > 1 else 0
        index = np.arange(count) + offset
        day = index // per_day if per_day > 1 else np.floor(np.arange(count) * (self.bucket / DAY)).astype(int)
        weekday = (midnight.weekday() + day) % WEEK_DAYS
        return self.slot_profile[index % per_day] * self.weekday_factor[weekday]


def _slot(t: datetime, bucket: timedelta, slots_per_day: int) -> int:
    if slots_per_day == 1:
        return 0
    seconds = t.hour * 3600 + t.minute * 60 + t.second
    return int(seconds // bucket.total_seconds()) % slots_per_day


def _fill(profile: np.ndarray) -> np.ndarray:
    """Slots never observed get the mean of the others (zeros when nothing was observed)."""
    if np.all(np.isnan(profile)):
        return np.zeros(len(profile))
    return np.where(np.isnan(profile), float(np.nanmean(profile)), profile)


def _slots_per_day(bucket: timedelta) -> int:
    """Time-of-day slots, or 1 when the bucket does not divide a day (no daily cycle then)."""
    ratio = DAY / bucket
    return int(round(ratio)) if ratio >= 1 and abs(ratio - round(ratio)) < 1e-9 else 1


def fit_seasonal(history: np.ndarray, start: datetime, bucket: timedelta) -> SeasonalModel:
    """Fit the slot profile and weekday factors on ``history`` (bucket k starts at start + k·bucket)."""
    history = np.asarray(history, dtype=float)
    per_day = _slots_per_day(bucket)
    if per_day == 1:
        level = float(trimmed_mean(history)) if np.any(~np.isnan(history)) else 0.0
        return SeasonalModel(bucket, np.array([level]), np.ones(WEEK_DAYS))
    # lay the history out as days x slots, aligned on UTC midnight, NaN where absent
    start = start.astimezone(timezone.utc)
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    offset = int(round((start - midnight) / bucket))
    total = offset + len(history)
    days = -(-total // per_day)
    grid = np.full(days * per_day, np.nan)
    grid[offset:offset + len(history)] = history
    grid = grid.reshape(days, per_day)
    weekdays = np.array([(midnight + k * DAY).weekday() for k in range(days)])

    padded = np.concatenate([grid[:, -1:], grid, grid[:, :1]], axis=1)
    stacked = np.stack([padded[:, :-2], padded[:, 1:-1], padded[:, 2:]])
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slots: no data yet
        # smooth each day over neighbouring slots: sparse series get usable values
        smooth = np.where(np.isnan(grid), np.nan, np.nanmean(stacked, axis=0))
        profile = _fill(trimmed_mean(smooth, axis=0))
        # weekday factors need every weekday seen twice on complete days; a day's level is
        # the median over its slots of count / profile, so a few crisis hours do not move it
        complete = ~np.any(np.isnan(grid), axis=1)
        factor = np.ones(WEEK_DAYS)
        if all((complete & (weekdays == d)).sum() >= 2 for d in range(WEEK_DAYS)):
            ratio = smooth / np.where(profile > 0, profile, np.nan)[None, :]
            level = np.nanmedian(ratio, axis=1)
            for d in range(WEEK_DAYS):
                factor[d] = float(np.nanmean(level[complete & (weekdays == d)]))
            if np.all(np.isfinite(factor)) and factor.mean() > 0:
                factor = np.clip(factor / factor.mean(), 0.2, 5.0)
                factor /= factor.mean()
                profile = _fill(trimmed_mean(smooth / factor[weekdays][:, None], axis=0))
            else:
                factor = np.ones(WEEK_DAYS)
    return SeasonalModel(bucket, profile, factor)


@dataclass(frozen=True)
class Deviation:
    """How far an observed count is from normal."""

    observed: float
    expected: float
    spread: float
    """Robust standard deviation in count units around ``expected``."""
    z: float
    """Robust z-score on the Anscombe scale (Poisson noise ~ 1)."""
    span: int
    """Number of buckets summed."""


def seasonal_deviation(history: np.ndarray, start: datetime, bucket: timedelta,
                       observed: np.ndarray, spans: list[int] = (1,)) -> list[Deviation]:
    """Deviation of the last ``span`` observed buckets from the seasonal expectation, per span.

    ``history`` covers ``[start, start + len·bucket)`` and ``observed`` the buckets right
    after it. The spread comes from the residuals of same-span sums over the history (their
    MAD), floored at Poisson noise, so noisy series need a larger excess to score high.
    """
    history = np.asarray(history, dtype=float)
    observed = np.asarray(observed, dtype=float)
    model = fit_seasonal(history, start, bucket)
    hist_expected = model.expected_range(start, len(history))
    obs_expected = model.expected_range(start + len(history) * bucket, len(observed))
    results = []
    for span in spans:
        span = min(span, len(observed))
        obs = float(observed[-span:].sum())
        exp = float(obs_expected[-span:].sum())
        sums = _rolling_sum(history, span)
        exp_sums = _rolling_sum(hist_expected, span)
        with np.errstate(invalid="ignore"):
            residuals = anscombe(np.where(np.isnan(sums), np.nan, sums)) - anscombe(exp_sums)
        sigma = mad_sd(residuals)
        sigma = 1.0 if np.isnan(sigma) else max(sigma, 1.0)
        z = float((anscombe(obs) - anscombe(exp)) / sigma)
        spread = sigma * float(np.sqrt(exp + 0.375))
        results.append(Deviation(observed=obs, expected=exp, spread=spread, z=z, span=span))
    return results


def _rolling_sum(values: np.ndarray, span: int) -> np.ndarray:
    """Sums of ``span`` consecutive buckets (NaN if any is NaN), one per end position."""
    if span == 1:
        return np.asarray(values, dtype=float)
    if len(values) < span:
        return np.array([np.nan])
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(values, dtype=float), span)
    return windows.sum(axis=1)


def expected_series(history: np.ndarray, start: datetime, bucket: timedelta, count: int) -> np.ndarray:
    """The seasonal expectation for ``count`` buckets following ``history`` (for charts)."""
    model = fit_seasonal(history, start, bucket)
    return model.expected([start + (len(history) + k) * bucket for k in range(count)])


@dataclass(frozen=True)
class ShareDeviation:
    observed: float
    """Share in the evaluated window."""
    expected: float
    """Normal share (trimmed mean over past windows of the same length)."""
    spread: float
    z: float
    part: int
    whole: int


def share_deviation(part_history: np.ndarray, whole_history: np.ndarray, part: int, whole: int,
                    span: int, min_whole: int) -> ShareDeviation | None:
    """How unusual ``part / whole`` in the evaluated window is against past windows.

    Past windows of ``span`` buckets with at least ``min_whole`` posts give the normal share
    (trimmed mean: past crises do not count) and its spread (MAD); the spread is floored at
    the binomial noise of the current window. None when there is no usable past window.
    """
    parts = _rolling_sum(np.asarray(part_history, dtype=float), span)[::span]
    wholes = _rolling_sum(np.asarray(whole_history, dtype=float), span)[::span]
    usable = (~np.isnan(wholes)) & (wholes >= max(min_whole, 1))
    if not usable.any() or whole == 0:
        return None
    shares = parts[usable] / wholes[usable]
    p0 = float(trimmed_mean(shares))
    # scale the past spread to the current window size (it shrinks with more posts)
    typical = float(np.median(wholes[usable]))
    past_sd = mad_sd(shares) * np.sqrt(typical / whole) if shares.size >= 3 else 0.0
    p_floor = min(max(p0, 0.05), 0.95)  # a share never seen still has sampling noise
    binomial = float(np.sqrt(p_floor * (1 - p_floor) / whole))
    spread = max(float(past_sd), binomial)
    observed = part / whole
    return ShareDeviation(observed=observed, expected=p0, spread=spread, z=(observed - p0) / spread,
                          part=part, whole=whole)
