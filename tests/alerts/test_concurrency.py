"""Several processes on one store: nobody's write erases another's, one incident per
fingerprint, one send per notification (issue 12, items 1-3).

Each race is staged deterministically (the other writer acts at the worst moment); the
chaos test (test_chaos.py) runs them all at once for real.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from typer.testing import CliRunner

from crisiswatch.app.cli import app
from crisiswatch.core.model import IncidentState
from crisiswatch.core.store.sqlite import SqliteStore

from alerts import engine
from alerts.engine import evaluate_cycle
from alerts.notify import deliver_pending
from tests.alerts.helpers import ONSET, WebhookReceiver, two_rule_config_file, world_config

AT = ONSET + timedelta(minutes=30)


def config_file(tmp_path, store_path, channels: str = "", routes: str = "") -> str:  # noqa: ANN001
    return two_rule_config_file(tmp_path, store_path, channels, routes, alerting=", delivery_max_age: 3650d")


def cli(*args: str):  # noqa: ANN201
    return CliRunner().invoke(app, list(args))


def test_an_acknowledgement_made_while_a_delivery_is_in_flight_is_kept(world, tmp_path):
    """Item 1: the deliverer read the incident, sends slowly, then records "sent": the ack
    written meanwhile (state, event, its own notification) must survive that write."""
    slow = WebhookReceiver(delay=1.5)
    try:
        path = config_file(tmp_path, world.path, f"""channels:
  - {{name: hook, url: "{slow.url()}", format: text}}""", "routes: [{name: all, channels: [hook]}]")
        from crisiswatch.core.config import load_config

        config = load_config(path)
        evaluate_cycle(world, config, AT, deliver=False)
        [incident] = world.list_incidents()
        deliverer = threading.Thread(target=deliver_pending, args=(SqliteStore(world.path), config, AT))
        deliverer.start()
        slow.wait_for(1, attempts=True)  # the "fired" message is on its way
        acked = cli("alerts", "ack", incident.id, "--by", "alice", "-c", path)
        deliverer.join(30)
        assert acked.exit_code == 0, acked.output
        assert deliver_pending(world, config, AT + timedelta(minutes=1)) == 0  # nothing left over
    finally:
        slow.stop()
    saved = world.get_incident(incident.id)
    assert saved.state == IncidentState.acknowledged and saved.acknowledged_by == "alice"
    ack_index = next(i for i, e in enumerate(saved.events) if e.kind == "acknowledged")
    assert {r.idempotency_key: r.status for r in saved.notifications} == {
        f"{incident.id}:0:hook": "sent", f"{incident.id}:{ack_index}:hook": "sent"}
    assert sorted(slow.keys()) == sorted([f"{incident.id}:0:hook", f"{incident.id}:{ack_index}:hook"])


def test_a_note_and_an_assignment_made_during_an_evaluation_are_kept(world, tmp_path, monkeypatch):
    """Item 1: a cycle that read the incidents before a person wrote must not save its copy
    over theirs; it applies its evaluations again to what they wrote."""
    path = config_file(tmp_path, world.path)
    from crisiswatch.core.config import load_config

    config = load_config(path)
    evaluate_cycle(world, config, AT)
    [incident] = world.list_incidents()
    draw, people = engine._draw_charts, []

    def person_writes_mid_cycle(*args):  # noqa: ANN002, ANN202 - between the cycle's read and its save
        draw(*args)
        if not people:
            people.append(cli("alerts", "note", incident.id, "called the plant manager", "--by", "li", "-c", path))
            people.append(cli("alerts", "assign", incident.id, "--to", "li", "--by", "mei", "-c", path))

    monkeypatch.setattr(engine, "_draw_charts", person_writes_mid_cycle)
    report = evaluate_cycle(world, config, AT + timedelta(minutes=15))
    assert report.errors == [] and [r.exit_code for r in people] == [0, 0]
    saved = world.get_incident(incident.id)
    assert saved.assignee == "li"
    assert any(e.kind == "note" and e.message == "called the plant manager" for e in saved.events)
    assert saved.last_evaluated_at > incident.last_evaluated_at  # and the cycle's own update is there too


def test_two_evaluations_at_once_open_one_incident_announced_once(world, tmp_path, webhook, monkeypatch):
    """Item 2: the other evaluator opens (and announces) the incident between this one's
    look-up and its save; this one joins it instead of opening and announcing a second."""
    config = world_config(str(tmp_path), f"""channels:
  - {{name: hook, url: "{webhook.url()}", format: text}}""", "routes: [{name: all, channels: [hook]}]")
    draw, other = engine._draw_charts, []

    def other_evaluator_wins(*args):  # noqa: ANN002, ANN202
        draw(*args)
        if not other:
            other.append(None)
            other[0] = evaluate_cycle(SqliteStore(world.path), config, AT + timedelta(minutes=1))

    monkeypatch.setattr(engine, "_draw_charts", other_evaluator_wins)
    report = evaluate_cycle(world, config, AT)
    assert report.errors == [] and other[0].errors == []
    incidents = world.list_incidents(states=None)
    assert len(incidents) == 1
    assert webhook.keys() == [f"{incidents[0].id}:0:hook"]
    assert [e.kind for e in incidents[0].events].count("fired") == 1


def test_a_receiver_slower_than_apprises_default_gets_the_message_once(world, tmp_path):
    """Item 3: a receiver that answers after 5 s got the message; it must not be marked
    failed and sent again (the channel sets no timeout: the default is generous)."""
    slow = WebhookReceiver(delay=5)
    try:
        config = world_config(str(tmp_path), f"""channels:
  - {{name: hook, url: "{slow.url()}", format: text}}""", "routes: [{name: all, channels: [hook]}]")
        evaluate_cycle(world, config, AT)
        for minutes in (1, 5, 30):
            deliver_pending(world, config, AT + timedelta(minutes=minutes))
    finally:
        slow.stop()
    [incident] = world.list_incidents()
    assert slow.keys() == [f"{incident.id}:0:hook"]
    assert [(r.status, r.attempts) for r in incident.notifications] == [("sent", 1)]


def test_two_deliverers_at_once_send_each_notification_once(world, tmp_path):
    """Item 3: a delivery is claimed before it is sent, so of two processes delivering the
    same queue at the same moment only one sends each message."""
    slow = WebhookReceiver(delay=1.0)
    try:
        config = world_config(str(tmp_path), f"""channels:
  - {{name: a, url: "{slow.url('/a')}", format: text}}
  - {{name: b, url: "{slow.url('/b')}", format: text}}""", "routes: [{name: all, channels: [a, b]}]")
        evaluate_cycle(world, config, AT, deliver=False)
        start = threading.Barrier(3)

        def deliverer() -> None:
            store = SqliteStore(world.path)
            start.wait()
            deliver_pending(store, config, AT)
            store.close()

        threads = [threading.Thread(target=deliverer) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        slow.stop()
    [incident] = world.list_incidents()
    assert sorted(slow.keys()) == [f"{incident.id}:0:a", f"{incident.id}:0:b"]
    assert [(r.status, r.attempts) for r in incident.notifications] == [("sent", 1), ("sent", 1)]
