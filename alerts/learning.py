"""How much a watchlist's baseline can be trusted yet: its "learning" state and the rate prior.

A watchlist created as news breaks has no history, and one with a few hours of history has
a level but no daily cycle. Detectors must neither stay silent for a day (a crisis may be
the reason the watchlist was created) nor read the first morning's rise as a crisis. So
the expectation of a count is a blend, and its uncertainty is honest about what is unknown:

* **Level** ``λ`` per bucket: a Gamma(``a0``, ``b0``) prior updated with the history
  (``N`` posts in ``T`` buckets), i.e. the predictive count of ``s`` buckets is negative
  binomial with mean ``s·λ̂`` and variance ``s·λ̂·(1 + s/(b0 + T))``: wide with an hour of
  history, Poisson-like after days. The prior is weak (``a0 = 0.5``, ``b0 = 1`` bucket):
  it only keeps the first hour from dividing by nothing.
* **Shape** (time of day / weekday): the seasonal model of ``alerts.baseline`` gets the
  weight ``w``: 0 before one whole day was seen, rising linearly to 1 at the learning
  period (default 3 days); the flat level gets the rest. While ``w < 1`` the unknown daily
  cycle adds a log-normal rate uncertainty of ``DIURNAL_SD·(1 − w)`` (a day's busiest hour
  can be 10x its quietest), so the first morning does not alarm, while a burst of ten
  times or more still does.

This is "shrinking toward the prior": early on the expectation is the flat level and the
spread is wide; as days accrue both converge to the seasonal, robust baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from crisiswatch.core.config import Config
from crisiswatch.core.store.base import Store

DIURNAL_SD = 1.15
"""Log-sd of the rate around its daily mean when the daily cycle is unknown (ln 10 / 2: a
brand's busiest hour can be ten times its quietest, night against afternoon)."""
PRIOR_SHAPE = 0.5
PRIOR_BUCKETS = 1.0
DAY = timedelta(days=1)
DEFAULT_LEARNING = timedelta(days=3)
"""Until a watchlist has this much history its baseline is still being learned."""
SLOT_EFFICIENCY = math.pi / 2
"""Variance of a median (trimmed mean of few days) relative to a mean: how noisy a slot's
expectation is when it is learned from few days."""
SMOOTHED_SLOTS = 3
"""A slot's profile value averages three neighbouring slots (``alerts.baseline``)."""


@dataclass(frozen=True)
class LearningState:
    """What the alerting knows about one watchlist's normal volume."""

    watchlist: str
    first_post: datetime | None
    history: timedelta
    learning_for: timedelta

    @property
    def learning(self) -> bool:
        return self.history < self.learning_for

    @property
    def progress(self) -> float:
        """0 (nothing seen) .. 1 (baseline fully learned)."""
        return min(1.0, self.history / self.learning_for) if self.learning_for else 1.0

    def describe(self) -> str:
        if self.first_post is None:
            return "learning: no posts yet (only bursts against a wide prior can alert)"
        if not self.learning:
            return f"baseline learned ({_days(self.history)} of history)"
        return (f"learning: {_days(self.history)} of history, {self.progress:.0%} of "
                f"{_days(self.learning_for)}; thresholds widened until the daily cycle is known")


def _days(td: timedelta) -> str:
    hours = td.total_seconds() / 3600
    return f"{hours / 24:.1f} d" if hours >= 24 else f"{hours:.0f} h"


def watchlist_start(store: Store, watchlist: str | None, now: datetime) -> datetime | None:
    """Creation time of the first post of ``watchlist`` before ``now`` (None: none yet)."""
    return store.first_post_time(watchlist, now)


def learning_states(store: Store, config: Config, now: datetime,
                    learning_for: timedelta = DEFAULT_LEARNING) -> list[LearningState]:
    """The learning state of every configured watchlist at ``now``."""
    out = []
    for watchlist in config.watchlists:
        first = watchlist_start(store, watchlist.name, now)
        history = max(now - first, timedelta(0)) if first else timedelta(0)
        out.append(LearningState(watchlist.name, first, history, learning_for))
    return out


def shape_weight(history: timedelta, learning_for: timedelta) -> float:
    """Weight of the seasonal (time-of-day) model against the flat level, 0..1: zero until one
    whole day was seen (before that most time-of-day slots were never observed), then rising
    linearly to one at ``learning_for``."""
    if learning_for <= DAY:
        return 1.0 if history >= learning_for else 0.0
    return max(0.0, min(1.0, (history - DAY) / (learning_for - DAY)))


def diurnal_log_variance(weight: float, span: timedelta) -> float:
    """Log-variance of the rate of a ``span`` at an unknown time of day, while the daily cycle has
    the weight ``weight`` (``shape_weight``): log-sd ``DIURNAL_SD·(1 − weight)``, averaged over the
    span (``sinc``: a sinusoidal cycle; nothing is left for a whole day)."""
    sd = DIURNAL_SD * (1.0 - weight) * abs(float(np.sinc(span / DAY)))
    return sd * sd


def estimation_variance(days: float) -> float:
    """Variance of a seasonal expectation learned from ``days`` days, relative to Poisson noise
    of the same mean (``SLOT_EFFICIENCY / days``): add it to the dispersion."""
    return SLOT_EFFICIENCY / max(days, 1.0)


def shrink_slots(expected: np.ndarray, level: float, days: float) -> np.ndarray:
    """Seasonal expectations per bucket shrunk toward the flat ``level`` (a Gamma prior worth one
    bucket against ``SMOOTHED_SLOTS·days`` observed ones): a slot never seen busy is not zero."""
    seen = SMOOTHED_SLOTS * max(days, 1.0)
    return (seen * np.asarray(expected, dtype=float) + level) / (seen + 1.0)
