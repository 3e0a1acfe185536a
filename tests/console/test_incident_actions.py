"""The incident page's "escalate now" and "silence" actions: what a responder's click changes,
what the team is told, and who may do it (same service as ``crisiswatch alerts escalate`` and
``crisiswatch alerts silence add``)."""

from __future__ import annotations

from contextlib import nullcontext

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from alerts import muting
from crisiswatch.app.console.app import create_app
from crisiswatch.app.incident_service import audit_log
from crisiswatch.core.config import EscalationStep
from tests.console.conftest import make_crisis
from tests.console.test_console import csrf_of, login


@pytest.fixture
def crisis(world, tmp_path, webhook, secret):  # noqa: ARG001
    made = make_crisis(world, tmp_path, webhook, "http://testserver")
    # an escalation a day away: only a person's "escalate now" can take it during the test
    made.config.routes[0].escalation = [EscalationStep(after="1d", channels=["hook"])]
    return made


@pytest.fixture
def client(crisis):
    with TestClient(create_app(crisis.config, crisis.store), follow_redirects=False) as c:
        yield c


def test_escalate_now_notifies_the_escalation_channel_and_is_audited(client, crisis):
    login(client, "mei")
    page = client.get(f"/incidents/{crisis.incident.id}").text
    assert "Escalate now" in page
    before = len(crisis.webhook.received)
    response = client.post(f"/incidents/{crisis.incident.id}/escalate",
                           data={"csrf": csrf_of(page), "text": "CEO named in the posts"})
    assert response.status_code == 303 and "escalated" in response.headers["location"]
    crisis.webhook.wait_for(before + 1)
    assert "ESCALATION" in crisis.webhook.received[before].body["message"]
    stored = crisis.store.get_incident(crisis.incident.id)
    escalated = [e for e in stored.events if e.kind == "escalated"]
    assert [(e.actor, e.data["source"]) for e in escalated] == [("mei", "web")]
    assert "CEO named in the posts" in escalated[0].message
    assert audit_log(crisis.store)[0].kind == "escalated"
    # the only step is taken: a second click is refused with a reason, nothing is sent again
    again = client.post(f"/incidents/{crisis.incident.id}/escalate", data={"csrf": csrf_of(page)})
    assert again.status_code == 409 and "no escalation step is left" in again.text


def test_silence_from_the_incident_page_holds_the_watchlist_and_lands_in_the_timeline(client, crisis):
    login(client, "mei")
    page = client.get(f"/incidents/{crisis.incident.id}").text
    assert 'action="/incidents/' + crisis.incident.id + '/silence"' in page
    token = csrf_of(page)
    no_reason = client.post(f"/incidents/{crisis.incident.id}/silence",
                            data={"csrf": token, "scope": "watchlist", "duration": "6h", "reason": " "})
    assert no_reason.status_code == 400 and muting.load(crisis.store) == []
    bad = client.post(f"/incidents/{crisis.incident.id}/silence",
                      data={"csrf": token, "scope": "watchlist", "duration": "soon", "reason": "press briefing"})
    assert bad.status_code == 400 and muting.load(crisis.store) == []
    ok = client.post(f"/incidents/{crisis.incident.id}/silence",
                     data={"csrf": token, "scope": "watchlist", "duration": "6h", "reason": "press briefing"})
    assert ok.status_code == 303
    (silence,) = muting.load(crisis.store)
    assert silence.watchlist == crisis.incident.watchlist and silence.rule is None
    assert silence.created_by == "mei" and silence.reason == "press briefing"
    assert (silence.end - silence.start).total_seconds() == 6 * 3600
    assert silence.matches(crisis.incident, silence.start)
    shown = client.get(ok.headers["location"]).text
    assert "silenced" in shown and "press briefing" in shown  # in the timeline
    assert audit_log(crisis.store)[0].kind == "silenced" and audit_log(crisis.store)[0].actor == "mei"
    # the escalation it would have sent is held back by the silence
    before = len(crisis.webhook.received)
    assert client.post(f"/incidents/{crisis.incident.id}/escalate", data={"csrf": token}).status_code == 303
    assert len(crisis.webhook.received) == before


def test_a_viewer_or_a_form_without_csrf_cannot_escalate_or_silence(client, crisis):
    login(client, "vic")
    page = client.get(f"/incidents/{crisis.incident.id}").text
    assert "Escalate now" not in page and "/silence" not in page
    data = {"csrf": csrf_of(page), "scope": "watchlist", "duration": "1h", "reason": "x"}
    assert client.post(f"/incidents/{crisis.incident.id}/silence", data=data).status_code == 403
    assert client.post(f"/incidents/{crisis.incident.id}/escalate", data={"csrf": csrf_of(page)}).status_code == 403
    client.post("/logout", data={"csrf": csrf_of(page)})
    login(client, "mei")
    assert client.post(f"/incidents/{crisis.incident.id}/silence",
                       data={"scope": "watchlist", "duration": "1h", "reason": "x"}).status_code == 403
    assert client.post(f"/incidents/{crisis.incident.id}/escalate", data={}).status_code == 403
    assert muting.load(crisis.store) == []
    assert not [e for e in crisis.store.get_incident(crisis.incident.id).events if e.kind == "escalated"]


def test_the_cli_silence_goes_through_the_same_service_and_checks_names(crisis, monkeypatch):
    from crisiswatch.app.cli.alerts_commands import app as alerts_cli

    monkeypatch.setattr("crisiswatch.app.cli.alerts_commands.config_or_exit", lambda _: crisis.config)
    monkeypatch.setattr("crisiswatch.app.cli.alerts_commands.store_or_exit", lambda _: nullcontext(crisis.store))
    runner = CliRunner()
    refused = runner.invoke(alerts_cli, ["silence", "add", "-w", "nosuch", "--for", "1h", "--by", "mei"])
    assert refused.exit_code != 0 and "unknown watchlist 'nosuch'" in refused.output
    done = runner.invoke(alerts_cli, ["silence", "add", "-w", crisis.incident.watchlist, "--for", "1h",
                                      "--reason", "drill", "--by", "mei"])
    assert done.exit_code == 0, done.output
    assert [s.created_by for s in muting.load(crisis.store)] == ["mei"]


def test_the_incident_page_shows_the_evidence_chart_as_an_inline_image_the_csp_admits(client, crisis):
    import base64
    import re

    login(client, "vic")
    response = client.get(f"/incidents/{crisis.incident.id}")
    found = re.search(r'<img class="evidence-chart" src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]+)"',
                      response.text)
    assert found, "no evidence chart on the incident page"
    assert base64.b64decode(found.group(1))[:8] == b"\x89PNG\r\n\x1a\n" and "by sentiment" in found.group(2)
    csp = response.headers["content-security-policy"]
    assert "img-src 'self' data:" in csp and "script-src" not in csp
