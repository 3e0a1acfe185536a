"""Durations and schedules, and the arithmetic of the one staleness rule.

A source's ``schedule`` is a duration (``15m``) or a cron expression (``5,35 * * * *``). The
maintenance health check and the ``source_silence`` detector both ask "how long may this
source be quiet?" and must get the same answer, so both call ``SourceConfig.stale_after()``,
which is built on ``longest_gap`` here: three times the longest time between two consecutive
runs of the schedule (for ``5,35 * * * *`` that is 30 min, so 1 h 30 min; for
``0 9 * * 1-5`` it is the weekend, 72 h) unless the source sets ``expected_interval``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from croniter import croniter

from crisiswatch.core.model import as_utc

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_REFERENCE = datetime(2024, 1, 1, tzinfo=timezone.utc)  # a Monday
_MAX_RUNS = 10_000  # a week of an every-minute schedule; a year of anything slower than hourly


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``7d``, ``1w`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"'{value}' is not a duration like 90s, 15m, 2h, 7d or 1w")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_moment(value: str, now: datetime) -> datetime:
    """``24h`` / ``7d`` (that long before ``now``) or an ISO date/time (naive = UTC): how the CLI,
    the console and the API all read a point in time."""
    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    try:
        return as_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        raise ValueError(f"'{value}' is neither an ISO time like 2026-03-01T08:00 nor a duration ago "
                         "like 24h or 7d") from None


def is_duration(expression: str) -> bool:
    return bool(_DURATION.match(expression))


def schedule_value(expression: str) -> str | timedelta:
    """A schedule as a scheduler takes it: ``15m`` becomes a timedelta, anything else stays cron."""
    return parse_duration(expression) if is_duration(expression) else expression


def check_schedule(expression: str) -> str:
    """The expression unchanged, or ValueError saying what a schedule may be."""
    if is_duration(expression):
        if parse_duration(expression) <= timedelta(0):
            raise ValueError("a schedule's duration must be longer than 0s")
        return expression
    if not croniter.is_valid(expression):
        raise ValueError(f"'{expression}' is neither a duration like 15m nor a cron expression like '*/10 * * * *'")
    return expression


@lru_cache(maxsize=256)
def longest_gap(expression: str) -> timedelta:
    """The longest time between two consecutive runs of the schedule, measured over a year of
    runs from a Monday (or ``_MAX_RUNS`` runs, for schedules that run every few minutes)."""
    if is_duration(check_schedule(expression)):
        return parse_duration(expression)
    runs = croniter(expression, _REFERENCE)
    previous = runs.get_next(datetime)
    end = _REFERENCE + timedelta(days=366)
    gap = timedelta(0)
    for _ in range(_MAX_RUNS):
        current = runs.get_next(datetime)
        gap = max(gap, current - previous)
        if current >= end:
            break
        previous = current
    return gap
