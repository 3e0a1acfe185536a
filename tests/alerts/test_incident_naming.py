"""An incident's rule list and title follow every signal that joined it; a watchlist's
"learning" state shows in `alerts list` and in the briefing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from typer.testing import CliRunner

from crisiswatch.app.cli import app
from crisiswatch.core.config import parse_config
from crisiswatch.core.model import Level, Post
from crisiswatch.core.store.sqlite import SqliteStore
from crisiswatch.app.console.api import IncidentSummary
from crisiswatch.reports.briefing import BASELINE_LEARNING, briefing_context, incident_row

from alerts.detectors.base import Evaluation
from alerts.incidents import IncidentBook, Lifecycle
from alerts.learning import DEFAULT_LEARNING

NOW = datetime(2026, 3, 9, 10, tzinfo=timezone.utc)


def config(tmp_path):  # noqa: ANN001, ANN201
    return parse_config(f"""
data_dir: {tmp_path}
watchlists: [{{name: acme, terms: [acme]}}]
rules:
  - {{name: acme-volume, detector: volume_spike}}
  - {{name: acme-crisis-terms, detector: keyword_burst, window: 1h}}
  - {{name: acme-sustained, detector: sustained_shift}}
alerting: {{outbox_dir: {tmp_path}/outbox}}
""", "t.yaml")


def ev(rule: str, detector: str, score: float, title: str, at: datetime) -> Evaluation:
    return Evaluation(rule=rule, detector=detector, watchlist="acme", bucket_end=at, observed=10, baseline=1,
                      spread=1, score=score, level=Level.blue if score < 6 else Level.yellow, title=title)


def test_title_and_rules_follow_every_signal_that_joined(tmp_path):
    book = IncidentBook(None)
    life = Lifecycle(book, config(tmp_path), [], notify=False)
    [change] = life.apply([ev("acme-volume", "volume_spike", 4.5, "40 posts on 'acme' in the last 15 min", NOW)], NOW)
    book.save(change.incident)
    later = NOW + timedelta(minutes=15)
    [change] = life.apply([ev("acme-volume", "volume_spike", 4.2, "38 posts on 'acme'", later),
                           ev("acme-crisis-terms", "keyword_burst", 7.0, "8 posts on 'acme' use crisis terms", later)],
                          later)
    incident = change.incident
    assert incident.rule == "acme-volume"  # the fingerprint stays the opening rule's
    assert incident.evidence["rule_names"] == ["acme-volume", "acme-crisis-terms"]
    assert "8 posts on 'acme' use crisis terms" in incident.title
    assert "acme-volume" in incident.title and "acme-crisis-terms" in incident.title
    # every place that lists the incident names both rules, not only the opening one
    assert incident.rules == ["acme-volume", "acme-crisis-terms"]
    assert IncidentSummary.of(incident).rules == ["acme-volume", "acme-crisis-terms"]
    assert incident_row(incident, later)["rules"] == "acme-volume, acme-crisis-terms"


def write_store(tmp_path, first: datetime) -> str:  # noqa: ANN001
    store = SqliteStore(tmp_path / "s.db")
    store.setup()
    store.upsert_posts([Post(id=f"x:{k}", source="x", text="acme", created_at=first + timedelta(minutes=10 * k),
                             watchlists=["acme"]) for k in range(12)])
    store.close()
    return str(tmp_path / "s.db")


def test_alerts_list_and_briefing_show_a_learning_watchlist(tmp_path):
    assert BASELINE_LEARNING == DEFAULT_LEARNING  # the reports cannot import alerts: one period, two places
    first = datetime.now(timezone.utc) - timedelta(hours=3)
    path = write_store(tmp_path, first)
    cfg_path = tmp_path / "crisiswatch.yaml"
    cfg_path.write_text(f"""
data_dir: {tmp_path}
store: {{sqlite_path: {path}}}
watchlists: [{{name: acme, terms: [acme]}}]
rules: [{{name: sustained, detector: sustained_shift}}]
alerting: {{outbox_dir: {tmp_path}/outbox}}
""", encoding="utf-8")
    result = CliRunner().invoke(app, ["alerts", "list", "-c", str(cfg_path)])
    assert result.exit_code == 0, result.output
    assert "acme" in result.output and "learning" in result.output
    store = SqliteStore(path)
    store.setup()
    context = briefing_context(store, parse_config(cfg_path.read_text(), str(cfg_path)),
                               first - timedelta(hours=1), first + timedelta(hours=3))
    store.close()
    [row] = context["watchlists"]
    assert row["learning"] and 0 < row["history_hours"] < 4


def test_a_reopened_incident_keeps_every_signal_and_names_the_one_that_joined_later(tmp_path):
    """Volume opens it, crisis terms join, calm resolves it, volume reopens it within the renotify
    window and a sustained rise joins: one story, every rule listed in the order it came."""
    cfg = config(tmp_path)
    book = IncidentBook(None)
    life = Lifecycle(book, cfg, [], notify=False)

    def cycle(at: datetime, *evs: Evaluation) -> None:
        for change in life.apply(list(evs), at):
            book.save(change.incident)

    def calm(rule: str, detector: str, at: datetime) -> Evaluation:
        quiet = ev(rule, detector, 1.0, "calm", at)
        quiet.level = None
        return quiet

    step = timedelta(minutes=15)
    cycle(NOW, ev("acme-volume", "volume_spike", 4.5, "40 posts on 'acme' in the last 15 min", NOW))
    cycle(NOW + step, ev("acme-volume", "volume_spike", 4.3, "39 posts on 'acme'", NOW + step),
          ev("acme-crisis-terms", "keyword_burst", 4.4, "6 posts on 'acme' use crisis terms", NOW + step))
    at = NOW + step
    for _ in range(cfg.alerting.auto_resolve_after_calm):
        at += step
        cycle(at, calm("acme-volume", "volume_spike", at), calm("acme-crisis-terms", "keyword_burst", at))
    [incident] = book.all()
    assert incident.state.value == "resolved"
    at += step
    cycle(at, ev("acme-volume", "volume_spike", 4.6, "41 posts on 'acme' in the last 15 min", at))
    at += step
    cycle(at, ev("acme-volume", "volume_spike", 4.2, "38 posts on 'acme'", at),
          ev("acme-sustained", "sustained_shift", 7.5, "sustained rise: 60 negative posts on 'acme'", at))
    [incident] = book.all()
    assert incident.state.value == "open"
    assert any(e.kind == "reopened" for e in incident.events)
    assert incident.evidence["rule_names"] == ["acme-volume", "acme-crisis-terms", "acme-sustained"]
    assert incident.title.startswith("sustained rise: 60 negative posts on 'acme'")
    assert incident.title.endswith("[signals: acme-volume, acme-crisis-terms, acme-sustained]")
