"""Incidents over a replayed crisis: grouping, levels, calm, escalation, silences, restarts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crisiswatch.core.model import IncidentState, Level
from crisiswatch.core.store.sqlite import SqliteStore

from alerts import muting
from alerts.engine import evaluate_cycle
from alerts.incidents import IncidentBook, IncidentError, Lifecycle
from tests.alerts.helpers import ONSET, world_config

STEP = timedelta(minutes=15)


def run(store, config, start, end, step=STEP):  # noqa: ANN001, ANN201
    reports = []
    t = start
    while t <= end:
        reports.append(evaluate_cycle(store, config, t))
        assert reports[-1].errors == []
        t += step
    return reports


def routes(webhook, escalation: str = "") -> tuple[str, str]:  # noqa: ANN001
    channels = f"""channels:
  - {{name: team, url: "{webhook.url('/team')}", format: markdown}}
  - {{name: manager, url: "{webhook.url('/manager')}", format: text}}"""
    route = f"""routes:
  - name: acme-team
    watchlists: [acme]
    channels: [team]
{escalation}"""
    return channels, route


def test_a_crisis_is_one_incident_that_rises_falls_and_resolves_itself(world, tmp_path):
    config = world_config(str(tmp_path))
    run(world, config, ONSET - STEP, ONSET + timedelta(hours=4, minutes=30))
    incidents = world.list_incidents()
    assert [i.watchlist for i in incidents] == ["acme"]  # one incident; zenith never fired
    incident = incidents[0]
    kinds = [e.kind for e in incident.events]
    assert kinds[0] == "fired" and incident.opened_at <= ONSET + 2 * STEP
    assert len(incident.related) >= 3  # volume, negative share, terms, topic ... grouped
    assert incident.peak_level.rank >= Level.orange.rank
    changes = [e.data for e in incident.events if e.kind == "level_changed"]
    assert any(c["direction"] == "up" for c in changes) or kinds[0] == "fired"
    assert incident.state == IncidentState.resolved and kinds[-1] == "resolved"
    assert "back to normal" in incident.events[-1].message
    assert incident.resolved_at > ONSET + timedelta(hours=3)  # not before the crisis ended


def _evaluation(rule: str, score: float, at, level):  # noqa: ANN001, ANN202
    from alerts.detectors.base import Evaluation

    return Evaluation(rule=rule, detector="volume_spike", watchlist="acme", bucket_end=at, observed=score * 10,
                      baseline=10.0, spread=3.0, score=score, level=level, title=f"{rule} at {score}")


def test_levels_go_up_and_down_with_the_situation(tmp_path):
    config = world_config(str(tmp_path))
    book = IncidentBook(None)
    life = Lifecycle(book, config, [], notify=False)
    levels = []
    scores = [(7, Level.yellow), (14, Level.red)] + [(10, Level.orange)] * 3 + [(7, Level.yellow)] * 3
    for k, (score, level) in enumerate(scores):
        at = ONSET + k * STEP
        for change in life.apply([_evaluation("volume", score, at, level)], at):
            book.save(change.incident)
        levels.append(book.all()[0].level)
    # up at once; down only after alerting.deescalate_after (3) buckets below the current level
    Y, O, R = Level.yellow, Level.orange, Level.red
    assert levels == [Y, R, R, R, O, O, O, Y]
    incident = book.all()[0]
    assert incident.peak_level == Level.red
    assert [e.data["direction"] for e in incident.events if e.kind == "level_changed"] == ["up", "down", "down"]


def test_repeating_a_cycle_adds_nothing(world, tmp_path):
    config = world_config(str(tmp_path))
    at = ONSET + 2 * STEP
    evaluate_cycle(world, config, at)
    first = world.list_incidents()[0]
    again = evaluate_cycle(world, config, at)
    assert again.errors == []
    second = world.get_incident(first.id)
    assert [e.kind for e in second.events] == [e.kind for e in first.events]
    assert len(world.list_incidents()) == 1


def test_incidents_survive_a_restart(world, tmp_path):
    config = world_config(str(tmp_path))
    evaluate_cycle(world, config, ONSET + 2 * STEP)
    before = world.list_incidents()
    world.close()
    reopened = SqliteStore(world.path if hasattr(world, "path") else tmp_path / "store.db")
    reopened.setup()
    try:
        assert [i.model_dump() for i in reopened.list_incidents()] == [i.model_dump() for i in before]
        evaluate_cycle(reopened, config, ONSET + 3 * STEP)
        assert [i.id for i in reopened.list_incidents()] == [before[0].id]
    finally:
        reopened.close()


def test_escalation_reaches_the_next_contact_when_nobody_acknowledges(world, tmp_path, webhook):
    channels, route = routes(webhook, """    escalation:
      - {after: 30m, channels: [manager]}
      - {after: 2h, channels: [manager]}""")
    config = world_config(str(tmp_path), channels, route)
    opened_at = ONSET + 2 * STEP
    evaluate_cycle(world, config, opened_at)
    incident = world.list_incidents()[0]
    evaluate_cycle(world, config, opened_at + timedelta(minutes=20))
    assert not [r for r in webhook.received if r.path == "/manager"]
    # the timer keeps going: no new firing is needed for the escalation to happen
    evaluate_cycle(world, config, opened_at + timedelta(minutes=31), rules=[])
    escalations = [r for r in webhook.received if r.path == "/manager"]
    assert len(escalations) == 1 and "ESCALATION" in escalations[0].body["title"]
    # acknowledged: the second step never comes
    life = Lifecycle(IncidentBook(world), config, [])
    change = life.acknowledge(world.get_incident(incident.id), by="mei", now=opened_at + timedelta(minutes=40))
    world.save_incident(change.incident)
    evaluate_cycle(world, config, opened_at + timedelta(hours=3), rules=[])
    assert len([r for r in webhook.received if r.path == "/manager"]) == 1
    final = world.get_incident(incident.id)
    assert [e.kind for e in final.events].count("escalated") == 1 and final.escalation_step == 1


def test_a_silence_holds_notifications_but_not_the_incident(world, tmp_path, webhook):
    channels, route = routes(webhook)
    config = world_config(str(tmp_path), channels, route)
    muting.add(world, muting.Silence(watchlist="acme", start=ONSET - timedelta(hours=1),
                                         end=ONSET + timedelta(hours=1), reason="planned product launch",
                                         created_by="lee", created_at=ONSET - timedelta(hours=2)),
                 now=ONSET - timedelta(hours=2))
    evaluate_cycle(world, config, ONSET + 2 * STEP)
    incident = world.list_incidents()[0]
    assert webhook.received == [] and incident.notifications == []
    assert any(e.kind == "silenced" and "planned product launch" in e.message for e in incident.events)
    # after the silence, announcements resume (a reminder when the rule keeps firing)
    evaluate_cycle(world, config, ONSET + timedelta(hours=2, minutes=45))
    assert webhook.received, "no notification after the silence ended"


def test_people_acknowledge_assign_note_and_resolve(world, tmp_path, webhook):
    channels, route = routes(webhook)
    config = world_config(str(tmp_path), channels, route)
    evaluate_cycle(world, config, ONSET + 2 * STEP)
    incident = world.list_incidents()[0]
    life = Lifecycle(IncidentBook(world), config, [])
    now = ONSET + 3 * STEP
    for action, kwargs in (("acknowledge", {"by": "mei"}), ("assign", {"to": "li", "by": "mei"}),
                           ("note", {"text": "statement drafted", "by": "li"}),
                           ("resolve", {"by": "li", "note": "recall handled"})):
        incident = getattr(life, action)(incident, now=now, **kwargs).incident
    world.save_incident(incident)
    saved = world.get_incident(incident.id)
    assert saved.state == IncidentState.resolved and saved.acknowledged_by == "mei" and saved.assignee == "li"
    assert [e.kind for e in saved.events][-4:] == ["acknowledged", "assigned", "note", "resolved"]
    with pytest.raises(IncidentError, match="already resolved"):
        life.acknowledge(saved, by="x", now=now)


def test_reminders_are_throttled_and_stop_once_acknowledged(tmp_path):
    config = world_config(str(tmp_path))  # renotify_every: 2h
    book = IncidentBook(None)
    life = Lifecycle(book, config, [], notify=False)
    for k in range(16):  # four hours of the same yellow firing
        at = ONSET + k * STEP
        for change in life.apply([_evaluation("volume", 7, at, Level.yellow)], at):
            book.save(change.incident)
    incident = book.all()[0]
    assert [e.at - ONSET for e in incident.events if e.kind == "reminder"] == [timedelta(hours=2)]
    life.acknowledge(incident, by="mei", now=ONSET + timedelta(hours=4))
    book.save(incident)
    for k in range(16, 40):
        at = ONSET + k * STEP
        for change in life.apply([_evaluation("volume", 7, at, Level.yellow)], at):
            book.save(change.incident)
    assert [e.kind for e in book.all()[0].events].count("reminder") == 1


def test_a_rule_that_fires_again_soon_after_calm_reopens_its_incident(tmp_path):
    config = world_config(str(tmp_path))  # auto_resolve_after_calm: 3
    book = IncidentBook(None)
    life = Lifecycle(book, config, [], notify=False)
    plan = [7, 0, 0, 0, 7]  # fire, three calm buckets (resolved), fire again 15 minutes later
    for k, score in enumerate(plan):
        at = ONSET + k * STEP
        ev = _evaluation("volume", score, at, Level.yellow if score else None)
        for change in life.apply([ev], at):
            book.save(change.incident)
    incidents = book.all()
    assert len(incidents) == 1
    kinds = [e.kind for e in incidents[0].events]
    assert kinds == ["fired", "resolved", "reopened"] and incidents[0].state == IncidentState.open


@pytest.mark.parametrize("resolved_by", ["person", "calm"])
def test_a_different_rule_after_a_resolve_opens_a_new_incident(tmp_path, resolved_by):
    """The volume incident of acme is resolved (by a person, or by calm); an hour later crisis
    terms fire for acme: that is a new incident under its own rule, announced as new, and the
    resolved one stays resolved (its rule, title and timeline unchanged)."""
    config = world_config(str(tmp_path))  # auto_resolve_after_calm: 3, renotify_every: 2h
    store = SqliteStore(tmp_path / "s.db")
    store.setup()
    book = IncidentBook(store)
    life = Lifecycle(book, config, [], notify=False)

    def cycle(evaluation, at):  # noqa: ANN001, ANN202
        for change in life.apply([evaluation], at):
            book.save(change.incident)

    cycle(_evaluation("volume", 7, ONSET, Level.yellow), ONSET)
    [first] = book.active()
    if resolved_by == "person":
        life.act(first.id, "resolve", ONSET + STEP, by="mei", note="explained")
    else:
        for k in (1, 2, 3):
            cycle(_evaluation("volume", 0, ONSET + k * STEP, None), ONSET + k * STEP)
    assert book.get(first.id).state == IncidentState.resolved
    later = ONSET + timedelta(hours=1)
    cycle(_evaluation("crisis-terms", 7, later, Level.yellow), later)
    incidents = store.list_incidents(limit=10)
    store.close()
    assert len(incidents) == 2, [(i.rule, i.state) for i in incidents]
    new = next(i for i in incidents if i.id != first.id)
    old = next(i for i in incidents if i.id == first.id)
    assert new.rule == "crisis-terms" and new.state == IncidentState.open and new.opened_at == later
    assert [e.kind for e in new.events][0] == "fired"
    assert old.state == IncidentState.resolved and old.rule == "volume"
    assert "reopened" not in [e.kind for e in old.events]
