"""``crisiswatch users ...`` and ``crisiswatch alerts rate``: accounts the console logs in with."""

from __future__ import annotations

import json
from datetime import timedelta

from crisiswatch.app.users import Users
from crisiswatch.core.store.sqlite import SqliteStore
from tests.alerts.helpers import ONSET
from tests.alerts.test_cli import cli, write_config


def test_users_are_added_listed_changed_and_removed_with_hashed_passwords(world, tmp_path, monkeypatch):
    config = write_config(tmp_path, world.path)
    world.close()
    monkeypatch.setenv("CRISISWATCH_PASSWORD", "first password 1")
    assert cli("users", "add", "mei", "--role", "responder", "-c", config).exit_code == 0
    assert cli("users", "add", "vic", "--role", "viewer", "-c", config).exit_code == 0
    again = cli("users", "add", "mei", "-c", config)
    assert again.exit_code == 1 and "exists" in again.output
    bad = cli("users", "add", "bob", "--role", "owner", "-c", config)
    assert bad.exit_code == 1 and "unknown role" in bad.output
    monkeypatch.setenv("CRISISWATCH_PASSWORD", "short")
    weak = cli("users", "add", "bob", "-c", config)
    assert weak.exit_code == 1 and "at least" in weak.output
    listed = cli("users", "list", "-c", config).output
    assert "mei" in listed and "responder" in listed and "vic" in listed and "viewer" in listed

    store = SqliteStore(world.path)
    raw = store.get_state("console:accounts")
    assert "first password 1" not in raw and "$argon2id$" in raw  # only the hash is stored
    assert Users(store).authenticate("mei", "first password 1") is not None
    monkeypatch.setenv("CRISISWATCH_PASSWORD", "second password 2")
    assert cli("users", "passwd", "mei", "-c", config).exit_code == 0
    assert Users(store).authenticate("mei", "first password 1") is None
    assert Users(store).authenticate("mei", "second password 2") is not None
    assert cli("users", "remove", "vic", "-c", config).exit_code == 0
    assert cli("users", "remove", "vic", "-c", config).exit_code == 1
    assert Users(store).get("vic") is None
    store.close()


def test_the_cli_rates_an_alert_and_refuses_an_unknown_rating(world, tmp_path):
    config = write_config(tmp_path, world.path)
    world.close()
    assert cli("alerts", "evaluate", "--now", (ONSET + timedelta(minutes=30)).isoformat(), "-c", config).exit_code == 0
    incident_id = json.loads(cli("alerts", "list", "--json", "-c", config).output.splitlines()[0])["id"]
    wrong = cli("alerts", "rate", incident_id, "great", "--by", "mei", "-c", config)
    assert wrong.exit_code == 1 and "unknown rating" in wrong.output
    assert cli("alerts", "rate", incident_id, "too_late", "--by", "mei", "-c", config).exit_code == 0
    shown = json.loads(cli("alerts", "show", incident_id, "--json", "-c", config).output)
    rated = [e for e in shown["events"] if e["kind"] == "rated"]
    assert [(e["actor"], e["data"]["rating"], e["data"]["source"]) for e in rated] == [("mei", "too_late", "cli")]


_ADD_USERS = """
import sys
from crisiswatch.app.users import Users
from crisiswatch.core.store.sqlite import SqliteStore
users = Users(SqliteStore(sys.argv[1]))
for i in range(4):
    users.add(f"{sys.argv[2]}{i}", "viewer", "a long password 1")
"""


def test_two_processes_adding_users_at_once_both_keep_theirs(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "store.db"
    SqliteStore(path).setup()
    workers = [subprocess.Popen([sys.executable, "-c", _ADD_USERS, str(path), prefix]) for prefix in ("a", "b")]
    assert [w.wait(timeout=300) for w in workers] == [0, 0]
    with SqliteStore(path) as store:  # a read-then-write of the user list would have lost some
        assert [u.name for u in Users(store).list()] == ["a0", "a1", "a2", "a3", "b0", "b1", "b2", "b3"]
