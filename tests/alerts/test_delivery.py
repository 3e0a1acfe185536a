"""Notifications reach a real SMTP server and a real HTTP receiver on 127.0.0.1, once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from crisiswatch.app.cli import app
from crisiswatch.core.model import utc_now
from crisiswatch.core.store.sqlite import SqliteStore

from alerts.engine import evaluate_cycle
from alerts.notify import deliver_pending, mask
from tests.alerts.helpers import ONSET, WebhookReceiver, free_port, world_config

REPO = Path(__file__).resolve().parents[2]
AT = ONSET + timedelta(minutes=30)


def test_email_and_webhook_receive_the_alert_with_its_evidence(world, tmp_path, webhook, smtp):
    config = world_config(str(tmp_path), f"""channels:
  - {{name: email, url: "{smtp.url()}", format: html}}
  - {{name: hook, url: "{webhook.url()}", format: markdown}}""", """routes:
  - {name: all, channels: [email, hook]}""")
    report = evaluate_cycle(world, config, AT)
    assert report.errors == [] and report.delivered == 2
    incident = world.list_incidents()[0]

    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert f"[{incident.level.value.upper()}] acme" in mail["Subject"]
    html_part = next(p for p in mail.walk() if p.get_content_type() == "text/html")
    body = html_part.get_payload(decode=True).decode()
    assert "normal" in body and "famous_critic" in body and "crisiswatch alerts ack" in body
    assert "crisiswatch search" in body  # no kibana_url: the local search command line
    pngs = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert pngs and pngs[0].get_payload(decode=True)[:8] == b"\x89PNG\r\n\x1a\n"

    assert len(webhook.received) == 1
    hook = webhook.received[0]
    key = f"{incident.id}:0:hook"
    assert hook.headers["x-crisiswatch-idempotency-key"] == key
    assert "acme" in hook.body["title"] and "Top terms" in hook.body["message"]

    outbox = sorted(p.name for p in (tmp_path / "outbox").iterdir())
    assert outbox == sorted([f"{incident.id}_0_email.json", f"{incident.id}_0_hook.json"])
    assert all(r.status == "sent" and r.attempts == 1 for r in world.get_incident(incident.id).notifications)


def test_a_channel_that_is_down_is_retried_and_delivered_later(world, tmp_path):
    port = free_port()  # nothing listens here yet
    config = world_config(str(tmp_path), f"""channels:
  - {{name: hook, url: "json://127.0.0.1:{port}/hook", format: text}}""", """routes:
  - {name: all, channels: [hook]}""")
    evaluate_cycle(world, config, AT)
    incident = world.list_incidents()[0]
    record = incident.notifications[0]
    assert record.status == "failed" and record.attempts == 1 and record.next_attempt_at == AT + timedelta(seconds=30)
    assert (tmp_path / "outbox" / f"{incident.id}_0_hook.json").exists()  # kept locally even so
    receiver = WebhookReceiver(port=port)
    try:
        assert deliver_pending(world, config, AT + timedelta(seconds=10)) == 0  # backoff not over
        assert receiver.received == []
        assert deliver_pending(world, config, AT + timedelta(minutes=1)) == 1
        assert deliver_pending(world, config, AT + timedelta(minutes=5)) == 0  # never twice
    finally:
        receiver.stop()
    assert len(receiver.received) == 1
    saved = world.get_incident(incident.id)
    assert (saved.notifications[0].status, saved.notifications[0].attempts) == ("sent", 2)
    kinds = [e.kind for e in saved.events]
    assert kinds.index("notify_failed") < kinds.index("notified")


def test_a_restart_in_the_middle_of_delivery_sends_nothing_twice(world, tmp_path):
    fast, slow = WebhookReceiver(), WebhookReceiver(mode="hang")
    config_file = tmp_path / "crisiswatch.yaml"
    config_file.write_text(f"""
