"""Replay stored history bucket by bucket, as if live, and score it against labelled onsets.

At each step the detectors see only posts created before that step (the same code as the
live cycle, with an in-memory incident book and no notifications), so the incidents listed
are the ones that would have fired. With labels (watchlist + onset time, optionally an end)
the report gives the detection delay in buckets, recall and false alarms per week.

Delay: 0 means the alert fired at the end of the bucket in which the crisis started.
A label is detected when a rule fires for its watchlist after its onset and before its end
(default: onset + ``max_delay``). An incident opened outside every label window of its
watchlist is a false alarm.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from crisiswatch.core.config import Config, RuleConfig, parse_duration
from crisiswatch.core.model import Incident, UtcDatetime, as_utc
from crisiswatch.core.store.base import Store

from alerts.engine import run_rules
from alerts.incidents import IncidentBook, Lifecycle
from alerts.series import SeriesCache, floor_time

WEEK = timedelta(days=7)


class Label(BaseModel):
    model_config = ConfigDict(extra="forbid")

    watchlist: str
    onset: UtcDatetime
    end: UtcDatetime | None = None
    """Until when an alert still counts as detecting this crisis (default: onset + max delay)."""
    name: str = ""


def load_labels(path: str | Path) -> list[Label]:
    """Labels from a YAML or JSON list of ``{watchlist, onset, end?, name?}``."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    if isinstance(data, dict):
        data = data.get("labels", [])
    return [Label.model_validate(item) for item in data]


@dataclass
class LabelResult:
    label: Label
    detected_at: datetime | None
    delay_buckets: int | None


@dataclass
class BacktestReport:
    start: datetime
    end: datetime
    step: timedelta
    incidents: list[Incident]
    firings: dict[str, list[datetime]]
    """Watchlist (or '*') -> times at which at least one rule fired for it."""
    watchlists: list[str]
    errors: list[str] = field(default_factory=list)
    results: list[LabelResult] = field(default_factory=list)
    false_alarms: list[Incident] = field(default_factory=list)

    @property
    def weeks(self) -> float:
        return max((self.end - self.start) / WEEK, 1e-9)

    @property
    def recall(self) -> float | None:
        return sum(r.detected_at is not None for r in self.results) / len(self.results) if self.results else None

    @property
    def median_delay(self) -> float | None:
        delays = [r.delay_buckets for r in self.results if r.delay_buckets is not None]
        return statistics.median(delays) if delays else None

    @property
    def false_alarms_per_week(self) -> float:
        """Per watchlist, so that the figure does not grow with the number of brands watched."""
        return len(self.false_alarms) / self.weeks / max(len(self.watchlists), 1)

    def as_dict(self) -> dict:
        return {
            "from": self.start.isoformat(), "to": self.end.isoformat(), "step_s": self.step.total_seconds(),
            "incidents": [{"id": i.id, "rule": i.rule, "watchlist": i.watchlist, "opened_at": i.opened_at.isoformat(),
                           "peak_level": i.peak_level.value, "title": i.title,
                           "resolved_at": i.resolved_at.isoformat() if i.resolved_at else None}
                          for i in self.incidents],
            "labels": [{"watchlist": r.label.watchlist, "onset": r.label.onset.isoformat(), "name": r.label.name,
                        "detected_at": r.detected_at.isoformat() if r.detected_at else None,
                        "delay_buckets": r.delay_buckets} for r in self.results],
            "recall": self.recall, "median_delay_buckets": self.median_delay,
            "false_alarms": len(self.false_alarms), "false_alarms_per_week": self.false_alarms_per_week,
            "errors": self.errors}


def run_backtest(store: Store, config: Config, start: datetime, end: datetime,
                 rules: list[RuleConfig] | None = None, labels: list[Label] | None = None,
                 max_delay: timedelta = timedelta(hours=6), step: timedelta | None = None) -> BacktestReport:
    """Evaluate every step in ``(start, end]`` with only the data known then."""
    rules = rules if rules is not None else [r for r in config.rules if r.enabled]
    if not rules:
        raise ValueError("no enabled rule to backtest")
    step = step or min(parse_duration(r.bucket) for r in rules)
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise ValueError("--to must be after --from")
    cache = SeriesCache(store, persist=False, settle_override=timedelta(0))
    book = IncidentBook(None)
    life = Lifecycle(book, config, [], notify=False)
    firings: dict[str, list[datetime]] = {}
    errors: list[str] = []
    watchlists: set[str] = set()
    t = floor_time(start, step) + step
    while t <= end:
        evaluations, step_errors = run_rules(store, config, t, cache, rules)
        errors.extend(f"{t.isoformat()}: {e}" for e in step_errors[:3])
        for ev in evaluations:
            watchlists.add(ev.watchlist or "*")
            if ev.fired:
                times = firings.setdefault(ev.watchlist or "*", [])
                if not times or times[-1] != t:
                    times.append(t)
        for change in life.apply(evaluations, t):
            book.save(change.incident)
        t += step
    incidents = sorted(book.all(), key=lambda i: i.opened_at)
    report = BacktestReport(start=start, end=end, step=step, incidents=incidents, firings=firings,
                            watchlists=sorted(watchlists), errors=errors)
    if labels is not None:
        score(report, labels, max_delay)
    return report


def score(report: BacktestReport, labels: list[Label], max_delay: timedelta) -> None:
    """Fill in per-label detection and the false alarms (see the module docstring)."""
    step = report.step
    windows: dict[str, list[tuple[datetime, datetime]]] = {}
    report.results = []
    for label in labels:
        first_bucket_end = floor_time(label.onset, step) + step
        until = label.end or (label.onset + max_delay)
        windows.setdefault(label.watchlist, []).append((floor_time(label.onset, step), until))
        hits = [t for t in report.firings.get(label.watchlist, []) if first_bucket_end <= t <= until]
        detected = hits[0] if hits else None
        delay = int((detected - first_bucket_end) / step) if detected else None
        report.results.append(LabelResult(label, detected, delay))
    report.false_alarms = []
    for incident in report.incidents:
        openings = [incident.opened_at] + [e.at for e in incident.events if e.kind == "reopened"]
        for opened in openings:
            inside = any(a <= opened <= b for a, b in windows.get(incident.watchlist or "*", []))
            if not inside:
                report.false_alarms.append(incident)


def format_report(report: BacktestReport) -> str:
    lines = [f"backtest {report.start:%Y-%m-%d %H:%M} -> {report.end:%Y-%m-%d %H:%M} UTC, step "
             f"{report.step}, {len(report.incidents)} incidents would have fired:"]
    for i in report.incidents:
        lines.append(f"  {i.opened_at:%Y-%m-%d %H:%M}  {i.peak_level.value:<6} {i.watchlist or '*':<14} "
                     f"{i.rule:<18} {i.title}")
    if report.results:
        lines.append("labelled crises:")
        for r in report.results:
            found = (f"detected {r.detected_at:%Y-%m-%d %H:%M}, delay {r.delay_buckets} buckets"
                     if r.detected_at else "MISSED")
            lines.append(f"  {r.label.watchlist:<14} onset {r.label.onset:%Y-%m-%d %H:%M} {r.label.name}: {found}")
        lines.append(f"recall={report.recall:.2f} median_delay_buckets={report.median_delay} "
                     f"false_alarms={len(report.false_alarms)} false_alarms_per_week={report.false_alarms_per_week:.2f}")
    for error in report.errors[:10]:
        lines.append(f"error: {error}")
    return "\n".join(lines)


def report_json(report: BacktestReport) -> str:
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=2)
