"""The JSON API (/api/v1) with per-user tokens: what an integration gets for each request."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from crisiswatch.app.api_tokens import STATE_KEY, TokenRefused, Tokens
from crisiswatch.app.console.app import create_app
from crisiswatch.app.incident_service import audit_log
from crisiswatch.app.users import Users
from crisiswatch.core.store.sqlite import SqliteStore
from tests.alerts.test_cli import cli, write_config
from tests.console.conftest import make_crisis


@pytest.fixture
def crisis(world, tmp_path, webhook, secret):  # noqa: ARG001
    return make_crisis(world, tmp_path, webhook, "http://testserver")


@pytest.fixture
def client(crisis):
    with TestClient(create_app(crisis.config, crisis.store), follow_redirects=False) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_without_a_valid_token_the_api_answers_401_in_json(client, crisis):
    for headers in ({}, bearer("cw_not-a-token"), {"Authorization": "Basic bWVpOnB3"}):
        response = client.get("/api/v1/incidents", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["content-type"].startswith("application/json")
        assert "crisiswatch users token" in response.json()["detail"]
        assert response.headers["www-authenticate"] == "Bearer"
    token = Tokens(crisis.store).create("mei")
    Users(crisis.store).remove("mei")  # a removed user's token dies with the account
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_a_responder_lists_filters_reads_and_acts_and_it_is_audited_as_api(client, crisis):
    auth = bearer(Tokens(crisis.store).create("mei"))
    assert client.get("/api/v1/me", headers=auth).json() == {"name": "mei", "role": "responder"}
    listed = client.get("/api/v1/incidents", headers=auth, params={"level": crisis.incident.level.value}).json()
    assert [i["id"] for i in listed["incidents"]] == [crisis.incident.id] and listed["count"] == 1
    assert client.get("/api/v1/incidents", headers=auth, params={"watchlist": "zenith"}).json()["count"] == 0
    assert client.get("/api/v1/incidents", headers=auth, params={"state": "resolved"}).json()["count"] == 0
    one = client.get(f"/api/v1/incidents/{crisis.incident.id[:6]}", headers=auth).json()  # a prefix works too
    assert one["id"] == crisis.incident.id and one["state"] == "open" and one["events"][0]["kind"] == "fired"

    path = f"/api/v1/incidents/{crisis.incident.id}"
    ack = client.post(f"{path}/acknowledge", headers=auth)
    assert ack.status_code == 200 and ack.json()["incident"]["state"] == "acknowledged"
    assert ack.json()["message"] == "acknowledged by mei"
    again = client.post(f"{path}/acknowledge", headers=auth)
    assert again.status_code == 409 and "already acknowledged by mei" in again.json()["detail"]
    assert client.post(f"{path}/assign", headers=auth, json={"to": "ada"}).json()["incident"]["assignee"] == "ada"
    assert client.post(f"{path}/note", headers=auth, json={"text": "press office called"}).status_code == 200
    assert client.post(f"{path}/rate", headers=auth, json={"rating": "useful", "note": "early"}).status_code == 200
    done = client.post(f"{path}/resolve", headers=auth, json={"note": "recall explained"})
    assert done.status_code == 200 and done.json()["incident"]["state"] == "resolved"
    assert client.post(f"{path}/resolve", headers=auth, json={}).status_code == 409

    stored = crisis.store.get_incident(crisis.incident.id)
    people = [(e.kind, e.actor, e.data.get("source")) for e in stored.events if e.actor != "system"]
    assert people == [("acknowledged", "mei", "api"), ("assigned", "mei", "api"), ("note", "mei", "api"),
                      ("rated", "mei", "api"), ("resolved", "mei", "api")]
    assert [(a.kind, a.source) for a in audit_log(crisis.store)][0] == ("resolved", "api")
    assert client.get("/api/v1/incidents", headers=auth, params={"state": "resolved"}).json()["count"] == 1


def test_a_viewer_token_reads_but_cannot_act(client, crisis):
    auth = bearer(Tokens(crisis.store).create("vic"))
    assert client.get(f"/api/v1/incidents/{crisis.incident.id}", headers=auth).status_code == 200
    refused = client.post(f"/api/v1/incidents/{crisis.incident.id}/acknowledge", headers=auth)
    assert refused.status_code == 403 and "viewer" in refused.json()["detail"]
    assert crisis.store.get_incident(crisis.incident.id).state.value == "open"


def test_bad_input_gets_clear_json_errors_not_5xx(client, crisis):
    auth = bearer(Tokens(crisis.store).create("ada"))
    path = f"/api/v1/incidents/{crisis.incident.id}"
    missing = client.get("/api/v1/incidents/ffffffffff", headers=auth)
    assert missing.status_code == 404 and "no incident 'ffffffffff'" in missing.json()["detail"]
    assert client.post("/api/v1/incidents/ffffffffff/acknowledge", headers=auth).status_code == 404
    for params in ({"state": "closed"}, {"level": "purple"}, {"limit": 0}, {"since": "yesterday"}):
        assert client.get("/api/v1/incidents", headers=auth, params=params).status_code == 422, params
    cases = [("rate", {"rating": "great"}), ("assign", {"to": "   "}), ("assign", {}), ("note", {"text": ""}),
             ("note", {"text": "a\x00b"}), ("note", {"text": 5})]
    for action, body in cases:
        response = client.post(f"{path}/{action}", headers=auth, json=body)
        assert response.status_code == 422, (action, body, response.text)
    bad_json = client.post(f"{path}/note", headers={**auth, "content-type": "application/json"}, content=b"{not json")
    assert bad_json.status_code == 422
    assert client.post(f"{path}/note", headers={**auth, "content-type": "application/json"},
                       content=b'{"text": "\\ud800"}').status_code == 422  # a lone surrogate is not text
    assert crisis.store.get_incident(crisis.incident.id).state.value == "open"


def test_the_openapi_document_describes_the_api_and_its_token(client):
    doc = client.get("/api/openapi.json").json()
    assert doc["info"]["title"] == "crisiswatch API"
    assert {"/api/v1/incidents", "/api/v1/incidents/{incident_id}", "/api/v1/incidents/{incident_id}/acknowledge",
            "/api/v1/incidents/{incident_id}/assign", "/api/v1/incidents/{incident_id}/note",
            "/api/v1/incidents/{incident_id}/rate", "/api/v1/incidents/{incident_id}/resolve"} <= set(doc["paths"])
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    rate = doc["paths"]["/api/v1/incidents/{incident_id}/rate"]["post"]
    assert {"401", "403", "404", "409", "422"} <= set(rate["responses"])
    assert not any(p.startswith(("/incidents", "/login", "/a/")) for p in doc["paths"])  # the pages stay out


def owner(store: SqliteStore, token: str) -> str | None:
    """The user a token acts as, or None when it is refused."""
    try:
        return Tokens(store).authenticate(token).name
    except TokenRefused:
        return None


def test_users_token_makes_shows_once_stores_only_a_hash_and_revokes(world, tmp_path, monkeypatch):
    config = write_config(tmp_path, world.path)
    world.close()
    monkeypatch.setenv("CRISISWATCH_PASSWORD", "first password 1")
    assert cli("users", "add", "mei", "--role", "responder", "-c", config).exit_code == 0
    made = cli("users", "token", "mei", "-c", config)
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("cw_") and len(token) > 40
    store = SqliteStore(world.path)
    assert token not in store.get_state(STATE_KEY)  # only its hash is kept
    assert owner(store, token) == "mei"
    second = cli("users", "token", "mei", "-c", config).stdout.strip().splitlines()[-1]
    assert owner(store, token) is None and owner(store, second) == "mei"  # a new one replaces
    assert cli("users", "token", "mei", "--revoke", "default", "-c", config).exit_code == 0
    assert owner(store, second) is None
    assert cli("users", "token", "mei", "--revoke", "default", "-c", config).exit_code == 1
    nobody = cli("users", "token", "nobody", "-c", config)
    assert nobody.exit_code == 1 and "no user" in nobody.output
    store.close()
