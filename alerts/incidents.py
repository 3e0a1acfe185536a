"""Incident lifecycle: open -> acknowledged -> resolved, grouping, levels, calm, escalation.

An evaluation that fires has a fingerprint ``rule|watchlist|group key``. It updates the
active incident with that fingerprint; failing that, the active incident of the same
watchlist (related alerts - a volume spike and a keyword burst about the same brand -
become one incident, the other fingerprints listed in ``related``); failing that, it opens
a new incident, or reopens one that calm resolved less than ``renotify_every`` ago (so a
flapping rule does not open a new incident each time).

Every cycle recomputes the composite score from the rules firing *now*, so the level goes
down as well as up. An incident whose rules were evaluated in a new bucket without firing
counts a calm bucket; after ``alerting.auto_resolve_after_calm`` of them it is resolved
with a "back to normal" notice. While an incident of a collection detector (its spec's
family is ``collection``, e.g. source_silence) is active, calm is not counted: missing data
is not quiet.

Several processes share the incidents (evaluators, people acknowledging, deliverers). Every
write is a compare-and-set in the store, so a writer holding a stale copy cannot erase what
another wrote: ``IncidentBook.update`` re-reads and re-applies a change that lost the race,
and at most one incident per fingerprint is open (the store refuses a second). A person's
resolve holds for the buckets that incident had already seen: repeating the same cycle (an
Airflow retry) does not open a new incident and announce the same evidence again.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from crisiswatch.core.config import Config, parse_duration
from crisiswatch.core.model import Incident, IncidentState, Level
from crisiswatch.core.store.base import IncidentConflict, Store

from alerts import naming, routing, severity
from alerts.detectors.base import Evaluation
from alerts.muting import Silence

ACTIVE = (IncidentState.open.value, IncidentState.acknowledged.value)
COLLECTION = "collection"
"""The family of detectors that watch the data collection itself, not the posts."""
MAX_TRIES = 25
"""Re-reads of one incident before a change that keeps losing the race is given up."""
RATINGS = {"useful": "useful", "false_alarm": "a false alarm", "duplicate": "a duplicate", "too_late": "too late"}
"""How people rate an alert (the value stored, and how it reads)."""
SETTLED_LOOKBACK = timedelta(days=1)
"""How far back resolved incidents are checked for a person's resolve covering a bucket."""
T = TypeVar("T")


def pause(attempt: int) -> None:
    """A short random wait before retrying a lost compare-and-set, so racers spread out."""
    time.sleep(random.uniform(0, 0.005 * 2 ** min(attempt, 6)))


class IncidentError(ValueError):
    """An action on an incident that its state does not allow (e.g. acknowledging a resolved one)."""


class IncidentBook:
    """Where incidents live: the store for live cycles, memory for backtests."""

    def __init__(self, store: Store | None = None):
        self.store = store
        self._memory: dict[str, Incident] = {}

    def active(self) -> list[Incident]:
        if self.store is not None:
            return self.store.list_incidents(states=ACTIVE, limit=10_000)
        return sorted((i for i in self._memory.values() if i.state.value in ACTIVE),
                      key=lambda i: i.updated_at, reverse=True)

    def get(self, incident_id: str) -> Incident | None:
        if self.store is not None:
            return self.store.get_incident(incident_id)
        found = self._memory.get(incident_id)
        return found.model_copy(deep=True) if found else None

    def resolved_since(self, since: datetime) -> list[Incident]:
        if self.store is not None:
            return self.store.list_incidents(states=[IncidentState.resolved.value], since=since, limit=10_000)
        return [i for i in self._memory.values() if i.state == IncidentState.resolved and i.updated_at >= since]

    def find(self, fingerprint: str, include_resolved: bool = False) -> Incident | None:
        if self.store is not None:
            return self.store.find_incident(fingerprint, include_resolved=include_resolved)
        found = [i for i in self._memory.values() if i.fingerprint == fingerprint
                 and (include_resolved or i.state.value in ACTIVE)]
        return max(found, key=lambda i: i.opened_at) if found else None

    def save(self, incident: Incident) -> None:
        """A compare-and-set (IncidentConflict when the incident changed since it was read)."""
        if self.store is not None:
            self.store.save_incident(incident)
        else:
            self._memory[incident.id] = incident.model_copy(deep=True)

    def update(self, incident_id: str, apply: Callable[[Incident], T | None]) -> tuple[Incident | None, T | None]:
        """Read the incident, ``apply`` a change to it, save it; when another writer saved in
        between, read it again and apply the change again to what they wrote. ``apply``
        returns None for "nothing to save" (then nothing is written); an exception from it
        (IncidentError: already resolved ...) ends the update without a write."""
        for attempt in range(MAX_TRIES):
            incident = self.get(incident_id)
            if incident is None:
                return None, None
            result = apply(incident)
            if result is None:
                return incident, None
            try:
                self.save(incident)
                return incident, result
            except IncidentConflict:
                pause(attempt)
        raise IncidentConflict(incident_id, f"still changing after {MAX_TRIES} attempts to update it")

    def all(self) -> list[Incident]:
        return list(self._memory.values())


