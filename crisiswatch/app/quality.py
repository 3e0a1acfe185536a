"""Alert quality per rule and watchlist, from the incidents' timelines: how many alerts, how
many the team found useful, how many false alarms a week, how fast people acknowledged and
resolved them. ``crisiswatch alerts quality`` and the console's ``/quality`` page both show
``alert_quality``.

Counted: incidents *opened* in the window, drills excepted, grouped by the rule that opened
them and their watchlist. An alert's rating is its latest ``rated`` event (so a person who
changes their mind replaces their earlier rating). Times run from opening to the first
acknowledgement, and from opening to resolution (by a person or by calm).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from crisiswatch.core.model import Incident
from crisiswatch.core.store.base import Store

SCAN_LIMIT = 100_000


@dataclass(frozen=True)
class RuleQuality:
    rule: str
    watchlist: str | None
    alerts: int
    rated: int
    useful: int
    false_alarms: int
    useful_share: float | None
    """useful / rated; None while nothing is rated."""
    false_alarms_per_week: float
    median_ack: timedelta | None
    median_resolve: timedelta | None

    def as_json(self) -> dict:
        data = asdict(self)
        for key in ("median_ack", "median_resolve"):
            value = data.pop(key)
            data[key + "_s"] = None if value is None else value.total_seconds()
        return data


def rating(incident: Incident) -> str | None:
    """The alert's latest rating, or None."""
    rated = [e for e in incident.events if e.kind == "rated" and e.data.get("rating")]
    return max(rated, key=lambda e: e.at).data["rating"] if rated else None


def _median(values: list[timedelta]) -> timedelta | None:
    return statistics.median(values) if values else None


def alert_quality(incidents: list[Incident], since: datetime, now: datetime) -> list[RuleQuality]:
    """One row per (rule, watchlist) with alerts opened in [since, now], most alerts first."""
    weeks = max((now - since) / timedelta(weeks=1), 1 / 7)  # at least a day, so a fresh window is not inflated
    groups: dict[tuple[str, str | None], list[Incident]] = {}
    for i in incidents:
        if i.rule == "drill" or not since <= i.opened_at <= now:
            continue
        groups.setdefault((i.rule, i.watchlist), []).append(i)
    rows = []
    for (rule, watchlist), items in groups.items():
        ratings = [r for r in map(rating, items) if r]
        useful, false = ratings.count("useful"), ratings.count("false_alarm")
        rows.append(RuleQuality(
            rule=rule, watchlist=watchlist, alerts=len(items), rated=len(ratings), useful=useful, false_alarms=false,
            useful_share=useful / len(ratings) if ratings else None,
            false_alarms_per_week=round(false / weeks, 2),
            median_ack=_median([i.acknowledged_at - i.opened_at for i in items if i.acknowledged_at]),
            median_resolve=_median([i.resolved_at - i.opened_at for i in items if i.resolved_at])))
    return sorted(rows, key=lambda r: (-r.alerts, r.rule, r.watchlist or ""))


def quality_from_store(store: Store, since: datetime, now: datetime) -> list[RuleQuality]:
    # an incident opened in the window was updated in it too, so `since` narrows the read safely
    return alert_quality(store.list_incidents(since=since, limit=SCAN_LIMIT), since, now)


def duration(value: timedelta | None) -> str:
    """``42m``, ``3h 05m``, ``2d 4h`` or ``-``."""
    if value is None:
        return "-"
    minutes = int(value.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    return f"{hours // 24}d {hours % 24}h"


def share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
