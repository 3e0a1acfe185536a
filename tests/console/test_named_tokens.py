"""Several named API tokens per user (``crisiswatch users token NAME --name ci``), revoked one at
a time, and every account change written together with its audit record in one atomic write."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from crisiswatch.app.accounts import LEGACY_TOKENS_KEY, LEGACY_USERS_KEY, STATE_KEY
from crisiswatch.app.api_tokens import TokenRefused, Tokens, digest
from crisiswatch.app.incident_service import audit_log
from crisiswatch.app.users import UserError, Users
from crisiswatch.core.model import utc_now
from crisiswatch.core.store.sqlite import SqliteStore
from tests.alerts.test_cli import cli, write_config

PASSWORD = "a long password 1"


def owner(tokens: Tokens, token: str) -> str | None:
    try:
        return tokens.authenticate(token).name
    except TokenRefused:
        return None


@pytest.fixture
def store(tmp_path: Path):
    store = SqliteStore(tmp_path / "store.db")
    Users(store).add("mei", "responder", PASSWORD, by="ops-lead")
    yield store
    store.close()


def test_a_user_holds_several_named_tokens_and_each_is_revoked_alone(store):
    tokens = Tokens(store)
    ci = tokens.create("mei", name="ci", by="ops-lead")
    bot = tokens.create("mei", name="chatbot", lifetime=timedelta(days=7), by="ops-lead")
    assert owner(tokens, ci) == owner(tokens, bot) == "mei"
    listed = tokens.list("mei")
    assert [(t.name, t.user) for t in listed] == [("chatbot", "mei"), ("ci", "mei")]
    assert len({t.id for t in listed}) == 2 and all(len(t.id) == 8 for t in listed)

    (gone,) = tokens.revoke("mei", "ci", by="ops-lead")
    assert gone.name == "ci" and owner(tokens, ci) is None and owner(tokens, bot) == "mei"
    bot_id = tokens.get("mei", "chatbot").id
    assert [t.name for t in tokens.revoke("mei", bot_id)] == ["chatbot"]  # by id
    assert owner(tokens, bot) is None and tokens.list() == []
    assert tokens.revoke("mei", "ci") == []


def test_a_new_token_under_a_name_the_user_has_replaces_it(store):
    tokens = Tokens(store)
    first = tokens.create("mei", name="ci")
    other = tokens.create("mei", name="deploy")
    second = tokens.create("mei", name="ci")
    assert owner(tokens, first) is None and owner(tokens, second) == owner(tokens, other) == "mei"
    assert [t.name for t in tokens.list()] == ["ci", "deploy"]
    for bad in ("", "all", "has space", "x" * 41):
        with pytest.raises(ValueError):
            tokens.create("mei", name=bad)


def test_a_name_that_reads_as_an_id_is_refused_and_an_id_names_one_token(store):
    """Ids are 8 hex digits: such a name would make ``--revoke 3fa9c2d1`` end two tokens. New names
    like that are refused; in a store that already has one, the id wins."""
    tokens = Tokens(store)
    with pytest.raises(ValueError, match="id"):
        tokens.create("mei", name="3fa9c2d1")
    tokens.create("mei", name="ci")
    ci_id = tokens.get("mei", "ci").id
    tokens.create("mei", name="deploy")

    def rename(doc: dict) -> str:  # a token named as ci's id, written before names were checked
        next(t for t in doc["tokens"].values() if t["name"] == "deploy")["name"] = ci_id
        return "rename"
    tokens.accounts.change(rename, actor="test", source="cli", kind="token_created")
    assert tokens.get("mei", ci_id).name == "ci"
    assert [t.name for t in tokens.revoke("mei", ci_id)] == ["ci"]
    assert [t.name for t in tokens.list("mei")] == [ci_id]


def test_removing_a_user_also_drops_their_tokens_request_counters(store):
    tokens = Tokens(store)
    token = tokens.create("mei", name="ci")
    tokens.authenticate(token)
    key = f"ratelimit:api:{digest(token)}"
    assert store.get_state(key) is not None
    Users(store).remove("mei", by="ops-lead")
    assert store.get_state(key) is None


def test_each_change_is_one_atomic_write_with_its_audit_record(tmp_path):
    class CountingStore(SqliteStore):
        writes: list[str] = []

        def update_state(self, key, change):  # noqa: ANN001, ANN201
            self.writes.append(key)
            return super().update_state(key, change)

        def set_state(self, key, value):  # noqa: ANN001, ANN201
            self.writes.append(key)
            return super().set_state(key, value)

    store = CountingStore(tmp_path / "s.db")
    users, tokens = Users(store), Tokens(store)
    users.add("mei", "responder", PASSWORD, by="ops-lead")
    tokens.create("mei", name="ci", by="ops-lead", source="cli")
    users.set_password("mei", "another password 2", by="mei", source="web")
    tokens.revoke("mei", "ci", by="ops-lead")
    users.remove("mei", by="ops-lead")
    # one write per change (a revoked token's rate counter is cleared afterwards: not account state)
    assert [key for key in store.writes if not key.startswith("ratelimit:")] == [STATE_KEY] * 5
    doc = json.loads(store.get_state(STATE_KEY))
    assert [(a["kind"], a["actor"], a["source"]) for a in doc["audit"]] == [
        ("user_added", "ops-lead", "cli"), ("token_created", "ops-lead", "cli"), ("password_changed", "mei", "web"),
        ("token_revoked", "ops-lead", "cli"), ("user_removed", "ops-lead", "cli")]
    # a change that is refused changes nothing and records nothing
    users.add("vic", "viewer", PASSWORD)
    with pytest.raises(UserError):
        users.add("vic", "viewer", PASSWORD)
    with pytest.raises(KeyError):
        tokens.create("nobody", name="ci")
    assert [e.kind for e in audit_log(store)][:2] == ["user_added", "user_removed"]
    assert len(json.loads(store.get_state(STATE_KEY))["audit"]) == 6
    store.close()


_MAKE_TOKENS = """
import sys
from crisiswatch.app.api_tokens import Tokens
from crisiswatch.core.store.sqlite import SqliteStore
tokens = Tokens(SqliteStore(sys.argv[1]))
for i in range(int(sys.argv[3])):
    try:
        print(tokens.create("mei", name=f"{sys.argv[2]}{i}", by=sys.argv[2]), flush=True)
    except KeyError:
        break