@dataclass
class Change:
    incident: Incident
    events: list[int] = field(default_factory=list)
    """Indexes of the events added this cycle."""
    evaluation: Evaluation | None = None
    """The strongest evaluation firing for it this cycle (its series makes the chart)."""

    def describe(self) -> str:
        kinds = ", ".join(self.incident.events[i].kind for i in self.events) or "updated"
        return f"{self.incident.id} [{self.incident.level.value}] {kinds}: {self.incident.title}"


def incident_id(fingerprint: str, opened_at: datetime) -> str:
    return hashlib.sha1(f"{fingerprint}|{opened_at.isoformat()}".encode()).hexdigest()[:10]


def _signal(ev: Evaluation, thresholds: dict[Level, float]) -> dict:
    return {"rule": ev.rule, "detector": ev.detector, "family": ev.family, "watchlist": ev.watchlist,
            "score": round(ev.score, 3), "normalized": round(ev.normalized_score(thresholds), 1),
            "level": ev.level.value if ev.level else None, "observed": ev.observed, "baseline": ev.baseline,
            "spread": ev.spread, "unit": ev.unit, "title": ev.title, "at": ev.bucket_end.isoformat()}


def _pairs(incident: Incident) -> set[tuple[str, str | None]]:
    return {(rule, watchlist) for rule, watchlist in incident.evidence.get("rules", [])}


def _last_announced(incident: Incident) -> datetime:
    times = [e.at for e in incident.events if e.kind in routing.ANNOUNCING_KINDS]
    return max(times) if times else incident.opened_at


