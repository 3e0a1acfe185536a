"""The situation briefing: what was said about the watched brands in a period, and what is open.

For the PR team's morning read (and the daily e-mail): volume and sentiment over time,
emotion mix, complaint categories, share of voice per watchlist, the posts that travelled
furthest, and every incident that was open during the period with its response times.
Everything comes from the ``Store`` interface, so it reads SQLite and Elasticsearch alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from crisiswatch.core.config import Config
from crisiswatch.core.model import Incident, as_utc, utc_now
from crisiswatch.reports import charts
from crisiswatch.reports.common import (format_time, post_rows, render, sentiment_shares, timeline_chart)
from crisiswatch.core.store.base import PostFilter, Store

MAX_INCIDENTS = 1000


def incident_row(incident: Incident, end: datetime, out_dir: Path | None = None) -> dict[str, Any]:
    """An incident as a table row with its response times (measured to ``end`` while still open)."""
    acknowledged = incident.acknowledged_at
    resolved = incident.resolved_at
    report = out_dir / incident_file_name(incident.id) if out_dir is not None else None
    return {
        "id": incident.id, "title": incident.title, "level": incident.level.value,
        "peak_level": incident.peak_level.value, "state": incident.state.value, "rule": incident.rule,
        "rules": ", ".join(incident.rules),
        "watchlist": incident.watchlist, "opened_at": incident.opened_at, "assignee": incident.assignee,
        "acknowledged_by": incident.acknowledged_by,
        "time_to_acknowledge": (acknowledged - incident.opened_at) if acknowledged else None,
        "waiting_for": (end - incident.opened_at) if not acknowledged and not resolved else None,
        "time_to_resolve": (resolved - incident.opened_at) if resolved else None,
        "score": round(incident.score),
        "report": report.name if report is not None and report.exists() else None,
    }


def incident_file_name(incident_id: str) -> str:
    return f"incident-{incident_id}.html"


def incidents_in_period(store: Store, start: datetime, end: datetime) -> list[Incident]:
    """Incidents open at any moment of [start, end): opened before the end, not resolved before the start."""
    found = [i for i in store.list_incidents(limit=MAX_INCIDENTS)
             if i.opened_at < end and (i.resolved_at is None or i.resolved_at >= start)]
    return sorted(found, key=lambda i: (-i.peak_level.rank, i.opened_at))


BASELINE_LEARNING = timedelta(days=3)
"""A watchlist with less history than this is still "learning" its normal volume: its alerts
use a wide prior (alerts.learning.DEFAULT_LEARNING, the same period; the reports cannot
import alerts), so the briefing says so next to its numbers."""


def briefing_context(store: Store, config: Config, start: datetime, end: datetime,
                     out_dir: Path | None = None) -> dict[str, Any]:
    """Every number and chart of the briefing (the HTML template only lays them out)."""
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise ValueError(f"the briefing period must end after it starts (got {start} .. {end})")
    period = PostFilter(since=start, until=end)
    previous = PostFilter(since=start - (end - start), until=start)
    overall = sentiment_shares(store, period)
    before = store.count_posts(previous)

    watchlists = []
    mentions = {t.term: t.count for t in store.count_by_field("watchlist", period, limit=200)}
    earlier = {t.term: t.count for t in store.count_by_field("watchlist", previous, limit=200)}
    total_mentions = sum(count for name, count in mentions.items() if name != "none")
    for watchlist in config.watchlists or []:
        scope = period.narrow(watchlists=(watchlist.name,))
        shares = sentiment_shares(store, scope)
        count = mentions.get(watchlist.name, 0)
        first = store.first_posts(PostFilter(watchlists=(watchlist.name,), until=end), limit=1)
        history = end - first[0].created_at if first else None
        watchlists.append({"name": watchlist.name, "kind": watchlist.kind, "owner": watchlist.owner,
                           "learning": history is None or history < BASELINE_LEARNING,
                           "history_hours": history.total_seconds() / 3600 if history is not None else 0.0,
                           "posts": count, "previous": earlier.get(watchlist.name, 0),
                           "share_of_voice": count / total_mentions if total_mentions else None,
                           "negative": shares["negative"], "positive": shares["positive"]})
    watchlists.sort(key=lambda w: -w["posts"])

    emotions = [(t.term, t.count) for t in store.count_by_field("emotion", period) if t.term != "none"]
    categories = [(t.term, t.count) for t in store.count_by_field("category", period) if t.term != "none"]
    sources = [(t.term, t.count) for t in store.count_by_field("source", period)]
    incidents = incidents_in_period(store, start, end)
    markers = [charts.Marker(i.opened_at, f"{i.peak_level.value}: {i.watchlist or i.rule}",
                             charts.LEVEL_COLOURS[i.peak_level.value])
               for i in incidents if start <= i.opened_at < end][:8]

    return {
        "title": f"Briefing {format_time(start)} – {format_time(end)}",
        "start": start, "end": end, "generated_at": utc_now(),
        "posts": overall["posts"], "previous_posts": before,
        "change": (overall["posts"] - before) / before if before else None,
        "enriched": overall["enriched"], "negative": overall["negative"], "positive": overall["positive"],
        "neutral": overall["neutral"],
        "incidents": [incident_row(i, end, out_dir) for i in incidents],
        "open_incidents": sum(1 for i in incidents if i.state.value != "resolved"),
        "opened_in_period": sum(1 for i in incidents if start <= i.opened_at < end),
        "watchlists": watchlists, "emotions": emotions, "categories": categories, "sources": sources,
        "top_posts": post_rows(store, store.top_posts(period, order="engagement", limit=10)),
        "top_negative": post_rows(store, store.top_posts(period.narrow(sentiments=("negative",)),
                                                         order="engagement", limit=5)),
        "top_terms": [(t.term, t.count) for t in store.top_terms(period, limit=24)],
        "charts": {
            "timeline": timeline_chart(store, period, start, end, "Posts by sentiment", markers),
            "share_of_voice": charts.horizontal_bars([(w["name"], w["posts"]) for w in watchlists],
                                                     "Share of voice (posts)") if watchlists else None,
            "emotions": charts.horizontal_bars(emotions, "Emotion mix", "#8e44ad") if emotions else None,
            "categories": charts.horizontal_bars(categories, "Categories", "#e8730c") if categories else None,
            "sources": charts.horizontal_bars(sources, "Posts per source", "#16a085") if sources else None,
        },
    }


def render_briefing(store: Store, config: Config, start: datetime, end: datetime,
                    out_dir: Path | None = None) -> str:
    return render("briefing.html", **briefing_context(store, config, start, end, out_dir))


def write_briefing(store: Store, config: Config, start: datetime, end: datetime, out_dir: str | Path) -> Path:
    """Write ``briefing-<start>-<end>.html`` (one self-contained file) under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start, end = as_utc(start), as_utc(end)
    html = render_briefing(store, config, start, end, out)
    path = out / f"briefing-{start:%Y%m%dT%H%M}-{end:%Y%m%dT%H%M}.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)  # a reader (or the e-mail task) never sees half a report
    return path


def default_period(end: datetime | None = None, hours: int = 24) -> tuple[datetime, datetime]:
    end = as_utc(end) if end is not None else utc_now()
    return end - timedelta(hours=hours), end
