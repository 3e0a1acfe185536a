"""The console over HTTP (FastAPI's test client, no browser): what a person gets for each request."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from crisiswatch.app.console.app import create_app
from crisiswatch.app.incident_service import audit_log
from crisiswatch.core import signing
from tests.console.conftest import PASSWORD, SECRET, make_crisis


@pytest.fixture
def crisis(world, tmp_path, webhook, secret):  # noqa: ARG001
    return make_crisis(world, tmp_path, webhook, "http://testserver")


@pytest.fixture
def client(crisis):
    with TestClient(create_app(crisis.config, crisis.store), follow_redirects=False) as c:
        yield c


def csrf_of(html: str) -> str:
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def login(client: TestClient, name: str, password: str = PASSWORD):
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"username": name, "password": password, "csrf": token, "next": "/incidents"})


def test_pages_need_a_login_and_carry_a_strict_csp(client):
    response = client.get("/incidents")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    page = client.get("/login")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp  # no script may run at all
    assert "<script" not in page.text and page.headers["referrer-policy"] == "no-referrer"
    assert login(client, "mei", "wrong password").status_code == 401
    ok = login(client, "mei")
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_a_responder_acts_through_the_same_service_as_the_cli_and_it_is_audited(client, crisis):
    login(client, "mei")
    listing = client.get("/incidents?state=active&level=" + crisis.incident.level.value).text
    assert crisis.incident.id in listing
    assert crisis.incident.id not in client.get("/incidents?watchlist=zenith").text
    page = client.get(f"/incidents/{crisis.incident.id}").text
    assert "Acknowledge" in page and "normal" in page
    token = csrf_of(page)
    path = f"/incidents/{crisis.incident.id}"
    assert client.post(f"{path}/acknowledge", data={"csrf": token}).status_code == 303
    assert client.post(f"{path}/assign", data={"csrf": token, "to": "ada"}).status_code == 303
    assert client.post(f"{path}/rate", data={"csrf": token, "rating": "false_alarm"}).status_code == 303
    assert client.post(f"{path}/resolve", data={"csrf": token, "text": "recall explained"}).status_code == 303
    stored = crisis.store.get_incident(crisis.incident.id)
    assert stored.state.value == "resolved" and stored.acknowledged_by == "mei" and stored.assignee == "ada"
    people = [(e.kind, e.actor, e.data.get("source")) for e in stored.events if e.actor != "system"]
    assert people == [("acknowledged", "mei", "web"), ("assigned", "mei", "web"), ("rated", "mei", "web"),
                      ("resolved", "mei", "web")]
    assert [a.kind for a in audit_log(crisis.store)][:1] == ["resolved"]
    assert "recall explained" in client.get("/audit").text


def test_a_form_without_its_csrf_token_is_refused(client, crisis):
    login(client, "mei")
    response = client.post(f"/incidents/{crisis.incident.id}/acknowledge", data={})
    assert response.status_code == 403 and "Form expired" in response.text
    assert crisis.store.get_incident(crisis.incident.id).state.value == "open"


def test_a_viewer_sees_but_cannot_act(client, crisis):
    login(client, "vic")
    page = client.get(f"/incidents/{crisis.incident.id}").text
    assert crisis.incident.title.split()[0] in page and 'action="/incidents/' not in page
    response = client.post(f"/incidents/{crisis.incident.id}/acknowledge", data={"csrf": csrf_of(page)})
    assert response.status_code == 403 and "viewer" in response.text
    assert crisis.store.get_incident(crisis.incident.id).state.value == "open"


def test_logins_are_rate_limited(client):
    for _ in range(5):
        assert login(client, "mei", "guess guess guess").status_code == 401
    blocked = login(client, "mei")  # even the right password, while blocked
    assert blocked.status_code == 429 and "Too many failed logins" in blocked.text


def test_the_message_link_acknowledges_once_as_its_recipient(client, crisis):
    link = crisis.ack_link().replace("http://testserver", "")
    confirm = client.get(link)  # a mail scanner's prefetch: shows, does not act
    assert confirm.status_code == 200 and "Acknowledge" in confirm.text
    assert crisis.store.get_incident(crisis.incident.id).state.value == "open"
    done = client.post(link, data={"csrf": csrf_of(confirm.text)})
    assert done.status_code == 200 and "acknowledged by hook" in done.text
    stored = crisis.store.get_incident(crisis.incident.id)
    assert stored.acknowledged_by == "hook"
    assert [e.data.get("source") for e in stored.events if e.kind == "acknowledged"] == ["link"]
    again = client.get(link)
    assert again.status_code == 409 and "already used" in again.text


def test_forged_expired_and_wrong_incident_links_are_refused(client, crisis):
    link = crisis.ack_link().replace("http://testserver", "")
    prefix, token = link.rsplit("/", 1)
    forged = client.get(f"{prefix}/{token[:-3]}abc")
    assert forged.status_code == 400 and "not valid" in forged.text
    expired = signing.sign_action(SECRET.encode(), crisis.incident.id, "acknowledge", "hook", 60,
                                  now=time.time() - 3600)
    response = client.get(f"/a/{crisis.incident.id}/{expired}")
    assert response.status_code == 400 and "expired" in response.text
    response = client.get(f"/a/0000000000/{token}")
    assert response.status_code == 400 and "another incident" in response.text
    assert crisis.store.get_incident(crisis.incident.id).state.value == "open"


def test_a_post_with_a_script_renders_inert(client, crisis):
    incident = crisis.store.get_incident(crisis.incident.id)
    incident.evidence["top_posts"] = [{"author": "<b>x</b>", "source": "weibo", "engagement": 5,
                                       "text": "<script>alert(1)</script>", "url": "javascript:alert(1)"}]
    crisis.store.save_incident(incident)
    login(client, "mei")
    page = client.get(f"/incidents/{incident.id}").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "javascript:alert" not in page
