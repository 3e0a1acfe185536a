"""Baseline maths and the severity scale, on series written here."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from crisiswatch.core.model import Level

from alerts.baseline import fit_seasonal, seasonal_deviation, share_deviation, trimmed_mean
from alerts.severity import composite, level_of, normalized, rule_level

BUCKET = timedelta(hours=1)
START = datetime(2026, 1, 5, tzinfo=timezone.utc)  # a Monday


def cyclic_history(days: int, weekend_factor: float = 1.0, seed: int = 1) -> np.ndarray:
    """Hourly Poisson counts: 2 at night, 20 in the afternoon, optional quieter weekends."""
    rng = np.random.default_rng(seed)
    rates = []
    for h in range(days * 24):
        t = START + h * BUCKET
        rate = 11 + 9 * math.sin((t.hour - 10) / 24 * 2 * math.pi)
        rates.append(rate * (weekend_factor if t.weekday() >= 5 else 1.0))
    return rng.poisson(rates).astype(float)


def test_expectation_follows_the_time_of_day():
    history = cyclic_history(14)
    model = fit_seasonal(history, START, BUCKET)
    night, afternoon = START + timedelta(days=14, hours=4), START + timedelta(days=14, hours=16)
    assert model.expected([night])[0] < 4 < 15 < model.expected([afternoon])[0]


def test_the_same_count_is_normal_in_the_afternoon_and_a_spike_at_night():
    history = cyclic_history(14)
    at_16 = seasonal_deviation(history, START, BUCKET, np.array([0.0] * 15 + [20.0]))[0]
    at_04 = seasonal_deviation(history, START, BUCKET, np.array([0.0] * 3 + [20.0]))[0]
    assert abs(at_16.z) < 2
    assert at_04.z > 5


def test_past_spikes_do_not_raise_the_baseline():
    clean = cyclic_history(14)
    spiked = clean.copy()
    spiked[3 * 24 + 12: 3 * 24 + 18] *= 10  # an earlier crisis, day 3 midday
    spiked[9 * 24 + 12: 9 * 24 + 18] *= 10  # and another one
    a = fit_seasonal(clean, START, BUCKET).slot_profile
    b = fit_seasonal(spiked, START, BUCKET).slot_profile
    assert np.max(np.abs(a - b) / np.maximum(a, 1)) < 0.15


def test_weekends_get_their_own_level_with_two_weeks_of_history():
    history = cyclic_history(21, weekend_factor=0.4)
    model = fit_seasonal(history, START, BUCKET)
    saturday, monday = START + timedelta(days=26, hours=15), START + timedelta(days=21, hours=15)
    assert model.expected([saturday])[0] < 0.6 * model.expected([monday])[0]
    short = fit_seasonal(history[: 5 * 24], START, BUCKET)  # under two weeks: no weekday effect
    assert np.allclose(short.weekday_factor, 1.0)


def test_missing_history_is_not_zero_traffic():
    history = cyclic_history(7)
    history[:48] = np.nan  # before the store's first post
    dev = seasonal_deviation(history, START, BUCKET, np.array([12.0]))[0]
    assert dev.expected > 2 and abs(dev.z) < 3


def test_slow_builds_show_on_the_longer_span():
    history = cyclic_history(14)
    hour = 14 * 24 + 13
    expected = fit_seasonal(history, START, BUCKET).expected([START + (hour + k) * BUCKET for k in range(4)])
    ramp = expected * np.array([1.3, 1.45, 1.6, 1.75])  # each hour a bit more, none a big jump
    one, four = seasonal_deviation(history, START, BUCKET, np.concatenate([history[-9:], ramp])[-4:], [1, 4])
    assert four.z > one.z


def test_trimmed_mean_drops_the_extremes():
    assert trimmed_mean(np.array([1, 1, 1, 1, 100.0])) == pytest.approx(1.0)
    assert trimmed_mean(np.array([2.0, 4.0])) == pytest.approx(3.0)
    assert math.isnan(trimmed_mean(np.array([np.nan])))


def test_share_deviation_flags_a_jump_in_negative_share():
    whole = np.full(24 * 7, 40.0)
    part = np.full(24 * 7, 8.0)  # 20 % negative
    normal = share_deviation(part, whole, 9, 40, 1, min_whole=10)
    jump = share_deviation(part, whole, 28, 40, 1, min_whole=10)
    assert abs(normal.z) < 1.5 and jump.z > 5 and jump.expected == pytest.approx(0.2)
    assert share_deviation(part, whole, 0, 0, 1, min_whole=10) is None


def test_normalized_scores_meet_at_the_rule_thresholds():
    thresholds = {Level.blue: 3, Level.yellow: 5, Level.orange: 8, Level.red: 12}
    assert [normalized(v, thresholds) for v in (3, 5, 8, 12)] == [25, 50, 75, 100]
    assert normalized(4, thresholds) == pytest.approx(37.5)
    assert normalized(50, thresholds) == 100
    assert rule_level(7.9, thresholds) == Level.yellow and rule_level(2.9, thresholds) is None


def test_composite_score_raises_the_level_when_signals_coincide():
    assert level_of(composite([("volume", 75)])) == Level.orange
    assert level_of(composite([("volume", 75), ("negative", 75)])) == Level.orange
    assert level_of(composite([("volume", 75), ("negative", 75), ("spread", 50)])) == Level.red
    # two rules of the same family do not add up
    assert composite([("volume", 60), ("volume", 70)]) == 70
    assert level_of(composite([("volume", 10)])) is None
