"""Escalation timers on their own: take every due step of unacknowledged incidents.

``evaluate_cycle`` already does this in every cycle (timers run with or without new posts);
this entry point is for a scheduler that wants escalations even while rule evaluation is
paused, e.g. during store maintenance.
"""

from __future__ import annotations

from datetime import datetime

from crisiswatch.core.config import Config
from crisiswatch.core.model import as_utc, utc_now
from crisiswatch.core.store.base import Store

from alerts import muting, routing
from alerts.incidents import Change, IncidentBook, Lifecycle
from alerts.notify import deliver_pending


def run_escalations(store: Store, config: Config, now: datetime | None = None, deliver: bool = True) -> list[Change]:
    """Escalate every active incident whose route step is due at ``now``; returns the changes."""
    now = as_utc(now) if now else utc_now()
    book = IncidentBook(store)
    life = Lifecycle(book, config, muting.load(store))
    changes = []
    for incident in book.active():
        if not routing.due_escalations(config, incident, now):
            continue
        # re-read and re-applied if a person acknowledged (or anyone saved) meanwhile
        _, change = book.update(incident.id, lambda current: next(iter(life.escalate(now, [current])), None))
        if change is not None:
            changes.append(change)
    if deliver and changes:
        deliver_pending(store, config, now, incident_ids=[c.incident.id for c in changes])
    return changes