data_dir: {tmp_path}
store: {{sqlite_path: {world.path}}}
watchlists: [{{name: acme, terms: [acme]}}, {{name: zenith, terms: [zenith]}}]
crisis_lexicon: [recall, 召回]
rules:
  - {{name: volume, detector: volume_spike, min_count: 8}}
  - {{name: crisis-terms, detector: keyword_burst, window: 1h, min_count: 5}}
channels:
  - {{name: fast, url: "{fast.url()}", format: text}}
  - {{name: slow, url: "{slow.url()}", format: text, timeout: 1s}}
routes: [{{name: all, channels: [fast, slow]}}]
alerting: {{outbox_dir: {tmp_path}/outbox}}
""", encoding="utf-8")
    world.close()
    command = [sys.executable, "-c", "from crisiswatch.app.cli import main; main()", "alerts", "evaluate",
               "--now", AT.isoformat(), "--config", str(config_file)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while not slow.attempts and process.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert slow.attempts, process.communicate(timeout=30)[0].decode()[-2000:]
        process.send_signal(signal.SIGKILL)  # killed while the slow channel is being sent to
        process.wait(timeout=10)
        assert len(fast.received) == 1
        slow.mode = "ok"
        slow.release.set()
        rerun = command[:6] + [(AT + timedelta(minutes=5)).isoformat(), *command[7:]]
        # the dead process's claim holds until its lease runs out (it may have been mid-send) ...
        done = subprocess.run(rerun, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert slow.received == []
        with SqliteStore(world.path) as store:
            record = next(r for r in store.list_incidents()[0].notifications if r.channel == "slow")
        assert record.status == "pending" and record.claimed_by and record.lease_until
        time.sleep(max(0.0, (record.lease_until - utc_now()).total_seconds()) + 0.2)
        # ... and then the next run sends it
        done = subprocess.run(rerun, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        fast.stop()
        slow.stop()
    assert len(fast.received) == 1  # not sent again after the restart
    keys = {r.headers["x-crisiswatch-idempotency-key"] for r in slow.received}
    assert keys == {fast.received[0].headers["x-crisiswatch-idempotency-key"].replace(":fast", ":slow")}


def test_secrets_are_resolved_at_send_time_and_never_stored(world, tmp_path, webhook, monkeypatch, caplog):
    token = "tok-7f3a9c-very-secret"
    monkeypatch.setenv("CRISISWATCH_TEST_HOOK_TOKEN", token)
    config = world_config(str(tmp_path), f"""channels:
  - {{name: hook, url: "{webhook.url('/hooks/${CRISISWATCH_TEST_HOOK_TOKEN}')}", format: text}}
  - {{name: down, url: "json://user:${{CRISISWATCH_TEST_HOOK_TOKEN}}@127.0.0.1:{free_port()}/x", format: text}}""",
                          """routes:
  - {name: all, channels: [hook, down]}""")
    evaluate_cycle(world, config, AT)
    assert webhook.received[0].path == f"/hooks/{token}"
    incident = world.list_incidents()[0]
    failed = next(r for r in incident.notifications if r.channel == "down")
    assert failed.status == "failed" and failed.last_error
    world.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert token.encode() not in stored
    assert token not in caplog.text


def test_mask_removes_secret_values_and_url_passwords():
    text = "POST https://bot:hunter22@hooks.example/x failed; token hunter22 rejected"
    masked = mask(text, ["hunter22"])
    assert "hunter22" not in masked and "***" in masked
    assert mask("mailto://alerts:pw123@smtp.example", []) == "mailto://alerts:***@smtp.example"


def test_a_missing_secret_is_a_config_check_error_and_not_a_spent_attempt(world, tmp_path, webhook, monkeypatch):
    channels = f"""channels:
  - {{name: hook, url: "{webhook.url('/h/${CRISISWATCH_NOT_SET_ANYWHERE}')}", format: text}}"""
    config = world_config(str(tmp_path), channels, """routes:
  - {name: all, channels: [hook]}""")
    evaluate_cycle(world, config, AT)
    for minutes in (1, 2, 3, 4, 5, 6):  # more runs than max_attempts: none of them counts
        deliver_pending(world, config, AT + timedelta(minutes=minutes))
    record = world.list_incidents()[0].notifications[0]
    assert record.status == "pending" and record.attempts == 0
    assert "CRISISWATCH_NOT_SET_ANYWHERE is not set" in record.last_error
    assert webhook.received == []

    config_file = tmp_path / "crisiswatch.yaml"
    config_file.write_text(f"data_dir: {tmp_path}\n{channels}\nroutes: [{{name: all, channels: [hook]}}]\n",
                           encoding="utf-8")
    checked = CliRunner().invoke(app, ["config", "check", str(config_file)])
    assert checked.exit_code == 2
    assert f"{config_file}:3: channels[0].url: environment variable CRISISWATCH_NOT_SET_ANYWHERE is not set" \
        in checked.output

    monkeypatch.setenv("CRISISWATCH_NOT_SET_ANYWHERE", "s3cret")
    assert CliRunner().invoke(app, ["config", "check", str(config_file)]).exit_code == 0
    assert deliver_pending(world, config, AT + timedelta(minutes=7)) == 1
    record = world.list_incidents()[0].notifications[0]
    assert (record.status, record.attempts) == ("sent", 1)


def test_drill_reaches_every_routed_channel_clearly_marked(world, tmp_path, webhook, smtp):
    config_file = tmp_path / "crisiswatch.yaml"
    config_file.write_text(f"""
