"""Muting notifications: silences, planned quiet periods by watchlist, rule and time window.

(Not to be confused with the ``source_silence`` detector, a source that stopped delivering:
this module holds notifications back, it says nothing about data.)

A silenced incident is still opened, updated and resolved (nothing is lost and the
timeline shows the silence), but no notification is sent while the silence lasts.
Silences live in the store's key/value state, so every process sees the same ones.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from pydantic import BaseModel, ConfigDict, model_validator

from crisiswatch.core.model import Incident, UtcDatetime, utc_now
from crisiswatch.core.store.base import Store

STATE_KEY = "alerts:silences"


class Silence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = ""
    watchlist: str | None = None
    """None = every watchlist."""
    rule: str | None = None
    """None = every rule."""
    start: UtcDatetime
    end: UtcDatetime
    reason: str = ""
    created_by: str = "unknown"
    created_at: UtcDatetime

    @model_validator(mode="after")
    def _valid(self) -> "Silence":
        if self.end <= self.start:
            raise ValueError("a silence must end after it starts")
        if not self.id:
            digest = hashlib.sha1(f"{self.watchlist}|{self.rule}|{self.start}|{self.end}|{self.created_at}".encode())
            self.id = digest.hexdigest()[:8]
        return self

    def active(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def matches(self, incident: Incident, at: datetime) -> bool:
        if not self.active(at):
            return False
        if self.watchlist is not None and incident.watchlist != self.watchlist:
            return False
        if self.rule is not None:
            rules = {incident.rule} | {fp.split("|", 1)[0] for fp in incident.related}
            if self.rule not in rules:
                return False
        return True

    def describe(self) -> str:
        scope = " and ".join(filter(None, [f"watchlist '{self.watchlist}'" if self.watchlist else None,
                                           f"rule '{self.rule}'" if self.rule else None])) or "everything"
        return f"{scope} from {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC"


def _parse(raw: str | None) -> list[Silence]:
    return [Silence.model_validate(item) for item in json.loads(raw)] if raw else []


def _dump(silences: list[Silence]) -> str:
    return json.dumps([s.model_dump(mode="json") for s in silences], ensure_ascii=False)


def load(store: Store) -> list[Silence]:
    return _parse(store.get_state(STATE_KEY))


def add(store: Store, silence: Silence, now: datetime | None = None) -> Silence:
    """Save a silence; expired ones are dropped at the same time. One atomic read-modify-write
    of the list, so two processes silencing at once keep both silences."""
    now = now or utc_now()
    store.update_state(STATE_KEY, lambda raw: _dump(
        [*(s for s in _parse(raw) if s.end > now and s.id != silence.id), silence]))
    return silence


def remove(store: Store, silence_id: str) -> bool:
    """End the silences whose id starts with ``silence_id``; False when none does."""
    removed = False

    def without(raw: str | None) -> str | None:
        nonlocal removed
        silences = _parse(raw)
        kept = [s for s in silences if not s.id.startswith(silence_id)]
        removed = len(kept) < len(silences)
        return _dump(kept) if removed else raw

    store.update_state(STATE_KEY, without)
    return removed


def matching(silences: list[Silence], incident: Incident, at: datetime) -> Silence | None:
    return next((s for s in silences if s.matches(incident, at)), None)