"""

_REMOVE_WHEN_TOKENS = """
import json, sys, time
from crisiswatch.app.accounts import STATE_KEY
from crisiswatch.app.users import Users
from crisiswatch.core.store.sqlite import SqliteStore
store = SqliteStore(sys.argv[1])
print("ready", flush=True)
while len(json.loads(store.get_state(STATE_KEY) or '{"tokens": {}}')["tokens"]) < 3:
    time.sleep(0.01)
Users(store).remove("mei", by="ops-lead")
"""


def test_two_processes_making_tokens_at_once_keep_every_token_and_its_record(store):
    path = str(store.path)
    workers = [subprocess.Popen([sys.executable, "-c", _MAKE_TOKENS, path, prefix, "8"], stdout=subprocess.PIPE,
                                text=True) for prefix in ("a", "b")]
    printed = [w.communicate(timeout=300)[0].split() for w in workers]
    assert [w.returncode for w in workers] == [0, 0]
    tokens = Tokens(store)
    assert sorted(t.name for t in tokens.list()) == sorted(f"{p}{i}" for p in "ab" for i in range(8))
    assert all(owner(tokens, t) == "mei" for t in printed[0] + printed[1])
    made = [e for e in audit_log(store) if e.kind == "token_created"]
    assert sorted(e.actor for e in made) == ["a"] * 8 + ["b"] * 8


def test_a_token_made_while_its_user_is_removed_never_comes_back_with_the_name(store):
    """Before, the user check and the token write were two steps: a token made as the user was
    removed outlived the account and worked again once someone re-added the name."""
    path = str(store.path)
    remover = subprocess.Popen([sys.executable, "-c", _REMOVE_WHEN_TOKENS, path], stdout=subprocess.PIPE, text=True)
    # the maker starts once the remover is watching (on a busy machine 400 tokens were made while
    # the remover was still importing); fewer than the 2,000 account changes the document keeps
    assert remover.stdout.readline().strip() == "ready"
    maker = subprocess.Popen([sys.executable, "-c", _MAKE_TOKENS, path, "t", "1500"], stdout=subprocess.PIPE, text=True)
    printed = maker.communicate(timeout=300)[0].split()
    assert remover.wait(timeout=300) == 0 and maker.returncode == 0
    assert 3 <= len(printed) < 1500  # the removal happened while tokens were being made
    Users(store).add("mei", "viewer", PASSWORD, by="ops-lead")  # someone else, same name
    tokens = Tokens(store)
    assert [owner(tokens, t) for t in printed] == [None] * len(printed)
    assert tokens.list() == []
    kinds = [e.kind for e in reversed(audit_log(store, limit=10_000))]
    assert kinds.count("token_created") == len(printed) and kinds[-2:] == ["user_removed", "user_added"]


def test_users_and_a_token_written_before_named_tokens_keep_working(tmp_path):
    store = SqliteStore(tmp_path / "old.db")
    hashed = Users(store)._hash.hash(PASSWORD)
    old_token = "cw_" + "x" * 43
    store.set_state(LEGACY_USERS_KEY, json.dumps({"mei": {"name": "mei", "role": "responder", "password_hash": hashed,
                                                          "created_at": "2026-01-01T00:00:00+00:00"}}))
    made = utc_now() - timedelta(days=1)
    store.set_state(LEGACY_TOKENS_KEY, json.dumps({digest(old_token): {
        "user": "mei", "created_at": made.isoformat(), "expires_at": (made + timedelta(days=90)).isoformat(),
        "rate_per_minute": 120}}))
    users, tokens = Users(store), Tokens(store)
    assert users.authenticate("mei", PASSWORD) is not None and owner(tokens, old_token) == "mei"
    tokens.create("mei", name="ci")  # the first change moves both into the accounts document
    assert store.get_state(LEGACY_USERS_KEY) is None and store.get_state(LEGACY_TOKENS_KEY) is None
    assert owner(tokens, old_token) == "mei" and users.authenticate("mei", PASSWORD) is not None
    assert [t.name for t in tokens.list("mei")] == ["ci", "default"]
    store.close()


def test_the_cli_makes_lists_and_revokes_named_tokens(world, tmp_path, monkeypatch):
    config = write_config(tmp_path, world.path)
    world.close()
    monkeypatch.setenv("CRISISWATCH_PASSWORD", "first password 1")
    monkeypatch.setenv("CRISISWATCH_USER", "ops-lead")
    assert cli("users", "add", "mei", "--role", "responder", "-c", config).exit_code == 0
    ci = cli("users", "token", "mei", "--name", "ci", "--expires", "90d", "-c", config)
    bot = cli("users", "token", "mei", "--name", "chatbot", "--expires", "7d", "-c", config)
    assert ci.exit_code == bot.exit_code == 0, ci.output + bot.output
    assert "'ci'" in ci.stderr and "'chatbot'" in bot.stderr
    listed = cli("users", "token", "mei", "--list", "-c", config).stdout
    assert "'ci'" in listed and "'chatbot'" in listed
    assert "'ci'" in cli("users", "list", "-c", config).stdout
    assert cli("users", "token", "mei", "--name", "all", "-c", config).exit_code == 1
    missing = cli("users", "token", "mei", "--revoke", "nope", "-c", config)
    assert missing.exit_code == 1 and "no API token named or with id 'nope'" in missing.output
    revoked = cli("users", "token", "mei", "--revoke", "ci", "-c", config)
    assert revoked.exit_code == 0 and "'ci'" in revoked.output
    store = SqliteStore(world.path)
    tokens = Tokens(store)
    assert owner(tokens, ci.stdout.strip().splitlines()[-1]) is None
    assert owner(tokens, bot.stdout.strip().splitlines()[-1]) == "mei"
    entries = [(a.kind, a.actor, a.source) for a in audit_log(store)][:3]
    assert entries == [("token_revoked", "ops-lead", "cli"), ("token_created", "ops-lead", "cli"),
                       ("token_created", "ops-lead", "cli")]
    store.close()
