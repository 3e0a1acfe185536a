"""Who hears about an incident event: routes by watchlist and level, escalation steps.

Queuing writes a ``NotificationRecord`` per event and channel into the incident *before*
anything is sent, with the idempotency key ``<incident>:<event index>:<channel>``. The
incident is saved with its records in one write (a compare-and-set), so after a restart
the record says whether that delivery still has to happen: nothing is lost and nothing is
sent twice. A route's ``fallback`` channels get a copy (same event, their own key) when a
route channel fails ``max_attempts`` times.
"""

from __future__ import annotations

from datetime import datetime

from crisiswatch.core.config import Config, Route, parse_duration
from crisiswatch.core.model import Incident, IncidentEvent, IncidentState, Level, NotificationRecord

from alerts.muting import Silence, matching

NOTIFYING_KINDS = {"fired", "reopened", "level_changed", "reminder", "escalated", "acknowledged", "resolved", "drill"}
ANNOUNCING_KINDS = {"fired", "reopened", "level_changed", "reminder"}


def add_event(incident: Incident, kind: str, message: str, at: datetime, actor: str = "system",
              **data: object) -> int:
    """Append a timeline event; returns its index (part of the notification keys)."""
    incident.events.append(IncidentEvent(at=at, kind=kind, actor=actor, message=message, data=dict(data)))
    incident.updated_at = max(incident.updated_at, at)
    return len(incident.events) - 1


def route_applies(route: Route, incident: Incident, level: Level) -> bool:
    if route.watchlists is not None and incident.watchlist not in route.watchlists:
        return False
    return level.rank >= route.min_level.rank


def routing_level(incident: Incident, event: IncidentEvent) -> Level:
    """The level that decides the routes: whoever heard the higher level hears the change."""
    if event.kind == "level_changed":
        old, new = Level(event.data.get("old", incident.level)), Level(event.data.get("new", incident.level))
        return max(old, new, key=lambda lv: lv.rank)
    if event.kind in ("resolved", "acknowledged"):
        return incident.peak_level
    return Level(event.data.get("level", incident.level))


def channels_for(config: Config, incident: Incident, event: IncidentEvent) -> list[str]:
    enabled = {c.name for c in config.channels if c.enabled}
    if event.kind == "escalated":
        names = list(event.data.get("channels", []))
    elif event.kind == "drill" and event.data.get("channels"):
        names = list(event.data["channels"])
    else:
        level = routing_level(incident, event)
        names = [c for route in config.routes if route_applies(route, incident, level) for c in route.channels]
    return [name for name in dict.fromkeys(names) if name in enabled]


def fallbacks_for(config: Config, incident: Incident, event: IncidentEvent, channel: str) -> list[str]:
    """Fallback channels, in order, of the routes that sent ``event`` to ``channel`` (or whose
    fallback it is): where a notification goes when that channel keeps failing."""
    enabled = {c.name for c in config.channels if c.enabled}
    if event.kind == "escalated":
        routes = [r for r in config.routes if r.name == event.data.get("route")]
    else:
        level = routing_level(incident, event)
        routes = [r for r in config.routes if route_applies(r, incident, level)]
    names = [name for r in routes if channel in r.channels or channel in r.fallback for name in r.fallback]
    return [name for name in dict.fromkeys(names) if name in enabled and name != channel]


def queue(config: Config, incident: Incident, index: int, silences: list[Silence], now: datetime) -> int:
    """Queue the notifications of event ``index``; returns how many were queued."""
    event = incident.events[index]
    if event.kind not in NOTIFYING_KINDS:
        return 0
    silence = matching(silences, incident, now) if event.kind != "drill" else None
    if silence is not None:
        already = any(e.kind == "silenced" and e.data.get("silence") == silence.id for e in incident.events)
        if not already:
            add_event(incident, "silenced", f"notifications held by silence {silence.id}: {silence.describe()}"
                      + (f" ({silence.reason})" if silence.reason else ""), now, silence=silence.id)
        return 0
    existing = {r.idempotency_key for r in incident.notifications}
    queued = 0
    for channel in channels_for(config, incident, event):
        key = f"{incident.id}:{index}:{channel}"
        if key in existing:
            continue
        incident.notifications.append(NotificationRecord(idempotency_key=key, channel=channel,
                                                         event_kind=event.kind, created_at=now))
        queued += 1
    return queued


def level_reached_at(incident: Incident, level: Level) -> datetime | None:
    """When the incident first reached ``level`` (escalation timers start there)."""
    for event in incident.events:
        value = event.data.get("level") or event.data.get("new")
        if event.kind in ("fired", "reopened", "level_changed") and value and Level(value).rank >= level.rank:
            return event.at
    return None


def due_escalations(config: Config, incident: Incident, now: datetime) -> list[tuple[Route, int]]:
    """Escalation steps whose time has come for an unacknowledged incident, not yet taken."""
    if incident.state != IncidentState.open:
        return []
    taken = {(e.data.get("route"), e.data.get("step")) for e in incident.events if e.kind == "escalated"}
    due = []
    for route in config.routes:
        if not route.escalation or not route_applies(route, incident, incident.peak_level):
            continue
        since = level_reached_at(incident, route.min_level) or incident.opened_at
        steps = sorted(enumerate(route.escalation), key=lambda item: parse_duration(item[1].after))
        for number, step in steps:
            if (route.name, number) not in taken and now - since >= parse_duration(step.after):
                due.append((route, number))
    return due
