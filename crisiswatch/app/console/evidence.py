"""The incident page's evidence chart: the HTML incident report's "posts by sentiment" timeline
with its markers (opened, level changes, acknowledged, resolved), drawn on the server as a PNG
``data:`` URI, so the page needs no script (the CSP's ``img-src 'self' data:`` admits it).

Drawing takes matplotlib a few hundred milliseconds and pyplot is not thread-safe, so charts
are drawn under a lock and kept per incident version for five minutes (posts keep arriving
while an incident is open)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime

from crisiswatch.core.config import Config
from crisiswatch.core.model import Incident, utc_now
from crisiswatch.core.store.base import Store
from crisiswatch.reports import charts
from crisiswatch.reports.common import timeline_chart
from crisiswatch.reports.incident import incident_scope, report_window

_LOCK = threading.Lock()
_CACHE: OrderedDict[tuple, str | None] = OrderedDict()
_KEEP = 64


def _markers(incident: Incident) -> list[charts.Marker]:
    markers = [charts.Marker(incident.opened_at, f"opened ({incident.level.value})",
                             charts.LEVEL_COLOURS[incident.peak_level.value])]
    for event in incident.events:
        if event.kind == "level_changed" and event.data.get("new"):
            new = str(event.data["new"])
            markers.append(charts.Marker(event.at, f"level changed: {new}", charts.LEVEL_COLOURS.get(new, "#555555")))
    if incident.acknowledged_at:
        markers.append(charts.Marker(incident.acknowledged_at, "acknowledged", "#2f6fde"))
    if incident.resolved_at:
        markers.append(charts.Marker(incident.resolved_at, "resolved", "#333333"))
    return markers


def evidence_chart(store: Store, config: Config, incident: Incident, now: datetime | None = None) -> str | None:
    """``data:image/png;base64,…`` of the incident's timeline, or None when it cannot be drawn."""
    now = now or utc_now()
    key = (incident.id, incident.updated_at, int(now.timestamp()) // 300)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        try:
            scope = incident_scope(incident, config)
            start, end = report_window(store, incident, scope)
            uri = timeline_chart(store, scope, start, end, "Posts about " + (incident.watchlist or incident.rule)
                                 + " by sentiment", _markers(incident))
        except (ImportError, ValueError):  # no matplotlib, or an empty window
            uri = None
        uri = uri if isinstance(uri, str) and uri.startswith("data:image/") else None
        _CACHE[key] = uri
        while len(_CACHE) > _KEEP:
            _CACHE.popitem(last=False)
        return uri