store: {{sqlite_path: {world.path}}}
watchlists: [{{name: acme, terms: [acme]}}]
channels:
  - {{name: email, url: "{smtp.url()}", format: html}}
  - {{name: hook, url: "{webhook.url()}", format: markdown}}
routes:
  - {{name: pr, watchlists: [acme], min_level: orange, channels: [email]}}
  - {{name: ops, min_level: blue, channels: [hook]}}
alerting: {{outbox_dir: {tmp_path}/outbox}}
""", encoding="utf-8")
    world.close()
    result = CliRunner().invoke(app, ["alerts", "drill", "--watchlist", "acme", "--config", str(config_file)])
    assert result.exit_code == 0, result.output
    assert "2 of 2 channels reached" in result.output
    assert smtp.messages and "[DRILL]" in smtp.messages[0]["Subject"]
    assert webhook.received and webhook.received[0].body["title"].startswith("[DRILL]")
    assert "no action needed" in webhook.received[0].body["message"]
    listed = CliRunner().invoke(app, ["alerts", "list", "--state", "all", "--json", "--config", str(config_file)])
    drill = json.loads(listed.output.splitlines()[0])
    assert drill["rule"] == "drill" and drill["state"] == "resolved"


def test_drill_fails_loudly_when_a_channel_is_down(world, tmp_path):
    config_file = tmp_path / "crisiswatch.yaml"
    config_file.write_text(f"""
