"""Trusted-header sign-in behind an SSO proxy: off by default, and believed only from the
configured proxy addresses."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from crisiswatch.app.console.app import create_app
from crisiswatch.core.config import AlertingConfig
from tests.console.conftest import make_crisis
from tests.console.test_console import csrf_of

HEADER = "X-Forwarded-User"


@pytest.fixture
def crisis(world, tmp_path, webhook, secret):  # noqa: ARG001
    return make_crisis(world, tmp_path, webhook, "http://testserver")


def _client(crisis, peer: str) -> TestClient:
    return TestClient(create_app(crisis.config, crisis.store), follow_redirects=False, client=(peer, 40000))


def test_the_header_is_ignored_by_default(crisis):
    with _client(crisis, "10.0.0.5") as client:
        response = client.get("/incidents", headers={HEADER: "mei"})
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_a_trusted_proxy_signs_the_user_in_and_they_act_as_themselves(crisis):
    crisis.config.alerting.console_trusted_header = HEADER
    crisis.config.alerting.console_trusted_proxies = ["10.0.0.0/24"]
    with _client(crisis, "10.0.0.5") as client:
        page = client.get(f"/incidents/{crisis.incident.id}", headers={HEADER: "mei"})
        assert page.status_code == 200 and "Acknowledge" in page.text
        done = client.post(f"/incidents/{crisis.incident.id}/acknowledge", headers={HEADER: "mei"},
                           data={"csrf": csrf_of(page.text)})
        assert done.status_code == 303
        assert crisis.store.get_incident(crisis.incident.id).acknowledged_by == "mei"
        # CSRF still applies to SSO users
        assert client.post(f"/incidents/{crisis.incident.id}/note", headers={HEADER: "mei"},
                           data={"text": "x"}).status_code == 403
        # a viewer from SSO is still a viewer; a name without an account gets the login page
        viewer = client.get(f"/incidents/{crisis.incident.id}", headers={HEADER: "vic"})
        assert viewer.status_code == 200 and 'action="/incidents/' not in viewer.text
        assert client.get("/incidents", headers={HEADER: "mallory"}).status_code == 303


def test_the_header_from_an_untrusted_address_is_ignored(crisis):
    crisis.config.alerting.console_trusted_header = HEADER
    crisis.config.alerting.console_trusted_proxies = ["10.0.0.5"]
    with _client(crisis, "203.0.113.9") as client:
        response = client.get("/incidents", headers={HEADER: "ada"})
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_the_setting_needs_its_proxies():
    assert AlertingConfig().console_trusted_header is None
    with pytest.raises(ValidationError, match="needs console_trusted_proxies"):
        AlertingConfig(console_trusted_header=HEADER)
    with pytest.raises(ValidationError, match="not an address"):
        AlertingConfig(console_trusted_header=HEADER, console_trusted_proxies=["proxy.example"])
