"""A channel outage does not lose the alert (issue 12, item 4): retried with capped backoff
until ``delivery_max_age``, delivered when the channel returns, operations told, a route's
fallback used, and ``alerts deliver`` failing while anything is undelivered."""

from __future__ import annotations

from datetime import timedelta

from typer.testing import CliRunner

from crisiswatch.app.cli import app

from alerts.engine import evaluate_cycle
from alerts import notify
from tests.alerts.helpers import ONSET, WebhookReceiver, free_port, two_rule_config_file, world_config

AT = ONSET + timedelta(minutes=30)


def write_config(tmp_path, store_path, channels: str, routes: str, alerting: str = "") -> str:  # noqa: ANN001
    return two_rule_config_file(tmp_path, store_path, channels, routes, extra="airflow: {operations_channels: [ops]}",
                                alerting=f", retry_backoff: 30s{alerting}")


def deliver_at(path: str, at):  # noqa: ANN001, ANN201
    return CliRunner().invoke(app, ["alerts", "deliver", "--now", at.isoformat(), "-c", path])


def test_an_outage_is_ridden_out_and_the_alert_delivered_when_the_channel_returns(world, tmp_path):
    port = free_port()
    receiver, ops = WebhookReceiver(mode="error", port=port), WebhookReceiver()
    try:
        path = write_config(tmp_path, world.path, f"""channels:
  - {{name: hook, url: "json://127.0.0.1:{port}/hook", format: text, max_attempts: 2, timeout: 2s}}
  - {{name: ops, url: "{ops.url('/ops')}", format: text}}""", "routes: [{name: all, channels: [hook]}]")
        world.close()
        first = CliRunner().invoke(app, ["alerts", "evaluate", "--now", AT.isoformat(), "-c", path])
        assert first.exit_code == 0, first.output  # attempt 1: HTTP 500
        failing = deliver_at(path, AT + timedelta(minutes=1))  # attempt 2 = max_attempts: operations told
        assert failing.exit_code == 1 and "1 undelivered" in failing.output
        assert len(receiver.attempts) == 2 and receiver.received == []
        receiver.stop()  # now the channel refuses connections
        for minutes in (5, 30):
            assert deliver_at(path, AT + timedelta(minutes=minutes)).exit_code == 1
        receiver = WebhookReceiver(port=port)  # it comes back
        assert deliver_at(path, AT + timedelta(minutes=31)).exit_code == 1  # the backoff is not over yet
        done = deliver_at(path, AT + timedelta(hours=3))
        assert done.exit_code == 0 and "1 notifications delivered" in done.output, done.output
        assert deliver_at(path, AT + timedelta(hours=4)).exit_code == 0  # nothing twice
    finally:
        receiver.stop()
        ops.stop()
    from crisiswatch.core.store.sqlite import SqliteStore

    with SqliteStore(world.path) as store:
        [incident] = store.list_incidents()
    assert receiver.keys() == [f"{incident.id}:0:hook"]
    [record] = incident.notifications
    assert record.status == "sent" and record.attempts == 5  # 500, 500, refused, refused, delivered
    kinds = [e.kind for e in incident.events]
    assert kinds.count("notify_failed") == 4 and kinds[-1] == "notified"
    titles = [r.body["title"] for r in ops.received]
    assert titles == ["crisiswatch: alert channel 'hook' is failing", "crisiswatch: alert channel 'hook' works again"]


def test_a_failing_channel_fails_over_to_the_routes_fallback(world, tmp_path):
    backup, ops = WebhookReceiver(), WebhookReceiver()
    try:
        config = world_config(str(tmp_path), f"""channels:
  - {{name: chat, url: "json://127.0.0.1:{free_port()}/chat", format: text, max_attempts: 2, timeout: 2s}}
  - {{name: backup, url: "{backup.url('/backup')}", format: text}}
  - {{name: ops, url: "{ops.url('/ops')}", format: text}}""", """routes:
  - {name: all, channels: [chat], fallback: [backup]}""", extra="airflow: {operations_channels: [ops]}")
        evaluate_cycle(world, config, AT)
        assert backup.received == []  # one failure is not an outage yet
        report = notify.deliver(world, config, AT + timedelta(minutes=1))
    finally:
        backup.stop()
        ops.stop()
    [incident] = world.list_incidents()
    assert backup.keys() == [f"{incident.id}:0:backup"]
    assert report.delivered == 1 and report.undelivered and report.undelivered[0].startswith(f"{incident.id}:0:chat")
    records = {r.channel: r for r in incident.notifications}
    assert records["chat"].status == "failed" and records["chat"].next_attempt_at  # still retried
    assert records["backup"].status == "sent" and records["backup"].failover_from == "chat"
    assert any(e.kind == "failover" and e.data["channel"] == "backup" for e in incident.events)
    assert "fallback channel 'backup'" in ops.received[0].body["message"]


def test_an_alert_undelivered_after_max_age_is_given_up_loudly(world, tmp_path):
    ops = WebhookReceiver()
    try:
        config = world_config(str(tmp_path), f"""channels:
  - {{name: hook, url: "json://127.0.0.1:{free_port()}/hook", format: text, timeout: 2s}}
  - {{name: ops, url: "{ops.url('/ops')}", format: text}}""", "routes: [{name: all, channels: [hook]}]",
                              extra="  delivery_max_age: 6h\nairflow: {operations_channels: [ops]}")
        evaluate_cycle(world, config, AT)
        assert notify.deliver(world, config, AT + timedelta(hours=5)).failed == 1  # still retried after 5 h
        report = notify.deliver(world, config, AT + timedelta(hours=7))
    finally:
        ops.stop()
    [incident] = world.list_incidents()
    assert report.failed == 0 and "given up after 6h" in report.undelivered[0]
    assert incident.notifications[0].status == "expired"
    assert incident.events[-1].kind == "notify_expired"
    assert [r.body["title"] for r in ops.received][-1] == "crisiswatch: a notification was given up (hook)"
