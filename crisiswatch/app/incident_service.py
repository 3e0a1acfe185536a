"""People's actions on incidents, one implementation for every door: the CLI, the web console,
the action link in a message and the JSON API all call ``act`` (and ``silence`` /
``unsilence``).

The actor is the real person (a console account, a message's recipient, or the CLI's
``--by``); the source says which door they came through. Both go into the incident's
timeline event, which is the audit log: it is written in the same compare-and-set as the
change itself, so there is no change without its record. Changes that belong to no incident
(a silence made outside an incident page or ended) are written by ``record`` into the store's
``console:audit`` list; changes to users and API tokens are recorded in the accounts document
in the same write as the change (``crisiswatch.app.accounts``). ``audit_log`` merges all three.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from crisiswatch.app.accounts import Accounts
from crisiswatch.core.config import Config, parse_duration
from crisiswatch.core.model import Incident, as_utc, utc_now
from crisiswatch.core.store.base import Store

from alerts import muting
from alerts.incidents import RATINGS, Change, IncidentBook, IncidentError, Lifecycle  # noqa: F401
from alerts.notify import deliver_pending

ACTIONS = ("acknowledge", "assign", "note", "resolve", "rate", "escalate_now", "silenced")
SOURCES = ("web", "cli", "link", "api")
AUDIT_KEY = "console:audit"
AUDIT_KEEP = 5000
"""Entries of ``console:audit`` kept (the oldest go first); incident timelines are kept whole."""


@dataclass
class Outcome:
    change: Change
    sent: int

    @property
    def message(self) -> str:
        return self.change.incident.events[self.change.events[-1]].message


def act(store: Store, config: Config, incident_id: str, action: str, actor: str, source: str,
        now: datetime | None = None, check: Callable[[Incident], None] | None = None,
        mark: dict | None = None, **kwargs: str) -> Outcome:
    """Do ``action`` as ``actor`` coming from ``source``, then send what it announces
    (acknowledged / resolved notices). IncidentError when the incident's state refuses it."""
    if action not in ACTIONS:
        raise IncidentError(f"unknown action '{action}'")
    if source not in SOURCES:
        raise ValueError(f"unknown source '{source}'")
    now = now or utc_now()
    life = Lifecycle(IncidentBook(store), config, muting.load(store))
    change = life.act(incident_id, action, now, source=source, check=check, mark=mark, by=actor, **kwargs)
    sent = deliver_pending(store, config, now, incident_ids=[change.incident.id])
    return Outcome(change, sent)


def silence(store: Store, config: Config, actor: str, source: str, *, watchlist: str | None = None,
            rule: str | None = None, start: datetime | None = None, end: datetime | None = None,
            duration: str | None = None, reason: str = "", incident_id: str | None = None,
            now: datetime | None = None) -> muting.Silence:
    """Hold notifications for ``watchlist`` and/or ``rule`` from ``start`` (default now) for
    ``duration`` (``2h``, ``1d``) or until ``end``. Given ``incident_id`` (the console's incident
    page), the silence is also recorded on that incident's timeline, i.e. in the audit log.
    ValueError for an unknown watchlist or rule, or an unusable window."""
    if source not in SOURCES:
        raise ValueError(f"unknown source '{source}'")
    if watchlist and watchlist not in {w.name for w in config.watchlists}:
        raise ValueError(f"unknown watchlist '{watchlist}'")
    if rule and rule not in {r.name for r in config.rules}:
        raise ValueError(f"unknown rule '{rule}'")
    now = now or utc_now()
    begin = start or now
    if (duration is None) == (end is None):
        raise ValueError("give either a duration or an end time")
    end = begin + parse_duration(duration) if duration else end
    item = muting.Silence(watchlist=watchlist or None, rule=rule or None, start=begin, end=end,
                          reason=reason, created_by=actor, created_at=now)
    muting.add(store, item, now)
    text = f"silenced {item.describe()} by {actor}" + (f": {reason}" if reason else "")
    if incident_id is not None:
        act(store, config, incident_id, "silenced", actor, source, now=now, silence_id=item.id, text=text)
    else:
        record(store, actor, source, "silenced", f"silence {item.id}: {text}", now)
    return item


def silences(store: Store, now: datetime | None = None) -> list[muting.Silence]:
    """The silences not ended yet (current and planned), soonest ending first."""
    now = now or utc_now()
    return sorted((s for s in muting.load(store) if s.end > now), key=lambda s: s.end)


def unsilence(store: Store, actor: str, source: str, silence_id: str, now: datetime | None = None) -> muting.Silence:
    """End a silence now (by id or unique id prefix), recorded in the audit log. KeyError when no
    silence has that id, ValueError when the prefix names several."""
    if source not in SOURCES:
        raise ValueError(f"unknown source '{source}'")
    found = [s for s in muting.load(store) if s.id.startswith(silence_id)] if silence_id else []
    if not found:
        raise KeyError(f"no silence '{silence_id}'")
    if len(found) > 1:
        raise ValueError(f"'{silence_id}' names {len(found)} silences: {', '.join(s.id for s in found)}")
    muting.remove(store, found[0].id)
    record(store, actor, source, "unsilenced", f"ended silence {found[0].id} ({found[0].describe()})", now)
    return found[0]


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    source: str
    incident_id: str
    kind: str
    message: str


def record(store: Store, actor: str, source: str, kind: str, message: str, now: datetime | None = None) -> None:
    """Write a change that belongs to no incident into the audit log (one atomic append)."""
    if source not in SOURCES:
        raise ValueError(f"unknown source '{source}'")
    entry = {"at": (now or utc_now()).isoformat(), "actor": actor, "source": source, "kind": kind, "message": message}

    def append(raw: str | None) -> str:
        return json.dumps([*(json.loads(raw) if raw else []), entry][-AUDIT_KEEP:], ensure_ascii=False)
    store.update_state(AUDIT_KEY, append)


def audit_log(store: Store, limit: int = 200) -> list[AuditEntry]:
    """Every change a person made, newest first: who, when, through which door."""
    entries = [AuditEntry(e.at, e.actor, e.data.get("source", "cli"), i.id, e.kind, e.message)
               for i in store.list_incidents(limit=1000) for e in i.events if e.actor != "system"]
    raw = store.get_state(AUDIT_KEY)
    entries += [AuditEntry(as_utc(datetime.fromisoformat(e["at"])), e["actor"], e["source"], "", e["kind"],
                           e["message"]) for e in [*(json.loads(raw) if raw else []), *Accounts(store).audit()]]
    return sorted(entries, key=lambda a: a.at, reverse=True)[:limit]
