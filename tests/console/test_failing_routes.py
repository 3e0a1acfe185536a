"""The overview names a notification route that is failing, since when and why, from the
incidents' delivery records (a real delivery attempt to a closed loopback port)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from alerts.engine import evaluate_cycle
from crisiswatch.app.console.app import create_app
from crisiswatch.app.users import Users
from tests.alerts.helpers import world_config
from tests.console.conftest import AT, PASSWORD
from tests.console.test_console import login
from tests.console.test_make_console import _free_port


@pytest.fixture
def client(world, tmp_path, webhook, secret):  # noqa: ARG001
    dead = _free_port()  # nothing listens there: every delivery is refused
    config = world_config(str(tmp_path), f"""channels:
  - {{name: hook, url: "{webhook.url()}", format: text}}
  - {{name: press-office, url: "json://127.0.0.1:{dead}/", format: text, timeout: 2s}}""", """routes:
  - {name: all, channels: [hook]}
  - {name: press, channels: [press-office]}""")
    report = evaluate_cycle(world, config, AT)
    assert report.delivered >= 1
    Users(world).add("vic", "viewer", PASSWORD)
    with TestClient(create_app(config, world), follow_redirects=False) as c:
        yield c, world


def test_the_overview_names_the_failing_route_since_when_and_the_error(client):
    client, store = client
    login(client, "vic")
    html = client.get(f"/?at={quote(AT.isoformat())}").text
    notice = html.split('class="notice failing-route"', 1)[1].split("</p>", 1)[0]
    assert "Notifications to press-office are failing" in notice and "(route press)" in notice
    failed = [r for i in store.list_incidents() for r in i.notifications if r.channel == "press-office"]
    assert failed and all(r.status == "failed" for r in failed)
    since = min(r.created_at for r in failed)
    assert f"since {since:%Y-%m-%d %H:%M} UTC" in notice and f"{len(failed)} not delivered" in notice
    assert "none delivered" in notice and "Last error:" in notice
    assert "hook are failing" not in html  # the working channel is not named


def test_a_channel_that_delivered_after_its_failures_is_not_failing(client):
    client, store = client
    for incident in store.list_incidents():
        for record in incident.notifications:
            if record.channel == "press-office":  # the press office came back and got it
                record.status, record.sent_at = "sent", AT
        store.save_incident(incident)
    login(client, "vic")
    assert "failing-route" not in client.get(f"/?at={quote(AT.isoformat())}").text
