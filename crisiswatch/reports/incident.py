"""The incident report, for the post-crisis review: what happened, how fast we reacted, did it work.

It lays the incident's own timeline (fired, level changes, notifications, acknowledgement,
resolution) beside the posts of the story (where it started, what spread furthest, the
brand's public response), and measures the response: time to acknowledge, time to
resolve, time to a public response, and the sentiment before and after that response.

The public response is the first post by the brand's own account (see ``_is_brand_account``)
around the incident; when there is none it is the acknowledgement, and a caller may name
the moment explicitly.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from crisiswatch.core.config import Config, RuleConfig
from crisiswatch.core.model import Incident, Post, as_utc, utc_now
from crisiswatch.reports import charts
from crisiswatch.reports.briefing import incident_file_name, incident_row
from crisiswatch.reports.common import post_rows, render, sentiment_shares, timeline_chart
from crisiswatch.core.store.base import PostFilter, Store
from crisiswatch.core.text import normalize_width_case

LEAD_IN = timedelta(hours=24)
"""History shown before the incident opened: the normal the crisis stood out from."""
STORY_START = timedelta(hours=1)
"""How far before the first alert the story's posts are counted: the usual detection
window (a slowly building story has its early posts in the alert's own evidence)."""
RESPONSE_LOOKBACK = timedelta(hours=3)
"""A brand post this long before the first alert still counts as its response (it may have
answered the first complaints before the alert fired)."""
FOLLOW_UP = timedelta(hours=12)
"""How long after resolution (or the last change) the report keeps looking."""


class IncidentNotFound(KeyError):
    pass


def incident_scope(incident: Incident, config: Config) -> PostFilter:
    """The posts the incident is about: its watchlist, within its rule's filter."""
    rule: RuleConfig | None = next((r for r in config.rules if r.name == incident.rule), None)
    flt = rule.filter if rule is not None else None

    def tup(values):
        return tuple(values) if values else None

    return PostFilter(
        watchlists=(incident.watchlist,) if incident.watchlist else tup(flt.watchlists if flt else None),
        sources=tup(flt.sources if flt else None), languages=tup(flt.languages if flt else None),
        text=flt.text if flt else None)


def _latest_post_time(store: Store, scope: PostFilter) -> datetime | None:
    newest = store.top_posts(scope, order="-created_at", limit=1)
    return newest[0].created_at if newest else None


def report_window(store: Store, incident: Incident, scope: PostFilter) -> tuple[datetime, datetime]:
    """From a day before the incident to some hours after it settled, never past the data."""
    last_change = max([incident.updated_at, incident.resolved_at or incident.updated_at]
                      + [e.at for e in incident.events])
    end = last_change + FOLLOW_UP
    newest = _latest_post_time(store, scope)
    if newest is not None:
        end = min(end, max(newest + timedelta(minutes=1), last_change))
    return incident.opened_at - LEAD_IN, end


def brand_response(store: Store, config: Config, incident: Incident, scope: PostFilter,
                   end: datetime) -> Post | None:
    """The brand's first public post around the incident (see the module docstring)."""
    watchlist = next((w for w in config.watchlists if w.name == incident.watchlist), None)
    if watchlist is None:
        return None
    terms = {_compact(t) for t in watchlist.terms} - {""}
    since = incident.opened_at - RESPONSE_LOOKBACK
    for post in store.iter_posts(scope.narrow(since=since, until=end)):
        if _is_brand_account(post, terms):
            return post
    return None


def _compact(text: str) -> str:
    return "".join(ch for ch in normalize_width_case(text).lstrip("#@") if ch.isalnum())


def _is_brand_account(post: Post, terms: set[str]) -> bool:
    """The account *is* the brand: its handle (without a domain) or its name equals a
    watchlist term, or a verified account's handle or name contains one. Many platforms
    (Mastodon, Bluesky) have no verified mark, and a fan account only contains the name."""
    handle = (post.author.handle or "").lstrip("@").split("@")[0]
    handle = handle.split(".")[0]  # bluefinchair.com, bluefinchair.bsky.social -> bluefinchair
    names = {_compact(handle), _compact(post.author.name or "")} - {""}
    if names & terms:
        return True
    return post.author.verified and any(term in name for name in names for term in terms)


def _evidence_posts(store: Store, incident: Incident, key: str) -> list[Post]:
    """Posts the alert engine kept as evidence (``first_posts``, ``top_posts``), still in the store."""
    items = incident.evidence.get(key)
    ids = [item["id"] for item in items if isinstance(item, dict) and "id" in item] if isinstance(items, list) else []
    return sorted(store.get_posts(ids), key=lambda p: p.created_at) if ids else []


def _window_sentiment(store: Store, scope: PostFilter, since: datetime, until: datetime) -> dict[str, Any]:
    shares = sentiment_shares(store, scope.narrow(since=since, until=until))
    return {"since": since, "until": until, **shares}


def incident_context(store: Store, config: Config, incident_id: str,
                     response_at: datetime | None = None) -> dict[str, Any]:
    """Every number and chart of the incident report."""
    incident = store.get_incident(incident_id)
    if incident is None:
        raise IncidentNotFound(f"no incident with id '{incident_id}'")
    scope = incident_scope(incident, config)
    start, end = report_window(store, incident, scope)
    story = scope.narrow(since=incident.opened_at - STORY_START, until=end)

    response_post = None
    if response_at is not None:
        response_at, response_kind = as_utc(response_at), "given"
    else:
        response_post = brand_response(store, config, incident, scope, end)
        if response_post is not None:
            response_at, response_kind = response_post.created_at, "brand post"
        elif incident.acknowledged_at is not None:
            response_at, response_kind = incident.acknowledged_at, "acknowledgement"
        else:
            response_kind = "none yet"

    sentiment = None
    if response_at is not None:
        span = min(max(response_at - incident.opened_at, timedelta(hours=2)), timedelta(hours=12))
        sentiment = {"before": _window_sentiment(store, scope, response_at - span, response_at),
                     "after": _window_sentiment(store, scope, response_at, response_at + span),
                     "span": span}
        before, after = sentiment["before"]["negative"], sentiment["after"]["negative"]
        sentiment["change"] = (after - before) if before is not None and after is not None else None

    markers = [charts.Marker(incident.opened_at, f"opened ({incident.level.value})",
                             charts.LEVEL_COLOURS[incident.peak_level.value])]
    for event in incident.events:
        if event.kind in ("level_changed", "escalated") and event.data.get("new"):
            new = str(event.data["new"])
            markers.append(charts.Marker(event.at, f"{event.kind.replace('_', ' ')}: {new}",
                                         charts.LEVEL_COLOURS.get(new, "#555555")))
    if incident.acknowledged_at:
        markers.append(charts.Marker(incident.acknowledged_at, "acknowledged", "#2f6fde"))
    if response_at is not None and response_kind != "acknowledgement":
        markers.append(charts.Marker(response_at, "public response", "#2e9d5b"))
    if incident.resolved_at:
        markers.append(charts.Marker(incident.resolved_at, "resolved", "#333333"))

    candidates = _evidence_posts(store, incident, "first_posts") + (
        store.first_posts(story.narrow(sentiments=("negative",)), limit=5) or store.first_posts(story, limit=5))
    first = sorted({p.id: p for p in candidates}.values(), key=lambda p: (p.created_at, p.id))[:5]
    spread = store.top_posts(story, order="engagement", limit=5)
    reach = store.top_posts(story, order="reach", limit=5)
    sources = [(t.term, t.count) for t in store.count_by_field("source", story)]
    emotions = [(t.term, t.count) for t in store.count_by_field("emotion", story) if t.term != "none"]
    categories = [(t.term, t.count) for t in store.count_by_field("category", story) if t.term != "none"]

    timeline: list[dict[str, Any]] = [  # deliveries are in the notifications table
        {"at": e.at, "kind": e.kind, "actor": e.actor, "message": e.message} for e in incident.events
        if e.kind != "notified"]
    for label, posts in (("first post", first[:1]), ("most spread", spread[:1])):
        for post in posts:
            timeline.append({"at": post.created_at, "kind": label, "actor": post.author.handle or post.source,
                             "message": (post.title + " — " if post.title else "") + post.text[:200]})
    if response_post is not None:
        timeline.append({"at": response_post.created_at, "kind": "public response",
                         "actor": response_post.author.handle or response_post.source,
                         "message": response_post.text[:300]})
    timeline.sort(key=lambda item: item["at"])

    evidence = {k: v for k, v in incident.evidence.items() if isinstance(v, (str, int, float, bool)) and v != ""}
    row = incident_row(incident, end)
    fired = next((e for e in incident.events if e.kind in ("fired", "reopened") and e.message), None)
    return {
        "first_alert": fired.message if fired is not None else incident.title,
        "title": f"Incident {incident.id}: {incident.title}", "incident": incident, "row": row,
        "generated_at": utc_now(), "start": start, "end": end,
        "posts_in_story": store.count_posts(story), "sources_count": len(sources),
        "time_to_response": (response_at - incident.opened_at) if response_at is not None else None,
        "response_at": response_at, "response_kind": response_kind,
        "response_post": post_rows(store, [response_post])[0] if response_post else None,
        "sentiment": sentiment, "timeline": timeline, "evidence": evidence,
        "top_terms": [(t.term, t.count) for t in store.top_terms(story, limit=20)],
        "first_posts": post_rows(store, first), "most_spread": post_rows(store, spread),
        "widest_reach": post_rows(store, reach),
        "notifications": incident.notifications,
        "charts": {
            "timeline": timeline_chart(store, scope, start, end, "Posts about "
                                       + (incident.watchlist or incident.rule) + " by sentiment", markers),
            "sources": charts.horizontal_bars(sources, "Spread across sources", "#16a085") if sources else None,
            "emotions": charts.horizontal_bars(emotions, "Emotion mix", "#8e44ad") if emotions else None,
            "categories": charts.horizontal_bars(categories, "Categories", "#e8730c") if categories else None,
        },
    }


def render_incident_report(store: Store, config: Config, incident_id: str,
                           response_at: datetime | None = None) -> str:
    return render("incident.html", **incident_context(store, config, incident_id, response_at))


def write_incident_report(store: Store, config: Config, incident_id: str, out_dir: str | Path,
                          response_at: datetime | None = None) -> Path:
    """Write ``incident-<id>.html`` (one self-contained file) under ``out_dir``."""
    html = render_incident_report(store, config, incident_id, response_at)
    incident = store.get_incident(incident_id)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / incident_file_name(incident.id if incident else incident_id)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
