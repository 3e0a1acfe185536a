"""Console accounts: a name, a role and an argon2 hash, kept in the store's accounts document
(``crisiswatch.app.accounts``) so every process that opens the store (the console, the CLI)
sees the same users, and every change is written together with its audit record.

Roles: ``viewer`` reads, ``responder`` also acts on incidents, ``admin`` also manages users.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass

from crisiswatch.app.accounts import Accounts
from crisiswatch.app.console import ratelimit
from crisiswatch.core.model import utc_now
from crisiswatch.core.store.base import Store

ROLES = ("viewer", "responder", "admin")
MIN_PASSWORD = 10
NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")


class UserError(ValueError):
    """A user that cannot be added or changed; the message says why."""


@dataclass
class User:
    name: str
    role: str
    password_hash: str
    created_at: str

    def can(self, role: str) -> bool:
        """Whether the user has ``role`` or a stronger one."""
        return ROLES.index(self.role) >= ROLES.index(role)


def _hasher():  # noqa: ANN202
    from pwdlib import PasswordHash

    return PasswordHash.recommended()  # argon2id


class Users:
    """``by`` and ``source`` on each change name who made it and through which door (cli, web,
    api); they go into the audit record written with the change."""

    def __init__(self, store: Store, accounts: Accounts | None = None):
        self.store = store
        self.accounts = accounts or Accounts(store)
        self._hash = _hasher()
        self._dummy = self._hash.hash("not a password of anyone")

    def _load(self) -> dict[str, User]:
        return {name: User(**data) for name, data in self.accounts.read()["users"].items()}

    def _change(self, change: Callable[[dict[str, User], dict], str | None], by: str, source: str,
                kind: str) -> None:
        """Apply ``change(users, document)`` and its audit record as one atomic write: two
        processes adding users at once both keep theirs. ``change`` may run more than once."""
        def apply(doc: dict) -> str | None:
            users = {name: User(**data) for name, data in doc["users"].items()}
            said = change(users, doc)
            doc["users"] = {n: asdict(u) for n, u in users.items()}
            return said
        self.accounts.change(apply, actor=by, source=source, kind=kind)

    def list(self) -> list[User]:
        return sorted(self._load().values(), key=lambda u: u.name)

    def get(self, name: str) -> User | None:
        data = self.accounts.read()["users"].get(name)
        return User(**data) if data else None

    def _check_password(self, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise UserError(f"a password needs at least {MIN_PASSWORD} characters")

    def add(self, name: str, role: str, password: str, by: str = "system", source: str = "cli") -> User:
        if not NAME.fullmatch(name):
            raise UserError("a user name is 1-64 lower-case letters, digits or . _ @ - (starting with a letter or digit)")
        if role not in ROLES:
            raise UserError(f"unknown role '{role}': {', '.join(ROLES)}")
        self._check_password(password)
        user = User(name, role, self._hash.hash(password), utc_now().isoformat(timespec="seconds"))

        def add(users: dict[str, User], doc: dict) -> str:
            if name in users:
                raise UserError(f"user '{name}' exists (use `crisiswatch users passwd`)")
            users[name] = user
            return f"added user {name} ({role})"
        self._change(add, by, source, "user_added")
        return user

    def remove(self, name: str, by: str = "system", source: str = "cli") -> bool:
        """Remove the user and their API tokens (one write: no token outlives its account)."""
        removed: list[bool] = []
        tokens: list[str] = []

        def remove(users: dict[str, User], doc: dict) -> str | None:
            removed[:] = [name in users]
            if name not in users:
                return None
            del users[name]
            tokens[:] = [h for h, t in doc["tokens"].items() if t["user"] == name]
            for h in tokens:
                del doc["tokens"][h]
            return f"removed user {name}" + (f" and their {len(tokens)} API token{'s' * (len(tokens) != 1)}"
                                             if tokens else "")
        self._change(remove, by, source, "user_removed")
        for h in tokens:  # the tokens' request counters go with them
            ratelimit.clear(self.store, f"api:{h}")
        return bool(removed and removed[0])

    def set_password(self, name: str, password: str, by: str = "system", source: str = "cli") -> None:
        self._check_password(password)
        password_hash = self._hash.hash(password)

        def change(users: dict[str, User], doc: dict) -> str:
            if name not in users:
                raise UserError(f"no user '{name}'")
            users[name].password_hash = password_hash
            return f"changed the password of {name}"
        self._change(change, by, source, "password_changed")

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password is theirs; as slow for an unknown name as for a wrong password."""
        user = self.get(name)
        ok = self._hash.verify(password, user.password_hash if user else self._dummy)
        return user if user and ok else None