class Lifecycle:
    """Applies one cycle's evaluations (and people's actions) to incidents and queues notices."""

    def __init__(self, book: IncidentBook, config: Config, silences: list[Silence], notify: bool = True):
        self.book, self.config, self.silences, self.notify = book, config, silences, notify
        self.thresholds = {r.name: r.level_thresholds() for r in config.rules}

    def _event(self, incident: Incident, kind: str, message: str, at: datetime, actor: str = "system",
               **data: object) -> int:
        index = routing.add_event(incident, kind, message, at, actor, **data)
        if self.notify:
            routing.queue(self.config, incident, index, self.silences, at)
        return index

    # ---- one detection cycle ---------------------------------------------------------
    def apply(self, evaluations: list[Evaluation], now: datetime,
              active: list[Incident] | None = None) -> list[Change]:
        """Apply one cycle's evaluations to ``active`` (default: read now); the incidents are
        changed in place and returned in the changes, for the caller to save."""
        active = self.book.active() if active is None else active
        settled = self._settled(now) if any(e.fired for e in evaluations) else {}
        by_fingerprint: dict[str, Incident] = {}
        by_watchlist: dict[str, Incident] = {}
        for incident in reversed(active):  # most recently updated wins
            by_fingerprint[incident.fingerprint] = incident
            for fp in incident.related:
                by_fingerprint[fp] = incident
            if incident.watchlist:
                by_watchlist[incident.watchlist] = incident
        changes: dict[str, Change] = {}
        firing: dict[str, list[Evaluation]] = {}
        for ev in (e for e in evaluations if e.fired):
            incident = by_fingerprint.get(ev.fingerprint) or (by_watchlist.get(ev.watchlist) if ev.watchlist else None)
            seen = settled.get(ev.fingerprint)
            if incident is None and seen is not None and ev.bucket_end <= seen:
                continue  # a person resolved it having seen this bucket
            if incident is None:
                incident = self._reopen_or_open(ev, now, changes)
                by_fingerprint[ev.fingerprint] = incident
                if incident.watchlist:
                    by_watchlist[incident.watchlist] = incident
            change = changes.setdefault(incident.id, Change(incident))
            if ev.fingerprint != incident.fingerprint and ev.fingerprint not in incident.related:
                incident.related.append(ev.fingerprint)
                if incident.events:
                    change.events.append(routing.add_event(
                        incident, "grouped", f"related alert joined: {ev.title}", now, rule=ev.rule,
                        fingerprint=ev.fingerprint))
            firing.setdefault(incident.id, []).append(ev)
        for incident_id_, evs in firing.items():
            self._update_firing(changes[incident_id_], evs, now)
        self._count_calm(active, firing, evaluations, now, changes)
        return list(changes.values())

    def _settled(self, now: datetime) -> dict[str, datetime]:
        """Fingerprint -> last bucket seen by an incident a person resolved (its related ones too)."""
        settled: dict[str, datetime] = {}
        for incident in self.book.resolved_since(now - SETTLED_LOOKBACK):
            closing = next((e for e in reversed(incident.events) if e.kind == "resolved"), None)
            if closing is None or closing.actor == "system" or incident.last_evaluated_at is None:
                continue
            for fingerprint in (incident.fingerprint, *incident.related):
                settled[fingerprint] = max(settled.get(fingerprint, incident.last_evaluated_at),
                                           incident.last_evaluated_at)
        return settled

    def _new_id(self, fingerprint: str, now: datetime) -> str:
        """The incident id, unless an incident (resolved, same fingerprint and time) has it."""
        candidate, n = incident_id(fingerprint, now), 0
        while self.book.get(candidate) is not None:
            n += 1
            candidate = incident_id(f"{fingerprint}#{n}", now)
        return candidate

    def _reopen_or_open(self, ev: Evaluation, now: datetime, changes: dict[str, Change]) -> Incident:
        previous = self.book.find(ev.fingerprint, include_resolved=True)
        window = parse_duration(self.config.alerting.renotify_every)
        if (previous is not None and previous.state == IncidentState.resolved and previous.resolved_at
                and now - previous.resolved_at < window and previous.events
                and previous.events[-1].kind == "resolved" and previous.events[-1].actor == "system"):
            previous.state, previous.resolved_at, previous.calm_buckets = IncidentState.open, None, 0
            change = changes.setdefault(previous.id, Change(previous))
            change.events.append(self._event(previous, "reopened", f"fired again: {ev.title}", now,
                                             level=ev.level.value))
            return previous
        return Incident(id=self._new_id(ev.fingerprint, now), fingerprint=ev.fingerprint, rule=ev.rule,
                        watchlist=ev.watchlist, title=ev.title, level=ev.level, peak_level=ev.level,
                        opened_at=now, updated_at=now)

    def _update_firing(self, change: Change, evs: list[Evaluation], now: datetime) -> None:
        incident = change.incident
        signals = {ev.fingerprint: _signal(ev, self.thresholds.get(ev.rule, {})) for ev in evs}
        score = severity.composite([(s["family"], s["normalized"]) for s in signals.values()])
        strongest = max(evs, key=lambda ev: signals[ev.fingerprint]["normalized"])
        change.evaluation = strongest
        computed = severity.level_of(score) or strongest.level
        bucket_end = max(ev.bucket_end for ev in evs)
        new_bucket = incident.last_evaluated_at is None or bucket_end > incident.last_evaluated_at
        # up at once, down only after deescalate_after buckets below the current level
        lower = incident.evidence.get("lower_buckets", 0)
        level = computed
        if incident.events and computed.rank < incident.level.rank:
            lower = lower + 1 if new_bucket else lower
            if lower < self.config.alerting.deescalate_after:
                level = incident.level
            else:
                lower = 0
        else:
            lower = 0
        pairs = sorted(_pairs(incident) | {(ev.rule, ev.watchlist) for ev in evs}, key=str)
        # where the story started is best told by the rules that follow its words or topic
        story = next((ev for ev in sorted(evs, key=lambda ev: -signals[ev.fingerprint]["normalized"])
                      if ev.spec.story and ev.evidence.get("first_posts")), strongest)
        rule_names = naming.joined_rules(incident.rule, pairs, incident.evidence.get("rule_names", ()))
        incident.evidence = {
            **strongest.evidence, "first_posts": story.evidence.get("first_posts", []), "rule": strongest.rule, "detector": strongest.detector,
            "observed": strongest.observed, "baseline": strongest.baseline, "spread": strongest.spread,
            "score": round(strongest.score, 3), "unit": strongest.unit,
            "window": [strongest.window_start.isoformat() if strongest.window_start else None,
                       strongest.bucket_end.isoformat()],
            "filter": strongest.filter.model_dump(mode="json", exclude_none=True) if strongest.filter else None,
            "signals": signals, "rules": [list(p) for p in pairs], "chart": incident.evidence.get("chart"),
            "lower_buckets": lower, "rule_names": rule_names}
        old_level = incident.level
        incident.title = naming.incident_title(strongest.title, rule_names)
        incident.score = round(score, 1)
        incident.level = level
        if level.rank > incident.peak_level.rank:
            incident.peak_level = level
        incident.last_fired_at = now
        incident.calm_buckets = 0
        incident.last_evaluated_at = max(bucket_end, incident.last_evaluated_at or bucket_end)
        data = {"level": level.value, "score": incident.score, "observed": strongest.observed,
                "baseline": strongest.baseline, "rules": sorted({ev.rule for ev in evs})}
        if not incident.events:
            change.events.append(self._event(incident, "fired", incident.title, now, **data))
        elif level != old_level:
            direction = "up" if level.rank > old_level.rank else "down"
            change.events.append(self._event(
                incident, "level_changed", f"level {old_level.value} -> {level.value}: {incident.title}", now,
                old=old_level.value, new=level.value, direction=direction, **{k: v for k, v in data.items()
                                                                               if k != "level"}))
        elif (new_bucket and incident.state == IncidentState.open
              and now - _last_announced(incident) >= parse_duration(self.config.alerting.renotify_every)):
            change.events.append(self._event(incident, "reminder", f"still ongoing: {incident.title}", now, **data))
        incident.updated_at = now

    def _count_calm(self, active: list[Incident], firing: dict[str, list[Evaluation]],
                    evaluations: list[Evaluation], now: datetime, changes: dict[str, Change]) -> None:
        latest: dict[tuple[str, str | None], datetime] = {}
        for ev in evaluations:
            key = (ev.rule, ev.watchlist)
            latest[key] = max(latest.get(key, ev.bucket_end), ev.bucket_end)
        collection_rules = {r.name for r in self.config.rules if r.spec().family == COLLECTION}
        data_gap = any(i.rule in collection_rules for i in active) or any(
            ev.rule in collection_rules and ev.fired for ev in evaluations)
        for incident in active:
            if incident.id in firing:
                continue
            seen = [latest[p] for p in _pairs(incident) if p in latest]
            if not seen:
                continue
            bucket_end = max(seen)
            if incident.last_evaluated_at is not None and bucket_end <= incident.last_evaluated_at:
                continue
            incident.last_evaluated_at = bucket_end
            change = changes.setdefault(incident.id, Change(incident))
            if data_gap and incident.rule not in collection_rules:
                continue  # a collection gap is not calm
            incident.calm_buckets += 1
            incident.updated_at = max(incident.updated_at, now)
            needed = self.config.alerting.auto_resolve_after_calm
            if incident.calm_buckets >= needed:
                incident.state = IncidentState.resolved
                incident.resolved_at = now
                change.events.append(self._event(
                    incident, "resolved", f"back to normal: no rule fired for {incident.calm_buckets} buckets",
                    now, auto=True, level=incident.level.value))

    # ---- escalation -----------------------------------------------------------------
    def escalate(self, now: datetime, incidents: Iterable[Incident] | None = None) -> list[Change]:
        changes = []
        for incident in incidents if incidents is not None else self.book.active():
            due = routing.due_escalations(self.config, incident, now)
            if not due:
                continue
            change = Change(incident)
            for route, number in due:
                step = route.escalation[number]
                incident.escalation_step += 1
                change.events.append(self._event(
                    incident, "escalated",
                    f"not acknowledged after {step.after}: escalated to {', '.join(step.channels)} (route {route.name})",
                    now, route=route.name, step=number, channels=list(step.channels), level=incident.level.value))
            changes.append(change)
        return changes

    # ---- people's actions ---------------------------------------------------------------
    def act(self, incident_id: str, action: str, now: datetime, source: str | None = None,
            check: Callable[[Incident], None] | None = None, mark: dict | None = None, **kwargs: str) -> Change:
        """``acknowledge``/``assign``/``note``/``resolve``/``rate`` the stored incident, re-applied
        to a fresh copy if someone else (a deliverer, an evaluator) saved it meanwhile, so neither
        write erases the other. ``source`` (web, cli, link, api) goes into the new events' data,
        for the audit log; ``check`` may refuse the change (IncidentError) after seeing the fresh
        copy, and ``mark`` adds data to the new events, in the same compare-and-set write (a
        single-use link records its nonce this way, so two clicks cannot both act)."""
        method = getattr(self, action)

        def apply(current: Incident) -> Change:
            if check is not None:
                check(current)
            change = method(current, now=now, **kwargs)
            for index in change.events:
                if source:
                    change.incident.events[index].data["source"] = source
                change.incident.events[index].data.update(mark or {})
            return change

        incident, change = self.book.update(incident_id, apply)
        if incident is None or change is None:
            raise IncidentError(f"no incident '{incident_id}'")
        return change

    def acknowledge(self, incident: Incident, by: str, now: datetime) -> Change:
        if incident.state == IncidentState.resolved:
            raise IncidentError(f"incident {incident.id} is already resolved")
        if incident.state == IncidentState.acknowledged:
            raise IncidentError(f"incident {incident.id} was already acknowledged by {incident.acknowledged_by}")
        incident.state, incident.acknowledged_at, incident.acknowledged_by = IncidentState.acknowledged, now, by
        return Change(incident, [self._event(incident, "acknowledged", f"acknowledged by {by}", now, actor=by)])

    def assign(self, incident: Incident, to: str, by: str, now: datetime) -> Change:
        incident.assignee = to
        return Change(incident, [self._event(incident, "assigned", f"assigned to {to}", now, actor=by, assignee=to)])

    def note(self, incident: Incident, text: str, by: str, now: datetime) -> Change:
        if not text.strip():
            raise IncidentError("a note needs some text")
        return Change(incident, [self._event(incident, "note", text, now, actor=by)])

    def resolve(self, incident: Incident, by: str, note: str, now: datetime) -> Change:
        if incident.state == IncidentState.resolved:
            raise IncidentError(f"incident {incident.id} is already resolved")
        incident.state, incident.resolved_at = IncidentState.resolved, now
        message = f"resolved by {by}" + (f": {note}" if note else "")
        return Change(incident, [self._event(incident, "resolved", message, now, actor=by, auto=False,
                                             level=incident.level.value)])

    def escalate_now(self, incident: Incident, by: str, now: datetime, note: str = "") -> Change:
        """Take the next escalation step of every route that escalates this incident now, without
        waiting for its delay (a person judged it cannot wait)."""
        if incident.state == IncidentState.resolved:
            raise IncidentError(f"incident {incident.id} is already resolved")
        taken = {(e.data.get("route"), e.data.get("step")) for e in incident.events if e.kind == "escalated"}
        change = Change(incident)
        for route in self.config.routes:
            if not route.escalation or not routing.route_applies(route, incident, incident.peak_level):
                continue
            steps = sorted(enumerate(route.escalation), key=lambda item: parse_duration(item[1].after))
            number, step = next(((n, st) for n, st in steps if (route.name, n) not in taken), (None, None))
            if step is None:
                continue
            incident.escalation_step += 1
            message = (f"escalated now by {by} to {', '.join(step.channels)} (route {route.name})"
                       + (f": {note}" if note else ""))
            change.events.append(self._event(incident, "escalated", message, now, actor=by, route=route.name,
                                             step=number, channels=list(step.channels), level=incident.level.value,
                                             manual=True))
        if not change.events:
            raise IncidentError(f"no escalation step is left for incident {incident.id}: no route with an "
                                "escalation applies to it, or every step was already taken")
        return change

    def silenced(self, incident: Incident, by: str, now: datetime, silence_id: str, text: str) -> Change:
        """Record on the incident that ``by`` silenced its notifications (the silence itself lives
        in ``alerts.muting``)."""
        return Change(incident, [self._event(incident, "silenced", text, now, actor=by, silence=silence_id)])

    def rate(self, incident: Incident, rating: str, by: str, now: datetime, note: str = "") -> Change:
        """How good the alert was, for alert quality per rule (a newer rating by the same person
        counts instead of their older one)."""
        if rating not in RATINGS:
            raise IncidentError(f"unknown rating '{rating}': {', '.join(RATINGS)}")
        message = f"rated {RATINGS[rating]} by {by}" + (f": {note}" if note else "")
        return Change(incident, [self._event(incident, "rated", message, now, actor=by, rating=rating)])
