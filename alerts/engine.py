"""One evaluation cycle: detectors -> incidents -> escalation -> notifications.

``evaluate_cycle`` is what the Airflow alert DAG, ``crisiswatch run`` and ``crisiswatch
alerts evaluate`` call. It reads only data created before ``now`` (no look-ahead), so the
backtest can call the same detectors with past times.

Other processes write incidents while a cycle runs (a person acknowledging, a deliverer, a
second evaluator). Saving is a compare-and-set: when one of the cycle's writes loses, the
cycle re-reads the incidents and applies the same evaluations again (the lifecycle is
idempotent for a repeated bucket), so the other writer's change is kept and a second
evaluator joins the incident the first one opened instead of opening its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from crisiswatch.core import registry
from crisiswatch.core.config import Config, RuleConfig
from crisiswatch.core.model import Incident, IncidentState, Level, as_utc, utc_now
from crisiswatch.core.store.base import IncidentConflict, PostFilter, Store

from alerts import chart, muting, routing
from alerts.detectors.base import Evaluation, RuleContext
from alerts.incidents import Change, IncidentBook, Lifecycle, incident_id, pause
from alerts.notify import deliver_pending
from alerts.series import SeriesCache, nowcast_time

log = logging.getLogger(__name__)
MAX_PASSES = 25
"""Times a cycle re-applies its evaluations after losing a race, before it reports an error."""


@dataclass
class CycleReport:
    """What one cycle saw and did."""

    at: datetime
    evaluations: list[Evaluation] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    delivered: int = 0

    @property
    def fired(self) -> list[Evaluation]:
        return [e for e in self.evaluations if e.fired]

    def summary(self) -> str:
        return (f"{len(self.evaluations)} evaluations, {len(self.fired)} firing, {len(self.changes)} incidents "
                f"changed, {self.delivered} notifications delivered, {len(self.errors)} errors")


def data_start(store: Store, now: datetime) -> datetime | None:
    """Creation time of the first post up to ``now`` (future-dated posts are ignored)."""
    first = store.first_posts(PostFilter(until=now), limit=1)
    return first[0].created_at if first else None


def scopes(rule: RuleConfig, config: Config, scope: str) -> list[str | None]:
    """The watchlists a rule is evaluated for (None = the rule's filter as a whole): a
    ``global`` detector (a quiet source concerns every watchlist) is evaluated once."""
    if scope == "global" or not rule.per_watchlist:
        return [None]
    names = rule.filter.watchlists or [w.name for w in config.watchlists]
    return list(names) or [None]


def run_rules(store: Store, config: Config, now: datetime, cache: SeriesCache,
              rules: list[RuleConfig] | None = None) -> tuple[list[Evaluation], list[str]]:
    """Every enabled rule for every scope at ``now``; one rule failing does not stop the rest."""
    start = data_start(store, now)
    evaluations, errors = [], []
    for rule in rules if rules is not None else [r for r in config.rules if r.enabled]:
        spec = registry.get("detectors", rule.detector)
        params = rule.detector_params()
        for scope in scopes(rule, config, spec.scope):
            ctx = RuleContext(store=store, config=config, rule=rule, params=params, now=now, watchlist=scope,
                              cache=cache, data_start=start)
            try:
                evaluations.extend(spec.run(ctx))
            except Exception as exc:  # noqa: BLE001 - reported per rule, the cycle goes on
                where = f" for watchlist '{scope}'" if scope else ""
                errors.append(f"rule '{rule.name}'{where}: {type(exc).__name__}: {exc}")
                log.exception("rule %s failed", rule.name)
    return evaluations, errors


def _draw_charts(config: Config, changes: list[Change], now: datetime) -> None:
    for change in changes:
        ev = change.evaluation
        notifies = any(change.incident.events[i].kind in routing.NOTIFYING_KINDS for i in change.events)
        if not (config.alerting.charts and ev is not None and ev.series and notifies):
            continue
        path = chart.chart_path(config.data_dir, change.incident.id, now)
        try:
            chart.draw(path, ev.series, ev.expected, ev.title, change.incident.level.value, ev.window_start,
                       unit="matching posts per bucket" if ev.unit == "share" else f"{ev.unit} per bucket")
            change.incident.evidence["chart"] = str(path)
        except Exception:  # noqa: BLE001 - a chart is a nicety; the alert must still go out
            log.exception("could not draw the chart of incident %s", change.incident.id)


def evaluate_cycle(store: Store, config: Config, now: datetime | None = None, deliver: bool = True,
                   rules: list[RuleConfig] | None = None, nowcast: bool = False) -> CycleReport:
    """Evaluate every enabled rule at ``now``, update incidents, escalate, deliver. With
    ``nowcast`` the open bucket is evaluated before it closes (``alerts.series.nowcast_time``)."""
    now = as_utc(now) if now else utc_now()
    report = CycleReport(at=now)
    at = nowcast_time(now, config, rules) if nowcast else now
    report.evaluations, report.errors = run_rules(store, config, at, SeriesCache(store), rules)
    saved, error = apply_and_save(store, config, report.evaluations, now)
    if error:
        report.errors.append(error)
    report.changes = [c for c in saved.values() if c.events]
    if deliver:
        report.delivered = deliver_pending(store, config, now)
    return report


def apply_and_save(store: Store, config: Config, evaluations: list[Evaluation],
                   now: datetime) -> tuple[dict[str, Change], str | None]:
    """Incidents, escalation and charts for one cycle, saved; a pass that loses a race on some
    incident is repeated on fresh copies. Returns the saved changes by incident id (events
    of every pass) and an error if the races never settled."""
    book = IncidentBook(store)
    life = Lifecycle(book, config, muting.load(store))
    saved: dict[str, Change] = {}
    for attempt in range(MAX_PASSES):
        active = book.active()
        before = {i.id: i.model_dump_json() for i in active}
        changes = {c.incident.id: c for c in life.apply(evaluations, now, active)}
        current = {i.id: i for i in active if i.state != IncidentState.resolved}
        current.update({i: c.incident for i, c in changes.items() if c.incident.state != IncidentState.resolved})
        for change in life.escalate(now, current.values()):
            if change.incident.id in changes:
                changes[change.incident.id].events.extend(change.events)
            else:
                changes[change.incident.id] = change
        _draw_charts(config, list(changes.values()), now)
        lost = False
        for change in changes.values():
            if before.get(change.incident.id) == change.incident.model_dump_json():
                continue  # nothing new for it in this pass
            try:
                book.save(change.incident)  # also calm counts and evaluation marks without an event
            except IncidentConflict as exc:
                log.info("cycle at %s: %s; applying the evaluations again", now, exc)
                lost = True
                continue
            earlier = saved.get(change.incident.id)
            saved[change.incident.id] = change if earlier is None else Change(
                change.incident, earlier.events + change.events, change.evaluation or earlier.evaluation)
        if not lost:
            return saved, None
        pause(attempt)
    return saved, f"incidents kept changing under this cycle; gave up after {MAX_PASSES} passes (run it again)"


def run_drill(store: Store, config: Config, level: Level = Level.red, watchlist: str | None = None,
              now: datetime | None = None, by: str = "drill") -> Incident:
    """Send a clearly marked test incident through the routing; returns it with its deliveries."""
    now = as_utc(now) if now else utc_now()
    drill_id = "drill-" + incident_id(f"drill|{watchlist or '*'}|", now)[:8]
    fingerprint = f"drill|{watchlist or '*'}|{drill_id}"  # drills at once do not share an open fingerprint
    incident = Incident(
        id=drill_id, fingerprint=fingerprint, rule="drill", watchlist=watchlist,
        title="DRILL: test incident to check the warning path - no action needed", level=level, peak_level=level,
        opened_at=now, updated_at=now,
        evidence={"observed": 0, "baseline": 0, "unit": "posts", "detector": "drill", "family": "drill",
                  "score": 0, "rule": "drill",
                  "filter": PostFilter(watchlists=(watchlist,) if watchlist else None).model_dump(
                      mode="json", exclude_none=True), "window": [now.isoformat(), now.isoformat()]})
    probe = incident.model_copy(deep=True)
    routing.add_event(probe, "fired", "", now, level=level.value)
    channels = routing.channels_for(config, probe, probe.events[0]) or [c.name for c in config.channels if c.enabled]
    index = routing.add_event(incident, "drill", f"This is a drill, no action needed (started by {by}): every "
                              f"channel routed for level {level.value} should receive this message", now, actor=by,
                              channels=channels, level=level.value)
    routing.queue(config, incident, index, [], now)
    store.save_incident(incident)
    deliver_pending(store, config, now, incident_ids=[incident.id])

    def finish(current: Incident) -> Incident:
        current.state, current.resolved_at = IncidentState.resolved, now
        for record in current.notifications:
            if record.status != "sent":  # a drill that failed is reported now, not retried all day
                record.status, record.claimed_by, record.lease_until = "cancelled", None, None
        routing.add_event(current, "resolved", "drill finished", now, actor=by)
        return current

    finished, _ = IncidentBook(store).update(incident.id, finish)
    return finished or incident
