"""A world with a crisis on acme, an incident raised and announced to a webhook on loopback,
users of each role, and the console over that store."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest

from crisiswatch.app.users import Users
from crisiswatch.core.config import Config
from crisiswatch.core.model import Incident
from crisiswatch.core.store.sqlite import SqliteStore

from alerts.engine import evaluate_cycle
from tests.alerts.conftest import webhook, world, world_db  # noqa: F401  (fixtures)
from tests.alerts.helpers import ONSET, WebhookReceiver, world_config

AT = ONSET + timedelta(minutes=30)
PASSWORD = "correct horse battery"
SECRET = "test-only-signing-key-0123456789"
LINK = re.compile(r"(https?://\S+/a/[0-9a-f]+/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")


@dataclass
class Crisis:
    store: SqliteStore
    config: Config
    incident: Incident
    webhook: WebhookReceiver

    def ack_link(self) -> str:
        """The Acknowledge link in the message the webhook received."""
        found = LINK.search(self.webhook.received[0].body["message"])
        assert found, self.webhook.received[0].body["message"]
        return found.group(1)


def make_crisis(store: SqliteStore, tmp_path, receiver: WebhookReceiver, console_url: str) -> Crisis:
    config = world_config(str(tmp_path), f"""channels:
  - {{name: hook, url: "{receiver.url()}", format: text}}""", """routes:
  - {name: all, channels: [hook]}""")
    config.alerting.console_url = console_url
    report = evaluate_cycle(store, config, AT)
    assert report.errors == [] and report.delivered >= 1
    users = Users(store)
    for name, role in (("mei", "responder"), ("vic", "viewer"), ("ada", "admin")):
        users.add(name, role, PASSWORD)
    return Crisis(store, config, store.list_incidents()[0], receiver)


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CRISISWATCH_SECRET_KEY", SECRET)
    return SECRET
