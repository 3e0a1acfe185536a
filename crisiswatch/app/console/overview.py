"""The console's home: where each watchlist stands now (level from its open incidents, posts in
the last 24 hours as a sparkline, whether its baseline is still learning), the open incidents,
the sources that need attention and the notifications not delivered yet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from alerts.learning import learning_states
from crisiswatch.app.operations import source_health
from crisiswatch.app.console.charts import LEVEL_COLOURS, sparkline
from crisiswatch.core.config import Config
from crisiswatch.core.model import Incident, as_utc, utc_now
from crisiswatch.core.store.base import Store

ACTIVE = ["open", "acknowledged"]
UNDELIVERED_LOOKBACK = timedelta(days=8)


@dataclass
class WatchlistRow:
    name: str
    level: str | None
    incidents: list[Incident]
    counts: list[int]
    spark: Markup
    learning: bool
    learning_text: str


@dataclass
class FailingChannel:
    """A channel whose latest deliveries fail: since when, how many wait, the last error, and
    the routes that send through it."""
    channel: str
    routes: list[str]
    since: datetime
    undelivered: int
    last_error: str
    last_sent: datetime | None


def failing_channels(incidents: list[Incident], config: Config) -> list[FailingChannel]:
    """Channels with failed (or given-up) deliveries and no successful one since the newest of
    them, longest failing first, from the incidents' notification records."""
    records: dict[str, list] = {}
    for incident in incidents:
        for record in incident.notifications:
            records.setdefault(record.channel, []).append(record)
    failing = []
    for channel, mine in records.items():
        failed = sorted((r for r in mine if r.status in ("failed", "expired") and r.attempts), key=lambda r: r.created_at)
        last_sent = max((r.sent_at for r in mine if r.sent_at), default=None)
        if not failed or (last_sent and last_sent >= failed[-1].created_at):
            continue
        current = [r for r in failed if last_sent is None or r.created_at > last_sent]
        routes = [route.name for route in config.routes
                  if channel in {*route.channels, *route.fallback, *(c for step in route.escalation for c in step.channels)}]
        failing.append(FailingChannel(channel, routes, current[0].created_at, len(current),
                                      failed[-1].last_error or "no error recorded", last_sent))
    return sorted(failing, key=lambda f: f.since)


def parse_at(value: str) -> datetime | None:
    """``at`` (ISO time, naive = UTC) shows the console as of that moment (replays, demos)."""
    try:
        return as_utc(datetime.fromisoformat(value)) if value else None
    except ValueError:
        return None


def overview_data(store: Store, config: Config, now: datetime) -> dict[str, Any]:
    active = store.list_incidents(states=ACTIVE, limit=500)
    start = now - timedelta(hours=24)
    learning = {s.watchlist: s for s in learning_states(store, config, now)}
    hourly = store.count_by_bucket_per_watchlist([w.name for w in config.watchlists], start, now, timedelta(hours=1))
    rows = []
    for w in config.watchlists:
        mine = [i for i in active if i.watchlist == w.name]
        level = max((i.level for i in mine), default=None)
        counts = [b.count for b in hourly.get(w.name, [])]
        state = learning.get(w.name)
        colour = LEVEL_COLOURS.get(level.value, "#49515c") if level else "#49515c"
        rows.append(WatchlistRow(w.name, level.value if level else None, mine, counts,
                                 sparkline(counts, f"{w.name}: {sum(counts)} posts in 24 h, hourly", colour),
                                 bool(state and state.learning), state.describe() if state else ""))
    rows.sort(key=lambda r: (-(_rank(r.level)), r.name))
    health = source_health(store, config, now)
    undelivered: dict[str, int] = {}
    recent = store.list_incidents(since=now - UNDELIVERED_LOOKBACK, limit=100_000)
    for incident in recent:
        for record in incident.notifications:
            if record.status not in ("sent", "cancelled"):
                undelivered[record.status] = undelivered.get(record.status, 0) + 1
    return {"watchlists": rows, "active": active, "health": health, "failing": failing_channels(recent, config),
            "unhealthy": [h for h in health if h.status != "ok"],
            "undelivered": undelivered, "undelivered_total": sum(undelivered.values()), "now": now}


def _rank(level: str | None) -> int:
    return {"blue": 1, "yellow": 2, "orange": 3, "red": 4}.get(level or "", 0)


def register(app: FastAPI, config: Config, store: Store, page: Callable[..., HTMLResponse],
             require: Callable[..., Any]) -> None:
    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request, at: str = "") -> HTMLResponse:
        require(request)
        now = parse_at(at) or utc_now()
        return page(request, "overview.html", **overview_data(store, config, now))