store: {{sqlite_path: {world.path}}}
channels: [{{name: hook, url: "json://127.0.0.1:{free_port()}/x", format: text}}]
routes: [{{name: ops, channels: [hook]}}]
alerting: {{outbox_dir: {tmp_path}/outbox}}
""", encoding="utf-8")
    world.close()
    result = CliRunner().invoke(app, ["alerts", "drill", "--config", str(config_file)])
    assert result.exit_code == 1 and "FAILED" in result.output and "0 of 1" in result.output


def test_user_text_cannot_inject_markup(tmp_path):
    from crisiswatch.core.model import Incident, IncidentEvent, Level

    from alerts.render import render

    config = world_config(str(tmp_path))
    evil = {"id": "weibo:1", "source": "weibo", "url": "javascript:alert(1)", "author": "<b>mallory</b>",
            "followers": 10, "engagement": 3, "created_at": ONSET.isoformat(),
            "text": '<script>alert("x")</script> [click me](https://evil.example) **bold** @channel\u202e'}
    incident = Incident(id="abc", fingerprint="volume|acme|", rule="volume", watchlist="acme", title="spike",
                        level=Level.red, peak_level=Level.red, opened_at=ONSET, updated_at=ONSET,
                        evidence={"top_posts": [evil], "first_posts": [evil], "top_terms": [["<i>x</i>", 3]],
                                  "observed": 10, "baseline": 2.0, "spread": 1.0, "score": 9, "unit": "posts"})
    event = IncidentEvent(at=ONSET, kind="fired", message="spike")
    html_body = render(config, incident, event, "html", "k").body
    assert "<script>" not in html_body and "&lt;script&gt;" in html_body
    assert "<b>mallory</b>" not in html_body and "&lt;b&gt;mallory" in html_body
    assert "javascript" not in html_body  # not a link, and not shown
    assert "<i>x</i>" not in html_body
    markdown = render(config, incident, event, "markdown", "k").body
    assert "[click me](https://evil.example)" not in markdown and "click me (https://evil.example)" in markdown
    assert "**bold**" not in markdown and "(javascript" not in markdown
    text = render(config, incident, event, "text", "k").body
    assert "\u202e" not in text


def test_messages_link_to_kibana_discover_when_configured(tmp_path):
    from crisiswatch.core.model import Incident, IncidentEvent, Level

    from alerts.render import render

    config = world_config(str(tmp_path), extra="kibana_url: http://kibana.example:5601")
    incident = Incident(id="abc", fingerprint="volume|acme|", rule="volume", watchlist="acme", title="spike",
                        level=Level.orange, peak_level=Level.orange, opened_at=ONSET, updated_at=ONSET,
                        evidence={"filter": {"watchlists": ["acme"], "sentiments": ["negative"]},
                                  "window": [ONSET.isoformat(), (ONSET + timedelta(hours=1)).isoformat()]})
    body = render(config, incident, IncidentEvent(at=ONSET, kind="fired", message="spike"), "html", "k").body
    assert 'href="http://kibana.example:5601/app/discover#/' in body and "acme" in body


# ---- one sender for briefings and operations alerts too -------------------------------------
def test_briefings_and_operations_alerts_leave_through_the_incident_sender(world, tmp_path, webhook, smtp,
                                                                          monkeypatch, caplog):
    """Outbox, masking and the idempotency key, as for incidents; a briefing sent twice for the
    same period reaches each channel once (unless resent)."""
    from crisiswatch.app import operations, steps

    token = "tok-ops-5150-secret"
    monkeypatch.setenv("CRISISWATCH_TEST_OPS_TOKEN", token)
    config = world_config(str(tmp_path), f"""channels:
  - {{name: ops, url: "{webhook.url('/ops/${CRISISWATCH_TEST_OPS_TOKEN}')}", format: text}}
  - {{name: mail, url: "{smtp.url()}", format: html}}""", extra="airflow: {operations_channels: [ops], "
                                                              "briefing_channels: [mail, ops]}")
    error = ConnectionError(f"POST https://hooks.example/{token} refused")
    assert operations.task_failed(config, "alerts", "evaluate", "manual__1", error=error) == {"ops": True}

    [alert] = webhook.received
    assert alert.path == f"/ops/{token}"  # the secret reaches the channel, and only the channel
    assert alert.body["title"] == "crisiswatch: alerts.evaluate failed"
    assert token not in alert.body["message"] and "hooks.example/***" in alert.body["message"]
    key = "operations:task-failed:alerts.evaluate.-1:manual__1:ops"
    assert alert.headers["x-crisiswatch-idempotency-key"] == key and f"ref {key}" in alert.body["message"]
    outbox = json.loads((tmp_path / "outbox" / (key.replace(":", "_") + ".json")).read_text(encoding="utf-8"))
    assert (outbox["event"], outbox["channel"], outbox["title"]) == ("operations", "ops", alert.body["title"])
    assert token not in json.dumps(outbox)

    briefing = tmp_path / "briefing.html"
    briefing.write_text("<html><body><h1>acme: 42 posts</h1></body></html>", encoding="utf-8")
    start, end = ONSET, ONSET + timedelta(days=1)
    assert steps.send_briefing(config, briefing, start, end, store=world) == {"mail": True, "ops": True}
    assert steps.send_briefing(config, briefing, start, end, store=world) == {"mail": True, "ops": True}
    smtp_deadline = time.time() + 10
    while len(smtp.messages) < 1 and time.time() < smtp_deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # a second e-mail, if any, would have arrived by now
    assert len(smtp.messages) == 1 and len(webhook.received) == 2  # the second call sent nothing
    mail = smtp.messages[0]
    briefing_key = f"briefing:{start:%Y%m%dT%H%M}-{end:%Y%m%dT%H%M}"
    assert mail["X-Crisiswatch-Idempotency-Key"] == f"{briefing_key}:mail"
    assert [p.get_filename() for p in mail.walk() if p.get_filename()] == ["briefing.html"]
    assert webhook.received[1].headers["x-crisiswatch-idempotency-key"] == f"{briefing_key}:ops"
    assert {p.name for p in (tmp_path / "outbox").iterdir()} >= {
        f"{briefing_key}:mail.json".replace(":", "_"), f"{briefing_key}:ops.json".replace(":", "_")}

    steps.send_briefing(config, briefing, start, end, channels=["ops"], store=world, resend=True)
    assert len(webhook.received) == 3  # asked for explicitly
    assert token not in caplog.text


def test_a_standalone_message_is_retried_at_once_and_then_reported_undelivered(world, tmp_path):
    from crisiswatch.app import operations

    receiver = WebhookReceiver(mode="error")
    try:
        config = world_config(str(tmp_path), f"""channels:
  - {{name: ops, url: "{receiver.url('/ops')}", format: text, max_attempts: 2, timeout: 5s}}""",
                              extra="airflow: {operations_channels: [ops]}")
        outcome = operations.alert_operations(config, "crisiswatch: test", "body", "operations:test")
    finally:
        receiver.stop()
    assert outcome == {"ops": False}
    assert len(receiver.attempts) == 2  # the channel's max_attempts, no more
    assert (tmp_path / "outbox" / "operations_test_ops.json").exists()  # kept locally even so


# ---- message formats are extensions -------------------------------------------------------
TOY_FORMAT = '''
from crisiswatch.core.extensions import MessageFormat


def render(content):
    return "TOY FORMAT|" + content.headline + "|" + content.footer


SHOUT = MessageFormat(name="shout", render=render, body_format="text")
'''


def test_a_format_from_another_package_is_used_by_a_channel(world, tmp_path, webhook, monkeypatch):
    from crisiswatch.core import registry
    from crisiswatch.core.config import ConfigError
    from tests.extension_package import make_package

    channel = f"""channels:
  - {{name: hook, url: "{webhook.url()}", format: shout}}"""
    routes = """routes:
  - {name: all, channels: [hook]}"""
    try:
        world_config(str(tmp_path), channel, routes)
        raise AssertionError("an unknown format must be a config error")
    except ConfigError as exc:
        assert "unknown message format 'shout' (known: html, markdown, text)" in str(exc)

    package = make_package(tmp_path / "toy", "toy-formats", {"toy_formats.shout": TOY_FORMAT},
                           {"crisiswatch.formats": {"shout": "toy_formats.shout:SHOUT"}})
    monkeypatch.syspath_prepend(str(package))
    registry.forget()
    try:
        config = world_config(str(tmp_path), channel, routes)
        report = evaluate_cycle(world, config, AT)
        assert report.delivered == 1
    finally:
        registry.forget()
    [message] = webhook.received
    incident = world.list_incidents()[0]
    assert message.body["message"].startswith("TOY FORMAT|")
    assert message.body["message"].endswith(f"ref {incident.id}:0:hook")
    assert message.headers["x-crisiswatch-idempotency-key"] == f"{incident.id}:0:hook"
