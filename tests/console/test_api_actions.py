"""The JSON API's escalate and silence actions and its tokens' expiry, list and rate limit:
what an integration gets, what the team is told, and what the audit log says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from alerts import muting
from crisiswatch.app.api_tokens import Tokens
from crisiswatch.app.console.app import create_app
from crisiswatch.app.incident_service import audit_log
from crisiswatch.core.config import EscalationStep
from crisiswatch.core.model import utc_now
from crisiswatch.core.store.sqlite import SqliteStore
from tests.alerts.test_cli import cli, write_config
from tests.console.conftest import make_crisis


@pytest.fixture
def crisis(world, tmp_path, webhook, secret):  # noqa: ARG001
    made = make_crisis(world, tmp_path, webhook, "http://testserver")
    made.config.routes[0].escalation = [EscalationStep(after="1d", channels=["hook"])]  # only "escalate now" takes it
    return made


@pytest.fixture
def client(crisis):
    with TestClient(create_app(crisis.config, crisis.store), follow_redirects=False) as c:
        yield c


def bearer(store, name: str, **options) -> dict[str, str]:  # noqa: ANN001, ANN003
    return {"Authorization": f"Bearer {Tokens(store).create(name, **options)}"}


def test_escalate_through_the_api_notifies_once_and_is_audited_as_api(client, crisis):
    auth = bearer(crisis.store, "mei")
    path = f"/api/v1/incidents/{crisis.incident.id}/escalate"
    viewer = client.post(path, headers=bearer(crisis.store, "vic"), json={})
    assert viewer.status_code == 403 and "viewer" in viewer.json()["detail"]
    before = len(crisis.webhook.received)
    done = client.post(path, headers=auth, json={"note": "CEO named in the posts"})
    assert done.status_code == 200, done.text
    assert len(crisis.webhook.received) == before + 1  # the escalation channel was told
    assert "CEO named in the posts" in crisis.webhook.received[-1].body["message"]
    kinds = [(e["kind"], e["actor"], e["source"]) for e in done.json()["incident"]["events"]]
    assert ("escalated", "mei", "api") in kinds
    again = client.post(path, headers=auth, json={})
    assert again.status_code == 409 and "no escalation step is left" in again.json()["detail"]
    top = audit_log(crisis.store)[0]
    assert (top.kind, top.actor, top.source) == ("escalated", "mei", "api")


def test_silences_are_made_listed_and_ended_through_the_api_with_roles_and_audit(client, crisis):
    auth, viewer = bearer(crisis.store, "mei"), bearer(crisis.store, "vic")
    body = {"watchlist": crisis.incident.watchlist, "duration": "2h", "reason": "press briefing at 3"}
    assert client.post("/api/v1/silences", headers=viewer, json=body).status_code == 403
    assert muting.load(crisis.store) == []
    made = client.post("/api/v1/silences", headers=auth, json=body)
    assert made.status_code == 201, made.text
    silence = made.json()
    assert silence["watchlist"] == crisis.incident.watchlist and silence["rule"] is None and silence["active"]
    assert silence["created_by"] == "mei" and silence["reason"] == "press briefing at 3"
    (stored,) = muting.load(crisis.store)  # the same silence the notifier obeys
    assert stored.id == silence["id"] and stored.matches(crisis.incident, utc_now())
    top = audit_log(crisis.store)[0]
    assert (top.kind, top.actor, top.source) == ("silenced", "mei", "api") and "press briefing" in top.message

    listed = client.get("/api/v1/silences", headers=viewer).json()  # a viewer may read them
    assert listed["count"] == 1 and listed["silences"][0]["id"] == silence["id"]

    assert client.delete(f"/api/v1/silences/{silence['id']}", headers=viewer).status_code == 403
    ended = client.delete(f"/api/v1/silences/{silence['id'][:6]}", headers=auth)  # a unique prefix works
    assert ended.status_code == 200 and ended.json()["id"] == silence["id"]
    assert muting.load(crisis.store) == []
    top = audit_log(crisis.store)[0]
    assert (top.kind, top.actor, top.source) == ("unsilenced", "mei", "api") and silence["id"] in top.message
    assert client.delete(f"/api/v1/silences/{silence['id']}", headers=auth).status_code == 404


def test_a_silence_made_for_an_incident_lands_in_its_timeline(client, crisis):
    auth = bearer(crisis.store, "ada")
    made = client.post("/api/v1/silences", headers=auth, json={
        "rule": crisis.incident.rule, "duration": "90m", "reason": "known outage", "incident_id": crisis.incident.id})
    assert made.status_code == 201, made.text
    events = crisis.store.get_incident(crisis.incident.id).events
    assert [(e.actor, e.data.get("source")) for e in events if e.kind == "silenced"] == [("ada", "api")]


def test_silence_input_is_checked_with_clear_errors(client, crisis):
    auth = bearer(crisis.store, "mei")
    cases = [{"duration": "2h", "reason": "x"},  # neither watchlist nor rule
             {"watchlist": "nope", "duration": "2h", "reason": "x"},
             {"watchlist": crisis.incident.watchlist, "duration": "8d", "reason": "x"},
             {"watchlist": crisis.incident.watchlist, "duration": "soon", "reason": "x"},
             {"watchlist": crisis.incident.watchlist, "duration": "2h", "reason": "  "},
             {"watchlist": crisis.incident.watchlist, "duration": "2h"}]
    for body in cases:
        response = client.post("/api/v1/silences", headers=auth, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"], body
    assert "unknown watchlist 'nope'" in client.post("/api/v1/silences", headers=auth, json=cases[1]).json()["detail"]
    missing = client.post("/api/v1/silences", headers=auth, json={**cases[2], "duration": "1h", "incident_id": "ffffff"})
    assert missing.status_code == 404
    assert muting.load(crisis.store) == []


def test_an_expired_token_is_refused_and_says_so(client, crisis):
    tokens = Tokens(crisis.store)
    old = tokens.create("mei", lifetime=timedelta(days=1), now=utc_now() - timedelta(days=2))
    refused = client.get("/api/v1/me", headers={"Authorization": f"Bearer {old}"})
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    with pytest.raises(ValueError):
        tokens.create("mei", lifetime=timedelta(days=3650))


def test_a_token_over_its_rate_limit_gets_429_with_retry_after_and_its_last_use_is_listed(client, crisis):
    auth = bearer(crisis.store, "mei", rate_per_minute=3)
    assert Tokens(crisis.store).get("mei").last_used_at is None
    answers = [client.get("/api/v1/me", headers=auth).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429, 429]
    over = client.get("/api/v1/me", headers=auth)
    assert 1 <= int(over.headers["retry-after"]) <= 60 and "rate limit" in over.json()["detail"]
    used = Tokens(crisis.store).get("mei").last_used_at
    assert used is not None and utc_now() - used < timedelta(minutes=1)
    assert client.get("/api/v1/me", headers=bearer(crisis.store, "ada")).status_code == 200  # per token


def test_users_token_expiry_list_and_audit_from_the_cli(world, tmp_path, monkeypatch):
    config = write_config(tmp_path, world.path)
    world.close()
    monkeypatch.setenv("CRISISWATCH_PASSWORD", "first password 1")
    monkeypatch.setenv("CRISISWATCH_USER", "ops-lead")
    assert cli("users", "add", "mei", "--role", "responder", "-c", config).exit_code == 0
    made = cli("users", "token", "mei", "--expires", "30d", "--rate", "60", "-c", config)
    assert made.exit_code == 0, made.output
    assert "60/min" in made.stderr and "never used" in made.stderr
    assert cli("users", "token", "mei", "--expires", "soon", "-c", config).exit_code == 1
    listed = cli("users", "token", "--list", "-c", config)
    assert listed.exit_code == 0 and "mei" in listed.stdout and "60/min" in listed.stdout
    store = SqliteStore(world.path)
    (info,) = Tokens(store).list()
    assert timedelta(days=29) < info.expires_at - utc_now() <= timedelta(days=30)
    assert cli("users", "passwd", "mei", "-c", config).exit_code == 0
    assert cli("users", "token", "mei", "--revoke", "default", "-c", config).exit_code == 0
    assert cli("users", "remove", "mei", "-c", config).exit_code == 0
    entries = [(a.kind, a.actor, a.source) for a in audit_log(store)]
    assert entries == [("user_removed", "ops-lead", "cli"), ("token_revoked", "ops-lead", "cli"),
                       ("password_changed", "ops-lead", "cli"), ("token_created", "ops-lead", "cli"),
                       ("user_added", "ops-lead", "cli")]
    store.close()


def test_ending_a_silence_and_a_drill_from_the_cli_name_who_did_it(world, tmp_path, monkeypatch):
    config = write_config(tmp_path, world.path, extra="""channels: [{name: box, url: "json://127.0.0.1:9/", format: text}]
routes: [{name: all, channels: [box]}]""")
    world.close()
    monkeypatch.delenv("CRISISWATCH_USER", raising=False)
    added = cli("alerts", "silence", "add", "--watchlist", "acme", "--for", "2h", "--reason", "launch", "--by", "mei",
                "-c", config)
    silence_id = added.output.split()[1].rstrip(":")
    assert cli("alerts", "silence", "remove", silence_id, "--by", "li", "-c", config).exit_code == 0
    store = SqliteStore(world.path)
    top = audit_log(store)[0]
    assert (top.kind, top.actor, top.source) == ("unsilenced", "li", "cli") and silence_id in top.message
    cli("alerts", "drill", "--watchlist", "acme", "-c", config)  # the channel is unreachable; the drill is recorded
    drill = next(i for i in store.list_incidents(states=None) if i.rule == "drill")
    assert drill.events[0].actor.endswith("(system account)")  # the account that ran it, not "drill"
    store.close()
